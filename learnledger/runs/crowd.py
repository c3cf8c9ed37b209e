"""A crowd of agents on one devnet: many learners, few processes, for the load benchmark.

In production every research group runs its own ``learnledger agent`` process. Sixty-four Keras
processes do not fit a small machine (each holds its own TensorFlow runtime), so here a *worker*
process hosts several agents, each exactly what ``build_member`` builds for a group (its own key,
its own ledger handle and web3 connection, its own store client and model), and steps them in turn
with ``follow_many``. The workers run side by side against one anvil devnet and one store server on
loopback; with one agent per worker it is ``learnledger launch``'s layout again.

The conductor (``run_crowd``) deploys, starts the workers, lets them build their agents, and only
then says "go" to all of them at once, so the timed part is the rounds, not TensorFlow's start-up.
It watches the chain for finalized rounds and, at the end, sets what the agents say they sent
against what the chain records (``crowd_tally``).

A worker is ``python -m learnledger.runs.crowd PLAN.json``: it reads its plan, writes a ready file,
waits for a line on stdin, follows the experiment to its end and writes its result file (the
actions each agent completed and the process's peak memory).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from learnledger.agents.experiment import Experiment
from learnledger.ledger.api import RoundRecord
from learnledger.runs.rss import (
    current_rss_kib,
    peak_rss_kib,
    process_peak_rss_kib,
    tree_peak_rss_kib,
)

if TYPE_CHECKING:  # imported lazily at run time: they import web3, which a worker loads late
    from learnledger.ledger.devnet import Devnet
    from learnledger.runs.crowd_tally import Tally

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 900.0
"""How long the workers may take to build their agents (TensorFlow start-up on a busy machine)."""
SHUTDOWN_GRACE_S = 10.0
GO = b"go\n"


class CrowdError(RuntimeError):
    """A worker died, the workers never got ready, or the rounds did not end in time."""


def crowd_experiment_toml(
    learners: int,
    rounds: int,
    examples_per_learner: int = 78,
    epochs: int = 1,
    name: str = "crowd",
    seed: int = 7,
) -> str:
    """An experiment file for ``learners`` groups: an MLP on a few MNIST digits each.

    The bundled MNIST set has 5,000 digits, so 64 learners get at most 78 each. The proposal and
    vote windows are an hour: on any machine, a round is decided by its last vote, never by a
    deadline, so no round is skipped for slowness and every eligible vote is expected.
    """
    if learners < 2:
        raise ValueError(f"a crowd needs at least 2 learners (one proposes, others vote), received: {learners}")
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, received: {rounds}")
    groups = "".join(f'\n[[learners]]\ngroup = "lab{index:02d}"\n' for index in range(learners))
    return f"""[experiment]
name = "{name}"
rounds = {rounds}
seed = {seed}
proposal_window = 3600
vote_window = 3600

[data]
source = "mnist"
max_per_learner = {examples_per_learner}

[model]
architecture = "mlp"
input_shape = [28, 28, 1]
num_classes = 10

[training]
epochs = {epochs}
batch_size = 16
learning_rate = 0.003
{groups}"""


def split_evenly(items: Sequence[str], parts: int) -> list[list[str]]:
    """``items`` in ``parts`` consecutive chunks whose sizes differ by at most one."""
    if not 1 <= parts <= len(items):
        raise ValueError(f"workers must be between 1 and the number of learners ({len(items)}), "
                         f"received: {parts}")
    size, extra = divmod(len(items), parts)
    chunks, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        chunks.append(list(items[start:end]))
        start = end
    return chunks


# ---------------------------------------------------------------------------------------- worker


@dataclass(frozen=True)
class WorkerPlan:
    """What one worker process is told (as a JSON file): where the experiment is, and its members."""

    deployment: str
    experiment: str
    ipfs_url: str
    members: list[tuple[str, str]]
    """(group, private key) of each agent it hosts; the keys are public devnet keys."""
    ready_file: str
    result_file: str
    agent_logs: str
    poll_s: float = 0.5
    warm_up: bool = True

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        path.chmod(0o600)

    @classmethod
    def load(cls, path: Path) -> WorkerPlan:
        data = json.loads(Path(path).read_text())
        data["members"] = [tuple(member) for member in data["members"]]
        return cls(**data)


def host_agents(plan: WorkerPlan, go: Callable[[], bool]) -> dict[str, object]:
    """Build the plan's agents, report ready, wait for ``go()``, follow to the end; the result.

    With ``warm_up`` each agent trains once from the initial weights (and scores them) before
    the ready report, so every agent's model holds its compiled training and scoring steps, as
    after its first proposal: the peak memory then does not depend on which agents the draw
    happened to make proposers.
    """
    from learnledger.agents.agent import Action, Agent
    from learnledger.agents.backend import select_backend

    experiment = Experiment.load(plan.experiment)
    select_backend(experiment.keras_backend)
    import keras  # noqa: F401  (loaded before the baseline figure, so it counts no agent)

    from learnledger.ledger.client import ContractLedger  # noqa: F401  (web3, likewise)
    from learnledger.runs.crowd_tally import KINDS
    from learnledger.runs.member import MemberConfig, build_member, follow_many

    base_rss = current_rss_kib()
    started = time.perf_counter()
    agents = []
    for group, key in plan.members:
        config = MemberConfig(deployment=Path(plan.deployment), group=group, key=key,
                              ipfs_url=plan.ipfs_url, experiment=Path(plan.experiment),
                              log_file=Path(plan.agent_logs) / f"{group}.jsonl", poll_s=plan.poll_s)
        agent, learner = build_member(config)
        if plan.warm_up:
            _, initial = agent.shared_model()
            learner.score(learner.train(initial, round=0))
        agents.append(agent)
    _write_json(Path(plan.ready_file), {
        "agents": len(agents), "setup_s": time.perf_counter() - started,
        "base_rss_kib": base_rss, "ready_rss_kib": current_rss_kib(), "pid": os.getpid(),
    })
    if not go():
        raise CrowdError("the conductor went away before saying go")

    sent = {agent.group: dict.fromkeys(KINDS, 0) for agent in agents}

    def count(agent: Agent, action: Action) -> None:
        if action.value in KINDS:  # a completed proposal, vote or finalize
            sent[agent.group][action.value] += 1

    started = time.perf_counter()
    follow_many(agents, plan.poll_s, on_action=count)
    result = {
        "agents": len(agents), "groups": [agent.group for agent in agents], "sent": sent,
        "follow_s": time.perf_counter() - started, "base_rss_kib": base_rss,
        "peak_rss_kib": peak_rss_kib(), "vm_hwm_kib": process_peak_rss_kib(),
    }
    _write_json(Path(plan.result_file), result)
    return result


def _write_json(path: Path, data: dict[str, object]) -> None:
    """Write atomically, so a reader polling for the file never sees half of it."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, sort_keys=True) + "\n")
    tmp.replace(path)


def worker_main(argv: Sequence[str]) -> int:
    """``python -m learnledger.runs.crowd PLAN.json``: one worker process."""
    if len(argv) != 1:
        print("usage: python -m learnledger.runs.crowd PLAN.json", file=sys.stderr)
        return 2
    plan = WorkerPlan.load(Path(argv[0]))
    groups = ",".join(group for group, _ in plan.members)
    logging.basicConfig(level=logging.WARNING,
                        format=f"%(asctime)s worker[{groups}] %(levelname)s %(name)s: %(message)s")
    host_agents(plan, go=lambda: sys.stdin.buffer.readline() == GO)
    return 0


# ------------------------------------------------------------------------------------- conductor


@dataclass
class WorkerReport:
    """One worker's figures: its agents, what they sent, its memory (KiB)."""

    index: int
    groups: list[str]
    setup_s: float
    base_rss_kib: int | None
    ready_rss_kib: int | None
    peak_rss_kib: int
    sent: dict[str, dict[str, int]]

    @property
    def agents(self) -> int:
        return len(self.groups)

    @property
    def peak_per_agent_kib(self) -> float:
        return self.peak_rss_kib / self.agents


@dataclass
class CrowdRun:
    """What a crowd run measured; ``tally.failures()`` says whether it passed."""

    learners: int
    rounds: int
    workers: list[WorkerReport]
    setup_s: float
    """From the start to every worker ready (devnet, deployment, TensorFlow, agents built)."""
    run_s: float
    """From "go" (round 1 open, every agent ready) to the last round seen final."""
    final_at_s: list[float]
    """For each round, seconds from "go" to when it was seen final."""
    tally: Tally
    anvil_peak_rss_kib: int | None
    out: Path
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def rounds_per_minute(self) -> float:
        return 60.0 * len(self.final_at_s) / self.run_s if self.run_s > 0 else 0.0

    @property
    def seconds_per_round(self) -> float:
        return self.run_s / len(self.final_at_s) if self.final_at_s else float("inf")

    def as_dict(self) -> dict[str, object]:
        """The figures as JSON-ready values (memory in KiB, times in seconds)."""
        tally = self.tally
        return {
            "learners": self.learners, "rounds": self.rounds, "workers": len(self.workers),
            "setup_s": round(self.setup_s, 2), "run_s": round(self.run_s, 2),
            "rounds_per_minute": round(self.rounds_per_minute, 3),
            "seconds_per_round": round(self.seconds_per_round, 2),
            "final_at_s": [round(seconds, 2) for seconds in self.final_at_s],
            "outcomes": tally.outcomes(), "final_rounds": tally.final_rounds,
            "sent": tally.totals("sent"), "recorded": tally.totals("recorded"),
            "mined": sum(tally.mined.values()), "reverted": tally.reverted,
            "lost": {group: {kind: list(pair) for kind, pair in kinds.items()}
                     for group, kinds in tally.lost().items()},
            "missing_votes": {str(number): list(groups) for number, groups in tally.missing_votes.items()},
            "anvil_peak_rss_kib": self.anvil_peak_rss_kib,
            **self.extra,
            "worker_memory": [
                {"worker": report.index, "agents": report.agents, "base_rss_kib": report.base_rss_kib,
                 "ready_rss_kib": report.ready_rss_kib, "peak_rss_kib": report.peak_rss_kib,
                 "peak_per_agent_kib": round(report.peak_per_agent_kib, 1)}
                for report in self.workers
            ],
            "failures": tally.failures(),
        }


def run_crowd(
    experiment_file: Path,
    out: Path,
    workers: int,
    poll_s: float = 0.5,
    warm_up: bool = True,
    keras_threads: int | None = 1,
    timeout_s: float = 3600.0,
    on_round: Callable[[RoundRecord, float], None] = lambda record, seconds: None,
    on_setup: Callable[[str], None] = lambda line: None,
    block_time: float | None = None,
) -> CrowdRun:
    """Run ``experiment_file`` with its learners spread over ``workers`` processes on a fresh devnet.

    Args:
        experiment_file: the experiment (every learner becomes an agent with its own devnet key).
        out: a folder for the deployment, the worker plans, logs and results (created).
        workers: how many worker processes share the agents (1 to the number of learners).
        poll_s: seconds between looks at the chain while all of a worker's agents wait.
        warm_up: each agent trains once before "go" (see ``host_agents``). Default True.
        keras_threads: TensorFlow's intra- and inter-op threads per worker, unless the environment
            sets them; None leaves TensorFlow's default (all cores). Default 1: many workers on a
            few cores otherwise fight over them.
        timeout_s: give up (CrowdError) if the rounds are not all final after this long.
        on_round: called with each round's record and the seconds since "go" once it is final.
        on_setup: called with a line of text at each set-up step.
        block_time: seconds between the devnet's blocks; None mines each transaction at once.

    Raises:
        CrowdError: a worker died, or the workers or the rounds took longer than allowed.
    """
    from learnledger.ledger.devnet import Devnet
    from learnledger.runs.crowd_tally import blocks_per_round, tally
    from learnledger.runs.launch import deploy_on_devnet
    from learnledger.store.local import LocalStore
    from learnledger.store.server import serve_in_thread

    experiment = Experiment.load(experiment_file)
    groups = list(experiment.groups)
    layout = split_evenly(groups, workers)
    started = time.perf_counter()
    out = Path(out)
    for folder in ("workers", "agents"):
        (out / folder).mkdir(parents=True, exist_ok=True)

    on_setup(f"starting anvil ({len(groups) + 1} accounts) and the store server")
    store = LocalStore(out / "store")
    server, _ = serve_in_thread(store, "127.0.0.1", 0)
    devnet = Devnet(accounts=len(groups) + 1, block_time=block_time)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        devnet.start()
        on_setup(f"deploying the contract for {len(groups)} members")
        deployed = deploy_on_devnet(experiment, devnet, store, out / "deployment.json")
        observer = deployed.observer
        key_of = {group: key for group, (_, key) in zip(groups, deployed.members)}

        on_setup(f"starting {workers} worker process(es) for {len(groups)} agents "
                 f"({', '.join(str(len(chunk)) for chunk in layout)} each)")
        plans = [
            WorkerPlan(deployment=str(out / "deployment.json"), experiment=str(Path(experiment_file).resolve()),
                       ipfs_url=server.url, members=[(group, key_of[group]) for group in chunk],
                       ready_file=str(out / "workers" / f"{index}.ready.json"),
                       result_file=str(out / "workers" / f"{index}.result.json"),
                       agent_logs=str(out / "agents"), poll_s=poll_s, warm_up=warm_up)
            for index, chunk in enumerate(layout)
        ]
        for index, plan in enumerate(plans):
            for stale in (plan.ready_file, plan.result_file):
                Path(stale).unlink(missing_ok=True)
            plan.save(out / "workers" / f"{index}.plan.json")
            processes.append(_start_worker(out, index, keras_threads))

        ready = _await_ready(plans, processes, out, on_setup)
        setup_s = time.perf_counter() - started
        on_setup(f"all {len(groups)} agents ready after {setup_s:.0f} s; go")
        go = time.perf_counter()
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(GO)
            process.stdin.close()
        final_at = _watch(observer, experiment.rounds, processes, out, go, timeout_s, on_round)
        run_s = final_at[-1] if final_at else time.perf_counter() - go
        _await_exit(processes, out)
        anvil_peak = _anvil_peak_rss_kib(devnet)
        reports = []
        for index, (plan, ready_info) in enumerate(zip(plans, ready)):
            result = json.loads(Path(plan.result_file).read_text())
            reports.append(WorkerReport(
                index=index, groups=list(result["groups"]), setup_s=float(ready_info["setup_s"]),
                base_rss_kib=result.get("base_rss_kib"), ready_rss_kib=ready_info.get("ready_rss_kib"),
                peak_rss_kib=int(result["peak_rss_kib"]), sent=result["sent"]))
        sent = {group: counts for report in reports for group, counts in report.sent.items()}
        return CrowdRun(learners=len(groups), rounds=experiment.rounds, workers=reports, setup_s=setup_s,
                        run_s=run_s, final_at_s=final_at, tally=tally(observer, sent, experiment.rounds),
                        anvil_peak_rss_kib=anvil_peak, out=out,
                        extra={"blocks_per_round": blocks_per_round(observer), "block_time_s": block_time})
    finally:
        _stop(processes)
        devnet.stop()
        server.shutdown()
        server.server_close()


def _start_worker(out: Path, index: int, keras_threads: int | None) -> subprocess.Popen[bytes]:
    env = os.environ.copy()
    if keras_threads is not None:
        for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
            env.setdefault(name, str(keras_threads))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    output = (out / "workers" / f"{index}.log").open("wb")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "learnledger.runs.crowd", str(out / "workers" / f"{index}.plan.json")],
            stdin=subprocess.PIPE, stdout=output, stderr=subprocess.STDOUT, env=env)
    finally:
        output.close()  # the child holds its own copy


def _worker_failure(out: Path, index: int, process: subprocess.Popen[bytes]) -> CrowdError:
    tail = (out / "workers" / f"{index}.log").read_text(errors="replace")[-3000:]
    return CrowdError(f"worker {index} exited with {process.returncode}; the end of "
                      f"{out / 'workers' / f'{index}.log'}:\n{tail}")


def _check_alive(processes: list[subprocess.Popen[bytes]], out: Path) -> None:
    for index, process in enumerate(processes):
        if process.poll() not in (None, 0):
            raise _worker_failure(out, index, process)


def _await_ready(plans: list[WorkerPlan], processes: list[subprocess.Popen[bytes]], out: Path,
                 on_setup: Callable[[str], None]) -> list[dict[str, object]]:
    deadline = time.monotonic() + READY_TIMEOUT_S
    seen = 0
    while True:
        _check_alive(processes, out)
        ready = [Path(plan.ready_file) for plan in plans if Path(plan.ready_file).exists()]
        if len(ready) > seen:
            seen = len(ready)
            on_setup(f"{seen} of {len(plans)} worker(s) ready")
        if seen == len(plans):
            return [json.loads(Path(plan.ready_file).read_text()) for plan in plans]
        if time.monotonic() > deadline:
            raise CrowdError(f"only {seen} of {len(plans)} workers built their agents within "
                             f"{READY_TIMEOUT_S:.0f} s; see {out / 'workers'}/*.log")
        time.sleep(0.2)


def _watch(observer, rounds: int, processes: list[subprocess.Popen[bytes]], out: Path, go: float,
           timeout_s: float, on_round: Callable[[RoundRecord, float], None]) -> list[float]:
    """Seconds from ``go`` at which each round was seen final, until the experiment is finished."""
    final_at: list[float] = []
    while True:
        for record in observer.history()[len(final_at):]:
            if not record.state.is_final:
                break
            final_at.append(time.perf_counter() - go)
            on_round(record, final_at[-1])
        if len(final_at) >= rounds and observer.is_finished():
            return final_at
        _check_alive(processes, out)
        if all(process.poll() is not None for process in processes):
            raise CrowdError(f"every worker exited, but only {len(final_at)} of {rounds} rounds are final")
        if time.perf_counter() - go > timeout_s:
            raise CrowdError(f"only {len(final_at)} of {rounds} rounds were final after {timeout_s:.0f} s; "
                             f"see {out / 'workers'}/*.log")
        time.sleep(0.2)


def _await_exit(processes: list[subprocess.Popen[bytes]], out: Path) -> None:
    """Each worker ends by itself once its agents see the experiment finished."""
    for index, process in enumerate(processes):
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            raise CrowdError(f"worker {index} did not exit within 60 s of the last round; "
                             f"see {out / 'workers' / f'{index}.log'}") from None
        if process.returncode != 0:
            raise _worker_failure(out, index, process)


def _anvil_peak_rss_kib(devnet: Devnet) -> int | None:
    # The npm package's launcher (node) runs the native anvil as its child: both are counted.
    return tree_peak_rss_kib(devnet.pid) if devnet.pid is not None else None


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(SHUTDOWN_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdin is not None and not process.stdin.closed:
            try:
                process.stdin.close()
            except OSError:
                pass


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))

"""``learnledger launch``: an experiment as one OS process per research group on a local devnet.

The launcher plays the part of the people setting up a real experiment: it starts anvil and a store
server on loopback, puts the model spec and the initial weights in the store, deploys the contract,
hands each group its (public devnet) key, starts one ``learnledger agent`` process per group, and
then only watches the chain until the last round is finalized. It never acts in a round itself.

It leaves the same outputs as ``learnledger run`` (rounds.jsonl, summary.json, history.png,
final.safetensors, deployment.json, agents/, store/) and the devnet's saved state, chain.json:
``learnledger audit --deployment OUT/deployment.json`` brings that chain back up on a local devnet
and checks it, long after the launch has ended.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from learnledger.agents.experiment import Experiment
from learnledger.report.rounds import read_jsonl, round_to_json
from learnledger.report.summary import summarize
from learnledger.report.terms import ExperimentTerms, terms_summary
from learnledger.runs.outputs import RunFolder

if TYPE_CHECKING:  # web3 is imported only once a devnet is used
    from learnledger.ledger.client import ContractLedger
    from learnledger.ledger.devnet import Devnet
    from learnledger.ledger.params import Deployment
    from learnledger.store.api import WeightStore

AGENT_POLL_S = 0.2
CHAIN_STATE = "chain.json"
"""The devnet's saved state in the run folder (anvil ``--state``): what an audit revives."""
SHUTDOWN_GRACE_S = 10.0


class LaunchError(RuntimeError):
    """An agent process died, or the experiment did not finish in time."""


@dataclass
class LaunchResult:
    summary: dict[str, object]
    rounds: list[dict[str, object]]
    out: Path


@dataclass(frozen=True)
class DevnetExperiment:
    """An experiment deployed on a devnet: its record, an observer's handle, the members' accounts."""

    deployment: Deployment
    observer: ContractLedger
    members: list[tuple[str, str]]
    """(address, public devnet key) of each group, in the roster's order."""


def deploy_on_devnet(experiment: Experiment, devnet: Devnet, store: WeightStore, record: Path) -> DevnetExperiment:
    """Put the spec and initial weights in ``store``, deploy, and save the deployment to ``record``.

    The devnet's first accounts are the groups', in roster order; its last one (it needs one more
    than there are groups) deploys and observes, so no member is special after deployment.
    """
    from learnledger.agents.learner import initial_weights
    from learnledger.ledger.chain import connect
    from learnledger.ledger.client import ContractLedger
    from learnledger.ledger.deploy import deploy
    from learnledger.runs.embedded import experiment_params

    count = len(experiment.learners)
    members, deployer_key = devnet.accounts[:count], devnet.accounts[count][1]
    spec_cid = store.put(experiment.spec.canonical_json())
    initial = initial_weights(experiment.spec)
    params = experiment_params(experiment, [address for address, _ in members], spec_cid,
                               initial, store.put(initial))
    w3 = connect(devnet.rpc_url)
    deployment = deploy(w3, deployer_key, params, rpc_url=devnet.rpc_url)
    deployment.save(record)
    return DevnetExperiment(deployment, ContractLedger(w3, deployment, deployer_key), list(members))


def launch_experiment(
    experiment: Experiment,
    out: Path,
    timeout_s: float | None = None,
    on_round: Callable[[dict[str, object]], None] = lambda row: None,
    on_setup: Callable[[str], None] = lambda line: None,
    ipfs_per_lab: bool = False,
) -> LaunchResult:
    """Run ``experiment`` as separate agent processes on a fresh anvil devnet and store server.

    With ``ipfs_per_lab`` each group gets its own private kubo node instead (``LabNodes``), the
    nodes connected to each other, and its agent stores and pins on that node alone.
    """
    from learnledger.ledger.devnet import Devnet
    from learnledger.store.local import LocalStore

    if experiment.path is None:
        raise LaunchError("launch needs the experiment as a file, so that agent processes can read it")
    started = time.perf_counter()
    folder = RunFolder.create(out)
    count = len(experiment.learners)

    on_setup("starting anvil and " + ("one kubo node per group" if ipfs_per_lab else "the store server"))
    stores = _LabStores(folder, experiment.groups) if ipfs_per_lab else _StoreServer(LocalStore(folder.store_dir))
    with Devnet(accounts=count + 1, state=folder.path / CHAIN_STATE) as devnet, stores as ipfs_urls:
        on_setup("deploying the contract")
        deployed = deploy_on_devnet(experiment, devnet, stores.setup_store(),
                                    folder.path / "deployment.json")
        observer, members = deployed.observer, deployed.members
        groups = {address.lower(): spec.group for (address, _), spec in zip(members, experiment.learners)}

        on_setup(f"starting {count} agent processes")
        processes = [
            _start_agent(folder, spec.group, key, experiment.path, ipfs_urls[spec.group])
            for spec, (_, key) in zip(experiment.learners, members)
        ]
        try:
            rows = _watch(observer, groups, processes, folder, timeout_s, on_round)
        finally:
            _stop(processes)
        save_final_model(observer, stores.setup_store(), folder)

    return finish_launch(experiment, folder, rows, "anvil (one process per group)", started)


def finish_launch(experiment: Experiment, folder: RunFolder, rows: list[dict[str, object]], chain: str,
                  started: float) -> LaunchResult:
    """The outputs every launch leaves beside rounds.jsonl: summary.json (with the terms) and
    history.png, from the rounds and each agent's final log line."""
    final = [row for group in experiment.groups for row in _final_rows(folder, group)]
    summary = summarize(
        experiment.name, chain, rows,
        {str(row["group"]): float(row["test_score"]) for row in final},
        final[0]["model_digest"] if final else None,
        time.perf_counter() - started,
    )
    # The agents hold the data, so the test-set sizes (the scores' errors) are not known here.
    terms = ExperimentTerms.from_experiment(experiment)
    summary.update(terms_summary(terms, {}))
    folder.write_text("summary.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
    folder.draw_history(rows, list(experiment.groups), experiment.name, terms)
    return LaunchResult(summary=summary, rounds=rows, out=folder.path)


def save_final_model(observer: ContractLedger, store: WeightStore, folder: RunFolder) -> None:
    """final.safetensors: the shared model the chain names, fetched from the store and checked."""
    shared = observer.current_model()
    cid = observer.deployment.params.initial_cid if shared.round == 0 else observer.proposal(shared.round).cid
    data = store.get(cid)
    if hashlib.sha256(data).digest() != shared.digest:
        raise LaunchError(f"the store holds other bytes than the final model (round {shared.round}, CID {cid})")
    folder.write_bytes("final.safetensors", data)


class _StoreServer:
    """The embedded store behind the Kubo RPC subset, on a free loopback port, for the block."""

    def __init__(self, store) -> None:
        self.store = store

    def __enter__(self) -> dict[str, str]:
        """Every group's store URL: the one server's."""
        from collections import defaultdict

        from learnledger.store.server import serve_in_thread

        self.server, _ = serve_in_thread(self.store, "127.0.0.1", 0)
        return defaultdict(lambda: self.server.url)

    def setup_store(self) -> WeightStore:
        return self.store

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class _LabStores:
    """One private kubo node per group (``LabNodes``) for the block; set-up adds to the first."""

    def __init__(self, folder: RunFolder, groups) -> None:
        from learnledger.runs.lab_nodes import LabNodes

        self.nodes = LabNodes(folder.path / "ipfs", groups)

    def __enter__(self) -> dict[str, str]:
        self.nodes.__enter__()
        return self.nodes.urls

    def setup_store(self) -> WeightStore:
        return next(iter(self.nodes.nodes.values())).store()

    def __exit__(self, *exc: object) -> None:
        self.nodes.close()


def _start_agent(folder: RunFolder, group: str, key: str, experiment: Path, ipfs_url: str) -> subprocess.Popen:
    keyfile = folder.path / "keys" / f"{group}.key"
    keyfile.parent.mkdir(exist_ok=True)
    keyfile.write_text(f"{key}\n")
    keyfile.chmod(0o600)
    command = [
        sys.executable, "-m", "learnledger.cli.main", "agent",
        "--deployment", str(folder.path / "deployment.json"),
        "--group", group, "--keyfile", str(keyfile),
        "--ipfs", ipfs_url, "--experiment", str(experiment),
        "--log", str(folder.path / "agents" / f"{group}.jsonl"),
        "--poll", str(AGENT_POLL_S), "--quiet",
    ]
    output = (folder.path / "agents" / f"{group}.log").open("w")
    return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=os.environ.copy())


def _watch(observer, groups, processes, folder: RunFolder, timeout_s, on_round) -> list[dict[str, object]]:
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    rows: list[dict[str, object]] = []
    while True:
        for record in observer.history()[len(rows):]:
            if not record.state.is_final:
                break
            row = round_to_json(record, groups)
            rows.append(row)
            folder.append_round(row)
            on_round(row)
        if observer.is_finished() and all(p.poll() is not None for p in processes):
            return rows
        dead = [p for p in processes if p.poll() not in (None, 0)]
        if dead:
            raise LaunchError(f"{len(dead)} agent process(es) died (exit {dead[0].returncode}); "
                              f"see {folder.path / 'agents'}/*.log")
        if deadline is not None and time.monotonic() > deadline:
            raise LaunchError(f"the experiment did not finish within {timeout_s:.0f} s")
        time.sleep(0.5)


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(SHUTDOWN_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()


def _final_rows(folder: RunFolder, group: str) -> list[dict[str, object]]:
    path = folder.path / "agents" / f"{group}.jsonl"
    return [row for row in read_jsonl(path) if row.get("final")] if path.exists() else []

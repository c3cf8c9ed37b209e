"""``learnledger run``: a whole experiment in this process, on the embedded chain and store.

Every learner gets its own account and its own ledger handle, exactly as separate processes would;
only the chain (an EVM node in this process) and the store (a directory inside the run folder) are shared.
The same function runs on the pure-Python reference ledger with an in-memory store, which is the
no-chain baseline of ``scripts/bench_overhead.py``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from learnledger.agents.agent import Agent
from learnledger.agents.ballots import SEALED_VOTES_FOLDER, BallotBox
from learnledger.agents.experiment import Experiment
from learnledger.agents.learner import Learner, initial_weights
from learnledger.data.experiment_data import load_learner_data
from learnledger.ledger.api import Ledger, RoundRecord, SharedModel
from learnledger.ledger.params import ExperimentParams
from learnledger.report.rounds import round_to_json
from learnledger.report.summary import summarize
from learnledger.report.terms import ExperimentTerms, terms_summary
from learnledger.runs.driver import drive
from learnledger.runs.outputs import RunFolder
from learnledger.store.api import WeightStore
from learnledger.store.local import LocalStore
from learnledger.store.memory import MemoryStore

LEDGERS = ("chain", "anvil", "reference")
"""Where the rules run: the contract on the embedded chain (revm, in this process), the
contract on a private anvil devnet started for the run (a native node in its own process: what the chain costs over HTTP), or the pure-Python reference model (no chain at all)."""


@dataclass
class RunResult:
    """What a finished run reports (also written to summary.json)."""

    summary: dict[str, object]
    rounds: list[dict[str, object]]
    out: Path


@dataclass
class _Network:
    """Every member's ledger handle plus the means to move the clock."""

    handles: list[Ledger]
    advance_clock: Callable[[int], None]
    deployment_json: str


def run_experiment(
    experiment: Experiment,
    out: Path,
    ledger: str = "chain",
    on_round: Callable[[dict[str, object]], None] = lambda row: None,
    on_setup: Callable[[str], None] = lambda message: None,
    proposers: Sequence[str] | None = None,
) -> RunResult:
    """Run ``experiment`` to its last round with every learner in this process.

    Args:
        experiment: the experiment file, parsed.
        out: the run folder (created; an existing run there is replaced).
        ledger: "chain" (the contract on the embedded chain, the default), "anvil" (the contract on an anvil
            devnet started for the run and stopped after it), or "reference" (no chain, and an
            in-memory store instead of the directory store).
        on_round: called with each round's JSON row as soon as it is finalized (progress display).
        on_setup: called with a line of text at each set-up step.
        proposers: the reference ledger only: the group proposing each round, instead of its
            seeded draw (to replay a chain run's proposers; the overhead benchmark does).
    """
    if ledger not in LEDGERS:
        raise ValueError(f"ledger must be one of {LEDGERS}, received: ledger={ledger!r}")
    if proposers is not None and ledger != "reference":
        raise ValueError("proposers can only be imposed on the reference ledger; the contract draws them")
    started = time.perf_counter()
    folder = RunFolder.create(out)

    on_setup(f"loading data: {experiment.data.source}")
    shares = load_learner_data(experiment.data, [spec.corruption for spec in experiment.learners],
                               experiment.seed)
    on_setup(f"building {len(shares)} learners: {experiment.spec.architecture}")
    learners = [Learner(spec.group, data, experiment.spec)
                for spec, data in zip(experiment.learners, shares)]

    store: WeightStore = MemoryStore() if ledger == "reference" else LocalStore(folder.store_dir)
    spec_cid = store.put(experiment.spec.canonical_json())
    initial = initial_weights(experiment.spec)
    initial_cid = store.put(initial)

    def params_for(members: list[str]) -> ExperimentParams:
        return experiment_params(experiment, members, spec_cid, initial, initial_cid)

    with ExitStack() as resources:
        if ledger == "chain":
            network = _embedded_chain(experiment, params_for)
        elif ledger == "anvil":
            network = _anvil(experiment, params_for, resources)
        else:
            network = _reference(experiment, params_for, proposers)
        shared, final, rows = _run_agents(experiment, folder, learners, store, initial_cid, network,
                                          on_setup, on_round)
    final_scores = {learner.group: learner.score(final).test for learner in learners}
    summary = summarize(experiment.name, ledger, rows, final_scores, shared.digest.hex(),
                        time.perf_counter() - started)
    # The report's terms: test-set sizes give the scores' errors; round 0 is the initial weights.
    terms = ExperimentTerms.from_experiment(
        experiment, {learner.group: len(learner.data.test.y) for learner in learners},
        {learner.group: learner.score(initial).test for learner in learners})
    summary.update(terms_summary(terms, final_scores))
    folder.write_text("summary.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
    folder.draw_history(rows, [spec.group for spec in experiment.learners], experiment.name, terms, final_scores)
    return RunResult(summary=summary, rounds=rows, out=folder.path)


def _run_agents(
    experiment: Experiment,
    folder: RunFolder,
    learners: list[Learner],
    store: WeightStore,
    initial_cid: str,
    network: _Network,
    on_setup: Callable[[str], None],
    on_round: Callable[[dict[str, object]], None],
) -> tuple[SharedModel, bytes, list[dict[str, object]]]:
    """One agent per learner on ``network``, driven to the end; the final model and the rows."""
    folder.write_text("deployment.json", network.deployment_json)
    groups = {handle.account.lower(): spec.group for handle, spec in zip(network.handles, experiment.learners)}
    agents = [
        Agent(learner, handle, store, initial_cid, on_round_log=folder.agent_logger(learner.group),
              ballots=BallotBox(folder.path / SEALED_VOTES_FOLDER, handle.account))
        for learner, handle in zip(learners, network.handles)
    ]
    rows: list[dict[str, object]] = []

    def record_round(record: RoundRecord) -> None:
        row = round_to_json(record, groups)
        rows.append(row)
        folder.append_round(row)
        on_round(row)

    on_setup(f"running {experiment.rounds} rounds")
    drive(agents, network.handles[0], network.advance_clock, record_round)
    shared, final = agents[0].shared_model()
    folder.write_bytes("final.safetensors", final)
    return shared, final, rows


def experiment_params(
    experiment: Experiment, members: list[str], spec_cid: str, initial: bytes, initial_cid: str
) -> ExperimentParams:
    """The constructor arguments of an experiment's contract."""
    return ExperimentParams(
        members=tuple(members),
        group_names=tuple(spec.group for spec in experiment.learners),
        threshold_bps=experiment.threshold_bps,
        proposal_window=experiment.proposal_window,
        vote_window=experiment.vote_window,
        reveal_window=experiment.reveal_window,
        spec_digest=experiment.spec.digest(),
        spec_cid=spec_cid,
        initial_digest=hashlib.sha256(initial).digest(),
        initial_cid=initial_cid,
        max_rounds=experiment.rounds,
    )


def _embedded_chain(experiment: Experiment, params_for: Callable[[list[str]], ExperimentParams]) -> _Network:
    from learnledger.ledger.chain import EmbeddedChain
    from learnledger.ledger.client import ContractLedger
    from learnledger.ledger.deploy import deploy

    count = len(experiment.learners)
    # One account per learner plus one that only deploys: nobody is special after deployment.
    chain = EmbeddedChain(accounts=count + 1)
    deployer_key = chain.accounts[count][1]
    members = chain.accounts[:count]
    deployment = deploy(chain.w3, deployer_key, params_for([address for address, _ in members]))
    handles: list[Ledger] = [ContractLedger(chain.w3, deployment, key) for _, key in members]
    return _Network(handles, chain.time_travel, deployment.to_json())


def _anvil(experiment: Experiment, params_for: Callable[[list[str]], ExperimentParams],
           resources: ExitStack) -> _Network:
    from learnledger.ledger.chain import connect
    from learnledger.ledger.client import ContractLedger
    from learnledger.ledger.deploy import deploy
    from learnledger.ledger.devnet import Devnet

    count = len(experiment.learners)
    devnet = resources.enter_context(Devnet(accounts=count + 1))
    w3 = connect(devnet.rpc_url)
    members = devnet.accounts[:count]
    deployment = deploy(w3, devnet.accounts[count][1], params_for([address for address, _ in members]),
                        rpc_url=devnet.rpc_url)
    handles: list[Ledger] = [ContractLedger(w3, deployment, key) for _, key in members]

    def advance_clock(seconds: int) -> None:
        w3.provider.make_request("evm_increaseTime", [seconds])
        w3.provider.make_request("evm_mine", [])

    return _Network(handles, advance_clock, deployment.to_json())


def _reference(
    experiment: Experiment,
    params_for: Callable[[list[str]], ExperimentParams],
    proposers: Sequence[str] | None,
) -> _Network:
    from learnledger.ledger.reference import ReferenceLedger

    members = [f"0x{index + 1:040x}" for index in range(len(experiment.learners))]
    by_group = dict(zip(experiment.groups, members))
    source = (lambda round: by_group[proposers[round - 1]]) if proposers is not None else None
    clock = _ManualClock()
    reference = ReferenceLedger(params_for(members), clock=clock.now, seed=experiment.seed,
                                proposer_source=source)
    handles: list[Ledger] = [reference.as_member(address) for address in members]
    deployment = {"ledger": "reference", "params": reference.params.to_dict()}
    return _Network(handles, clock.advance, json.dumps(deployment, indent=2, sort_keys=True))


class _ManualClock:
    """The reference ledger's clock: starts now and moves only when told."""

    def __init__(self) -> None:
        self._now = int(time.time())

    def now(self) -> int:
        return self._now

    def advance(self, seconds: int) -> None:
        self._now += seconds

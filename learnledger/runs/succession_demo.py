"""A line of three experiments on one embedded chain, told afterwards from the chain alone.

Three labs run a first experiment; a fourth lab joins by a succession (a new deployment with four
members, starting from the first's final model); one of the first three leaves by a second
succession; the line goes on. Every lab is a real agent training Keras on its MNIST share; the
agents follow each hand-over themselves (``Agent.open_successor``), the leaving lab stops on its
own. Then ``learnledger.audit.line`` audits the whole line from the chain and draws its history.
This is ``scripts/demo_succession.py``; ``tests/test_succession_demo.py`` runs a small one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from learnledger.agents.agent import Action, Agent
from learnledger.agents.learner import Learner, initial_weights
from learnledger.agents.models import ModelSpec
from learnledger.audit.line import LineReport, audit_line
from learnledger.data.config import DataConfig
from learnledger.data.corruption import Corruption
from learnledger.data.experiment_data import load_learner_data
from learnledger.ledger.chain import EmbeddedChain
from learnledger.ledger.client import ContractLedger
from learnledger.ledger.deploy import deploy
from learnledger.ledger.line import successor_ledger, successor_params
from learnledger.ledger.params import Deployment, ExperimentParams
from learnledger.report.history_plot import plot_history
from learnledger.report.rounds import write_jsonl
from learnledger.runs.driver import drive
from learnledger.store.local import LocalStore

LABS = ("cern", "fnal", "desy", "kek")
"""The first three start; kek joins at the first succession; desy leaves at the second."""


@dataclass
class DemoResult:
    """The line's audit, the gas of each succession step, and where the outputs were written."""

    line: LineReport
    gas: dict[str, list[int]]
    out: Path


def run_demo(out: Path, rounds: int = 10, per_learner: int = 300, epochs: int = 1,
             say: Callable[[str], None] = lambda line: None) -> DemoResult:
    """Run the three experiments of ``rounds`` rounds each; audit the line; write the outputs.

    Args:
        out: the folder for history.png, rounds.jsonl, summary.json and the store.
        rounds: rounds per experiment (the line has three times as many).
        per_learner: MNIST examples per lab (train, vote and test shares are cut from them).
        epochs: local epochs per proposal.
        say: called with a line of progress now and then.
    """
    out.mkdir(parents=True, exist_ok=True)
    chain = EmbeddedChain(accounts=len(LABS))
    keys = dict(zip(LABS, (key for _, key in chain.accounts)))
    address = dict(zip(LABS, (account for account, _ in chain.accounts)))
    spec = ModelSpec(architecture="mlp", input_shape=(28, 28, 1), num_classes=10, seed=7,
                     epochs=epochs, batch_size=32, learning_rate=0.003)
    shares = load_learner_data(DataConfig(source="mnist", max_per_learner=per_learner),
                               [Corruption()] * len(LABS), seed=11)
    learners = {lab: Learner(lab, data, spec) for lab, data in zip(LABS, shares)}
    store = LocalStore(out / "store")
    initial = initial_weights(spec)
    first = deploy(chain.w3, keys["cern"], ExperimentParams(
        members=tuple(address[lab] for lab in LABS[:3]), group_names=LABS[:3],
        spec_digest=spec.digest(), spec_cid=store.put(spec.canonical_json()),
        initial_digest=hashlib.sha256(initial).digest(), initial_cid=store.put(initial),
        proposal_window=600, vote_window=600, max_rounds=rounds))

    def agent_of(lab: str, deployment: Deployment) -> Agent:
        return Agent(learners[lab], ContractLedger(chain.w3, deployment, keys[lab]), store,
                     deployment.params.initial_cid,
                     open_successor=lambda successor: successor_ledger(chain.w3, successor, keys[lab]))

    agents = {lab: agent_of(lab, first) for lab in LABS[:3]}
    gas: dict[str, list[int]] = {"propose": [], "vote": [], "handover": []}

    def run(deployment: Deployment, labs: tuple[str, ...]) -> None:
        say(f"{', '.join(labs)}: {rounds} rounds on {deployment.address}")
        observer = ContractLedger(chain.w3, deployment, keys[labs[0]])
        drive([agents[lab] for lab in labs], observer, chain.time_travel)

    def succeed(deployment: Deployment, labs: tuple[str, ...], voters: tuple[str, ...]) -> Deployment:
        successor = deploy(chain.w3, keys["cern"], successor_params(
            chain.w3, deployment, tuple(address[lab] for lab in labs), labs))
        proposer = ContractLedger(chain.w3, deployment, keys[voters[0]])
        proposer.propose_successor(successor.address)
        gas["propose"].append(proposer.last_gas_used)
        for lab in voters[1:]:
            voter = ContractLedger(chain.w3, deployment, keys[lab])
            voter.vote_succession(True)
            gas["vote"].append(voter.last_gas_used)
        proposer.finalize_succession()
        gas["handover"].append(proposer.last_gas_used)
        say(f"handed over to {successor.address}: {', '.join(labs)}")
        return successor

    run(first, LABS[:3])
    second = succeed(first, LABS, LABS[:3])
    moves = {lab: agents[lab].step() for lab in LABS[:3]}
    assert all(action is Action.FOLLOWED for action in moves.values()), moves
    agents["kek"] = agent_of("kek", second)
    run(second, LABS)
    remaining = ("cern", "fnal", "kek")
    third = succeed(second, remaining, LABS)
    moves = {lab: agents[lab].step() for lab in LABS}
    assert moves["desy"] is Action.FINISHED and agents["desy"].left_line_at == third.address, moves
    run(third, remaining)

    say("auditing the line from the chain alone")
    line = audit_line(chain.w3, first.address)
    rows = line.rows
    write_jsonl(out / "rounds.jsonl", rows)
    marks = [(change.after_round + 0.5, change.label) for change in line.changes]
    plot_history(rows, list(LABS), out / "history.png",
                 title=f"MNIST, a line of {len(line.reports)} experiments ({len(rows)} rounds)", marks=marks)
    final = {lab: learners[lab].score(agents[lab].shared_model()[1]).test for lab in remaining}
    summary: dict[str, Any] = {
        "ok": line.ok, "rounds": len(rows), "findings": [str(f) for f in line.findings],
        "experiments": [{"address": r.address, "groups": r.groups, "first_round": o + 1, "rounds": len(r.rows)}
                        for r, o in zip(line.reports, line.offsets)],
        "handovers": [{"after_round": c.after_round, "joined": c.joined, "left": c.left} for c in line.changes],
        "accepted": sum(row["outcome"] == "accepted" for row in rows),
        "initial_test_accuracy": {lab: learners[lab].score(initial).test for lab in LABS},
        "final_test_accuracy": final,
        "gas": gas,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True, default=list) + "\n")
    return DemoResult(line, gas, out)

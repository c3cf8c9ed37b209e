"""A real experiment on a devnet that outlives it: real Keras agents in this process, rounds on demand.

``learnledger run --ledger anvil`` stops its devnet when the run ends, and ``launch`` runs its agents
as processes; tests of what reads the chain afterwards (the audit's outputs, the live view) need the
chain still up and the rounds to come one at a time. The agents, ledgers and store are the ones
``run`` uses; only the clock is moved by the test, as ``run``'s driver moves it.
"""

from __future__ import annotations

from pathlib import Path

from learnledger.agents.agent import Agent
from learnledger.agents.experiment import Experiment
from learnledger.agents.learner import Learner
from learnledger.data.experiment_data import load_learner_data
from learnledger.ledger.chain import connect
from learnledger.ledger.client import ContractLedger
from learnledger.ledger.devnet import Devnet
from learnledger.report.rounds import round_to_json
from learnledger.runs.driver import drive
from learnledger.runs.launch import deploy_on_devnet
from learnledger.store.local import LocalStore


class ExperimentOnDevnet:
    """``experiment`` deployed on ``devnet`` with its store in ``folder/store`` (deployment.json beside)."""

    def __init__(self, experiment: Experiment, devnet: Devnet, folder: Path) -> None:
        self.experiment = experiment
        self.folder = folder
        self.store = LocalStore(folder / "store")
        deployed = deploy_on_devnet(experiment, devnet, self.store, folder / "deployment.json")
        self.deployment = deployed.deployment
        self.observer = deployed.observer
        self.groups = {a.lower(): s.group for (a, _), s in zip(deployed.members, experiment.learners)}
        shares = load_learner_data(experiment.data, [s.corruption for s in experiment.learners], experiment.seed)
        self.learners = [Learner(s.group, d, experiment.spec) for s, d in zip(experiment.learners, shares)]
        w3 = connect(devnet.rpc_url)
        self.w3 = w3
        initial_cid = self.deployment.params.initial_cid
        self.agents = [Agent(learner, ContractLedger(w3, self.deployment, key), self.store, initial_cid)
                       for learner, (_, key) in zip(self.learners, deployed.members)]
        self.rows: list[dict[str, object]] = []

    def advance_clock(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[attr-defined]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[attr-defined]

    def run_rounds(self, count: int | None = None) -> list[dict[str, object]]:
        """Drive the agents until ``count`` more rounds are final (None: to the end); the rows ``run``
        would have written to rounds.jsonl so far."""
        target = None if count is None else len(self.rows) + count
        while not self.observer.status().finished and (target is None or len(self.rows) < target):
            drive(self.agents, self.observer, self.advance_clock, max_rounds=1)
            self.rows = [round_to_json(r, self.groups) for r in self.observer.history() if r.state.is_final]
        return self.rows

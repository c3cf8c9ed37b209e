"""Reorganisations on anvil (anvil_rollback, anvil_reorg): a vote or a proposal that the chain drops is
noticed by the agent and sent again; the event history drops removed logs and agrees with the views;
`audit --confirmations N` audits only what is N blocks deep."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from learnledger.agents.agent import Action, Agent
from learnledger.agents.learner import Learner, initial_weights
from learnledger.agents.models import ModelSpec
from learnledger.cli.main import app
from learnledger.data.config import DataConfig
from learnledger.data.corruption import Corruption
from learnledger.data.experiment_data import load_learner_data
from learnledger.ledger.api import RoundState
from learnledger.ledger.chain import connect
from learnledger.ledger.client import ContractLedger
from learnledger.ledger.deploy import deploy
from learnledger.ledger.devnet import Devnet
from learnledger.ledger.params import ExperimentParams
from learnledger.store.local import LocalStore
from tests.conftest import needs_anvil

pytestmark = [pytest.mark.anvil, needs_anvil]

GROUPS = ("alpha", "beta", "gamma")
SPEC = ModelSpec(architecture="mlp", input_shape=(28, 28, 1), num_classes=10, seed=3,
                 epochs=1, batch_size=16, learning_rate=0.003)


def rpc(ledger: ContractLedger, method: str, *params: object) -> object:
    answer = ledger.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in answer, answer
    return answer.get("result")


def consistent(reader: ContractLedger, round: int) -> None:
    """The event history and the views tell the same story of ``round``."""
    (record,) = [r for r in reader.history() if r.round == round]
    voters = {vote.voter for vote in record.votes}
    for member in reader.deployment.params.members:
        assert reader.has_voted(round, member) == (member in voters), member
    assert record.state is reader.round_state(round)
    proposal = reader.proposal(round)
    assert (proposal is None) == (record.proposal is None)
    if proposal is not None:
        assert proposal == record.proposal


@pytest.mark.slow
def test_agents_send_again_what_a_reorganisation_removed(tmp_path: Path) -> None:
    shares = load_learner_data(DataConfig(source="mnist", max_per_learner=60), [Corruption()] * 3, seed=5)
    store = LocalStore(tmp_path / "store")
    initial = initial_weights(SPEC)
    with Devnet(accounts=4) as devnet:
        w3 = connect(devnet.rpc_url)
        members = tuple(a for a, _ in devnet.accounts[:3])
        params = ExperimentParams(members=members, group_names=GROUPS, spec_digest=SPEC.digest(), spec_cid="spec",
                                  initial_digest=hashlib.sha256(initial).digest(), initial_cid=store.put(initial),
                                  max_rounds=1)
        deployment = deploy(w3, devnet.accounts[3][1], params, rpc_url=devnet.rpc_url)
        reader = ContractLedger(w3, deployment, devnet.accounts[3][1])
        agents = {address: Agent(Learner(group, data, SPEC), ContractLedger(w3, deployment, key), store,
                                 params.initial_cid)
                  for (address, key), group, data in zip(devnet.accounts[:3], GROUPS, shares)}
        proposer = agents[reader.proposer_of(1)]
        voters = [agent for address, agent in agents.items() if agent is not proposer]

        # a proposal removed by a reorganisation deeper than the history's rescan window
        assert proposer.step() is Action.PROPOSED
        first = reader.proposal(1)
        assert first is not None
        rpc(reader, "anvil_mine", hex(20))
        reader.history()  # settles the proposal's block in the reader's event log
        rpc(reader, "anvil_reorg", 21, [])  # replace the last 21 blocks: the proposal's among them
        assert reader.proposal(1) is None and reader.round_state(1) is RoundState.PROPOSING
        consistent(reader, 1)
        assert proposer.step() is Action.PROPOSED  # noticed: the round waits for it again; sent again
        assert reader.proposal(1) is not None
        assert reader._round_events.reorgs >= 1

        # a vote removed by a rollback: the voter notices it has not voted and votes again
        assert voters[0].step() is Action.VOTED
        assert reader.has_voted(1, voters[0].ledger.account)
        rpc(reader, "anvil_rollback", 1)
        assert not reader.has_voted(1, voters[0].ledger.account)
        consistent(reader, 1)
        assert voters[0].step() is Action.VOTED  # its nonce is counted again from the chain
        assert voters[1].step() is Action.VOTED
        record = reader.history()[0]
        assert record.state.is_final and len(record.votes) == 2
        assert {v.voter for v in record.votes} == {v.ledger.account for v in voters}
        consistent(reader, 1)

        record_path = tmp_path / "deployment.json"
        deployment.save(record_path)
        runner = CliRunner()
        clean = runner.invoke(app, ["audit", "--deployment", str(record_path)])
        assert clean.exit_code == 0, clean.output
        assert "all checks hold" in clean.output

        # --confirmations: as of N blocks below the head, the round is not final yet
        rpc(reader, "anvil_mine", hex(2))
        deep = runner.invoke(app, ["audit", "--deployment", str(record_path), "--confirmations", "3"])
        assert deep.exit_code == 0, deep.output
        head = w3.eth.block_number
        assert f"as it stood at block {head - 3}" in deep.output and "all checks hold" in deep.output
        too_deep = runner.invoke(app, ["audit", "--deployment", str(record_path), "--confirmations", str(head)])
        assert too_deep.exception is not None and "nothing is" in str(too_deep.exception)

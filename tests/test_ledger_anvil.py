"""The client against a real node over HTTP: anvil from node_modules, on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from learnledger.ledger.api import ContractRevert, LedgerError, RoundState
from learnledger.ledger.chain import connect
from learnledger.ledger.client import ContractLedger
from learnledger.ledger.deploy import deploy
from learnledger.ledger.devnet import Devnet
from learnledger.ledger.params import Deployment, ExperimentParams
from learnledger.ledger.sandbox import PLACEHOLDER_INITIAL_DIGEST, PLACEHOLDER_SPEC_DIGEST
from tests.conftest import needs_anvil

pytestmark = [
    pytest.mark.anvil,
    needs_anvil,
]


def deploy_three(devnet: Devnet) -> tuple[Deployment, dict[str, ContractLedger]]:
    w3 = connect(devnet.rpc_url)
    members = tuple(address for address, _ in devnet.accounts[:3])
    params = ExperimentParams(
        members=members,
        group_names=("a", "b", "c"),
        spec_digest=PLACEHOLDER_SPEC_DIGEST,
        spec_cid="spec",
        initial_digest=PLACEHOLDER_INITIAL_DIGEST,
        initial_cid="init",
        proposal_window=30,
        vote_window=30,
    )
    deployment = deploy(w3, devnet.accounts[0][1], params, rpc_url=devnet.rpc_url)
    ledgers = {address: ContractLedger(w3, deployment, key) for address, key in devnet.accounts}
    return deployment, ledgers


def test_a_round_and_a_skip_on_anvil(tmp_path: Path) -> None:
    with Devnet(accounts=4) as devnet:
        deployment, ledgers = deploy_three(devnet)
        reader = ledgers[devnet.accounts[3][0]]  # an outsider
        drawn = reader.proposer_of(1)
        ledgers[drawn].propose(1, b"\x07" * 32, "cid-1")
        with pytest.raises(ContractRevert) as own:
            ledgers[drawn].vote(1, True, 1, 1)
        assert (own.value.name, own.value.args_) == ("VoterIsProposer", (1, drawn))
        for member in deployment.params.members:
            if member != drawn:
                ledgers[member].vote(1, True, 990_000, 980_000)
        assert reader.round_state(1) is RoundState.ACCEPTED
        assert reader.current_model().digest == b"\x07" * 32

        reader.w3.provider.make_request("evm_increaseTime", [31])  # type: ignore[arg-type]
        assert reader.round_state(2) is RoundState.PROPOSAL_EXPIRED
        reader.finalize(2)
        history = reader.history()
        assert [r.state for r in history] == [RoundState.ACCEPTED, RoundState.SKIPPED, RoundState.PROPOSING]
        assert history[0].votes[0].vote_score == 990_000


def test_devnet_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "chain.json"
    with Devnet(state=state, accounts=4) as devnet:
        deployment, ledgers = deploy_three(devnet)
        port = devnet.port
    assert state.exists()
    with Devnet(port=port, state=state, accounts=4) as devnet:
        reader = ContractLedger(connect(devnet.rpc_url), deployment, devnet.accounts[3][1])
        assert reader.current_round() == 1
        assert [m.group for m in reader.members()] == ["a", "b", "c"]


def test_a_second_devnet_on_a_taken_port_says_so() -> None:
    with Devnet(accounts=1) as first:
        with pytest.raises(LedgerError, match="is in use"):
            Devnet(port=first.port, accounts=1).start()
        assert first.running()

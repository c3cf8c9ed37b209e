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


def test_the_batched_nonce_and_fees_equal_the_single_reads_and_a_fresh_status_skips_the_estimate() -> None:
    """Before each transaction the sender asks a node for its nonce and the fees in one JSON-RPC
    batch: the same answers as two separate requests. A vote that the status just allowed goes out
    with its fixed gas and no eth_estimateGas; one refused on chain is named by its replay."""
    from web3.middleware import Web3Middleware

    from learnledger.ledger.client import GAS_LIMITS
    from learnledger.ledger.transact import FEE_HISTORY_BLOCKS, TIP_PERCENTILE

    with Devnet(accounts=4) as devnet:
        deployment, ledgers = deploy_three(devnet)
        reader = ledgers[devnet.accounts[3][0]]
        drawn = reader.proposer_of(1)
        ledgers[drawn].propose(1, b"\x07" * 32, "cid-1")
        voter = ledgers[next(m for m in deployment.params.members if m != drawn)]
        sender, w3 = voter._sender, voter.w3
        counted, fees = sender._count_and_fees()
        assert counted is not None and counted == w3.eth.get_transaction_count(voter.account, "pending")
        single = sender._caps_from(w3.eth.fee_history(FEE_HISTORY_BLOCKS, "latest", [TIP_PERCENTILE]))
        assert fees == single and fees["maxFeePerGas"] > fees["maxPriorityFeePerGas"] > 0

        seen: list[str] = []

        class Recorder(Web3Middleware):
            def request_processor(self, method, params):  # type: ignore[no-untyped-def]
                seen.append(str(method))
                return method, params

        w3.middleware_onion.inject(Recorder, name="recorder", layer=0)
        try:
            assert voter.status().state is RoundState.VOTING
            voter.vote(1, True, 1, 1)
        finally:
            w3.middleware_onion.remove("recorder")
        assert "eth_estimateGas" not in seen and "eth_sendRawTransaction" in seen, seen
        mined = w3.eth.get_transaction(w3.eth.get_block("latest")["transactions"][0])
        assert mined["gas"] == GAS_LIMITS["vote"]

        # the status allowed a vote; the same key voted through another handle meanwhile
        other = next(m for m in deployment.params.members if m not in (drawn, voter.account))
        key = dict(devnet.accounts)[other]
        mine, elsewhere = ContractLedger(w3, deployment, key), ContractLedger(w3, deployment, key)
        assert mine.status().state is RoundState.VOTING
        with pytest.raises(ContractRevert) as refused:
            elsewhere.vote(1, True, 1, 1)  # the last vote: the round is decided
            mine.vote(1, False, 2, 2)
        assert refused.value.name == "RoundUnexpectedState"
        assert refused.value.args_[:2] == (1, RoundState.ACCEPTED)
        receipt = w3.eth.get_transaction_receipt(w3.eth.get_block("latest")["transactions"][0])
        assert receipt["status"] == 0, "the refused vote was sent and reverted on chain"


def test_the_round_log_reads_a_new_block_by_its_hash_once_for_every_handle_and_follows_a_reorg() -> None:
    with Devnet(accounts=4) as devnet:
        deployment, ledgers = deploy_three(devnet)
        first, second = ledgers[devnet.accounts[3][0]], ledgers[devnet.accounts[1][0]]
        drawn = first.proposer_of(1)
        assert first.proposal(1) is None
        ledgers[drawn].propose(1, b"\x07" * 32, "cid-1")  # one new block on top of the one read

        asked: list[tuple[str, list[object]]] = []
        provider = first.w3.provider
        original = provider.make_request

        def make_request(method, params):  # type: ignore[no-untyped-def]
            asked.append((method, params))
            return original(method, params)

        provider.make_request = make_request  # type: ignore[method-assign]
        assert second.proposal(1) is not None and second.proposal(1).cid == "cid-1"  # type: ignore[union-attr]
        assert first.proposal(1) is not None  # the same head: answered from the shared log
        logs = [params[0] for method, params in asked if method == "eth_getLogs"]
        heads = [params for method, params in asked if method == "eth_getBlockByNumber"]
        assert len(logs) == 1 and set(logs[0]) == {"address", "blockHash", "topics"}, logs  # type: ignore[arg-type]
        assert heads == [["latest", False]] * 3, heads

        # a reorganisation that replaces the proposal's block: the log reads the tip again
        asked.clear()
        provider.make_request("anvil_reorg", [1, []])
        assert second.proposal(1) is None
        assert any(method == "eth_getLogs" and "fromBlock" in params[0] for method, params in asked)  # type: ignore[operator]
        assert [r.proposal for r in first.history()] == [None]

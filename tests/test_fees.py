"""EIP-1559 fees on a chain with block times (anvil, one block a second): caps from the fee history,
a transaction priced out by a base fee raised mid-run is replaced at the same nonce with a bumped fee,
and one the node dropped is sent again; each ends mined once."""

from __future__ import annotations

from typing import Any

import pytest

from learnledger.ledger.api import RoundState
from learnledger.ledger.chain import connect
from learnledger.ledger.client import ContractLedger
from learnledger.ledger.deploy import deploy
from learnledger.ledger.devnet import Devnet
from learnledger.ledger.params import ExperimentParams
from learnledger.ledger.sandbox import PLACEHOLDER_INITIAL_DIGEST, PLACEHOLDER_SPEC_DIGEST
from learnledger.ledger.transact import REPLACE_AFTER_BLOCKS, bump_fees
from tests.conftest import needs_anvil


def test_a_replacement_pays_at_least_the_bump_in_every_field() -> None:
    old = {"maxFeePerGas": 1000, "maxPriorityFeePerGas": 100}
    assert bump_fees(old, {"maxFeePerGas": 900, "maxPriorityFeePerGas": 50}) == {
        "maxFeePerGas": 1126, "maxPriorityFeePerGas": 113}
    assert bump_fees(old, {"maxFeePerGas": 5000, "maxPriorityFeePerGas": 50})["maxFeePerGas"] == 5000


def proposer_on(devnet: Devnet) -> tuple[ContractLedger, list[ContractLedger]]:
    w3 = connect(devnet.rpc_url)
    members = tuple(a for a, _ in devnet.accounts[:3])
    params = ExperimentParams(members=members, group_names=("a", "b", "c"),
                              spec_digest=PLACEHOLDER_SPEC_DIGEST, spec_cid="s",
                              initial_digest=PLACEHOLDER_INITIAL_DIGEST, initial_cid="i")
    deployment = deploy(w3, devnet.accounts[0][1], params, rpc_url=devnet.rpc_url)
    ledgers = [ContractLedger(w3, deployment, key) for _, key in devnet.accounts[:3]]
    drawn = ledgers[0].proposer_of(1)
    proposer = next(ledger for ledger in ledgers if ledger.account == drawn)
    return proposer, [ledger for ledger in ledgers if ledger is not proposer]


@pytest.mark.anvil
@needs_anvil
def test_fee_caps_follow_the_history_and_a_priced_out_vote_is_replaced() -> None:
    with Devnet(accounts=3, block_time=1) as devnet:
        proposer, voters = proposer_on(devnet)
        proposer.propose(1, b"\x01" * 32, "cid")
        sender = voters[0]._sender
        caps = sender.fee_caps()
        base = int(sender.w3.eth.get_block("latest")["baseFeePerGas"])
        assert caps["maxFeePerGas"] >= base and caps["maxPriorityFeePerGas"] >= 10**9
        offered: list[dict[str, Any]] = []
        send = sender._sign_and_send

        def send_then_raise_the_base_fee(request: dict[str, Any], nonce: int, fees: dict[str, int]) -> bytes:
            tx_hash = send(request, nonce, fees)
            if not offered:  # the base fee jumps once the vote is in the pool: its offer is now too low
                sender.w3.provider.make_request("anvil_setNextBlockBaseFeePerGas",  # type: ignore[attr-defined]
                                                [hex(caps["maxFeePerGas"] * 20)])
            offered.append({"nonce": nonce, **fees})
            return tx_hash

        sender._sign_and_send = send_then_raise_the_base_fee  # type: ignore[method-assign]
        start = sender.w3.eth.block_number
        voters[0].vote(1, True, 1, 1)
        assert sender.replacements >= 1 and len(offered) >= 2
        assert len({o["nonce"] for o in offered}) == 1  # the same nonce, replaced
        assert offered[-1]["maxFeePerGas"] > offered[0]["maxFeePerGas"] * 1.1
        assert sender.w3.eth.block_number - start >= REPLACE_AFTER_BLOCKS
        assert voters[0].has_voted(1, voters[0].account)
        voters[1].vote(1, True, 1, 1)
        assert voters[1].round_state(1) is RoundState.ACCEPTED
        assert sender.w3.eth.get_transaction_count(voters[0].account) == offered[0]["nonce"] + 1


@pytest.mark.anvil
@needs_anvil
def test_a_transaction_dropped_from_the_pool_is_sent_again() -> None:
    with Devnet(accounts=3, block_time=1) as devnet:
        proposer, _ = proposer_on(devnet)
        sender = proposer._sender
        send = sender._sign_and_send
        hashes: list[bytes] = []

        def send_then_drop(request: dict[str, Any], nonce: int, fees: dict[str, int]) -> bytes:
            tx_hash = send(request, nonce, fees)
            if not hashes:  # the node forgets the first one at once (a full pool would)
                sender.w3.provider.make_request("anvil_dropTransaction", ["0x" + tx_hash.hex()])  # type: ignore[attr-defined]
            hashes.append(tx_hash)
            return tx_hash

        sender._sign_and_send = send_then_drop  # type: ignore[method-assign]
        proposer.propose(1, b"\x02" * 32, "cid")
        assert len(hashes) == 2 and sender.replacements == 1
        assert proposer.proposal(1) is not None and proposer.proposal(1).digest == b"\x02" * 32  # type: ignore[union-attr]

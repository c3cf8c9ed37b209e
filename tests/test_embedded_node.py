"""The embedded node (revm in this process) against what a node owes its clients.

Gas is checked against eth-tester on py-evm, an independent EVM: the same signed transactions,
the same gas, transaction by transaction. The rest checks what the ledger relies on: state kept
between transactions and metered cold in each, refusals worded as nodes word them, snapshots that
take everything back, logs found by their filters, and no pretending to hold old states.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from web3 import Web3
from web3.exceptions import Web3RPCError

from learnledger.ledger.chain import EMBEDDED_CHAIN_ID, EmbeddedChain, embedded_keys
from learnledger.ledger.sandbox import embedded_experiment

START = 4_000_000_000

# A counter: each call adds 1 to slot 0, stores its calldata word in slot 1 and logs it under one
# topic (the caller). Calldata 0xdead... makes it revert with those 4 bytes.
#   CALLDATALOAD(0) == 0xdead.. ? revert(data) ; slot0 += 1 ; slot1 = word ; LOG1(word, caller)
COUNTER_RUNTIME = bytes.fromhex(
    "600035"            # PUSH1 0 CALLDATALOAD                  -> word
    "8060e01c"          # DUP1 PUSH1 224 SHR                     -> word, selector
    "63deadbeef"        # PUSH4 0xdeadbeef
    "14602757"          # EQ PUSH1 0x27 JUMPI                    -> word
    "600054600101600055"  # slot0 += 1
    "80600155"          # DUP1 PUSH1 1 SSTORE                    -> word
    "600052"            # PUSH1 0 MSTORE
    "3360206000a1"      # CALLER PUSH1 32 PUSH1 0 LOG1
    "00"                # STOP
    "5b"                # 0x27: JUMPDEST
    "63deadbeef60e01b6000526004" "6000fd"  # mstore(0, 0xdeadbeef << 224) revert(0, 4)
)
COUNTER_INIT = bytes.fromhex("60%02x80600b6000396000f3" % len(COUNTER_RUNTIME)) + COUNTER_RUNTIME


def signed(key: str, nonce: int, to: str | None, data: bytes, chain_id: int = EMBEDDED_CHAIN_ID,
           gas: int = 300_000) -> bytes:
    tx: dict[str, Any] = {"nonce": nonce, "gas": gas, "gasPrice": 10 * 10**9, "value": 0, "data": data,
                          "chainId": chain_id}
    if to is not None:
        tx["to"] = to
    return bytes(Account.sign_transaction(tx, key).raw_transaction)


def send(w3: Web3, raw: bytes) -> Any:
    return w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(raw))


def py_evm_chain(accounts: int) -> Web3:
    """eth-tester on py-evm with the same funded keys (1, 2, ...) as the embedded chain."""
    from eth_tester import EthereumTester, PyEVMBackend
    from web3 import EthereumTesterProvider

    backend = PyEVMBackend(genesis_parameters=PyEVMBackend.generate_genesis_params(
        overrides={"gas_limit": 60_000_000, "timestamp": START}),
        genesis_state=PyEVMBackend.generate_genesis_state(num_accounts=accounts))
    return Web3(EthereumTesterProvider(EthereumTester(backend)))


def counter_gas(w3: Web3, chain_id: int) -> list[int]:
    """Deploy the counter and call it from two accounts in turn; every transaction's gas."""
    key_a, key_b = embedded_keys(2)
    deployed = send(w3, signed(key_a, 0, None, COUNTER_INIT, chain_id))
    counter = deployed["contractAddress"]
    gases = [deployed["gasUsed"]]
    nonces = {key_a: 1, key_b: 0}
    for i, key in enumerate([key_a, key_b, key_a, key_a, key_b]):
        word = (i % 2 * 7).to_bytes(32, "big")  # zero and non-zero words: every SSTORE price
        gases.append(send(w3, signed(key, nonces[key], counter, word, chain_id))["gasUsed"])
        nonces[key] += 1
    return gases


def test_gas_is_metered_as_on_py_evm_transaction_by_transaction() -> None:
    """The same signed transactions cost the same gas as on eth-tester's py-evm: a slot written by
    one transaction is cold again, and priced from its committed value, in the next (the node
    closes each transaction itself; pyrevm alone would leave it warm and meter later ones low)."""
    embedded = EmbeddedChain(accounts=2, start_time=START)
    ours = counter_gas(embedded.w3, EMBEDDED_CHAIN_ID)
    py_evm = py_evm_chain(2)
    reference = counter_gas(py_evm, py_evm.eth.chain_id)
    assert ours == reference
    assert len(set(ours[1:])) > 1  # the calls differ in price: the comparison has something to compare


def test_the_contracts_round_gas_is_metered_as_on_py_evm() -> None:
    """The experiment's contract, deployed by the same transaction on both, costs the same to
    deploy, and reads the same on both."""
    key = embedded_keys(3)[0]
    embedded = EmbeddedChain(accounts=3, start_time=START)
    exp = embedded_experiment(3, outsiders=0, start_time=START)
    deployment = exp.deployment
    tx = exp.chain.w3.eth.get_transaction(exp.chain.w3.eth.get_block(deployment.block)["transactions"][0])
    raw = signed(key, 0, None, bytes(tx["input"]), gas=30_000_000)
    ours = send(embedded.w3, raw)
    py_evm = py_evm_chain(3)
    theirs = send(py_evm, signed(key, 0, None, bytes(tx["input"]), py_evm.eth.chain_id, gas=30_000_000))
    assert ours["status"] == theirs["status"] == 1
    assert ours["gasUsed"] == theirs["gasUsed"]
    assert bytes(embedded.w3.eth.get_code(ours["contractAddress"])) == bytes(py_evm.eth.get_code(theirs["contractAddress"]))


def test_state_survives_between_transactions_and_calls_change_nothing() -> None:
    chain = EmbeddedChain(accounts=1, start_time=START)
    key = embedded_keys(1)[0]
    counter = send(chain.w3, signed(key, 0, None, COUNTER_INIT))["contractAddress"]
    for nonce in (1, 2, 3):
        send(chain.w3, signed(key, nonce, counter, (5).to_bytes(32, "big")))
    chain.w3.eth.call({"to": counter, "data": (9).to_bytes(32, "big")})  # runs, and is forgotten
    assert int.from_bytes(chain.w3.eth.get_storage_at(counter, 0), "big") == 3
    assert int.from_bytes(chain.w3.eth.get_storage_at(counter, 1), "big") == 5
    assert chain.w3.eth.get_transaction_count(chain.accounts[0][0]) == 4


def test_a_revert_carries_its_data_to_the_caller_and_its_receipt() -> None:
    chain = EmbeddedChain(accounts=1, start_time=START)
    key = embedded_keys(1)[0]
    counter = send(chain.w3, signed(key, 0, None, COUNTER_INIT))["contractAddress"]
    poison = bytes.fromhex("deadbeef") + bytes(28)
    with pytest.raises(Exception) as refused:
        chain.w3.eth.call({"to": counter, "data": poison})
    assert getattr(refused.value, "data", None) == "0xdeadbeef"
    receipt = send(chain.w3, signed(key, 1, counter, poison))
    assert receipt["status"] == 0 and receipt["logs"] == []
    assert int.from_bytes(chain.w3.eth.get_storage_at(counter, 0), "big") == 0  # nothing kept
    assert chain.w3.eth.get_transaction_count(chain.accounts[0][0]) == 2  # but the nonce is used


@pytest.mark.parametrize(("nonce", "chain_id", "words"), [
    (5, EMBEDDED_CHAIN_ID, "nonce too high"),
    (0, 1, "invalid chain id"),
])
def test_a_transaction_the_node_cannot_take_is_refused_in_a_nodes_words(nonce: int, chain_id: int, words: str) -> None:
    chain = EmbeddedChain(accounts=1, start_time=START)
    with pytest.raises(Web3RPCError, match=words):
        chain.w3.eth.send_raw_transaction(signed(embedded_keys(1)[0], nonce, None, COUNTER_INIT, chain_id))
    assert chain.w3.eth.block_number == 0


def test_an_unfunded_account_is_refused_in_a_nodes_words() -> None:
    """The words the transaction sender turns into AccountUnfunded (anvil's and geth's)."""
    chain = EmbeddedChain(accounts=1, start_time=START)
    with pytest.raises(Web3RPCError, match="insufficient funds"):
        chain.w3.eth.send_raw_transaction(signed(Account.create().key.hex(), 0, None, COUNTER_INIT))


def test_a_snapshot_takes_back_state_blocks_receipts_and_nonces() -> None:
    chain = EmbeddedChain(accounts=1, start_time=START)
    key = embedded_keys(1)[0]
    counter = send(chain.w3, signed(key, 0, None, COUNTER_INIT))["contractAddress"]
    snapshot = chain.snapshot()
    later = send(chain.w3, signed(key, 1, counter, (3).to_bytes(32, "big")))
    assert int.from_bytes(chain.w3.eth.get_storage_at(counter, 0), "big") == 1
    chain.revert(snapshot)
    assert int.from_bytes(chain.w3.eth.get_storage_at(counter, 0), "big") == 0
    assert chain.w3.eth.block_number == 1
    assert chain.w3.eth.get_transaction_count(chain.accounts[0][0]) == 1
    with pytest.raises(Exception):
        chain.w3.eth.get_transaction_receipt(later["transactionHash"])
    again = send(chain.w3, signed(key, 1, counter, (3).to_bytes(32, "big")))  # the same nonce again
    assert again["gasUsed"] == later["gasUsed"]


def test_logs_are_found_by_address_topic_and_range() -> None:
    chain = EmbeddedChain(accounts=2, start_time=START)
    key_a, key_b = embedded_keys(2)
    counter = send(chain.w3, signed(key_a, 0, None, COUNTER_INIT))["contractAddress"]
    for nonce, key in ((1, key_a), (0, key_b), (2, key_a)):
        send(chain.w3, signed(key, nonce, counter, bytes(32)))
    topic_b = "0x" + bytes(12).hex() + chain.accounts[1][0][2:].lower()
    everything = chain.w3.eth.get_logs({"address": counter, "fromBlock": 0})
    of_b = chain.w3.eth.get_logs({"address": counter, "fromBlock": 0, "topics": [topic_b]})
    late = chain.w3.eth.get_logs({"address": counter, "fromBlock": 3, "toBlock": "latest"})
    assert [log["blockNumber"] for log in everything] == [2, 3, 4]
    assert [log["blockNumber"] for log in of_b] == [3]
    assert [log["blockNumber"] for log in late] == [3, 4]


def test_a_call_at_an_old_block_is_refused_not_answered_from_the_new_state() -> None:
    chain = EmbeddedChain(accounts=1, start_time=START)
    key = embedded_keys(1)[0]
    counter = send(chain.w3, signed(key, 0, None, COUNTER_INIT))["contractAddress"]
    send(chain.w3, signed(key, 1, counter, bytes(32)))
    with pytest.raises(Web3RPCError, match="newest block only"):
        chain.w3.eth.call({"to": counter, "data": "0x"}, 1)


def test_block_time_runs_one_second_a_block_and_travels_forward_only() -> None:
    chain = EmbeddedChain(accounts=1, start_time=START)
    key = embedded_keys(1)[0]
    send(chain.w3, signed(key, 0, None, COUNTER_INIT))
    assert chain.w3.eth.get_block("latest")["timestamp"] == START + 1
    chain.time_travel(100)
    assert chain.now() == START + 102
    chain.mine_blocks(1)
    assert chain.w3.eth.get_block("latest")["timestamp"] == START + 102
    with pytest.raises(Exception, match="cannot move the clock back"):
        chain.advance_to(START + 50)


def test_a_web3_with_all_its_default_layers_reads_the_ledger_too() -> None:
    """The client's raw reads (views, logs) go to the provider, past any middleware: a Web3 made
    with web3's defaults (ENS names, validation, ...), as a caller may pass one, reads the same."""
    from learnledger.ledger.client import ContractLedger

    exp = embedded_experiment(3, outsiders=0, start_time=START)
    plain = Web3(exp.chain.w3.provider)
    assert len(plain.middleware_onion) > len(exp.chain.w3.middleware_onion)
    ledger = ContractLedger(plain, exp.deployment, exp.chain.accounts[0][1])
    proposer = exp.ledger(ledger.proposer_of(1))
    proposer.propose(1, bytes([9]) * 32, "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi")
    (record,) = ledger.history()
    assert record.proposal is not None and record.proposal.digest == bytes([9]) * 32
    assert ledger.status().round == 1

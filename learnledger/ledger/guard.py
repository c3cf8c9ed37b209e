"""Wrong-chain safety: before acting, check that the node serves the chain the deployment record
names and that the contract there is the one this version of LearnLedger was built from.

A record made on one chain and used against another (a devnet's record against the consortium, a
node of another network, a chain reset since) would otherwise send transactions that do nothing or,
worse, something else. The checks are two reads: the chain id, and the code at the address, which
must equal the artifact's runtime code except in the immutables (constructor-set words that the
artifact leaves as zeros)."""

from __future__ import annotations

import hashlib
import time

from web3 import Web3

from learnledger.ledger.api import LedgerError
from learnledger.ledger.transport import without_credentials


class WrongChainError(LedgerError):
    """The node is on another chain than the deployment record, or the contract there is not ours."""


SYNC_STALL_S = 10.0
"""A node behind the deployment block is waited for while its head moves; this long without a new
block, and the checks go ahead (and say what is missing)."""


def wait_until_reached(w3: Web3, block: int, poll_s: float = 0.2) -> int:
    """Wait while the node's newest block is before ``block`` and still moving; its newest block.

    A consortium's peers receive a block moments after its signer seals it, and an agent started
    right after the deployment, on another lab's node, may ask before the block has arrived."""
    head, moved = int(w3.eth.block_number), time.monotonic()
    while head < block and time.monotonic() - moved < SYNC_STALL_S:
        time.sleep(poll_s)
        now = int(w3.eth.block_number)
        if now != head:
            head, moved = now, time.monotonic()
    return head


def node_name(w3: Web3) -> str:
    """The node as messages name it: its URL without any password in it, or its provider's kind."""
    uri = getattr(w3.provider, "endpoint_uri", None)
    return without_credentials(str(uri)) if uri else type(w3.provider).__name__


def check_chain(w3: Web3, chain_id: int, record: str = "the deployment record") -> None:
    """Refuse a node whose chain id is not ``chain_id``, naming both."""
    actual = int(w3.eth.chain_id)
    if actual != int(chain_id):
        raise WrongChainError(
            f"wrong chain: the node at {node_name(w3)} serves chain id {actual}, but {record} was made "
            f"on chain id {chain_id}; connect to a node of chain {chain_id} (--rpc), or use the "
            f"deployment record of chain {actual}")


def code_matches(on_chain: bytes, artifact_code: bytes) -> bool:
    """Whether deployed ``on_chain`` code is ``artifact_code`` with its immutables filled in: same
    length, and every differing byte lies where the artifact holds a zero (an immutable's slot)."""
    if len(on_chain) != len(artifact_code):
        return False
    return all(a == b or b == 0 for a, b in zip(on_chain, artifact_code))


def check_contract(w3: Web3, address: str, deployed_bytecode: str, chain_id: int,
                   record: str = "the deployment record", name: str = "the experiment's contract",
                   deployed_at: int | None = None) -> None:
    """Refuse when the chain is not ``chain_id`` or the code at ``address`` is not the artifact's.
    With ``deployed_at`` (the record's block), a node still catching up to it is waited for."""
    check_chain(w3, chain_id, record)
    head = None if deployed_at is None else wait_until_reached(w3, deployed_at)
    code = bytes(w3.eth.get_code(Web3.to_checksum_address(address)))
    if not code:
        behind = (f" (its newest block is {head}, before block {deployed_at} where {record} says it was "
                  f"deployed, and it stopped moving)" if head is not None and head < deployed_at else "")
        raise WrongChainError(
            f"no contract at {address} on chain {chain_id} (node {node_name(w3)}{behind}), where {record} says "
            f"{name} lives: the chain was reset (a devnet restarted without its --state: start the devnet "
            "with the --state file it was deployed on), the node has not synced that far, or the record "
            "is of another chain; use the right record or node")
    expected = bytes.fromhex(deployed_bytecode.removeprefix("0x"))
    if not code_matches(code, expected):
        raise WrongChainError(
            f"the code at {address} on chain {chain_id} (sha256 {_digest(code)}, {len(code)} bytes) is not "
            f"{name} of this LearnLedger (sha256 {_digest(expected)} with immutables, {len(expected)} "
            f"bytes): {record} points at another contract, or was made by another version")


def check_funded(w3: Web3, account: str, what: str = "this member") -> None:
    """Refuse an account with no ether: it could not pay for a single vote."""
    if int(w3.eth.get_balance(Web3.to_checksum_address(account))) == 0:
        raise LedgerError(
            f"{what}'s account {account} holds no ether on chain {w3.eth.chain_id}, so it cannot pay for "
            "its transactions: fund it (on a consortium, list it with `learnledger consortium up --fund`, "
            "which writes it into the genesis; or send it ether from a funded account)")


def _digest(code: bytes) -> str:
    return hashlib.sha256(code).hexdigest()[:16]

"""Wrong-chain safety: before acting, check that the node serves the chain the deployment record
names and that the contract there is the one this version of LearnLedger was built from.

A record made on one chain and used against another (a devnet's record against the consortium, a
node of another network, a chain reset since) would otherwise send transactions that do nothing or,
worse, something else. The checks are two reads: the chain id, and the code at the address, which
must equal the artifact's runtime code except in the immutables (constructor-set words that the
artifact leaves as zeros)."""

from __future__ import annotations

import hashlib

from web3 import Web3

from learnledger.ledger.api import LedgerError


class WrongChainError(LedgerError):
    """The node is on another chain than the deployment record, or the contract there is not ours."""


def node_name(w3: Web3) -> str:
    return str(getattr(w3.provider, "endpoint_uri", None) or type(w3.provider).__name__)


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
                   record: str = "the deployment record", name: str = "the experiment's contract") -> None:
    """Refuse when the chain is not ``chain_id`` or the code at ``address`` is not the artifact's."""
    check_chain(w3, chain_id, record)
    code = bytes(w3.eth.get_code(Web3.to_checksum_address(address)))
    if not code:
        raise WrongChainError(
            f"no contract at {address} on chain {chain_id} (node {node_name(w3)}), where {record} says "
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

"""Deploy one experiment's contract and describe where it lives."""

from __future__ import annotations

from typing import Any

from eth_abi import encode as abi_encode
from web3 import Web3

from learnledger.ledger.artifact import ContractArtifact, load_artifact
from learnledger.ledger.errors import RevertDecoder
from learnledger.ledger.params import Deployment, ExperimentParams
from learnledger.ledger.transact import Transactor


def deploy(w3: Web3, key: str, params: ExperimentParams, rpc_url: str | None = None) -> Deployment:
    """Deploy the contract with ``params``, sent from ``key``'s account.

    A roster or setting the contract refuses raises ContractRevert naming the problem (for example
    ``ExperimentMemberDuplicate(index, member)``) before anything is sent.
    """
    receipt = deploy_artifact(w3, key, load_artifact(), params.constructor_args())
    return Deployment(**where_deployed(w3, receipt, rpc_url), params=params)


def deploy_artifact(w3: Web3, key: str, artifact: ContractArtifact, args: tuple[Any, ...]) -> dict[str, Any]:
    """Send ``artifact``'s creation code with constructor ``args`` from ``key``; return the receipt.

    The deployment is simulated first, so a constructor refusal raises ContractRevert with the
    contract's custom error before anything is sent.
    """
    sender = Transactor(w3, key, RevertDecoder(artifact.abi))
    (constructor,) = (entry for entry in artifact.abi if entry["type"] == "constructor")
    types = [param["type"] for param in constructor["inputs"]]
    return sender.send(None, artifact.bytecode + abi_encode(types, args).hex())


def where_deployed(w3: Web3, receipt: dict[str, Any], rpc_url: str | None) -> dict[str, Any]:
    """A deployment record's location fields, from its creation receipt: address, chain, block, tx."""
    return {
        "address": Web3.to_checksum_address(receipt["contractAddress"]),
        "chain_id": w3.eth.chain_id,
        "block": int(receipt["blockNumber"]),
        "rpc_url": rpc_url,
        "tx_hash": "0x" + bytes(receipt["transactionHash"]).hex(),
    }

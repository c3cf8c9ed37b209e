"""A line of experiments: each a deployment that took the one before over by succession.

From any contract of a line, ``predecessor()`` leads back to the first and ``successor()`` forward
to the last. Here: rebuilding a deployment record from the chain alone (an address is all a
successor names), the terms a successor takes over from its predecessor, and the checks the CLI
runs before it sends a ``proposeSuccessor`` (the contract's own, in words).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from web3 import Web3

from learnledger.ledger.api import LedgerError
from learnledger.ledger.artifact import load_artifact
from learnledger.ledger.guard import check_contract
from learnledger.ledger.params import ZERO_ADDRESS, Deployment, ExperimentParams

MAX_LINE = 1000
"""A line longer than this is taken for a cycle (a contract cannot name a later one, but a
chain's history could be forged by a node; the walk stops rather than loop)."""


def deployment_at(w3: Web3, address: str, rpc_url: str | None = None) -> Deployment:
    """The deployment record of the experiment at ``address``, rebuilt from the chain alone: its
    code must be this artifact's, its terms come from ``ExperimentCreated`` and the roster from
    ``MemberRegistered``.

    Raises:
        LedgerError: no contract of this artifact at ``address``, or no creation event.
    """
    if not Web3.is_address(address):
        raise LedgerError(f"not an address: {address!r}; expected 0x and 40 hex digits")
    address = Web3.to_checksum_address(address)
    artifact = load_artifact()
    check_contract(w3, address, artifact.deployed_bytecode, int(w3.eth.chain_id))
    contract = w3.eth.contract(address=address, abi=artifact.abi)
    created = contract.events.ExperimentCreated.get_logs(from_block=0)
    if not created:
        raise LedgerError(f"the contract at {address} has no ExperimentCreated event on this node; "
                          "is its history pruned?")
    event = created[0]
    block = int(event["blockNumber"])
    registered = sorted(contract.events.MemberRegistered.get_logs(from_block=block, to_block=block),
                        key=lambda log: int(log["args"]["index"]))
    terms = event["args"]
    params = ExperimentParams(
        members=tuple(Web3.to_checksum_address(log["args"]["member"]) for log in registered),
        group_names=tuple(str(log["args"]["groupName"]) for log in registered),
        spec_digest=bytes(terms["specDigest"]),
        spec_cid=str(terms["specCid"]),
        initial_digest=bytes(terms["initialDigest"]),
        initial_cid=str(terms["initialCid"]),
        threshold_bps=int(terms["thresholdBps"]),
        proposal_window=int(terms["proposalWindow"]),
        vote_window=int(terms["voteWindow"]),
        max_rounds=int(terms["maxRounds"]),
        reveal_window=int(contract.functions.revealWindow().call()),
        predecessor=Web3.to_checksum_address(contract.functions.predecessor().call()),
    )
    return Deployment(address=address, chain_id=int(w3.eth.chain_id), block=block, rpc_url=rpc_url,
                      params=params, tx_hash="0x" + bytes(event["transactionHash"]).hex())


def successor_ledger(w3: Web3, address: str, key: str, rpc_url: str | None = None) -> tuple[Any, str]:
    """A member's way into the successor at ``address`` (an agent following its experiment there):
    its ledger client with this member's ``key``, and the CID of its initial weights.

    Raises:
        LedgerError: no experiment of this artifact at ``address``.
    """
    from learnledger.ledger.client import ContractLedger

    record = deployment_at(w3, address, rpc_url)
    return ContractLedger(w3, record, key), record.params.initial_cid


def model_cid(w3: Web3, deployment: Deployment) -> tuple[bytes, int, str]:
    """The shared model of ``deployment`` now: its digest, the round that set it, and its CID."""
    contract = w3.eth.contract(address=deployment.address, abi=load_artifact().abi)
    digest, round_ = contract.functions.currentModel().call(block_identifier="pending")
    if int(round_) == 0:
        return bytes(digest), 0, deployment.params.initial_cid
    proposals = contract.events.WeightsProposed.get_logs(
        from_block=deployment.block, argument_filters={"round": int(round_)})
    if not proposals:
        raise LedgerError(f"round {int(round_)}'s proposal event is missing on this node")
    return bytes(digest), int(round_), str(proposals[-1]["args"]["cid"])


def successor_params(w3: Web3, predecessor: Deployment, members: tuple[str, ...],
                     group_names: tuple[str, ...]) -> ExperimentParams:
    """The terms of a successor to ``predecessor``: the same rules and model spec, the roster
    given, the predecessor's shared model (digest and CID) as initial weights, and the
    predecessor named as such."""
    digest, _, cid = model_cid(w3, predecessor)
    return replace(predecessor.params, members=tuple(members), group_names=tuple(group_names),
                   initial_digest=digest, initial_cid=cid, predecessor=predecessor.address)


def successor_problem(w3: Web3, predecessor: Deployment, successor: str) -> str | None:
    """What the contract would refuse about ``successor`` as ``predecessor``'s successor, in words
    (None if nothing): the checks of ``proposeSuccessor``, run before any transaction."""
    if not Web3.is_address(successor):
        return f"{successor!r} is not an address; expected 0x and 40 hex digits"
    successor = Web3.to_checksum_address(successor)
    if not w3.eth.get_code(successor):
        return (f"no contract at {successor}: deploy the successor first with "
                f"`learnledger deploy --successor-of {predecessor.address}`")
    views = _views_of(w3, successor)
    if views is None:
        return f"the contract at {successor} is not an experiment (it does not answer predecessor(), " \
               "initialDigest() and memberCount())"
    named, initial, count = views
    if named != predecessor.address:
        return (f"the successor at {successor} names {named} as its predecessor, not this experiment "
                f"{predecessor.address}; deploy it with --successor-of {predecessor.address}")
    digest, round_, _ = model_cid(w3, predecessor)
    if initial != digest:
        return (f"the successor at {successor} starts from weights 0x{initial.hex()}, but this "
                f"experiment's shared model (round {round_}) is 0x{digest.hex()}; deploy it again with "
                f"--successor-of {predecessor.address}")
    if count == 0:
        return f"the successor at {successor} has an empty roster"
    return None


def _views_of(w3: Web3, address: str) -> tuple[str, bytes, int] | None:
    contract = w3.eth.contract(address=address, abi=load_artifact().abi)
    try:
        return (Web3.to_checksum_address(contract.functions.predecessor().call()),
                bytes(contract.functions.initialDigest().call()),
                int(contract.functions.memberCount().call()))
    except Exception:  # any failure to answer: not an experiment
        return None


def line_of(w3: Web3, address: str, rpc_url: str | None = None) -> list[Deployment]:
    """Every experiment of the line ``address`` belongs to, first to last (by predecessor() back,
    then successor() forward), each rebuilt with ``deployment_at``."""
    here = deployment_at(w3, address, rpc_url)
    line = [here]
    while line[0].params.predecessor != ZERO_ADDRESS:
        line.insert(0, deployment_at(w3, line[0].params.predecessor, rpc_url))
        _bounded(line)
    while (following := _successor_of(w3, line[-1])) is not None:
        line.append(deployment_at(w3, following, rpc_url))
        _bounded(line)
    return line


def _successor_of(w3: Web3, deployment: Deployment) -> str | None:
    contract = w3.eth.contract(address=deployment.address, abi=load_artifact().abi)
    found: Any = contract.functions.successor().call()
    return None if int(found, 16) == 0 else Web3.to_checksum_address(found)


def _bounded(line: list[Deployment]) -> None:
    if len(line) > MAX_LINE or len({d.address for d in line}) != len(line):
        raise LedgerError(f"the line of experiments through {line[-1].address} loops or exceeds "
                          f"{MAX_LINE} experiments")

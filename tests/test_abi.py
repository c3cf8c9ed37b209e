"""The ledger's own ABI tables against web3's contract layer, which they replace on the hot path:
the same calldata, the same decoded results, the same decoded events, on the real contract."""

from __future__ import annotations

from typing import Any

import pytest
from web3._utils.events import get_event_data

from learnledger.ledger.abi import EventTable, FunctionTable
from learnledger.ledger.artifact import load_artifact
from learnledger.ledger.sandbox import embedded_experiment

START = 4_000_000_000
CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"


@pytest.fixture(scope="module")
def played() -> Any:
    """Three members, one accepted round and a second one proposed: every kind of round event."""
    exp = embedded_experiment(3, outsiders=0, start_time=START)
    reader = exp.ledger(exp.members[0])
    proposer = exp.ledger(reader.proposer_of(1))
    proposer.propose(1, bytes([7]) * 32, CID)
    for member in exp.members:
        if member != proposer.account:
            exp.ledger(member).vote(1, True, 910_000, 905_000)
    exp.ledger(reader.proposer_of(2)).propose(2, bytes([8]) * 32, CID)
    return exp


def views_with_arguments(exp: Any) -> list[tuple[str, tuple[Any, ...]]]:
    member = exp.members[1]
    calls: list[tuple[str, tuple[Any, ...]]] = []
    for entry in load_artifact().abi:
        if entry.get("type") != "function" or entry["stateMutability"] not in ("view", "pure"):
            continue
        args = []
        for param in entry["inputs"]:
            args.append({"address": member, "uint256": 1, "uint64": 1, "bool": True}.get(param["type"]))
        if None not in args:
            calls.append((entry["name"], tuple(args)))
    return calls


def test_every_view_reads_and_encodes_as_web3_does(played: Any) -> None:
    exp = played
    table = FunctionTable(load_artifact().abi)
    contract = exp.ledger(exp.members[0]).contract
    calls = views_with_arguments(exp)
    assert len(calls) >= 15  # the comparison covers the contract's views, structs and arrays included
    for name, args in calls:
        function = getattr(contract.functions, name)(*args)
        assert table.encode(name, args) == bytes.fromhex(contract.encode_abi(name, list(args))[2:]), name
        raw = bytes(exp.chain.w3.eth.call({"to": contract.address, "data": table.encode(name, args)}, "pending"))
        expected = function.call(block_identifier="pending")
        got = table.decode(name, raw)
        assert (list(got) if isinstance(got, tuple) else got) == (list(expected) if isinstance(expected, tuple) else expected), name


def test_every_event_decodes_as_web3_decodes_it(played: Any) -> None:
    exp = played
    abi = load_artifact().abi
    table = EventTable(abi)
    entries = {table.topic(e["name"]): e for e in abi if e.get("type") == "event"}
    logs = exp.chain.w3.eth.get_logs({"address": exp.deployment.address, "fromBlock": 0})
    names = set()
    for log in logs:
        name, args = table.decode([bytes(t) for t in log["topics"]], bytes(log["data"]))
        expected = get_event_data(exp.chain.w3.codec, entries["0x" + bytes(log["topics"][0]).hex()], log)
        assert (name, args) == (expected["event"], dict(expected["args"]))
        names.add(name)
    assert {"MemberRegistered", "RoundOpened", "WeightsProposed", "VoteCast", "RoundFinalized"} <= names


def test_a_wrong_call_is_named() -> None:
    table = FunctionTable(load_artifact().abi)
    with pytest.raises(AttributeError, match="no function 'nosuch'"):
        table.encode("nosuch", ())
    with pytest.raises(TypeError, match="takes 1 argument"):
        table.encode("roundState", ())

"""When each round happened on the chain, in blocks: opened, proposed, every vote, finalized.

For measuring a chain with block times (``scripts/bench_blocks.py``): how many blocks and seconds a
round spends on the chain itself, apart from the learners' training and scoring."""

from __future__ import annotations

from dataclasses import dataclass, field

from web3 import Web3
from web3._utils.events import get_event_data

from learnledger.ledger.client import ContractLedger


@dataclass
class RoundTimeline:
    """The blocks (and their timestamps) of one round's events."""

    round: int
    opened: tuple[int, int] | None = None
    proposed: tuple[int, int] | None = None
    votes: list[tuple[int, int]] = field(default_factory=list)
    finalized: tuple[int, int] | None = None


def round_timelines(ledger: ContractLedger) -> list[RoundTimeline]:
    """Every round's (block, timestamp) of opening, proposal, votes and finalization, from the logs."""
    w3: Web3 = ledger.w3
    events = {e["name"]: e for e in ledger.contract.abi if e.get("type") == "event"}
    names = ("RoundOpened", "WeightsProposed", "VoteCast", "RoundFinalized")
    by_topic = {}
    for name in names:
        types = ",".join(i["type"] for i in events[name]["inputs"])
        by_topic[bytes(Web3.keccak(text=f"{name}({types})"))] = events[name]
    logs = w3.eth.get_logs({"address": ledger.deployment.address, "fromBlock": ledger.deployment.block,
                            "toBlock": "latest", "topics": [["0x" + t.hex() for t in by_topic]]})
    stamps: dict[int, int] = {}
    rounds: dict[int, RoundTimeline] = {}
    for log in logs:
        entry = by_topic[bytes(log["topics"][0])]
        args = get_event_data(w3.codec, entry, log)["args"]
        number = int(log["blockNumber"])
        if number not in stamps:
            stamps[number] = int(w3.eth.get_block(number)["timestamp"])
        at = (number, stamps[number])
        timeline = rounds.setdefault(int(args["round"]), RoundTimeline(int(args["round"])))
        if entry["name"] == "RoundOpened":
            timeline.opened = at
        elif entry["name"] == "WeightsProposed":
            timeline.proposed = at
        elif entry["name"] == "VoteCast":
            timeline.votes.append(at)
        else:
            timeline.finalized = at
    return [rounds[k] for k in sorted(rounds)]

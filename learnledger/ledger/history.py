"""The rounds of an experiment, rebuilt from the contract's events alone.

Events are read with ``eth_getLogs`` in chunks of blocks from the deployment block on (public
nodes cap a query's block range), then folded round by round.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from web3 import Web3
from web3.exceptions import Web3RPCError

from learnledger.ledger.abi import EventTable
from learnledger.ledger.api import Proposal, RoundRecord, RoundState, Vote
from learnledger.ledger.chain import data_bytes, raw_request

LOG_CHUNK_BLOCKS = 5_000
"""Blocks per eth_getLogs query; public RPC endpoints refuse much larger ranges."""

ROUND_EVENTS = ("RoundOpened", "WeightsProposed", "VoteCast", "RoundFinalized")


@dataclass
class _RoundFold:
    """A round's events gathered so far."""

    round: int
    proposer: str
    proposal: Proposal | None = None
    votes: list[Vote] = field(default_factory=list)
    outcome: RoundState | None = None
    approvals: int = 0
    rejections: int = 0
    model_digest: bytes | None = None


class EventReader:
    """Reads the contract's events: raw ``eth_getLogs`` requests, decoded by topic (``abi.EventTable``;
    web3's own formatting and decoding of each log cost more than the embedded node's answer)."""

    def __init__(self, w3: Web3, address: str, abi: list[dict[str, Any]]) -> None:
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        self._events = EventTable(abi)

    def topic(self, name: str) -> str:
        return self._events.topic(name)

    def logs(
        self,
        from_block: int,
        names: tuple[str, ...],
        extra_topics: list[Any] | None = None,
        to_block: int | None = None,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(event name, decoded args) for each matching log from ``from_block`` to ``to_block``
        (default: the latest block)."""
        latest = self.w3.eth.block_number if to_block is None else to_block
        topics: list[Any] = [[self.topic(n) for n in names], *(extra_topics or [])]
        start = from_block
        while start <= latest:
            end = min(start + LOG_CHUNK_BLOCKS - 1, latest)
            raw = raw_request(self.w3, "eth_getLogs", [
                {"address": self.address, "fromBlock": hex(start), "toBlock": hex(end), "topics": topics}])
            yield from map(self._decoded, raw)
            start = end + 1

    def logs_of_block(self, block_hash: str, names: tuple[str, ...]) -> list[tuple[str, dict[str, Any]]]:
        """The matching logs of the one block with hash ``block_hash`` (EIP-234): exactly that block's,
        even if the chain reorganised since; an error if the node no longer knows it."""
        raw = raw_request(self.w3, "eth_getLogs", [
            {"address": self.address, "blockHash": block_hash, "topics": [[self.topic(n) for n in names]]}])
        return [self._decoded(log) for log in raw]

    def _decoded(self, log: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return self._events.decode([data_bytes(t) for t in log["topics"]], data_bytes(log["data"]))


class RoundEventLog:
    """The round events seen so far, read incrementally: each refresh fetches only new blocks.

    A node's filter scans every block in the range it is given (the embedded node scans every log
    after the range's start), so re-reading from the deployment block at each step made an
    experiment's chain time grow with the square of its length.

    On a node the log follows the chain by its hash links. When the new head's parent is the head
    read last, only the head's own logs are fetched, by its hash (two requests a refresh; every block
    below is the one already read, since a block's hash commits to its parent's). Otherwise, after a
    jump of several blocks or a reorganisation, the last ``rescan_blocks`` blocks are read again, so
    a short reorganisation of the tip is followed, not cached; a deeper one is caught by the hash of
    the last settled block: when the chain no longer holds that block, everything is read again from
    the deployment block (``reorgs`` counts these). The log never keeps an event that a
    reorganisation removed. The embedded chain has no reorganisations (``rescan_blocks=0``).

    Handles that share one connection to a node in one process share one log (``shared``): each
    new block is then read once, not once per handle.
    """

    RESCAN_BLOCKS = 12

    def __init__(self, reader: EventReader, from_block: int, rescan_blocks: int = RESCAN_BLOCKS) -> None:
        self._reader = reader
        self._rescan_blocks = rescan_blocks
        self._from_block = from_block
        self._settled: list[tuple[str, dict[str, Any]]] = []
        self._settled_to = from_block - 1
        self._settled_hash: bytes | None = None
        self._last_head: tuple[str, str] | None = None
        self._last_answer: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self.reorgs = 0

    @classmethod
    def shared(cls, reader: EventReader, from_block: int) -> RoundEventLog:
        """The log of ``reader``'s contract on ``reader``'s connection to a node, one per process."""
        provider = reader.w3.provider
        logs: dict[tuple[str, int], RoundEventLog] | None = getattr(provider, SHARED_LOGS_ATTRIBUTE, None)
        if logs is None:  # kept on the connection, so the logs go with it
            logs = {}
            setattr(provider, SHARED_LOGS_ATTRIBUTE, logs)
        key = (reader.address, from_block)
        if key not in logs:
            logs[key] = cls(reader, from_block)
        return logs[key]

    def refresh(self) -> list[tuple[str, dict[str, Any]]]:
        """Every round event from the deployment block to the latest block, in chain order, as the
        chain holds them now."""
        return self.read()[1]

    def read(self) -> tuple[int, list[tuple[str, dict[str, Any]]]]:
        """The latest block's number and ``refresh``'s events up to it. Asked again while the
        chain's head is the same block (number and hash: a reorganisation changes the hash), the
        answer is the last one."""
        with self._lock:
            if not self._rescan_blocks:
                latest = int(self._reader.w3.eth.block_number)
                return latest, self._read(latest)
            head = raw_request(self._reader.w3, "eth_getBlockByNumber", ["latest", False])
            key = (head["number"], head["hash"])
            if key != self._last_head:
                extended = self._last_head is not None and head["parentHash"] == self._last_head[1]
                answer = self._extend(head["hash"]) if extended else None
                self._last_answer = self._read(int(head["number"], 16)) if answer is None else answer
                self._last_head = key
            return int(key[0], 16), list(self._last_answer)

    def _extend(self, head_hash: str) -> list[tuple[str, dict[str, Any]]] | None:
        """The last answer and the logs of the block on top of it; None if that block is gone already."""
        try:
            return self._last_answer + self._reader.logs_of_block(head_hash, ROUND_EVENTS)
        except Web3RPCError:  # reorganised away since the head was read: read the tip again
            return None

    def _read(self, latest: int) -> list[tuple[str, dict[str, Any]]]:
        if latest < self._settled_to:  # the chain went back below what was settled (a snapshot reverted)
            self._settled, self._settled_to, self._settled_hash = [], self._from_block - 1, None
        if self._rescan_blocks and self._settled_hash is not None and self._block_hash(self._settled_to) != self._settled_hash:
            self._settled, self._settled_to, self._settled_hash = [], self._from_block - 1, None
            self.reorgs += 1
        settle_to = max(self._settled_to, latest - self._rescan_blocks)
        if settle_to > self._settled_to:
            self._settled += self._reader.logs(self._settled_to + 1, ROUND_EVENTS, to_block=settle_to)
            self._settled_to = settle_to
            if self._rescan_blocks:
                self._settled_hash = self._block_hash(settle_to)
        return self._settled + list(self._reader.logs(self._settled_to + 1, ROUND_EVENTS, to_block=latest))

    def _block_hash(self, number: int) -> bytes | None:
        try:
            block = raw_request(self._reader.w3, "eth_getBlockByNumber", [hex(number), False])
            return bytes.fromhex(block["hash"][2:])
        except Exception:  # the block is gone (a rollback below it): not the block we settled
            return None


SHARED_LOGS_ATTRIBUTE = "learnledger_round_event_logs"
"""Where ``RoundEventLog.shared`` keeps a connection's logs: on its provider."""


def fold_history(
    events: Iterator[tuple[str, dict[str, Any]]],
    initial_digest: bytes,
    state_of: Callable[[int], RoundState],
) -> list[RoundRecord]:
    """Round records from events in chain order; ``state_of`` names the state of unfinished rounds."""
    rounds: dict[int, _RoundFold] = {}
    for name, args in events:
        number = int(args["round"])
        if name == "RoundOpened":
            rounds[number] = _RoundFold(number, args["proposer"])
            continue
        fold = rounds[number]
        if name == "WeightsProposed":
            fold.proposal = Proposal(number, args["proposer"], bytes(args["digest"]), args["cid"])
        elif name == "VoteCast":
            vote = Vote(number, args["voter"], args["approve"], args["voteScore"], args["testScore"])
            fold.votes.append(vote)
        elif name == "RoundFinalized":
            fold.outcome = RoundState(args["outcome"])
            fold.approvals = int(args["approvals"])
            fold.rejections = int(args["rejections"])
            fold.model_digest = bytes(args["modelDigest"])

    records = []
    model = initial_digest
    for number in sorted(rounds):
        fold = rounds[number]
        if fold.outcome is None:
            state = state_of(number)
            approvals = sum(v.approve for v in fold.votes)
            rejections = len(fold.votes) - approvals
        else:
            state, approvals, rejections = fold.outcome, fold.approvals, fold.rejections
            model = fold.model_digest or model
        records.append(
            RoundRecord(
                round=number,
                proposer=fold.proposer,
                state=state,
                proposal=fold.proposal,
                votes=tuple(fold.votes),
                approvals=approvals,
                rejections=rejections,
                model_digest=model,
            )
        )
    return records

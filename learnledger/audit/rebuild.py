"""Rounds rebuilt from the events alone, keeping every event (and where it sits) for the checks.

Unlike ``learnledger.ledger.history.fold_history``, which trusts the record to be well formed, this
fold expects nothing: a second opening, a vote in a round never opened, a duplicate finalization
are kept as anomalies for the checks to report, never silently overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eth_utils import to_checksum_address

from learnledger.audit.fetch import ChainEvent
from learnledger.audit.findings import Finding
from learnledger.ledger.api import Member, Proposal, RoundRecord, RoundState, Vote


@dataclass(frozen=True)
class Place:
    """Where an action was recorded: its block and transaction."""

    block: int
    tx_hash: str


@dataclass
class RoundTrail:
    """One round as its events tell it."""

    round: int
    proposer: str
    opened: Place
    proposal_deadline: int
    proposal: Proposal | None = None
    proposed: Place | None = None
    votes: list[tuple[Vote, Place]] = field(default_factory=list)
    outcome: RoundState | None = None
    approvals: int = 0
    rejections: int = 0
    model_digest: bytes | None = None
    finalized: Place | None = None

    def record(self, model_before: bytes, state_if_open: RoundState) -> RoundRecord:
        """The round as a ``RoundRecord`` (the shape the reports share)."""
        if self.outcome is None:
            approvals = sum(v.approve for v, _ in self.votes)
            return RoundRecord(self.round, self.proposer, state_if_open, self.proposal,
                               tuple(v for v, _ in self.votes), approvals, len(self.votes) - approvals,
                               model_before)
        return RoundRecord(self.round, self.proposer, self.outcome, self.proposal,
                           tuple(v for v, _ in self.votes), self.approvals, self.rejections,
                           self.model_digest if self.model_digest is not None else model_before)


@dataclass
class Rebuilt:
    """The experiment as its events tell it: terms, roster, rounds, and events that did not fit."""

    terms: dict[str, Any] | None
    created: Place | None
    members: tuple[Member, ...]
    rounds: dict[int, RoundTrail]
    anomalies: list[Finding]
    events: list[ChainEvent]
    successions: list[ChainEvent] = field(default_factory=list)
    """The succession events (proposed, votes, decided), in chain order."""

    @property
    def handed_over(self) -> ChainEvent | None:
        """The accepted ``SuccessionDecided``: where this experiment handed over, if it did."""
        from learnledger.ledger.api import SuccessionState

        return next((e for e in self.successions if e.name == "SuccessionDecided"
                     and int(e.args["outcome"]) == SuccessionState.ACCEPTED), None)

    @property
    def groups(self) -> dict[str, str]:
        """Lower-case address -> group name."""
        return {m.address.lower(): m.group for m in self.members}

    def records(self, initial_digest: bytes, open_states: Mapping[int, RoundState]) -> list[RoundRecord]:
        """Every round as a RoundRecord, oldest first; ``open_states`` names unfinished rounds' states."""
        records = []
        model = initial_digest
        for number in sorted(self.rounds):
            trail = self.rounds[number]
            record = trail.record(model, open_states.get(number, RoundState.UNOPENED))
            model = record.model_digest
            records.append(record)
        return records


def rebuild(events: list[ChainEvent]) -> Rebuilt:
    """Fold events (in chain order) into the experiment they describe."""
    terms: dict[str, Any] | None = None
    created: Place | None = None
    members: dict[int, Member] = {}
    rounds: dict[int, RoundTrail] = {}
    anomalies: list[Finding] = []
    successions: list[ChainEvent] = []

    def anomaly(round: int, message: str) -> None:
        anomalies.append(Finding("events", round, message))

    for event in events:
        args, place = event.args, Place(event.block, event.tx_hash)
        if event.name == "ExperimentCreated":
            if terms is not None:
                anomaly(0, f"a second ExperimentCreated event in transaction {event.tx_hash}")
                continue
            terms = {key: bytes(value) if isinstance(value, (bytes, bytearray)) else value
                     for key, value in args.items()}
            created = place
        elif event.name == "VotesSealed":  # emitted right after ExperimentCreated, in sealed mode only
            if terms is None:
                anomaly(0, f"VotesSealed before any ExperimentCreated (transaction {event.tx_hash})")
                continue
            terms["revealWindow"] = int(args["revealWindow"])
        elif event.name == "MemberRegistered":
            index = int(args["index"])
            if index in members:
                anomaly(0, f"member index {index} registered twice (transaction {event.tx_hash})")
            members[index] = Member(index, to_checksum_address(args["member"]), str(args["groupName"]))
        elif event.name == "RoundOpened":
            number = int(args["round"])
            if number in rounds:
                anomaly(number, f"opened twice (transaction {event.tx_hash})")
                continue
            rounds[number] = RoundTrail(number, to_checksum_address(args["proposer"]), place,
                                        int(args["proposalDeadline"]))
        elif event.name.startswith("Succession"):
            successions.append(event)
        else:
            number = int(args["round"])
            trail = rounds.get(number)
            if trail is None:
                anomaly(number, f"{event.name} in transaction {event.tx_hash} for a round never opened "
                                "in the events read (was the block range cut short at its start?)")
                continue
            _fold_round_event(trail, event, place, anomaly)
    return Rebuilt(terms, created, tuple(members[i] for i in sorted(members)), rounds, anomalies, events,
                   successions)


def _fold_round_event(trail: RoundTrail, event: ChainEvent, place: Place, anomaly: Any) -> None:
    args, number = event.args, trail.round
    if trail.outcome is not None:
        anomaly(number, f"{event.name} in transaction {event.tx_hash} after the round was finalized")
        return
    if event.name == "WeightsProposed":
        if trail.proposal is not None:
            anomaly(number, f"a second proposal in transaction {event.tx_hash}")
            return
        trail.proposal = Proposal(number, to_checksum_address(args["proposer"]), bytes(args["digest"]),
                                  str(args["cid"]))
        trail.proposed = place
    elif event.name == "VoteCast":
        vote = Vote(number, to_checksum_address(args["voter"]), bool(args["approve"]),
                    int(args["voteScore"]), int(args["testScore"]))
        trail.votes.append((vote, place))
    elif event.name in ("VoteCommitted", "VoteRevealed"):
        pass  # a sealed vote counts once revealed, as its VoteCast; the replay checks both against the rules
    elif event.name == "RoundFinalized":
        trail.outcome = RoundState(int(args["outcome"]))
        trail.approvals = int(args["approvals"])
        trail.rejections = int(args["rejections"])
        trail.model_digest = bytes(args["modelDigest"])
        trail.finalized = place

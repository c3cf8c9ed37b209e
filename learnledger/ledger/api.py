"""The ledger seen from a learner: the round rules' vocabulary and the ``Ledger`` interface.

Two implementations share this interface and must agree on every state, outcome and refusal:
``learnledger.ledger.client.ContractLedger`` (the Solidity contract through web3, on the embedded chain, anvil
or any EVM chain) and ``learnledger.ledger.reference.ReferenceLedger`` (the same rules in plain
Python, no chain: the oracle of the differential tests and the no-chain baseline of the benchmarks).
Nothing here imports web3, so ``learnledger.agents`` can depend on this module alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol, runtime_checkable

SCORE_SCALE = 1_000_000
"""Scores go on-chain as int64 = metric * 1e6 (accuracy 0.9734 -> 973400)."""

NO_SCORE = -(2**63)
"""The score a voter sends for a proposal it could not score (bytes missing, corrupted, malformed).

It is int64's minimum, so no real metric can collide with it; reports show it as "not scored".
"""

DEFAULT_THRESHOLD_BPS = 5000
"""Accepted iff approvals * 10000 >= thresholdBps * (memberCount - 1): Colearn's majority rule."""


def to_score(metric: float) -> int:
    """Scale a metric to the contract's int64 score (rounded to the nearest unit)."""
    if metric != metric or metric in (float("inf"), float("-inf")):
        raise ValueError(f"a score must be a finite number, received: metric={metric!r}")
    return int(round(metric * SCORE_SCALE))


def from_score(score: int) -> float:
    """Undo ``to_score``."""
    return score / SCORE_SCALE


class RoundState(IntEnum):
    """Where a round stands, derived from stored fields and the clock in one place.

    The values mirror the Solidity enum ``RoundState`` of CollaborativeLearning.sol, in order.
    """

    UNOPENED = 0
    """Not opened yet (a later round), or beyond the experiment's last round."""
    PROPOSING = 1
    """Open; waiting for the proposer's weights, before the proposal deadline."""
    VOTING = 2
    """Weights proposed; votes open until every eligible member voted or the vote deadline passes."""
    PROPOSAL_EXPIRED = 3
    """The proposal deadline passed with no proposal: anyone may finalize, which skips the round."""
    VOTING_CLOSED = 4
    """The vote deadline passed with votes missing: anyone may finalize, which decides the round."""
    ACCEPTED = 5
    """Finalized: the proposed weights became the shared model."""
    REJECTED = 6
    """Finalized: too few approvals; the shared model is unchanged."""
    SKIPPED = 7
    """Finalized with no proposal; the shared model is unchanged."""
    REVEALING = 8
    """Sealed votes only: commits closed (the vote deadline passed, or every eligible member
    committed); the voters reveal until the reveal deadline."""

    @property
    def is_final(self) -> bool:
        return self in (RoundState.ACCEPTED, RoundState.REJECTED, RoundState.SKIPPED)

    @property
    def can_finalize(self) -> bool:
        return self in (RoundState.PROPOSAL_EXPIRED, RoundState.VOTING_CLOSED)


class SuccessionState(IntEnum):
    """Where the latest succession proposal stands (the Solidity enum ``SuccessionState``, in order)."""

    NONE = 0
    """No succession proposed yet."""
    VOTING = 1
    """Proposed; votes open until every eligible member voted or the vote deadline passes."""
    VOTING_CLOSED = 2
    """Every vote in, or the deadline passed: ``finalize_succession`` decides it between rounds."""
    ACCEPTED = 3
    """The successor is recorded; this experiment opens no more rounds."""
    REJECTED = 4
    """Too few approvals: nothing changed."""
    LAPSED = 5
    """Approved, but a round accepted meanwhile changed the shared model: nothing changed."""

    @property
    def is_pending(self) -> bool:
        return self in (SuccessionState.VOTING, SuccessionState.VOTING_CLOSED)


@dataclass(frozen=True)
class Succession:
    """The latest succession proposal: its state (``successionState()``) and what its events say."""

    state: SuccessionState
    number: int
    """Counts proposals from 1; 0 before the first."""
    successor: str | None
    proposer: str | None
    vote_deadline: int
    """The last second a vote is accepted (unix time)."""
    voters: tuple[str, ...]
    """Who voted on it, in order."""
    approvals: int
    rejections: int


@dataclass(frozen=True)
class Member:
    """A research group on the roster: its account and its human-readable group name."""

    index: int
    address: str
    group: str


@dataclass(frozen=True)
class Proposal:
    """Weights proposed in a round: sha256 ``digest`` (kept in contract storage) and ``cid`` (event)."""

    round: int
    proposer: str
    digest: bytes
    cid: str


@dataclass(frozen=True)
class Vote:
    """One member's vote with its scores (metric * 1e6) on its private vote set and test set."""

    round: int
    voter: str
    approve: bool
    vote_score: int
    test_score: int


@dataclass(frozen=True)
class RoundRecord:
    """A round as the history tells it: who proposed what, every vote, and how it ended."""

    round: int
    proposer: str
    state: RoundState
    proposal: Proposal | None
    votes: tuple[Vote, ...]
    approvals: int
    rejections: int
    model_digest: bytes
    """The shared model's digest after this round (unchanged unless the round was accepted)."""


@dataclass(frozen=True)
class SharedModel:
    """The current shared model: the digest of its weights and the round that set it (0 = initial)."""

    digest: bytes
    round: int


@dataclass(frozen=True)
class LedgerStatus:
    """What an agent reads before each step, in one look: the contract's ``statusOf(account)``."""

    round: int
    """The current round (past the last one once finished)."""
    state: RoundState
    proposer: str | None
    """The current round's proposer; None while it is not opened (after the last round)."""
    voted: bool
    """Whether the handle's account has voted in the current round (sealed votes: committed)."""
    finished: bool


class LedgerError(Exception):
    """Root of every error raised by a ledger: connection, transaction, or contract refusal."""


class AccountUnfunded(LedgerError):
    """The sending account holds no ether to pay for gas: waiting or retrying cannot help."""


class ContractRevert(LedgerError):
    """The round rules refused an action; ``name`` is the contract's custom error, ``args`` its data.

    The reference model raises the same names with the same arguments, so callers (and the
    differential tests) need not know which ledger they hold.
    """

    def __init__(self, name: str, args: tuple[object, ...] = (), hint: str = "") -> None:
        self.name = name
        self.args_ = tuple(args)
        rendered = f"{name}({', '.join(map(_render_arg, self.args_))})"
        super().__init__(f"the contract refused: {rendered}" + (f"; {hint}" if hint else ""))


def _render_arg(value: object) -> str:
    """An error argument as a person reads it: bytes as 0x-hex, not a Python bytes literal."""
    return "0x" + value.hex() if isinstance(value, (bytes, bytearray)) else str(value)


@runtime_checkable
class Ledger(Protocol):
    """One member's handle on an experiment: read the rules' state and act as ``account``."""

    @property
    def account(self) -> str:
        """The address this handle sends transactions from."""
        ...

    def members(self) -> tuple[Member, ...]: ...

    def status(self) -> LedgerStatus:
        """The current round, its state and proposer, whether ``account`` voted, and if finished."""
        ...

    def current_round(self) -> int:
        """The round now open (rounds count from 1); past the last round once the experiment ends."""
        ...

    def is_finished(self) -> bool:
        """True once the optional maximum number of rounds has been finalized."""
        ...

    def round_state(self, round: int) -> RoundState: ...

    def proposer_of(self, round: int) -> str:
        """The member drawn to propose in ``round`` (only known once the round is opened)."""
        ...

    def proposal(self, round: int) -> Proposal | None:
        """The weights proposed in ``round``, or None if none yet."""
        ...

    def current_model(self) -> SharedModel: ...

    def has_voted(self, round: int, voter: str) -> bool: ...

    def seconds_until_deadline(self, round: int) -> float | None:
        """Seconds until the open phase of ``round`` ends (None if it has no running deadline)."""
        ...

    def propose(self, round: int, digest: bytes, cid: str) -> None: ...

    def vote(self, round: int, approve: bool, vote_score: int, test_score: int) -> None: ...

    def reveal_window(self) -> int:
        """Seconds for reveals after the vote window; 0 = open votes (``vote``), else sealed
        votes (``commit_vote`` while VOTING, then ``reveal_vote`` while REVEALING)."""
        ...

    def commit_vote(self, round: int, approve: bool, vote_score: int, test_score: int, salt: bytes) -> None:
        """Seal a vote: send ``ledger.sealed.vote_commitment`` of it, made with the 32-byte ``salt``
        (keep the salt: without it the vote cannot be revealed, and counts as none)."""
        ...

    def reveal_vote(self, round: int, approve: bool, vote_score: int, test_score: int, salt: bytes) -> None:
        """Open the vote committed in ``round``: the same vote, scores and salt."""
        ...

    def commitment_of(self, round: int, voter: str) -> bytes:
        """What ``voter`` committed in ``round`` and has not revealed yet; 32 zero bytes if nothing."""
        ...

    def finalize(self, round: int) -> None: ...

    def history(self) -> list[RoundRecord]:
        """Every opened round, oldest first, rebuilt from the record (events, for the contract)."""
        ...

    def successor(self) -> str | None:
        """The experiment that took this one over by succession, or None."""
        ...

    def succession_state(self) -> SuccessionState:
        """Where the latest succession proposal stands (one read)."""
        ...

    def finalize_succession(self) -> None:
        """Decide the succession whose votes are in (VOTING_CLOSED), between rounds: anyone may."""
        ...

"""The agent: one research group's learner acting on the ledger, one step at a time.

The agent is *level-triggered*: each ``step()`` looks at the ledger as it is now and does the one
thing the rules ask of this member, if any (propose, vote, finalize). It keeps no state that the chain
and the store do not also hold; its caches (the shared model's bytes, scores already computed) are
rebuilt on demand, so an agent killed at any moment and started again simply catches up. The one
exception is a sealed vote (an experiment with a reveal window): its salt is secret until the
reveal, so it is kept in a file (``ballots.BallotBox``) before the commitment is sent, and a
restarted agent reveals from that file.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from learnledger.agents.ballots import BallotBox, SealedBallot, new_salt
from learnledger.ledger.api import (
    NO_SCORE,
    ContractRevert,
    Ledger,
    LedgerError,
    Proposal,
    RoundState,
    SharedModel,
    SuccessionState,
    to_score,
)
from learnledger.store.api import ContentNotFound, PinningStore, StoreError, WeightStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scores:
    """A model's metric on this learner's vote set and test set (higher or lower is better per spec)."""

    vote: float
    test: float


class ScoringLearner(Protocol):
    """What the agent needs from a learner (see ``learnledger.agents.learner.Learner``)."""

    group: str

    def train(self, start: bytes, round: int) -> bytes: ...

    def score(self, weights: bytes) -> Scores: ...

    def approves(self, candidate: Scores, current: Scores) -> bool: ...


class Action(str, Enum):
    """What one step did."""

    PROPOSED = "proposed"
    VOTED = "voted"
    COMMITTED = "committed"
    REVEALED = "revealed"
    FINALIZED = "finalized"
    WAITING = "waiting"
    SUCCESSION_DECIDED = "succession decided"
    """This member sent the decision of a succession whose votes were in (rounds wait for it)."""
    FOLLOWED = "followed"
    """The experiment was succeeded and this member is on the successor's roster: it moved there."""
    FINISHED = "finished"


@dataclass
class RoundLog:
    """This agent's own account of a round, written as one JSON line when its part is done."""

    round: int
    group: str
    role: str
    approve: bool | None = None
    vote_score: float | None = None
    test_score: float | None = None
    current_vote_score: float | None = None
    reason: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if v is not None and v != ""}


@dataclass(frozen=True)
class PinPolicy:
    """What a lab keeps on its own node, so that no accepted model depends on another lab.

    The agent pins the model spec and the initial weights, its own proposals (``put`` pins), and
    every accepted model, fetching it from the other labs' nodes if its own lacks it. Its own
    rejected proposals are unpinned once ``keep_rejected_rounds`` more rounds have been decided
    (0: at once), so a lab's node grows by about one model per accepted round.
    """

    keep_rejected_rounds: int = 2

    def __post_init__(self) -> None:
        if self.keep_rejected_rounds < 0:
            raise ValueError(f"keep_rejected_rounds must be >= 0, received: {self.keep_rejected_rounds}")


class Stopwatch:
    """Collects named wall-time spans, for the per-round timing split."""

    def __init__(self) -> None:
        self.spans: dict[str, float] = {}

    @contextmanager
    def time(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.spans[name] = self.spans.get(name, 0.0) + time.perf_counter() - start


class Agent:
    """One member's learner, ledger handle and store, driven by ``step()``.

    Args:
        learner: trains and scores weights on this group's private data.
        ledger: this member's handle on the experiment (it signs as the member).
        store: where weights are put and fetched by CID.
        initial_cid: the CID of the initial weights (emitted at deployment); round 0's model.
        on_round_log: called with this agent's ``RoundLog`` whenever its part in a round is done.
        pins: what to keep pinned on this agent's store (None: only what ``put`` pins).
        ballots: where this agent keeps its sealed votes until it reveals them; needed only in an
            experiment with sealed votes (None: it refuses to commit, saying so).
        open_successor: opens the experiment at an address as this member's ledger, with its
            initial weights' CID; with it, an agent whose experiment was succeeded follows to the
            successor when its account is on the new roster, and stops saying so when it is not
            (None: the agent stops where its experiment ends).
    """

    def __init__(
        self,
        learner: ScoringLearner,
        ledger: Ledger,
        store: WeightStore,
        initial_cid: str,
        on_round_log: Callable[[RoundLog], None] | None = None,
        pins: PinPolicy | None = None,
        ballots: BallotBox | None = None,
        open_successor: Callable[[str], tuple[Ledger, str]] | None = None,
    ) -> None:
        self.learner = learner
        self.ledger = ledger
        self.open_successor = open_successor
        self.left_line_at: str | None = None
        """The successor whose roster does not hold this member, where it stopped; None otherwise."""
        self.store = store
        self.initial_cid = initial_cid
        self.on_round_log = on_round_log or (lambda entry: None)
        self._model: tuple[SharedModel, bytes] | None = None
        self._scores: dict[bytes, Scores] = {}
        self._logged: set[int] = set()
        self.pins = pins
        self.ballots = ballots
        self._unrevealable: set[int] = set()
        """Rounds whose commitment this agent cannot reveal (no file kept): warned once."""
        self._initial_pinned = False
        self._tended = 0
        """Rounds up to this one are decided and their accepted model pinned (with ``pins``)."""
        self._rejected: dict[int, str] = {}
        """This agent's rejected proposals still pinned, by round."""

    @property
    def group(self) -> str:
        return self.learner.group

    # ------------------------------------------------------------------ the one entry point

    def step(self) -> Action:
        """Do the single next thing the rules ask of this member now, and say what it was."""
        status = self.ledger.status()
        if self.pins is not None:
            try:
                self._tend_pins(status.round)
            except StoreError as error:  # the round goes on; the pins are tended again next step
                log.warning("%s could not pin the models it keeps yet: %s", self.group, error)
        if status.finished:
            return self._follow_or_finish()
        if status.state.can_finalize:
            return self._finalize(status.round, status.state)
        if status.state is RoundState.UNOPENED and self.ledger.succession_state() is SuccessionState.VOTING_CLOSED:
            return self._decide_succession()  # the rounds wait for it: any member may send it
        mine = status.proposer is not None and status.proposer.lower() == self.ledger.account.lower()
        if status.state is RoundState.PROPOSING and mine:
            return self._propose(status.round)
        if status.state is RoundState.VOTING and not mine and not status.voted:
            return self._vote(status.round)
        if status.state is RoundState.REVEALING and not mine and status.voted:
            return self._reveal(status.round)
        return Action.WAITING

    def _follow_or_finish(self) -> Action:
        """At the end of an experiment: move to its successor if this member is on its roster."""
        successor = self.ledger.successor()
        if successor is None or self.open_successor is None or self.left_line_at is not None:
            return Action.FINISHED
        ledger, initial_cid = self.open_successor(successor)
        if self.ledger.account.lower() not in {m.address.lower() for m in ledger.members()}:
            self.left_line_at = successor
            log.warning("%s stops: the experiment was succeeded by %s, whose roster does not include this "
                        "member (%s); the line goes on without it", self.group, successor, self.ledger.account)
            return Action.FINISHED
        log.info("%s follows the experiment to its successor %s", self.group, successor)
        self.ledger = ledger
        self.initial_cid = initial_cid
        if self.ballots is not None:
            self.ballots = self.ballots.for_successor(successor)
        self._initial_pinned = False
        self._tended = 0
        self._rejected = {}
        self._logged = set()  # the successor numbers its rounds from 1 again
        self._unrevealable = set()
        return Action.FOLLOWED

    # ------------------------------------------------------------------ the three actions

    def _propose(self, round: int) -> Action:
        watch = Stopwatch()
        shared, start = self.shared_model()
        log.info("%s trains its proposal for round %d from round %d's model", self.group, round, shared.round)
        with watch.time("train"):
            weights = self.learner.train(start, round)
        digest = hashlib.sha256(weights).digest()
        with watch.time("store"):
            cid = self.store.put(weights)
        with watch.time("chain"):
            self.ledger.propose(round, digest, cid)
        log.info("%s proposed round %d: %s (trained from round %d's model)",
                 self.group, round, cid, shared.round)
        self._emit(RoundLog(round, self.group, "proposer", timings=watch.spans))
        return Action.PROPOSED

    def _vote(self, round: int) -> Action:
        sealed = self.ledger.reveal_window() != 0
        if sealed:
            kept = self._ballots().load(round)
            if kept is not None:  # kept, then stopped before the commitment was sent (or mined)
                return self._commit(kept)
        watch = Stopwatch()
        proposal = self.ledger.proposal(round)
        if proposal is None:  # the event is not visible yet on this node; try next step
            return Action.WAITING
        shared, current_bytes = self.shared_model()
        with watch.time("score"):
            current = self._scores_of(shared.digest, current_bytes)
        log.info("%s scores round %d's proposal %s", self.group, round, proposal.cid)
        candidate, reason = self._score_proposal(proposal, watch)
        approve = candidate is not None and self.learner.approves(candidate, current)
        vote_score = _chain_score(candidate.vote) if candidate else NO_SCORE
        test_score = _chain_score(candidate.test) if candidate else NO_SCORE
        with watch.time("chain"):
            if sealed:
                self._commit(SealedBallot(round, approve, vote_score, test_score, new_salt()), fresh=True)
            else:
                self.ledger.vote(round, approve, vote_score, test_score)
        if reason:
            log.warning("%s votes no on round %d: %s", self.group, round, reason)
        self._emit(RoundLog(
            round, self.group, "voter", approve=approve,
            vote_score=candidate.vote if candidate else None,
            test_score=candidate.test if candidate else None,
            current_vote_score=current.vote, reason=reason, timings=watch.spans,
        ))
        return Action.COMMITTED if sealed else Action.VOTED

    def _commit(self, ballot: SealedBallot, fresh: bool = False) -> Action:
        """Seal ``ballot``: kept on disk first (a ``fresh`` one), then its commitment sent."""
        if fresh:
            path = self._ballots().keep(ballot)
            log.info("%s keeps its sealed vote of round %d in %s", self.group, ballot.round, path)
        self.ledger.commit_vote(ballot.round, ballot.approve, ballot.vote_score, ballot.test_score, ballot.salt)
        log.info("%s committed its sealed vote in round %d", self.group, ballot.round)
        return Action.COMMITTED

    def _reveal(self, round: int) -> Action:
        """Open this agent's commitment of ``round`` from its kept ballot, once."""
        if round in self._unrevealable or self.ledger.commitment_of(round, self.ledger.account) == bytes(32):
            return Action.WAITING  # revealed already (or nothing to reveal)
        ballot = self._ballots().load(round)
        if ballot is None:
            self._unrevealable.add(round)
            log.warning("%s committed in round %d but kept no sealed vote in %s: its vote cannot be "
                        "revealed and counts as none", self.group, round, self._ballots().path(round))
            return Action.WAITING
        self.ledger.reveal_vote(round, ballot.approve, ballot.vote_score, ballot.test_score, ballot.salt)
        log.info("%s revealed its vote in round %d (%s)", self.group, round, "yes" if ballot.approve else "no")
        return Action.REVEALED

    def _ballots(self) -> BallotBox:
        if self.ballots is None:
            raise LedgerError("this experiment seals its votes, and an agent given no folder for its sealed "
                              "votes could not reveal them: pass ballots=BallotBox(folder, account)")
        return self.ballots

    def _finalize(self, round: int, state: RoundState) -> Action:
        try:
            self.ledger.finalize(round)
        except ContractRevert as refusal:
            # Another member finalized first: the round moved on, which is all we wanted.
            if self.ledger.status().round != round:
                return Action.WAITING
            raise refusal
        log.info("%s finalized round %d (%s)", self.group, round, state.name.lower())
        return Action.FINALIZED

    def _decide_succession(self) -> Action:
        try:
            self.ledger.finalize_succession()
        except ContractRevert as refusal:
            # Another member decided it first: the rounds go on (or the successor takes over).
            if self.ledger.succession_state() is not SuccessionState.VOTING_CLOSED:
                return Action.WAITING
            raise refusal
        log.info("%s decided the succession: %s", self.group, self.ledger.succession_state().name.lower())
        return Action.SUCCESSION_DECIDED

    # ------------------------------------------------------------------ weights and scores

    def shared_model(self) -> tuple[SharedModel, bytes]:
        """The current shared model and its verified bytes (fetched once per change)."""
        shared = self.ledger.current_model()
        if self._model is not None and self._model[0] == shared:
            return self._model
        cid = self.initial_cid if shared.round == 0 else self._proposal_cid(shared.round)
        data = self.store.get(cid)
        actual = hashlib.sha256(data).digest()
        if actual != shared.digest:
            raise LedgerError(
                f"the shared model of round {shared.round} (CID {cid}) has sha256 {actual.hex()} but "
                f"the contract records {shared.digest.hex()}; the store serves wrong bytes for it: "
                "restore the original weights file and add it to the store again"
            )
        self._model = (shared, data)
        return self._model

    def _tend_pins(self, current: int) -> None:
        """Pin each accepted model of the rounds decided since the last look; unpin this agent's
        rejected proposals once they are old enough. Level-triggered: a restarted agent re-pins
        everything from round 1 (pinning what is pinned costs one call) and fetches what its node
        lacks from the other labs'."""
        assert self.pins is not None
        if not self._initial_pinned:
            self.store.pin(self.initial_cid)
            self._initial_pinned = True
        for round in range(self._tended + 1, current + 1):
            state = self.ledger.round_state(round)
            if not state.is_final:
                break
            if state is RoundState.ACCEPTED:
                self.store.pin(self._proposal_cid(round))
            elif state is RoundState.REJECTED:
                proposal = self.ledger.proposal(round)
                if proposal is not None and proposal.proposer.lower() == self.ledger.account.lower():
                    self._rejected[round] = proposal.cid
            self._tended = round
        for round, cid in sorted(self._rejected.items()):
            if round + self.pins.keep_rejected_rounds > self._tended:
                break
            if isinstance(self.store, PinningStore):
                try:
                    self.store.unpin(cid)
                except ContentNotFound:
                    pass  # not pinned (any more): the goal
                log.info("%s unpinned its rejected proposal of round %d (%s)", self.group, round, cid)
            del self._rejected[round]

    def _proposal_cid(self, round: int) -> str:
        proposal = self.ledger.proposal(round)
        if proposal is None:
            raise LedgerError(f"round {round} set the shared model but no proposal event was found")
        return proposal.cid

    def _scores_of(self, digest: bytes, weights: bytes) -> Scores:
        if digest not in self._scores:
            self._scores[digest] = self.learner.score(weights)
        return self._scores[digest]

    def _score_proposal(self, proposal: Proposal, watch: Stopwatch) -> tuple[Scores | None, str]:
        """Fetch, verify and score a proposal; on any fault return no scores and the reason."""
        try:
            with watch.time("store"):
                data = self.store.get(proposal.cid)
        except StoreError as error:
            return None, f"its weights could not be fetched: {error}"
        actual = hashlib.sha256(data).digest()
        if actual != proposal.digest:
            return None, (f"CID {proposal.cid} gives bytes with sha256 {actual.hex()}, "
                          f"not the proposed digest {proposal.digest.hex()}")
        try:
            with watch.time("score"):
                return self._scores_of(proposal.digest, data), ""
        except ValueError as error:  # WeightsError: malformed or mismatched tensors
            return None, f"its weights do not fit the model: {error}"

    def _emit(self, entry: RoundLog) -> None:
        if entry.round not in self._logged:
            self._logged.add(entry.round)
            self.on_round_log(entry)


def _chain_score(metric: float) -> int:
    """The int64 to put on-chain: metric * 1e6, or NO_SCORE for a metric with no finite value."""
    return to_score(metric) if math.isfinite(metric) else NO_SCORE

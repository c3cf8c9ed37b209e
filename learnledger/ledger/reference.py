"""The round rules in plain Python: the contract's oracle, and the ledger of no-chain runs.

Same states, outcomes and refusals as CollaborativeLearning.sol: every refusal is the
``ContractRevert`` the contract would raise, with the same error name and arguments, so the
differential tests compare the two step by step. What cannot be the same is the proposer draw (no
block hash here): it is a seeded draw, fixed before anyone acts, like the contract's (which draws
the next round's proposer from the proposal block's hash at the first later vote), or, in
differential tests, whatever ``proposer_source`` says (the test feeds it the contract's draw).

Importing this module pulls in no web3 (only eth-utils for checksummed addresses).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from eth_utils import is_address, to_checksum_address

from learnledger.ledger.api import (
    NO_SCORE,
    ContractRevert,
    Ledger,
    LedgerStatus,
    Member,
    Proposal,
    RoundRecord,
    RoundState,
    SharedModel,
    Succession,
    SuccessionState,
    Vote,
)
from learnledger.ledger.errors import hint_for, state_bitmap
from learnledger.ledger.params import MAX_MEMBERS, ExperimentParams
from learnledger.ledger.sealed import NO_COMMITMENT, vote_commitment

BPS = 10_000
ZERO_ADDRESS = "0x" + "00" * 20
MAX_CID_BYTES = 128
MAX_SCORE = 100_000_000

DECIDED = state_bitmap(RoundState.PROPOSAL_EXPIRED, RoundState.VOTING_CLOSED)
OPENED = state_bitmap(*(s for s in RoundState if s is not RoundState.UNOPENED))
SUCCESSION_OPEN = sum(1 << s for s in (SuccessionState.NONE, SuccessionState.REJECTED,
                                       SuccessionState.LAPSED)).to_bytes(32, "big")


def succession_bitmap(*states: SuccessionState) -> bytes:
    """A bytes32 with one bit per allowed succession state (``SuccessionUnexpectedState``'s)."""
    return sum(1 << state for state in states).to_bytes(32, "big")


@dataclass(frozen=True)
class SuccessorViews:
    """What ``proposeSuccessor`` reads from a proposed successor."""

    predecessor: str
    initial_digest: bytes
    member_count: int


@dataclass
class _Succession:
    """The contract's ``_succession`` slot, plus who voted."""

    number: int
    successor: str
    proposed_at: int
    proposer_index: int
    approvals: int = 0
    rejections: int = 0
    outcome: SuccessionState = SuccessionState.NONE
    voters: list[str] = field(default_factory=list)


def _refuse(name: str, *args: object) -> ContractRevert:
    return ContractRevert(name, args, hint_for(name, args))


@dataclass
class _Round:
    """What the contract stores about a round, plus what its events carry (cid, votes)."""

    opened_at: int
    proposer_index: int
    proposed_at: int = 0
    finalized_at: int = 0
    approvals: int = 0
    rejections: int = 0
    outcome: RoundState | None = None
    proposal: Proposal | None = None
    votes: list[Vote] = field(default_factory=list)
    voters: set[str] = field(default_factory=set)
    """Who voted (sealed votes: who committed)."""
    commits: int = 0
    sealed: dict[str, bytes] = field(default_factory=dict)
    """Sealed votes: each voter's commitment, until revealed."""
    model_digest: bytes = b""


def validate_params(params: ExperimentParams, max_members: int = MAX_MEMBERS) -> None:
    """Refuse what the contract's constructor refuses, in the same order, with the same errors.

    ``max_members`` is the contract's roster cap; only a simulation of a design without the cap
    (``learnledger.scale.committee``) passes another.
    """
    count = len(params.members)
    if count == 0 or count > max_members:
        raise _refuse("ExperimentMemberCountInvalid", count, max_members)
    if len(params.group_names) != count:
        raise _refuse("ExperimentGroupNamesMismatch", count, len(params.group_names))
    if not 0 < params.threshold_bps <= BPS:
        raise _refuse("ExperimentThresholdInvalid", params.threshold_bps)
    if params.proposal_window <= 0 or params.vote_window <= 0:
        raise _refuse("ExperimentWindowInvalid", params.proposal_window, params.vote_window)
    if params.spec_digest == bytes(32) or params.initial_digest == bytes(32):
        raise _refuse("ExperimentDigestEmpty", params.spec_digest, params.initial_digest)
    seen: set[str] = set()
    for index, member in enumerate(params.members):
        if not is_address(member):
            raise ValueError(f"members[{index}] is not an address, received: {member!r}")
        address = to_checksum_address(member)
        if address == ZERO_ADDRESS:
            raise _refuse("ExperimentMemberZeroAddress", index)
        if address in seen:
            raise _refuse("ExperimentMemberDuplicate", index, address)
        seen.add(address)


class ReferenceLedger:
    """One experiment's rules and state, shared by every member's handle (``as_member``).

    Args:
        params: the experiment, as the contract would be deployed with it.
        clock: now, in unix seconds (the block time the contract would see).
        seed: seeds the proposer draw. Default 0.
        proposer_source: if given, names the proposer of each round as it opens, instead of the
            seeded draw (differential tests pass the contract's ``proposerOf``).
        address: this experiment's address (what a successor must name as its predecessor).
        successor_views: reads a proposed successor's views; None where no experiment answers
            (differential tests read the chain; a reference line passes its ledgers').
    """

    max_members: int = MAX_MEMBERS
    """The roster cap the constructor enforces (the contract's)."""

    def __init__(
        self,
        params: ExperimentParams,
        clock: Callable[[], float],
        seed: int | str | bytes = 0,
        proposer_source: Callable[[int], str] | None = None,
        address: str = ZERO_ADDRESS,
        successor_views: Callable[[str], SuccessorViews | None] | None = None,
    ) -> None:
        validate_params(params, self.max_members)
        self.params = params
        self._clock = clock
        self._seed = seed if isinstance(seed, bytes) else str(seed).encode()
        self._proposer_source = proposer_source
        self._members = tuple(to_checksum_address(m) for m in params.members)
        self._index = {address: i for i, address in enumerate(self._members)}
        self._rounds: dict[int, _Round] = {}
        self._current = 1
        self._model_round = 0
        self.address = to_checksum_address(address)
        self._successor_views = successor_views or (lambda _address: None)
        self._succession: _Succession | None = None
        self._open_round(1)

    def as_member(self, address: str) -> Ledger:
        """A handle acting as ``address`` (a member, or anyone: anyone may finalize)."""
        return _Handle(self, to_checksum_address(address))

    # ----------------------------------------------------------------------------- the rules

    def _now(self) -> int:
        return int(self._clock())

    def state(self, round: int) -> RoundState:
        """Where ``round`` stands now: the contract's ``_stateOf``."""
        data = self._rounds.get(round)
        if data is None:
            return RoundState.UNOPENED
        if data.outcome is not None:
            return data.outcome
        now = self._now()
        if data.proposed_at == 0:
            open_ = now <= data.opened_at + self.params.proposal_window
            return RoundState.PROPOSING if open_ else RoundState.PROPOSAL_EXPIRED
        vote_deadline = data.proposed_at + self.params.vote_window
        if self.params.reveal_window == 0:
            return RoundState.VOTING if now <= vote_deadline else RoundState.VOTING_CLOSED
        if now <= vote_deadline and data.commits < self._eligible(round):
            return RoundState.VOTING
        return RoundState.REVEALING if now <= vote_deadline + self.params.reveal_window else RoundState.VOTING_CLOSED

    def _require_state(self, round: int, allowed: bytes) -> RoundState:
        current = self.state(round)
        if not int.from_bytes(allowed, "big") >> current & 1:
            raise _refuse("RoundUnexpectedState", round, current, allowed)
        return current

    def propose(self, caller: str, round: int, digest: bytes, cid: str) -> None:
        self._require_state(round, state_bitmap(RoundState.PROPOSING))
        data = self._rounds[round]
        proposer = self._members[data.proposer_index]
        if caller != proposer:
            raise _refuse("ProposalUnauthorized", round, caller, proposer)
        if bytes(digest) == bytes(32):
            raise _refuse("ProposalDigestEmpty", round)
        if not cid:
            raise _refuse("ProposalCidEmpty", round)
        if len(cid.encode()) > MAX_CID_BYTES:
            raise _refuse("ProposalCidTooLong", round, len(cid.encode()), MAX_CID_BYTES)
        data.proposed_at = self._now()
        data.proposal = Proposal(round, caller, bytes(digest), cid)
        if self._eligible(round) == 0:
            self._finalize(round, RoundState.VOTING_CLOSED)  # no eligible voter: every vote is in

    def vote(self, caller: str, round: int, approve: bool, vote_score: int, test_score: int) -> None:
        if self.params.reveal_window != 0:
            raise _refuse("VoteSealedOnly", round)
        self._require_state(round, state_bitmap(RoundState.VOTING))
        self._require_scores(round, vote_score, test_score)
        self._record_ballot(caller, round)
        self._count(caller, round, approve, vote_score, test_score, self._eligible(round))  # the last vote decides

    def commit_vote(self, caller: str, round: int, commitment: bytes) -> None:
        """The contract's ``commitVote``: seal ``caller``'s vote in ``round`` as ``commitment``."""
        if self.params.reveal_window == 0:
            raise _refuse("VoteOpenOnly", round)
        self._require_state(round, state_bitmap(RoundState.VOTING))
        if bytes(commitment) == NO_COMMITMENT:
            raise _refuse("VoteCommitmentEmpty", round)
        self._record_ballot(caller, round)
        data = self._rounds[round]
        data.sealed[caller] = bytes(commitment)
        data.commits += 1

    def reveal_vote(self, caller: str, round: int, approve: bool, vote_score: int, test_score: int,
                    salt: bytes) -> None:
        """The contract's ``revealVote``: open ``caller``'s commitment; the vote counts from now."""
        if self.params.reveal_window == 0:
            raise _refuse("VoteOpenOnly", round)
        self._require_state(round, state_bitmap(RoundState.REVEALING))
        data = self._rounds[round]
        committed = data.sealed.get(caller)
        if committed is None:
            raise _refuse("RevealWithoutCommitment", round, caller)
        revealed = vote_commitment(approve, vote_score, test_score, salt, caller, round)
        if revealed != committed:
            raise _refuse("RevealMismatch", round, caller, committed, revealed)
        self._require_scores(round, vote_score, test_score)
        del data.sealed[caller]
        self._count(caller, round, approve, vote_score, test_score, data.commits)  # the last reveal decides

    def _require_scores(self, round: int, *scores: int) -> None:
        for score in scores:
            if score != NO_SCORE and not 0 <= score <= MAX_SCORE:
                raise _refuse("VoteScoreOutOfRange", round, score, MAX_SCORE)

    def _record_ballot(self, caller: str, round: int) -> None:
        """Marks ``caller``'s ballot (vote or commitment), refusing non-members, the proposer and a second one."""
        data = self._rounds[round]
        if caller not in self._index:
            raise _refuse("VoterNotMember", round, caller)
        if self._index[caller] == data.proposer_index:
            raise _refuse("VoterIsProposer", round, caller)
        if caller in data.voters:
            raise _refuse("VoterAlreadyVoted", round, caller)
        data.voters.add(caller)

    def _count(self, caller: str, round: int, approve: bool, vote_score: int, test_score: int, expected: int) -> None:
        """Counts a vote (cast or revealed); once ``expected`` votes are in, finalizes the round."""
        data = self._rounds[round]
        data.votes.append(Vote(round, caller, bool(approve), int(vote_score), int(test_score)))
        if approve:
            data.approvals += 1
        else:
            data.rejections += 1
        if data.approvals + data.rejections == expected:
            self._finalize(round, RoundState.VOTING_CLOSED)

    def finalize(self, round: int) -> None:
        state = self._require_state(round, DECIDED)
        self._finalize(round, state)

    def _finalize(self, round: int, state: RoundState) -> None:
        data = self._rounds[round]
        eligible = self._eligible(round)
        if state is RoundState.PROPOSAL_EXPIRED:
            data.outcome = RoundState.SKIPPED
        elif data.approvals * BPS >= self.params.threshold_bps * eligible:
            data.outcome = RoundState.ACCEPTED
            self._model_round = round
        else:
            data.outcome = RoundState.REJECTED
        data.finalized_at = self._now()
        data.model_digest = self.current_model().digest
        self._current = round + 1
        if (self.params.max_rounds == 0 or round < self.params.max_rounds) and not self._succession_pending():
            self._open_round(round + 1)

    # ------------------------------------------------------------------------ succession

    def succession_state(self) -> SuccessionState:
        """The contract's ``_successionStateOf``."""
        data = self._succession
        if data is None:
            return SuccessionState.NONE
        if data.outcome is not SuccessionState.NONE:
            return data.outcome
        if data.approvals + data.rejections == len(self._members) - 1:
            return SuccessionState.VOTING_CLOSED
        open_ = self._now() <= data.proposed_at + self.params.vote_window
        return SuccessionState.VOTING if open_ else SuccessionState.VOTING_CLOSED

    def _succession_pending(self) -> bool:
        return self._succession is not None and self._succession.outcome is SuccessionState.NONE

    def _require_succession_state(self, allowed: bytes) -> None:
        current = self.succession_state()
        if not int.from_bytes(allowed, "big") >> current & 1:
            raise _refuse("SuccessionUnexpectedState", current, allowed)

    def _round_in_progress(self) -> bool:
        data = self._rounds.get(self._current)
        return data is not None and data.outcome is None

    def propose_successor(self, caller: str, successor: str) -> None:
        if caller not in self._index:
            raise _refuse("SuccessionCallerNotMember", caller)
        self._require_succession_state(SUCCESSION_OPEN)
        successor = to_checksum_address(successor)
        model = self.current_model().digest
        views = self._successor_views(successor)
        if views is None:
            raise _refuse("SuccessorNotExperiment", successor)
        named = to_checksum_address(views.predecessor)
        if named != self.address:
            raise _refuse("SuccessorPredecessorMismatch", successor, named)
        if views.initial_digest != model:
            raise _refuse("SuccessorInitialDigestMismatch", successor, views.initial_digest, model)
        if views.member_count == 0:
            raise _refuse("SuccessorRosterEmpty", successor)
        number = self._succession.number + 1 if self._succession else 1
        self._succession = _Succession(number, successor, self._now(), self._index[caller])

    def vote_succession(self, caller: str, approve: bool) -> None:
        self._require_succession_state(succession_bitmap(SuccessionState.VOTING))
        data = self._succession
        assert data is not None
        if caller not in self._index:
            raise _refuse("SuccessionCallerNotMember", caller)
        if self._index[caller] == data.proposer_index:
            raise _refuse("SuccessionVoterIsProposer", caller)
        if caller in data.voters:
            raise _refuse("SuccessionVoterAlreadyVoted", caller)
        data.voters.append(caller)
        if approve:
            data.approvals += 1
        else:
            data.rejections += 1

    def finalize_succession(self) -> None:
        self._require_succession_state(succession_bitmap(SuccessionState.VOTING_CLOSED))
        if self._round_in_progress():
            raise _refuse("SuccessionRoundInProgress", self._current)
        self._decide_succession()

    def _decide_succession(self) -> None:
        data = self._succession
        assert data is not None
        model = self.current_model().digest
        if data.approvals * BPS < self.params.threshold_bps * (len(self._members) - 1):
            data.outcome = SuccessionState.REJECTED
        else:
            views = self._successor_views(data.successor)
            matches = views is not None and views.initial_digest == model
            data.outcome = SuccessionState.ACCEPTED if matches else SuccessionState.LAPSED
        if data.outcome is not SuccessionState.ACCEPTED and not self.is_finished():
            self._open_round(self._current)

    def successor(self) -> str | None:
        data = self._succession
        return data.successor if data and data.outcome is SuccessionState.ACCEPTED else None

    def succession(self) -> Succession:
        """What the contract's ``successionState()`` and succession events tell."""
        data = self._succession
        if data is None:
            return Succession(SuccessionState.NONE, 0, None, None, 0, (), 0, 0)
        return Succession(self.succession_state(), data.number, data.successor,
                          self._members[data.proposer_index], data.proposed_at + self.params.vote_window,
                          tuple(data.voters), data.approvals, data.rejections)

    def _eligible(self, round: int) -> int:
        """How many members may vote in ``round``: everyone but its proposer."""
        return len(self._members) - 1

    def _open_round(self, round: int) -> None:
        if self._proposer_source is not None:
            proposer = to_checksum_address(self._proposer_source(round))
            index = self._index[proposer]
        else:
            draw = hashlib.sha256(self._seed + b":" + str(round).encode()).digest()
            index = int.from_bytes(draw, "big") % len(self._members)
        self._rounds[round] = _Round(opened_at=self._now(), proposer_index=index)

    # ------------------------------------------------------------------------------ reading

    def members(self) -> tuple[Member, ...]:
        return tuple(
            Member(i, address, self.params.group_names[i]) for i, address in enumerate(self._members)
        )

    def current_round(self) -> int:
        return self._current

    def is_finished(self) -> bool:
        """The last round is finalized, or a successor took over."""
        last_done = self.params.max_rounds != 0 and self._current > self.params.max_rounds
        return last_done or self.successor() is not None

    def status(self, account: str) -> LedgerStatus:
        """The contract's ``statusOf(account)``."""
        round = self._current
        state = self.state(round)
        proposer = None if state is RoundState.UNOPENED else self._members[self._rounds[round].proposer_index]
        return LedgerStatus(round, state, proposer, self.has_voted(round, account), self.is_finished())

    def proposer_of(self, round: int) -> str:
        self._require_state(round, OPENED)
        return self._members[self._rounds[round].proposer_index]

    def proposal(self, round: int) -> Proposal | None:
        data = self._rounds.get(round)
        return data.proposal if data else None

    def current_model(self) -> SharedModel:
        if self._model_round == 0:
            return SharedModel(self.params.initial_digest, 0)
        proposal = self._rounds[self._model_round].proposal
        assert proposal is not None  # an accepted round always has one
        return SharedModel(proposal.digest, self._model_round)

    def has_voted(self, round: int, voter: str) -> bool:
        data = self._rounds.get(round)
        return data is not None and to_checksum_address(voter) in data.voters

    def deadline_of(self, round: int) -> int:
        """The contract's ``deadlineOf``: the running phase's last second, 0 if none."""
        data = self._rounds.get(round)
        if data is None or data.outcome is not None:
            return 0
        if data.proposed_at == 0:
            return data.opened_at + self.params.proposal_window
        vote_deadline = data.proposed_at + self.params.vote_window
        return vote_deadline if self.state(round) is RoundState.VOTING else vote_deadline + self.params.reveal_window

    def commitment_of(self, round: int, voter: str) -> bytes:
        """The contract's ``commitmentOf``."""
        data = self._rounds.get(round)
        return data.sealed.get(to_checksum_address(voter), NO_COMMITMENT) if data else NO_COMMITMENT

    def seconds_until_deadline(self, round: int) -> float | None:
        deadline = self.deadline_of(round)
        return None if deadline == 0 else deadline - self._clock()

    def history(self) -> list[RoundRecord]:
        records = []
        model = self.params.initial_digest
        for number in sorted(self._rounds):
            data = self._rounds[number]
            if data.outcome is not None:
                model = data.model_digest
            records.append(
                RoundRecord(
                    round=number,
                    proposer=self._members[data.proposer_index],
                    state=self.state(number),
                    proposal=data.proposal,
                    votes=tuple(data.votes),
                    approvals=data.approvals,
                    rejections=data.rejections,
                    model_digest=model,
                )
            )
        return records


class _Handle:
    """A member's view of a ReferenceLedger (implements ``api.Ledger``)."""

    def __init__(self, ledger: ReferenceLedger, account: str) -> None:
        self._ledger = ledger
        self._account = account

    @property
    def account(self) -> str:
        return self._account

    def members(self) -> tuple[Member, ...]:
        return self._ledger.members()

    def status(self) -> LedgerStatus:
        return self._ledger.status(self._account)

    def current_round(self) -> int:
        return self._ledger.current_round()

    def is_finished(self) -> bool:
        return self._ledger.is_finished()

    def round_state(self, round: int) -> RoundState:
        return self._ledger.state(round)

    def proposer_of(self, round: int) -> str:
        return self._ledger.proposer_of(round)

    def proposal(self, round: int) -> Proposal | None:
        return self._ledger.proposal(round)

    def current_model(self) -> SharedModel:
        return self._ledger.current_model()

    def has_voted(self, round: int, voter: str) -> bool:
        return self._ledger.has_voted(round, voter)

    def seconds_until_deadline(self, round: int) -> float | None:
        return self._ledger.seconds_until_deadline(round)

    def propose(self, round: int, digest: bytes, cid: str) -> None:
        self._ledger.propose(self._account, round, digest, cid)

    def vote(self, round: int, approve: bool, vote_score: int, test_score: int) -> None:
        self._ledger.vote(self._account, round, approve, vote_score, test_score)

    def reveal_window(self) -> int:
        return self._ledger.params.reveal_window

    def commit_vote(self, round: int, approve: bool, vote_score: int, test_score: int, salt: bytes) -> None:
        commitment = vote_commitment(approve, vote_score, test_score, salt, self._account, round)
        self._ledger.commit_vote(self._account, round, commitment)

    def reveal_vote(self, round: int, approve: bool, vote_score: int, test_score: int, salt: bytes) -> None:
        self._ledger.reveal_vote(self._account, round, approve, vote_score, test_score, salt)

    def commitment_of(self, round: int, voter: str) -> bytes:
        return self._ledger.commitment_of(round, voter)

    def finalize(self, round: int) -> None:
        self._ledger.finalize(round)

    def history(self) -> list[RoundRecord]:
        return self._ledger.history()

    def successor(self) -> str | None:
        return self._ledger.successor()

    def succession(self) -> Succession:
        return self._ledger.succession()

    def succession_state(self) -> SuccessionState:
        return self._ledger.succession_state()

    def propose_successor(self, successor: str) -> None:
        self._ledger.propose_successor(self._account, successor)

    def vote_succession(self, approve: bool) -> None:
        self._ledger.vote_succession(self._account, approve)

    def finalize_succession(self) -> None:
        self._ledger.finalize_succession()

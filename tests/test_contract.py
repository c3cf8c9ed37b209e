"""The round rules of CollaborativeLearning.sol, on the embedded chain.

Every refusal path, the deadlines (inclusive, by time travel), skips, the auto-finalizing last
vote, the approval rule, the last round, and rosters of 1 to 256 members.
"""

from __future__ import annotations

import pytest

from learnledger.ledger.api import ContractRevert, RoundState
from learnledger.ledger.errors import state_bitmap
from learnledger.ledger.sandbox import PLACEHOLDER_INITIAL_DIGEST, Sandbox, embedded_experiment

START = 4_000_000_000  # ahead of the wall clock: one second per block, exactly
WINDOW = 100
CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"  # 59 characters


def digest(n: int) -> bytes:
    return bytes([n % 251 + 1]) * 32


@pytest.fixture
def exp() -> Sandbox:
    """A fresh 5-member experiment at round 1, and one funded outsider."""
    return embedded_experiment(5, outsiders=1, proposal_window=WINDOW, vote_window=WINDOW, start_time=START)


def refusal(call, *args) -> ContractRevert:  # type: ignore[no-untyped-def]
    with pytest.raises(ContractRevert) as caught:
        call(*args)
    return caught.value


def proposer(exp: Sandbox, round_: int = 1):  # type: ignore[no-untyped-def]
    return exp.ledger(exp.ledgers[exp.members[0]].proposer_of(round_))


def voters(exp: Sandbox, round_: int = 1) -> list:  # type: ignore[type-arg]
    drawn = exp.ledgers[exp.members[0]].proposer_of(round_)
    return [exp.ledger(m) for m in exp.members if m != drawn]


def test_deployment_opens_round_one_with_a_member_as_proposer(exp: Sandbox) -> None:
    reader = exp.ledger(exp.outsiders[0])
    assert reader.current_round() == 1
    assert reader.round_state(1) is RoundState.PROPOSING
    assert reader.round_state(2) is RoundState.UNOPENED
    assert reader.proposer_of(1) in exp.members
    assert reader.current_model().round == 0
    assert reader.current_model().digest == PLACEHOLDER_INITIAL_DIGEST
    assert [m.address for m in reader.members()] == exp.members
    assert [m.group for m in reader.members()] == [f"g{i}" for i in range(5)]
    assert not reader.is_finished()
    functions = reader.contract.functions
    assert functions.memberCount().call() == 5
    assert functions.thresholdBps().call() == 5000
    assert (functions.proposalWindow().call(), functions.voteWindow().call()) == (WINDOW, WINDOW)
    assert functions.maxRounds().call() == 0
    assert functions.isMember(exp.members[3]).call() and not functions.isMember(exp.outsiders[0]).call()
    assert functions.memberAt(4).call() == exp.members[4]
    assert functions.groupName(exp.members[2]).call() == "g2"
    assert reader.seconds_until_deadline(1) is not None


def test_roster_views_refuse_unknown_members_and_indices(exp: Sandbox) -> None:
    reader = exp.ledger(exp.outsiders[0])
    out_of_range = refusal(reader._read, "memberAt", (5,), "pending")
    assert (out_of_range.name, out_of_range.args_) == ("MemberIndexOutOfRange", (5, 5))
    unknown = refusal(reader._read, "groupName", (exp.outsiders[0],), "pending")
    assert (unknown.name, unknown.args_) == ("MemberUnknown", (exp.outsiders[0],))
    unopened = refusal(reader.proposer_of, 2)
    assert unopened.name == "RoundUnexpectedState" and unopened.args_[:2] == (2, RoundState.UNOPENED)


def test_propose_refusals_name_the_error_and_its_data(exp: Sandbox) -> None:
    drawn = proposer(exp)
    other = voters(exp)[0]
    wrong = refusal(other.propose, 1, digest(1), CID)
    assert (wrong.name, wrong.args_) == ("ProposalUnauthorized", (1, other.account, drawn.account))
    outsider = exp.ledger(exp.outsiders[0])
    assert refusal(outsider.propose, 1, digest(1), CID).name == "ProposalUnauthorized"
    assert refusal(drawn.propose, 1, bytes(32), CID).args_ == (1,)
    assert refusal(drawn.propose, 1, bytes(32), CID).name == "ProposalDigestEmpty"
    assert refusal(drawn.propose, 1, digest(1), "").name == "ProposalCidEmpty"
    unopened = refusal(drawn.propose, 2, digest(1), CID)
    assert unopened.args_ == (2, RoundState.UNOPENED, state_bitmap(RoundState.PROPOSING))
    drawn.propose(1, digest(1), CID)
    twice = refusal(drawn.propose, 1, digest(2), CID)
    assert twice.args_ == (1, RoundState.VOTING, state_bitmap(RoundState.PROPOSING))
    assert "round 1 is VOTING" in str(twice)


def test_vote_refusals(exp: Sandbox) -> None:
    drawn, voter = proposer(exp), voters(exp)[0]
    early = refusal(voter.vote, 1, True, 1, 1)
    assert early.args_ == (1, RoundState.PROPOSING, state_bitmap(RoundState.VOTING))
    drawn.propose(1, digest(1), CID)
    outsider = exp.ledger(exp.outsiders[0])
    assert (refusal(outsider.vote, 1, True, 1, 1).name, refusal(outsider.vote, 1, True, 1, 1).args_) == (
        "VoterNotMember",
        (1, outsider.account),
    )
    own = refusal(drawn.vote, 1, True, 1, 1)
    assert (own.name, own.args_) == ("VoterIsProposer", (1, drawn.account))
    voter.vote(1, False, 5, 7)
    again = refusal(voter.vote, 1, True, 1, 1)
    assert (again.name, again.args_) == ("VoterAlreadyVoted", (1, voter.account))
    assert voter.has_voted(1, voter.account) and not voter.has_voted(1, drawn.account)
    assert not voter.has_voted(0, voter.account) and not voter.has_voted(2, voter.account)


def test_finalize_refuses_undecided_final_and_unopened_rounds(exp: Sandbox) -> None:
    anyone = exp.ledger(exp.outsiders[0])
    decided = state_bitmap(RoundState.PROPOSAL_EXPIRED, RoundState.VOTING_CLOSED)
    assert refusal(anyone.finalize, 1).args_ == (1, RoundState.PROPOSING, decided)
    assert refusal(anyone.finalize, 2).args_ == (2, RoundState.UNOPENED, decided)
    proposer(exp).propose(1, digest(1), CID)
    assert refusal(anyone.finalize, 1).args_ == (1, RoundState.VOTING, decided)
    for voter in voters(exp):
        voter.vote(1, True, 1, 1)
    assert refusal(anyone.finalize, 1).args_ == (1, RoundState.ACCEPTED, decided)


def test_proposal_deadline_is_inclusive_then_the_round_is_skipped(exp: Sandbox) -> None:
    reader = exp.ledger(exp.outsiders[0])
    deadline = reader.round_info(1)["proposalDeadline"]
    exp.chain.advance_to(deadline + 1)
    assert reader.round_state(1) is RoundState.PROPOSAL_EXPIRED
    late = refusal(proposer(exp).propose, 1, digest(1), CID)
    assert late.args_[:2] == (1, RoundState.PROPOSAL_EXPIRED)
    reader.finalize(1)  # anyone may, even an outsider
    assert reader.round_state(1) is RoundState.SKIPPED
    assert reader.current_round() == 2 and reader.round_state(2) is RoundState.PROPOSING
    assert reader.current_model().round == 0
    assert reader.seconds_until_deadline(1) is None


def test_proposal_at_the_last_second_of_the_window_is_accepted(exp: Sandbox) -> None:
    deadline = exp.ledger(exp.outsiders[0]).round_info(1)["proposalDeadline"]
    exp.chain.advance_to(deadline)
    proposer(exp).propose(1, digest(1), CID)
    assert proposer(exp).round_state(1) is RoundState.VOTING


def test_vote_deadline_is_inclusive_and_missing_votes_do_not_approve(exp: Sandbox) -> None:
    proposer(exp).propose(1, digest(1), CID)
    first, second, third, _ = voters(exp)
    first.vote(1, True, 1, 1)
    deadline = first.round_info(1)["voteDeadline"]
    exp.chain.advance_to(deadline)
    assert first.round_state(1) is RoundState.VOTING
    second.vote(1, True, 1, 1)  # the last second still counts
    assert first.round_state(1) is RoundState.VOTING_CLOSED  # as of the next second
    assert refusal(third.vote, 1, True, 1, 1).args_[:2] == (1, RoundState.VOTING_CLOSED)
    third.finalize(1)
    # 2 approvals of 4 eligible meet a 50% threshold exactly: 2 * 10000 >= 5000 * 4
    assert first.round_state(1) is RoundState.ACCEPTED
    assert first.current_model().round == 1 and first.current_model().digest == digest(1)


def test_one_approval_of_four_with_missing_votes_is_rejected(exp: Sandbox) -> None:
    proposer(exp).propose(1, digest(1), CID)
    voters(exp)[0].vote(1, True, 1, 1)
    exp.chain.time_travel(WINDOW + 5)
    voters(exp)[1].finalize(1)
    info = voters(exp)[1].round_info(1)
    assert (info["state"], info["approvals"], info["rejections"]) == (RoundState.REJECTED, 1, 0)
    assert voters(exp)[1].current_model().round == 0


def test_last_vote_finalizes_and_opens_the_next_round(exp: Sandbox) -> None:
    proposer(exp).propose(1, digest(1), CID)
    ballots = [True, False, True, False]
    for voter, approve in zip(voters(exp), ballots):
        assert voter.round_state(1) is RoundState.VOTING
        voter.vote(1, approve, 900_000, 880_000)
    reader = exp.ledger(exp.outsiders[0])
    info = reader.round_info(1)
    assert (info["state"], info["approvals"], info["rejections"]) == (RoundState.ACCEPTED, 2, 2)
    assert info["finalizedAt"] > 0 and info["digest"] == digest(1)
    assert reader.current_round() == 2 and reader.round_state(2) is RoundState.PROPOSING
    assert reader.current_model().digest == digest(1)


def test_three_rejections_keep_the_model(exp: Sandbox) -> None:
    proposer(exp).propose(1, digest(1), CID)
    for voter, approve in zip(voters(exp), [True, False, False, False]):
        voter.vote(1, approve, 1, 1)
    assert proposer(exp, 1).round_state(1) is RoundState.REJECTED
    assert proposer(exp, 1).current_model().round == 0


def test_history_tells_every_round_from_events(exp: Sandbox) -> None:
    proposer(exp).propose(1, digest(1), CID)
    for voter in voters(exp):
        voter.vote(1, True, 973_400, 960_000)
    exp.chain.time_travel(WINDOW + 5)
    reader = exp.ledger(exp.outsiders[0])
    reader.finalize(2)
    history = reader.history()
    assert [r.state for r in history] == [RoundState.ACCEPTED, RoundState.SKIPPED, RoundState.PROPOSING]
    first = history[0]
    assert first.proposal is not None and first.proposal.cid == CID and first.proposal.digest == digest(1)
    assert [v.vote_score for v in first.votes] == [973_400] * 4 and first.approvals == 4
    assert history[1].model_digest == digest(1) and history[2].model_digest == digest(1)
    assert reader.proposal(1) == first.proposal and reader.proposal(2) is None


def test_the_experiment_ends_after_max_rounds() -> None:
    exp = embedded_experiment(2, max_rounds=2, proposal_window=WINDOW, vote_window=WINDOW, start_time=START)
    for round_ in (1, 2):
        drawn = exp.ledgers[exp.members[0]].proposer_of(round_)
        exp.ledger(drawn).propose(round_, digest(round_), CID)
        (other,) = [m for m in exp.members if m != drawn]
        exp.ledger(other).vote(round_, True, 1, 1)
    reader = exp.ledger(exp.outsiders[0])
    assert reader.is_finished() and reader.current_round() == 3
    assert reader.round_state(3) is RoundState.UNOPENED
    assert refusal(reader.finalize, 3).args_[:2] == (3, RoundState.UNOPENED)
    assert reader.current_model().round == 2


def test_a_single_member_proposal_is_accepted_at_once() -> None:
    """With one member nobody is eligible to vote, so the proposal completes the vote itself:
    0 approvals meet the threshold of 0 eligible votes, and round 2 opens."""
    exp = embedded_experiment(1, start_time=START)
    solo = exp.ledger(exp.members[0])
    assert solo.proposer_of(1) == solo.account
    solo.propose(1, digest(1), CID)
    assert solo.round_state(1) is RoundState.ACCEPTED
    assert solo.current_model().round == 1 and solo.current_round() == 2
    assert refusal(solo.vote, 1, True, 1, 1).args_[:2] == (1, RoundState.ACCEPTED)


@pytest.mark.parametrize("size", [2, 3])
def test_small_rosters_run_a_full_round(size: int) -> None:
    exp = embedded_experiment(size, start_time=START)
    proposer(exp).propose(1, digest(1), CID)
    for voter in voters(exp):
        voter.vote(1, True, 1, 1)
    assert proposer(exp).round_state(1) is RoundState.ACCEPTED
    assert proposer(exp).current_round() == 2


@pytest.mark.slow
def test_sixty_four_members_run_a_full_round_with_constant_vote_gas() -> None:
    exp = embedded_experiment(64, outsiders=0, start_time=START)
    proposer(exp).propose(1, digest(1), CID)
    gas = []
    for voter in voters(exp):
        voter.vote(1, True, 1, 1)
        gas.append(voter.last_gas_used)
    assert proposer(exp).round_state(1) is RoundState.ACCEPTED
    # The first vote also draws the next proposer (a block hash and a keccak); every later vote
    # but the finalizing one costs the same, whatever the roster's size.
    assert len(set(gas[1:-1])) == 1 and gas[1] < gas[0] < 38_000
    assert proposer(exp).round_state(2) is RoundState.PROPOSING


@pytest.mark.slow
def test_two_hundred_fifty_six_members_use_every_roster_index() -> None:
    exp = embedded_experiment(256, outsiders=0, proposal_window=WINDOW, vote_window=WINDOW, start_time=START)
    reader = exp.ledger(exp.members[0])
    assert reader.contract.functions.memberAt(255).call() == exp.members[255]
    proposer(exp).propose(1, digest(1), CID)
    drawn = reader.proposer_of(1)
    last_two = [m for m in exp.members[-3:] if m != drawn][-2:]
    for member in last_two:  # the highest indices, packed in uint8
        exp.ledger(member).vote(1, True, 1, 1)
    assert all(reader.has_voted(1, m) for m in last_two)
    exp.chain.time_travel(WINDOW + 5)
    reader.finalize(1)
    info = reader.round_info(1)
    # 2 approvals of 255 eligible fall short of half
    assert (info["state"], info["approvals"]) == (RoundState.REJECTED, 2)
    assert reader.round_state(2) is RoundState.PROPOSING


@pytest.mark.slow
def test_votes_stay_recorded_across_the_247_round_ballot_windows() -> None:
    """A member word holds 247 rounds; round 247 starts a fresh word for each voter, which must
    carry the member's roster bits over from word 0."""
    exp = embedded_experiment(2, outsiders=0, proposal_window=1, vote_window=1, start_time=START)
    anyone = exp.ledger(exp.members[0])
    w3, contract = exp.chain.w3, anyone.contract
    for round_ in range(1, 247):  # skip rounds quickly: an empty block, then a plain finalize
        exp.chain.mine_blocks(1)
        w3.eth.send_transaction(
            {"from": exp.members[0], "to": contract.address, "gas": 300_000,
             "data": contract.encode_abi("finalize", [round_])}
        )
    assert anyone.current_round() == 247 and anyone.round_state(246) is RoundState.SKIPPED
    for round_ in (247, 248):
        drawn = anyone.proposer_of(round_)
        (voter,) = [m for m in exp.members if m != drawn]
        exp.ledger(drawn).propose(round_, digest(round_), CID)
        exp.ledger(voter).vote(round_, True, 1, 1)
        assert anyone.round_state(round_) is RoundState.ACCEPTED
        assert anyone.has_voted(round_, voter) and not anyone.has_voted(round_, drawn)
        again = refusal(exp.ledger(voter).vote, round_, True, 1, 1)
        assert again.args_[:2] == (round_, RoundState.ACCEPTED)
    assert not anyone.has_voted(246, exp.members[0]) and not anyone.has_voted(1, exp.members[1])

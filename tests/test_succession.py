"""Succession on the embedded chain: a deployment hands the experiment over to a successor by the
round rule's majority, with no admin, and the reference model agrees step by step.

Covers the refusals (outsider, wrong predecessor, wrong initial weights, no contract, a second
pending succession, double votes, the proposer voting), the pause (the round in progress runs to
its end, the next one waits), acceptance, rejection (rounds resume), and a lapse (a round accepted
meanwhile changed the model).
"""

from __future__ import annotations

from typing import Any

import pytest
from web3 import Web3

from learnledger.ledger.api import ContractRevert, RoundState, SuccessionState
from learnledger.ledger.reference import ReferenceLedger, SuccessorViews, succession_bitmap
from learnledger.ledger.sandbox import Sandbox, deploy_successor, embedded_experiment

START = 4_000_000_000
WINDOW = 100


def refusal(call: Any, *args: Any) -> ContractRevert:
    with pytest.raises(ContractRevert) as caught:
        call(*args)
    return caught.value


def finished_experiment(members: int = 3, rounds: int = 2) -> Sandbox:
    """``members`` labs ran ``rounds`` rounds, each accepted; the experiment is finished."""
    exp = embedded_experiment(members, outsiders=2, proposal_window=WINDOW, vote_window=WINDOW,
                              max_rounds=rounds, start_time=START)
    for number in range(1, rounds + 1):
        run_round(exp, number, approve=True)
    assert exp.ledger(exp.members[0]).is_finished()
    return exp


def run_round(exp: Sandbox, number: int, approve: bool) -> None:
    reader = exp.ledger(exp.members[0])
    drawn = reader.proposer_of(number)
    exp.ledger(drawn).propose(number, bytes([number]) * 32, f"cid-{number}")
    for member in exp.members:
        if member != drawn:
            exp.ledger(member).vote(number, approve, 900_000, 900_000)


def test_an_accepted_succession_records_the_successor_both_ways() -> None:
    exp = finished_experiment()
    newcomer = exp.outsiders[0]
    successor = deploy_successor(exp, exp.members + [newcomer])
    first, second, third = (exp.ledger(m) for m in exp.members)
    assert successor.ledger(newcomer).predecessor() == exp.deployment.address
    assert successor.ledger(newcomer).initial_digest() == first.current_model().digest

    first.propose_successor(successor.deployment.address)
    state = first.succession()
    assert (state.state, state.number, state.successor, state.proposer) == (
        SuccessionState.VOTING, 1, successor.deployment.address, first.account)
    assert refusal(first.vote_succession, True).name == "SuccessionVoterIsProposer"
    assert refusal(exp.ledger(newcomer).vote_succession, True).name == "SuccessionCallerNotMember"
    second.vote_succession(True)
    assert refusal(second.vote_succession, True).name == "SuccessionVoterAlreadyVoted"
    assert first.successor() is None
    third.vote_succession(False)
    assert first.succession().state is SuccessionState.VOTING_CLOSED  # every vote in
    assert (first.succession().approvals, first.succession().rejections) == (1, 1)
    exp.ledger(exp.outsiders[1]).finalize_succession()  # the hand-over: anyone, 1 of 2 meets 5000 bps

    assert first.succession().state is SuccessionState.ACCEPTED
    assert first.successor() == successor.deployment.address
    assert first.is_finished() and first.status().finished
    assert refusal(first.propose_successor, successor.deployment.address).name == "SuccessionUnexpectedState"


def test_bad_successors_are_refused_with_the_reason() -> None:
    exp = finished_experiment()
    member = exp.ledger(exp.members[0])
    outsider = exp.ledger(exp.outsiders[0])
    good = deploy_successor(exp, exp.members)
    assert refusal(outsider.propose_successor, good.deployment.address).args_ == (outsider.account,)

    wrong_weights = deploy_successor(exp, exp.members, initial_digest=bytes([9]) * 32)
    caught = refusal(member.propose_successor, wrong_weights.deployment.address)
    assert (caught.name, caught.args_) == ("SuccessorInitialDigestMismatch", (
        wrong_weights.deployment.address, bytes([9]) * 32, member.current_model().digest))

    elsewhere = deploy_successor(exp, exp.members, predecessor=exp.outsiders[1])
    caught = refusal(member.propose_successor, elsewhere.deployment.address)
    assert (caught.name, caught.args_) == ("SuccessorPredecessorMismatch",
                                           (elsewhere.deployment.address, exp.outsiders[1]))

    caught = refusal(member.propose_successor, exp.outsiders[1])  # an account, not a contract
    assert (caught.name, caught.args_) == ("SuccessorNotExperiment", (exp.outsiders[1],))
    assert member.succession().state is SuccessionState.NONE  # nothing changed


def test_the_round_in_progress_runs_to_its_end_and_the_next_waits_for_the_decision() -> None:
    exp = embedded_experiment(3, outsiders=1, proposal_window=WINDOW, vote_window=WINDOW, start_time=START)
    reader = exp.ledger(exp.members[0])
    drawn = reader.proposer_of(1)
    exp.ledger(drawn).propose(1, bytes([1]) * 32, "cid-1")
    successor = deploy_successor(exp, exp.members)  # starts from round 0's model: the initial weights
    proposer, *voters = (exp.ledger(m) for m in exp.members)
    proposer.propose_successor(successor.deployment.address)
    others = [v for v in voters]
    for voter in others:
        voter.vote_succession(True)
    assert reader.succession().state is SuccessionState.VOTING_CLOSED  # every vote in, round 1 running
    caught = refusal(reader.finalize_succession)
    assert (caught.name, caught.args_) == ("SuccessionRoundInProgress", (1,))

    for member in exp.members:  # round 1's votes all count
        if member != drawn:
            exp.ledger(member).vote(1, False, 0, 0)
    assert reader.round_state(1) is RoundState.REJECTED
    assert reader.current_round() == 2 and reader.round_state(2) is RoundState.UNOPENED  # paused
    assert not reader.is_finished()
    reader.finalize_succession()
    assert reader.successor() == successor.deployment.address
    assert reader.round_state(2) is RoundState.UNOPENED and reader.is_finished()


def test_a_rejected_succession_resumes_the_rounds() -> None:
    exp = embedded_experiment(3, outsiders=1, proposal_window=WINDOW, vote_window=WINDOW, start_time=START)
    run_round(exp, 1, approve=True)
    successor = deploy_successor(exp, exp.members)
    first, second, third = (exp.ledger(m) for m in exp.members)
    first.propose_successor(successor.deployment.address)
    run_round(exp, 2, approve=False)
    assert first.round_state(3) is RoundState.UNOPENED
    second.vote_succession(False)
    third.vote_succession(False)
    first.finalize_succession()
    assert first.succession().state is SuccessionState.REJECTED
    assert first.successor() is None
    assert first.current_round() == 3 and first.round_state(3) is RoundState.PROPOSING
    first.propose_successor(successor.deployment.address)  # another may be proposed
    assert first.succession().number == 2


def test_a_succession_lapses_when_a_round_accepted_meanwhile_changed_the_model() -> None:
    exp = embedded_experiment(3, outsiders=1, proposal_window=WINDOW, vote_window=WINDOW, start_time=START)
    successor = deploy_successor(exp, exp.members)
    first, second, third = (exp.ledger(m) for m in exp.members)
    first.propose_successor(successor.deployment.address)
    second.vote_succession(True)
    third.vote_succession(True)
    run_round(exp, 1, approve=True)  # the model moves on
    first.finalize_succession()
    assert first.succession().state is SuccessionState.LAPSED
    assert first.successor() is None and first.round_state(2) is RoundState.PROPOSING


def test_an_unvoted_succession_expires_at_its_deadline_as_a_rejection() -> None:
    exp = finished_experiment()
    successor = deploy_successor(exp, exp.members)
    first = exp.ledger(exp.members[0])
    first.propose_successor(successor.deployment.address)
    exp.chain.time_travel(WINDOW + 1)
    caught = refusal(exp.ledger(exp.members[1]).vote_succession, True)
    assert (caught.name, caught.args_) == ("SuccessionUnexpectedState", (
        SuccessionState.VOTING_CLOSED, succession_bitmap(SuccessionState.VOTING)))
    first.finalize_succession()
    assert first.succession().state is SuccessionState.REJECTED and first.successor() is None


# ------------------------------------------------------------------ the reference model agrees


def views_on_chain(exp: Sandbox) -> Any:
    """The reference's window on proposed successors: the chain's own views."""
    def read(address: str) -> SuccessorViews | None:
        code = exp.chain.w3.eth.get_code(address)
        if not code:
            return None
        contract = exp.ledger(exp.members[0]).contract
        other = exp.chain.w3.eth.contract(address=address, abi=contract.abi)
        return SuccessorViews(other.functions.predecessor().call(), bytes(other.functions.initialDigest().call()),
                              int(other.functions.memberCount().call()))
    return read


@pytest.mark.parametrize("script", ["accept", "reject", "lapse", "refusals"])
def test_contract_and_reference_agree_on_succession(script: str) -> None:
    exp = embedded_experiment(3, outsiders=1, proposal_window=WINDOW, vote_window=WINDOW, start_time=START)
    reader = exp.ledger(exp.members[0])
    now = [int(exp.chain.w3.eth.get_block(exp.deployment.block)["timestamp"])]
    reference = ReferenceLedger(exp.deployment.params, clock=lambda: now[0], proposer_source=reader.proposer_of,
                                address=exp.deployment.address, successor_views=views_on_chain(exp))
    good = deploy_successor(exp, exp.members)
    bad = deploy_successor(exp, exp.members, initial_digest=bytes([7]) * 32)

    def both(account: str, action: str, *args: Any) -> None:
        now[0] = exp.chain.now()
        outcomes = []
        for ledger in (exp.ledger(account), reference.as_member(account)):
            try:
                getattr(ledger, action)(*args)
                outcomes.append(None)
            except ContractRevert as caught:
                outcomes.append((caught.name, caught.args_))
        assert outcomes[0] == outcomes[1], f"{action}: contract {outcomes[0]} != reference {outcomes[1]}"
        now[0] = exp.chain.now()
        assert reader.succession() == reference.succession()
        assert reader.successor() == reference.successor()
        assert reader.current_round() == reference.current_round()
        assert reader.is_finished() == reference.is_finished()
        for number in (reader.current_round() - 1, reader.current_round()):
            assert reader.round_state(number) == reference.state(number)

    a, b, c = exp.members
    outsider = exp.outsiders[0]
    drawn = reader.proposer_of(1)
    voters = [m for m in exp.members if m != drawn]
    both(drawn, "propose", 1, bytes([1]) * 32, "cid-1")
    if script == "refusals":
        both(outsider, "propose_successor", good.deployment.address)
        both(a, "propose_successor", bad.deployment.address)
        both(a, "propose_successor", outsider)
        both(a, "vote_succession", True)
        both(a, "finalize_succession")
    both(a, "propose_successor", good.deployment.address)
    both(b, "propose_successor", good.deployment.address)
    both(a, "vote_succession", True)
    both(b, "vote_succession", script != "reject")
    both(b, "vote_succession", True)
    both(c, "vote_succession", script != "reject")
    both(a, "finalize_succession")
    for voter in voters:
        both(voter, "vote", 1, script == "lapse", 1, 1)
    both(a, "finalize_succession")
    both(a, "finalize_succession")
    both(a, "propose", 2, bytes([2]) * 32, "cid-2")
    assert reader.history() == reference.history()
    expected = {"accept": SuccessionState.ACCEPTED, "reject": SuccessionState.REJECTED,
                "lapse": SuccessionState.LAPSED, "refusals": SuccessionState.ACCEPTED}[script]
    assert reader.succession().state is expected


def test_the_reference_refuses_a_successor_with_an_empty_roster() -> None:
    """Our constructor refuses an empty roster, so on-chain this check guards against other
    contract versions only; the reference model applies it with the contract's error."""
    exp = embedded_experiment(2, outsiders=0, proposal_window=WINDOW, vote_window=WINDOW, start_time=START)
    here, successor = exp.deployment.address, "0x" + "5e" * 20
    model = exp.deployment.params.initial_digest
    reference = ReferenceLedger(exp.deployment.params, clock=lambda: START, address=here,
                                successor_views=lambda _: SuccessorViews(here, model, 0))
    caught = refusal(reference.as_member(exp.members[0]).propose_successor, successor)
    assert (caught.name, caught.args_) == ("SuccessorRosterEmpty", (Web3.to_checksum_address(successor),))

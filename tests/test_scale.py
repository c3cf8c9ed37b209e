"""The committee simulation's core: the committee rules, the exact flip chance, the calibrated learner."""

from __future__ import annotations

import numpy as np
import pytest

from learnledger.ledger.api import ContractRevert, RoundState
from learnledger.scale.committee import (
    CommitteeLedger,
    accepts,
    committee_flip_probability,
    draw_committee,
)
from learnledger.scale.population import DigitPopulation
from learnledger.scale.simulate import addresses, make_ledger
from learnledger.scale.statistical import VoteNoise, fit_vote_noise

THRESHOLD = 5000


def play_rounds(ledger, votes_for_round, rounds: int) -> list[tuple[str, RoundState]]:
    """Propose and vote every round (each eligible voter as ``votes_for_round`` says); return outcomes."""
    members = [m.address for m in ledger.members()]
    outcomes = []
    for number in range(1, rounds + 1):
        proposer = ledger.proposer_of(number)
        ledger.as_member(proposer).propose(number, bytes([number]) * 32, f"cid{number}")
        voters = ledger.committee_of(number) if isinstance(ledger, CommitteeLedger) else [m for m in members if m != proposer]
        for voter in voters:
            ledger.as_member(voter).vote(number, votes_for_round(number)[members.index(voter)], 1, 1)
        outcomes.append((proposer, ledger.state(number)))
    return outcomes


def random_votes(labs: int, rounds: int, seed: int) -> dict[int, np.ndarray]:
    """Per round, each lab's vote: approval chances from 0 to 1, so many rounds are close."""
    rng = np.random.default_rng(seed)
    return {r: rng.random(labs) < rng.random() for r in range(1, rounds + 1)}


def test_a_committee_of_everyone_decides_exactly_as_the_reference_rules() -> None:
    labs, rounds = 9, 40
    votes = random_votes(labs, rounds, seed=3)
    reference = play_rounds(make_ledger(labs, None, seed=5, clock=lambda: 1000), votes.__getitem__, rounds)
    for k in (labs - 1, 50):  # everyone but the proposer, and more than that (capped)
        committee = play_rounds(make_ledger(labs, k, seed=5, clock=lambda: 1000), votes.__getitem__, rounds)
        assert committee == reference
    assert {state for _, state in reference} == {RoundState.ACCEPTED, RoundState.REJECTED}


def test_a_small_committee_counts_only_its_own_votes() -> None:
    labs, rounds, k = 9, 40, 3
    votes = random_votes(labs, rounds, seed=3)
    ledger = make_ledger(labs, k, seed=5, clock=lambda: 1000)
    members = [m.address for m in ledger.members()]
    outcomes = play_rounds(ledger, votes.__getitem__, rounds)
    differs = 0
    for number, (proposer, state) in enumerate(outcomes, start=1):
        committee = ledger.committee_of(number)
        assert len(committee) == k and proposer not in committee
        approvals = sum(bool(votes[number][members.index(v)]) for v in committee)
        assert (state is RoundState.ACCEPTED) == accepts(approvals, k, THRESHOLD)
        full = sum(bool(votes[number][i]) for i, m in enumerate(members) if m != proposer)
        differs += accepts(full, labs - 1, THRESHOLD) != accepts(approvals, k, THRESHOLD)
    assert differs > 0  # on close rounds a committee of 3 and the roster disagree


def test_a_member_outside_the_committee_is_refused() -> None:
    ledger = make_ledger(12, 3, seed=1, clock=lambda: 1000)
    proposer = ledger.proposer_of(1)
    ledger.as_member(proposer).propose(1, b"\x07" * 32, "cid")
    outsider = next(a for a in addresses(12) if a != proposer and a not in ledger.committee_of(1))
    with pytest.raises(ContractRevert) as refused:
        ledger.as_member(outsider).vote(1, True, 1, 1)
    assert refused.value.name == "VoterNotInCommittee"
    with pytest.raises(ContractRevert) as own:
        ledger.as_member(proposer).vote(1, True, 1, 1)
    assert own.value.name == "VoterIsProposer"


def test_the_exact_flip_chance_matches_drawn_committees() -> None:
    labs, k, approvals = 100, 9, 45  # 45 of 99 approve: the roster rejects, a committee often accepts
    proposer = 0
    yes = set(range(1, approvals + 1))
    draws = 4000
    accepted = sum(
        accepts(len(yes.intersection(draw_committee(b"s", r, proposer, labs, k))), k, THRESHOLD)
        for r in range(draws)
    )
    exact = committee_flip_probability(approvals, labs - 1, k, THRESHOLD)
    assert 0.3 < exact < 0.5
    assert abs(accepted / draws - exact) < 4 * np.sqrt(exact * (1 - exact) / draws)
    assert committee_flip_probability(approvals, labs - 1, labs - 1, THRESHOLD) == 0.0


def test_the_vote_noise_fit_recovers_the_noise_that_made_the_votes() -> None:
    rng = np.random.default_rng(11)
    truth = VoteNoise(sigma=0.03, tau=0.01)
    deltas = np.repeat(rng.normal(0.0, 0.05, 400), 50)
    votes = deltas + truth.sigma * rng.standard_normal(deltas.size) > truth.tau
    fitted = fit_vote_noise(deltas, votes)
    assert fitted.sigma == pytest.approx(truth.sigma, rel=0.08)
    assert fitted.tau == pytest.approx(truth.tau, abs=0.003)


def test_real_learners_approve_an_honest_proposal_and_reject_a_spoiled_one() -> None:
    population = DigitPopulation(20, seed=2)
    start = population.initial_model()
    honest = population.propose(0, start, round=1, spoiled=False)
    assert population.accuracy(honest) > population.accuracy(start) + 0.2
    assert population.judge(honest, start).mean() > 0.9
    spoiled = population.propose(1, honest, round=2, spoiled=True)
    assert population.accuracy(spoiled) < population.accuracy(honest)
    assert population.judge(spoiled, honest).mean() < 0.2

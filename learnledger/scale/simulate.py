"""Rounds under every-member voting or a committee, with bad-data labs and a colluding coalition.

One trajectory is one experiment: the reference rules (``ReferenceLedger``, or ``CommitteeLedger``
for a committee or for a roster past the contract's 256) draw each round's proposer (and
committee); the proposer's lab makes a proposal (a spoiled one if the lab has bad data or is in the
coalition); every lab forms its honest opinion; the drawn voters vote through the ledger, which
finalizes the round on the last eligible vote. Alongside, every round records what every-member
voting would have decided on the same proposal, so a committee's decisions can be compared with
the whole roster's on identical inputs, and ``mean_flip`` gives the exact chance that a committee
of any size would have decided otherwise (``committee_flip_probability``).

The coalition votes as one: it approves its own members' (spoiled) proposals and rejects everyone
else's. Bad-data labs train on shuffled labels but judge honestly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from eth_utils import to_checksum_address

from learnledger.ledger.api import RoundState
from learnledger.ledger.params import MAX_MEMBERS, ExperimentParams
from learnledger.ledger.reference import ReferenceLedger
from learnledger.scale.committee import CommitteeLedger, accepts, committee_flip_probability

THRESHOLD_BPS = 5000


class Population(Protocol):
    """What a simulation needs of its labs (``DigitPopulation`` or ``StatisticalPopulation``)."""

    labs: int

    def initial_model(self) -> Any: ...
    def propose(self, lab: int, model: Any, round: int, spoiled: bool) -> Any: ...
    def judge(self, candidate: Any, current: Any) -> np.ndarray: ...
    def accuracy(self, model: Any) -> float: ...


@dataclass(frozen=True)
class Scenario:
    """Who is not honest: a fraction of bad-data labs, or of colluding labs."""

    name: str
    bad_fraction: float = 0.0
    colluder_fraction: float = 0.0

    def roles(self, labs: int, seed: int) -> np.ndarray:
        """0 honest, 1 bad data, 2 colluder, per lab (a seeded choice of which labs)."""
        roles = np.zeros(labs, dtype=np.int8)
        order = np.random.default_rng([seed, 17]).permutation(labs)
        bad = round(self.bad_fraction * labs)
        colluders = round(self.colluder_fraction * labs)
        roles[order[:bad]] = 1
        roles[order[bad : bad + colluders]] = 2
        return roles


HONEST, BAD, COLLUDER = 0, 1, 2


@dataclass
class RoundRow:
    """One round: who proposed, the proposal's true effect, and both decisions."""

    round: int
    proposer_role: int
    accuracy_before: float
    candidate_accuracy: float
    honest_approval: float
    """Fraction of the honest (and bad-data) labs, proposer excluded, whose opinion is yes."""
    honest_voters: int
    """How many labs that is (every lab outside the coalition, proposer excluded)."""
    full_approvals: int
    eligible: int
    full_accepts: bool
    accepted: bool
    """What this trajectory's ledger decided (a committee's or every member's)."""


@dataclass
class Trajectory:
    """A whole run under one design."""

    scenario: str
    labs: int
    k: int | None
    rows: list[RoundRow]
    accuracy: list[float]
    """The shared model's accuracy after each round (index 0: before round 1)."""

    def rounds_to(self, target: float) -> int | None:
        return next((i for i, a in enumerate(self.accuracy) if a >= target), None)

    def summary(self, targets: Sequence[float]) -> dict[str, Any]:
        rows = self.rows
        false_accepts = sum(r.accepted and not r.full_accepts for r in rows)
        false_rejects = sum(not r.accepted and r.full_accepts for r in rows)
        spoiled_accepted = sum(r.accepted and r.proposer_role != HONEST for r in rows)
        return {
            "scenario": self.scenario,
            "labs": self.labs,
            "k": self.k,
            "rounds": len(rows),
            "final_accuracy": self.accuracy[-1],
            "best_accuracy": max(self.accuracy),
            "accepted": sum(r.accepted for r in rows),
            "spoiled_accepted": spoiled_accepted,
            "false_accepts": false_accepts,
            "false_rejects": false_rejects,
            **{f"rounds_to_{t:.2f}": self.rounds_to(t) for t in targets},
        }


def addresses(labs: int) -> tuple[str, ...]:
    """Distinct, deterministic, checksummed addresses for ``labs`` simulated labs."""
    return tuple(
        to_checksum_address("0x" + hashlib.sha256(f"lab-{i}".encode()).hexdigest()[:40]) for i in range(labs)
    )


def make_ledger(labs: int, k: int | None, seed: int, clock: Any) -> ReferenceLedger:
    """Every-member voting (the reference rules), or a committee of ``k``."""
    members = addresses(labs)
    params = ExperimentParams(
        members=members,
        group_names=tuple(f"lab{i}" for i in range(labs)),
        spec_digest=b"\x01" * 32,
        spec_cid="spec",
        initial_digest=b"\x02" * 32,
        initial_cid="initial",
        threshold_bps=THRESHOLD_BPS,
    )
    if k is None and labs <= MAX_MEMBERS:
        return ReferenceLedger(params, clock, seed=seed)
    return CommitteeLedger(params, clock, k=labs - 1 if k is None else k, seed=seed)


def run_trajectory(
    population: Population,
    scenario: Scenario,
    k: int | None,
    rounds: int,
    seed: int = 0,
) -> Trajectory:
    """Play ``rounds`` rounds of ``scenario`` under a committee of ``k`` (None: every member)."""
    labs = population.labs
    roles = scenario.roles(labs, seed)
    ledger = make_ledger(labs, k, seed, clock=lambda: 1_000_000)
    members = [m.address for m in ledger.members()]
    index = {address: i for i, address in enumerate(members)}
    handles = [ledger.as_member(address) for address in members]
    model = population.initial_model()
    accuracy = [population.accuracy(model)]
    rows = []
    for _ in range(rounds):
        number = ledger.current_round()
        proposer = index[ledger.proposer_of(number)]
        role = int(roles[proposer])
        candidate = population.propose(proposer, model, number, spoiled=role != HONEST)
        opinions = population.judge(candidate, model)
        votes = np.where(roles == COLLUDER, role == COLLUDER, opinions)
        votes[proposer] = False
        eligible = labs - 1
        full_approvals = int(votes.sum())
        handles[proposer].propose(number, hashlib.sha256(f"{seed}:{number}".encode()).digest(), f"cid-{number}")
        voters = (
            [index[a] for a in ledger.committee_of(number)]
            if isinstance(ledger, CommitteeLedger)
            else [i for i in range(labs) if i != proposer]
        )
        for voter in voters:
            handles[voter].vote(number, bool(votes[voter]), 0, 0)
        accepted = ledger.state(number) is RoundState.ACCEPTED
        honest = (roles != COLLUDER) & (np.arange(labs) != proposer)
        row = RoundRow(
            round=number,
            proposer_role=role,
            accuracy_before=accuracy[-1],
            candidate_accuracy=population.accuracy(candidate),
            honest_approval=float(opinions[honest].mean()) if honest.any() else 0.0,
            honest_voters=int(honest.sum()),
            full_approvals=full_approvals,
            eligible=eligible,
            full_accepts=accepts(full_approvals, eligible, THRESHOLD_BPS),
            accepted=accepted,
        )
        rows.append(row)
        if accepted:
            model = candidate
        accuracy.append(row.candidate_accuracy if accepted else accuracy[-1])
    return Trajectory(scenario.name, labs, k, rows, accuracy)


def mean_flip(rows: Sequence[RoundRow], k: int, role: int | None = None) -> float:
    """The mean exact chance that a committee of ``k`` decides otherwise than every member.

    Over the rows whose proposer has ``role`` (None: every row); NaN when there are none.
    """
    chosen = [r for r in rows if role is None or r.proposer_role == role]
    if not chosen:
        return float("nan")
    return float(np.mean([
        committee_flip_probability(r.full_approvals, r.eligible, k, THRESHOLD_BPS) for r in chosen
    ]))


def harmful_accept(rows: Sequence[RoundRow], k: int) -> float:
    """The chance per proposal that a committee of ``k`` accepts what lowers the true accuracy and
    every member rejected (the error that costs the shared model something)."""
    if not rows:
        return float("nan")
    return float(np.mean([
        committee_flip_probability(r.full_approvals, r.eligible, k, THRESHOLD_BPS)
        if not r.full_accepts and r.candidate_accuracy < r.accuracy_before else 0.0
        for r in rows
    ]))


def smallest_committee(rows: Sequence[RoundRow], bound: float, role: int | None = None, largest: int = 1001,
                       harmful: bool = False) -> int | None:
    """The smallest odd k whose mean flip chance over ``rows`` is below ``bound`` (None: none up to
    ``largest``); ``harmful``: counting only ``harmful_accept``."""
    def error(k: int) -> float:
        return harmful_accept(rows, k) if harmful else mean_flip(rows, k, role)

    return next((k for k in range(1, largest + 1, 2) if error(k) < bound), None)

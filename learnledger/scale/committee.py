"""The round rules with a voting committee: each round only ``k`` drawn members score and vote.

``CommitteeLedger`` is ``ReferenceLedger`` with two changes, and nothing else: when a round opens,
``k`` of the members other than its proposer are drawn (seeded here; on a chain it would come from
the same randomness as the proposer, so nobody knows the committee before the round opens), and the
acceptance rule counts the committee instead of every member (``approvals * 10000 >= threshold *
k``). With ``k >= members - 1`` the committee is everyone but the proposer, so it decides exactly as
the reference rules do. The contract cap of 256 members is lifted: a committee's cost does not grow
with the roster.

``committee_flip_probability`` is the exact chance (hypergeometric) that a uniformly drawn committee
decides otherwise than the whole roster, given how the whole roster voted.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable

import numpy as np
from scipy.stats import hypergeom

from learnledger.ledger.api import ContractRevert
from learnledger.ledger.params import ExperimentParams
from learnledger.ledger.reference import BPS, ReferenceLedger

SIMULATED_MAX_MEMBERS = 1_000_000
"""A roster cap for simulations only; the contract's is 256."""

NOT_IN_COMMITTEE_HINT = "only the round's drawn committee votes; see committee_of(round)"


def accepts(approvals: int, eligible: int, threshold_bps: int) -> bool:
    """The contract's rule: accepted iff ``approvals * 10000 >= threshold_bps * eligible``."""
    return approvals * BPS >= threshold_bps * eligible


def approvals_needed(eligible: int, threshold_bps: int) -> int:
    """The fewest approvals that accept, out of ``eligible`` voters."""
    return math.ceil(threshold_bps * eligible / BPS)


def draw_committee(seed: bytes, round: int, proposer_index: int, members: int, k: int) -> tuple[int, ...]:
    """``k`` distinct roster indices, never the proposer's, drawn from ``(seed, round)``.

    Args:
        seed: the simulation's seed (on a chain: the round's randomness).
        round: the round number.
        proposer_index: the proposer's roster index (excluded).
        members: the roster's size.
        k: the committee size; capped at ``members - 1`` (then it is everyone but the proposer).
    """
    if k < 1:
        raise ValueError(f"a committee needs at least one voter, received: k={k!r}")
    others = [i for i in range(members) if i != proposer_index]
    if k >= len(others):
        return tuple(others)
    draw = hashlib.sha256(seed + b":committee:" + str(round).encode()).digest()
    rng = np.random.default_rng(int.from_bytes(draw[:8], "big"))
    picked = rng.choice(len(others), size=k, replace=False)
    return tuple(sorted(others[int(i)] for i in picked))


class CommitteeLedger(ReferenceLedger):
    """``ReferenceLedger`` where each round's voters are a drawn committee of ``k`` members.

    Args:
        params: the experiment (any roster size up to ``SIMULATED_MAX_MEMBERS``).
        clock: now, in unix seconds.
        k: the committee size (capped at members - 1).
        seed: seeds both the proposer and the committee draws. Default 0.
        proposer_source: as for ``ReferenceLedger``.
    """

    max_members = SIMULATED_MAX_MEMBERS

    def __init__(
        self,
        params: ExperimentParams,
        clock: Callable[[], float],
        k: int,
        seed: int | str | bytes = 0,
        proposer_source: Callable[[int], str] | None = None,
    ) -> None:
        if k < 1:
            raise ValueError(f"a committee needs at least one voter, received: k={k!r}")
        self.k = k
        self._committees: dict[int, frozenset[int]] = {}
        super().__init__(params, clock, seed, proposer_source)

    def committee_of(self, round: int) -> tuple[str, ...]:
        """The addresses drawn to vote in ``round`` (an opened round)."""
        self.proposer_of(round)  # refuses an unopened round as the contract would
        return tuple(self._members[i] for i in sorted(self._committees[round]))

    def vote(self, caller: str, round: int, approve: bool, vote_score: int, test_score: int) -> None:
        index = self._index.get(caller)
        data = self._rounds.get(round)
        if index is not None and data is not None and index != data.proposer_index:
            if index not in self._committees[round]:
                raise ContractRevert("VoterNotInCommittee", (round, caller), NOT_IN_COMMITTEE_HINT)
        super().vote(caller, round, approve, vote_score, test_score)

    def _eligible(self, round: int) -> int:
        return len(self._committees[round])

    def _open_round(self, round: int) -> None:
        super()._open_round(round)
        proposer = self._rounds[round].proposer_index
        self._committees[round] = frozenset(draw_committee(self._seed, round, proposer, len(self._members), self.k))


def committee_flip_probability(approvals: int, eligible: int, k: int, threshold_bps: int) -> float:
    """The chance a uniform committee of ``k`` decides otherwise than all ``eligible`` voters.

    ``approvals`` of the ``eligible`` voters approve; the committee is a draw without replacement,
    so its approvals are hypergeometric. ``k >= eligible`` gives 0 (the committee is everyone).
    """
    if k >= eligible:
        return 0.0
    full = accepts(approvals, eligible, threshold_bps)
    need = approvals_needed(k, threshold_bps)
    p_accept = float(hypergeom.sf(need - 1, eligible, approvals, k))
    return 1.0 - p_accept if full else p_accept

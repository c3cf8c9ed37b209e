"""Dataset valuation, the paper's second use case: what each group's data brought the shared model.

A group's data shows only through its proposals: how many it made, how many the others accepted,
and how much each accepted one moved the shared model's test score, as the voters measured it on
their own test sets. The gain of an accepted round is, over the voters that scored both, the median
of (their score of the new model - their score of the shared model it replaced), the replaced one
being the previous accepted proposal; the first accepted proposal has no on-chain baseline (the
initial weights are never scored on-chain), so it counts as accepted but brings no gain figure.

Why the median: a voter reports its own test score, and one voter colluding with a proposer could
report anything. Of three or more voters, one extreme figure cannot move the median outside the
honest voters' gains; a score outside the contract's range [0, 100] (metric units) is not a
measurement and is left out (the contract refuses such votes since issue 15; older chains did not).
With two voters the median is their mean: the range bounds what one of them can do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean, median
from typing import Any


@dataclass(frozen=True)
class GroupValue:
    """One group's record as a proposer, and its rank (1 = brought the most)."""

    group: str
    proposals: int
    accepted: int
    acceptance_rate: float | None
    """accepted / proposals; None if it never proposed."""
    mean_gain: float | None
    """Mean test-score gain over its accepted proposals that have a baseline; None if none has."""
    total_gain: float
    rank: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.group, "proposals": self.proposals, "accepted": self.accepted,
                "acceptance_rate": self.acceptance_rate, "mean_gain": self.mean_gain,
                "total_gain": self.total_gain, "rank": self.rank}


SCORE_RANGE = (0.0, 100.0)
"""The scores the contract accepts (MAX_SCORE / 1e6): accuracy in [0, 1], a loss at most 16.2."""


def _test_scores(row: Mapping[str, Any]) -> dict[str, float]:
    votes: Mapping[str, Mapping[str, Any]] = row.get("votes") or {}
    low, high = SCORE_RANGE
    scores = {group: float(v["test_score"]) for group, v in votes.items() if v.get("test_score") is not None}
    return {group: score for group, score in scores.items() if low <= score <= high}


def score_gain(new: Mapping[str, float], old: Mapping[str, float], higher_is_better: bool = True) -> float | None:
    """The gain from the scores ``old`` to ``new`` (group -> test score); None if either is empty."""
    common = sorted(set(new) & set(old))
    if common:
        gain = median(new[g] - old[g] for g in common)
    elif new and old:  # no voter scored both (the two proposers voted on each other's): compare medians
        gain = median(new.values()) - median(old.values())
    else:
        return None
    return gain if higher_is_better else -gain


def value_datasets(
    rows: Sequence[Mapping[str, Any]], groups: Sequence[str], higher_is_better: bool = True
) -> list[GroupValue]:
    """Every group's value, ranked by total gain, then acceptance rate, then accepted count.

    Args:
        rows: rounds as JSON rows (``round_to_json``: the audit's rows or a run's rounds.jsonl).
        groups: every group of the roster (those that never proposed are listed too).
        higher_is_better: the metric's direction (False for a loss). Default True.
    """
    proposals = {g: 0 for g in groups}
    accepted = {g: 0 for g in groups}
    gains: dict[str, list[float]] = {g: [] for g in groups}
    shared: dict[str, float] | None = None
    for row in sorted(rows, key=lambda r: int(r["round"])):
        if row.get("cid") is None:
            continue
        proposer = str(row["proposer"])
        proposals[proposer] = proposals.get(proposer, 0) + 1
        if row.get("outcome") != "accepted":
            continue
        accepted[proposer] = accepted.get(proposer, 0) + 1
        scores = _test_scores(row)
        if shared is not None:
            gain = score_gain(scores, shared, higher_is_better)
            if gain is not None:
                gains.setdefault(proposer, []).append(gain)
        shared = scores
    values = [
        GroupValue(group, proposals[group], accepted.get(group, 0),
                   accepted.get(group, 0) / proposals[group] if proposals[group] else None,
                   fmean(gains[group]) if gains.get(group) else None, sum(gains.get(group, [])))
        for group in proposals
    ]
    values.sort(key=lambda v: (-v.total_gain, -(v.acceptance_rate or 0.0), -v.accepted, v.group))
    return [GroupValue(v.group, v.proposals, v.accepted, v.acceptance_rate, v.mean_gain, v.total_gain, rank)
            for rank, v in enumerate(values, start=1)]

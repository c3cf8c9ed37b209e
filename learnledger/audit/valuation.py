"""Dataset valuation, the paper's second use case: what each group's data brought the shared model.

A group's data shows only through its proposals: how many it made, how many the others accepted,
and how much each accepted one moved the shared model's test score, as the voters measured it on
their own test sets. The gain of an accepted round is, over the voters that scored both, the median
of (their score of the new model - their score of the shared model it replaced), the replaced one
being the previous accepted proposal; the first accepted proposal has no on-chain baseline (the
initial weights are never scored on-chain), so it counts as accepted but brings no gain figure.

A gain is a difference of two accuracies measured on a few hundred examples, so it has a
statistical error (``learnledger.report.stats``). Given the test-set sizes, a group's rank is one
plus the number of groups whose total gain is higher by more than ``NOISE_SIGMAS`` combined errors:
groups the data cannot tell apart share a rank, and each lists the groups it is not distinguishable
from, instead of being ordered within the noise.

Why the median: a voter reports its own test score, and one voter colluding with a proposer could
report anything. Of three or more voters, one extreme figure cannot move the median outside the
honest voters' gains; a score outside the contract's range [0, 100] (metric units) is not a
measurement and is left out (the contract refuses such votes since issue 15; older chains did not).
With two voters the median is their mean: the range bounds what one of them can do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from statistics import fmean, median
from typing import Any

from learnledger.report.stats import difference_error

NOISE_SIGMAS = 2.0
"""Two groups' total gains are told apart only if they differ by more than this many standard errors."""


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
    total_gain_error: float | None = None
    """Standard error of total_gain (None: the test-set sizes are unknown; 0 with no gain measured)."""
    tied: bool = False
    """Some other group's total gain is within the noise of its own."""
    indistinguishable: tuple[str, ...] = ()
    """The groups whose total gains are within the noise of its own."""

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.group, "proposals": self.proposals, "accepted": self.accepted,
                "acceptance_rate": self.acceptance_rate, "mean_gain": self.mean_gain,
                "total_gain": self.total_gain, "total_gain_error": self.total_gain_error,
                "rank": self.rank, "tied": self.tied, "indistinguishable": list(self.indistinguishable)}

    def distinguishable_from(self, other: GroupValue) -> bool:
        """Whether the total gains differ by more than the noise (always, when errors are unknown)."""
        if self.total_gain_error is None or other.total_gain_error is None:
            return self.total_gain != other.total_gain
        noise = NOISE_SIGMAS * (self.total_gain_error ** 2 + other.total_gain_error ** 2) ** 0.5
        return abs(self.total_gain - other.total_gain) > noise


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
    rows: Sequence[Mapping[str, Any]], groups: Sequence[str], higher_is_better: bool = True,
    test_examples: Mapping[str, int] | None = None,
) -> list[GroupValue]:
    """Every group's value, ranked by total gain, then acceptance rate, then accepted count.

    Args:
        rows: rounds as JSON rows (``round_to_json``: the audit's rows or a run's rounds.jsonl).
        groups: every group of the roster (those that never proposed are listed too).
        higher_is_better: the metric's direction (False for a loss). Default True.
        test_examples: group -> test-set size, for an accuracy: gains get binomial errors and
            groups within the noise of each other share a rank. Default None: no errors, and every
            difference ranks.
    """
    proposals = {g: 0 for g in groups}
    accepted = {g: 0 for g in groups}
    gains: dict[str, list[float]] = {g: [] for g in groups}
    variances: dict[str, list[float]] = {g: [] for g in groups}
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
                error = difference_error(scores, shared, test_examples) if test_examples else None
                variances.setdefault(proposer, []).append(float("nan") if error is None else error ** 2)
        shared = scores
    values = [
        GroupValue(group, proposals[group], accepted.get(group, 0),
                   accepted.get(group, 0) / proposals[group] if proposals[group] else None,
                   fmean(gains[group]) if gains.get(group) else None, sum(gains.get(group, [])),
                   total_gain_error=_total_error(variances.get(group, []), test_examples))
        for group in proposals
    ]
    values.sort(key=lambda v: (-v.total_gain, -(v.acceptance_rate or 0.0), -v.accepted, v.group))
    return _ranked(values)


def _total_error(variances: Sequence[float], test_examples: Mapping[str, int] | None) -> float | None:
    if not test_examples or any(v != v for v in variances):  # NaN: a voter's test-set size unknown
        return None
    return sum(variances) ** 0.5


def _ranked(values: Sequence[GroupValue]) -> list[GroupValue]:
    """Ranks: by position while errors are unknown; else 1 + the groups clearly above (see the module)."""
    if any(v.total_gain_error is None for v in values):
        return [replace(v, rank=position) for position, v in enumerate(values, start=1)]
    ranked = []
    for value in values:
        above = [o for o in values if o.total_gain > value.total_gain and o.distinguishable_from(value)]
        alike = tuple(o.group for o in values if o is not value and not o.distinguishable_from(value))
        ranked.append(replace(value, rank=1 + len(above), tied=bool(alike), indistinguishable=alike))
    return ranked

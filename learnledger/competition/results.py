"""Medians, the winner and the tie rule, in plain Python: the mirror of the contract's finalize.

The contract is the judge; this module lets the audit and the tests say what it should decide from
the events alone. The rules:

- A score counts unless it is ``NO_SCORE`` (the evaluator abstained) or the evaluator's own entry's
  (an evaluator never judges its own model); only revealed scores exist at all.
- An entry's result is the median of its counted scores: the middle one, or for an even count the
  mean of the two middle ones rounded toward zero (Solidity's integer division).
- The winner has the highest median; ties go to the entry with more counted scores, then to the
  earlier entry. An entry nobody scored has no median and cannot win.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from learnledger.competition.api import NO_SCORE, EntryRecord, Reveal


def median(scores: Sequence[int]) -> int:
    """The contract's median of integer scores (0 for none)."""
    ordered = sorted(scores)
    count = len(ordered)
    if count == 0:
        return 0
    middle = count // 2
    if count % 2 == 1:
        return ordered[middle]
    total = ordered[middle - 1] + ordered[middle]
    return abs(total) // 2 * (1 if total >= 0 else -1)  # rounded toward zero, as Solidity divides


def counted_scores(entry: EntryRecord, reveals: Sequence[Reveal]) -> list[int]:
    """The scores that count for ``entry``: revealed, not abstained, not by its own entrant."""
    return [
        reveal.scores[entry.index]
        for reveal in reveals
        if reveal.scores[entry.index] != NO_SCORE and reveal.evaluator.lower() != entry.entrant.lower()
    ]


@dataclass(frozen=True)
class EntryResult:
    """One entry's standing: its median and how many scores it rests on."""

    entry: EntryRecord
    median: int | None
    score_count: int


def tally(entries: Sequence[EntryRecord], reveals: Sequence[Reveal]) -> list[EntryResult]:
    """Every entry's result, in entry order."""
    for reveal in reveals:
        if len(reveal.scores) != len(entries):
            raise ValueError(
                f"evaluator {reveal.evaluator} revealed {len(reveal.scores)} scores for {len(entries)} entries"
            )
    results = []
    for entry in entries:
        counted = counted_scores(entry, reveals)
        results.append(EntryResult(entry, median(counted) if counted else None, len(counted)))
    return results


def rank_key(result: EntryResult) -> tuple[int, int, int]:
    """Sorts best first: higher median, then more scores, then the earlier entry."""
    assert result.median is not None
    return (-result.median, -result.score_count, result.entry.index)


def ranking(results: Sequence[EntryResult]) -> list[EntryResult]:
    """Scored entries best first by the tie rule, then the unscored ones in entry order."""
    scored = sorted((r for r in results if r.median is not None), key=rank_key)
    return scored + [r for r in results if r.median is None]


def winner(results: Sequence[EntryResult]) -> EntryResult | None:
    """The winning entry's result, or None when no entry was scored."""
    ranked = ranking(results)
    return ranked[0] if ranked and ranked[0].median is not None else None

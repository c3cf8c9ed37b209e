"""Medians, the winner and the tie rule, in plain Python: the mirror of the contract's finalize.

The contract is the judge; this module lets the audit and the tests say what it should decide from
the events alone, and gives whoever finalizes the medians the contract checks. The rules:

- A score counts unless it is ``NO_SCORE`` (the evaluator abstained); only revealed scores exist
  at all. An evaluator's score for its own entry counts like any other: the median is robust to it.
- An entry's result is the lower median of its counted scores: the one at position (k - 1) // 2 of
  the k scores in ascending order. One dishonest evaluator among three cannot move it outside the
  honest scores; with two scores it is the smaller, so one of two cannot raise it.
- An entry whose entrant is also an evaluator that committed and did not reveal (it withheld after
  seeing the others' reveals) cannot win.
- The winner has the highest median among the rest; ties go to the earlier entry. An entry nobody
  scored has no median and cannot win.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from learnledger.competition.api import NO_SCORE, EntryRecord, Reveal


def median(scores: Sequence[int]) -> int:
    """The contract's (lower) median of integer scores (0 for none)."""
    ordered = sorted(scores)
    return ordered[(len(ordered) - 1) // 2] if ordered else 0


def counted_scores(entry: EntryRecord, reveals: Sequence[Reveal]) -> list[int]:
    """The scores that count for ``entry``: revealed and not abstained."""
    return [reveal.scores[entry.index] for reveal in reveals if reveal.scores[entry.index] != NO_SCORE]


@dataclass(frozen=True)
class EntryResult:
    """One entry's standing: its median, how many scores it rests on, whether it may win."""

    entry: EntryRecord
    median: int | None
    score_count: int
    withheld: bool = False
    """Its entrant committed scores as an evaluator and withheld them: it cannot win."""


def tally(
    entries: Sequence[EntryRecord], reveals: Sequence[Reveal], withholders: Collection[str] = ()
) -> list[EntryResult]:
    """Every entry's result, in entry order; ``withholders`` are the evaluators that committed and
    did not reveal (their entries cannot win)."""
    for reveal in reveals:
        if len(reveal.scores) != len(entries):
            raise ValueError(
                f"evaluator {reveal.evaluator} revealed {len(reveal.scores)} scores for {len(entries)} entries"
            )
    withheld = {address.lower() for address in withholders}
    results = []
    for entry in entries:
        counted = counted_scores(entry, reveals)
        results.append(EntryResult(entry, median(counted) if counted else None, len(counted),
                                   entry.entrant.lower() in withheld))
    return results


def can_win(result: EntryResult) -> bool:
    return result.median is not None and not result.withheld


def rank_key(result: EntryResult) -> tuple[int, int]:
    """Sorts best first: higher median, then the earlier entry."""
    assert result.median is not None
    return (-result.median, result.entry.index)


def ranking(results: Sequence[EntryResult]) -> list[EntryResult]:
    """Entries that may win, best first by the tie rule; then the others in entry order."""
    eligible = sorted((r for r in results if can_win(r)), key=rank_key)
    return eligible + [r for r in results if not can_win(r)]


def winner(results: Sequence[EntryResult]) -> EntryResult | None:
    """The winning entry's result, or None when no entry can win."""
    ranked = ranking(results)
    return ranked[0] if ranked and can_win(ranked[0]) else None

"""The one number a reader looks for first: how good the final shared model is, and how sure that is.

Two sources, best first: every group scoring the final model on its own test set (what ``run``
does at the end, kept in ``summary.json``), or, from the chain alone, the voters' test scores of the
last accepted proposal (the proposer does not score its own). The error is the binomial standard
error of that mean (``learnledger.report.stats``), known when the test-set sizes are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from learnledger.report.stats import mean_error, plus_minus
from learnledger.report.terms import ExperimentTerms


@dataclass(frozen=True)
class Headline:
    """The final shared model's mean test score, its error, and where the scores come from."""

    value: float
    error: float | None
    scores: dict[str, float]
    round: int | None
    """The round whose proposal is the final model (None: the initial weights)."""
    source: str

    def text(self, terms: ExperimentTerms) -> str:
        return f"{terms.score_label('final mean test')} {plus_minus(self.value, self.error)}"

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "error": self.error, "scores": self.scores, "round": self.round,
                "source": self.source}


def voters_test_scores(row: Mapping[str, Any]) -> dict[str, float]:
    """group -> test score the voters gave the round's proposal (those that could score it)."""
    votes: Mapping[str, Mapping[str, Any]] = row.get("votes") or {}
    return {g: float(v["test_score"]) for g, v in votes.items() if v.get("test_score") is not None}


def last_accepted(rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    accepted = [r for r in rows if r.get("outcome") == "accepted"]
    return max(accepted, key=lambda r: int(r["round"])) if accepted else None


def final_result(
    rows: Sequence[Mapping[str, Any]],
    terms: ExperimentTerms,
    final_test_scores: Mapping[str, float] | None = None,
) -> Headline | None:
    """The headline; None while no round was accepted and no final scores are given."""
    last = last_accepted(rows)
    number = int(last["round"]) if last else None
    if final_test_scores:
        scores = dict(final_test_scores)
        source = "every group scored the final model on its own test set"
    elif last is not None and voters_test_scores(last):
        scores = voters_test_scores(last)
        source = f"the voters' test scores of round {number}'s accepted proposal (from the chain)"
    elif terms.baseline_test_scores and last is None:
        scores = dict(terms.baseline_test_scores)
        source = "no proposal accepted yet: the initial weights (round 0)"
    else:
        return None
    error = mean_error(scores, terms.test_examples) if terms.has_errors else None
    return Headline(fmean(scores.values()), error, scores, number, source)

"""summary.json: the few figures a run ends with, in one shape for the run that writes them and the
audit that writes them again from the chain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def summarize(
    name: str,
    ledger: str,
    rows: Sequence[Mapping[str, object]],
    final_test_scores: Mapping[str, float],
    final_model_digest: str | None,
    wall_s: float,
) -> dict[str, object]:
    """summary.json: how the rounds ended and how good the final shared model is for each group."""
    outcomes = [row["outcome"] for row in rows]
    scores = list(final_test_scores.values())
    return {
        "experiment": name,
        "ledger": ledger,
        "rounds": len(rows),
        "accepted": outcomes.count("accepted"),
        "rejected": outcomes.count("rejected"),
        "skipped": outcomes.count("skipped"),
        "final_model_digest": final_model_digest,
        "final_test_scores": dict(final_test_scores),
        "final_mean_test_score": sum(scores) / len(scores) if scores else None,
        "wall_time_s": round(wall_s, 3),
    }

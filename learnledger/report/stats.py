"""Statistical errors of the scores a report shows: how far a measured accuracy can move by chance.

A test accuracy measured on ``n`` examples is a binomial proportion: its standard error is
``sqrt(p (1 - p) / n)``. About 333 test digits give +-0.012 near p = 0.95, so differences of a few
thousandths between groups or rounds are noise, and the report says so instead of ranking them.
``p`` is smoothed to ``(k + 1) / (n + 2)`` (Laplace) so that a perfect or null score still gets a
non-zero error. Only proportions (accuracy) have a binomial error; a loss has none here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

PROPORTION_METRICS = ("accuracy",)
"""Metrics that are a fraction of examples right, whose error follows from the test-set size."""


def binomial_error(p: float, n: int) -> float:
    """Standard error of an accuracy ``p`` measured on ``n`` examples (Laplace-smoothed ``p``)."""
    if n <= 0:
        raise ValueError(f"a test set needs at least one example, received: n={n}")
    smoothed = (p * n + 1) / (n + 2)
    return math.sqrt(smoothed * (1 - smoothed) / (n + 2))


def mean_error(scores: Mapping[str, float], sizes: Mapping[str, int]) -> float | None:
    """Standard error of the mean of ``scores`` (group -> accuracy on that group's own test set).

    The groups' test sets are disjoint, so the errors add in quadrature; None if a group's size
    is unknown.
    """
    if not scores or any(group not in sizes for group in scores):
        return None
    variance = sum(binomial_error(p, sizes[group]) ** 2 for group, p in scores.items())
    return math.sqrt(variance) / len(scores)


def difference_error(new: Mapping[str, float], old: Mapping[str, float], sizes: Mapping[str, int]) -> float | None:
    """Error of (mean of ``new``) - (mean of ``old``), both measured by the same groups.

    The two models are scored on the same examples, which makes the difference's error smaller
    than this (the paired errors partly cancel); adding them as if independent is the cautious
    upper bound, which is what a claim that one group's data helped more should survive.
    """
    a, b = mean_error(new, sizes), mean_error(old, sizes)
    return None if a is None or b is None else math.hypot(a, b)


def plus_minus(value: float, error: float | None, digits: int = 3) -> str:
    """``0.955 +- 0.012`` (with the real plus-minus sign), or the value alone without an error."""
    return f"{value:.{digits}f}" if error is None else f"{value:.{digits}f} \u00b1 {error:.{digits}f}"

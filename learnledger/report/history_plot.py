"""The paper's Figure 2: how an experiment went, round by round, drawn from its rounds alone.

Three panels share the round axis:

1. test scores (named by the metric, e.g. "test accuracy"): what each voter measured on its private
   test set for the round's proposal, with its binomial error bar when the test-set sizes are known;
   their mean; the shared model's mean test score (it changes only when a round is accepted); and
   the initial weights' mean (round 0) when it was measured;
2. vote scores: the same on the voters' vote sets, the scores they voted on;
3. the vote grid: one row per learner, one column per round; green approve, red reject, grey no
   vote, "P" the proposer; a top row gives the round's outcome (accepted, rejected, skipped).

Rejected rounds are shaded in the score panels, so a bad learner's proposals stand out. The rounds
are the dicts of ``learnledger.report.rounds`` (rounds.jsonl, or the audit's rebuild from the chain).
Drawing uses matplotlib's object API on the Agg canvas: no pyplot state, no display needed.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from learnledger.report.headline import final_result
from learnledger.report.stats import binomial_error
from learnledger.report.terms import ExperimentTerms

APPROVE, REJECT, NO_VOTE, PROPOSER = 0, 1, 2, 3
CELL_COLOURS = ("#2e9d49", "#d64541", "#d9d9d9", "#ffffff")
"""Grid cells: approve (green), reject (red), no vote (grey), proposer (white, marked "P")."""
OUTCOME_COLOURS = {"accepted": "#2e9d49", "rejected": "#d64541", "skipped": "#a6a6a6"}
OUTCOME_LETTERS = {"accepted": "A", "rejected": "R", "skipped": "S"}
REJECTED_SHADE = "#d64541"


def plot_history(
    rounds: Sequence[Mapping[str, Any]], groups: Sequence[str], out: Path, title: str = "",
    terms: ExperimentTerms | None = None, final_test_scores: Mapping[str, float] | None = None,
    marks: Sequence[tuple[float, str]] = (),
) -> None:
    """Draw the history of ``rounds`` for ``groups`` (roster order) into the PNG file ``out``.

    Args:
        rounds: one dict per finalized round (see ``learnledger.report.rounds``), any order.
        groups: the learners' group names, in the order their rows appear; groups that appear in
            the rounds but not here are added after them.
        out: the PNG to write (its folder is created; an existing file is replaced whole).
        title: the figure's title (e.g. the experiment's name).
        terms: the experiment's terms: the metric, the model and data (a subtitle), the test-set
            sizes (error bars and the headline's error) and the round-0 scores. Default: unknown.
        final_test_scores: every group's test score of the final model, where it was measured (a
            run measures it); the headline then uses them instead of the last accepted round's votes.
        marks: (x, label) of events between rounds, drawn as dashed lines across the panels (the
            hand-overs of a line of experiments: x = last round before it + 0.5).
    """
    figure = history_figure(rounds, groups, title, terms, final_test_scores, marks)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    figure.savefig(partial, format="png", dpi=120)
    partial.replace(out)


def history_figure(rounds: Sequence[Mapping[str, Any]], groups: Sequence[str], title: str = "",
                   terms: ExperimentTerms | None = None,
                   final_test_scores: Mapping[str, float] | None = None,
                   marks: Sequence[tuple[float, str]] = ()) -> Figure:
    """The figure ``plot_history`` saves: axes ``test``, ``vote`` and ``grid`` (in that order)."""
    terms = terms or ExperimentTerms()
    history = _History.of(rounds, groups)
    width = min(22.0, max(8.0, 3.0 + 0.32 * len(history.numbers)))
    height = 6.4 + 0.32 * (len(history.groups) + 1)
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    test_axes, vote_axes, grid_axes = figure.subplots(
        3, 1, sharex=True,
        gridspec_kw={"height_ratios": [3, 3, 0.5 + 0.28 * (len(history.groups) + 1)]},
    )
    figure.suptitle(_heading(title or terms.name or "collaborative learning history", rounds, terms,
                             final_test_scores, wrap=int(width * 10)), fontsize=11)
    if not history.numbers:
        for axes in (test_axes, vote_axes, grid_axes):
            axes.text(0.5, 0.5, "no finalized rounds yet", ha="center", va="center",
                      transform=axes.transAxes, color="#666666")
    _draw_scores(test_axes, history, "test_score", terms, shared=True)
    _draw_scores(vote_axes, history, "vote_score", terms, shared=False)
    _draw_grid(grid_axes, history)
    for x, label in marks:
        for axes in (test_axes, vote_axes, grid_axes):
            axes.axvline(x, color="#333333", lw=1.6, ls="--", zorder=5)
        test_axes.annotate(label, (x, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -3),
                           textcoords="offset points", ha="left", va="top", fontsize=8.5,
                           color="#333333", rotation=0)
    test_axes.set_label("test")
    vote_axes.set_label("vote")
    grid_axes.set_label("grid")
    return figure


class _History:
    """The rounds as arrays: one column per round, one row per group."""

    def __init__(self, numbers: list[int], groups: list[str], rows: list[Mapping[str, Any]]) -> None:
        self.numbers = numbers
        self.groups = groups
        self.rows = rows
        self.outcomes = [str(row.get("outcome", "skipped")) for row in rows]
        self.proposers = [row.get("proposer") for row in rows]

    @classmethod
    def of(cls, rounds: Sequence[Mapping[str, Any]], groups: Sequence[str]) -> _History:
        rows = sorted(rounds, key=lambda row: int(row["round"]))
        names = list(dict.fromkeys(groups))
        for row in rows:
            for name in [row.get("proposer"), *dict(row.get("votes") or {})]:
                if name is not None and name not in names:
                    names.append(str(name))
        return cls([int(row["round"]) for row in rows], names, rows)

    def scores(self, key: str) -> np.ndarray:
        """groups x rounds; NaN where a group gave no score (proposer, no vote, unscorable)."""
        table = np.full((len(self.groups), len(self.rows)), np.nan)
        for column, row in enumerate(self.rows):
            for group, vote in dict(row.get("votes") or {}).items():
                value = vote.get(key)
                if value is not None and math.isfinite(value):
                    table[self.groups.index(group), column] = value
        return table

    def shared_model_scores(self, key: str, initial: float = np.nan) -> np.ndarray:
        """The shared model's mean score after each round: the last accepted proposal's mean
        (``initial``, the initial weights' mean, until one is accepted)."""
        means = _column_means(self.scores(key))
        current = initial
        shared = np.full(len(self.rows), np.nan)
        for column, outcome in enumerate(self.outcomes):
            if outcome == "accepted":
                current = means[column]
            shared[column] = current
        return shared

    def cells(self) -> np.ndarray:
        """groups x rounds of APPROVE / REJECT / NO_VOTE / PROPOSER."""
        grid = np.full((len(self.groups), len(self.rows)), NO_VOTE)
        for column, row in enumerate(self.rows):
            for group, vote in dict(row.get("votes") or {}).items():
                grid[self.groups.index(group), column] = APPROVE if vote.get("approve") else REJECT
            if self.proposers[column] in self.groups:
                grid[self.groups.index(self.proposers[column]), column] = PROPOSER
        return grid


def _column_means(table: np.ndarray) -> np.ndarray:
    counts = np.sum(~np.isnan(table), axis=0)
    sums = np.nansum(table, axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _heading(title: str, rounds: Sequence[Mapping[str, Any]], terms: ExperimentTerms,
             final_test_scores: Mapping[str, float] | None, wrap: int) -> str:
    """The title with the headline result, then the terms wrapped to ``wrap`` characters."""
    lines = [title]
    headline = final_result(rounds, terms, final_test_scores)
    if headline is not None:
        lines[0] += f": {headline.text(terms)}"
    if terms.subtitle():
        lines += textwrap.wrap(terms.subtitle(), wrap)
    return "\n".join(lines)


def _draw_scores(axes: Any, history: _History, key: str, terms: ExperimentTerms, shared: bool) -> None:
    x = np.array(history.numbers)
    table = history.scores(key)
    colours = _group_colours(len(history.groups))
    errors = key == "test_score" and terms.has_errors
    for column, outcome in enumerate(history.outcomes):
        if outcome == "rejected":
            axes.axvspan(x[column] - 0.5, x[column] + 0.5, color=REJECTED_SHADE, alpha=0.07, lw=0)
    spans = [table]
    for index, group in enumerate(history.groups):
        if np.isnan(table[index]).all():
            continue
        size = terms.test_examples.get(group)
        if errors and size:
            bars = np.array([binomial_error(p, size) if np.isfinite(p) else np.nan for p in table[index]])
            spans += [table[index] - bars, table[index] + bars]
            axes.errorbar(x, table[index], yerr=bars, marker="o", markersize=3.5, lw=1.0, alpha=0.75,
                          elinewidth=0.8, capsize=2, color=colours[index], label=group)
        else:
            axes.plot(x, table[index], marker="o", markersize=3.5, lw=1.0, alpha=0.75,
                      color=colours[index], label=group)
    baseline = np.nan
    if key == "test_score" and terms.baseline_test_scores:
        baseline = float(np.mean(list(terms.baseline_test_scores.values())))
    if len(x):
        axes.plot(x, _column_means(table), color="black", lw=2.0, ls="--", marker="D",
                  markersize=3.5, label="mean of voters")
        if shared:
            axes.step(x, history.shared_model_scores(key, baseline), where="mid", color="#1f3b73", lw=2.6,
                      alpha=0.85, label="shared model (mean)")
    label = terms.score_label(key.split("_")[0])
    if errors:
        sizes = sorted(set(terms.test_examples.values()))
        label += f"\n(bars: \u00b11 s.e., n={sizes[0]})" if len(sizes) == 1 else "\n(bars: \u00b11 s.e.)"
    axes.set_ylabel(label)
    axes.grid(True, axis="y", color="#e6e6e6", lw=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    finite = np.concatenate([np.ravel(span) for span in spans])
    finite = finite[np.isfinite(finite)]
    if finite.size:
        low, high = float(finite.min()), float(finite.max())
        if np.isfinite(baseline) and not _far_below(baseline, low, high):
            low, high = min(low, baseline), max(high, baseline)
        pad = max(0.02, 0.06 * (high - low))
        axes.set_ylim(low - pad, high + pad)
    if np.isfinite(baseline):
        name = "initial weights, round 0 (mean)"
        if finite.size and _far_below(baseline, float(finite.min()), float(finite.max())):
            # Far below the rounds' scores: drawing it would squash them; say it in words instead.
            axes.text(0.01, 0.03, f"{name}: {baseline:.3f}, below this axis", transform=axes.transAxes,
                      fontsize=8.5, color="#555555", va="bottom")
        else:
            axes.axhline(baseline, color="#7a7a7a", lw=1.2, ls=":", label=name)
    if history.groups and len(x):
        axes.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=8.5)


def _far_below(baseline: float, low: float, high: float) -> bool:
    """Whether a round-0 line this far under the scores would take most of the panel's height."""
    return baseline < low - max(high - low, 0.05)


def _draw_grid(axes: Any, history: _History) -> None:
    x = np.array(history.numbers)
    cells = history.cells()
    outcome_row = np.array([[{"accepted": APPROVE, "rejected": REJECT}.get(o, NO_VOTE)
                             for o in history.outcomes]]) if len(x) else np.zeros((1, 0), int)
    image = np.vstack([outcome_row, cells]) if len(x) else np.zeros((len(history.groups) + 1, 0))
    labels = ["outcome", *history.groups]
    if len(x):
        axes.imshow(image, cmap=ListedColormap(CELL_COLOURS), vmin=0, vmax=3, aspect="auto",
                    interpolation="nearest",
                    extent=(x[0] - 0.5, x[-1] + 0.5, len(labels) - 0.5, -0.5))
        for column, number in enumerate(x):
            outcome = history.outcomes[column]
            axes.text(number, 0, OUTCOME_LETTERS.get(outcome, "?"), ha="center", va="center",
                      fontsize=8, fontweight="bold",
                      color="white" if outcome in ("accepted", "rejected") else "#404040")
            for row in range(cells.shape[0]):
                if cells[row, column] == PROPOSER:
                    axes.text(number, row + 1, "P", ha="center", va="center", fontsize=9,
                              color="black", fontweight="bold")
        # White lines between cells, and a heavier one under the outcome row.
        for boundary in np.arange(x[0] - 0.5, x[-1] + 1.0, 1.0):
            axes.axvline(boundary, color="white", lw=1.0)
        for boundary in np.arange(0.5, len(labels) - 0.5, 1.0):
            axes.axhline(boundary, color="white", lw=1.0 if boundary > 0.5 else 2.5)
        axes.set_xlim(x[0] - 0.5, x[-1] + 0.5)
    axes.set_ylim(len(labels) - 0.5, -0.5)
    axes.set_yticks(range(len(labels)), labels)
    axes.tick_params(axis="both", length=0)
    step = max(1, math.ceil(len(x) / 25))
    axes.set_xticks(x[::step] if len(x) else [])
    axes.set_xlabel("round")
    for spine in axes.spines.values():
        spine.set_visible(False)
    axes.legend(
        handles=[
            Patch(color=CELL_COLOURS[APPROVE], label="approve / accepted"),
            Patch(color=CELL_COLOURS[REJECT], label="reject / rejected"),
            Patch(color=CELL_COLOURS[NO_VOTE], label="no vote / skipped"),
            Line2D([], [], ls="", marker="$P$", color="black", markersize=8, label="proposer"),
        ],
        loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=8.5,
    )


def _group_colours(count: int) -> list[str]:
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
               "#bcbd22", "#7f7f7f", "#d62728"]
    return [palette[index % len(palette)] for index in range(count)]

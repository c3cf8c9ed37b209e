"""Figure 2: the history plot is written, with the panels, cells and means the rounds say."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import AxesImage

from learnledger.report.stats import binomial_error
from learnledger.report.terms import ExperimentTerms
from learnledger.report.history_plot import (
    APPROVE,
    NO_VOTE,
    PROPOSER,
    REJECT,
    history_figure,
    plot_history,
)

GROUPS = ["cern", "fnal", "desy"]
ROUNDS = [
    {"round": 1, "proposer": "cern", "outcome": "accepted",
     "votes": {"fnal": {"approve": True, "vote_score": 0.8, "test_score": 0.7},
               "desy": {"approve": True, "vote_score": 0.6, "test_score": 0.5}}},
    {"round": 3, "proposer": "desy", "outcome": "skipped", "votes": {}},
    {"round": 2, "proposer": "fnal", "outcome": "rejected",
     "votes": {"cern": {"approve": False, "vote_score": 0.1, "test_score": 0.2},
               "desy": {"approve": False, "vote_score": None, "test_score": None}}},
    {"round": 4, "proposer": "desy", "outcome": "accepted",
     "votes": {"cern": {"approve": True, "vote_score": 0.9, "test_score": 0.85}}},
]


def _axes(figure, label: str):
    return next(axes for axes in figure.axes if axes.get_label() == label)


def test_the_png_is_written(tmp_path: Path) -> None:
    out = tmp_path / "run" / "history.png"
    plot_history(ROUNDS, GROUPS, out, title="tiny")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000
    assert not list(out.parent.glob("*.partial"))


def test_three_panels_share_the_round_axis() -> None:
    figure = history_figure(ROUNDS, GROUPS, "tiny")
    test, vote, grid = (_axes(figure, label) for label in ("test", "vote", "grid"))
    assert test.get_ylabel() == "test score" and vote.get_ylabel() == "vote score"
    assert grid.get_xlabel() == "round"
    # No terms: the metric is unknown, and the headline is the last accepted round's voters' mean.
    assert figure.get_suptitle() == "tiny: final mean test score 0.850"
    assert [tick.get_text() for tick in grid.get_yticklabels()] == ["outcome", *GROUPS]
    assert test.get_shared_x_axes().joined(test, grid)


def test_the_grid_colours_every_vote_and_marks_the_proposer() -> None:
    grid = _axes(history_figure(ROUNDS, GROUPS), "grid")
    image = next(child for child in grid.get_children() if isinstance(child, AxesImage))
    cells = np.asarray(image.get_array())
    # Columns are rounds 1..4 in order; row 0 is the outcome, then cern, fnal, desy.
    assert cells[0].tolist() == [APPROVE, REJECT, NO_VOTE, APPROVE]
    assert cells[1:, 0].tolist() == [PROPOSER, APPROVE, APPROVE]
    assert cells[1:, 1].tolist() == [REJECT, PROPOSER, REJECT]
    assert cells[1:, 2].tolist() == [NO_VOTE, NO_VOTE, PROPOSER]
    assert cells[1:, 3].tolist() == [APPROVE, NO_VOTE, PROPOSER]
    texts = sorted((t.get_position(), t.get_text()) for t in grid.texts)
    assert [text for position, text in texts if text == "P"] == ["P"] * 4
    assert sorted(text for _, text in texts if text != "P") == ["A", "A", "R", "S"]


def test_means_skip_missing_scores_and_the_shared_model_steps_on_acceptance() -> None:
    test = _axes(history_figure(ROUNDS, GROUPS), "test")
    lines = {line.get_label(): line for line in test.get_lines()}
    mean = np.asarray(lines["mean of voters"].get_ydata(), dtype=float)
    np.testing.assert_allclose(mean, [0.6, 0.2, np.nan, 0.85])
    shared = np.asarray(lines["shared model (mean)"].get_ydata(), dtype=float)
    np.testing.assert_allclose(shared, [0.6, 0.6, 0.6, 0.85])
    assert set(GROUPS) <= set(lines)


def test_groups_missing_from_the_roster_still_get_a_row() -> None:
    rounds = [{"round": 1, "proposer": "kek", "outcome": "accepted",
               "votes": {"cern": {"approve": True, "vote_score": 0.5, "test_score": 0.5}}}]
    grid = _axes(history_figure(rounds, ["cern"]), "grid")
    assert [tick.get_text() for tick in grid.get_yticklabels()] == ["outcome", "cern", "kek"]


def test_no_rounds_draws_an_empty_figure_that_says_so(tmp_path: Path) -> None:
    plot_history([], GROUPS, tmp_path / "empty.png")
    figure = history_figure([], GROUPS)
    assert any("no finalized rounds" in text.get_text() for text in _axes(figure, "test").texts)


@pytest.mark.parametrize("count", [1, 120])
def test_few_and_many_rounds_keep_readable_ticks(count: int) -> None:
    rounds = [{"round": r, "proposer": "cern", "outcome": "rejected",
               "votes": {"fnal": {"approve": False, "vote_score": 0.4, "test_score": 0.4}}}
              for r in range(1, count + 1)]
    grid = _axes(history_figure(rounds, GROUPS), "grid")
    assert 1 <= len(grid.get_xticks()) <= 25


TERMS = ExperimentTerms(name="mnist", metric="accuracy", model="mlp on 28x28x1 images", threshold_bps=5000,
                        test_examples={"cern": 333, "fnal": 333, "desy": 333},
                        baseline_test_scores={"cern": 0.1, "fnal": 0.12, "desy": 0.08})


def test_the_metric_names_the_axes_and_the_title_gives_name_terms_and_headline_with_its_error() -> None:
    figure = history_figure(ROUNDS, GROUPS, terms=TERMS)
    test, vote = _axes(figure, "test"), _axes(figure, "vote")
    assert test.get_ylabel().startswith("test accuracy") and "n=333" in test.get_ylabel()
    assert vote.get_ylabel() == "vote accuracy"  # vote-set sizes are not known: no bars claimed
    title = figure.get_suptitle()
    # Round 4 was accepted last, scored by cern alone (0.85 on 333 examples).
    assert title.startswith(f"mnist: final mean test accuracy 0.850 \u00b1 {binomial_error(0.85, 333):.3f}")
    assert "mlp on 28x28x1 images" in title and "threshold 50%" in title


def test_test_scores_carry_binomial_error_bars_and_round_0_is_drawn() -> None:
    test = _axes(history_figure(ROUNDS, GROUPS, terms=TERMS), "test")
    from matplotlib.collections import LineCollection

    bars = [c for c in test.collections if isinstance(c, LineCollection)]
    assert bars, "no error bars drawn"
    halves = {round(float(abs(seg[1][1] - seg[0][1])) / 2, 6)
              for c in bars for seg in c.get_segments() if len(seg) == 2}
    # One bar per score a voter gave (0.7, 0.5, 0.2, 0.85), its half-length the binomial error.
    assert halves == {round(binomial_error(p, 333), 6) for p in (0.7, 0.5, 0.2, 0.85)}
    lines = {line.get_label(): line for line in test.get_lines()}
    baseline = lines["initial weights, round 0 (mean)"]
    assert np.asarray(baseline.get_ydata(), dtype=float)[0] == pytest.approx(0.1)
    # Until round 1 is accepted the shared model is the initial weights; the step shows it after.
    shared = np.asarray(lines["shared model (mean)"].get_ydata(), dtype=float)
    np.testing.assert_allclose(shared, [0.6, 0.6, 0.6, 0.85])


def test_a_runs_own_final_scores_make_the_headline_and_error_bars_stay_inside_the_panel() -> None:
    from learnledger.report.stats import mean_error

    final = {"cern": 0.9, "fnal": 0.92, "desy": 0.88}
    figure = history_figure(ROUNDS, GROUPS, terms=TERMS, final_test_scores=final)
    expected = mean_error(final, TERMS.test_examples)
    assert figure.get_suptitle().startswith(f"mnist: final mean test accuracy 0.900 \u00b1 {expected:.3f}")
    test = _axes(figure, "test")
    low, high = test.get_ylim()
    assert high >= 0.85 + binomial_error(0.85, 333) and low <= 0.1  # the top bar and round 0 are inside


def test_a_round_0_far_below_the_scores_is_said_not_drawn() -> None:
    rounds = [{"round": 1, "proposer": "cern", "outcome": "accepted",
               "votes": {"fnal": {"approve": True, "vote_score": 0.95, "test_score": 0.94}}},
              {"round": 2, "proposer": "fnal", "outcome": "accepted",
               "votes": {"cern": {"approve": True, "vote_score": 0.96, "test_score": 0.95}}}]
    test = _axes(history_figure(rounds, GROUPS, terms=TERMS), "test")
    assert test.get_ylim()[0] > 0.8  # the scores keep the panel's height
    assert any("initial weights, round 0 (mean): 0.100, below this axis" == t.get_text() for t in test.texts)
    assert "initial weights, round 0 (mean)" not in {line.get_label() for line in test.get_lines()}

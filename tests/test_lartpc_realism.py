"""The sim-to-real grid's summary (scripts/lartpc_realism.py): the figures simulations are compared by."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "lartpc_realism.py"


def _realism():
    spec = importlib.util.spec_from_file_location("lartpc_realism", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _figures(accuracy: float, confusion: list[list[int]]) -> dict:
    return {"accuracy": accuracy, "confusion_rows_true_cols_predicted": confusion}


def test_the_grid_summary_gives_the_mean_its_error_and_the_classes():
    runs = [_figures(0.70, [[60, 30, 10], [10, 80, 10], [10, 20, 70]]),
            _figures(0.74, [[70, 20, 10], [10, 80, 10], [10, 18, 72]]),
            _figures(0.78, [[76, 14, 10], [10, 82, 8], [12, 12, 76]])]
    summary = _realism().grid_summary(runs)
    assert summary["runs"] == 3
    assert summary["mean_accuracy"] == pytest.approx(0.74)
    assert summary["standard_error"] == pytest.approx(0.04 / 3**0.5, abs=1e-4)  # sd 0.04 over 3 runs
    assert summary["class_rates_mean"] == pytest.approx([0.687, 0.807, 0.727], abs=1e-3)
    assert summary["runs_with_every_class_at_least_0.65"] == 2  # the first run's NC is at 60%
    assert summary["confusion_rows_true_cols_predicted"][0] == [206, 64, 30]


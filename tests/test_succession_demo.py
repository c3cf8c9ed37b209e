"""The succession demonstration, small: three real Keras labs on MNIST shares, two hand-overs on
the embedded chain, then the audit of the whole line from the chain alone."""

from __future__ import annotations

import json
from pathlib import Path

from learnledger.runs.succession_demo import run_demo


def test_a_line_of_three_experiments_audits_clean_with_continuous_rounds(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "demo", rounds=2, per_learner=120, epochs=1)
    line = result.line
    assert line.ok, [str(f) for f in line.findings]
    assert [row["round"] for row in line.rows] == [1, 2, 3, 4, 5, 6]
    assert [row["experiment_round"] for row in line.rows] == [1, 2, 1, 2, 1, 2]
    assert line.offsets == [0, 2, 4]
    for before, after in zip(line.reports, line.reports[1:]):  # each hand-over carries the model
        assert after.params is not None and after.params.initial_digest == before.views.model_digest
        assert before.views.successor == after.address and after.views.predecessor == before.address
    assert [(c.joined, c.left) for c in line.changes] == [(("kek",), ()), ((), ("desy",))]
    assert [set(r.groups) for r in line.reports] == [{"cern", "fnal", "desy"}, {"cern", "fnal", "desy", "kek"},
                                                    {"cern", "fnal", "kek"}]
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert summary["ok"] and summary["rounds"] == 6
    assert len(result.gas["propose"]) == 2 and len(result.gas["vote"]) == 2 + 3
    assert (tmp_path / "demo" / "history.png").stat().st_size > 10_000

"""``learnledger audit --out``: the step-by-step path gets the experiment's outputs from the chain alone.

A real (tiny) experiment runs on an anvil devnet that stays up: real Keras agents, the contract, the
store. The audit then writes rounds.jsonl, history.png, summary.json and report.html, and they must
say what ``learnledger run`` would have written; the page is opened in headless Chromium.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from learnledger.agents.experiment import Experiment
from learnledger.audit.outputs import same_rounds
from learnledger.cli.console import CliError
from learnledger.cli.main import app
from learnledger.ledger.devnet import ANVIL, Devnet
from learnledger.report.rounds import read_jsonl
from learnledger.report.stats import binomial_error
from learnledger.report.summary import summarize
from tests.conftest import tiny_experiment

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y chromium); the report "
    "cannot be opened in a real browser here")


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if isinstance(result.exception, CliError):
        return result.exception.exit_code, result.output + str(result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """(experiment file, its run on a devnet kept running, the audit's --out folder and output)."""
    if not ANVIL.exists():
        pytest.skip(f"anvil is not installed at {ANVIL} (run `npm ci`)")
    from tests.experiment_on_devnet import ExperimentOnDevnet

    tmp = tmp_path_factory.mktemp("step-by-step")
    path = tiny_experiment(tmp, rounds=4)
    with Devnet(accounts=4) as devnet:
        run = ExperimentOnDevnet(Experiment.load(path), devnet, tmp / "chain")
        run.run_rounds()
        status, output = invoke("audit", "--deployment", str(tmp / "chain" / "deployment.json"),
                                "--experiment", str(path), "--verify", "--out", str(tmp / "out"))
        yield path, run, tmp / "out", status, output


@pytest.mark.slow
def test_the_outputs_from_the_chain_are_the_ones_run_writes(finished) -> None:  # type: ignore[no-untyped-def]
    _, run, out, status, output = finished
    assert status == 0, output
    assert "wrote rounds.jsonl, history.png, summary.json, report.html" in output
    rows = read_jsonl(out / "rounds.jsonl")
    assert len(rows) == 4 and same_rounds(rows, run.rows)  # run's rows: round_to_json of the history
    summary = json.loads((out / "summary.json").read_text())
    assert set(summarize("x", "y", [], {}, None, 0.0)) <= set(summary)  # every key run's summary has
    assert summary["experiment"] == "tiny" and summary["rounds"] == 4
    assert summary["accepted"] == sum(r["outcome"] == "accepted" for r in run.rows)
    assert summary["final_model_digest"] == run.observer.current_model().digest.hex()
    sizes = {learner.group: len(learner.data.test.y) for learner in run.learners}
    assert summary["terms"]["test_examples"] == sizes and set(summary["terms"]["baseline_test_scores"]) == set(sizes)
    scores = summary["final_test_scores"]
    assert summary["final_mean_test_error"] == pytest.approx(
        sum(binomial_error(p, sizes[g]) ** 2 for g, p in scores.items()) ** 0.5 / len(scores))
    assert (out / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_bad_outputs_and_experiment_files_exit_2_before_the_audit(finished, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, run, _, _, _ = finished
    deployment = str(run.folder / "deployment.json")
    (tmp_path / "file").write_text("")
    status, output = invoke("audit", "--deployment", deployment, "--out", str(tmp_path / "file"))
    assert status == 2 and "is a file; name a folder" in output
    status, output = invoke("audit", "--deployment", deployment, "--experiment", str(tmp_path / "nope.toml"))
    assert status == 2 and "no such experiment file" in output
    other = tmp_path / "other.toml"
    other.write_text(path.read_text().replace('"desy"', '"kek"'))
    status, output = invoke("audit", "--deployment", deployment, "--experiment", str(other))
    assert status == 2 and "the chain's roster is cern, fnal, desy" in output


def _chromium(*args: str) -> str:
    profile = tempfile.mkdtemp()
    try:
        return subprocess.run(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}",
             "--virtual-time-budget=5000", *args], capture_output=True, text=True, timeout=120,
        ).stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.slow
@needs_chromium
def test_the_report_a_physicist_reads_renders_in_headless_chromium(finished, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, run, out, status, output = finished
    assert status == 0, output
    page = out / "report.html"
    dom = _chromium("--dump-dom", page.as_uri())
    assert 'data-images-loaded="2"' in dom  # Figure 2 and the proposals chart decoded in the browser
    assert "<title>tiny: LearnLedger report</title>" in dom and '<h1 id="title">tiny</h1>' in dom
    assert "final mean test accuracy" in dom and "\u00b1" in dom and "Round 0 (the initial weights" in dom
    for term in ("test score", "vote score", "shared model (mean)", "gain", "\u00b1 (error)", "round time"):
        assert f"<dt>{term}</dt>" in dom
    assert "mlp on 28x28x1 images" in dom and "24 (each of 3 groups)" in dom
    voted = [r for r in run.rows if r["votes"]]
    assert f"<td>{voted[0]['approvals']}/{len(voted[0]['votes'])}</td>" in dom  # approvals as `run` prints them
    assert "yes/no" not in dom and "test score</th>" not in dom  # the metric named, not "score"
    shot = tmp_path / "report.png"
    _chromium("--window-size=1200,2600", f"--screenshot={shot}", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000

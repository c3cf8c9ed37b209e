"""End to end: real (small) Keras training through the real contract on the embedded chain."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from learnledger.agents.experiment import Experiment
from learnledger.report.rounds import read_jsonl
from learnledger.runs.embedded import run_experiment
from learnledger.store.local import LocalStore
from learnledger.store.tensors import decode_tensors
from tests.conftest import tiny_experiment

@pytest.fixture(scope="module")
def chain_run(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("run")
    experiment = Experiment.load(tiny_experiment(tmp))
    return experiment, run_experiment(experiment, tmp / "out")


@pytest.mark.slow
def test_the_run_folder_tells_the_same_story_as_the_chain(chain_run) -> None:
    experiment, result = chain_run
    out = result.out
    rows = read_jsonl(out / "rounds.jsonl")
    summary = json.loads((out / "summary.json").read_text())

    assert rows == result.rounds and [row["round"] for row in rows] == [1, 2, 3]
    assert summary["accepted"] + summary["rejected"] + summary["skipped"] == 3
    assert summary["accepted"] == sum(row["outcome"] == "accepted" for row in rows)
    for row in rows:
        assert row["proposer"] in experiment.groups and row["proposer"] not in row["votes"]
        assert set(row["votes"]) == set(experiment.groups) - {row["proposer"]}
        assert row["approvals"] == sum(vote["approve"] for vote in row["votes"].values())
        assert (row["outcome"] == "accepted") == (row["approvals"] * 2 >= 2)  # 5000 bps of 2 voters
    # The final model file is the shared model the contract records, and decodes as safetensors.
    final = (out / "final.safetensors").read_bytes()
    assert hashlib.sha256(final).hexdigest() == summary["final_model_digest"] == rows[-1]["model_digest"]
    assert decode_tensors(final)
    # Every proposal is in the run's store under its CID, with the digest that went on-chain.
    store = LocalStore(out / "store")
    for row in rows:
        assert hashlib.sha256(store.get(row["cid"])).hexdigest() == row["digest"]
    # Training really happened: the shared model beats chance (10 classes) on every group's test set.
    assert min(summary["final_test_scores"].values()) > 0.3
    assert (out / "history.png").stat().st_size > 10_000
    deployment = json.loads((out / "deployment.json").read_text())
    assert deployment["params"]["group_names"] == list(experiment.groups)


@pytest.mark.slow
def test_the_reference_ledger_with_the_same_proposers_accepts_the_same_rounds(
    chain_run, tmp_path: Path
) -> None:
    experiment, chained = chain_run
    proposers = [row["proposer"] for row in chained.rounds]
    result = run_experiment(experiment, tmp_path / "ref", ledger="reference", proposers=proposers)

    assert [row["outcome"] for row in result.rounds] == [row["outcome"] for row in chained.rounds]
    assert result.summary["final_model_digest"] == chained.summary["final_model_digest"]


@pytest.mark.slow
def test_the_run_command_writes_every_output(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    done = subprocess.run(
        [sys.executable, "-m", "learnledger.cli.main", "run", str(tiny_experiment(tmp_path, rounds=2)),
         "--out", str(out)], capture_output=True, text=True, timeout=600)

    assert done.returncode == 0, done.stderr
    assert "final mean test accuracy" in done.stdout and "\u00b1" in done.stdout  # with its binomial error
    for name in ("rounds.jsonl", "summary.json", "final.safetensors", "deployment.json", "history.png"):
        assert (out / name).is_file(), name
    assert len(read_jsonl(out / "rounds.jsonl")) == 2


def test_a_broken_experiment_file_is_refused_with_its_key_named(tmp_path: Path) -> None:
    path = tiny_experiment(tmp_path, extra="\n[[learners]]\ngroup = \"cern\"\n")
    done = subprocess.run([sys.executable, "-m", "learnledger.cli.main", "run", str(path)],
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 2
    assert "cern" in done.stderr and "Traceback" not in done.stderr

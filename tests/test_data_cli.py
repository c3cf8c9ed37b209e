"""The real-data commands: what they print and write, and how they refuse bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from learnledger.cli.console import CliError
from learnledger.cli.main import app
from learnledger.data.dune_cvn import DEFAULT_ROOT

runner = CliRunner()


def test_mnist_info_reports_the_bundled_source_as_json():
    result = runner.invoke(app, ["data", "mnist-info", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["source"] == "bundled" and info["per_class"] == [500] * 10


def test_dune_converts_to_a_file_the_simulators_reader_opens(tmp_path):
    lartpc = pytest.importorskip("learnledger.data.lartpc")
    root = tmp_path / "cvn"
    for flavour in ("nc", "numu", "nue"):
        shutil.copytree(DEFAULT_ROOT / flavour, root / flavour,
                        ignore=lambda d, names: [n for n in names if n.split(".")[0] != "event0"])
    out = tmp_path / "dune.h5"
    result = runner.invoke(app, ["data", "dune", "--root", str(root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 3 events" in result.output and "1 nue CC" in result.output
    sample = lartpc.read_h5(out)
    assert sample.images.shape == (3, 3, 200, 200) and sample.labels.tolist() == [0, 1, 2]
    assert np.all(sample.images.reshape(3, -1).max(axis=1) > 0)


@pytest.mark.parametrize(("args", "message"), [
    (["data", "dune", "--root", "/no/such/dir", "--out", "x.h5"], "not found: /no/such/dir"),
    (["data", "mnist-info", "--path", "/no/such/mnist.npz"], "--path '/no/such/mnist.npz' does not exist"),
    (["data", "dune-stats", "--per-class", "0"], "--per-class must be at least 1"),
])
def test_bad_input_stops_with_a_message(args, message):
    result = runner.invoke(app, args)
    assert isinstance(result.exception, CliError) and result.exception.exit_code == 2
    assert message in str(result.exception)

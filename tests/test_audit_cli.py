"""``learnledger audit`` as a user runs it, against anvil: exit statuses, files, and the HTML page
opened in headless Chromium."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from learnledger.cli.console import CliError
from learnledger.cli.main import app
from learnledger.ledger.api import to_score
from learnledger.ledger.chain import connect
from learnledger.ledger.client import ContractLedger
from learnledger.ledger.deploy import deploy
from learnledger.ledger.devnet import ANVIL, Devnet, free_port
from learnledger.ledger.params import ExperimentParams
from learnledger.store.local import LocalStore
from learnledger.store.tensors import encode_tensors

from tests.conftest import needs_anvil
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    """(exit status as `learnledger` would exit, everything printed)."""
    result = runner.invoke(app, list(args))
    if isinstance(result.exception, CliError):
        return result.exception.exit_code, result.output + str(result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def weights(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    return encode_tensors({"w": rng.normal(size=(3, 2)).astype(np.float32)})


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A run folder (deployment.json + store/) of three rounds on a devnet kept running."""
    if not ANVIL.exists():
        pytest.skip(f"anvil is not installed at {ANVIL} (run `npm ci`)")
    folder = tmp_path_factory.mktemp("run")
    store = LocalStore(folder / "store")
    with Devnet(accounts=4) as devnet:
        w3 = connect(devnet.rpc_url)
        members = tuple(a for a, _ in devnet.accounts[:3])
        spec, initial = b'{"architecture": "mlp"}', weights(0)
        params = ExperimentParams(members, ("cern", "fnal", "desy"), hashlib.sha256(spec).digest(),
                                  store.put(spec), hashlib.sha256(initial).digest(), store.put(initial))
        deployment = deploy(w3, devnet.accounts[0][1], params, rpc_url=devnet.rpc_url)
        ledgers = {a: ContractLedger(w3, deployment, k) for a, k in devnet.accounts}
        cids = {}
        for round_, approve in ((1, True), (2, False), (3, True)):
            proposer = ledgers[members[0]].proposer_of(round_)
            data = weights(round_)
            cids[round_] = store.put(data)
            ledgers[proposer].propose(round_, hashlib.sha256(data).digest(), cids[round_])
            for i, member in enumerate(m for m in members if m != proposer):
                ledgers[member].vote(round_, approve, to_score(0.6 + round_ / 20), to_score(0.5 + round_ / 20 + i / 100))
        deployment.save(folder / "deployment.json")
        yield folder, cids, w3


@needs_anvil
def test_a_clean_run_exits_0_and_writes_rows_plot_and_page(experiment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder, cids, _ = experiment
    rows, plot, page = tmp_path / "rounds.jsonl", tmp_path / "history.png", tmp_path / "audit.html"
    status, output = invoke("audit", "--deployment", str(folder / "deployment.json"), "--verify",
                            "--jsonl", str(rows), "--plot", str(plot), "--html", str(page))
    assert status == 0, output
    assert "all checks hold" in output and "5 stored files verified" in output
    lines = [json.loads(line) for line in rows.read_text().splitlines()]
    assert [line["round"] for line in lines] == [1, 2, 3, 4]  # round 4 is open
    assert [line["outcome"] for line in lines[:3]] == ["accepted", "rejected", "accepted"]
    assert lines[2]["cid"] == cids[3] and lines[2]["proposed"]["gas_used"] > 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "data:image/png;base64," in page.read_text() and "http" not in page.read_text().split("<body>")[0]


@needs_anvil
def test_swapped_bytes_exit_1_and_name_the_round(experiment) -> None:  # type: ignore[no-untyped-def]
    folder, cids, _ = experiment
    copy = Path(tempfile.mkdtemp()) / "run"
    shutil.copytree(folder, copy)
    path = LocalStore(copy / "store").path_of(cids[3])
    path.chmod(0o644)
    path.write_bytes(weights(77))
    status, output = invoke("audit", "--deployment", str(copy / "deployment.json"), "--verify")
    assert status == 1
    assert "[store] round 3" in output and "1 check(s) failed" in output


@needs_anvil
def test_a_range_cut_short_exits_1(experiment) -> None:  # type: ignore[no-untyped-def]
    folder, _, w3 = experiment
    status, output = invoke("audit", "--deployment", str(folder / "deployment.json"),
                            "--to-block", str(w3.eth.block_number - 1))
    assert status == 1 and "cut short" in output


@needs_anvil
def test_rpc_and_address_audit_without_a_record(experiment) -> None:  # type: ignore[no-untyped-def]
    folder, _, _ = experiment
    record = json.loads((folder / "deployment.json").read_text())
    status, output = invoke("audit", "--rpc", record["rpc_url"], "--address", record["address"])
    assert status == 0, output
    status, output = invoke("audit", "--rpc", record["rpc_url"], "--address", "0x" + "55" * 20)
    assert status == 1 and "no contract code" in output


def test_an_unreachable_chain_exits_2(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    status, output = invoke("audit", "--rpc", url, "--address", "0x" + "55" * 20)
    assert status == 2 and f"no Ethereum node answers at {url}" in output


def test_bad_invocations_exit_2_and_say_what_to_do(tmp_path: Path) -> None:
    status, output = invoke("audit")
    assert status == 2 and "--deployment deployment.json, or with --rpc URL --address" in output
    status, output = invoke("audit", "--deployment", str(tmp_path / "nope.json"))
    assert status == 2 and "no deployment record at" in output


@needs_anvil
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y chromium); "
                    "the HTML report cannot be opened in a real browser here")
def test_the_html_report_renders_in_headless_chromium(experiment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder, _, _ = experiment
    page = tmp_path / "audit.html"
    status, output = invoke("audit", "--deployment", str(folder / "deployment.json"), "--html", str(page))
    assert status == 0, output
    profile = tempfile.mkdtemp()
    dom = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}",
         "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout
    shutil.rmtree(profile, ignore_errors=True)
    assert 'data-images-loaded="2"' in dom  # both embedded PNGs decoded in the browser
    assert dom.count("<tr>") >= 4 + 3 + 1  # rounds, valuation rows, headers
    assert "All checks hold." in dom


@needs_anvil
def test_an_unreachable_store_exits_2(experiment) -> None:  # type: ignore[no-untyped-def]
    folder, _, _ = experiment
    url = f"http://127.0.0.1:{free_port()}"
    status, output = invoke("audit", "--deployment", str(folder / "deployment.json"), "--verify", "--ipfs", url)
    assert status == 2 and "the store could not be reached" in output

"""``learnledger watch``: a live page on loopback that follows the chain, and stops cleanly on a signal.

A real (tiny) experiment runs on anvil; the watch runs as its own process, as a user starts it; a
headless Chromium keeps the page open over the DevTools protocol while the test finalizes one more
round on the chain, and the new round must appear on the same page, without a reload.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from learnledger.agents.experiment import Experiment
from learnledger.cli.console import CliError
from learnledger.cli.main import app
from learnledger.ledger.devnet import ANVIL, Devnet, free_port
from tests.cdp import CHROMIUM
from tests.conftest import tiny_experiment

LEARNLEDGER = Path(sys.executable).with_name("learnledger")
needs_anvil = pytest.mark.skipif(not ANVIL.exists(), reason=f"anvil is not installed at {ANVIL} (run `npm ci`)")


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if isinstance(result.exception, CliError):
        return result.exception.exit_code, result.output + str(result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


class Watch:
    """``learnledger watch`` as a process; its output lines arrive on a queue."""

    def __init__(self, *args: str, ignore_sigint: bool = False) -> None:
        def ignore() -> None:  # as a shell does for a background job
            signal.signal(signal.SIGINT, signal.SIG_IGN)

        self.process = subprocess.Popen(
            [str(LEARNLEDGER), "watch", "--port", "0", "--interval", "0.5", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
            preexec_fn=ignore if ignore_sigint else None,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)

    def url(self, timeout: float = 180.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1.0)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            if "serving the live view at " in line:
                return line.split("serving the live view at ", 1)[1].split()[0]
        raise AssertionError("the watch never said where it serves; its output:\n" + "".join(self.output))

    def stop(self, sig: signal.Signals, timeout: float = 30.0) -> int:
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            time.sleep(0.2)  # let the reader thread take the last lines

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def on_devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, object]]:
    """(experiment file, a tiny experiment on a devnet kept running, one round finalized)."""
    if not ANVIL.exists():
        pytest.skip(f"anvil is not installed at {ANVIL} (run `npm ci`)")
    from tests.experiment_on_devnet import ExperimentOnDevnet

    tmp = tmp_path_factory.mktemp("watched")
    path = tiny_experiment(tmp, rounds=6)
    with Devnet(accounts=4) as devnet:
        run = ExperimentOnDevnet(Experiment.load(path), devnet, tmp / "chain")
        run.run_rounds(1)
        yield path, run


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y chromium); "
                    "the live page cannot be watched in a real browser here")
def test_a_round_finalized_on_the_chain_appears_on_the_page_without_a_reload(on_devnet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.cdp import Browser

    path, run = on_devnet
    watch = Watch("--deployment", str(run.folder / "deployment.json"), "--experiment", str(path))
    try:
        url = watch.url()
        assert url.startswith("http://127.0.0.1:")
        with Browser(url) as page:
            before = len(run.rows)
            page.wait_for(f"document.body.dataset.rounds === '{before}'")
            assert page.evaluate("document.title") == "tiny: LearnLedger live view"
            assert page.evaluate("document.getElementById('headline').textContent").startswith(
                "final mean test accuracy")
            points = page.evaluate("document.querySelectorAll('circle.test_score').length")
            page.evaluate("window.__samePage = 'yes'")  # a reload would wipe it

            run.run_rounds(1)  # one more round, finalized on the chain by the agents
            page.wait_for(f"document.body.dataset.rounds === '{before + 1}'", timeout=90)
            assert page.evaluate("window.__samePage") == "yes"
            row = run.rows[-1]
            cells = page.evaluate(f"Array.from(document.querySelectorAll('#round-{row['round']} td'))"
                                  ".map(function (td) {{ return td.textContent; }})")
            assert cells[:4] == [str(row["round"]), row["proposer"], row["outcome"],
                                 f"{row['approvals']}/{row['approvals'] + row['rejections']}"]
            assert page.evaluate("document.querySelectorAll('circle.test_score').length") > points
            final_cells = ("document.querySelectorAll('rect.outcome.accepted, rect.outcome.rejected, "
                           "rect.outcome.skipped').length")
            assert page.evaluate(final_cells) == before + 1  # the open round next to them has no outcome yet
            shot = tmp_path / "live.png"
            page.screenshot(shot)
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 30_000
            if os.environ.get("LEARNLEDGER_KEEP_SCREENSHOTS"):
                shutil.copy(shot, os.environ["LEARNLEDGER_KEEP_SCREENSHOTS"])
        status = watch.stop(signal.SIGTERM)
        assert status == 0, "".join(watch.output)
        assert "stopped on SIGTERM" in "".join(watch.output)
    finally:
        watch.kill()


@pytest.mark.slow
@needs_anvil
def test_ctrl_c_stops_it_even_when_the_watch_inherited_sigint_ignored(on_devnet) -> None:  # type: ignore[no-untyped-def]
    _, run = on_devnet
    watch = Watch("--deployment", str(run.folder / "deployment.json"), ignore_sigint=True)
    try:
        url = watch.url()
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        # The snapshot the page draws, straight from the server (no browser needed for this part).
        state = json.loads(urllib.request.urlopen(url + "state.json", timeout=30).read())
        final = [r for r in state["rounds"] if r["outcome"] in ("accepted", "rejected", "skipped")]
        assert [r["round"] for r in final] == [r["round"] for r in run.rows]
        # No --experiment: no name, but the metric from the model spec in the store beside the record.
        assert state["title"] == f"experiment {run.deployment.address}" and state["labels"]["test"] == "test accuracy"
        assert state["checks"] == "all checks hold" and state["version"] >= 1
        assert b"<script" in urllib.request.urlopen(url, timeout=30).read()
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(url + "nothing-here", timeout=30)
        assert watch.stop(signal.SIGINT) == 0, "".join(watch.output)
        assert "stopped on SIGINT" in "".join(watch.output)
        with pytest.raises(OSError):  # nothing listens there any more
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        watch.kill()


@needs_anvil
def test_bad_invocations_exit_2_and_say_what_to_do(on_devnet) -> None:  # type: ignore[no-untyped-def]
    _, run = on_devnet
    deployment = str(run.folder / "deployment.json")
    status, output = invoke("watch", "--deployment", deployment, "--port", "99999")
    assert status == 2 and "--port 99999 is not a port" in output
    status, output = invoke("watch", "--deployment", deployment, "--interval", "0")
    assert status == 2 and "--interval must be a number of seconds above 0" in output
    status, output = invoke("watch", "--rpc", f"http://127.0.0.1:{free_port()}",
                            "--address", "0x" + "11" * 20)
    assert status == 2 and "no Ethereum node answers at" in output
    status, output = invoke("watch", "--rpc", run.deployment.rpc_url, "--address", "0x" + "11" * 20)
    assert status == 2 and "cannot watch the experiment: no contract at 0x1111" in output
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        status, output = invoke("watch", "--deployment", deployment, "--port", str(taken.getsockname()[1]))
    assert status == 2 and "pick another --port" in output

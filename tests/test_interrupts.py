"""Interrupted runs lose nothing and are never silently overwritten; long-running commands stop the
same way on SIGINT and SIGTERM, whatever signal dispositions they inherited, stopping their children.

Each command is started as a background job would start it (SIGINT ignored by inheritance) to show
that it installs its own handlers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import needs_anvil, tiny_experiment

CLI = [sys.executable, "-m", "learnledger.cli.main"]


def _as_background_job() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "200"}, preexec_fn=_as_background_job)


def _wait_for_rounds(rounds: Path, count: int, process: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not (rounds.exists() and len(rounds.read_text().splitlines()) >= count):
        if process.poll() is not None:
            raise AssertionError(f"exited {process.returncode} early: {process.communicate()}")
        assert time.monotonic() < deadline, f"no round {count} within {timeout} s"
        time.sleep(0.2)


def _processes_mentioning(text: str) -> list[int]:
    """Process ids whose command line contains ``text`` (children left behind would show here)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.slow
def test_ctrl_c_in_run_says_what_was_saved_and_a_rerun_refuses_until_fresh(tmp_path: Path) -> None:
    experiment = tiny_experiment(tmp_path, rounds=4)
    out = tmp_path / "run"
    process = _start("run", str(experiment), "--out", str(out))
    _wait_for_rounds(out / "rounds.jsonl", 1, process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    kept = len((out / "rounds.jsonl").read_text().splitlines())
    assert process.returncode == 130, err
    assert f"interrupted: kept {kept} finalized round" in err and "--fresh" in err and "Traceback" not in err
    before = {p.name: p.stat().st_mtime_ns for p in out.rglob("*")}

    again = subprocess.run([*CLI, "run", str(experiment), "--out", str(out)], capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 2 and f"holds an interrupted run ({kept} round" in again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.rglob("*")} == before  # nothing touched

    fresh = subprocess.run([*CLI, "run", str(experiment), "--out", str(out), "--fresh", "--json"],
                           capture_output=True, text=True, timeout=900)
    assert fresh.returncode == 0, fresh.stderr
    import json

    summary = json.loads(fresh.stdout)
    assert summary["rounds"] == 4 and len((out / "rounds.jsonl").read_text().splitlines()) == 4


@needs_anvil
@pytest.mark.anvil
@pytest.mark.slow
def test_sigterm_stops_launch_with_its_agents_and_anvil_keeping_the_chain(tmp_path: Path) -> None:
    out = tmp_path / "launch"
    process = _start("launch", str(tiny_experiment(tmp_path, rounds=5)), "--out", str(out))
    _wait_for_rounds(out / "rounds.jsonl", 1, process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "interrupted: kept" in err and f"the devnet's state in {out / 'chain.json'}" in err
    assert (out / "chain.json").stat().st_size > 0
    assert _processes_mentioning(str(out / "deployment.json")) == [], "agent processes outlived the launch"
    assert _processes_mentioning(str(out / "chain.json")) == [], "anvil outlived the launch"


@needs_anvil
@pytest.mark.anvil
@pytest.mark.slow
def test_sigterm_stops_an_agent_that_can_start_again(tmp_path: Path) -> None:
    from learnledger.ledger.devnet import Devnet

    experiment = tiny_experiment(tmp_path, rounds=3)
    with Devnet(accounts=4) as devnet:
        members = ",".join(address for address, _ in devnet.accounts[:3])
        deployed = subprocess.run([*CLI, "deploy", "--rpc", devnet.rpc_url, "--members", members, "--key",
                                   devnet.accounts[3][1], "--experiment", str(experiment), "--store",
                                   str(tmp_path / "store"), "--out", str(tmp_path / "deployment.json")],
                                  capture_output=True, text=True, timeout=300)
        assert deployed.returncode == 0, deployed.stderr
        agent = _start("agent", "--deployment", str(tmp_path / "deployment.json"), "--group", "fnal",
                       "--key", devnet.accounts[1][1], "--store", str(tmp_path / "store"),
                       "--experiment", str(experiment))
        deadline = time.monotonic() + 300
        line = ""
        while "following" not in line:
            line = agent.stdout.readline()  # type: ignore[union-attr]
            assert line or agent.poll() is None, agent.communicate()
            assert time.monotonic() < deadline
        agent.send_signal(signal.SIGTERM)
        out, err = agent.communicate(timeout=60)
    assert agent.returncode == 130 and "agent fnal stopped" in err and "start it again" in err, out + err

"""The README's step-by-step path, parsed from README.md and run line by line as a newcomer would.

Each command line of the block after the ``step-by-step`` marker runs as its own process (its own
session, as in its own terminal) with the block's own words; only what a test must change is changed: the experiment (the README's MNIST
file, 20 rounds, becomes the tiny 3-group one; the agent lines of the groups it lacks are left
out), the ports (free ones) and the folder (a temporary one). The devnet and the store server are
then stopped as a person would (SIGINT, then SIGTERM) and the audit line runs again against the
saved chain.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from learnledger.agents.experiment import Experiment
from learnledger.ledger.devnet import free_port, port_is_free
from tests.conftest import needs_anvil, tiny_experiment

REPO = Path(__file__).resolve().parents[1]
MARKER = "<!-- step-by-step:"
LONG_RUNNING = ("devnet", "store serve", "agent")


def readme_commands() -> list[str]:
    """The command lines of the README's step-by-step block, continuation lines joined."""
    text = (REPO / "README.md").read_text()
    block = text[text.index(MARKER):]
    block = block[block.index("```bash\n") + len("```bash\n"):]
    block = block[:block.index("```")]
    joined = block.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_readme_block_uses_the_installed_command_and_every_group_of_its_experiment() -> None:
    commands = readme_commands()
    assert commands and all(c.startswith(".venv/bin/learnledger ") for c in commands)
    groups = [re.search(r"--group (\S+)", c).group(1) for c in commands if " agent " in c]  # type: ignore[union-attr]
    assert groups == list(Experiment.load(REPO / "examples" / "mnist.toml").groups)
    for needed in ("--keys-dir", "store serve --port 5001 --root demo/store", "--members-file",
                   "audit --deployment demo/deployment.json --store demo/store"):
        assert any(needed in c for c in commands), needed


@needs_anvil
@pytest.mark.anvil
@pytest.mark.slow
def test_the_readme_step_by_step_path_runs_to_a_clean_audit(tmp_path: Path) -> None:
    experiment = tiny_experiment(tmp_path, rounds=2)
    groups = set(Experiment.load(experiment).groups)
    chain_port, store_port = free_port(), free_port()
    cli = shlex.join([sys.executable, "-m", "learnledger.cli.main"])

    def adapt(line: str) -> str:
        return (line.replace(".venv/bin/learnledger", cli)
                .replace("examples/mnist.toml", str(experiment))
                .replace("8545", str(chain_port)).replace("5001", str(store_port)))

    commands = [adapt(c) for c in readme_commands()]
    commands = [c for c in commands if " agent " not in c or re.search(r"--group (\S+)", c).group(1) in groups]  # type: ignore[union-attr]
    env = {**os.environ, "COLUMNS": "200"}
    services: dict[str, subprocess.Popen] = {}
    agents: list[subprocess.Popen] = []
    audits: list[str] = []
    try:
        for command in commands:
            if any(f" {word} " in command for word in LONG_RUNNING):
                process = subprocess.Popen(shlex.split(command), cwd=tmp_path, env=env, text=True,
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           start_new_session=True)
                if " agent " in command:
                    agents.append(process)
                else:
                    services["devnet" if " devnet " in command else "store"] = process
                    _wait_for_port(chain_port if " devnet " in command else store_port, process)
            elif " audit " in command:
                audits.append(command)
            else:
                done = subprocess.run(shlex.split(command), cwd=tmp_path, env=env, capture_output=True,
                                      text=True, timeout=300)
                assert done.returncode == 0, f"{command}\n{done.stdout}{done.stderr}"
        for agent in agents:
            output, _ = agent.communicate(timeout=900)
            assert agent.returncode == 0 and "experiment finished" in output, output
        assert len(agents) == 3 and len(audits) == 1
        done = subprocess.run(shlex.split(audits[0]), cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0 and "all checks hold: 2 rounds" in done.stdout, done.stdout + done.stderr
    finally:
        for name, how in (("devnet", signal.SIGINT), ("store", signal.SIGTERM)):
            if name in services and services[name].poll() is None:
                os.killpg(services[name].pid, how)
        for process in [*services.values(), *agents]:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
    assert services["devnet"].returncode == 0 and services["store"].returncode == 0
    assert port_is_free(chain_port) and (tmp_path / "demo" / "chain.json").exists()
    outputs = tmp_path / "demo" / "outputs"  # the experiment's files, written from the chain
    assert json.loads((outputs / "summary.json").read_text())["rounds"] == 2
    assert len((outputs / "rounds.jsonl").read_text().splitlines()) == 2
    assert (outputs / "history.png").read_bytes()[:4] == b"\x89PNG"
    for group in groups:
        lines = [json.loads(line) for line in (tmp_path / "demo" / "agents" / f"{group}.jsonl").read_text().splitlines()]
        assert lines[-1]["final"] is True
    # the devnet is gone: the same audit line brings its saved state back up
    again = subprocess.run(shlex.split(audits[0]), cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0 and "brought its saved state" in again.stderr, again.stdout + again.stderr
    assert "all checks hold: 2 rounds" in again.stdout


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while port_is_free(port):
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, f"nothing listens on {port} after {timeout} s"
        time.sleep(0.2)

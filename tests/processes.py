"""A real experiment on anvil with one ``learnledger agent`` process per group, for fault tests.

The tests freeze (SIGSTOP), kill (SIGKILL) and restart agent processes at moments they prove on the
chain, so every helper here polls the chain or a log file with a generous limit and fails naming what
it waited for; none is a fixed sleep that races.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from learnledger.agents.experiment import Experiment
from learnledger.ledger.client import ContractLedger
from learnledger.ledger.devnet import Devnet
from learnledger.ledger.params import Deployment
from learnledger.runs.launch import deploy_on_devnet
from learnledger.store.api import WeightStore

PATIENCE_S = 240.0
"""How long any one condition may take to appear on the chain (agents start Keras on a busy CPU)."""


def wait_for(condition: Callable[[], bool], what: str | Callable[[], str], timeout: float = PATIENCE_S) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` if it does not within ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what() if callable(what) else what}")
        time.sleep(0.05)


@dataclass
class DeployedExperiment:
    """An experiment deployed on a devnet: its record, an observer's handle, who is who."""

    deployment: Deployment
    deployment_file: Path
    observer: ContractLedger
    keys: dict[str, str]
    address_of: dict[str, str]

    def group_of(self, address: str) -> str:
        return next(group for group, mine in self.address_of.items() if mine.lower() == address.lower())

    def proposer_of(self, round: int) -> str:
        return self.group_of(self.observer.proposer_of(round))

    def voters_of(self, round: int) -> list[str]:
        proposer = self.proposer_of(round)
        return [group for group in self.address_of if group != proposer]

    def has_voted(self, round: int, group: str) -> bool:
        return self.observer.has_voted(round, self.address_of[group])


def deploy_experiment(folder: Path, experiment_file: Path, devnet: Devnet, store: WeightStore) -> DeployedExperiment:
    """Deploy ``experiment_file`` on ``devnet`` (``deploy_on_devnet``), its record in ``folder``."""
    experiment = Experiment.load(experiment_file)
    deployment_file = folder / "deployment.json"
    deployed = deploy_on_devnet(experiment, devnet, store, deployment_file)
    return DeployedExperiment(
        deployed.deployment, deployment_file, deployed.observer,
        keys={group: key for group, (_, key) in zip(experiment.groups, deployed.members)},
        address_of={group: address for group, (address, _) in zip(experiment.groups, deployed.members)},
    )


class AgentProcesses:
    """One ``learnledger agent`` process per group, which a test can freeze, kill and restart.

    Each start of a group's agent prints to its own file (``GROUP.N.log``); all starts of one group
    append their round logs to one ``GROUP.jsonl``, as a restarted agent would in production.
    """

    def __init__(self, folder: Path, deployment: Path, experiment: Path, ipfs_url: str,
                 keys: dict[str, str], rpc_urls: dict[str, str] | None = None) -> None:
        self.folder, self.deployment, self.experiment, self.ipfs_url = folder, deployment, experiment, ipfs_url
        self.keys = keys
        self.rpc_urls = rpc_urls or {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: dict[str, int] = {group: 0 for group in keys}
        self.outputs: list[IO[bytes]] = []

    def start(self, group: str) -> None:
        self.starts[group] += 1
        keyfile = self.folder / f"{group}.key"
        keyfile.write_text(self.keys[group] + "\n")
        keyfile.chmod(0o600)
        output = self._log(group).open("wb")
        self.outputs.append(output)
        rpc = ["--rpc", self.rpc_urls[group]] if group in self.rpc_urls else []
        self.processes[group] = subprocess.Popen(
            [sys.executable, "-m", "learnledger.cli.main", "agent", "--deployment", str(self.deployment),
             "--group", group, "--keyfile", str(keyfile), "--ipfs", self.ipfs_url, *rpc,
             "--experiment", str(self.experiment), "--log", str(self.round_log(group)),
             "--poll", "0.2"],
            stdout=output, stderr=subprocess.STDOUT, env=os.environ.copy())

    def round_log(self, group: str) -> Path:
        """The JSON-lines file where every start of ``group``'s agent writes its rounds."""
        return self.folder / f"{group}.jsonl"

    def printed(self, group: str, text: str) -> bool:
        """Whether the group's latest process has printed ``text`` (failing if it failed)."""
        if self.processes[group].poll() not in (None, 0):
            self.check_alive(group)
        return text in self._log(group).read_text(errors="replace")

    def ready(self, group: str) -> bool:
        """Whether the group's latest process has built its learner and follows the chain."""
        self.check_alive(group)
        return self.printed(group, "following")

    def signal(self, group: str, signum: int) -> None:
        os.kill(self.processes[group].pid, signum)

    def kill(self, group: str) -> None:
        process = self.processes[group]
        process.send_signal(signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL

    def check_alive(self, group: str) -> None:
        code = self.processes[group].poll()
        if code is not None:
            pytest.fail(f"agent {group} exited with {code}:\n{self.output(group)}")

    def output(self, group: str) -> str:
        """The last lines the group's latest process printed."""
        return self._log(group).read_text(errors="replace")[-3000:]

    def stop_all(self) -> None:
        stop_processes(self.processes.values(), self.outputs)

    def _log(self, group: str) -> Path:
        return self.folder / f"{group}.{self.starts[group]}.log"


def stop_processes(processes: Iterable[subprocess.Popen[bytes]], outputs: Iterable[IO[bytes]]) -> None:
    """Kill every process still running (thawing a frozen one first) and close the files they printed to."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
            process.wait(30)
    for output in outputs:
        output.close()

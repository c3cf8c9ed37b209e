"""Several hosts on one machine: a learner's link is cut in mid-round, then restored.

Each ``learnledger agent`` runs in its own network namespace, as on a host of its own; the chain
(anvil) and the store server run in a hub namespace; each agent's host has one veth link to the hub
(``tests/netns.py``). The test itself, in the root namespace, deploys, watches and audits through a
link of its own.

Round R, the first to open once every agent follows the chain: one of its voters, the victim, is
frozen (SIGSTOP) as the round opens, so it cannot vote before the cut. Once the proposal is on the
chain, the victim's link is cut at the hub and the victim thawed: it runs, but reaches nothing. The
round closes at its vote deadline with the other voter's vote alone and is finalized just after it.
The link stays down until the victim reports the chain unreachable (its ``follow`` loop retries),
then comes back: the victim catches up and acts in a later round; every agent finishes, every round
is final, and the audit (chain and store) finds nothing wrong.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest

from learnledger.agents.experiment import Experiment
from learnledger.audit.run import audit
from learnledger.ledger.chain import connect
from learnledger.ledger.devnet import Devnet
from learnledger.store.api import StoreError
from learnledger.store.kubo import KuboStore
from tests.conftest import needs_anvil, tiny_experiment_with_windows
from tests.netns import Network, namespaces_unavailable
from tests.processes import PATIENCE_S, DeployedExperiment, deploy_experiment, stop_processes, wait_for

pytestmark = [pytest.mark.anvil, pytest.mark.slow, needs_anvil]

GROUPS = ("cern", "fnal", "desy")
ROUNDS = 5
"""Rounds after the cut round leave the victim room to catch up, even if it misses the next one."""
PROPOSAL_WINDOW_S = 30
VOTE_WINDOW_S = 10
"""Short, so the cut round closes soon; long enough for a busy CPU to score and vote in it."""
RETRY_LIMIT_S = 1.0
"""The agents' longest pause between attempts while unreachable (the default, 30 s, is for real outages)."""
FINALIZE_SLACK_S = 10
"""From the vote deadline to the round's finalization: the agents look every 0.2 s."""
CUT_NOTICED_S = 60.0
"""How long an agent may take to report a dead link: web3's 10 s timeout, retried on timeouts."""
RETRYING = "retrying in"
"""What an agent's ``follow`` loop prints when the chain or the store fails it."""
CHAIN_PORT, STORE_PORT = 8545, 5001
"""Ports in the hub namespace, which is new and empty: nothing else can hold them."""


def windowed_experiment(tmp_path: Path) -> Path:
    """The tiny experiment, with windows short enough that a missing vote costs seconds."""
    return tiny_experiment_with_windows(tmp_path, ROUNDS, PROPOSAL_WINDOW_S, VOTE_WINDOW_S)


class Hosts:
    """The processes on the network's hosts, each printing to its own file in ``folder``.

    Like ``tests.processes.AgentProcesses``, but each agent runs on its own host (namespace).
    """

    def __init__(self, network: Network, folder: Path) -> None:
        self.network, self.folder = network, folder
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._outputs: list[IO[bytes]] = []

    def start(self, name: str, host: str | None, command: list[str]) -> None:
        output = (self.folder / f"{name}.log").open("wb")
        self._outputs.append(output)
        self.processes[name] = self.network.start(host, command, output)

    def start_agent(self, group: str, key: str, deployment: Path, experiment: Path, rpc_url: str,
                    ipfs_url: str) -> None:
        keyfile = self.folder / f"{group}.key"
        keyfile.write_text(key + "\n")
        keyfile.chmod(0o600)
        self.start(group, group, [
            sys.executable, "-m", "learnledger.cli.main", "agent", "--deployment", str(deployment),
            "--group", group, "--keyfile", str(keyfile), "--rpc", rpc_url, "--ipfs", ipfs_url,
            "--experiment", str(experiment), "--log", str(self.folder / f"{group}.jsonl"),
            "--poll", "0.2", "--retry-limit", str(RETRY_LIMIT_S)])

    def printed(self, name: str, text: str) -> bool:
        """Whether ``name``'s process has printed ``text``; fails if it died."""
        return self.count(name, text) > 0

    def count(self, name: str, text: str) -> int:
        """How many times ``name``'s process has printed ``text``; fails if it died."""
        if self.processes[name].poll() is not None:
            pytest.fail(f"{name} exited with {self.processes[name].returncode}:\n{self.output(name)}")
        return (self.folder / f"{name}.log").read_text(errors="replace").count(text)

    def output(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")[-3000:]

    def signal(self, name: str, signum: int) -> None:
        self.processes[name].send_signal(signum)

    def close(self) -> None:
        stop_processes(self.processes.values(), self._outputs)


def acted_after(deployed: DeployedExperiment, group: str, round: int) -> bool:
    """Whether ``group`` has proposed or voted in a round after ``round``, as the chain records it."""
    for later in range(round + 1, deployed.observer.current_round() + 1):
        proposal = deployed.observer.proposal(later)
        if proposal is not None and deployed.group_of(proposal.proposer) == group:
            return True
        if deployed.has_voted(later, group):
            return True
    return False


def store_answers(store: KuboStore) -> bool:
    try:
        store.version()
        return True
    except StoreError:
        return False


def test_a_learner_cut_off_in_mid_round_is_left_out_of_it_and_catches_up_once_its_link_returns(
        tmp_path: Path) -> None:
    unavailable = namespaces_unavailable()
    if unavailable:
        pytest.skip(unavailable)
    experiment_file = windowed_experiment(tmp_path)
    experiment = Experiment.load(experiment_file)
    assert experiment.groups == GROUPS
    network = Network(GROUPS)
    hosts = Hosts(network, tmp_path)
    devnet: Devnet | None = None
    try:
        network.build()
        hub = network.hub_address
        hosts.start("store", None, [sys.executable, "-m", "learnledger.cli.main", "store", "serve",
                                    "--host", hub, "--port", str(STORE_PORT), "--root", str(tmp_path / "store")])
        devnet = Devnet(port=CHAIN_PORT, host=hub, wrapper=network.exec_prefix(),
                        accounts=len(GROUPS) + 1).start()
        store = KuboStore(f"http://{hub}:{STORE_PORT}", retries=0)
        wait_for(lambda: hosts.printed("store", "serving") and store_answers(store), "the store server to answer")

        deployed = deploy_experiment(tmp_path, experiment_file, devnet, store)
        observer = deployed.observer
        for group in GROUPS:
            hosts.start_agent(group, deployed.keys[group], deployed.deployment_file, experiment_file,
                              devnet.rpc_url, store.url)
        for group in GROUPS:
            wait_for(lambda: hosts.printed(group, "following"), f"agent {group} to follow the chain from its host")

        # Round R opens: a voter is frozen before it can vote, then its link is cut under it.
        cut_round = observer.current_round() + 1
        wait_for(lambda: observer.current_round() >= cut_round, f"round {cut_round} to open")
        assert observer.current_round() == cut_round
        victim, other = deployed.voters_of(cut_round)
        hosts.signal(victim, signal.SIGSTOP)
        assert not deployed.has_voted(cut_round, victim), "frozen before it could vote"
        wait_for(lambda: observer.proposal(cut_round) is not None, f"round {cut_round}'s proposal")
        retries_before = hosts.count(victim, RETRYING)
        network.cut(victim)
        hosts.signal(victim, signal.SIGCONT)

        # The round is decided at its vote deadline without the victim, which runs but reaches nothing.
        deadline = observer.round_info(cut_round)["voteDeadline"]
        wait_for(lambda: observer.round_state(cut_round).is_final,
                 f"round {cut_round} to be decided by its vote deadline without {victim}",
                 timeout=max(0.0, deadline - time.time()) + FINALIZE_SLACK_S + 5)
        info = observer.round_info(cut_round)
        assert deadline < info["finalizedAt"] <= deadline + FINALIZE_SLACK_S, info
        assert deployed.has_voted(cut_round, other), f"{other} voted through its own link"
        assert not deployed.has_voted(cut_round, victim), f"{victim} could not reach the chain"
        assert hosts.processes[victim].poll() is None, f"{victim} outlives the cut:\n{hosts.output(victim)}"

        # The link stays down until the victim has found the chain unreachable (web3 gives up on a
        # dead link within its 10 s timeout and one more connection attempt), so that its
        # recovery is exercised; then it comes back, and the victim catches up in a later round.
        wait_for(lambda: hosts.count(victim, RETRYING) > retries_before, f"{victim} to find the chain unreachable",
                 timeout=CUT_NOTICED_S)
        network.restore(victim)
        restored_at = time.monotonic()
        wait_for(lambda: acted_after(deployed, victim, cut_round), f"{victim} to vote or propose after its link returned")
        print(f"{victim} acted again {time.monotonic() - restored_at:.1f} s after its link returned")

        wait_for(observer.is_finished, "the experiment to finish")
        for group in GROUPS:
            assert hosts.processes[group].wait(PATIENCE_S) == 0, hosts.output(group)
        history = observer.history()
        assert [r.round for r in history] == list(range(1, ROUNDS + 1))
        assert all(r.state.is_final for r in history), history
        assert [deployed.group_of(vote.voter) for vote in history[cut_round - 1].votes] == [other]
        report = audit(connect(devnet.rpc_url), deployed.deployment.address, deployed.deployment, store=store)
        assert report.ok, report.findings
    finally:
        hosts.close()
        if devnet is not None:
            devnet.stop()
        network.close()

"""Nothing is lost when a lab leaves: one private kubo node per lab, each on its own host.

Each group runs, in its own network namespace (``tests/netns.py``), a kubo node started with
``learnledger ipfs up`` (the consortium's swarm key; its peers the other labs) and a
``learnledger agent`` that stores and pins on that node alone. The chain (anvil) and a setup node,
through which the test deploys the spec and the initial weights, run in the hub namespace; the hub
forwards between the labs' links, so weights move lab to lab by bitswap.

The story: the first accepted round's proposer loses its node (SIGKILL) right after acceptance;
the setup node is gone too. Later rounds go on without it. Then its agent is restarted on a fresh
node with an empty repo: it catches up, pinning the spec, the initial weights and every accepted
model, fetched from the other labs. ``audit --verify`` through each node verifies every accepted
model. A node without the swarm key can neither connect to a lab nor fetch anything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from learnledger.agents.experiment import Experiment
from learnledger.ledger.api import RoundState
from learnledger.ledger.devnet import Devnet
from learnledger.store.api import ContentNotFound
from learnledger.store.kubo_node import KuboNode, new_swarm_key
from tests.conftest import needs_anvil
from tests.kubo_nodes import needs_kubo
from tests.netns import Network, namespaces_unavailable
from tests.processes import deploy_experiment, wait_for
from tests.test_netns import Hosts, windowed_experiment

pytestmark = [pytest.mark.anvil, pytest.mark.slow, needs_anvil, needs_kubo]

GROUPS = ("cern", "fnal", "desy")
CHAIN_PORT, API_PORT, SWARM_PORT, SETUP_API_PORT = 8545, 5001, 4001, 5101
CLI = [sys.executable, "-m", "learnledger.cli.main"]
PIN_POLL_S = 1.0
"""Pause before each look at a node's pins: each look starts a kubo CLI process."""


class Labs:
    """The labs' kubo nodes, each started by ``learnledger ipfs up`` on its own host."""

    def __init__(self, network: Network, folder: Path, key_file: Path) -> None:
        self.network, self.folder, self.key_file = network, folder, key_file
        self.peers: dict[str, str] = {}
        self.repos: dict[str, Path] = {}

    def url(self, group: str) -> str:
        return f"http://{self.network.links[group].host_ip}:{API_PORT}"

    def up(self, group: str, repo: Path, peers: list[str], key: bool = True) -> subprocess.CompletedProcess[str]:
        command = [*CLI, "ipfs", "up", "--repo", str(repo), "--host", self.network.links[group].host_ip,
                   "--api-port", str(API_PORT), "--swarm-port", str(SWARM_PORT)]
        command += ["--swarm-key", str(self.key_file)] if key else []
        for peer in peers:
            command += ["--peer", peer]
        done = self.run(group, command, timeout=240)
        if done.returncode == 0:
            self.repos[group] = repo
            self.peers[group] = _printed(done.stdout, "peer")
        return done

    def run(self, group: str | None, command: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.network.exec_prefix(group), *command], capture_output=True, text=True,
                              timeout=timeout)

    def pins(self, group: str) -> set[str]:
        """What the group's node pins, by kubo's own CLI on its host (throttled: ``wait_for`` polls fast)."""
        time.sleep(PIN_POLL_S)
        done = self.run(group, ["env", f"IPFS_PATH={self.repos[group]}", str(KuboNode(self.repos[group]).binary),
                                "pin", "ls", "--type=recursive", "--quiet"], timeout=60)
        assert done.returncode == 0, done.stderr
        return set(done.stdout.split())

    def kill(self, group: str) -> None:
        """SIGKILL the group's kubo daemon, as a lab dropping off the network without warning."""
        listed = subprocess.run(["ip", "netns", "pids", self.network.namespaces[group]], capture_output=True,
                                text=True, timeout=30).stdout.split()
        killed = 0
        for pid in listed:
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if command[:1] and command[0].endswith(b"ipfs") and b"daemon" in command:
                os.kill(int(pid), signal.SIGKILL)
                killed += 1
        assert killed == 1, f"expected one kubo daemon on {group}'s host, found {killed}"


def _printed(stdout: str, label: str) -> str:
    return next(line.split(": ", 1)[1] for line in stdout.splitlines() if line.startswith(f"{label}: "))


def test_a_lab_that_leaves_takes_no_accepted_model_with_it(tmp_path: Path) -> None:
    unavailable = namespaces_unavailable()
    if unavailable:
        pytest.skip(unavailable)
    experiment_file = windowed_experiment(tmp_path)
    experiment = Experiment.load(experiment_file)
    rounds = experiment.rounds
    network = Network(GROUPS)
    hosts = Hosts(network, tmp_path)
    key_file = tmp_path / "swarm.key"
    key_file.write_text(new_swarm_key())
    labs = Labs(network, tmp_path, key_file)
    devnet: Devnet | None = None
    setup: KuboNode | None = None
    try:
        network.build()
        subprocess.run([*network.exec_prefix(), "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"], check=True,
                       timeout=30)
        hub = network.hub_address
        devnet = Devnet(port=CHAIN_PORT, host=hub, wrapper=network.exec_prefix(), accounts=len(GROUPS) + 1).start()
        setup = KuboNode(tmp_path / "ipfs-setup", host=hub, api_port=SETUP_API_PORT, swarm_port=SWARM_PORT,
                         swarm_key=key_file.read_text(), command_prefix=network.exec_prefix()).start()
        for group in GROUPS:
            done = labs.up(group, tmp_path / "ipfs" / group, [setup.multiaddr, *labs.peers.values()])
            assert done.returncode == 0, done.stderr
        deployed = deploy_experiment(tmp_path, experiment_file, devnet, setup.store())
        observer, params = deployed.observer, deployed.deployment.params
        for group in GROUPS:
            hosts.start_agent(group, deployed.keys[group], deployed.deployment_file, experiment_file,
                              devnet.rpc_url, labs.url(group))
        for group in GROUPS:
            wait_for(lambda: hosts.printed(group, "following"), f"agent {group} to follow the chain")
        wait_for(lambda: all({params.spec_cid, params.initial_cid} <= labs.pins(g) for g in GROUPS),
                 "every lab to pin the spec and the initial weights on its own node")
        setup.kill()  # from here on, the labs' nodes hold everything

        # The first accepted round's proposer loses its node right after acceptance.
        wait_for(lambda: _first_accepted(observer) is not None, "a round to be accepted")
        accepted_round = _first_accepted(observer)
        victim = deployed.proposer_of(accepted_round)
        labs.kill(victim)
        killed_at = time.monotonic()
        survivors = [g for g in GROUPS if g != victim]
        victim_cid = observer.proposal(accepted_round).cid
        print(f"round {accepted_round} accepted {victim}'s proposal {victim_cid}; {victim}'s node killed")
        wait_for(lambda: all(victim_cid in labs.pins(g) for g in survivors),
                 "the other labs to pin the accepted model")

        # Later rounds go on without it.
        later = accepted_round + 1
        assert later <= rounds, "the experiment needs a round after the accepted one"
        wait_for(lambda: observer.round_state(later).is_final, f"round {later} to be decided without {victim}'s node")
        print(f"round {later} decided ({observer.round_state(later).name.lower()}) "
              f"{time.monotonic() - killed_at:.1f} s after {victim}'s node died")

        # The victim comes back with an empty repo and catches up from the other labs.
        hosts.processes[victim].kill()
        hosts.processes[victim].wait(30)
        fresh = tmp_path / "ipfs" / f"{victim}-fresh"
        done = labs.up(victim, fresh, [labs.peers[g] for g in survivors])
        assert done.returncode == 0, done.stderr
        restarted_at = time.monotonic()
        hosts.start_agent(victim, deployed.keys[victim], deployed.deployment_file, experiment_file,
                          devnet.rpc_url, labs.url(victim))

        def caught_up() -> bool:
            decided = [r for r in range(1, observer.current_round() + 1) if observer.round_state(r).is_final]
            accepted = {observer.proposal(r).cid for r in decided if observer.round_state(r) is RoundState.ACCEPTED}
            return {params.spec_cid, params.initial_cid} | accepted <= labs.pins(victim)
        wait_for(caught_up, f"{victim}'s fresh node to pin every accepted model")
        print(f"{victim} restarted with an empty repo pinned every accepted model "
              f"{time.monotonic() - restarted_at:.1f} s later")

        wait_for(observer.is_finished, "the experiment to finish")
        for group in GROUPS:
            assert hosts.processes[group].wait(240) == 0, hosts.output(group)
        history = observer.history()
        assert [r.round for r in history] == list(range(1, rounds + 1)) and all(r.state.is_final for r in history)
        accepted = {r.proposal.cid for r in history if r.state is RoundState.ACCEPTED}
        for group in GROUPS:
            assert accepted | {params.spec_cid, params.initial_cid} <= labs.pins(group), group

        # audit --verify through each lab's node verifies every accepted model.
        codes = {}
        for group in GROUPS:
            audited = labs.run(group, [*CLI, "audit", "--deployment", str(deployed.deployment_file),
                                       "--verify", "--ipfs", labs.url(group)], timeout=600)
            rejected = [r for r in history if r.state is RoundState.REJECTED]
            assert audited.returncode == 0 or rejected, audited.stdout + audited.stderr
            codes[group] = audited.returncode
            for record in history:
                if record.state is RoundState.ACCEPTED:
                    assert f"{record.proposal.cid}: not in the store" not in audited.stdout
        print(f"{len(history)} rounds ({', '.join(r.state.name.lower() for r in history)}); "
              f"audit --verify exit status through each lab's node: {codes}")

        # A node without the swarm key can neither join nor fetch.
        outsider = KuboNode(tmp_path / "ipfs-outsider", host=hub, api_port=SETUP_API_PORT + 1,
                            swarm_port=SWARM_PORT + 1, command_prefix=network.exec_prefix())
        with outsider:
            refused = labs.run(None, [*CLI, "ipfs", "up", "--repo", str(tmp_path / "ipfs-outsider2"), "--host", hub,
                                      "--api-port", str(SETUP_API_PORT + 2), "--swarm-port", str(SWARM_PORT + 2),
                                      "--peer", labs.peers[survivors[0]]], timeout=240)
            assert refused.returncode == 1 and "same swarm.key" in " ".join(refused.stderr.split()), refused.stderr
            with pytest.raises(ContentNotFound, match=victim_cid):
                outsider.store(find_timeout=5).get(victim_cid)
    finally:
        hosts.close()
        if setup is not None:
            setup.kill()
        if devnet is not None:
            devnet.stop()
        network.close()


def _first_accepted(observer) -> int | None:
    for record in observer.history():
        if record.state is RoundState.ACCEPTED:
            return record.round
    return None

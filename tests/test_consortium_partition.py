"""A consortium split by a cut link, then healed: both sides build blocks, the chain reorganises, and
nothing the agents sent is lost.

Three geth Clique signers, each in its own network namespace (its lab's host, tests/netns.py), peer
through the hub, which forwards between the hosts; the store server runs on the hub. Each lab's
`learnledger agent` runs on its lab's host and talks to its own node only. While the experiment runs,
one lab's link is cut at the hub for several blocks: its node seals a block of its own (a lone Clique
signer may sign one block in two), the other two go on sealing theirs. Restored, the lone node
reorganises onto the longer chain. The test reads the nodes over their IPC sockets (which reach into
any namespace) and checks: every round ends final on the canonical chain, every vote and proposal an
agent logged is recorded there, and the audit finds nothing wrong. It prints the partition's figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from learnledger.agents.experiment import Experiment
from learnledger.audit.run import audit
from learnledger.ledger.client import ContractLedger
from learnledger.ledger.consortium import Consortium
from learnledger.ledger.deploy import deploy
from learnledger.ledger.devnet import devnet_accounts
from learnledger.report.rounds import read_jsonl
from learnledger.runs.embedded import experiment_params
from learnledger.store.kubo import KuboStore
from tests.conftest import needs_geth, tiny_experiment_with_windows
from tests.netns import Network, namespaces_unavailable
from tests.processes import PATIENCE_S, wait_for
from tests.test_netns import Hosts, store_answers

pytestmark = [pytest.mark.geth, pytest.mark.slow, needs_geth]

GROUPS = ("cern", "fnal", "desy")
ROUNDS = 4
CUT_BLOCKS = 6
"""Blocks the majority seals while the lone node is cut off (12 s at 2 s blocks)."""
STORE_PORT = 5001


def windowed(tmp_path: Path) -> Path:
    """Windows long enough that no round closes by its deadline while a lab is cut off: the rounds
    wait for the lone lab's vote, which reaches the chain once the link is back."""
    return tiny_experiment_with_windows(tmp_path, ROUNDS, 600, 600)


def test_a_partitioned_signer_forks_then_reorganises_and_nothing_sent_is_lost(tmp_path: Path) -> None:
    unavailable = namespaces_unavailable()
    if unavailable:
        pytest.skip(unavailable)
    experiment_file = windowed(tmp_path)
    experiment = Experiment.load(experiment_file)
    accounts = devnet_accounts(len(GROUPS) + 1)  # PUBLIC dev keys, on a private test chain only
    network = Network(GROUPS)
    hosts = Hosts(network, tmp_path)
    consortium: Consortium | None = None
    try:
        network.build()
        subprocess.run([*network.exec_prefix(), "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"], check=True)
        hub = network.hub_address
        hosts.start("store", None, [sys.executable, "-m", "learnledger.cli.main", "store", "serve",
                                    "--host", hub, "--port", str(STORE_PORT), "--root", str(tmp_path / "store")])
        store = KuboStore(f"http://{hub}:{STORE_PORT}", retries=0)
        wait_for(lambda: hosts.printed("store", "serving") and store_answers(store), "the store server")

        consortium = Consortium(tmp_path / "chain", nodes=3, period=2, names=GROUPS,
                                fund=[a for a, _ in accounts],
                                hosts=[network.links[g].host_ip for g in GROUPS],
                                wrappers=[network.exec_prefix(g) for g in GROUPS])
        consortium.start(timeout=180)
        w3s = {g: consortium.node_web3(k) for k, g in enumerate(GROUPS, start=1)}
        urls = dict(zip(GROUPS, consortium.rpc_urls))

        from learnledger.agents.learner import initial_weights

        initial = initial_weights(experiment.spec)
        params = experiment_params(experiment, [a for a, _ in accounts[:3]], store.put(experiment.spec.canonical_json()),
                                   initial, store.put(initial))
        deployer = accounts[3][1]
        deployment = deploy(w3s["cern"], deployer, params, rpc_url=urls["cern"])
        record = tmp_path / "deployment.json"
        deployment.save(record)
        observers = {g: ContractLedger(w3, deployment, deployer) for g, w3 in w3s.items()}
        for group, (_, key) in zip(GROUPS, accounts):
            hosts.start_agent(group, key, record, experiment_file, urls[group], store.url)
        for group in GROUPS:
            wait_for(lambda: hosts.printed(group, "following"), f"agent {group} to follow its own node")

        # Cut one lab off in round 2, before it has voted: it is the round's first voter that has not.
        majority = observers["cern"]
        wait_for(lambda: majority.current_round() >= 2, "round 2 to open")
        victim = next(g for g in GROUPS[1:] if g != _group(deployment, majority.proposer_of(2)))
        side = next(g for g in GROUPS if g != victim)
        lone = w3s[victim]
        network.cut(victim)
        cut_head = lone.eth.block_number
        # A transaction sent to the lone node while it is cut off (from the deployer's account, so as
        # not to race the agents' nonces): it lands in the lone node's fork, if that seals a block.
        sent: dict[str, object] = {}
        sender = threading.Thread(target=_send_to, args=(lone, deployer, accounts[3][0], sent), daemon=True)
        sender.start()
        wait_for(lambda: w3s[side].eth.block_number >= cut_head + CUT_BLOCKS, f"{CUT_BLOCKS} blocks without {victim}",
                 timeout=120)
        lone_head = lone.eth.block_number
        lone_blocks = {n: bytes(lone.eth.get_block(n)["hash"]) for n in range(cut_head, lone_head + 1)}
        majority_head = w3s[side].eth.block_number
        network.restore(victim)

        # Healed: the lone node takes the majority's chain; where it had sealed alone, it reorganises.
        wait_for(lambda: lone.eth.block_number > majority_head
                 and lone.eth.get_block(majority_head)["hash"] == w3s[side].eth.get_block(majority_head)["hash"],
                 f"{victim}'s node to rejoin the majority's chain", timeout=120)
        replaced = [n for n, h in lone_blocks.items() if bytes(w3s[side].eth.get_block(n)["hash"]) != h]
        sender.join(PATIENCE_S)
        assert "receipt" in sent, sent.get("error")
        first = sent["receipt"]
        canonical = w3s[side].eth.get_transaction_receipt(first["transactionHash"])  # type: ignore[index]
        assert canonical["status"] == 1  # not lost: on the canonical chain, wherever it was mined first
        reorged_out = bytes(canonical["blockHash"]) != bytes(first["blockHash"])  # type: ignore[index]

        wait_for(majority.is_finished, "the experiment to finish", timeout=PATIENCE_S * 2)
        for group in GROUPS:
            assert hosts.processes[group].wait(PATIENCE_S) == 0, hosts.output(group)
        history = majority.history()
        assert [r.round for r in history] == list(range(1, ROUNDS + 1))
        assert all(r.state.is_final for r in history), history
        for group, observer in observers.items():  # every node tells the same final story
            assert [r.state for r in observer.history()] == [r.state for r in history], group

        resent = 0
        for group, (address, _) in zip(GROUPS, accounts):
            for line in read_jsonl(tmp_path / f"{group}.jsonl"):
                if line.get("role") == "voter":
                    assert majority.has_voted(line["round"], address), f"{group}'s vote in round {line['round']} is lost"
                if line.get("role") == "proposer":
                    proposal = majority.proposal(line["round"])
                    assert proposal is not None and proposal.proposer == address, f"{group}'s proposal is lost"
            output = (tmp_path / f"{group}.log").read_text(errors="replace")
            resent += output.count("re-sending") + output.count("replacing it")
        report = audit(w3s[side], deployment.address, deployment, store=store)
        assert report.ok, report.findings
        figures = {"victim": victim, "blocks_while_cut": majority_head - cut_head,
                   "lone_blocks_sealed": lone_head - cut_head, "reorg_depth": len(replaced),
                   "txs_resent_by_agents": resent, "tx_sent_while_cut_reorged_out_and_remined": reorged_out,
                   "lost": 0}
        print("partition figures:", json.dumps(figures))
        assert figures["blocks_while_cut"] >= CUT_BLOCKS
    finally:
        hosts.close()
        if consortium is not None:
            consortium.stop()
        network.close()


def _send_to(w3, key: str, to: str, out: dict[str, object]) -> None:  # type: ignore[no-untyped-def]
    from learnledger.ledger.artifact import load_artifact
    from learnledger.ledger.errors import RevertDecoder
    from learnledger.ledger.transact import Transactor

    try:
        out["receipt"] = Transactor(w3, key, RevertDecoder(load_artifact().abi)).send(to, "0x")
    except Exception as error:  # reported by the test's assertion
        out["error"] = repr(error)


def _group(deployment, address: str) -> str:  # type: ignore[no-untyped-def]
    return deployment.params.group_names[[m.lower() for m in deployment.params.members].index(address.lower())]

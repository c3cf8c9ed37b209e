"""A real consortium: three geth Clique signers on loopback seal blocks in turn and agree; the
contract (built for a London EVM) deploys and plays a round there; bad set-ups are named."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from learnledger.ledger.api import RoundState
from learnledger.ledger.chain import connect
from learnledger.ledger.client import ContractLedger
from learnledger.ledger.consortium import Consortium, ConsortiumError, clique_genesis
from learnledger.ledger.deploy import deploy
from learnledger.ledger.params import ExperimentParams
from learnledger.ledger.sandbox import PLACEHOLDER_INITIAL_DIGEST, PLACEHOLDER_SPEC_DIGEST
from tests.conftest import needs_geth
from tests.kubo_nodes import IPFS, needs_kubo

PUBLIC_KEYS = [  # anvil's first three PUBLIC dev keys: test-only, worthless anywhere
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fbeb8029901d8c9",
]


def member_addresses() -> list[str]:
    from eth_account import Account

    return [Account.from_key(key).address for key in PUBLIC_KEYS]


def test_the_genesis_lists_the_signers_and_funds_the_members() -> None:
    signers = ["0x" + "bb" * 20, "0x" + "aa" * 20]
    genesis = clique_genesis(777, 2, signers, ["0x" + "cc" * 20])
    extra = genesis["extradata"].removeprefix("0x")
    assert extra == "00" * 32 + "aa" * 20 + "bb" * 20 + "00" * 65  # vanity, sorted signers, seal
    assert genesis["config"]["clique"]["period"] == 2 and genesis["config"]["chainId"] == 777
    assert genesis["config"]["londonBlock"] == 0 and "shanghaiTime" not in genesis["config"]
    assert set(genesis["alloc"]) == {"aa" * 20, "bb" * 20, "cc" * 20}
    with pytest.raises(ConsortiumError, match="at least one signer"):
        clique_genesis(777, 2, [], [])


def test_bad_sizes_are_refused_with_the_value(tmp_path: Path) -> None:
    with pytest.raises(ConsortiumError, match="nodes=0"):
        Consortium(tmp_path, nodes=0)
    with pytest.raises(ConsortiumError, match="period=0"):
        Consortium(tmp_path, period=0)


@pytest.mark.geth
@pytest.mark.slow
@needs_geth
def test_three_signers_seal_in_turn_agree_and_run_a_round(tmp_path: Path) -> None:
    members = member_addresses()
    consortium = Consortium(tmp_path / "c", nodes=3, period=2, fund=members)
    with consortium:
        record = consortium.record
        assert record is not None
        config = (consortium.node_dir(1) / "config.toml").read_text()
        assert "NoDiscovery = true" in config and "BootstrapNodes = []" in config
        for path in (consortium.node_dir(1) / "password", consortium.node_dir(1) / "nodekey"):
            assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
        w3s = [connect(url) for url in consortium.rpc_urls]
        assert {w3.eth.chain_id for w3 in w3s} == {record.chain_id}
        for member in members:
            assert w3s[0].eth.get_balance(member) > 10**20  # funded in the genesis

        # every signer seals: wait until each has sealed a block (Clique rotates in turn)
        deadline = time.monotonic() + 90
        sealers: set[str] = set()
        while len(sealers) < 3 and time.monotonic() < deadline:
            head = w3s[0].eth.block_number
            for number in range(max(1, head - 6), head + 1):
                sealers.add(w3s[0].provider.make_request("clique_getSigner", [hex(number)])["result"].lower())
            time.sleep(1)
        assert sealers == {n.signer.lower() for n in record.nodes}

        # blocks come about every period, and the nodes agree on them
        start = w3s[0].eth.get_block("latest")
        time.sleep(8)
        end = w3s[0].eth.get_block("latest")
        spacing = (end["timestamp"] - start["timestamp"]) / max(1, end["number"] - start["number"])
        assert 1.5 <= spacing <= 4.0, f"blocks every {spacing:.1f} s with period 2"
        common = min(w3.eth.block_number for w3 in w3s) - 1
        assert len({w3.eth.get_block(common)["hash"] for w3 in w3s}) == 1

        # the contract (London EVM, no PUSH0) deploys and plays a round, each member on its own node
        params = ExperimentParams(members=tuple(members), group_names=("a", "b", "c"),
                                  spec_digest=PLACEHOLDER_SPEC_DIGEST, spec_cid="spec",
                                  initial_digest=PLACEHOLDER_INITIAL_DIGEST, initial_cid="init",
                                  proposal_window=600, vote_window=600)
        deployment = deploy(w3s[0], PUBLIC_KEYS[0], params, rpc_url=consortium.rpc_urls[0])
        ledgers = {address: ContractLedger(w3s[i], deployment, PUBLIC_KEYS[i])
                   for i, address in enumerate(members)}
        drawn = ledgers[members[0]].proposer_of(1)
        ledgers[drawn].propose(1, b"\x07" * 32, "cid-0123456789012345678901234567890123456789012345678901234")
        gas = {"propose": ledgers[drawn].last_gas_used}
        voters = [member for member in members if member != drawn]
        ledgers[voters[0]].vote(1, True, 990_000, 980_000)
        gas["vote"] = ledgers[voters[0]].last_gas_used
        ledgers[voters[1]].vote(1, True, 990_000, 980_000)
        assert all(ledger.round_state(1) is RoundState.ACCEPTED for ledger in ledgers.values())
        # the protocol's gas goals hold on the London EVM too (a 59-character CID, an ordinary vote)
        assert gas["vote"] <= 38_000 and gas["propose"] <= 60_000, gas
    statuses_after = [consortium._pid_alive(n) for n in record.nodes]
    assert statuses_after == [False, False, False]


@pytest.mark.geth
@pytest.mark.slow
@needs_geth
def test_cli_up_status_down(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    cli = [sys.executable, "-m", "learnledger.cli.main", "consortium"]
    up = subprocess.run([*cli, "up", "--dir", str(folder), "--nodes", "2", "--fund", member_addresses()[0]],
                        capture_output=True, text=True, timeout=240)
    try:
        assert up.returncode == 0, up.stderr
        record = json.loads((folder / "consortium.json").read_text())
        for node in record["nodes"]:
            assert f"http://127.0.0.1:{node['http_port']}" in up.stdout
        status = subprocess.run([*cli, "status", "--dir", str(folder), "--json"],
                                capture_output=True, text=True, timeout=120)
        assert status.returncode == 0, status.stdout + status.stderr
        nodes = json.loads(status.stdout)
        assert [n["is_signer"] for n in nodes] == [True, True] and all(n["peers"] == 1 for n in nodes)
        again = subprocess.run([*cli, "up", "--dir", str(folder), "--chain-id", "5"],
                               capture_output=True, text=True, timeout=120)
        assert again.returncode == 2 and "genesis cannot change" in again.stderr
    finally:
        down = subprocess.run([*cli, "down", "--dir", str(folder)], capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stderr
    status = subprocess.run([*cli, "status", "--dir", str(folder)], capture_output=True, text=True, timeout=120)
    assert status.returncode == 1 and "down" in status.stdout
    assert not any(Consortium(folder)._pid_alive(n) for n in Consortium(folder).load().nodes)


@pytest.mark.geth
@pytest.mark.slow
@needs_geth
def test_launch_on_a_consortium_runs_each_agent_on_its_own_node(tmp_path: Path) -> None:
    from learnledger.report.rounds import read_jsonl
    from tests.conftest import tiny_experiment

    out = tmp_path / "launch"
    done = subprocess.run([sys.executable, "-m", "learnledger.cli.main", "launch",
                           str(tiny_experiment(tmp_path, rounds=2)), "--consortium", "--out", str(out),
                           "--timeout", "600"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = read_jsonl(out / "rounds.jsonl")
    assert [row["round"] for row in rows] == [1, 2]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["final_test_scores"]) == {"cern", "fnal", "desy"}
    # The same outputs as anvil's launch: the final model the chain names, and the experiment's terms.
    final = (out / "final.safetensors").read_bytes()
    assert hashlib.sha256(final).hexdigest() == summary["final_model_digest"] == rows[-1]["model_digest"]
    assert summary["terms"]["name"] == "tiny"
    record = json.loads((out / "consortium" / "consortium.json").read_text())
    assert [n["name"] for n in record["nodes"]] == ["cern", "fnal", "desy"]
    for node in record["nodes"]:  # each agent was told its own group's node, and a keystore
        log = (out / "agents" / f"{node['name']}.log").read_text()
        assert "plain, unencrypted key" not in log
        keystore = json.loads((out / "keys" / f"{node['name']}.json").read_text())
        assert keystore["version"] == 3
    for row in rows:
        for group in row["votes"]:
            assert any(line.get("round") == row["round"] and line.get("role") == "voter"
                       for line in read_jsonl(out / "agents" / f"{group}.jsonl"))
    # the keys never reached a log or the run's outputs in the clear
    from learnledger.ledger.keys import read_password_file, unlock_keystore

    secrets_ = [unlock_keystore(out / "keys" / f"{g}.json", read_password_file(out / "keys" / f"{g}.password"))
                .removeprefix("0x") for g in ("cern", "fnal", "desy")]
    for path in [*(out / "agents").iterdir(), out / "rounds.jsonl", out / "deployment.json"]:
        text = path.read_text(errors="replace")
        assert not any(secret in text for secret in secrets_), f"a key leaked into {path}"
    assert not any(Consortium(out / "consortium")._pid_alive(n) for n in Consortium(out / "consortium").load().nodes)


@pytest.mark.geth
@pytest.mark.slow
@needs_geth
def test_a_node_whose_key_is_not_a_signer_is_named(tmp_path: Path) -> None:
    """Node 3 seals with a key the genesis does not list: it follows the chain the two real signers
    seal but seals nothing, and `consortium status` says so and exits 1."""
    from eth_account import Account

    consortium = Consortium(tmp_path / "c", nodes=3, period=2)
    record = consortium.create()
    outsider = Account.create()
    password = (consortium.node_dir(3) / "password").read_text()
    (consortium.node_dir(3) / "keystore" / "outsider.json").write_text(json.dumps(Account.encrypt(outsider.key, password)))
    record.nodes[2].signer = outsider.address
    record.save(consortium.state_path)
    with consortium:
        statuses = consortium.status()
        assert [s.is_signer for s in statuses] == [True, True, False]
        assert outsider.address in (statuses[2].problem or "") and "not a Clique signer" in (statuses[2].problem or "")
        shown = subprocess.run([sys.executable, "-m", "learnledger.cli.main", "consortium", "status", "--dir",
                                str(tmp_path / "c")], capture_output=True, text=True, timeout=120)
        assert shown.returncode == 1 and "not a Clique signer" in shown.stdout


@pytest.mark.geth
@pytest.mark.slow
@needs_geth
@needs_kubo
def test_launch_on_a_consortium_with_a_kubo_node_per_lab_pins_every_accepted_model_on_every_node(
        tmp_path: Path) -> None:
    """The whole consortium of DESIGN.md: each lab a geth signer and a private kubo node, each agent on
    its own lab's two; after the run every lab's repo holds the spec, the initial weights and every
    accepted model."""
    from learnledger.ledger.params import Deployment
    from learnledger.report.rounds import read_jsonl
    from tests.conftest import tiny_experiment

    out = tmp_path / "launch"
    done = subprocess.run([sys.executable, "-m", "learnledger.cli.main", "launch",
                           str(tiny_experiment(tmp_path, rounds=2)), "--consortium", "--ipfs-per-lab",
                           "--out", str(out), "--timeout", "600"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = read_jsonl(out / "rounds.jsonl")
    assert [row["round"] for row in rows] == [1, 2]
    params = Deployment.load(out / "deployment.json").params
    accepted = {row["cid"] for row in rows if row["outcome"] == "accepted"}
    for group in ("cern", "fnal", "desy"):
        agent_log = (out / "agents" / f"{group}.log").read_text()
        assert "plain, unencrypted key" not in agent_log
        listed = subprocess.run([str(IPFS), "pin", "ls", "--type=recursive", "--quiet"], capture_output=True,
                                text=True, timeout=120, env={**os.environ, "IPFS_PATH": str(out / "ipfs" / group)})
        assert listed.returncode == 0, listed.stderr  # the daemons are stopped: the repo is read directly
        assert {params.spec_cid, params.initial_cid} | accepted <= set(listed.stdout.split()), group

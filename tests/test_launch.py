"""One OS process per research group on anvil: deploy from an experiment file, agents, launch.

These start the real anvil devnet from node_modules (npm ci) and real agent processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from learnledger.ledger.devnet import Devnet
from learnledger.ledger.params import Deployment
from learnledger.report.rounds import read_jsonl
from learnledger.store.local import LocalStore
from learnledger.store.server import serve_in_thread
from tests.conftest import needs_anvil, tiny_experiment
from tests.kubo_nodes import IPFS, needs_kubo

pytestmark = [
    pytest.mark.anvil,
    needs_anvil,
]

CLI = [sys.executable, "-m", "learnledger.cli.main"]


@pytest.mark.slow
def test_launch_runs_every_group_as_its_own_process(tmp_path: Path) -> None:
    out = tmp_path / "launch"
    done = subprocess.run([*CLI, "launch", str(tiny_experiment(tmp_path, rounds=2)), "--out", str(out),
                           "--timeout", "400"], capture_output=True, text=True, timeout=500)

    assert done.returncode == 0, done.stdout + done.stderr
    rows = read_jsonl(out / "rounds.jsonl")
    summary = json.loads((out / "summary.json").read_text())
    assert [row["round"] for row in rows] == [1, 2]
    assert summary["accepted"] + summary["rejected"] + summary["skipped"] == 2
    # Each group's process evaluated the final shared model itself and logged it.
    assert set(summary["final_test_scores"]) == {"cern", "fnal", "desy"}
    for group in ("cern", "fnal", "desy"):
        final = [row for row in read_jsonl(out / "agents" / f"{group}.jsonl") if row.get("final")]
        assert final and final[0]["model_digest"] == rows[-1]["model_digest"]
    # Every vote on the chain was cast by a separate process, which logged it in its own file.
    for row in rows:
        for group, vote in row["votes"].items():
            logged = [line for line in read_jsonl(out / "agents" / f"{group}.jsonl")
                      if line.get("round") == row["round"] and line.get("role") == "voter"]
            assert logged and logged[0]["approve"] == vote["approve"]
    # The same outputs as `run`: the final model is the one the chain names.
    final = (out / "final.safetensors").read_bytes()
    assert hashlib.sha256(final).hexdigest() == summary["final_model_digest"] == rows[-1]["model_digest"]
    assert (out / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Its anvil is gone, but the folder keeps the chain: the audit brings it back up and checks it all.
    audited = subprocess.run([*CLI, "audit", "--deployment", str(out / "deployment.json"), "--verify", "--json"],
                             capture_output=True, text=True, timeout=300)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    verdict = json.loads(audited.stdout)  # --json: stdout holds the verdict and nothing else
    assert verdict["ok"] and verdict["rounds"] == 2 and verdict["verified_files"] >= 3
    assert "brought its saved state" in audited.stderr
    # ... and a second launch into the same folder is refused rather than overwriting it.
    again = subprocess.run([*CLI, "launch", str(tmp_path / "tiny.toml"), "--out", str(out)],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "holds a finished run" in again.stderr and "--fresh" in again.stderr


@pytest.mark.slow
def test_an_in_process_run_on_anvil_records_every_round_on_the_devnet(tmp_path: Path) -> None:
    from learnledger.agents.experiment import Experiment
    from learnledger.runs.embedded import run_experiment

    result = run_experiment(Experiment.load(tiny_experiment(tmp_path, rounds=2)), tmp_path / "out",
                            ledger="anvil")

    assert [row["round"] for row in result.rounds] == [1, 2]
    assert all(len(row["votes"]) == 2 for row in result.rounds)
    final = (tmp_path / "out" / "final.safetensors").read_bytes()
    assert hashlib.sha256(final).hexdigest() == result.summary["final_model_digest"]
    assert json.loads((tmp_path / "out" / "deployment.json").read_text())["rpc_url"].startswith("http://127.0.0.1:")


def test_deploy_from_an_experiment_file_puts_spec_and_weights_in_the_store(tmp_path: Path) -> None:
    from learnledger.agents.experiment import Experiment

    experiment_file = tiny_experiment(tmp_path)
    store = LocalStore(tmp_path / "store")
    server, _ = serve_in_thread(store, "127.0.0.1", 0)
    try:
        with Devnet(accounts=4) as devnet:
            members = ",".join(address for address, _ in devnet.accounts[:3])
            done = subprocess.run(
                [*CLI, "deploy", "--rpc", devnet.rpc_url, "--members", members, "--key",
                 devnet.accounts[3][1], "--experiment", str(experiment_file), "--ipfs", server.url,
                 "--out", str(tmp_path / "deployment.json")],
                capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr
            deployment = Deployment.load(tmp_path / "deployment.json")
            experiment = Experiment.load(experiment_file)
            assert deployment.params.group_names == experiment.groups
            assert deployment.params.spec_digest == experiment.spec.digest()
            assert hashlib.sha256(store.get(deployment.params.spec_cid)).digest() == experiment.spec.digest()
            assert hashlib.sha256(store.get(deployment.params.initial_cid)).digest() == (
                deployment.params.initial_digest)

            # An agent started with another group's key is refused before it does anything.
            wrong = subprocess.run(
                [*CLI, "agent", "--deployment", str(tmp_path / "deployment.json"), "--group", "cern",
                 "--key", devnet.accounts[1][1], "--ipfs", server.url, "--experiment", str(experiment_file)],
                capture_output=True, text=True, timeout=300)
            assert wrong.returncode == 2
            assert "signs as" in wrong.stderr and "Traceback" not in wrong.stderr
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
@needs_kubo
def test_launch_with_a_kubo_node_per_lab_pins_every_accepted_model_on_every_node(tmp_path: Path) -> None:
    out = tmp_path / "launch"
    done = subprocess.run([*CLI, "launch", str(tiny_experiment(tmp_path, rounds=2)), "--out", str(out),
                           "--timeout", "400", "--ipfs-per-lab"], capture_output=True, text=True, timeout=500)

    assert done.returncode == 0, done.stdout + done.stderr
    rows = read_jsonl(out / "rounds.jsonl")
    params = Deployment.load(out / "deployment.json").params
    accepted = {row["cid"] for row in rows if row["outcome"] == "accepted"}
    for group in ("cern", "fnal", "desy"):
        repo = out / "ipfs" / group
        assert (repo / "swarm.key").is_file(), "the labs' nodes share a private swarm key"
        listed = subprocess.run([str(IPFS), "pin", "ls", "--type=recursive", "--quiet"], capture_output=True,
                                text=True, timeout=120, env={**os.environ, "IPFS_PATH": str(repo)})
        assert listed.returncode == 0, listed.stderr  # the daemons are stopped: the repo is read directly
        pins = set(listed.stdout.split())
        assert {params.spec_cid, params.initial_cid} | accepted <= pins, group
        mine = {row["cid"] for row in rows if row["proposer"] == group}
        assert mine <= pins, f"{group} pins its own proposals"

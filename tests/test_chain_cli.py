"""``learnledger devnet`` and ``learnledger deploy``, run as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from learnledger.cli.main import app
from learnledger.ledger.chain import connect
from learnledger.ledger.client import ContractLedger
from learnledger.ledger.devnet import Devnet, devnet_accounts, free_port
from learnledger.ledger.params import Deployment

from tests.conftest import needs_anvil
runner = CliRunner()
FIRST_KEY = devnet_accounts(1)[0][1]


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


@pytest.mark.parametrize(
    "args,message",
    [
        (["--members", "0x12"], "'0x12' is not an address"),
        (["--members", "0x" + "11" * 20, "--names", "a,b"], "2 names for 1 members"),
        (["--members", "0x" + "11" * 20], "exactly one of --keystore FILE (with --password-file), "
                                          "--keyfile FILE or --key HEX"),
        (["--members", "0x" + "11" * 20, "--key", "0xnope"], "64 hex digits"),
        (["--members", "0x" + "11" * 20, "--key", FIRST_KEY, "--spec-digest", "abc"], "received: 'abc'"),
    ],
)
def test_deploy_refuses_bad_input_before_touching_the_chain(args: list[str], message: str) -> None:
    result = invoke("deploy", "--rpc", "http://127.0.0.1:9", *args)
    assert result.exit_code == 1
    assert message in str(result.exception)


def test_deploy_says_when_no_node_answers(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = invoke("deploy", "--rpc", url, "--members", "0x" + "11" * 20, "--key", FIRST_KEY,
                    "--out", str(tmp_path / "d.json"))
    assert result.exit_code == 1 and f"no Ethereum node answers at {url}" in str(result.exception)
    assert not (tmp_path / "d.json").exists()


@needs_anvil
def test_deploy_writes_a_record_the_client_can_use(tmp_path: Path) -> None:
    keyfile = tmp_path / "key"
    keyfile.write_text(FIRST_KEY + "\n")
    out = tmp_path / "deployment.json"
    with Devnet(accounts=3) as node:
        members = ",".join(address for address, _ in node.accounts)
        result = invoke("deploy", "--rpc", node.rpc_url, "--members", members, "--names", "cern,fnal,desy",
                        "--threshold-bps", "6000", "--vote-window", "60", "--max-rounds", "3",
                        "--keyfile", str(keyfile), "--out", str(out))
        assert result.exit_code == 0, result.output
        deployment = Deployment.load(out)
        assert deployment.address in result.output
        client = ContractLedger(connect(node.rpc_url), deployment, node.accounts[1][1])
        assert [m.group for m in client.members()] == ["cern", "fnal", "desy"]
        assert client.contract.functions.thresholdBps().call() == 6000
        assert client.contract.functions.maxRounds().call() == 3
        assert client.current_round() == 1

        duplicate = invoke("deploy", "--rpc", node.rpc_url, "--members", f"{members},{node.accounts[0][0]}",
                           "--key", FIRST_KEY, "--out", str(tmp_path / "other.json"))
        assert duplicate.exit_code == 1 and "ExperimentMemberDuplicate(3" in str(duplicate.exception)


@needs_anvil
def test_devnet_command_prints_public_keys_and_saves_state_on_ctrl_c(tmp_path: Path) -> None:
    state = tmp_path / "chain.json"
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "learnledger.cli.main", "devnet", "--port", str(port), "--state", str(state),
         "--accounts", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        w3 = connect(f"http://127.0.0.1:{port}", timeout=60)
        assert w3.eth.get_balance(devnet_accounts(1)[0][0]) > 0
        time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert "PUBLIC devnet keys" in output and FIRST_KEY in output
    assert "state saved to" in output
    assert state.exists() and json.loads(state.read_text())

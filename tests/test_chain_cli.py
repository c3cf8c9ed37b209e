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
from learnledger.ledger.devnet import Devnet, devnet_accounts, free_port, port_is_free
from learnledger.ledger.params import Deployment

from tests.conftest import needs_anvil
runner = CliRunner()
FIRST_KEY = devnet_accounts(1)[0][1]
DIGESTS = ("--spec-digest", "ab" * 32, "--initial-digest", "cd" * 32)
"""A contract deployed without --experiment names its spec and weights by digest."""


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


@pytest.mark.parametrize(
    "args,message",
    [
        (["--members", "0x12"], "'0x12' is not an address"),
        (["--members", "0x" + "11" * 20, "--names", "a,b"], "2 names for 1 members"),
        (["--members", "0x" + "11" * 20, "--names", "x" * 33], "is 33 bytes of UTF-8"),
        (["--members", "0x" + "11" * 20], "exactly one of --keystore FILE (with --password-file), "
                                          "--keyfile FILE or --key HEX"),
        (["--members", "0x" + "11" * 20, "--key", "0xnope"], "64 hex digits"),
        (["--members", "0x" + "11" * 20, "--key", FIRST_KEY, "--spec-digest", "abc"], "received: 'abc'"),
    ],
)
def test_deploy_refuses_bad_input_before_touching_the_chain(args: list[str], message: str) -> None:
    result = invoke("deploy", "--rpc", "http://127.0.0.1:9", *DIGESTS, *args)
    assert result.exception.exit_code == 2  # a usage error, refused before any connection
    assert message in str(result.exception)


def test_deploy_says_when_no_node_answers(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = invoke("deploy", "--rpc", url, "--members", "0x" + "11" * 20, "--key", FIRST_KEY, *DIGESTS,
                    "--out", str(tmp_path / "d.json"))
    assert result.exception.exit_code == 2 and f"no Ethereum node answers at {url}" in str(result.exception)
    assert not (tmp_path / "d.json").exists()


@needs_anvil
def test_deploy_writes_a_record_the_client_can_use(tmp_path: Path) -> None:
    keyfile = tmp_path / "key"
    keyfile.write_text(FIRST_KEY + "\n")
    out = tmp_path / "deployment.json"
    with Devnet(accounts=3) as node:
        members = ",".join(address for address, _ in node.accounts)
        result = invoke("deploy", "--rpc", node.rpc_url, "--members", members, "--names", "cern,fnal,desy",
                        "--threshold-bps", "6000", "--vote-window", "60", "--max-rounds", "3", *DIGESTS,
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
                           "--key", FIRST_KEY, *DIGESTS, "--out", str(tmp_path / "other.json"))
        assert duplicate.exception.exit_code == 1 and "ExperimentMemberDuplicate(3" in str(duplicate.exception)


def _ignore_sigint() -> None:
    """What a shell does to a background job (``cmd &``): SIGINT ignored, inherited across exec."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _start_devnet(port: int, *args: str, ignore_sigint: bool = False) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "learnledger.cli.main", "devnet", "--port", str(port), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "COLUMNS": "200"},
        preexec_fn=_ignore_sigint if ignore_sigint else None,
    )


@needs_anvil
@pytest.mark.parametrize("inherited_sigint_ignored", [False, True], ids=["foreground", "background-job"])
def test_devnet_command_prints_public_keys_and_saves_state_on_ctrl_c(
        tmp_path: Path, inherited_sigint_ignored: bool) -> None:
    """Ctrl-C stops the devnet and saves its chain, also when started as a background job, which
    inherits SIGINT ignored (the devnet installs its own handler, whatever the test runner inherited)."""
    state = tmp_path / "chain.json"
    port = free_port()
    process = _start_devnet(port, "--state", str(state), "--accounts", "2",
                            ignore_sigint=inherited_sigint_ignored)
    try:
        w3 = connect(f"http://127.0.0.1:{port}", timeout=60)
        assert w3.eth.get_balance(devnet_accounts(1)[0][0]) > 0
        time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "PUBLIC devnet keys" in output and FIRST_KEY in output
    assert "state saved to" in output
    assert state.exists() and json.loads(state.read_text())
    assert port_is_free(port), "anvil still holds the port after the devnet command exited"


@needs_anvil
def test_devnet_stops_on_sigterm_saving_state_writing_keys_and_stopping_anvil(tmp_path: Path) -> None:
    """What a supervisor sends: SIGTERM stops anvil (no orphan on the port) after the state is saved;
    --keys-dir wrote the PUBLIC keys, labelled, named after the experiment's groups in roster order."""
    from tests.conftest import tiny_experiment

    state, keys, port = tmp_path / "devnet" / "chain.json", tmp_path / "keys", free_port()
    process = _start_devnet(port, "--state", str(state), "--keys-dir", str(keys),
                            "--experiment", str(tiny_experiment(tmp_path)), ignore_sigint=True)
    try:
        w3 = connect(f"http://127.0.0.1:{port}", timeout=60)
        block = w3.eth.block_number
        w3.provider.make_request("evm_mine", [])  # something to save
        deadline = time.monotonic() + 30
        while not (keys / "members.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert f"state saved to {state}" in output
    assert port_is_free(port), "anvil still holds the port after SIGTERM"
    accounts = devnet_accounts(4)
    assert [line.split() for line in (keys / "members.txt").read_text().splitlines()
            if not line.startswith("#")] == [[group, address] for group, (address, _) in
                                             zip(("cern", "fnal", "desy"), accounts)]
    for name, (address, key) in zip(("cern", "fnal", "desy", "deployer"), accounts):
        first, label = (keys / f"{name}.key").read_text().splitlines()[:2]
        assert first == key and "PUBLIC" in label and address in label
    with Devnet(state=state, accounts=1) as revived:  # the saved chain comes back with its blocks
        assert connect(revived.rpc_url).eth.block_number >= block + 1


@pytest.mark.parametrize("args,message", [
    (["--port", "99999"], "--port must be between 0 and 65535; received: 99999"),
    (["--block-time", "-1"], "--block-time must be a number of seconds above 0; received: -1.0"),
    (["--accounts", "0"], "--accounts must be at least 1; received: 0"),
    (["--experiment", "examples/mnist.toml"], "--experiment names the key files: give --keys-dir DIR too"),
])
def test_devnet_refuses_bad_values_at_once_with_exit_2(args: list[str], message: str) -> None:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "learnledger.cli.main", "devnet", *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert time.monotonic() - started < 60  # refused up front, not after anvil's 30 s start-up wait
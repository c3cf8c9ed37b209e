"""Bad input, as a newcomer types it: each gets a message naming what is wrong and what to do, and
the exit status of the one scheme (docs/cli.md): 1 a check or operation failed, 2 a usage error or
an unreachable service. Refused before any slow work (training, a devnet's start-up) begins."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from learnledger.cli.console import CliError
from learnledger.cli.main import app
from learnledger.ledger.devnet import Devnet, devnet_accounts
from tests.conftest import needs_anvil, tiny_experiment

CLI = [sys.executable, "-m", "learnledger.cli.main"]
KEY = devnet_accounts(1)[0][1]
ADDRESS = devnet_accounts(1)[0][0]
UNFUNDED_KEY = "0x" + "22" * 32
DIGESTS = ("--spec-digest", "ab" * 32, "--initial-digest", "cd" * 32)


def invoke(*args: object) -> tuple[int, str]:
    """(exit status, everything printed) as ``learnledger`` itself would exit: a CliError exits with its code."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    if isinstance(result.exception, CliError):
        return result.exception.exit_code, result.output + str(result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def experiment_file(tmp_path: Path, old: str = "", new: str = "", rounds: int = 2) -> Path:
    path = tiny_experiment(tmp_path, rounds=rounds)
    if old:
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))
    return path


USAGE_ERRORS = [
    (["run", "{toml}", "--ledger", "bogus"], "--ledger must be one of chain, anvil, reference; received: 'bogus'"),
    (["run", "{toml}", "--out", "{file}"], "is a file; give a folder"),
    (["deploy", "--rpc", "http://127.0.0.1:9", "--members", ADDRESS, "--key", KEY, *DIGESTS,
      "--proposal-window", "-1"], "--proposal-window must be between 1 and 4294967295; received: -1"),
    (["deploy", "--rpc", "http://127.0.0.1:9", "--members", ADDRESS, "--key", KEY, *DIGESTS,
      "--max-rounds", "-1"], "--max-rounds must be between 0 and 4294967295; received: -1"),
    (["deploy", "--rpc", "http://127.0.0.1:9", "--members", ADDRESS, "--key", KEY],
     "give --experiment FILE (its model spec and initial weights are put in the store"),
    (["deploy", "--rpc", "http://127.0.0.1:9", "--members-file", "{file}", "--key", KEY, "--experiment", "{toml}"],
     "line 1 is 'not a members line'; each line must be 'group 0xADDRESS'"),
    (["compete", "deploy", "--rpc", "http://127.0.0.1:9", "--entrants", ADDRESS, "--evaluators", ADDRESS,
      "--key", KEY, "--entry-window", "-5"], "--entry-window must be between 1 and 4294967295; received: -5"),
    (["launch", "{toml}", "--timeout", "-5"], "--timeout must be a number of seconds above 0; received: -5.0"),
    (["audit", "--address", "0x" + "55" * 20], "--address needs --rpc URL"),
    (["audit", "--deployment", "{file}", "--evaluate", "{tmp}/nope.npz"], "--evaluate '{tmp}/nope.npz' does not exist"),
    (["audit", "--address", "0x" + "55" * 20, "--rows", "-1"], "--rows must be at least 0; received: -1"),
    (["data", "show", "{file}", "--index", "-1"], "--index must be at least 0; received: -1"),
    (["data", "show", "{file}", "--out", "{tmp}/missing/event.png"],
     "--out: the folder '{tmp}/missing' does not exist; create it or choose another --out"),
    (["data", "lartpc", "--events", "0", "--out", "{tmp}/e.h5"], "--events must be at least 1; received: 0"),
    (["store", "pins", "--store", "{tmp}/missing"], "--store '{tmp}/missing' does not exist"),
    (["store", "gc", "--store", "{tmp}/missing"], "--store '{tmp}/missing' does not exist"),
    (["store", "serve", "--port", "70000"], "--port must be between 0 and 65535; received: 70000"),
    (["agent", "--deployment", "{file}", "--group", "cern", "--key", KEY, "--log", "{tmp}"],
     "--log '{tmp}' is a folder; give a file name"),
]


@pytest.mark.parametrize("args,message", USAGE_ERRORS, ids=[" ".join(a[:2]) + f"-{i}" for i, (a, _) in
                                                          enumerate(USAGE_ERRORS)])
def test_a_usage_error_exits_2_naming_the_value(tmp_path: Path, args: list[str], message: str) -> None:
    toml = experiment_file(tmp_path)
    (tmp_path / "file").write_text("not a members line\n")
    fill = {"{toml}": str(toml), "{file}": str(tmp_path / "file"), "{tmp}": str(tmp_path)}

    def filled(text: str) -> str:
        for key, value in fill.items():
            text = text.replace(key, value)
        return text

    status, output = invoke(*map(filled, args))
    assert status == 2 and filled(message) in output, output


def test_a_toml_error_keeps_its_table_name_on_the_terminal(tmp_path: Path) -> None:
    """The message is printed as text, not rich markup, which would eat ``[training]``."""
    bad = experiment_file(tmp_path, "epochs = 2", 'epochs = "two"')
    done = subprocess.run([*CLI, "run", str(bad), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "[training]" in done.stderr and "epochs" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out").exists()


def test_a_missing_data_file_is_named_before_keras_loads(tmp_path: Path) -> None:
    bad = experiment_file(tmp_path, 'source = "mnist"', 'source = "mnist"\npath = "nowhere/mnist.npz"')
    started = time.monotonic()
    done = subprocess.run([*CLI, "run", str(bad), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "[data] path = 'nowhere/mnist.npz' does not exist" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out").exists()
    assert "keras" not in done.stderr.lower() and time.monotonic() - started < 60


@pytest.mark.parametrize("old,new,message", [
    ("input_shape = [28, 28, 1]", "input_shape = [32, 32, 1]", "fix [model] input_shape or the data"),
    ("num_classes = 10", "num_classes = 5", "fix [model] num_classes or the data"),
])
def test_a_model_that_does_not_fit_the_data_is_refused_before_training(
        tmp_path: Path, old: str, new: str, message: str) -> None:
    done = subprocess.run([*CLI, "run", str(experiment_file(tmp_path, old, new)), "--out", str(tmp_path / "out"),
                           "--ledger", "reference"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out" / "rounds.jsonl").exists()


@pytest.mark.parametrize("leftover,words", [
    ({"summary.json": "{}", "rounds.jsonl": "{}\n{}\n"}, "holds a finished run (summary.json)"),
    ({"rounds.jsonl": "{}\n{}\n{}\n"}, "holds an interrupted run (3 rounds in rounds.jsonl)"),
])
def test_a_run_folder_with_an_earlier_run_is_never_silently_replaced(
        tmp_path: Path, leftover: dict[str, str], words: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for name, text in leftover.items():
        (out / name).write_text(text)
    for command in ("run", "launch"):
        status, output = invoke(command, experiment_file(tmp_path), "--out", out)
        assert status == 2 and words in output and "pass --fresh to replace it" in output, output
    assert {p.name: p.read_text() for p in out.iterdir()} == leftover


def test_store_rm_of_a_pinned_object_names_the_unpin_command(tmp_path: Path) -> None:
    store = tmp_path / "store"
    status, cid = invoke("store", "add", __file__, "--store", store)
    assert status == 0
    cid = cid.strip()
    status, output = invoke("store", "rm", cid, "--store", store)
    assert status == 1 and f"run `learnledger store unpin {cid}` first" in output
    assert invoke("store", "unpin", cid, "--store", store)[0] == 0
    assert invoke("store", "pins", "--store", store, "--json") == (0, "[]\n")
    assert invoke("store", "rm", cid, "--store", store)[0] == 0


# ----------------------------------------------------------------------------------- on a devnet


@pytest.fixture(scope="module")
def devnet():  # type: ignore[no-untyped-def]
    with Devnet(accounts=3) as node:
        yield node


def _deploy(devnet: Devnet, tmp_path: Path, members: str, key: str = KEY, *extra: str) -> tuple[int, str]:
    return invoke("deploy", "--rpc", devnet.rpc_url, "--members", members, "--key", key, *DIGESTS,
                  "--out", tmp_path / "deployment.json", *extra)


@needs_anvil
def test_deploy_with_an_unfunded_key_says_so_and_exits_1(devnet: Devnet, tmp_path: Path) -> None:
    status, output = _deploy(devnet, tmp_path, ADDRESS, UNFUNDED_KEY)
    assert status == 1 and "has no ether to pay for gas on this chain: fund it" in output, output
    assert "{" not in output and not (tmp_path / "deployment.json").exists()


@needs_anvil
def test_agent_refuses_an_address_without_code_and_an_unfunded_key(devnet: Devnet, tmp_path: Path) -> None:
    from eth_account import Account

    unfunded = Account.from_key(UNFUNDED_KEY).address
    assert _deploy(devnet, tmp_path, f"{ADDRESS},{unfunded}", KEY, "--names", "cern,fnal")[0] == 0
    record = json.loads((tmp_path / "deployment.json").read_text())
    status, output = invoke("agent", "--deployment", tmp_path / "deployment.json", "--group", "fnal",
                            "--key", UNFUNDED_KEY, "--store", tmp_path)
    assert status == 2 and f"group fnal's account {unfunded} holds no ether" in output, output

    record["address"] = "0x" + "55" * 20
    (tmp_path / "elsewhere.json").write_text(json.dumps(record))
    status, output = invoke("agent", "--deployment", tmp_path / "elsewhere.json", "--group", "cern",
                            "--key", KEY, "--store", tmp_path)
    assert status == 2 and f"no contract at 0x{'55' * 20} on chain 31337" in output, output
    assert "start the devnet with the --state file it was deployed on" in output


@needs_anvil
def test_compete_finalize_too_early_names_the_phases(devnet: Devnet, tmp_path: Path) -> None:
    record = tmp_path / "competition.json"
    status, output = invoke("compete", "deploy", "--rpc", devnet.rpc_url, "--entrants", devnet.accounts[1][0],
                            "--evaluators", devnet.accounts[2][0], "--key", KEY, "--out", record)
    assert status == 0, output
    status, output = invoke("compete", "finalize", "--competition", record, "--key", KEY)
    assert status == 1 and "the competition is in its Entry phase; this needs Closed" in output, output
    assert "\\x00" not in output and "b'" not in output


@needs_anvil
@pytest.mark.slow
def test_an_agent_whose_account_runs_dry_stops_saying_so_instead_of_retrying(tmp_path: Path) -> None:
    """1 wei passes the start-up check but pays for nothing: the first proposal stops the agent (exit 1)."""
    from learnledger.ledger.chain import connect
    from learnledger.ledger.client import ContractLedger
    from learnledger.ledger.params import Deployment

    experiment = tiny_experiment(tmp_path, rounds=2)
    with Devnet(accounts=4) as node:
        members = ",".join(address for address, _ in node.accounts[:3])
        status, output = invoke("deploy", "--rpc", node.rpc_url, "--members", members, "--key", node.accounts[3][1],
                                "--experiment", experiment, "--store", tmp_path / "store",
                                "--out", tmp_path / "deployment.json")
        assert status == 0, output
        w3 = connect(node.rpc_url)
        for address, _ in node.accounts[:3]:
            w3.provider.make_request("anvil_setBalance", [address, "0x1"])
        deployment = Deployment.load(tmp_path / "deployment.json")
        proposer = ContractLedger(w3, deployment, node.accounts[3][1]).proposer_of(1)
        index = [address for address, _ in node.accounts].index(proposer)
        group = deployment.params.group_names[index]
        done = subprocess.run([*CLI, "agent", "--deployment", str(tmp_path / "deployment.json"), "--group", group,
                               "--key", node.accounts[index][1], "--store", str(tmp_path / "store"),
                               "--experiment", str(experiment), "--retry-limit", "1"],
                              capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr
    assert f"agent {group} stopped: account {proposer} has no ether to pay for gas" in done.stderr
    assert "Traceback" not in done.stderr

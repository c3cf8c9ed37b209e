"""``learnledger compete deploy | enter | evaluate | finalize | results``, run as a user runs them,
on anvil (the phases moved on with anvil's evm_increaseTime)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from learnledger.agents.learner import initial_weights
from learnledger.agents.models import ModelSpec
from learnledger.cli.main import app
from learnledger.data.mnist import load_mnist
from learnledger.ledger.chain import connect
from learnledger.ledger.devnet import Devnet, devnet_accounts

from tests.conftest import needs_anvil
runner = CliRunner()
KEYS = devnet_accounts(4)
WINDOW = 1000


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize(
    "args,message",
    [
        (["--entrants", "0x12", "--evaluators", KEYS[0][0]], "--entrants: '0x12' is not an address"),
        (["--entrants", KEYS[0][0], "--evaluators", KEYS[1][0], "--evaluator-names", "a,b"],
         "2 names for 1 addresses"),
        (["--entrants", KEYS[0][0], "--evaluators", KEYS[1][0], "--metric", "f1"], "received: 'f1'"),
    ],
)
def test_deploy_refuses_bad_input_before_touching_the_chain(args: list[str], message: str) -> None:
    result = invoke("compete", "deploy", "--rpc", "http://127.0.0.1:9", "--key", KEYS[0][1], *args)
    assert result.exception.exit_code == 2 and message in str(result.exception)  # a usage error


def test_a_missing_record_says_how_to_make_one(tmp_path: Path) -> None:
    result = invoke("compete", "results", "--competition", tmp_path / "none.json")
    assert result.exception.exit_code == 2 and "learnledger compete deploy --out" in str(result.exception)


@needs_anvil
@pytest.mark.slow
def test_a_whole_competition_from_the_command_line(tmp_path: Path) -> None:
    (a, key_a), (b, key_b), (judge, key_judge), (_, key_deployer) = KEYS
    record, store = tmp_path / "competition.json", tmp_path / "store"
    digits = load_mnist()
    np.savez(tmp_path / "test.npz", x=digits.images[:200], y=digits.labels[:200])
    with Devnet(accounts=4) as node:
        deployed = invoke("compete", "deploy", "--rpc", node.rpc_url, "--key", key_deployer,
                          "--entrants", f"{a},{b}", "--entrant-names", "lab-a,lab-b", "--evaluators", judge,
                          "--task", "MNIST", "--entry-window", WINDOW, "--commit-window", WINDOW,
                          "--reveal-window", WINDOW, "--out", record)
        assert deployed.exit_code == 0, deployed.output
        w3 = connect(node.rpc_url)

        def next_phase() -> None:
            w3.provider.make_request("evm_increaseTime", [WINDOW + 1])  # type: ignore[arg-type]
            w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

        for n, key in enumerate((key_a, key_b)):
            spec = ModelSpec("mlp", (28, 28, 1), 10, seed=n)
            (tmp_path / f"spec{n}.json").write_text(json.dumps(spec.to_dict()))
            (tmp_path / f"w{n}.safetensors").write_bytes(initial_weights(spec))
            entered = invoke("compete", "enter", "--competition", record, "--key", key, "--store", store,
                             "--spec", tmp_path / f"spec{n}.json", "--weights", tmp_path / f"w{n}.safetensors")
            assert entered.exit_code == 0 and f"entered as entry {n}" in entered.output, entered.output

        evaluate = ("compete", "evaluate", "--competition", record, "--key", key_judge, "--store", store,
                    "--test", tmp_path / "test.npz", "--memo", tmp_path / "memo.json")
        early = invoke(*evaluate)
        assert early.exit_code == 0 and "nothing to do now: phase Entry" in early.output
        next_phase()
        committed = invoke(*evaluate)
        assert "committed to scores for 2 entries" in committed.output, committed.output
        memo = json.loads((tmp_path / "memo.json").read_text())
        next_phase()
        assert "revealed scores for 2 entries" in invoke(*evaluate).output
        next_phase()
        finalized = invoke("compete", "finalize", "--competition", record, "--key", key_a)
        assert finalized.exit_code == 0, finalized.output
        board = json.loads(invoke("compete", "results", "--competition", record, "--json").output)
        table = invoke("compete", "results", "--competition", record).output
    assert "(winner)" in table and "evaluator-1" in table
    best = int(np.argmax(memo["scores"]))  # two untrained models: one scores higher
    assert board["phase"] == "Finalized" and board["winner"] == best
    assert [row["entry"] for row in board["entries"]][0] == best
    assert {row["entry"]: row["scores"]["evaluator-1"] for row in board["entries"]} == dict(enumerate(memo["scores"]))
    assert board["entries"][0]["entrant"] == ("lab-a", "lab-b")[best]


@pytest.mark.parametrize("damage", ["truncated", "text"])
def test_enter_refuses_weights_that_do_not_load_into_the_spec_model(tmp_path: Path, damage: str) -> None:
    """Issue 15, finding 9: a truncated safetensors file or a text file was entered (exit 0), and an
    entry cannot be taken back. Now the weights are loaded into the spec's model first: exit 2,
    the file and the problem named, before any chain or store is touched."""
    spec = ModelSpec("mlp", (28, 28, 1), 10, seed=1)
    (tmp_path / "spec.json").write_text(json.dumps(spec.to_dict()))
    weights = initial_weights(spec)
    bad = weights[: len(weights) // 2] if damage == "truncated" else b"these are not weights\n"
    (tmp_path / "w.safetensors").write_bytes(bad)
    result = invoke("compete", "enter", "--competition", tmp_path / "none.json", "--key", KEYS[0][1],
                    "--store", tmp_path / "store", "--spec", tmp_path / "spec.json",
                    "--weights", tmp_path / "w.safetensors")
    assert result.exception is not None and result.exception.exit_code == 2, result.output  # type: ignore[attr-defined]
    message = str(result.exception)
    assert "--weights" in message and "w.safetensors" in message and "Nothing was entered" in message
    assert not (tmp_path / "store").exists()

"""``learnledger deploy --successor-of`` and ``learnledger succession propose | vote | finalize |
status`` on a real anvil devnet: the nominal hand-over, and each bad input refused before any
transaction with a sentence saying what is wrong (exit 2), or what the state does not allow (exit 1).
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from learnledger.cli.main import app
from learnledger.ledger.api import SuccessionState
from learnledger.ledger.chain import connect
from learnledger.ledger.client import ContractLedger
from learnledger.ledger.devnet import Devnet
from learnledger.ledger.params import Deployment
from tests.conftest import needs_anvil

runner = CliRunner()
DIGESTS = ("--spec-digest", "ab" * 32, "--initial-digest", "cd" * 32)


def invoke(*args: str) -> tuple[int, str]:
    """The exit status and what the command said (a refusal's message included)."""
    result = runner.invoke(app, list(args))
    code = getattr(result.exception, "exit_code", result.exit_code) if result.exception else result.exit_code
    return code, result.output + (str(result.exception) if result.exception else "")


def transactions(node: Devnet, account: str) -> int:
    return int(connect(node.rpc_url).eth.get_transaction_count(account))


@needs_anvil
def test_a_succession_from_the_command_line(tmp_path: Path) -> None:
    with Devnet(accounts=5) as node:
        (a, ka), (b, kb), (c, kc), (d, kd), (outsider, ko) = node.accounts
        first = tmp_path / "first.json"
        done = invoke("deploy", "--rpc", node.rpc_url, "--members", f"{a},{b},{c}", "--names", "cern,fnal,desy",
                      "--max-rounds", "1", *DIGESTS, "--key", ka, "--out", str(first))
        assert done[0] == 0, done[1]
        predecessor = ContractLedger(connect(node.rpc_url), Deployment.load(first), ka)

        bad = invoke("deploy", "--rpc", node.rpc_url, "--successor-of", "0x12", "--members", a, "--key", ka,
                     "--out", str(tmp_path / "x.json"))
        assert bad[0] == 2 and "--successor-of must be the predecessor's contract address" in bad[1]

        second = tmp_path / "second.json"
        done = invoke("deploy", "--rpc", node.rpc_url, "--successor-of", predecessor.deployment.address,
                      "--members", f"{a},{b},{c},{d}", "--vote-window", "7200", "--key", ka, "--out", str(second))
        assert done[0] == 0, done[1]
        record = Deployment.load(second)
        assert record.params.predecessor == predecessor.deployment.address
        assert record.params.initial_digest == predecessor.current_model().digest
        assert record.params.group_names == ("cern", "fnal", "desy", "group-4")  # names carried over
        assert (record.params.vote_window, record.params.max_rounds) == (7200, 1)  # given / taken over

        # refused before any transaction, with the reason
        sent = transactions(node, outsider)
        outside = invoke("succession", "propose", "--deployment", str(first), "--successor", record.address,
                         "--key", ko)
        assert outside[0] == 2 and "is not on the roster" in outside[1]
        assert transactions(node, outsider) == sent
        sent = transactions(node, a)
        for wrong, reason in ((b, "no contract at"), (predecessor.deployment.address, "names 0x0000")):
            refused = invoke("succession", "propose", "--deployment", str(first), "--successor", wrong, "--key", ka)
            assert refused[0] == 2 and reason in refused[1], refused[1]
        assert transactions(node, a) == sent

        proposed = invoke("succession", "propose", "--deployment", str(first), "--successor", record.address,
                          "--key", ka)
        assert proposed[0] == 0, proposed[1]
        own = invoke("succession", "vote", "--approve", "--deployment", str(first), "--key", ka)
        assert own[0] == 2 and "does not vote on it" in own[1]
        for key in (kb, kc):
            voted = invoke("succession", "vote", "--approve", "--deployment", str(first), "--key", key)
            assert voted[0] == 0, voted[1]
        early = invoke("succession", "finalize", "--deployment", str(first), "--key", ko)
        assert early[0] == 1 and "round 1 is in progress" in early[1]

        # round 1 runs to its end; round 2 does not exist (max 1), so the hand-over may go
        proposer = predecessor.proposer_of(1)
        keys = {a: ka, b: kb, c: kc}
        ContractLedger(connect(node.rpc_url), predecessor.deployment, keys[proposer]).propose(1, b"\x01" * 32, "cid")
        for member in (a, b, c):
            if member != proposer:
                ContractLedger(connect(node.rpc_url), predecessor.deployment, keys[member]).vote(1, False, 0, 0)
        handed = invoke("succession", "finalize", "--deployment", str(first), "--key", ko)
        assert handed[0] == 0 and "accepted" in handed[1], handed[1]

        status = invoke("succession", "status", "--deployment", str(first), "--json")
        report = json.loads(status[1])
        assert report["successor"] == record.address
        assert report["succession"]["state"] == SuccessionState.ACCEPTED.name
        assert report["succession"]["approvals"] == 2
        again = invoke("succession", "propose", "--deployment", str(first), "--successor", record.address,
                       "--key", kb)
        assert again[0] == 1 and "already succeeded" in again[1]

        plot = tmp_path / "line.png"
        audited = invoke("audit", "--line", "--deployment", str(second), "--plot", str(plot), "--json")
        assert audited[0] == 0, audited[1]
        verdict = json.loads(audited[1][audited[1].index("{"):])
        assert verdict["ok"] and verdict["rounds"] == 2  # round 1 of the first, the successor's open round 1
        assert [e["first_round"] for e in verdict["experiments"]] == [1, 2]
        assert verdict["handovers"] == [{"after_round": 1, "successor": record.address, "joined": ["group-4"],
                                         "left": []}]
        assert plot.stat().st_size > 10_000
        mixed = invoke("audit", "--line", "--deployment", str(second), "--to-block", "5")
        assert mixed[0] == 2 and "leave out --to-block" in mixed[1]


@needs_anvil
def test_a_successor_keeps_its_predecessor_s_sealed_votes_unless_told_otherwise(tmp_path: Path) -> None:
    """The reveal window is one of the terms a successor takes over (from the chain alone), and
    --reveal-window replaces it like any other term."""
    with Devnet(accounts=2) as node:
        (a, ka), (b, _) = node.accounts
        first = tmp_path / "first.json"
        done = invoke("deploy", "--rpc", node.rpc_url, "--members", f"{a},{b}", "--reveal-window", "300",
                      *DIGESTS, "--key", ka, "--out", str(first))
        assert done[0] == 0, done[1]
        address = Deployment.load(first).address
        for given, expected in ((), 300), (("--reveal-window", "0"), 0):
            out = tmp_path / f"successor-{expected}.json"
            done = invoke("deploy", "--rpc", node.rpc_url, "--successor-of", address, "--members", f"{a},{b}",
                          *given, "--key", ka, "--out", str(out))
            assert done[0] == 0, done[1]
            record = Deployment.load(out)
            on_chain = ContractLedger(connect(node.rpc_url), record, ka).reveal_window()
            assert record.params.reveal_window == on_chain == expected

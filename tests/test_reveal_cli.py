"""``learnledger reveal``: a sealed vote revealed by hand from its agent's file, checked before any
transaction (on the real anvil devnet)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from learnledger.agents.ballots import BallotBox, SealedBallot
from learnledger.cli.main import app
from learnledger.ledger.chain import connect
from learnledger.ledger.client import ContractLedger
from learnledger.ledger.devnet import Devnet
from learnledger.ledger.params import Deployment
from learnledger.ledger.sealed import NO_COMMITMENT
from tests.conftest import needs_anvil

runner = CliRunner()
DIGESTS = ("--spec-digest", "ab" * 32, "--initial-digest", "cd" * 32)
WINDOW = 60


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def status(result) -> int:  # type: ignore[no-untyped-def]
    """The exit status ``main`` gives: a CliError carries its own (the runner sees it raised)."""
    return getattr(result.exception, "exit_code", result.exit_code)


def test_a_ballot_that_is_not_a_sealed_vote_file_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "ballot.json"
    bad.write_text('{"round": 1}')
    (tmp_path / "deployment.json").write_text("{}")
    result = invoke("reveal", "--ballot", str(bad), "--deployment", str(tmp_path / "deployment.json"),
                    "--key", "0x" + "11" * 32)
    assert status(result) == 2 and "not a sealed-vote file" in str(result.exception)


@needs_anvil
def test_reveal_checks_the_window_and_the_commitment_before_sending(tmp_path: Path) -> None:
    with Devnet(accounts=3) as node:
        keyfile = tmp_path / "key"
        keyfile.write_text(node.accounts[0][1] + "\n")
        record = tmp_path / "deployment.json"
        members = ",".join(address for address, _ in node.accounts)
        deployed = invoke("deploy", "--rpc", node.rpc_url, "--members", members, "--vote-window", str(WINDOW),
                          "--reveal-window", str(WINDOW), *DIGESTS, "--keyfile", str(keyfile),
                          "--out", str(record))
        assert deployed.exit_code == 0, deployed.output
        w3 = connect(node.rpc_url)
        deployment = Deployment.load(record)
        assert deployment.params.reveal_window == WINDOW
        ledgers = [ContractLedger(w3, deployment, key) for _, key in node.accounts]
        proposer = next(ledger for ledger in ledgers if ledger.account == ledgers[0].proposer_of(1))
        proposer.propose(1, b"\x07" * 32, "bafy-test")
        first, second = (ledger for ledger in ledgers if ledger is not proposer)
        files = {}
        for ledger, approve in ((first, True), (second, False)):
            box = BallotBox(tmp_path / "sealed-votes", ledger.account)
            files[ledger.account] = box.keep(SealedBallot(1, approve, 910_000, 900_000, bytes([approve]) * 32))
        first.commit_vote(1, True, 910_000, 900_000, bytes([True]) * 32)

        def reveal(ledger: ContractLedger, ballot: Path):  # type: ignore[no-untyped-def]
            index = [l.account for l in ledgers].index(ledger.account)
            return invoke("reveal", "--ballot", str(ballot), "--deployment", str(record),
                          "--key", node.accounts[index][1])

        early = reveal(first, files[first.account])
        assert status(early) == 1 and "still in its vote window" in str(early.exception)
        second.commit_vote(1, False, 910_000, 900_000, bytes([False]) * 32)  # all committed: reveals open

        tampered = tmp_path / "tampered.json"
        tampered.write_text(files[first.account].read_text().replace('"approve": true', '"approve": false'))
        nonce = w3.eth.get_transaction_count(first.account)
        mismatch = reveal(first, tampered)
        assert status(mismatch) == 1 and "does not match what" in str(mismatch.exception)
        assert w3.eth.get_transaction_count(first.account) == nonce  # refused before any transaction
        wrong_account = reveal(second, files[first.account])
        assert status(wrong_account) == 1 and "does not match" in str(wrong_account.exception)

        done = reveal(first, files[first.account])
        assert done.exit_code == 0, done.output
        assert "revealed" in done.output and first.commitment_of(1, first.account) == NO_COMMITMENT
        again = reveal(first, files[first.account])
        assert status(again) == 1 and "no unrevealed commitment" in str(again.exception)

        w3.provider.make_request("evm_increaseTime", [3 * WINDOW])
        w3.provider.make_request("evm_mine", [])
        late = reveal(second, files[second.account])
        assert status(late) == 1 and "reveal window of round 1 has closed" in str(late.exception)
        assert second.commitment_of(1, second.account) != NO_COMMITMENT

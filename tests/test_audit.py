"""The audit on the embedded chain: a clean history passes, and every kind of tampering is caught."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest

from learnledger.audit.checks import check_replay, check_votes
from learnledger.audit.fetch import ChainUnreachable
from learnledger.audit.rebuild import rebuild
from learnledger.audit.run import AuditInputError, audit
from learnledger.ledger.api import RoundState, to_score
from learnledger.ledger.chain import EmbeddedChain
from learnledger.ledger.client import ContractLedger
from learnledger.ledger.deploy import deploy
from learnledger.ledger.params import ExperimentParams
from learnledger.ledger.sandbox import Sandbox, embedded_experiment
from learnledger.store.local import LocalStore
from learnledger.store.memory import MemoryStore
from learnledger.store.tensors import encode_tensors


def weights(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    return encode_tensors({"dense/kernel": rng.normal(size=(4, 3)).astype(np.float32),
                           "dense/bias": np.zeros(3, np.float32)})


@dataclasses.dataclass
class Played:
    sandbox: Sandbox
    store: LocalStore
    cids: dict[int, str]


def play(tmp_path: Path, reveal_window: int = 0) -> Played:
    """Four rounds on three members: accepted, rejected, skipped (deadline passed), accepted; with a
    ``reveal_window``, every vote is sealed, then revealed."""
    store = LocalStore(tmp_path / "store")
    chain = EmbeddedChain(accounts=4)
    members = tuple(address for address, _ in chain.accounts[:3])
    spec, initial = b'{"architecture": "mlp"}', weights(0)
    params = ExperimentParams(members, ("cern", "fnal", "desy"), hashlib.sha256(spec).digest(), store.put(spec),
                              hashlib.sha256(initial).digest(), store.put(initial), proposal_window=60,
                              vote_window=60, max_rounds=4, reveal_window=reveal_window)
    deployment = deploy(chain.w3, chain.accounts[0][1], params)
    ledgers = {address: ContractLedger(chain.w3, deployment, key) for address, key in chain.accounts}
    sandbox = Sandbox(chain, deployment, ledgers, list(members), [chain.accounts[3][0]])
    reader = sandbox.ledger(sandbox.outsiders[0])
    cids = {}
    for round_, approve in ((1, True), (2, False), (3, None), (4, True)):
        if approve is None:
            sandbox.chain.time_travel(61)
            reader.finalize(round_)
            continue
        proposer = reader.proposer_of(round_)
        data = weights(round_)
        cids[round_] = store.put(data)
        sandbox.ledger(proposer).propose(round_, hashlib.sha256(data).digest(), cids[round_])
        voters = [m for m in sandbox.members if m != proposer]
        ballots = [(approve, to_score(0.5 + round_ / 10 + i / 100), to_score(0.4 + round_ / 10 + i / 100))
                   for i in range(len(voters))]
        if reveal_window == 0:
            for member, ballot in zip(voters, ballots):
                sandbox.ledger(member).vote(round_, *ballot)
            continue
        salts = [hashlib.sha256(f"{round_}{member}".encode()).digest() for member in voters]
        for member, ballot, salt in zip(voters, ballots, salts):
            sandbox.ledger(member).commit_vote(round_, *ballot, salt)
        for member, ballot, salt in zip(voters, ballots, salts):
            sandbox.ledger(member).reveal_vote(round_, *ballot, salt)
    return Played(sandbox, store, cids)


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Played:
    return play(tmp_path_factory.mktemp("audit"))


def run(played: Played, **kwargs):  # type: ignore[no-untyped-def]
    sandbox = played.sandbox
    return audit(sandbox.chain.w3, sandbox.deployment.address, sandbox.deployment, **kwargs)


def test_a_clean_history_passes_every_check_and_rebuilds_each_round(played: Played) -> None:
    report = run(played, store=played.store)
    assert report.findings == []
    assert [row["outcome"] for row in report.rows] == ["accepted", "rejected", "skipped", "accepted"]
    assert report.verified_files == 5  # the spec, the initial weights and three proposals
    last = report.rows[-1]
    assert last["model_digest"] == hashlib.sha256(weights(4)).hexdigest()
    assert last["cid"] == played.cids[4]
    vote = next(iter(last["votes"].values()))
    assert vote["gas_used"] > 20_000 and vote["tx"].startswith("0x") and vote["block"] > 0
    assert last["proposed"]["gas_used"] > 0
    assert last["finalized"]["tx"] in {v["tx"] for v in last["votes"].values()}  # the last vote finalized


def test_a_sealed_history_replays_its_commitments_and_reveals_cleanly(tmp_path: Path) -> None:
    played = play(tmp_path, reveal_window=60)
    report = run(played, store=played.store)
    assert report.findings == []
    assert [row["outcome"] for row in report.rows] == ["accepted", "rejected", "skipped", "accepted"]
    assert report.params is not None and report.params.reveal_window == 60
    assert all(len(row["votes"]) == 2 for row in report.rows if row["outcome"] != "skipped")
    # A sealed vote whose VoteCast was forged (another approval than the one committed) no longer
    # opens its commitment: the replay finds the mismatch.
    events = list(report.rebuilt.events)
    index = next(i for i, e in enumerate(events) if e.name == "VoteCast" and e.args["round"] == 2)
    events[index] = dataclasses.replace(events[index], args={**events[index].args, "approve": True})
    times = {e.block: 0 for e in events}
    for row in report.rows:
        for key in ("opened", "proposed", "finalized"):
            if row[key]:
                times[row[key]["block"]] = row[key]["time"]
        for vote in row["votes"].values():
            times[vote["block"]] = vote["time"]
    rules = check_replay(rebuild(events), report.params, times)
    assert [(f.check, f.round) for f in rules] == [("rules", 2)] and "RevealMismatch" in rules[0].message


def test_setup_files_the_store_lacks_are_caught() -> None:
    sandbox = embedded_experiment(2)  # placeholder spec and initial CIDs, stored nowhere
    report = audit(sandbox.chain.w3, sandbox.deployment.address, sandbox.deployment,
                   store=MemoryStore())
    assert sorted(f.message.split(":")[0] for f in report.findings) == [
        "initial weights placeholder-initial", "model spec placeholder-spec"]


def test_swapped_stored_bytes_are_caught(tmp_path: Path) -> None:
    played = play(tmp_path)
    path = played.store.path_of(played.cids[4])
    path.chmod(0o644)
    path.write_bytes(weights(99))
    report = run(played, store=played.store)
    assert [(f.check, f.round) for f in report.findings if f.round] == [("store", 4)]
    assert "altered" in str(report.findings[-1])


def test_a_missing_file_is_caught(tmp_path: Path) -> None:
    played = play(tmp_path)
    played.store.remove(played.cids[2], force=True)
    report = run(played, store=played.store)
    assert [(f.check, f.round) for f in report.findings if f.round] == [("store", 2)]


def test_a_record_of_another_deployment_is_caught(played: Played) -> None:
    sandbox = played.sandbox
    other = deploy(sandbox.chain.w3, sandbox.chain.accounts[1][1],
                   dataclasses.replace(sandbox.deployment.params, threshold_bps=7000))
    report = audit(sandbox.chain.w3, other.address, sandbox.deployment)
    checks = {f.check for f in report.findings}
    assert "contract" in checks and "terms" in checks  # created by another transaction, other terms
    assert any("threshold_bps" in f.message for f in report.findings)


def test_an_address_without_code_is_caught(played: Played) -> None:
    report = audit(played.sandbox.chain.w3, "0x" + "42" * 20)
    assert len(report.findings) == 1 and "no contract code" in report.findings[0].message
    assert report.rows == []


def test_a_range_cut_short_is_caught(played: Played) -> None:
    full = run(played)
    last_vote_block = full.rows[-1]["finalized"]["block"]
    report = run(played, to_block=last_vote_block - 1)
    assert {"head", "views"} <= {f.check for f in report.findings}
    assert any("cut short" in f.message for f in report.findings)


def test_a_fetch_that_loses_a_log_is_caught(played: Played) -> None:
    w3 = played.sandbox.chain.w3
    vote_topic = "0x" + w3.keccak(text="VoteCast(uint256,address,bool,int64,int64)").hex()

    def lossy(query):  # type: ignore[no-untyped-def]
        logs = w3.eth.get_logs(query)
        votes = [log for log in logs if "0x" + bytes(log["topics"][0]).hex() == vote_topic]
        return [log for log in logs if log is not votes[0]] if votes else logs

    report = run(played, get_logs=lossy)
    assert {(f.check, f.round) for f in report.findings} >= {("votes", 1), ("views", 1)}


def test_log_fetches_are_retried_and_a_dead_node_reports_unreachable(played: Played) -> None:
    w3 = played.sandbox.chain.w3
    failures = [2]

    def flaky(query):  # type: ignore[no-untyped-def]
        if failures[0]:
            failures[0] -= 1
            raise ConnectionError("connection reset by peer")
        return w3.eth.get_logs(query)

    assert run(played, get_logs=flaky).findings == []

    def dead(query):  # type: ignore[no-untyped-def]
        raise ConnectionError("connection refused")

    with pytest.raises(ChainUnreachable, match="connection refused"):
        run(played, get_logs=dead)


def test_a_block_range_outside_the_chain_is_refused(played: Played) -> None:
    with pytest.raises(AuditInputError, match="not within the chain"):
        run(played, to_block=10**9)


def test_forged_events_break_the_rules_replay(played: Played) -> None:
    """A vote by the proposer (as a forged log would claim) is refused by the reference rules."""
    report = run(played)
    events = list(report.rebuilt.events)
    proposer = report.rebuilt.rounds[1].proposer
    index = next(i for i, e in enumerate(events) if e.name == "VoteCast" and e.args["round"] == 1)
    events[index] = dataclasses.replace(events[index], args={**events[index].args, "voter": proposer})
    forged = rebuild(events)
    times = {e.block: 0 for e in events}
    times.update({row[k]["block"]: row[k]["time"] for row in report.rows for k in ("opened", "finalized")
                  if row[k]})
    for row in report.rows:
        for vote in row["votes"].values():
            times[vote["block"]] = vote["time"]
        if row["proposed"]:
            times[row["proposed"]["block"]] = row["proposed"]["time"]
    rules = check_replay(forged, report.params, times)
    assert [(f.check, f.round) for f in rules] == [("rules", 1)] and "VoterIsProposer" in rules[0].message
    assert any("own weights" in f.message for f in check_votes(forged, report.views))


def test_round_states_of_an_open_round_come_from_the_contract(tmp_path: Path) -> None:
    sandbox = embedded_experiment(3)
    reader = sandbox.ledger(sandbox.outsiders[0])
    sandbox.ledger(reader.proposer_of(1)).propose(1, b"\x01" * 32, "cid")
    report = audit(sandbox.chain.w3, sandbox.deployment.address, sandbox.deployment)
    assert report.findings == []
    assert report.records[-1].state is RoundState.VOTING and report.rows[-1]["outcome"] == "voting"

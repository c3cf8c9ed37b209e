"""The Python side of the chain: deployment records, constructor refusals, nonces, connections."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from eth_utils import to_checksum_address

from learnledger.ledger.api import ContractRevert, Ledger, LedgerError, RoundState
from learnledger.ledger.chain import EmbeddedChain, connect
from learnledger.ledger.client import ContractLedger
from learnledger.ledger.deploy import deploy
from learnledger.ledger.params import Deployment, ExperimentParams
from learnledger.ledger.reference import ReferenceLedger, validate_params
from learnledger.ledger.sandbox import PLACEHOLDER_INITIAL_DIGEST, PLACEHOLDER_SPEC_DIGEST, embedded_experiment

START = 4_000_000_000


def params_for(members: list[str], **overrides: object) -> ExperimentParams:
    values: dict[str, object] = {
        "members": tuple(members),
        "group_names": tuple(f"g{i}" for i in range(len(members))),
        "spec_digest": PLACEHOLDER_SPEC_DIGEST,
        "spec_cid": "spec",
        "initial_digest": PLACEHOLDER_INITIAL_DIGEST,
        "initial_cid": "init",
    }
    values.update(overrides)
    return ExperimentParams(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def chain() -> EmbeddedChain:
    return EmbeddedChain(accounts=4, start_time=START)


def addresses(chain: EmbeddedChain) -> list[str]:
    return [address for address, _ in chain.accounts]


def fake(n: int) -> str:
    return "0x" + f"{n:040x}"


BAD_PARAMS = [
    ("no members", lambda a: params_for([]), ("ExperimentMemberCountInvalid", (0, 256))),
    ("257 members", lambda a: params_for([fake(i + 1) for i in range(257)]), ("ExperimentMemberCountInvalid", (257, 256))),
    ("names", lambda a: params_for(a[:2], group_names=("only one",)), ("ExperimentGroupNamesMismatch", (2, 1))),
    ("threshold 0", lambda a: params_for(a[:2], threshold_bps=0), ("ExperimentThresholdInvalid", (0,))),
    ("threshold 10001", lambda a: params_for(a[:2], threshold_bps=10_001), ("ExperimentThresholdInvalid", (10_001,))),
    ("window", lambda a: params_for(a[:2], vote_window=0), ("ExperimentWindowInvalid", (3600, 0))),
    ("digest", lambda a: params_for(a[:2], spec_digest=bytes(32)), ("ExperimentDigestEmpty", (bytes(32), PLACEHOLDER_INITIAL_DIGEST))),
    ("zero address", lambda a: params_for([a[0], fake(0)]), ("ExperimentMemberZeroAddress", (1,))),
    ("duplicate", lambda a: params_for([a[0], a[1], a[0]]), ("ExperimentMemberDuplicate", (2, "A0"))),
]


@pytest.mark.parametrize("label,make,expected", BAD_PARAMS, ids=[b[0] for b in BAD_PARAMS])
def test_contract_and_reference_refuse_bad_params_alike(chain, label, make, expected) -> None:  # type: ignore[no-untyped-def]
    members = addresses(chain)
    params = make(members)
    name, args = expected
    args = tuple(members[0] if a == "A0" else a for a in args)
    with pytest.raises(ContractRevert) as on_chain:
        deploy(chain.w3, chain.accounts[0][1], params)
    assert (on_chain.value.name, on_chain.value.args_) == (name, args)
    with pytest.raises(ContractRevert) as in_python:
        validate_params(params)
    assert (in_python.value.name, in_python.value.args_) == (name, args)


def test_group_names_fill_their_word_and_come_back_whole(chain) -> None:  # type: ignore[no-untyped-def]
    # 16 two-byte characters: exactly the 32 bytes of the word the contract keeps per name
    full, short = "\u03a9" * 16, "cern"
    members = addresses(chain)[:2]
    deployment = deploy(chain.w3, chain.accounts[0][1], params_for(members, group_names=(full, short)))
    ledger = ContractLedger(chain.w3, deployment, chain.accounts[0][1])
    assert [m.group for m in ledger.members()] == [full, short]  # from the MemberRegistered events
    assert [ledger.contract.functions.groupName(m).call() for m in members] == [full, short]


def test_a_group_name_longer_than_a_word_is_refused_before_any_transaction() -> None:
    with pytest.raises(LedgerError, match=r"group name 2 .* at most 32 bytes"):
        params_for([fake(1), fake(2)], group_names=("cern", "x" * 33))


def test_deployment_record_round_trips_through_json(tmp_path: Path) -> None:
    exp = embedded_experiment(2, start_time=START)
    path = tmp_path / "deployment.json"
    exp.deployment.save(path)
    loaded = Deployment.load(path)
    assert loaded == exp.deployment
    assert loaded.params.initial_digest == PLACEHOLDER_INITIAL_DIGEST
    assert exp.chain.w3.eth.get_code(loaded.address) != b""


def test_a_broken_deployment_record_says_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="no deployment record at"):
        Deployment.load(tmp_path / "missing.json")
    with pytest.raises(LedgerError, match="not a valid deployment record"):
        Deployment.from_json('{"address": "0x1"}')


def test_digests_must_be_32_bytes() -> None:
    with pytest.raises(LedgerError, match="spec_digest must be 32 bytes"):
        params_for(["0x" + "11" * 20], spec_digest=b"short")


def test_both_ledgers_implement_the_interface() -> None:
    exp = embedded_experiment(2, start_time=START)
    assert isinstance(exp.ledger(exp.members[0]), Ledger)
    reference = ReferenceLedger(exp.deployment.params, clock=lambda: START)
    assert isinstance(reference.as_member(exp.members[0]), Ledger)


def test_client_resyncs_its_nonce_when_another_client_used_the_key() -> None:
    exp = embedded_experiment(2, outsiders=1, proposal_window=1, start_time=START)
    key = dict(exp.chain.accounts)[exp.outsiders[0]]
    first = ContractLedger(exp.chain.w3, exp.deployment, key)
    second = ContractLedger(exp.chain.w3, exp.deployment, key)
    for round_, client in ((1, second), (2, first), (3, second)):  # ``second`` is stale at 3
        exp.chain.time_travel(3)
        client.finalize(round_)
        assert client.round_state(round_) is RoundState.SKIPPED
    assert exp.chain.w3.eth.get_transaction_count(exp.outsiders[0]) == 3


def test_an_invalid_key_is_refused_clearly() -> None:
    exp = embedded_experiment(1, start_time=START)
    with pytest.raises(LedgerError, match="not a valid private key"):
        ContractLedger(exp.chain.w3, exp.deployment, "0x1234")


def test_connect_names_the_url_when_nothing_answers() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(LedgerError, match=f"no Ethereum node answers at {url}"):
        connect(url, timeout=0.5)
    with pytest.raises(LedgerError, match="starts with http"):
        connect("127.0.0.1:8545")


def test_seeded_reference_draws_are_reproducible_and_use_every_member() -> None:
    params = params_for([fake(i + 1) for i in range(4)], proposal_window=1)
    now = [START]

    def run(seed: int) -> list[str]:
        ledger = ReferenceLedger(params, clock=lambda: now[0], seed=seed)
        drawn = []
        for round_ in range(1, 41):
            drawn.append(ledger.proposer_of(round_))
            now[0] += 2
            ledger.finalize(round_)
        return drawn

    first = run(7)
    assert run(7) == first
    assert run(8) != first
    assert set(first) == {to_checksum_address(m) for m in params.members}  # 40 draws reach all 4


def test_a_round_that_closes_while_the_history_is_read_comes_with_all_its_votes() -> None:
    exp = embedded_experiment(3, start_time=START)
    ledgers = [exp.ledgers[address] for address in exp.members]
    proposer = next(ledger for ledger in ledgers if ledger.account == ledgers[0].proposer_of(1))
    voters = [ledger for ledger in ledgers if ledger is not proposer]
    proposer.propose(1, b"\x01" * 32, "cid-1")
    voters[0].vote(1, True, 1, 1)
    reader = ContractLedger(exp.chain.w3, exp.deployment, dict(exp.chain.accounts)[exp.outsiders[0]])
    read_state = reader.round_state

    def state_read_after_the_last_vote(round: int) -> RoundState:
        """The last vote lands between the history's event read and its state read."""
        if round == 1 and not reader.has_voted(1, voters[1].account):
            voters[1].vote(1, False, 0, 0)
        return read_state(round)

    reader.round_state = state_read_after_the_last_vote  # type: ignore[method-assign]
    (record, _) = reader.history()
    assert record.state is RoundState.ACCEPTED
    assert [vote.voter for vote in record.votes] == [voters[0].account, voters[1].account]
    assert (record.approvals, record.rejections) == (1, 1)


def test_round_blocks_span_from_the_opening_block_to_the_finalizing_one() -> None:
    """A block per transaction here: round 1 opens at deployment, then the proposal and two votes,
    the last of which finalizes it and opens round 2 in the same block."""
    from learnledger.runs.crowd_tally import blocks_per_round

    exp = embedded_experiment(3, outsiders=0, start_time=4_000_000_000)
    reader = exp.ledger(exp.members[0])
    drawn = exp.ledger(reader.proposer_of(1))
    drawn.propose(1, b"\x01" * 32, "cid")
    for member in exp.members:
        if member != drawn.account:
            exp.ledger(member).vote(1, True, 1, 1)
    last_vote = exp.chain.w3.eth.block_number
    assert reader.round_blocks() == {1: (exp.deployment.block, last_vote)}
    assert blocks_per_round(reader) == [last_vote - exp.deployment.block] == [3]

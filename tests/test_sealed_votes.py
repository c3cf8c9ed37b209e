"""Sealed votes (commit-reveal) on the real contract (embedded chain): the happy path, each refusal,
a commitment never revealed, the agent that reveals after a restart, and a whole embedded run."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from learnledger.agents.agent import Action, Agent
from learnledger.agents.ballots import BallotBox, BallotError, SealedBallot
from learnledger.agents.experiment import Experiment
from learnledger.agents.learner import Learner, initial_weights
from learnledger.agents.models import ModelSpec
from learnledger.data.config import DataConfig
from learnledger.data.corruption import Corruption
from learnledger.data.experiment_data import load_learner_data
from learnledger.ledger.api import ContractRevert, RoundState
from learnledger.ledger.chain import EmbeddedChain
from learnledger.ledger.client import ContractLedger
from learnledger.ledger.deploy import deploy
from learnledger.ledger.errors import state_bitmap
from learnledger.ledger.params import ExperimentParams
from learnledger.ledger.sandbox import Sandbox, embedded_experiment
from learnledger.ledger.sealed import NO_COMMITMENT, vote_commitment
from learnledger.report.rounds import read_jsonl
from learnledger.runs.embedded import run_experiment
from learnledger.store.local import LocalStore
from tests.conftest import tiny_experiment

START = 4_000_000_000  # ahead of the wall clock: one second per block, exactly
WINDOW = 100
CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
SALTS = [bytes([i + 1]) * 32 for i in range(4)]


@pytest.fixture
def exp() -> Sandbox:
    """A fresh 5-member experiment with sealed votes, at round 1, and one funded outsider."""
    return embedded_experiment(5, outsiders=1, proposal_window=WINDOW, vote_window=WINDOW,
                               reveal_window=WINDOW, start_time=START)


def refusal(call, *args) -> ContractRevert:  # type: ignore[no-untyped-def]
    with pytest.raises(ContractRevert) as caught:
        call(*args)
    return caught.value


def proposed(exp: Sandbox) -> list[ContractLedger]:
    """Round 1 proposed; the four voters, in roster order."""
    drawn = exp.ledger(exp.members[0]).proposer_of(1)
    exp.ledger(drawn).propose(1, b"\x07" * 32, CID)
    return [exp.ledger(m) for m in exp.members if m != drawn]


def test_commitments_are_hidden_until_revealed_and_the_last_reveal_decides(exp: Sandbox) -> None:
    voters = proposed(exp)
    ballots = [(True, 900_000, 880_000), (True, 910_000, 870_000), (False, 100, 200), (True, 0, 1)]
    for voter, (approve, vote_score, test_score), salt in zip(voters, ballots, SALTS):
        voter.commit_vote(1, approve, vote_score, test_score, salt)
        committed = voter.commitment_of(1, voter.account)
        # The contract's commitmentFor and the Python encoding agree, bound to voter and round.
        assert committed == vote_commitment(approve, vote_score, test_score, salt, voter.account, 1)
        assert committed == bytes(voter.contract.functions.commitmentFor(
            approve, vote_score, test_score, salt, voter.account, 1).call())
        assert committed != vote_commitment(approve, vote_score, test_score, salt, voter.account, 2)
    # Nothing is counted yet, and every eligible member committed: reveals open at once.
    info = voters[0].round_info(1)
    assert (info["state"], info["approvals"], info["rejections"]) == (RoundState.REVEALING, 0, 0)
    assert voters[0].history()[0].votes == ()
    for voter, (approve, vote_score, test_score), salt in zip(voters, ballots, SALTS):
        voter.reveal_vote(1, approve, vote_score, test_score, salt)
        assert voter.commitment_of(1, voter.account) == NO_COMMITMENT
    record = voters[0].history()[0]
    assert record.state is RoundState.ACCEPTED and (record.approvals, record.rejections) == (3, 1)
    assert [(v.approve, v.vote_score, v.test_score) for v in record.votes] == ballots
    assert voters[0].current_round() == 2


def test_each_sealed_vote_refusal_names_its_error(exp: Sandbox) -> None:
    voters = proposed(exp)
    first, second = voters[0], voters[1]
    sealed = refusal(first.vote, 1, True, 1, 1)
    assert (sealed.name, sealed.args_) == ("VoteSealedOnly", (1,))
    empty = refusal(first._send, "commitVote", 1, NO_COMMITMENT)
    assert (empty.name, empty.args_) == ("VoteCommitmentEmpty", (1,))
    first.commit_vote(1, True, 5, 5, SALTS[0])
    again = refusal(first.commit_vote, 1, False, 5, 5, SALTS[1])
    assert (again.name, again.args_) == ("VoterAlreadyVoted", (1, first.account))
    early = refusal(first.reveal_vote, 1, True, 5, 5, SALTS[0])
    assert (early.name, early.args_) == ("RoundUnexpectedState",
                                         (1, RoundState.VOTING, state_bitmap(RoundState.REVEALING)))
    exp.chain.time_travel(WINDOW + 1)  # the vote window closes with one commitment: reveals open
    late = refusal(second.commit_vote, 1, True, 5, 5, SALTS[1])
    assert late.args_ == (1, RoundState.REVEALING, state_bitmap(RoundState.VOTING))
    mismatch = refusal(first.reveal_vote, 1, False, 5, 5, SALTS[0])  # not the committed vote
    committed = vote_commitment(True, 5, 5, SALTS[0], first.account, 1)
    revealed = vote_commitment(False, 5, 5, SALTS[0], first.account, 1)
    assert (mismatch.name, mismatch.args_) == ("RevealMismatch", (1, first.account, committed, revealed))
    assert "salt" in str(mismatch)  # the hint says what to reveal
    uncommitted = refusal(second.reveal_vote, 1, True, 5, 5, SALTS[1])
    assert (uncommitted.name, uncommitted.args_) == ("RevealWithoutCommitment", (1, second.account))


def test_a_reveal_after_the_reveal_window_is_refused(exp: Sandbox) -> None:
    voters = proposed(exp)
    voters[0].commit_vote(1, True, 5, 5, SALTS[0])
    deadline = voters[0].round_info(1)["voteDeadline"] + WINDOW
    exp.chain.advance_to(deadline + 1)
    late = refusal(voters[0].reveal_vote, 1, True, 5, 5, SALTS[0])
    assert (late.name, late.args_) == ("RoundUnexpectedState",
                                       (1, RoundState.VOTING_CLOSED, state_bitmap(RoundState.REVEALING)))
    assert "VOTING_CLOSED" in str(late)


def test_a_commitment_never_revealed_counts_as_no_vote(exp: Sandbox) -> None:
    voters = proposed(exp)
    for voter, salt in zip(voters, SALTS):
        voter.commit_vote(1, voter is not voters[1], 1, 1, salt)  # three yes, one no
    voters[0].reveal_vote(1, True, 1, 1, SALTS[0])
    voters[1].reveal_vote(1, False, 1, 1, SALTS[1])  # the other two yes never come out
    assert voters[0].seconds_until_deadline(1) is not None
    exp.chain.time_travel(2 * WINDOW + 1)
    assert voters[0].round_state(1) is RoundState.VOTING_CLOSED
    voters[3].finalize(1)
    record = voters[0].history()[0]
    # Decided on the reveals: 1 approval of 4 eligible is below half, though 3 committed a yes.
    assert (record.state, record.approvals, record.rejections) == (RoundState.REJECTED, 1, 1)
    assert len(record.votes) == 2


def test_open_votes_refuse_commitments() -> None:
    open_ = embedded_experiment(3, outsiders=0, start_time=START)
    drawn = open_.ledger(open_.members[0]).proposer_of(1)
    open_.ledger(drawn).propose(1, b"\x07" * 32, CID)
    voter = open_.ledger(next(m for m in open_.members if m != drawn))
    assert voter.reveal_window() == 0
    refused = refusal(voter.commit_vote, 1, True, 1, 1, SALTS[0])
    assert (refused.name, refused.args_) == ("VoteOpenOnly", (1,))


# ------------------------------------------------------------------------------ the agents

GROUPS = ("alpha", "beta", "gamma")
SPEC = ModelSpec(architecture="mlp", input_shape=(28, 28, 1), num_classes=10, seed=3,
                 epochs=1, batch_size=16, learning_rate=0.003)


@pytest.fixture(scope="module")
def learners() -> list[Learner]:
    shares = load_learner_data(DataConfig(source="mnist", max_per_learner=80),
                               [Corruption()] * len(GROUPS), seed=5)
    return [Learner(group, data, SPEC) for group, data in zip(GROUPS, shares)]


def test_a_restarted_agent_reveals_from_its_kept_salt(tmp_path: Path, learners: list[Learner]) -> None:
    chain = EmbeddedChain(accounts=len(GROUPS), start_time=START)
    store = LocalStore(tmp_path / "store")
    initial = initial_weights(SPEC)
    initial_cid = store.put(initial)
    params = ExperimentParams(
        members=tuple(a for a, _ in chain.accounts), group_names=GROUPS, spec_digest=SPEC.digest(),
        spec_cid="spec", initial_digest=hashlib.sha256(initial).digest(), initial_cid=initial_cid,
        proposal_window=WINDOW, vote_window=WINDOW, reveal_window=WINDOW, max_rounds=1)
    deployment = deploy(chain.w3, chain.accounts[0][1], params)
    folder = tmp_path / "sealed-votes"

    def agent(index: int) -> Agent:  # a fresh process: nothing carried over but its key and folder
        ledger = ContractLedger(chain.w3, deployment, chain.accounts[index][1])
        return Agent(learners[index], ledger, store, initial_cid, ballots=BallotBox(folder, ledger.account))

    agents = [agent(i) for i in range(len(GROUPS))]
    observer = agents[0].ledger
    drawn = [a.ledger.account for a in agents].index(observer.proposer_of(1))
    first, second = (i for i in range(len(GROUPS)) if i != drawn)
    assert agents[drawn].step() is Action.PROPOSED
    assert agents[first].step() is Action.COMMITTED
    kept = BallotBox(folder, agents[first].ledger.account)
    ballot = kept.load(1)
    assert ballot is not None and stat.S_IMODE(kept.path(1).stat().st_mode) == 0o600
    assert observer.commitment_of(1, agents[first].ledger.account) == vote_commitment(
        ballot.approve, ballot.vote_score, ballot.test_score, ballot.salt, agents[first].ledger.account, 1)
    # The second voter kept its ballot, then stopped before sending the commitment: restarted, it
    # commits that same ballot (same salt), not a new one.
    late = BallotBox(folder, agents[second].ledger.account)
    planned = SealedBallot(1, False, 123, 456, b"\x42" * 32)
    late.keep(planned)
    assert agent(second).step() is Action.COMMITTED
    assert observer.round_state(1) is RoundState.REVEALING  # both committed
    # The first voter crashes now; its successor reveals from the file.
    assert agent(first).step() is Action.REVEALED
    assert agents[second].step() is Action.REVEALED  # the last reveal decides the round
    record = observer.history()[0]
    assert record.state.is_final
    votes = {v.voter: (v.approve, v.vote_score, v.test_score) for v in record.votes}
    assert votes == {agents[first].ledger.account: (ballot.approve, ballot.vote_score, ballot.test_score),
                     agents[second].ledger.account: (False, 123, 456)}


def test_a_ballot_file_that_cannot_be_read_says_the_vote_cannot_be_revealed(tmp_path: Path) -> None:
    box = BallotBox(tmp_path / "votes", "0x" + "ab" * 20)
    assert box.load(3) is None
    box.keep(SealedBallot(3, True, 1, 2, b"\x01" * 32))
    box.path(3).write_text("{not json")
    with pytest.raises(BallotError, match="cannot be revealed"):
        box.load(3)


def test_a_successor_s_sealed_votes_are_kept_apart_from_its_predecessor_s(tmp_path: Path) -> None:
    """Rounds are numbered from 1 again in a successor: its round 1 must not find the kept vote of
    the predecessor's round 1 (committing that would cast an old vote in a new experiment)."""
    box = BallotBox(tmp_path / "votes", "0x" + "ab" * 20)
    box.keep(SealedBallot(1, True, 1, 2, b"\x01" * 32))
    successor = box.for_successor("0x" + "CD" * 20)
    assert successor.path(1) != box.path(1) and successor.load(1) is None
    successor.keep(SealedBallot(1, False, 3, 4, b"\x02" * 32))
    assert box.load(1) == SealedBallot(1, True, 1, 2, b"\x01" * 32)
    assert successor.load(1) == SealedBallot(1, False, 3, 4, b"\x02" * 32)


# ------------------------------------------------------------------------------ a whole run


@pytest.mark.slow
def test_an_embedded_run_with_sealed_votes_decides_as_its_reference_twin(tmp_path: Path) -> None:
    path = tiny_experiment(tmp_path, rounds=2, epochs=1)
    path.write_text(path.read_text().replace("[experiment]\n", "[experiment]\nreveal_window = 60\n", 1))
    experiment = Experiment.load(path)
    assert experiment.reveal_window == 60
    chained = run_experiment(experiment, tmp_path / "chain")
    rows = read_jsonl(chained.out / "rounds.jsonl")
    assert [row["round"] for row in rows] == [1, 2]
    for row in rows:  # every voter's sealed vote was revealed and counted
        assert set(row["votes"]) == set(experiment.groups) - {row["proposer"]}
        assert row["outcome"] in ("accepted", "rejected")
    files = sorted((chained.out / "sealed-votes").iterdir())
    assert len(files) == 4 and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    proposers = [row["proposer"] for row in rows]
    twin = run_experiment(experiment, tmp_path / "ref", ledger="reference", proposers=proposers)
    assert [row["outcome"] for row in twin.rounds] == [row["outcome"] for row in rows]
    assert twin.summary["final_model_digest"] == chained.summary["final_model_digest"]

"""The agent on the pure-Python rules with real learners (a small MLP on 8x8-ish MNIST shares).

The ledger here is ``ReferenceLedger`` (the contract's rules, checked against the contract by the
differential tests) so these tests exercise the agent's own logic: who acts when, what it does with
bad proposals, and that a restarted agent catches up.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest

from learnledger.agents.agent import Action, Agent, PinPolicy, RoundLog
from learnledger.agents.learner import Learner, initial_weights
from learnledger.agents.models import ModelSpec
from learnledger.data.config import DataConfig
from learnledger.data.corruption import Corruption
from learnledger.data.experiment_data import load_learner_data
from learnledger.ledger.api import NO_SCORE, RoundState
from learnledger.ledger.params import ExperimentParams
from learnledger.ledger.reference import ReferenceLedger
from learnledger.runs.driver import drive
from learnledger.store.local import LocalStore

GROUPS = ("alpha", "beta", "gamma")
MEMBERS = tuple(f"0x{i + 1:040x}" for i in range(len(GROUPS)))
SPEC = ModelSpec(architecture="mlp", input_shape=(28, 28, 1), num_classes=10, seed=3,
                 epochs=2, batch_size=16, learning_rate=0.003)


@pytest.fixture(scope="module")
def learners() -> list[Learner]:
    shares = load_learner_data(DataConfig(source="mnist", max_per_learner=120),
                               [Corruption()] * len(GROUPS), seed=5)
    return [Learner(group, data, SPEC) for group, data in zip(GROUPS, shares)]


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: int) -> None:
        self.now += seconds


def _experiment(tmp_path: Path, learners: list[Learner], rounds: int = 3, proposers: str = "",
                pins: PinPolicy | None = None):
    """A reference ledger, a store holding the initial weights, and one agent per learner."""
    store = LocalStore(tmp_path / "store")
    initial = initial_weights(SPEC)
    initial_cid = store.put(initial)
    clock = Clock()
    params = ExperimentParams(
        members=MEMBERS, group_names=GROUPS, spec_digest=SPEC.digest(), spec_cid="spec",
        initial_digest=hashlib.sha256(initial).digest(), initial_cid=initial_cid,
        proposal_window=60, vote_window=60, max_rounds=rounds,
    )
    source = (lambda r: MEMBERS[GROUPS.index(proposers.split(",")[r - 1])]) if proposers else None
    reference = ReferenceLedger(params, clock=clock, seed=1, proposer_source=source)
    logs: list[RoundLog] = []
    agents = [Agent(learner, reference.as_member(member), store, initial_cid, on_round_log=logs.append, pins=pins)
              for learner, member in zip(learners, MEMBERS)]
    return reference, store, clock, agents, logs


def test_agents_run_an_experiment_to_its_end(tmp_path: Path, learners: list[Learner]) -> None:
    reference, store, clock, agents, logs = _experiment(tmp_path, learners, rounds=3)
    records = drive(agents, reference.as_member(MEMBERS[0]), clock.advance)

    assert [r.round for r in records] == [1, 2, 3]
    assert all(r.state in (RoundState.ACCEPTED, RoundState.REJECTED) for r in records)
    assert all(len(r.votes) == len(GROUPS) - 1 for r in records), "every non-proposer votes"
    for record in records:
        assert record.proposer not in {vote.voter for vote in record.votes}
    # The first proposal trains an untrained model: every voter sees it improve and approves.
    assert records[0].state is RoundState.ACCEPTED
    shared, final = agents[1].shared_model()
    assert hashlib.sha256(final).digest() == reference.as_member(MEMBERS[0]).current_model().digest
    # Each agent logged one line per round it took part in: the proposer's and the voters'.
    assert sorted((log.round, log.role) for log in logs if log.group == "alpha") == sorted(
        (r.round, "proposer" if r.proposer == MEMBERS[0] else "voter") for r in records)


def test_a_proposal_missing_from_the_store_gets_a_reasoned_no(
    tmp_path: Path, learners: list[Learner], caplog: pytest.LogCaptureFixture
) -> None:
    reference, store, clock, agents, logs = _experiment(tmp_path, learners, rounds=1, proposers="alpha")
    assert agents[0].step() is Action.PROPOSED
    proposal = reference.as_member(MEMBERS[0]).proposal(1)
    store.remove(proposal.cid, force=True)

    with caplog.at_level(logging.WARNING):
        assert agents[1].step() is Action.VOTED
    (vote,) = reference.as_member(MEMBERS[0]).history()[0].votes
    assert (vote.approve, vote.vote_score, vote.test_score) == (False, NO_SCORE, NO_SCORE)
    assert "could not be fetched" in caplog.text and proposal.cid in caplog.text
    assert "could not be fetched" in logs[-1].reason


def test_bytes_that_do_not_match_the_proposed_digest_get_a_reasoned_no(
    tmp_path: Path, learners: list[Learner]
) -> None:
    reference, store, clock, agents, logs = _experiment(tmp_path, learners, rounds=1, proposers="alpha")
    # A proposer whose CID names other bytes than its digest (here: the initial weights).
    honest = agents[0].learner.train(initial_weights(SPEC), 1)
    other_cid = store.put(b"not the proposed weights")
    reference.as_member(MEMBERS[0]).propose(1, hashlib.sha256(honest).digest(), other_cid)

    assert agents[2].step() is Action.VOTED
    assert logs[-1].approve is False and "not the proposed digest" in logs[-1].reason


def test_malformed_weights_get_a_no_without_crashing(tmp_path: Path, learners: list[Learner]) -> None:
    reference, store, clock, agents, logs = _experiment(tmp_path, learners, rounds=1, proposers="alpha")
    garbage = b"\x00" * 64
    reference.as_member(MEMBERS[0]).propose(1, hashlib.sha256(garbage).digest(), store.put(garbage))

    assert agents[1].step() is Action.VOTED
    assert logs[-1].approve is False and "do not fit the model" in logs[-1].reason


def test_a_restarted_agent_catches_up_and_the_experiment_completes(
    tmp_path: Path, learners: list[Learner]
) -> None:
    reference, store, clock, agents, logs = _experiment(
        tmp_path, learners, rounds=2, proposers="alpha,beta")
    observer = reference.as_member(MEMBERS[0])
    assert agents[0].step() is Action.PROPOSED
    assert agents[1].step() is Action.VOTED
    # gamma "crashes" before voting; a fresh agent (nothing carried over but its key) replaces it.
    reborn = Agent(learners[2], reference.as_member(MEMBERS[2]), store, agents[2].initial_cid)
    agents[2] = reborn
    records = drive(agents, observer, clock.advance)

    assert [r.round for r in records] == [1, 2]
    assert {v.voter for v in records[0].votes} == {MEMBERS[1], MEMBERS[2]}
    # The reborn agent proposes nothing twice and votes once per round: the ledger would refuse more.
    assert all(len(r.votes) == 2 for r in records)


def test_a_silent_proposer_is_skipped_at_its_deadline(tmp_path: Path, learners: list[Learner]) -> None:
    reference, store, clock, agents, logs = _experiment(
        tmp_path, learners, rounds=2, proposers="alpha,beta")
    records = drive(agents[1:], reference.as_member(MEMBERS[1]), clock.advance)  # alpha never runs

    assert records[0].state is RoundState.SKIPPED and records[0].proposal is None
    assert records[1].state in (RoundState.ACCEPTED, RoundState.REJECTED)


def test_the_pin_policy_keeps_every_accepted_model_and_lets_old_rejected_proposals_go(
    tmp_path: Path, learners: list[Learner]
) -> None:
    reference, store, clock, agents, logs = _experiment(
        tmp_path, learners, rounds=3, proposers="alpha,beta,alpha", pins=PinPolicy(keep_rejected_rounds=1))
    store.unpin(agents[0].initial_cid)
    garbage = b"\x00" * 64  # alpha's round-1 proposal: refused by every voter
    rejected_cid = store.put(garbage)
    reference.as_member(MEMBERS[0]).propose(1, hashlib.sha256(garbage).digest(), rejected_cid)
    assert agents[1].step() is Action.VOTED and agents[0].initial_cid in store.pins()
    assert agents[2].step() is Action.VOTED

    records = drive(agents, reference.as_member(MEMBERS[0]), clock.advance)
    assert [r.state for r in records][0] is RoundState.REJECTED
    accepted = [r.proposal.cid for r in records if r.state is RoundState.ACCEPTED]
    assert accepted, "the later honest proposals improve the untrained model"
    for agent in agents:
        agent.step()  # each looks once more after the end
    pins = set(store.pins())
    assert set(accepted) | {agents[0].initial_cid} <= pins
    assert rejected_cid not in pins, "alpha's rejected proposal was unpinned one round after"
    with pytest.raises(ValueError, match="keep_rejected_rounds must be >= 0"):
        PinPolicy(-1)


def test_agents_follow_a_succession_when_on_the_new_roster_and_stop_when_not(
        tmp_path: Path, learners: list[Learner], caplog: pytest.LogCaptureFixture) -> None:
    """alpha and beta move on to the successor, gamma (not on its roster) stops saying why."""
    from dataclasses import replace

    from learnledger.ledger.reference import SuccessorViews

    reference, store, clock, agents, logs = _experiment(tmp_path, learners, rounds=2)
    first_address, second_address = "0x" + "a1" * 20, "0x" + "b2" * 20
    ledgers: dict[str, ReferenceLedger] = {}

    def views(address: str) -> SuccessorViews | None:
        found = ledgers.get(address.lower())
        return None if found is None else SuccessorViews(found.params.predecessor, found.params.initial_digest,
                                                         len(found.params.members))

    first = ReferenceLedger(reference.params, clock=clock, seed=1, address=first_address, successor_views=views)
    for agent, member in zip(agents, MEMBERS):
        agent.ledger = first.as_member(member)
    drive(agents, first.as_member(MEMBERS[0]), clock.advance)
    model = first.current_model()
    handed_over_cid = agents[0]._proposal_cid(model.round) if model.round else agents[0].initial_cid
    second = ReferenceLedger(replace(first.params, members=MEMBERS[:2], group_names=GROUPS[:2],
                                     initial_digest=model.digest, initial_cid=handed_over_cid,
                                     predecessor=first_address),
                             clock=clock, seed=2, address=second_address)
    ledgers[second_address] = second
    first.as_member(MEMBERS[0]).propose_successor(second_address)
    first.as_member(MEMBERS[1]).vote_succession(True)
    first.as_member(MEMBERS[2]).vote_succession(False)
    first.as_member(MEMBERS[2]).finalize_succession()
    assert first.successor() is not None

    actions = {}
    for agent, member in zip(agents, MEMBERS):
        agent.open_successor = (lambda m: lambda address: (second.as_member(m), handed_over_cid))(member)
        with caplog.at_level(logging.WARNING):
            actions[agent.group] = agent.step()
    assert actions == {"alpha": Action.FOLLOWED, "beta": Action.FOLLOWED, "gamma": Action.FINISHED}
    assert agents[2].left_line_at is not None and "roster does not include this member" in caplog.text
    assert agents[2].step() is Action.FINISHED  # and stays stopped

    logged_before = len(logs)
    records = drive(agents[:2], second.as_member(MEMBERS[0]), clock.advance)
    assert [r.round for r in records] == [1, 2]
    # the successor's rounds 1 and 2 are logged too, though the predecessor had rounds 1 and 2
    assert sorted(entry.round for entry in logs[logged_before:]) == [1, 1, 2, 2]
    assert all(len(r.votes) == 1 for r in records)  # one voter each: the other of the two members


def test_an_agent_decides_a_succession_whose_votes_are_in_so_the_rounds_go_on(
        tmp_path: Path, learners: list[Learner]) -> None:
    """A succession proposed during round 1 and rejected by both voters: round 1 runs to its end,
    the rounds pause, and nobody runs `succession finalize`; an agent sends the decision itself,
    and the rounds resume to the experiment's end."""
    from dataclasses import replace

    from learnledger.ledger.api import SuccessionState
    from learnledger.ledger.reference import SuccessorViews

    reference, store, clock, agents, _ = _experiment(tmp_path, learners, rounds=3)
    first_address, second_address = "0x" + "a1" * 20, "0x" + "b2" * 20
    second = ReferenceLedger(replace(reference.params, initial_digest=reference.current_model().digest,
                                     predecessor=first_address), clock=clock, seed=2, address=second_address)
    first = ReferenceLedger(reference.params, clock=clock, seed=1, address=first_address,
                            successor_views=lambda address: SuccessorViews(
                                second.params.predecessor, second.params.initial_digest, len(second.params.members)))
    for agent, member in zip(agents, MEMBERS):
        agent.ledger = first.as_member(member)
    first.as_member(MEMBERS[0]).propose_successor(second_address)
    first.as_member(MEMBERS[1]).vote_succession(False)
    first.as_member(MEMBERS[2]).vote_succession(False)
    assert first.succession_state() is SuccessionState.VOTING_CLOSED

    records = drive(agents, first.as_member(MEMBERS[0]), clock.advance)
    assert first.succession_state() is SuccessionState.REJECTED
    assert [r.round for r in records] == [1, 2, 3] and first.successor() is None

"""Adversaries: a malicious proposer is outvoted and an outsider is refused.

A malicious member holds a proposer's seat but not the others' votes. Each attack below is sent by
hand through the member's own ledger handle (no ``Agent`` on its side: it can send anything), and the
honest members run the real ``Agent`` with real Keras learners. What must hold: every attack is
rejected by the honest votes, and the shared model's mean test score on the honest learners' test
sets is the same after the attacks as before (the shared model itself is unchanged).

The malicious rounds run on ``ReferenceLedger`` (the contract's rules in Python, held equal to the
contract by tests/test_reference_differential.py) so the real learners train in seconds; the
outsider's refusals run on the Solidity contract itself, on the embedded chain.

Votes for another round than the open one are refused here too. The other refusals of single actions
by members (double votes, self-votes, late votes, finalize before the deadline) are covered one by one
in tests/test_contract.py; see docs/reliability.md for the map.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from learnledger.agents.agent import Action, Agent
from learnledger.agents.learner import Learner, initial_weights
from learnledger.agents.models import ModelSpec
from learnledger.data.api import LearnerData, Split
from learnledger.data.config import DataConfig
from learnledger.data.corruption import Corruption
from learnledger.data.experiment_data import load_learner_data
from learnledger.ledger.api import ContractRevert, RoundState
from learnledger.ledger.params import ExperimentParams
from learnledger.ledger.reference import ReferenceLedger
from learnledger.ledger.sandbox import embedded_experiment
from learnledger.store.local import LocalStore
from learnledger.store.tensors import decode_tensors, encode_tensors

GROUPS = ("mallory", "beta", "gamma")
"""``mallory`` is the malicious member; ``beta`` and ``gamma`` are honest."""
MEMBERS = tuple(f"0x{i + 1:040x}" for i in range(len(GROUPS)))
MALLORY, BETA, GAMMA = MEMBERS
SPEC = ModelSpec(architecture="mlp", input_shape=(28, 28, 1), num_classes=10, seed=3,
                 epochs=2, batch_size=16, learning_rate=0.003)
ATTACKS = ("random weights", "NaN weights", "shuffled labels", "digest not matching its CID")


@pytest.fixture(scope="module")
def learners() -> list[Learner]:
    shares = load_learner_data(DataConfig(source="mnist", max_per_learner=120),
                               [Corruption()] * len(GROUPS), seed=5)
    return [Learner(group, data, SPEC) for group, data in zip(GROUPS, shares)]


def _random_weights(like: bytes, seed: int) -> bytes:
    """Weights of the right names, shapes and dtypes, drawn at random (a well-formed lie)."""
    rng = np.random.default_rng(seed)
    tensors = decode_tensors(like)
    return encode_tensors({name: rng.normal(0.0, 0.5, t.shape).astype(t.dtype) for name, t in tensors.items()})


def _nan_weights(like: bytes) -> bytes:
    """The given weights with one NaN in every tensor: it spreads to every prediction."""
    tensors = {name: np.array(t, copy=True) for name, t in decode_tensors(like).items()}
    for array in tensors.values():
        array.flat[0] = np.nan
    return encode_tensors(tensors)


def _shuffled_labels(data: LearnerData, seed: int) -> LearnerData:
    """The same images with their train labels permuted: a model trained on noise."""
    permuted = np.random.default_rng(seed).permutation(data.train.y)
    return LearnerData(Split(data.train.x, permuted), data.vote, data.test, data.class_names)


def _mean_honest_test_score(learners: list[Learner], weights: bytes) -> float:
    return float(np.mean([learner.score(weights).test for learner in learners[1:]]))


def test_a_malicious_proposer_is_outvoted_and_the_shared_model_never_gets_worse(
    tmp_path: Path, learners: list[Learner]
) -> None:
    store = LocalStore(tmp_path / "store")
    initial = initial_weights(SPEC)
    initial_cid = store.put(initial)
    clock = [1_700_000_000]
    params = ExperimentParams(
        members=MEMBERS, group_names=GROUPS, spec_digest=SPEC.digest(), spec_cid="spec",
        initial_digest=hashlib.sha256(initial).digest(), initial_cid=initial_cid,
        proposal_window=60, vote_window=60, max_rounds=1 + len(ATTACKS),
    )
    # Round 1 is honest (beta trains the model), then mallory proposes in every later round.
    reference = ReferenceLedger(params, clock=lambda: clock[0], seed=1,
                                proposer_source=lambda r: BETA if r == 1 else MALLORY)
    honest = [Agent(learner, reference.as_member(member), store, initial_cid)
              for learner, member in zip(learners[1:], MEMBERS[1:])]
    mallory, observer = reference.as_member(MALLORY), reference.as_member(BETA)

    assert honest[0].step() is Action.PROPOSED
    assert honest[1].step() is Action.VOTED
    mallory.vote(1, True, 0, 0)  # mallory plays along in round 1, as a sleeper would
    assert observer.round_state(1) is RoundState.ACCEPTED
    trained = honest[0].shared_model()[1]
    before = _mean_honest_test_score(learners, trained)
    assert before > _mean_honest_test_score(learners, initial), "round 1 must have trained the model"

    attacks: dict[str, Callable[[int], tuple[bytes, str]]] = {
        "random weights": lambda r: _propose_bytes(store, _random_weights(trained, seed=r)),
        "NaN weights": lambda r: _propose_bytes(store, _nan_weights(trained)),
        "shuffled labels": lambda r: _propose_bytes(
            store, Learner("mallory", _shuffled_labels(learners[0].data, seed=r), SPEC).train(trained, r)),
        # Good weights behind the CID, but the digest names other bytes: accepting it would make
        # the shared model a digest that no store can serve.
        "digest not matching its CID": lambda r: (
            hashlib.sha256(b"not the weights").digest(), store.put(learners[0].train(trained, r))),
    }
    for round, name in enumerate(ATTACKS, start=2):
        digest, cid = attacks[name](round)
        mallory.propose(round, digest, cid)
        assert [agent.step() for agent in honest] == [Action.VOTED, Action.VOTED], name
        record = observer.history()[round - 1]
        assert record.state is RoundState.REJECTED, f"{name}: {record}"
        assert [vote.approve for vote in record.votes] == [False, False], name

    assert observer.is_finished()
    shared, final = honest[1].shared_model()
    assert shared.round == 1 and final == trained, "no attack changed the shared model"
    assert _mean_honest_test_score(learners, final) >= before


def _propose_bytes(store: LocalStore, weights: bytes) -> tuple[bytes, str]:
    """An honest-looking proposal of ``weights``: its true digest and its CID."""
    return hashlib.sha256(weights).digest(), store.put(weights)


def test_an_outsider_key_is_refused_by_propose_vote_and_finalize_on_the_contract() -> None:
    exp = embedded_experiment(3, outsiders=1)
    outsider = exp.ledger(exp.outsiders[0])
    member = exp.ledger(exp.members[0])
    initial_model = member.current_model()
    digest = hashlib.sha256(b"outsider weights").digest()

    with pytest.raises(ContractRevert) as propose:
        outsider.propose(1, digest, "bafy-outsider")
    exp.ledger(member.status().proposer).propose(1, hashlib.sha256(b"member weights").digest(), "bafy-member")
    with pytest.raises(ContractRevert) as vote:
        outsider.vote(1, True, 1, 1)
    # Anyone may finalize a round the clock has decided (it only applies the rules); an outsider's
    # finalize while the members still vote is refused like anybody's.
    with pytest.raises(ContractRevert) as finalize:
        outsider.finalize(1)

    assert (propose.value.name, propose.value.args_[:2]) == ("ProposalUnauthorized", (1, outsider.account))
    assert (vote.value.name, vote.value.args_) == ("VoterNotMember", (1, outsider.account))
    assert (finalize.value.name, finalize.value.args_[:2]) == ("RoundUnexpectedState", (1, RoundState.VOTING))
    after = member.status()
    assert (after.round, after.state) == (1, RoundState.VOTING)
    assert member.proposal(1).cid == "bafy-member", "the outsider's proposal left no trace"
    assert member.history()[0].votes == (), "the outsider's vote was not recorded"
    assert member.current_model() == initial_model


def test_votes_for_another_round_than_the_open_one_are_refused_on_the_contract() -> None:
    exp = embedded_experiment(3, outsiders=0)
    reader = exp.ledger(exp.members[0])
    drawn = exp.ledger(reader.proposer_of(1))
    voters = [exp.ledger(m) for m in exp.members if m != drawn.account]
    drawn.propose(1, hashlib.sha256(b"round 1").digest(), "bafy-round-1")
    voters[0].vote(1, False, 1, 1)
    with pytest.raises(ContractRevert) as ahead:  # round 2 is not open yet
        voters[0].vote(2, True, 1, 1)
    voters[1].vote(1, False, 1, 1)  # the last vote finalizes round 1 and opens round 2
    assert reader.round_state(1) is RoundState.REJECTED and reader.current_round() == 2
    with pytest.raises(ContractRevert) as replay:  # a vote for a decided round, replayed later
        voters[0].vote(1, True, 1, 1)

    assert (ahead.value.name, ahead.value.args_[:2]) == ("RoundUnexpectedState", (2, RoundState.UNOPENED))
    assert (replay.value.name, replay.value.args_[:2]) == ("RoundUnexpectedState", (1, RoundState.REJECTED))
    record = reader.history()[0]
    assert [vote.approve for vote in record.votes] == [False, False], "round 1 kept its two votes"
    assert reader.current_model().round == 0

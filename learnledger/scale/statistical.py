"""The calibrated statistical learner: thousands of labs without training thousands of models.

A lab judges a proposal by its vote score, which is the proposal's true change in accuracy seen
through the noise of a small vote set. The statistical learner says exactly that: lab ``i``
approves iff ``delta + sigma * z_i > tau`` with ``z_i`` standard normal, where ``delta`` is the
true change (on a large held-out set), ``sigma`` the vote-set noise and ``tau`` the bar the
strict-improvement rule sets (a tie on a 100-digit vote set is a rejection, so ``tau > 0``).
``sigma`` and ``tau`` are fitted (probit maximum likelihood) to the real learners' votes, and the
true changes proposals make are drawn from those the real learners' proposals made from a shared
model of similar accuracy (``ProposalBank``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.stats import norm


@dataclass(frozen=True)
class VoteNoise:
    """How a lab's opinion relates to a proposal's true change in accuracy."""

    sigma: float
    tau: float

    def approval_probability(self, delta: np.ndarray | float) -> np.ndarray:
        return norm.cdf((np.asarray(delta) - self.tau) / self.sigma)


def fit_vote_noise(deltas: np.ndarray, approvals: np.ndarray) -> VoteNoise:
    """Probit fit of ``P(approve) = Phi((delta - tau) / sigma)`` to (true change, lab's vote) pairs.

    Args:
        deltas: the proposal's true change in accuracy, one entry per vote.
        approvals: the vote (True = approve), same length.
    """
    deltas = np.asarray(deltas, dtype=np.float64)
    approvals = np.asarray(approvals, dtype=bool)
    if deltas.shape != approvals.shape or deltas.size < 10:
        raise ValueError(f"need matching arrays of at least 10 votes, received {deltas.shape} and {approvals.shape}")
    if approvals.all() or not approvals.any():
        raise ValueError("cannot fit vote noise when every vote is the same; run more rounds")

    def loss(params: np.ndarray) -> float:
        tau, log_sigma = params
        z = (deltas - tau) / np.exp(log_sigma)
        return -float(np.sum(np.where(approvals, norm.logcdf(z), norm.logcdf(-z))))

    start = np.array([float(np.median(deltas)), np.log(max(float(np.std(deltas)), 1e-4))])
    result = minimize(loss, start, method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-6, "maxiter": 4000})
    tau, log_sigma = result.x
    return VoteNoise(sigma=float(np.exp(log_sigma)), tau=float(tau))


@dataclass(frozen=True)
class ProposalRecord:
    """One real proposal: the shared model's accuracy before it, its true change, and its kind."""

    accuracy: float
    delta: float
    spoiled: bool


class ProposalBank:
    """The true changes real proposals made, drawn again near a given shared-model accuracy."""

    def __init__(self, records: Sequence[ProposalRecord], neighbours: int = 25) -> None:
        self._by_kind: dict[bool, tuple[np.ndarray, np.ndarray]] = {}
        for spoiled in (False, True):
            chosen = [r for r in records if r.spoiled == spoiled]
            if not chosen:
                raise ValueError(f"the bank needs {'spoiled' if spoiled else 'honest'} proposals, has none")
            self._by_kind[spoiled] = (np.array([r.accuracy for r in chosen]), np.array([r.delta for r in chosen]))
        self.neighbours = neighbours

    def draw(self, accuracy: float, spoiled: bool, rng: np.random.Generator) -> float:
        """A true change one of the ``neighbours`` real proposals nearest in accuracy made."""
        accuracies, deltas = self._by_kind[spoiled]
        nearest = np.argsort(np.abs(accuracies - accuracy))[: self.neighbours]
        return float(deltas[rng.choice(nearest)])


class StatisticalPopulation:
    """``labs`` calibrated statistical learners; a model is just its accuracy (a float).

    Args:
        labs: how many learners.
        noise: the fitted vote noise.
        bank: the real proposals to draw true changes from.
        initial_accuracy: the initial model's accuracy (the real run's).
        seed: seeds every draw.
    """

    def __init__(self, labs: int, noise: VoteNoise, bank: ProposalBank, initial_accuracy: float, seed: int = 0) -> None:
        self.labs = labs
        self.noise = noise
        self.bank = bank
        self._initial = initial_accuracy
        self._rng = np.random.default_rng(seed)

    def initial_model(self) -> float:
        return self._initial

    def propose(self, lab: int, model: float, round: int, spoiled: bool) -> float:
        return float(np.clip(model + self.bank.draw(model, spoiled, self._rng), 0.0, 1.0))

    def judge(self, candidate: float, current: float) -> np.ndarray:
        noisy = (candidate - current) + self.noise.sigma * self._rng.standard_normal(self.labs)
        return noisy > self.noise.tau

    def accuracy(self, model: float) -> float:
        return model

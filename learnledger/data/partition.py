"""Dealing one labelled dataset out among learners, then into each learner's train / vote / test.

Everything here works on index arrays, so the images are copied once, at the end. Every function
takes a ``numpy.random.Generator``: the same seed gives the same shares on every machine.

- IID: a shuffled deck dealt in near-equal hands; every learner sees every class equally often.
- Dirichlet(alpha): for each class, the fraction going to each learner is drawn from
  Dirichlet(alpha, ..., alpha) (Hsu, Qi & Brown 2019, arXiv:1909.06335). Small alpha: each learner
  holds few classes (strongly non-IID); large alpha tends to IID.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from learnledger.data.errors import DataError

SCHEMES: tuple[str, ...] = ("iid", "dirichlet")


@dataclass(frozen=True)
class ShareIndices:
    """One learner's disjoint index arrays into the full dataset."""

    train: np.ndarray
    vote: np.ndarray
    test: np.ndarray

    def all(self) -> np.ndarray:
        return np.concatenate([self.train, self.vote, self.test])


def partition_iid(n_samples: int, n_learners: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffle ``range(n_samples)`` and deal it into ``n_learners`` hands differing by at most one."""
    _check_counts(n_samples, n_learners)
    return [np.sort(part) for part in np.array_split(rng.permutation(n_samples), n_learners)]


def partition_dirichlet(
    labels: np.ndarray,
    n_learners: int,
    alpha: float,
    rng: np.random.Generator,
    min_per_learner: int = 3,
    max_attempts: int = 100,
) -> list[np.ndarray]:
    """Deal each class among learners in proportions drawn from Dirichlet(alpha).

    Draws again (up to ``max_attempts`` times) until every learner holds at least
    ``min_per_learner`` samples, the least a learner needs for non-empty train, vote and test sets.
    """
    labels = np.asarray(labels)
    _check_counts(len(labels), n_learners)
    if not (np.isfinite(alpha) and alpha > 0):
        raise DataError(f"Dirichlet alpha must be a positive number; got alpha={alpha!r}.")
    if len(labels) < n_learners * min_per_learner:
        raise DataError(
            f"{len(labels)} samples cannot give {n_learners} learners {min_per_learner} each; "
            "use fewer learners or more data."
        )
    for _ in range(max_attempts):
        hands: list[list[np.ndarray]] = [[] for _ in range(n_learners)]
        for cls in np.unique(labels):
            members = rng.permutation(np.flatnonzero(labels == cls))
            shares = rng.dirichlet(np.full(n_learners, alpha))
            cuts = np.round(np.cumsum(shares)[:-1] * len(members)).astype(int)
            for learner, part in enumerate(np.split(members, cuts)):
                hands[learner].append(part)
        parts = [np.sort(np.concatenate(hand)) for hand in hands]
        if min(len(part) for part in parts) >= min_per_learner:
            return parts
    raise DataError(
        f"Dirichlet(alpha={alpha}) left some learner with fewer than {min_per_learner} samples in "
        f"{max_attempts} draws ({len(labels)} samples, {n_learners} learners); raise alpha or use "
        "fewer learners."
    )


def split_share(
    indices: np.ndarray,
    vote_fraction: float,
    test_fraction: float,
    rng: np.random.Generator,
) -> ShareIndices:
    """Cut one learner's share into disjoint train / vote / test sets, each non-empty."""
    check_fractions(vote_fraction, test_fraction)
    n = len(indices)
    if n < 3:
        raise DataError(f"a learner holds {n} samples; it needs at least 3 (train, vote, test).")
    shuffled = rng.permutation(indices)
    n_vote = min(max(1, round(n * vote_fraction)), n - 2)
    n_test = min(max(1, round(n * test_fraction)), n - 1 - n_vote)
    vote, test, train = np.split(shuffled, [n_vote, n_vote + n_test])
    return ShareIndices(train=np.sort(train), vote=np.sort(vote), test=np.sort(test))


def check_fractions(vote_fraction: float, test_fraction: float) -> None:
    for name, value in (("vote_fraction", vote_fraction), ("test_fraction", test_fraction)):
        if not (0 < value < 1):
            raise DataError(f"{name} must lie strictly between 0 and 1; got {name}={value!r}.")
    if vote_fraction + test_fraction >= 1:
        raise DataError(
            f"vote_fraction + test_fraction must leave something to train on; got "
            f"{vote_fraction} + {test_fraction} = {vote_fraction + test_fraction}."
        )


def label_skew(labels: np.ndarray, parts: list[np.ndarray]) -> float:
    """Mean total-variation distance between each learner's label mix and the whole dataset's.

    0 for perfectly IID shares; approaches 1 when each learner holds classes nobody else has.
    """
    labels = np.asarray(labels)
    classes = np.unique(labels)
    overall = np.array([np.mean(labels == c) for c in classes])
    distances = []
    for part in parts:
        if len(part) == 0:
            continue
        mix = np.array([np.mean(labels[part] == c) for c in classes])
        distances.append(0.5 * np.abs(mix - overall).sum())
    return float(np.mean(distances))


def _check_counts(n_samples: int, n_learners: int) -> None:
    if n_learners < 1:
        raise DataError(f"need at least one learner; got n_learners={n_learners}.")
    if n_samples < n_learners:
        raise DataError(f"{n_samples} samples cannot be shared among {n_learners} learners.")

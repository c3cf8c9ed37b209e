"""Sharing a dataset among learners: disjoint, complete, reproducible, and skewed as alpha says."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learnledger.data.errors import DataError
from learnledger.data.partition import (
    label_skew,
    partition_dirichlet,
    partition_iid,
    split_share,
)


def _labels(n: int, n_classes: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_classes, n)


def _assert_disjoint_cover(parts: list[np.ndarray], n: int) -> None:
    joined = np.concatenate(parts)
    assert len(joined) == n, "every sample is dealt exactly once"
    np.testing.assert_array_equal(np.sort(joined), np.arange(n))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(10, 400), learners=st.integers(1, 10), seed=st.integers(0, 2**32 - 1))
def test_iid_hands_are_disjoint_complete_and_near_equal(n, learners, seed):
    parts = partition_iid(n, learners, np.random.default_rng(seed))
    _assert_disjoint_cover(parts, n)
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1


@settings(max_examples=40, deadline=None)
@given(learners=st.integers(2, 8), alpha=st.floats(0.05, 50), seed=st.integers(0, 2**32 - 1))
def test_dirichlet_hands_are_disjoint_and_complete(learners, alpha, seed):
    labels = _labels(600, 10, seed)
    parts = partition_dirichlet(labels, learners, alpha, np.random.default_rng(seed))
    _assert_disjoint_cover(parts, len(labels))
    assert min(len(p) for p in parts) >= 3


@settings(max_examples=25, deadline=None)
@given(learners=st.integers(2, 6), seed=st.integers(0, 2**32 - 1))
def test_dirichlet_skew_grows_as_alpha_shrinks(learners, seed):
    labels = _labels(2000, 10, seed)
    skews = [label_skew(labels, partition_dirichlet(labels, learners, alpha,
                                                    np.random.default_rng(seed)))
             for alpha in (100.0, 1.0, 0.05)]
    assert skews[0] < skews[1] < skews[2]


def test_iid_shares_are_close_to_the_overall_label_mix():
    labels = _labels(5000, 10, 0)
    assert label_skew(labels, partition_iid(5000, 5, np.random.default_rng(0))) < 0.05


def test_the_same_seed_gives_the_same_shares_and_another_seed_does_not():
    labels = _labels(500, 10, 3)
    first = partition_dirichlet(labels, 4, 0.5, np.random.default_rng(7))
    again = partition_dirichlet(labels, 4, 0.5, np.random.default_rng(7))
    other = partition_dirichlet(labels, 4, 0.5, np.random.default_rng(8))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(3, 300), vote=st.floats(0.05, 0.45), test=st.floats(0.05, 0.45),
       seed=st.integers(0, 2**32 - 1))
def test_a_share_splits_into_disjoint_nonempty_train_vote_test(n, vote, test, seed):
    indices = np.arange(1000, 1000 + n)
    share = split_share(indices, vote, test, np.random.default_rng(seed))
    assert min(len(share.train), len(share.vote), len(share.test)) >= 1
    np.testing.assert_array_equal(np.sort(share.all()), indices)
    if n >= 50:
        assert abs(len(share.vote) - vote * n) <= 1 and abs(len(share.test) - test * n) <= 1


@pytest.mark.parametrize(("vote", "test", "message"), [
    (0.0, 0.2, "vote_fraction=0.0"),
    (0.5, 0.5, "leave something to train on"),
    (0.2, 1.2, "test_fraction=1.2"),
])
def test_bad_fractions_are_echoed(vote, test, message):
    with pytest.raises(DataError, match=message):
        split_share(np.arange(10), vote, test, np.random.default_rng(0))


def test_bad_alpha_and_too_many_learners_are_refused():
    labels = _labels(30, 3, 0)
    with pytest.raises(DataError, match="alpha=-1"):
        partition_dirichlet(labels, 2, -1, np.random.default_rng(0))
    with pytest.raises(DataError, match="30 samples cannot give 20 learners"):
        partition_dirichlet(labels, 20, 1.0, np.random.default_rng(0))
    with pytest.raises(DataError, match="5 samples cannot be shared among 6"):
        partition_iid(5, 6, np.random.default_rng(0))

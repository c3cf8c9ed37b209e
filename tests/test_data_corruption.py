"""Bad-data learners: the train set is spoiled as asked, vote and test stay honest."""

from __future__ import annotations

import numpy as np
import pytest

from learnledger.data.api import LearnerData, Split
from learnledger.data.corruption import Corruption, corrupt_learner, corrupt_split
from learnledger.data.errors import DataError


def _split(n: int = 1000, n_classes: int = 10, seed: int = 0) -> Split:
    rng = np.random.default_rng(seed)
    return Split(x=rng.integers(1, 256, size=(n, 4, 4, 1), dtype=np.uint8),
                 y=rng.integers(0, n_classes, n))


def test_label_noise_changes_exactly_the_fraction_and_only_labels():
    split = _split()
    noisy = corrupt_split(split, Corruption("label_noise", 0.3), 10, np.random.default_rng(1))
    assert np.sum(noisy.y != split.y) == 300
    assert noisy.y.min() >= 0 and noisy.y.max() <= 9
    np.testing.assert_array_equal(noisy.x, split.x)


def test_shuffled_labels_keep_the_label_counts_but_break_the_pairing():
    split = _split()
    shuffled = corrupt_split(split, Corruption("shuffled_labels", 1.0), 10, np.random.default_rng(1))
    np.testing.assert_array_equal(np.bincount(shuffled.y), np.bincount(split.y))
    assert np.mean(shuffled.y == split.y) < 0.2  # chance agreement is ~0.1


def test_blank_images_zero_the_fraction_and_keep_labels():
    split = _split()
    blank = corrupt_split(split, Corruption("blank_images", 0.5), 10, np.random.default_rng(1))
    blanked = ~blank.x.reshape(len(split), -1).any(axis=1)
    assert blanked.sum() == 500
    np.testing.assert_array_equal(blank.y, split.y)
    assert split.x.all(), "the input split is never modified"


def test_only_the_train_set_is_spoiled_and_provenance_says_so():
    data = LearnerData(train=_split(seed=0), vote=_split(seed=1), test=_split(seed=2),
                       class_names=tuple("0123456789"), provenance={"source": "test"})
    spoiled = corrupt_learner(data, Corruption("label_noise", 1.0), np.random.default_rng(0))
    assert np.all(spoiled.train.y != data.train.y)
    assert spoiled.vote is data.vote and spoiled.test is data.test
    assert spoiled.provenance["corruption"] == {"kind": "label_noise", "fraction": 1.0,
                                                "applies_to": "train"}


def test_the_same_seed_spoils_the_same_samples():
    split = _split()
    a = corrupt_split(split, Corruption("label_noise", 0.2), 10, np.random.default_rng(5))
    b = corrupt_split(split, Corruption("label_noise", 0.2), 10, np.random.default_rng(5))
    np.testing.assert_array_equal(a.y, b.y)


def test_from_dict_defaults_and_errors():
    assert Corruption.from_dict(None) == Corruption()
    assert Corruption.from_dict({"kind": "blank_images"}) == Corruption("blank_images", 1.0)
    assert Corruption.from_dict({"kind": "label_noise", "fraction": 0.25}).fraction == 0.25
    with pytest.raises(DataError, match="kind='gaussian'"):
        Corruption.from_dict({"kind": "gaussian"})
    with pytest.raises(DataError, match="fraction=1.5"):
        Corruption.from_dict({"kind": "label_noise", "fraction": 1.5})
    with pytest.raises(DataError, match="unknown key.*fraktion"):
        Corruption.from_dict({"kind": "label_noise", "fraktion": 0.5})

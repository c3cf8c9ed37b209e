"""A Keras model's weights as bytes: stable names, identical bytes across processes, checked loads."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from learnledger.agents.weights import (
    load_weights_bytes,
    model_weights_bytes,
    named_weights,
    tensor_name,
    weights_expectation,
)
from learnledger.store.tensors import (
    MalformedWeights,
    WeightsError,
    WeightsMismatch,
    decode_tensors,
    encode_tensors,
    non_finite_tensors,
    sha256_digest,
)

MODEL_SOURCE = textwrap.dedent('''
    import keras

    def tiny_model(seed=0):
        keras.utils.set_random_seed(seed)
        inputs = keras.Input((6, 6, 1))
        x = keras.layers.Conv2D(2, 3)(inputs)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.Dropout(0.1)(x)
        x = keras.layers.Flatten()(x)
        return keras.Model(inputs, keras.layers.Dense(3)(x))
''')
namespace: dict = {}
exec(MODEL_SOURCE, namespace)
tiny_model = namespace["tiny_model"]


def test_names_are_positional_and_free_of_keras_auto_numbering():
    first, second = tiny_model(), tiny_model()  # the second gets conv2d_1, dense_1, ...
    assert [v.path for v in first.weights] != [v.path for v in second.weights]
    assert list(named_weights(first)) == list(named_weights(second))
    assert list(named_weights(first))[:3] == [
        "0000:conv2d/kernel", "0001:conv2d/bias", "0002:batch_normalization/gamma"]
    assert tensor_name(12, "sequential_3/head_1/kernel") == "0012:sequential/head/kernel"


def test_moving_statistics_are_included_and_seed_state_is_not():
    names = list(named_weights(tiny_model()))
    assert "0004:batch_normalization/moving_mean" in names
    assert len(names) == 8  # conv 2 + batchnorm 4 + dense 2; the dropout seed is not a weight


def test_same_seeded_model_gives_same_bytes_in_one_process():
    assert model_weights_bytes(tiny_model(3)) == model_weights_bytes(tiny_model(3))
    assert model_weights_bytes(tiny_model(3)) != model_weights_bytes(tiny_model(4))


@pytest.mark.slow
def test_same_seeded_model_gives_same_bytes_in_another_process():
    script = MODEL_SOURCE + textwrap.dedent('''
        import hashlib, sys
        from learnledger.agents.weights import model_weights_bytes
        sys.stdout.write(hashlib.sha256(model_weights_bytes(tiny_model(5))).hexdigest())
    ''')
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])  # shift this process's numbering
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=120, check=True)
    assert other.stdout.strip() == sha256_digest(model_weights_bytes(tiny_model(5))).hex()


def test_load_restores_every_weight_bit_exactly():
    source, target = tiny_model(1), tiny_model(2)
    data = model_weights_bytes(source)
    load_weights_bytes(target, data)
    for a, b in zip(source.weights, target.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    assert model_weights_bytes(target) == data
    x = np.random.default_rng(0).random((2, 6, 6, 1)).astype("float32")
    np.testing.assert_array_equal(source.predict(x, verbose=0), target.predict(x, verbose=0))


def test_expectation_matches_the_model():
    expectation = weights_expectation(tiny_model())
    assert expectation["0000:conv2d/kernel"] == ((3, 3, 1, 2), "float32")
    assert expectation["0007:dense/bias"] == ((3,), "float32")


def test_weights_of_another_architecture_are_refused_and_the_model_is_untouched():
    target = tiny_model(2)
    before = model_weights_bytes(target)
    wider = tiny_model(1)
    tensors = named_weights(wider)
    tensors["0006:dense/kernel"] = np.zeros((32, 4), np.float32)
    with pytest.raises(WeightsMismatch, match="'0006:dense/kernel' has shape \\(32, 4\\)"):
        load_weights_bytes(target, encode_tensors(tensors))
    renamed = {name.replace("dense", "head"): array for name, array in named_weights(wider).items()}
    with pytest.raises(WeightsMismatch, match="missing tensors '0006:dense/kernel'"):
        load_weights_bytes(target, encode_tensors(renamed))
    assert model_weights_bytes(target) == before


def test_truncated_and_flipped_bytes():
    target = tiny_model(2)
    data = model_weights_bytes(tiny_model(1))
    with pytest.raises(MalformedWeights, match="truncated"):
        load_weights_bytes(target, data[:-1])
    flipped = bytearray(data)
    flipped[-1] ^= 0xFF  # a flipped data byte still parses: only the digest can tell
    assert sha256_digest(bytes(flipped)) != sha256_digest(data)


def test_diverged_weights_load_and_are_reported_not_raised():
    source = tiny_model(1)
    source.weights[0].assign(np.full((3, 3, 1, 2), np.nan, np.float32))
    data = model_weights_bytes(source)
    assert non_finite_tensors(decode_tensors(data)) == ["0000:conv2d/kernel"]
    load_weights_bytes(tiny_model(2), data)


def test_an_unbuilt_model_is_refused_clearly():
    with pytest.raises(WeightsError, match="build it first"):
        model_weights_bytes(keras.Sequential([keras.layers.Dense(2)]))

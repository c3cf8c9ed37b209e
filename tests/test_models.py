"""Model specs (canonical JSON, digest, validation) and the models they build."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learnledger.agents.models import (
    ARCHITECTURES,
    METRICS,
    ModelSpec,
    SpecError,
    build_model,
)

MNIST = ModelSpec("mnist_cnn", (28, 28, 1), 10, seed=7, epochs=2, batch_size=16, learning_rate=0.002)


# ---------------------------------------------------------------- canonical JSON and digest


def test_canonical_json_is_compact_sorted_and_pinned() -> None:
    # This text is hashed on-chain: changing it orphans every deployed experiment, so it is pinned.
    assert MNIST.canonical_json() == (
        b'{"architecture":"mnist_cnn","batch_size":16,"epochs":2,'
        b'"format":"learnledger.model_spec/1","input_shape":[28,28,1],"learning_rate":0.002,'
        b'"metric":"accuracy","num_classes":10,"optimizer":"adam","seed":7}'
    )
    assert MNIST.digest() == hashlib.sha256(MNIST.canonical_json()).digest()


def test_digest_does_not_depend_on_how_the_spec_was_written() -> None:
    from_list = ModelSpec("mnist_cnn", [28, 28, 1], 10, 7, 2, 16, "adam", 0.002)  # type: ignore[arg-type]
    from_numpy = dataclasses.replace(MNIST, input_shape=tuple(np.array([28, 28, 1])))
    assert from_list.digest() == MNIST.digest() == from_numpy.digest()


@pytest.mark.parametrize(
    "change",
    [
        {"architecture": "mlp"},
        {"input_shape": (28, 28, 3)},
        {"num_classes": 9},
        {"seed": 8},
        {"epochs": 3},
        {"batch_size": 32},
        {"optimizer": "sgd"},
        {"learning_rate": 0.001},
        {"metric": "loss"},
    ],
)
def test_every_field_changes_the_digest(change: dict[str, object]) -> None:
    assert dataclasses.replace(MNIST, **change).digest() != MNIST.digest()


@settings(max_examples=50, deadline=None)
@given(
    architecture=st.sampled_from(["mlp", "mnist_cnn", "lartpc_cnn"]),
    shape=st.tuples(st.integers(1, 300), st.integers(1, 300), st.integers(1, 4)),
    classes=st.integers(2, 1000),
    seed=st.integers(0, 2**32 - 1),
    epochs=st.integers(1, 50),
    batch=st.integers(1, 4096),
    optimizer=st.sampled_from(["adam", "sgd", "rmsprop", "adamw"]),
    lr=st.floats(1e-6, 10.0),
    metric=st.sampled_from(sorted(METRICS)),
)
def test_json_round_trips(architecture, shape, classes, seed, epochs, batch, optimizer, lr, metric) -> None:
    spec = ModelSpec(architecture, shape, classes, seed, epochs, batch, optimizer, lr, metric)
    again = ModelSpec.from_json(spec.canonical_json())
    assert again == spec
    assert again.digest() == spec.digest()


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"architecture": "vgg16"}, "architecture='vgg16'"),
        ({"input_shape": (28, 28)}, "input_shape=[28, 28]"),
        ({"input_shape": (28, 0, 1)}, "input_shape=[28, 0, 1]"),
        ({"num_classes": 1}, "num_classes=1"),
        ({"epochs": 0}, "epochs=0"),
        ({"batch_size": 2.5}, "batch_size=2.5"),
        ({"seed": -1}, "seed=-1"),
        ({"optimizer": "lbfgs"}, "optimizer='lbfgs'"),
        ({"learning_rate": 0.0}, "learning_rate=0.0"),
        ({"learning_rate": float("nan")}, "learning_rate=nan"),
        ({"metric": "f1"}, "metric='f1'"),
        ({"architecture": "resnet50v2", "input_shape": (28, 28, 1)}, "at least 32x32"),
    ],
)
def test_bad_fields_are_refused_with_the_value(change: dict[str, object], named: str) -> None:
    with pytest.raises(SpecError, match=_literal(named)):
        dataclasses.replace(MNIST, **change)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (b"not json", "must be JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"format": "other/9"}', "format='other/9'"),
        (json.dumps({**MNIST.to_dict(), "dropout": 0.5}).encode(), "dropout"),
        (json.dumps({"architecture": "mlp"}).encode(), "incomplete"),
    ],
)
def test_bad_json_is_refused(text: bytes, named: str) -> None:
    with pytest.raises(SpecError, match=_literal(named)):
        ModelSpec.from_json(text)


def test_metric_direction() -> None:
    assert METRICS["accuracy"].is_better(0.9, 0.8) and not METRICS["accuracy"].is_better(0.8, 0.8)
    assert METRICS["loss"].is_better(0.1, 0.2) and not METRICS["loss"].is_better(0.2, 0.2)
    assert METRICS["loss"].worst > 10 and np.isfinite(METRICS["loss"].worst)


# ---------------------------------------------------------------- the models


def _weights(spec: ModelSpec) -> list[np.ndarray]:
    return [np.asarray(v) for v in build_model(spec).get_weights()]


def _fingerprint(spec: ModelSpec) -> str:
    digest = hashlib.sha256()
    for array in _weights(spec):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


@pytest.mark.parametrize(
    ("architecture", "shape", "classes"),
    [("mlp", (8, 8, 1), 4), ("mnist_cnn", (28, 28, 1), 10), ("lartpc_cnn", (200, 200, 3), 3)],
)
def test_small_architectures_take_uint8_images_and_output_probabilities(architecture, shape, classes) -> None:
    model = build_model(ModelSpec(architecture, shape, classes))
    images = np.random.default_rng(0).integers(0, 256, (5, *shape), dtype=np.uint8)
    probabilities = np.asarray(model.predict(images, verbose=0))
    assert probabilities.shape == (5, classes)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert model.optimizer.built  # the optimizer's slots exist before the first step


def test_two_builds_hold_identical_weights_and_names() -> None:
    first = build_model(MNIST)
    build_model(ModelSpec("mlp", (8, 8, 1), 3))  # a model between the two must change nothing
    second = build_model(MNIST)
    assert [v.path for v in first.weights] == [v.path for v in second.weights]
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_the_seed_sets_the_initial_weights() -> None:
    assert _fingerprint(MNIST) != _fingerprint(dataclasses.replace(MNIST, seed=8))
    # The training recipe does not touch the initial weights.
    assert _fingerprint(MNIST) == _fingerprint(dataclasses.replace(MNIST, epochs=5, learning_rate=0.1))


def test_building_leaves_the_process_random_streams_alone() -> None:
    import random

    random.seed(123)
    np.random.seed(123)
    expected = (random.random(), np.random.random())
    random.seed(123)
    np.random.seed(123)
    build_model(MNIST)
    assert (random.random(), np.random.random()) == expected


def test_every_layer_is_named_explicitly() -> None:
    for architecture, shape in (("mlp", (8, 8, 1)), ("mnist_cnn", (28, 28, 1)), ("lartpc_cnn", (64, 64, 3))):
        model = build_model(ModelSpec(architecture, shape, 3))
        paths = [v.path for v in model.weights]
        assert not any(part[-1].isdigit() and "_" in part for p in paths for part in p.split("/")[:-1]), paths


@pytest.mark.slow
def test_another_process_builds_the_same_initial_weights() -> None:
    program = (
        "from learnledger.agents.models import ModelSpec; import sys; sys.path.insert(0, 'tests');"
        "from test_models import _fingerprint;"
        f"print(_fingerprint(ModelSpec.from_json({MNIST.canonical_json()!r})))"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == _fingerprint(MNIST)


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ["resnet50v2", "densenet169"])
def test_the_papers_networks_build_on_lartpc_events(architecture: str) -> None:
    spec = ModelSpec(architecture, (200, 200, 3), 3)
    model = build_model(spec)
    assert model.output_shape == (None, 3)
    assert model.input.dtype == "uint8"
    assert model.layers[1].name == "rescale"
    assert model.count_params() > 10_000_000  # the full networks, not a stand-in


def test_architectures_list_matches_the_builders() -> None:
    from learnledger.agents import models

    assert set(ARCHITECTURES) == set(models._BUILDERS)


def _literal(text: str) -> str:
    import re

    return re.escape(text)


@pytest.mark.slow
def test_the_papers_networks_settle_batch_norm_within_a_proposal() -> None:
    import keras

    model = build_model(ModelSpec("resnet50v2", (64, 64, 3), 3))
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(layer.momentum == 0.9 for layer in norms)

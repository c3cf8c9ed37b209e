"""A Keras model's weights as deterministic safetensors bytes, and back, checked before loading.

Tensor names must be the same for the same architecture in every process, or two groups could
not exchange weights. Keras 3 variable paths are not: layers and models are auto-numbered
(``dense``, ``dense_1``, ``sequential_3/...``) by how many were built before in the process. So
each tensor is named by its position in ``model.weights`` (an order fixed by the architecture) with
the path, minus Keras' numeric suffixes, for humans and for catching a mismatched architecture:
``"0000:conv2d/kernel"``, ``"0001:conv2d/bias"``, ``"0002:batch_normalization/gamma"``...

``model.weights`` holds trainable and non-trainable weights (BatchNorm's moving statistics) and
excludes optimizer and random-seed state, which are not part of the shared model.
"""

from __future__ import annotations

import re

import keras
import numpy as np

from learnledger.store.tensors import (
    Expectation,
    WeightsError,
    decode_tensors,
    encode_tensors,
)

_AUTO_SUFFIX = re.compile(r"_\d+$")


def tensor_name(index: int, path: str) -> str:
    """The stable name of the ``index``-th weight whose Keras path is ``path``.

    >>> tensor_name(3, "sequential_2/dense_7/kernel")
    '0003:sequential/dense/kernel'
    """
    stable_path = "/".join(_AUTO_SUFFIX.sub("", part) for part in path.split("/"))
    return f"{index:04d}:{stable_path}"


def named_weights(model: keras.Model) -> dict[str, np.ndarray]:
    """The model's weights as numpy arrays under stable names, in ``model.weights`` order."""
    _require_built(model)
    return {
        tensor_name(index, variable.path): keras.ops.convert_to_numpy(variable.value)
        for index, variable in enumerate(model.weights)
    }


def weights_expectation(model: keras.Model) -> Expectation:
    """What weights for this model must hold: stable name -> (shape, dtype name)."""
    _require_built(model)
    return {
        tensor_name(index, variable.path): (tuple(variable.shape), str(variable.dtype))
        for index, variable in enumerate(model.weights)
    }


def model_weights_bytes(model: keras.Model) -> bytes:
    """The model's weights as deterministic safetensors bytes (same weights, same bytes)."""
    return encode_tensors(named_weights(model))


def load_weights_bytes(model: keras.Model, data: bytes) -> None:
    """Load safetensors ``data`` into ``model``, after checking every name, shape and dtype.

    The model is untouched unless every tensor fits. NaN/Inf weights load as they are: whether
    to accept them is the caller's decision (see ``learnledger.store.tensors.non_finite_tensors``).

    Raises:
        WeightsError: malformed bytes, or tensors that do not fit this model (the message lists
            every difference).
    """
    arrays = decode_tensors(data, expected=weights_expectation(model))
    for index, variable in enumerate(model.weights):
        variable.assign(arrays[tensor_name(index, variable.path)])


def _require_built(model: keras.Model) -> None:
    if not model.built or not model.weights:
        raise WeightsError(
            f"model {model.name!r} has no weights yet: build it first (give it an Input, or call "
            "model.build(input_shape)) so its weights exist before they are saved or loaded")

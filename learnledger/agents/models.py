"""Model specifications and the Keras models they build.

A ``ModelSpec`` says everything a learner needs to rebuild the shared model and train it the way
every other learner does: the architecture, its input and output, the seed of the initial weights and
the training recipe. Its canonical JSON is stored next to the weights and its sha256 digest goes
on-chain, so any agent can rebuild the model from the chain and the store alone.

Models are written against ``keras.*`` only, so they run on the TensorFlow, JAX or PyTorch backend.
Keras itself is imported lazily: reading an experiment file or a spec does not start a backend.
Every layer gets an explicit name, so variable paths (and with them the tensor names of the
safetensors weights) do not depend on how many models were built before in the same process.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras

SPEC_FORMAT = "learnledger.model_spec/1"
"""Tag inside the canonical JSON, so a later format can never be mistaken for this one."""


@dataclass(frozen=True)
class Metric:
    """How a learner judges weights: the metric's name, its direction and its worst value.

    The worst value is what unusable weights (NaN or infinite tensors or outputs) score, so they
    are never approved and the score stays a finite number the contract can record.
    """

    name: str
    higher_is_better: bool
    worst: float

    def is_better(self, candidate: float, current: float) -> bool:
        """Strictly better in this metric's direction."""
        return candidate > current if self.higher_is_better else candidate < current


PROBABILITY_FLOOR = 1e-7
"""Predicted probabilities are clipped here before the log, which bounds the cross-entropy loss."""

METRICS: dict[str, Metric] = {
    "accuracy": Metric("accuracy", higher_is_better=True, worst=0.0),
    "loss": Metric("loss", higher_is_better=False, worst=float(-np.log(PROBABILITY_FLOOR))),
}
"""The metrics a learner can vote on; ``loss`` is the sparse categorical cross-entropy."""

OPTIMIZERS = ("adam", "sgd", "rmsprop", "adamw")
ARCHITECTURES = ("mlp", "mnist_cnn", "lartpc_cnn", "resnet50v2", "densenet169")


class SpecError(ValueError):
    """A model spec that cannot describe a model; the message names the field and the bad value."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field
        """The spec field at fault ("" when the spec as a whole is)."""


@dataclass(frozen=True)
class ModelSpec:
    """The shared model and how every learner trains it.

    Args:
        architecture: one of ``ARCHITECTURES``.
        input_shape: image shape, channels last, e.g. ``(28, 28, 1)``.
        num_classes: number of output classes (softmax outputs).
        seed: seed of the initial weights (and, with the group and round, of each proposal's shuffle).
        epochs: epochs over the learner's train set per proposal (default 1).
        batch_size: examples per gradient step (default 32).
        optimizer: one of ``OPTIMIZERS`` (default ``"adam"``).
        learning_rate: the optimizer's learning rate (default 0.001).
        metric: the score learners vote on, a key of ``METRICS`` (default ``"accuracy"``).
    """

    architecture: str
    input_shape: tuple[int, ...]
    num_classes: int
    seed: int = 0
    epochs: int = 1
    batch_size: int = 32
    optimizer: str = "adam"
    learning_rate: float = 0.001
    metric: str = "accuracy"

    def __post_init__(self) -> None:
        if not isinstance(self.input_shape, (list, tuple)):
            raise SpecError(
                f"input_shape must be three positive integers (height, width, channels), "
                f"received: input_shape={self.input_shape!r}",
                field="input_shape",
            )
        object.__setattr__(self, "input_shape", tuple(self.input_shape))
        if self.architecture not in ARCHITECTURES:
            raise SpecError(
                f"unknown architecture: architecture={self.architecture!r}; "
                f"choose one of {', '.join(ARCHITECTURES)}",
                field="architecture",
            )
        if len(self.input_shape) != 3 or not all(_is_int(d) and d > 0 for d in self.input_shape):
            raise SpecError(
                f"input_shape must be three positive integers (height, width, channels), "
                f"received: input_shape={list(self.input_shape)!r}",
                field="input_shape",
            )
        object.__setattr__(self, "input_shape", tuple(int(d) for d in self.input_shape))
        _require_positive_int("num_classes", self.num_classes, minimum=2)
        _require_positive_int("epochs", self.epochs)
        _require_positive_int("batch_size", self.batch_size)
        if not _is_int(self.seed) or not 0 <= self.seed < 2**32:
            raise SpecError(f"seed must be an integer in [0, 2**32), received: seed={self.seed!r}", "seed")
        if self.optimizer not in OPTIMIZERS:
            raise SpecError(
                f"unknown optimizer: optimizer={self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}",
                field="optimizer",
            )
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < float("inf"):
            raise SpecError(
                f"learning_rate must be a positive number, received: learning_rate={lr!r}",
                field="learning_rate",
            )
        object.__setattr__(self, "learning_rate", float(lr))
        if self.metric not in METRICS:
            raise SpecError(
                f"unknown metric: metric={self.metric!r}; choose one of {', '.join(METRICS)}",
                field="metric",
            )
        if self.architecture in ("resnet50v2", "densenet169") and min(self.input_shape[:2]) < 32:
            raise SpecError(
                f"{self.architecture} needs images of at least 32x32, "
                f"received: input_shape={list(self.input_shape)!r}",
                field="input_shape",
            )

    @property
    def scoring(self) -> Metric:
        """The metric learners vote on, with its direction and worst value."""
        return METRICS[self.metric]

    def to_dict(self) -> dict[str, Any]:
        fields = asdict(self)
        fields["input_shape"] = list(self.input_shape)
        return {"format": SPEC_FORMAT, **fields}

    def canonical_json(self) -> bytes:
        """The spec as compact JSON with sorted keys: the same spec always gives the same bytes."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()

    def digest(self) -> bytes:
        """sha256 of ``canonical_json()``: the spec's identity on-chain."""
        return hashlib.sha256(self.canonical_json()).digest()

    @classmethod
    def from_dict(cls, fields: Mapping[str, Any]) -> ModelSpec:
        """Rebuild a spec from ``to_dict()`` output (the ``format`` tag, if present, must match)."""
        fields = dict(fields)
        tag = fields.pop("format", SPEC_FORMAT)
        if tag != SPEC_FORMAT:
            raise SpecError(f"unsupported model spec format: format={tag!r}; expected {SPEC_FORMAT!r}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(fields) - known)
        if unknown:
            raise SpecError(f"unknown model spec field(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        try:
            return cls(**fields)
        except TypeError as error:  # a required field is missing
            raise SpecError(f"incomplete model spec: {error}") from None

    @classmethod
    def from_json(cls, data: bytes | str) -> ModelSpec:
        """Rebuild a spec from its canonical JSON (as stored next to the weights)."""
        try:
            fields = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise SpecError(f"a model spec must be JSON: {error}") from None
        if not isinstance(fields, dict):
            raise SpecError(f"a model spec must be a JSON object, received: {fields!r:.80}")
        return cls.from_dict(fields)


def build_model(spec: ModelSpec) -> keras.Model:
    """The spec's model, compiled, with initial weights that depend on ``spec.seed`` alone.

    Two builds of one spec, in one process or in two, hold identical weights.
    """
    import keras

    with _seeded(spec.seed):
        model = _BUILDERS[spec.architecture](spec)
    model.compile(
        optimizer=_optimizer(spec),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    # Create the optimizer's slots now, so a learner can snapshot and restore its fresh state.
    model.optimizer.build(model.trainable_variables)
    return model


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed Keras (its unseeded initializers draw from Python's ``random``) without leaving the
    process's Python and NumPy random streams changed."""
    import keras

    python_state, numpy_state = random.getstate(), np.random.get_state()
    keras.utils.set_random_seed(seed)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def _optimizer(spec: ModelSpec) -> keras.optimizers.Optimizer:
    import keras

    make = {
        "adam": keras.optimizers.Adam,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
        "adamw": keras.optimizers.AdamW,
    }[spec.optimizer]
    return make(learning_rate=spec.learning_rate)


def _inputs(spec: ModelSpec) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """uint8 images in, scaled to [0, 1] by the model itself (see ``learnledger.data.api.Split``)."""
    import keras

    images = keras.Input(shape=spec.input_shape, dtype="uint8", name="images")
    return images, keras.layers.Rescaling(1.0 / 255, name="rescale")(images)


def _classifier(x: keras.KerasTensor, spec: ModelSpec) -> keras.KerasTensor:
    import keras

    return keras.layers.Dense(spec.num_classes, activation="softmax", name="classes")(x)


def _mlp(spec: ModelSpec) -> keras.Model:
    """Two dense layers: small and fast, for tests and model competitions."""
    import keras
    from keras import layers

    images, x = _inputs(spec)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", name="hidden")(x)
    return keras.Model(images, _classifier(x, spec), name="mlp")


def _mnist_cnn(spec: ModelSpec) -> keras.Model:
    """Colearn's Keras MNIST network (two conv blocks, then the classifier), narrowed for a CPU.

    Without Colearn's batch normalization: a proposal is a few dozen steps on a few hundred digits,
    too few for the moving averages to settle, and the evaluated model then lags the trained one.
    """
    import keras
    from keras import layers

    images, x = _inputs(spec)
    for block, filters in enumerate((32, 64), start=1):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{block}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{block}")(x)
    x = layers.Flatten(name="flatten")(x)
    return keras.Model(images, _classifier(x, spec), name="mnist_cnn")


def _lartpc_cnn(spec: ModelSpec) -> keras.Model:
    """Four strided conv blocks and a global average: a wire-plane classifier that trains on a CPU.

    Stride 2 from the first layer shrinks a 200x200 event to 13x13 in four steps, so an epoch over
    a few hundred events takes seconds, not minutes. Group normalization, not batch normalization:
    it has no moving statistics, so the model the voters evaluate is the one the proposer trained
    (batch norm's averages do not settle in one proposal's few dozen steps, and the evaluated
    model then predicts one class for every event).
    """
    import keras
    from keras import layers

    images, x = _inputs(spec)
    for block, (filters, kernel) in enumerate(((16, 5), (32, 3), (64, 3), (64, 3)), start=1):
        x = layers.Conv2D(
            filters, kernel, strides=2, padding="same", use_bias=False, name=f"conv{block}"
        )(x)
        x = layers.GroupNormalization(groups=8, name=f"norm{block}")(x)
        x = layers.Activation("relu", name=f"relu{block}")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dense(64, activation="relu", name="hidden")(x)
    return keras.Model(images, _classifier(x, spec), name="lartpc_cnn")


APPLICATION_BN_MOMENTUM = 0.9
"""Batch-norm momentum of the paper's networks (Keras: 0.99). A proposal is tens of steps; at 0.99
the moving statistics the voters evaluate with would still be mostly their initial values."""


def _application(
    name: str, make: Callable[..., keras.Model]
) -> Callable[[ModelSpec], keras.Model]:
    """A ``keras.applications`` network (the paper's models), untrained, on our rescaled input.

    ``input_tensor`` makes the rescaling layer part of one flat model, whose layers the
    application already names explicitly.
    """

    def build(spec: ModelSpec) -> keras.Model:
        import keras

        images, x = _inputs(spec)
        network = make(
            weights=None,
            include_top=True,
            input_tensor=x,
            classes=spec.num_classes,
            classifier_activation="softmax",
        )
        for layer in network.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = APPLICATION_BN_MOMENTUM
        return keras.Model(images, network.output, name=name)

    return build


def _resnet50v2(spec: ModelSpec) -> keras.Model:
    import keras

    return _application("resnet50v2", keras.applications.ResNet50V2)(spec)


def _densenet169(spec: ModelSpec) -> keras.Model:
    import keras

    return _application("densenet169", keras.applications.DenseNet169)(spec)


_BUILDERS: dict[str, Callable[[ModelSpec], keras.Model]] = {
    "mlp": _mlp,
    "mnist_cnn": _mnist_cnn,
    "lartpc_cnn": _lartpc_cnn,
    "resnet50v2": _resnet50v2,
    "densenet169": _densenet169,
}


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _require_positive_int(name: str, value: object, minimum: int = 1) -> None:
    if not _is_int(value) or value < minimum:  # type: ignore[operator]
        raise SpecError(f"{name} must be an integer >= {minimum}, received: {name}={value!r}", name)

"""Experiment files: one TOML file says who takes part, on what data, with which model, for how long.

::

    [experiment]             # name, rounds, seed, threshold_bps, proposal_window, vote_window,
    name = "mnist"           # reveal_window (0: open votes), keras_backend (optional)
    rounds = 20
    [data]                   # read by learnledger.data.config.DataConfig
    source = "mnist"
    [model]                  # architecture, input_shape, num_classes, seed (default: the experiment's)
    architecture = "mnist_cnn"
    input_shape = [28, 28, 1]
    num_classes = 10
    [training]               # epochs, batch_size, optimizer, learning_rate, metric
    epochs = 1
    [[learners]]             # one table per research group
    group = "cern"
    corruption = "none"      # none | label_noise | shuffled_labels | blank_images
    fraction = 0.0           # the share of its train set spoiled (default 1.0 for a corruption)

Every error names the file, the key and the bad value, and nothing is half-read: ``load`` either
returns a whole ``Experiment`` or raises ``ExperimentError``. Reading a file does not import Keras,
so the backend can still be chosen afterwards (``learnledger.agents.backend``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from learnledger.agents.models import ModelSpec, SpecError
from learnledger.data.config import DataConfig
from learnledger.data.corruption import Corruption
from learnledger.data.errors import DataError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEFAULT_EXPERIMENT = EXAMPLES / "mnist.toml"
"""The paper's MNIST setup: what ``learnledger run`` runs when given no file."""

MAX_THRESHOLD_BPS = 10_000
_MODEL_KEYS = {"architecture", "input_shape", "num_classes", "seed"}
_TRAINING_KEYS = {"epochs", "batch_size", "optimizer", "learning_rate", "metric"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ExperimentError(ValueError):
    """An experiment file that cannot be run; the message names the file, the key and the value."""


@dataclass(frozen=True)
class LearnerSpec:
    """One research group of the experiment and, for the bad-learner studies, how its data is spoiled."""

    group: str
    corruption: Corruption = Corruption()


@dataclass(frozen=True)
class Experiment:
    """A parsed experiment file.

    Attributes:
        name: the experiment's name (also the default run folder, so a safe file name).
        rounds: rounds to run (the contract's maximum).
        seed: seed of the data shares and, unless ``[model] seed`` says otherwise, of the model.
        threshold_bps: approvals needed, in basis points of the voters (5000: a majority).
        proposal_window: seconds the proposer has to propose.
        vote_window: seconds the voters have to vote (with sealed votes: to commit).
        reveal_window: seconds the voters have to reveal after the vote window; 0 (the default)
            means open votes, anything more seals them (commit, then reveal).
        keras_backend: "tensorflow", "jax", "torch", or None (KERAS_BACKEND or TensorFlow).
        data: where the data comes from and how it is shared (``learnledger.data.config``).
        spec: the shared model and how it is trained.
        learners: the research groups, in roster order.
        path: the file it was read from (None if built from a string).
    """

    name: str
    rounds: int
    seed: int
    threshold_bps: int
    proposal_window: int
    vote_window: int
    keras_backend: str | None
    data: DataConfig
    spec: ModelSpec
    learners: tuple[LearnerSpec, ...]
    path: Path | None = None
    reveal_window: int = 0

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(learner.group for learner in self.learners)

    @classmethod
    def load(cls, path: str | Path) -> Experiment:
        """Read and check an experiment file."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ExperimentError(f"{path}: no such experiment file; see examples/ for some") from None
        except (OSError, UnicodeDecodeError) as error:
            raise ExperimentError(f"{path}: cannot read the experiment file: {error}") from None
        return cls.loads(text, source=path)

    @classmethod
    def loads(cls, text: str, source: str | Path = "<experiment>") -> Experiment:
        """Parse and check experiment TOML; ``source`` names it in errors."""
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ExperimentError(f"{source}: not valid TOML: {error}") from None
        return cls.from_dict(document, source)

    @classmethod
    def from_dict(cls, document: Mapping[str, Any], source: str | Path = "<experiment>") -> Experiment:
        """Check a parsed experiment document (the TOML as nested dicts)."""
        where = _Where(str(source))
        where.only(document, "", {"experiment", "data", "model", "training", "learners"})
        head = where.table(document, "experiment", required=True)
        where.only(head, "[experiment]", {"name", "rounds", "seed", "threshold_bps",
                                          "proposal_window", "vote_window", "reveal_window",
                                          "keras_backend"})
        name = where.string(head, "[experiment]", "name", pattern=_NAME,
                            hint="letters, digits, '.', '_' or '-' (it names the run folder)")
        seed = where.integer(head, "[experiment]", "seed", default=0, minimum=0, maximum=2**32 - 1)
        backend = head.get("keras_backend")
        if backend is not None:
            from learnledger.agents.backend import KERAS_BACKENDS

            if backend not in KERAS_BACKENDS:
                where.fail("[experiment]", "keras_backend", backend, f"choose one of {', '.join(KERAS_BACKENDS)}")
        return cls(
            name=name,
            rounds=where.integer(head, "[experiment]", "rounds", minimum=1),
            seed=seed,
            threshold_bps=where.integer(head, "[experiment]", "threshold_bps", default=5000,
                                        minimum=1, maximum=MAX_THRESHOLD_BPS),
            proposal_window=where.integer(head, "[experiment]", "proposal_window", default=3600, minimum=1),
            vote_window=where.integer(head, "[experiment]", "vote_window", default=3600, minimum=1),
            reveal_window=where.integer(head, "[experiment]", "reveal_window", default=0, minimum=0,
                                        maximum=2**32 - 1),
            keras_backend=backend,
            data=_data(where, document),
            spec=_spec(where, document, seed),
            learners=_learners(where, document),
            path=Path(source) if isinstance(source, Path) else None,
        )

    @classmethod
    def default(cls) -> Experiment:
        """The paper's MNIST experiment (examples/mnist.toml)."""
        return cls.load(DEFAULT_EXPERIMENT)


def _data(where: _Where, document: Mapping[str, Any]) -> DataConfig:
    table = where.table(document, "data", required=True)
    try:
        return DataConfig.from_dict(table)
    except (DataError, ValueError, TypeError) as error:
        raise ExperimentError(f"{where.source}: [data]: {error}") from None


def _spec(where: _Where, document: Mapping[str, Any], seed: int) -> ModelSpec:
    model = where.table(document, "model", required=True)
    training = where.table(document, "training", required=False)
    where.only(model, "[model]", _MODEL_KEYS)
    where.only(training, "[training]", _TRAINING_KEYS)
    for key in ("architecture", "input_shape", "num_classes"):
        if key not in model:
            where.fail("[model]", key, None, "it is required")
    fields = {**model, **training}
    fields.setdefault("seed", seed)
    try:
        return ModelSpec(**fields)
    except SpecError as error:
        section = "[model]" if error.field in _MODEL_KEYS else "[training]"
        raise ExperimentError(f"{where.source}: {section}: {error}") from None


def _learners(where: _Where, document: Mapping[str, Any]) -> tuple[LearnerSpec, ...]:
    tables = document.get("learners")
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        where.fail("", "learners", tables, "give one [[learners]] table per research group")
    if len(tables) < 2:
        where.fail("", "learners", f"{len(tables)} table(s)",
                   "an experiment needs at least two learners: one proposes, the others vote")
    learners, seen = [], set()
    for index, table in enumerate(tables):
        section = f"[[learners]] #{index + 1}"
        where.only(table, section, {"group", "corruption", "fraction"})
        group = where.string(table, section, "group", pattern=re.compile(r"^\S(.{0,30}\S)?$"),
                             hint="a non-empty name of at most 32 characters, not padded with spaces")
        if len(group.encode("utf-8")) > 32:
            where.fail(section, "group", group, "a group name is at most 32 bytes of UTF-8 (the contract keeps "
                       "it in one word); choose a shorter name")
        if group in seen:
            where.fail(section, "group", group, "every learner needs its own group name")
        seen.add(group)
        kind = table.get("corruption", "none")
        if not isinstance(kind, str):
            where.fail(section, "corruption", kind, "give the kind as a string, e.g. \"shuffled_labels\"")
        corruption_table: dict[str, Any] = {"kind": kind}
        if "fraction" in table:
            corruption_table["fraction"] = table["fraction"]
        try:
            corruption = Corruption.from_dict(corruption_table)
        except DataError as error:
            raise ExperimentError(f"{where.source}: {section} (group {group!r}): {error}") from None
        learners.append(LearnerSpec(group=group, corruption=corruption))
    return tuple(learners)


@dataclass(frozen=True)
class _Where:
    """Reads typed values out of a document, failing with the file, the key and the value."""

    source: str

    def fail(self, section: str, key: str, value: object, hint: str) -> Any:
        place = f"{section} {key}".strip()
        shown = "" if value is None else f"={value!r}"
        raise ExperimentError(f"{self.source}: {place}{shown}: {hint}")

    def only(self, table: Mapping[str, Any], section: str, known: set[str]) -> None:
        unknown = sorted(set(table) - known)
        if unknown:
            self.fail(section, unknown[0], None,
                      f"unknown key; the keys here are {', '.join(sorted(known))}")

    def table(self, document: Mapping[str, Any], name: str, required: bool) -> Mapping[str, Any]:
        table = document.get(name)
        if table is None and not required:
            return {}
        if not isinstance(table, dict):
            self.fail("", f"[{name}]", table, f"the file needs a [{name}] table")
        return table

    def integer(self, table: Mapping[str, Any], section: str, key: str, *, default: int | None = None,
                minimum: int | None = None, maximum: int | None = None) -> int:
        if key not in table:
            if default is None:
                self.fail(section, key, None, "it is required")
            return default  # type: ignore[return-value]
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(section, key, value, "give a whole number")
        if minimum is not None and value < minimum or maximum is not None and value > maximum:
            bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            self.fail(section, key, value, f"it must be {bounds}")
        return value

    def string(self, table: Mapping[str, Any], section: str, key: str, *, pattern: re.Pattern[str],
               hint: str) -> str:
        if key not in table:
            self.fail(section, key, None, "it is required")
        value = table[key]
        if not isinstance(value, str) or not pattern.match(value):
            self.fail(section, key, value, hint)
        return value

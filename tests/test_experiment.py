"""Experiment files: every example parses, and every bad value is named with its file and key."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from learnledger.agents.backend import BackendError, select_backend
from learnledger.agents.experiment import DEFAULT_EXPERIMENT, EXAMPLES, Experiment, ExperimentError

GOOD = """
[experiment]
name = "tiny"
rounds = 3
seed = 5

[data]
source = "mnist"

[model]
architecture = "mlp"
input_shape = [28, 28, 1]
num_classes = 10

[training]
epochs = 2
learning_rate = 0.01

[[learners]]
group = "cern"

[[learners]]
group = "fnal"
corruption = "shuffled_labels"
"""


def test_a_good_file_gives_every_field(tmp_path: Path) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(GOOD)
    experiment = Experiment.load(path)
    assert (experiment.name, experiment.rounds, experiment.seed) == ("tiny", 3, 5)
    assert (experiment.threshold_bps, experiment.proposal_window, experiment.vote_window) == (5000, 3600, 3600)
    assert experiment.keras_backend is None
    assert experiment.data.source == "mnist"
    assert experiment.spec.architecture == "mlp" and experiment.spec.input_shape == (28, 28, 1)
    assert experiment.spec.seed == 5  # the model seed defaults to the experiment's
    assert (experiment.spec.epochs, experiment.spec.learning_rate, experiment.spec.batch_size) == (2, 0.01, 32)
    assert experiment.groups == ("cern", "fnal")
    assert experiment.learners[0].corruption.is_honest
    bad = experiment.learners[1].corruption
    assert (bad.kind, bad.fraction) == ("shuffled_labels", 1.0)  # a kind alone spoils the whole train set
    assert experiment.path == path


def test_reading_a_file_does_not_start_keras() -> None:
    program = (
        "import sys; from learnledger.agents.experiment import Experiment;"
        f"Experiment.load({str(DEFAULT_EXPERIMENT)!r}); print('keras' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"


# ---------------------------------------------------------------- the examples


EXPECTED_EXAMPLES = {
    "mnist": (5, 20, "mnist_cnn", "mnist"),
    "lartpc": (3, 15, "lartpc_cnn", "lartpc"),
    "lartpc_resnet": (3, 15, "resnet50v2", "lartpc"),
    "lartpc_densenet": (3, 15, "densenet169", "lartpc"),
    "bad_learner": (5, 20, "mnist_cnn", "mnist"),
    "dune_cvn": (3, 15, "lartpc_cnn", "dune_cvn"),
    "lartpc_dune": (3, 15, "lartpc_cnn", "lartpc"),
    "lartpc_dune_bad": (3, 15, "lartpc_cnn", "lartpc"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_EXAMPLES))
def test_every_example_parses(name: str) -> None:
    learners, rounds, architecture, source = EXPECTED_EXAMPLES[name]
    experiment = Experiment.load(EXAMPLES / f"{name}.toml")
    assert experiment.name == name
    assert (len(experiment.learners), experiment.rounds) == (learners, rounds)
    assert (experiment.spec.architecture, experiment.data.source) == (architecture, source)
    honest = [learner.corruption.is_honest for learner in experiment.learners]
    assert honest.count(False) == (1 if name in ("bad_learner", "lartpc_dune_bad") else 0)


def test_the_default_experiment_is_the_mnist_example() -> None:
    default = Experiment.default()
    assert default.path == DEFAULT_EXPERIMENT and default.name == "mnist"
    assert default.spec.input_shape == (28, 28, 1) and default.spec.num_classes == 10


def test_neutrino_examples_classify_three_wire_planes() -> None:
    for name in ("lartpc", "lartpc_resnet", "lartpc_densenet", "dune_cvn", "lartpc_dune", "lartpc_dune_bad"):
        spec = Experiment.load(EXAMPLES / f"{name}.toml").spec
        assert (spec.input_shape, spec.num_classes) == ((200, 200, 3), 3), name


# ---------------------------------------------------------------- refusals


def _edit(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = [", "not valid TOML"),
        (_edit("rounds = 3", "rounds = 0"), "[experiment] rounds=0: it must be at least 1"),
        (_edit("rounds = 3", "rounds = 2.5"), "[experiment] rounds=2.5: give a whole number"),
        (_edit("rounds = 3\n", ""), "[experiment] rounds: it is required"),
        (_edit("seed = 5", "seed = -2"), "[experiment] seed=-2"),
        (_edit('name = "tiny"', 'name = "my run/1"'), "[experiment] name='my run/1'"),
        (_edit("seed = 5", "seed = 5\nthreshold_bps = 10001"), "threshold_bps=10001"),
        (_edit("seed = 5", "seed = 5\nvote_window = true"), "vote_window=True: give a whole number"),
        (_edit("seed = 5", 'seed = 5\nkeras_backend = "mxnet"'), "keras_backend='mxnet'"),
        (_edit("seed = 5", "seed = 5\nrouns = 4"), "[experiment] rouns: unknown key"),
        (_edit('source = "mnist"', 'source = "cifar"'), "[data]: unknown data source='cifar'"),
        (_edit('architecture = "mlp"', 'architecture = "vgg"'), "[model]: unknown architecture: architecture='vgg'"),
        (_edit("input_shape = [28, 28, 1]", "input_shape = 28"), "[model]: input_shape must be"),
        (_edit("num_classes = 10\n", ""), "[model] num_classes: it is required"),
        (_edit("num_classes = 10", "num_classes = 10\ndropout = 0.5"), "[model] dropout: unknown key"),
        (_edit("learning_rate = 0.01", "learning_rate = -1"), "[training]: learning_rate must be a positive"),
        (_edit("epochs = 2", 'epochs = 2\noptimizer = "lbfgs"'), "[training]: unknown optimizer: optimizer='lbfgs'"),
        (_edit("epochs = 2", "epochs = 0"), "[training]: epochs must be an integer >= 1, received: epochs=0"),
        (_edit('group = "fnal"', 'group = "cern"'), "[[learners]] #2 group='cern': every learner needs its own"),
        (_edit('group = "fnal"', 'group = ""'), "[[learners]] #2 group=''"),
        (_edit('group = "fnal"', 'group = "' + "f" * 33 + '"'), "at most 32 characters"),
        (_edit('group = "fnal"', 'group = "' + "\u00e9" * 17 + '"'), "at most 32 bytes of UTF-8"),
        (_edit('corruption = "shuffled_labels"', 'corruption = "evil"'), "[[learners]] #2 (group 'fnal'): unknown corruption kind='evil'"),
        (_edit('corruption = "shuffled_labels"', 'corruption = "label_noise"\nfraction = 1.5'), "fraction=1.5"),
        (_edit('corruption = "shuffled_labels"', 'corruption = "label_noise"\nnoise = 0.5'), "[[learners]] #2 noise: unknown key"),
        (GOOD.split("[[learners]]")[0] + '[[learners]]\ngroup = "cern"\n', "at least two learners"),
        (GOOD.split("[[learners]]")[0], "learners: give one [[learners]] table per research group"),
        ("[experiment]\nname = 'x'\nrounds = 1\n", "the file needs a [data] table"),
        (GOOD + "\n[extra]\n", "extra: unknown key"),
    ],
)
def test_bad_values_are_named_with_file_and_key(text: str, message: str) -> None:
    with pytest.raises(ExperimentError, match=re.escape(message)) as error:
        Experiment.loads(text, source="bad.toml")
    assert str(error.value).startswith("bad.toml: ")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ExperimentError, match=re.escape(f"{tmp_path / 'nope.toml'}: no such experiment file")):
        Experiment.load(tmp_path / "nope.toml")


# ---------------------------------------------------------------- the backend


def test_backend_choice_refuses_a_switch_once_keras_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    import keras

    running = keras.backend.backend()
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    assert select_backend(running) == running
    other = "jax" if running != "jax" else "torch"
    with pytest.raises(BackendError, match=f"cannot switch to '{other}'.*KERAS_BACKEND={other}"):
        select_backend(other)
    with pytest.raises(BackendError, match="unknown Keras backend keras_backend='theano'"):
        select_backend("theano")
    monkeypatch.setenv("KERAS_BACKEND", running)
    assert select_backend(other) == running  # the site's environment wins over the file


def test_backend_is_set_before_keras_starts() -> None:
    program = (
        "import os, sys; os.environ.pop('KERAS_BACKEND', None);"
        "from learnledger.agents.backend import select_backend;"
        "print(select_backend('tensorflow'), os.environ['KERAS_BACKEND'], 'keras' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["tensorflow", "tensorflow", "False"]

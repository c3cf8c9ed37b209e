"""Groups on different Keras backends share one experiment: checked between TensorFlow (this process)
and JAX (a subprocess, on this CPU; the same code runs JAX on a GPU, docs/gpu.md).

What the protocol needs: weights keep their safetensors bytes through any backend (a voter on JAX
loads a proposer's bytes, and hands on, the same bytes), the same weights predict the same on both,
and a proposal trained on one backend is scored on the other. The JAX learner also exercises the
GPU backends' way of feeding a proposal's batches (each gathered while the step before it runs).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from learnledger.agents.learner import Learner, initial_weights
from learnledger.agents.models import ModelSpec
from learnledger.data.api import LearnerData, Split

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None,
    reason="jax is not installed (scripts/setup.sh installs it with the test tools)",
)

SPEC = ModelSpec("lartpc_cnn", (24, 24, 3), 3, seed=5, epochs=3, batch_size=16, learning_rate=0.01)

ON_JAX = """
import hashlib, json, sys
import numpy as np
from pathlib import Path
from learnledger.agents.backend import select_backend
assert select_backend(None) == "jax"
from learnledger.agents.learner import Learner
from learnledger.agents.models import ModelSpec
from learnledger.data.api import LearnerData, Split

folder = Path(sys.argv[1])
spec = ModelSpec.from_json((folder / "spec.json").read_bytes())
data = np.load(folder / "data.npz")
split = Split(x=data["x"], y=data["y"])
learner = Learner("jax", LearnerData(train=split, vote=split, test=split, class_names=("a", "b", "c")), spec)
trainer = learner._trainer
report = {"gathers_each_batch": trainer.gather_each_batch, "reloaded": {}}
for name in ("initial", "trained"):
    weights = (folder / f"{name}.tensorflow.safetensors").read_bytes()
    trainer.load(weights)
    report["reloaded"][name] = hashlib.sha256(trainer.weights()).hexdigest()
    np.save(folder / f"{name}.jax.probs.npy", trainer.predict(split.x))
start = (folder / "initial.tensorflow.safetensors").read_bytes()
(folder / "trained.jax.safetensors").write_bytes(learner.train(start, round=1))
print(json.dumps(report))
"""


def _bars(n: int, seed: int) -> Split:
    """Small three-plane images whose class is which band of rows is lit: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.integers(0, 40, (n, 24, 24, 3)).astype(np.uint8)
    for i, label in enumerate(y):
        x[i, 8 * label : 8 * label + 8, :, :] += 200
    return Split(x=x, y=y)


def _learner(split: Split) -> Learner:
    return Learner("tensorflow", LearnerData(train=split, vote=split, test=split, class_names=("a", "b", "c")), SPEC)


@pytest.mark.slow
def test_weights_keep_their_bytes_and_predictions_across_tensorflow_and_jax(tmp_path: Path) -> None:
    split = _bars(160, 1)
    learner = _learner(split)
    start = initial_weights(SPEC)
    trained = learner.train(start, round=1)
    np.savez(tmp_path / "data.npz", x=split.x, y=split.y)
    (tmp_path / "spec.json").write_bytes(SPEC.canonical_json())
    for name, weights in (("initial", start), ("trained", trained)):
        (tmp_path / f"{name}.tensorflow.safetensors").write_bytes(weights)

    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", ON_JAX, str(tmp_path)], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])

    assert report["gathers_each_batch"] is True
    # Loaded on JAX and written out again: the very bytes TensorFlow wrote.
    assert report["reloaded"] == {"initial": hashlib.sha256(start).hexdigest(),
                                  "trained": hashlib.sha256(trained).hexdigest()}
    # The same weights predict the same on both backends (float32 on one CPU, summed in other orders).
    for name, weights in (("initial", start), ("trained", trained)):
        learner._trainer.load(weights)
        ours = learner._trainer.predict(split.x)
        theirs = np.load(tmp_path / f"{name}.jax.probs.npy")
        assert np.max(np.abs(ours - theirs)) < 1e-4
    # A proposal trained on JAX, from the same start, is scored here and has learned the task.
    from_jax = (tmp_path / "trained.jax.safetensors").read_bytes()
    before, after = learner.score(start), learner.score(from_jax)
    assert before.test < 0.6 < 0.9 < after.test, (before, after)


ON_TENSORFLOW = """
import json, sys
from learnledger.agents.backend import select_backend
assert select_backend(None) == "tensorflow"
from learnledger.agents.learner import initial_weights
from learnledger.agents.models import ModelSpec
initial_weights(ModelSpec("lartpc_cnn", (24, 24, 3), 3, seed=5))
imported_for_keras = "jax" in sys.modules
import jax  # this project's own import still finds it
print(json.dumps({"imported_for_keras": imported_for_keras, "jax": jax.__version__}))
"""


def test_a_process_on_tensorflow_does_not_carry_jax_yet_can_import_it() -> None:
    """TensorFlow Lite and Keras import JAX whenever it is installed (100 MiB in every process on
    TensorFlow); select_backend hides it from them, and from nobody else."""
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    done = subprocess.run([sys.executable, "-c", ON_TENSORFLOW], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["imported_for_keras"] is False
    assert report["jax"]

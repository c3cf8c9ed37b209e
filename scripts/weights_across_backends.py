"""Are the weights the same bytes on every Keras backend? Initial, reloaded, and after one proposal.

    KERAS_BACKEND=jax python scripts/weights_across_backends.py DIR [--architectures lartpc_cnn,...]
        [--data EVENTS.h5]

Run it once per backend (TensorFlow on a CPU, JAX and PyTorch on a GPU) with the same DIR; each run
writes its files there and compares itself with every backend that ran before it:

- initial weights: ``initial_weights(spec)`` built on this backend, and its sha256;
- reload: another backend's initial weights loaded into this backend's model and written out again
  (the protocol's need: a voter on JAX must score, and pass on, a proposer's bytes unchanged);
- predictions: both backends' probabilities for the same weights on the same 64 events;
- one proposal: ``Learner.train`` from the same start bytes (the first of TensorFlow's, PyTorch's, JAX's),
  the same data, seed and round, on each backend: the largest difference between the trained tensors.

The figures go to DIR/report.BACKEND.json and to the terminal.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from learnledger.agents.backend import select_backend

PROBE_EVENTS = 64
TRAIN_EVENTS = 256


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--architectures", default="lartpc_cnn")
    parser.add_argument("--data", type=Path, default=None, help="events file (default: simulate 256 now)")
    args = parser.parse_args()
    backend = select_backend(None)
    args.dir.mkdir(parents=True, exist_ok=True)

    from learnledger.agents.learner import Learner, initial_weights
    from learnledger.agents.models import ModelSpec
    from learnledger.agents.weights import load_weights_bytes, model_weights_bytes
    from learnledger.data.api import NEUTRINO_CLASSES, LearnerData, Split

    images, labels = _events(args.data)
    train = Split(x=images[:TRAIN_EVENTS], y=labels[:TRAIN_EVENTS])
    probe = images[:PROBE_EVENTS]
    report: dict[str, object] = {"backend": backend, "models": {}}
    for architecture in [a.strip() for a in args.architectures.split(",") if a.strip()]:
        spec = ModelSpec(architecture=architecture, input_shape=(200, 200, 3), num_classes=3, seed=0)
        learner = Learner(backend, LearnerData(train=train, vote=train, test=train, class_names=NEUTRINO_CLASSES), spec)
        trainer = learner._trainer
        mine = initial_weights(spec)
        trainer.load(mine)
        _save(args.dir, f"{architecture}.{backend}", mine, trainer.predict(probe))
        row: dict[str, object] = {"initial_sha256": _sha(mine), "against": {}}
        for other in sorted(args.dir.glob(f"{architecture}.*.safetensors")):
            name = other.name.split(".")[1]
            if name == backend:
                continue
            theirs = other.read_bytes()
            trainer.load(theirs)
            probabilities = trainer.predict(probe)
            expected = np.load(args.dir / f"{architecture}.{name}.probs.npy")
            row["against"][name] = {
                "initial_bytes_equal": theirs == mine,
                "reload_bytes_equal": trainer.weights() == theirs,
                "probabilities_max_abs_diff": float(np.max(np.abs(probabilities - expected))),
                "predicted_class_agreement": float(np.mean(probabilities.argmax(1) == expected.argmax(1))),
            }
        # One proposal from a common start: the initial weights of the first backend present in the
        # order TensorFlow, PyTorch, JAX (this backend's own if it is the first to run).
        start = next(path for path in (args.dir / f"{architecture}.{name}.safetensors"
                                       for name in ("tensorflow", "torch", "jax", backend)) if path.exists())
        trained = learner.train(start.read_bytes(), round=1)
        (args.dir / f"{architecture}.trained.{backend}.bin").write_bytes(trained)
        row["trained_from"] = start.name
        row["trained_sha256"] = _sha(trained)
        row["trained_against"] = {}
        for other in sorted(args.dir.glob(f"{architecture}.trained.*.bin")):
            name = other.name.split(".")[2]
            if name == backend:
                continue
            load_weights_bytes(trainer.model, other.read_bytes())
            theirs = {v.path: np.asarray(v.numpy()) for v in trainer.model.trainable_weights}
            their_probabilities = trainer.predict(probe)
            load_weights_bytes(trainer.model, trained)
            probabilities = trainer.predict(probe)
            diffs = [float(np.max(np.abs(np.asarray(v.numpy()) - theirs[v.path])))
                     for v in trainer.model.trainable_weights]
            scale = max(float(np.max(np.abs(t))) for t in theirs.values())
            their_report = args.dir / f"report.{name}.json"
            their_start = (json.loads(their_report.read_text())["models"].get(architecture, {}).get("trained_from")
                           if their_report.exists() else None)
            row["trained_against"][name] = {
                "same_start": their_start == start.name,
                "bytes_equal": other.read_bytes() == model_weights_bytes(trainer.model),
                "trainable_max_abs_diff": max(diffs), "largest_trainable_weight": scale,
                "probabilities_max_abs_diff": float(np.max(np.abs(probabilities - their_probabilities))),
                "predicted_class_agreement": float(np.mean(probabilities.argmax(1) == their_probabilities.argmax(1))),
            }
        report["models"][architecture] = row
        print(architecture, json.dumps(row, indent=1), flush=True)
    (args.dir / f"report.{backend}.json").write_text(json.dumps(report, indent=1) + "\n")
    return 0


def _save(folder: Path, stem: str, weights: bytes, probabilities: np.ndarray) -> None:
    (folder / f"{stem}.safetensors").write_bytes(weights)
    np.save(folder / f"{stem}.probs.npy", probabilities)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _events(path: Path | None) -> tuple[np.ndarray, np.ndarray]:
    from learnledger.data.lartpc.config import SimConfig
    from learnledger.data.lartpc.generator import generate
    from learnledger.data.lartpc.h5io import read_h5

    sample = read_h5(path) if path else generate(TRAIN_EVENTS, seed=7, config=SimConfig.for_geometry("dune"))
    split = sample.to_split()
    return split.x[:TRAIN_EVENTS], split.y[:TRAIN_EVENTS]


if __name__ == "__main__":
    sys.exit(main())

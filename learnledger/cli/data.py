"""The ``learnledger data`` family: make, convert and look at datasets.

Commands live in two modules: this one (the LArTPC simulator and the event display) owns ``data_app``
and adds ``data_sources``' commands (MNIST, the DUNE CVN sample and other real-data formats) to it;
``data_sources`` does not import this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

from learnledger.cli import checks, data_sources
from learnledger.cli.console import console, fail, usage

data_app = typer.Typer(help="Make, convert and look at datasets.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``data`` family to the main app."""
    app.add_typer(data_app, name="data")


data_sources.register(data_app)


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

    checks.at_least("--events", events, 1)
    if geometry not in GEOMETRIES:
        usage(f"--geometry must be one of {', '.join(GEOMETRIES)}; received: {geometry!r}")
    checks.at_least("--workers", workers, 1)
    checks.writable_file("--out", out)
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

    checks.at_least("--index", index, 0)
    checks.existing_file("FILE", file)
    checks.writable_file("--out", out)
    try:
        image, truth = read_h5_event(file, index)
    except (FileNotFoundError, ValueError, IndexError, KeyError) as error:
        usage(str(error))
    try:
        draw_event(image, truth, out)
    except OSError as error:
        fail(f"cannot write {str(out)!r}: {error.strerror}; choose another --out")
    console.print(f"event {index} of {file}: {truth['label']} {truth['interaction']}, "
                  f"E_nu {truth['energy']:.2f} GeV -> {out}")


@contextmanager
def _progress_bar(total: int) -> Iterator[Callable[[int], None]]:
    """A bar over the simulated events; yields ``advance(n)``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console) as bar:
        task = bar.add_task("events", total=total)
        yield lambda n: bar.advance(task, n)

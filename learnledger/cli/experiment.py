"""The ``run``, ``agent`` and ``launch`` commands: running experiments.

Heavy imports (Keras, web3) happen inside the commands, after the Keras backend is chosen.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from learnledger.cli.console import console, fail

DEFAULT_EXPERIMENT = Path(__file__).resolve().parents[2] / "examples" / "mnist.toml"
"""What ``learnledger run`` runs with no argument: the paper's MNIST setup."""


def register(app: typer.Typer) -> None:
    """Add ``run``, ``agent`` and ``launch`` to the main app."""
    app.command(name="run")(run)


def _load_experiment(path: Path | None):  # -> Experiment (typed lazily: keras is imported late)
    from learnledger.agents.backend import select_backend
    from learnledger.agents.experiment import Experiment, ExperimentError

    path = path or DEFAULT_EXPERIMENT
    if not path.is_file():
        fail(f"no experiment file at {path}; give the path of a TOML file (see examples/)", 2)
    try:
        experiment = Experiment.load(path)
    except ExperimentError as error:
        fail(str(error), 2)
    select_backend(experiment.keras_backend)
    return experiment


def run(
    experiment_file: Annotated[Optional[Path], typer.Argument(
        metavar="[EXPERIMENT.toml]", help="Experiment file. Default: examples/mnist.toml.")] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", help="Run folder. Default: runs/<experiment name>.")] = None,
    ledger: Annotated[str, typer.Option(
        help="'chain': the contract on the embedded chain; 'reference': the rules in plain Python, "
             "no chain, no store (a baseline).")] = "chain",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every agent action.")] = False,
) -> None:
    """Run an experiment with every learner in this process, on the embedded chain and store."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    experiment = _load_experiment(experiment_file)
    out = out or Path("runs") / experiment.name
    from learnledger.runs.embedded import run_experiment

    console.print(f"[bold]{experiment.name}[/]: {len(experiment.learners)} learners, "
                  f"{experiment.rounds} rounds, {experiment.spec.architecture} -> {out}")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("setting up", total=experiment.rounds)

        def on_round(row: dict) -> None:
            mean = _mean_test(row)
            progress.update(task, advance=1, description=(
                f"round {row['round']:>3}: {row['proposer']} {row['outcome']}"
                + (f", mean test {mean:.4f}" if mean is not None else "")))

        result = run_experiment(experiment, out, ledger=ledger, on_round=on_round,
                                on_setup=lambda line: progress.update(task, description=line))
    console.print(_rounds_table(result.rounds))
    summary = result.summary
    console.print(
        f"final mean test score [bold]{summary['final_mean_test_score']:.4f}[/]; "
        f"{summary['accepted']} accepted, {summary['rejected']} rejected, {summary['skipped']} skipped; "
        f"{summary['wall_time_s']:.1f} s. Outputs in {result.out}/")


def _mean_test(row: dict) -> float | None:
    scores = [vote["test_score"] for vote in row["votes"].values() if vote["test_score"] is not None]
    return sum(scores) / len(scores) if scores else None


def _rounds_table(rows: list[dict]) -> Table:
    table = Table(title="rounds", show_lines=False)
    for column in ("round", "proposer", "outcome", "approvals", "mean vote score", "mean test score"):
        table.add_column(column, justify="right" if column != "proposer" else "left")
    for row in rows:
        votes = [v["vote_score"] for v in row["votes"].values() if v["vote_score"] is not None]
        test = _mean_test(row)
        colour = {"accepted": "green", "rejected": "red"}.get(row["outcome"], "yellow")
        table.add_row(
            str(row["round"]), row["proposer"], f"[{colour}]{row['outcome']}[/]",
            f"{row['approvals']}/{row['approvals'] + row['rejections']}",
            f"{sum(votes) / len(votes):.4f}" if votes else "-",
            f"{test:.4f}" if test is not None else "-",
        )
    return table

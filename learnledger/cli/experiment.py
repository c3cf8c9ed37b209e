"""The ``run``, ``agent`` and ``launch`` commands: running experiments.

Heavy imports (Keras, web3) happen inside the commands, after the Keras backend is chosen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from learnledger.cli import checks
from learnledger.cli.console import FAILED, INTERRUPTED, UNREACHABLE, USAGE, console, fail, print_json, usage
from learnledger.cli.signals import stop_on_signals

def register(app: typer.Typer) -> None:
    """Add ``run``, ``agent`` and ``launch`` to the main app."""
    app.command(name="run")(run)
    app.command(name="agent")(agent)
    app.command(name="launch")(launch)


LEDGER_CHOICES = ("chain", "anvil", "reference")
"""``run --ledger`` values (``learnledger.runs.embedded.LEDGERS``, named here so a wrong one is
refused before Keras loads)."""


def _load_experiment(path: Path | None):  # -> Experiment (typed lazily: keras is imported late)
    """The experiment file parsed and checked, its data files found, its Keras backend chosen; exit 2 if not."""
    from learnledger.agents.backend import BackendError, select_backend
    from learnledger.agents.experiment import DEFAULT_EXPERIMENT, Experiment, ExperimentError

    try:
        experiment = Experiment.load(path or DEFAULT_EXPERIMENT)
        select_backend(experiment.keras_backend)
    except (ExperimentError, BackendError) as error:
        usage(str(error))
    data_path = experiment.data.path
    if data_path is not None and not Path(data_path).exists():
        usage(f"{experiment.path or path}: [data] path = {data_path!r} does not exist (a relative path is "
              f"taken from the current folder, {Path.cwd()}); fix the path or remove it to use the default")
    return experiment


def _check_run_folder(out: Path, fresh: bool, command: str) -> None:
    """Refuse to overwrite an earlier run in ``out`` unless told to start over."""
    from learnledger.runs.outputs import RunFolder

    checks.folder_to_make("--out", out)
    earlier = RunFolder.earlier_run(out)
    if earlier is not None and not fresh:
        usage(f"{out} holds {earlier}; a run cannot continue there (its chain ended with its process): "
              f"pass --fresh to replace it, or choose another --out")


def run(
    experiment_file: Annotated[Optional[Path], typer.Argument(
        metavar="[EXPERIMENT.toml]", help="Experiment file. Default: examples/mnist.toml.")] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", help="Run folder. Default: runs/<experiment name>.")] = None,
    ledger: Annotated[str, typer.Option(
        help="'chain': the contract on the embedded chain; 'anvil': the contract on an anvil devnet "
             "started for the run; 'reference': the rules in plain Python, no chain, no store "
             "(a baseline).")] = "chain",
    fresh: Annotated[bool, typer.Option(
        "--fresh", help="Start over: replace an earlier run in the run folder (finished or not).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print summary.json on stdout (no table).")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every agent action.")] = False,
) -> None:
    """Run an experiment with every learner in this process, on the embedded chain and store.

    Ctrl-C stops it, saying what was saved; the run folder is never overwritten without --fresh.
    """
    if ledger not in LEDGER_CHOICES:
        usage(f"--ledger must be one of {', '.join(LEDGER_CHOICES)}; received: {ledger!r}")
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    experiment = _load_experiment(experiment_file)
    out = out or Path("runs") / experiment.name
    _check_run_folder(out, fresh, "run")
    from learnledger.data.errors import DataError
    from learnledger.ledger.api import LedgerError
    from learnledger.runs.embedded import run_experiment

    if not as_json:
        console.print(f"[bold]{experiment.name}[/]: {len(experiment.learners)} learners, "
                      f"{experiment.rounds} rounds, {experiment.spec.architecture} -> {out}")
    with stop_on_signals():
        try:
            with _round_progress(experiment.rounds, quiet=as_json) as (on_round, on_setup):
                result = run_experiment(experiment, out, ledger=ledger, on_round=on_round, on_setup=on_setup)
        except DataError as error:
            usage(str(error))
        except LedgerError as error:
            fail(f"the run stopped: {error}")
        except KeyboardInterrupt:
            _say_what_was_saved(out, "run")
    _print_result(result, as_json)


def _say_what_was_saved(out: Path, command: str) -> None:
    """After Ctrl-C or SIGTERM: what the run folder holds, and how to go on; exit 130."""
    rounds = out / "rounds.jsonl"
    count = sum(1 for line in rounds.read_text().splitlines() if line.strip()) if rounds.exists() else 0
    kept = [f"{count} finalized round{'s' if count != 1 else ''} in {rounds}"]
    if (out / "agents").is_dir():
        kept.append(f"each group's log in {out / 'agents'}/")
    if (out / "store").is_dir():
        kept.append(f"every stored proposal in {out / 'store'}/")
    if (out / "chain.json").exists():
        kept.append(f"the devnet's state in {out / 'chain.json'}")
    fail(f"interrupted: kept {', '.join(kept)}. This {command} cannot continue (its chain ended with it); "
         f"run the same command with --fresh to start over, or --out elsewhere to keep these files",
         INTERRUPTED)


@contextmanager
def _round_progress(rounds: int, quiet: bool = False
                    ) -> Iterator[tuple[Callable[[dict], None], Callable[[str], None]]]:
    """A progress bar over the rounds: (on_round, on_setup) callbacks to feed it (none when quiet)."""
    if quiet:
        yield (lambda row: None), (lambda line: None)
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("setting up", total=rounds)

        def on_round(row: dict) -> None:
            mean = _mean_test(row)
            progress.update(task, advance=1, description=(
                f"round {row['round']:>3}: {row['proposer']} {row['outcome']}"
                + (f", mean test {mean:.4f}" if mean is not None else "")))

        yield on_round, lambda line: progress.update(task, description=line)


def _print_result(result, as_json: bool = False) -> None:
    summary = result.summary
    if as_json:
        print_json(summary)
        return
    console.print(_rounds_table(result.rounds))
    mean, error = summary["final_mean_test_score"], summary.get("final_mean_test_error")
    metric = (summary.get("terms") or {}).get("metric") or "score"
    spread = f" \u00b1 {error:.4f}" if error is not None else ""
    console.print(
        f"final mean test {metric} [bold]{mean:.4f}{spread}[/]; " if mean is not None else "final scores missing; ",
        f"{summary['accepted']} accepted, {summary['rejected']} rejected, {summary['skipped']} skipped; "
        f"{summary['wall_time_s']:.1f} s. Outputs in {result.out}/", sep="")


def agent(
    deployment: Annotated[Path, typer.Option(help="deployment.json written by deploy, run or launch.")],
    group: Annotated[str, typer.Option(help="This research group's name on the roster.")],
    key: Annotated[Optional[str], typer.Option(help="Private key (hex). Prefer --keyfile.")] = None,
    keyfile: Annotated[Optional[Path], typer.Option(
        help="File whose first line is the private key (hex; devnets only).")] = None,
    keystore: Annotated[Optional[Path], typer.Option(help="This group's v3 keystore.")] = None,
    password_file: Annotated[Optional[Path], typer.Option(
        help="With --keystore: file whose first line is its password (default: prompt).")] = None,
    rpc: Annotated[Optional[str], typer.Option(help="JSON-RPC URL. Default: the deployment's.")] = None,
    ipfs: Annotated[Optional[str], typer.Option(
        help="Kubo RPC URL of an IPFS node (or `learnledger store serve`). Default: the embedded store.")] = None,
    store: Annotated[Optional[Path], typer.Option(help="Embedded store folder (when no --ipfs).")] = None,
    experiment: Annotated[Optional[Path], typer.Option(
        help="Experiment file: this group trains on its share of the experiment's data.")] = None,
    data: Annotated[Optional[Path], typer.Option(
        help="This group's own data: .npz with x_/y_ train, vote and test arrays.")] = None,
    log: Annotated[Optional[Path], typer.Option(help="Append one JSON line per round here (its folder is "
                                                     "created).")] = None,
    poll: Annotated[float, typer.Option(help="Seconds between looks at the chain while waiting.")] = 0.5,
    ballots: Annotated[Optional[Path], typer.Option(
        help="With sealed votes: the folder where the agent keeps each vote and its salt (owner-only) "
             "until it reveals it; a restarted agent reveals from there. Default: "
             "sealed-votes/GROUP beside the deployment record.")] = None,
    retry_limit: Annotated[float, typer.Option(
        help="Longest pause, in seconds, between attempts while the chain or the store is unreachable.")] = 30.0,
    keep_rejected: Annotated[int, typer.Option(
        help="With --ipfs (this lab's own node): the agent pins the spec, the initial weights and "
             "every accepted model there, and unpins its own rejected proposals after this many "
             "more rounds are decided.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the final report as JSON on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="Only warnings and the final line.")] = False,
) -> None:
    """One research group's learner process: follow the chain, propose, vote, finalize.

    It runs until the experiment ends; Ctrl-C or SIGTERM stops it, and it can be started again at
    any time (it keeps no state the chain and the store do not hold).
    """
    checks.above_zero("--poll", poll)
    checks.above_zero("--retry-limit", retry_limit)
    checks.at_least("--keep-rejected", keep_rejected, 0, " rounds")
    checks.existing_file("--experiment", experiment)
    checks.existing_file("--data", data)
    checks.existing_folder("--store", store)
    checks.file_to_make("--log", log)
    from learnledger.cli.account import resolve_key
    from learnledger.runs.member import MemberConfig, MemberSetupError

    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format=f"%(asctime)s {group} %(levelname)s: %(message)s")
    secret = resolve_key(key, keyfile, keystore, password_file, f"group {group}'s")
    if experiment is not None:
        _load_experiment(experiment)  # checks it, and picks its Keras backend before Keras loads
    from learnledger.agents.agent import Action, PinPolicy
    from learnledger.ledger.api import AccountUnfunded, LedgerError
    from learnledger.runs.member import build_member, final_report, follow
    from learnledger.runs.outputs import append_line
    from learnledger.store.api import StoreError

    started = False
    with stop_on_signals():
        try:
            config = MemberConfig(deployment=deployment, group=group, key=secret,
                                  rpc_url=rpc, ipfs_url=ipfs, store_dir=store, experiment=experiment,
                                  data=data, log_file=log, poll_s=poll, ballots=ballots,
                                  pins=PinPolicy(keep_rejected) if ipfs is not None else None)
            try:
                member, learner = build_member(config)
            except (MemberSetupError, LedgerError, StoreError, ValueError) as error:
                fail(f"agent {group} cannot start: {error}", USAGE)
            started = True
            if not as_json:
                console.print(f"agent [bold]{group}[/] ({member.ledger.account}) following "
                              f"{deployment}; Ctrl-C stops it, and it can be restarted at any time")
            follow(member, poll, retry_limit_s=retry_limit,
                   on_action=lambda action: action is not Action.WAITING and logging.getLogger(
                       "learnledger.agent").info("%s", action.value))
        except AccountUnfunded as error:
            fail(f"agent {group} stopped: {error}")
        except KeyboardInterrupt:
            fail(f"agent {group} stopped{'' if started else ' while starting'}; start it again to catch up",
                 INTERRUPTED)
    report = final_report(member, learner)
    if log is not None:
        append_line(log, report)
    if as_json:
        print_json(report)
        return
    console.print(f"agent {group}: experiment finished; final model (round {report['model_round']}) "
                  f"test score {report['test_score']:.4f}")


def launch(
    experiment_file: Annotated[Path, typer.Argument(metavar="EXPERIMENT.toml", help="Experiment file.")],
    out: Annotated[Optional[Path], typer.Option(
        "--out", help="Run folder. Default: runs/<experiment name>-launch.")] = None,
    timeout: Annotated[Optional[float], typer.Option(
        help="Give up after this many seconds. Default: none (wait for the last round).")] = None,
    ipfs_per_lab: Annotated[bool, typer.Option(
        "--ipfs-per-lab", help="One private kubo node per group, connected to each other, instead of "
                               "one shared store server (needs kubo: scripts/engines.sh).")] = False,
    consortium: Annotated[bool, typer.Option(
        "--consortium", help="Run on a geth Clique consortium, one node per group, each agent on its "
        "own group's node with its own keystore (needs scripts/engines.sh), instead of anvil.")] = False,
    period: Annotated[int, typer.Option(help="With --consortium: seconds between blocks.")] = 2,
    fresh: Annotated[bool, typer.Option(
        "--fresh", help="Start over: replace an earlier launch in the run folder (finished or not).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print summary.json on stdout (no table).")] = False,
) -> None:
    """Start a devnet and a store server, deploy, and run one agent process per group to the end.

    The run folder keeps the devnet's state (chain.json): `learnledger audit --deployment
    OUT/deployment.json` brings the chain back up and checks it afterwards.
    """
    checks.above_zero("--timeout", timeout)
    experiment = _load_experiment(experiment_file)
    out = out or Path("runs") / f"{experiment.name}-launch"
    _check_run_folder(out, fresh, "launch")
    from learnledger.ledger.api import LedgerError
    from learnledger.runs.launch import LaunchError, launch_experiment
    from learnledger.store.api import StoreError

    checks.at_least("--period", period, 1, " second")
    chain = f"a {len(experiment.learners)}-node geth Clique consortium" if consortium else "anvil"
    if not as_json:
        console.print(f"[bold]{experiment.name}[/]: {len(experiment.learners)} agent processes on {chain}, "
                      f"{experiment.rounds} rounds -> {out}")
    with stop_on_signals():
        try:
            with _round_progress(experiment.rounds, quiet=as_json) as (on_round, on_setup):
                if consortium:
                    from learnledger.runs.consortium_launch import launch_on_consortium

                    result = launch_on_consortium(experiment, out, period=period, timeout_s=timeout,
                                                  on_round=on_round, on_setup=on_setup,
                                                  ipfs_per_lab=ipfs_per_lab)
                else:
                    result = launch_experiment(experiment, out, timeout_s=timeout, on_round=on_round,
                                               on_setup=on_setup, ipfs_per_lab=ipfs_per_lab)
        except LedgerError as error:
            fail(f"launch could not start its chain: {error}", UNREACHABLE)
        except LaunchError as error:
            fail(str(error), FAILED)
        except StoreError as error:  # kubo missing, or a node that would not start
            fail(f"launch --ipfs-per-lab: {error}", USAGE)
        except KeyboardInterrupt:
            _say_what_was_saved(out, "launch")
    _print_result(result, as_json)


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

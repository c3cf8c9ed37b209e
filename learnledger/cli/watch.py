"""``learnledger watch``: a live view of an experiment in the browser, updated as the chain moves.

Serves on loopback only (127.0.0.1). Stops cleanly, with exit status 0, on Ctrl-C or SIGTERM
whatever signal dispositions it inherited. Exit status 2: a usage error, the chain could not be
reached at the start, or the port is taken.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from learnledger.cli import checks
from learnledger.cli.audit import connect_contract, open_weight_store
from learnledger.cli.console import USAGE, console, fail
from learnledger.cli.signals import Stopped, stop_on_signals

LOOPBACK = "127.0.0.1"


def register(app: typer.Typer) -> None:
    """Add this family's commands to the main app."""
    app.command("watch")(watch_command)


def watch_command(
    deployment: Optional[Path] = typer.Option(
        None, "--deployment", help="deployment.json of the experiment (from `learnledger deploy` or a run)."),
    rpc: Optional[str] = typer.Option(None, "--rpc", help="JSON-RPC URL of the chain (default: the "
                                      "deployment's rpc_url)."),
    address: Optional[str] = typer.Option(None, "--address", help="The contract's address (without --deployment)."),
    port: int = typer.Option(8765, "--port", help="Port on 127.0.0.1 to serve the page on (0: any free port)."),
    interval: float = typer.Option(1.0, "--interval", help="Seconds between looks at the chain's head block."),
    experiment: Optional[Path] = typer.Option(
        None, "--experiment", help="The experiment file: the page then names the experiment, its model and "
        "data, and gives the scores' statistical errors (test-set sizes)."),
    ipfs: Optional[str] = typer.Option(None, "--ipfs", help="Kubo RPC URL of the store (the model spec; with "
                                       "--experiment, the initial weights' scores)."),
    store_dir: Optional[Path] = typer.Option(None, "--store", help="A local store directory instead of --ipfs."),
) -> None:
    """Serve a page on 127.0.0.1 showing Figure 2 and the rounds, updated as the chain's events arrive."""
    from learnledger.audit.evaluate import EvaluationError
    from learnledger.audit.fetch import ChainUnreachable
    from learnledger.audit.live import LiveExperiment, LiveServer
    from learnledger.audit.run import AuditInputError

    if not 0 <= port <= 65535:
        fail(f"--port {port} is not a port; give one in 0..65535 (0: any free port)", USAGE)
    checks.above_zero("--interval", interval)
    if experiment is not None and not experiment.is_file():
        fail(f"--experiment {experiment}: no such experiment file; pass the .toml the contract was deployed from",
             USAGE)
    record, w3, contract = connect_contract(deployment, rpc, address)
    beside = deployment is not None and (deployment.parent / "store").is_dir()  # a run folder's own store
    store = open_weight_store(ipfs, store_dir, deployment) if (ipfs or store_dir or beside) else None
    live = LiveExperiment(w3, str(contract), record, deployment, store, experiment, interval,
                          on_step=lambda line: console.print(f"[dim]{escape(line)}[/]"))
    try:
        live.refresh()  # the first read in the foreground: a bad address or chain is said here, not on the page
    except (ChainUnreachable, AuditInputError, EvaluationError) as error:
        fail(f"cannot watch the experiment: {error}", USAGE)
    try:
        server = LiveServer(live, LOOPBACK, port)
    except OSError as error:
        fail(f"cannot serve on {LOOPBACK}:{port}: {error.strerror or error}; pick another --port (0: any free one)",
             USAGE)

    stopped_by = ""
    with stop_on_signals():  # a watch started with SIGINT ignored (a background job) still stops on it
        server.start()
        try:
            state = live.current()
            console.print(f"watching {escape(str(state.get('title')))}: {len(state.get('rounds', []))} rounds so far")
            console.print(f"serving the live view at {server.url} (Ctrl-C or SIGTERM stops it)", soft_wrap=True)
            while True:
                time.sleep(1)
        except Stopped as stop:
            stopped_by = str(stop)
        finally:
            server.stop()
    console.print(f"stopped on {stopped_by}; the page's server is closed")

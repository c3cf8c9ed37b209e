"""``learnledger consortium up|down|status``: a geth Clique consortium on this machine.

``up`` starts the nodes detached (they outlive the command) and prints each node's RPC URL; ``down``
stops them (the chain stays in the folder for the next ``up``); ``status`` asks every node how it
is. The folder holds everything (see ``learnledger.ledger.consortium``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from learnledger.cli import checks
from learnledger.cli.console import console, fail, print_json

DEFAULT_DIR = Path("runs/consortium")

app = typer.Typer(help="A consortium chain: one geth Clique signer per lab, on this machine.",
                  no_args_is_help=True)


def register(main: typer.Typer) -> None:
    """Add this family's commands to the main app."""
    main.add_typer(app, name="consortium")


@app.command("up")
def up(
    directory: Path = typer.Option(DEFAULT_DIR, "--dir", help="Folder of the consortium (made on "
                                   "the first up, reused after)."),
    nodes: int = typer.Option(3, "--nodes", help="How many nodes (labs), each a Clique signer."),
    period: int = typer.Option(2, "--period", help="Seconds between blocks."),
    chain_id: Optional[int] = typer.Option(None, "--chain-id", help="Private chain id (default "
                                           "3133713)."),
    fund: str = typer.Option("", "--fund", help="Member addresses to fund in the genesis, "
                             "comma-separated."),
) -> None:
    """Start the consortium's nodes (creating it on the first call) and print their RPC URLs."""
    from learnledger.cli.chain import parse_addresses
    from learnledger.ledger.api import LedgerError
    from learnledger.ledger.consortium import DEFAULT_CHAIN_ID, Consortium

    checks.at_least("--nodes", nodes, 1)
    checks.at_least("--period", period, 1, " second")
    funded = parse_addresses(fund, "--fund") if fund.strip() else []
    try:
        consortium = Consortium(directory, nodes=nodes, period=period,
                                chain_id=chain_id or DEFAULT_CHAIN_ID, fund=funded)
        if consortium.exists() and (fund.strip() or chain_id is not None):
            record = consortium.load()
            if chain_id is not None and chain_id != record.chain_id or set(funded) - set(record.funded):
                fail(f"{directory} already holds a consortium (chain {record.chain_id}); its genesis "
                     "cannot change: run `learnledger consortium down`, remove the folder, and up again",
                     2)
        consortium.start(detach=True)
    except LedgerError as error:
        fail(str(error), 2 if "not built" in str(error) else 1)
    record = consortium.load()
    console.print(f"consortium up: chain {record.chain_id}, a block every {record.period} s, "
                  f"{len(record.nodes)} Clique signers; folder {directory}")
    for node in record.nodes:
        console.print(f"  {node.name}  {node.rpc_url}  signer {node.signer}", soft_wrap=True)
    for problem in (s for s in consortium.status() if s.problem):
        console.print(f"[bold yellow]warning:[/] {problem.name}: {problem.problem}", soft_wrap=True)
    console.print("`learnledger consortium down` stops it.")


@app.command("down")
def down(directory: Path = typer.Option(DEFAULT_DIR, "--dir", help="Folder of the consortium.")) -> None:
    """Stop every node of the consortium; its chain stays in the folder."""
    from learnledger.ledger.api import LedgerError
    from learnledger.ledger.consortium import Consortium

    consortium = Consortium(directory)
    if not consortium.exists():
        fail(f"no consortium in {directory}: nothing to stop (give --dir if it is elsewhere)", 2)
    try:
        consortium.stop()
    except LedgerError as error:
        fail(str(error))
    console.print(f"consortium in {directory} stopped; its chain stays there for the next up")


@app.command("status")
def status(
    directory: Path = typer.Option(DEFAULT_DIR, "--dir", help="Folder of the consortium."),
    as_json: bool = typer.Option(False, "--json", help="Print each node's status as JSON on stdout."),
) -> None:
    """How each node is: running, block, peers, and whether it is a Clique signer. Exit 1 if any
    node is down or not a signer."""
    from learnledger.ledger.api import LedgerError
    from learnledger.ledger.consortium import Consortium

    consortium = Consortium(directory)
    try:
        statuses = consortium.status()
    except LedgerError as error:
        fail(str(error), 2)
    if as_json:
        print_json([s.__dict__ for s in statuses])
    else:
        for s in statuses:
            state = "up" if s.block is not None else "down"
            console.print(f"{s.name:10} {state:4} {s.rpc_url:26} block {s.block}  peers {s.peers}  "
                          f"signer {s.signer}" + (f"\n  problem: {s.problem}" if s.problem else ""),
                          soft_wrap=True)
    if any(s.problem for s in statuses):
        raise typer.Exit(1)

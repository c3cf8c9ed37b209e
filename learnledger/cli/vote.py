"""``learnledger reveal``: reveal a sealed vote by hand, from the file its agent kept.

An agent reveals its own sealed votes, also after a restart. This command is for a member whose
agent will not run again before the reveal deadline: it reads the agent's sealed-vote file, checks
against the chain that the reveal would be accepted (the round in its reveal window, a commitment
of this account, the file's vote hashing to it) and only then sends it. Exit status: 0 revealed,
1 the check or the transaction failed, 2 a usage error or the chain unreachable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from learnledger.cli import checks
from learnledger.cli.console import USAGE, console, fail, usage


def register(app: typer.Typer) -> None:
    """Add this family's commands to the main app."""
    app.command("reveal")(reveal_command)


def reveal_command(
    ballot: Path = typer.Option(..., "--ballot", help="The sealed-vote file an agent kept "
                                "(sealed-votes/.../sealed-vote-ADDRESS-round-N.json)."),
    deployment: Path = typer.Option(Path("deployment.json"), "--deployment",
                                    help="deployment.json of the experiment."),
    rpc: Optional[str] = typer.Option(None, "--rpc", help="JSON-RPC URL (default: the deployment's)."),
    key: Optional[str] = typer.Option(None, "--key", help="The voter's private key (hex). Prefer --keyfile."),
    keyfile: Optional[Path] = typer.Option(None, "--keyfile", help="File whose first line is the voter's "
                                           "private key (hex; devnets only)."),
    keystore: Optional[Path] = typer.Option(None, "--keystore", help="The voter's v3 keystore."),
    password_file: Optional[Path] = typer.Option(None, "--password-file", help="With --keystore: file whose "
                                                 "first line is its password (default: prompt)."),
) -> None:
    """Reveal a sealed vote from its file, after checking that the contract would accept it."""
    checks.existing_file("--ballot", ballot)
    checks.existing_file("--deployment", deployment)
    from learnledger.agents.ballots import SealedBallot
    from learnledger.cli.account import resolve_key
    from learnledger.cli.chain import open_deployment
    from learnledger.ledger.api import LedgerError
    from learnledger.ledger.client import ContractLedger
    from learnledger.ledger.sealed import reveal_problem

    try:
        sealed = SealedBallot.from_json(ballot.read_text())
    except (OSError, ValueError, KeyError, TypeError) as error:
        usage(f"--ballot {str(ballot)!r} is not a sealed-vote file an agent wrote ({error})")
    record, w3 = open_deployment(deployment, rpc)
    secret = resolve_key(key, keyfile, keystore, password_file, "the voter's")
    try:
        ledger = ContractLedger(w3, record, secret)
    except LedgerError as error:
        fail(f"cannot use the contract of {deployment}: {error}", USAGE)
    try:
        problem = reveal_problem(ledger, sealed.round, sealed.approve, sealed.vote_score, sealed.test_score,
                                 sealed.salt)
        if problem is not None:
            fail(f"not revealed: {problem}")
        ledger.reveal_vote(sealed.round, sealed.approve, sealed.vote_score, sealed.test_score, sealed.salt)
    except LedgerError as error:
        fail(f"reveal refused: {error}")
    console.print(f"revealed {ledger.account}'s vote in round {sealed.round}: "
                  f"{'yes' if sealed.approve else 'no'}")

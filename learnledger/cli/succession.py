"""``learnledger succession propose | vote | finalize | status``: hand an experiment over to a
successor deployment by the round rule's majority (docs/succession.md).

Every check the contract makes is made here first, so a bad successor, an outsider's key, a
second vote or a hand-over while a round runs is refused with a sentence before any transaction
(exit 2 for bad input, 1 for what the experiment's state does not allow now).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

import typer

from learnledger.cli import checks
from learnledger.cli.console import console, fail, print_json, usage

family = typer.Typer(help="Hand the experiment over to a successor deployment, by the members' vote.",
                     no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this family's commands to the main app."""
    app.add_typer(family, name="succession")


DEPLOYMENT = typer.Option(Path("deployment.json"), "--deployment", help="The experiment's deployment.json.")
RPC = typer.Option(None, "--rpc", help="JSON-RPC URL. Default: the deployment's.")
KEY = typer.Option(None, "--key", help="Private key (hex). Prefer --keyfile.")
KEYFILE = typer.Option(None, "--keyfile", help="File whose first line is the private key (hex; devnets only).")
KEYSTORE = typer.Option(None, "--keystore", help="The member's v3 keystore.")
PASSWORD = typer.Option(None, "--password-file", help="With --keystore: file whose first line is its password.")


def _ledger(deployment: Path, rpc: str | None, key: str):  # type: ignore[no-untyped-def]
    """The member's client of the experiment in ``deployment`` (exit 2 if it cannot be reached)."""
    from learnledger.cli.chain import open_deployment
    from learnledger.ledger.api import LedgerError
    from learnledger.ledger.client import ContractLedger

    record, w3 = open_deployment(deployment, rpc)
    try:
        return ContractLedger(w3, record, key)
    except LedgerError as error:
        usage(f"cannot use the experiment of {deployment}: {error}")


def _member_key(deployment: Path, rpc: str | None, key: str | None, keyfile: Path | None,
                keystore: Path | None, password_file: Path | None, action: str):  # type: ignore[no-untyped-def]
    from learnledger.cli.account import resolve_key

    ledger = _ledger(deployment, rpc, resolve_key(key, keyfile, keystore, password_file, "the member's"))
    if ledger.account not in {m.address for m in ledger.members()}:
        usage(f"{ledger.account} is not on the roster of {ledger.deployment.address}: only members {action}; "
              "use a member's key")
    if ledger.successor() is not None:
        fail(f"the experiment at {ledger.deployment.address} was already succeeded by {ledger.successor()}")
    return ledger


def _send(action: Any, what: str) -> None:
    from learnledger.ledger.api import LedgerError

    try:
        action()
    except LedgerError as error:
        fail(f"{what} refused: {error}")


@family.command("propose")
def propose(
    successor: str = typer.Option(..., "--successor", help="Address of the successor deployment "
                                  "(from `learnledger deploy --successor-of`)."),
    deployment: Path = DEPLOYMENT, rpc: Optional[str] = RPC, key: Optional[str] = KEY,
    keyfile: Optional[Path] = KEYFILE, keystore: Optional[Path] = KEYSTORE,
    password_file: Optional[Path] = PASSWORD,
) -> None:
    """Propose the successor; the other members then vote on it (`succession vote`)."""
    from learnledger.ledger.line import successor_problem

    ledger = _member_key(deployment, rpc, key, keyfile, keystore, password_file, "propose a successor")
    current = ledger.succession()
    if current.state.is_pending:
        fail(f"succession {current.number} (to {current.successor}) is still {current.state.name}; one "
             "succession at a time: vote on it or finalize it first")
    problem = successor_problem(ledger.w3, ledger.deployment, successor)
    if problem is not None:
        usage(problem)
    _send(lambda: ledger.propose_successor(successor), "the proposal")
    proposed = ledger.succession()
    console.print(f"proposed succession {proposed.number}: {proposed.successor} takes over "
                  f"{ledger.deployment.address}; the other members vote until {_when(proposed.vote_deadline)}. "
                  "Until it is decided, the round in progress runs to its end and no new round opens.",
                  soft_wrap=True)


@family.command("vote")
def vote(
    approve: bool = typer.Option(..., "--approve/--reject", help="Approve or reject the pending successor."),
    deployment: Path = DEPLOYMENT, rpc: Optional[str] = RPC, key: Optional[str] = KEY,
    keyfile: Optional[Path] = KEYFILE, keystore: Optional[Path] = KEYSTORE,
    password_file: Optional[Path] = PASSWORD,
) -> None:
    """Vote on the pending succession (members other than its proposer, once each)."""
    from learnledger.ledger.api import SuccessionState

    ledger = _member_key(deployment, rpc, key, keyfile, keystore, password_file, "vote on a successor")
    current = ledger.succession()
    if current.state is not SuccessionState.VOTING:
        fail(f"no succession is open for votes (the latest is {current.state.name}); see `learnledger "
             "succession status`")
    if current.proposer == ledger.account:
        usage(f"{ledger.account} proposed this succession; its proposer does not vote on it")
    if ledger.account in current.voters:
        usage(f"{ledger.account} already voted on succession {current.number}")
    _send(lambda: ledger.vote_succession(approve), "the vote")
    after = ledger.succession()
    console.print(f"voted {'for' if approve else 'against'} succession {after.number} to {after.successor}: "
                  f"{after.approvals} for, {after.rejections} against; it is {after.state.name}", soft_wrap=True)


@family.command("finalize")
def finalize(
    deployment: Path = DEPLOYMENT, rpc: Optional[str] = RPC, key: Optional[str] = KEY,
    keyfile: Optional[Path] = KEYFILE, keystore: Optional[Path] = KEYSTORE,
    password_file: Optional[Path] = PASSWORD,
) -> None:
    """Decide the succession once its votes are in (or its deadline passed) and no round runs:
    anyone may; on approval this is the hand-over."""
    from learnledger.cli.account import resolve_key
    from learnledger.ledger.api import SuccessionState

    ledger = _ledger(deployment, rpc, resolve_key(key, keyfile, keystore, password_file, "the sender's"))
    current = ledger.succession()
    if current.state is not SuccessionState.VOTING_CLOSED:
        fail(f"the latest succession is {current.state.name}; finalize needs VOTING_CLOSED (every vote in, "
             f"or the deadline {_when(current.vote_deadline)} passed)")
    status = ledger.status()
    if not status.state.is_final and status.state.name != "UNOPENED":
        fail(f"round {status.round} is in progress ({status.state.name}); the succession is decided between "
             "rounds, once it is finalized")
    _send(ledger.finalize_succession, "the hand-over")
    after = ledger.succession()
    if after.state is SuccessionState.ACCEPTED:
        console.print(f"succession {after.number} accepted: {after.successor} takes over; "
                      f"{ledger.deployment.address} opens no more rounds", soft_wrap=True)
    else:
        console.print(f"succession {after.number} {after.state.name}: nothing changed, the rounds go on",
                      soft_wrap=True)


@family.command("status")
def status(
    deployment: Path = DEPLOYMENT, rpc: Optional[str] = RPC,
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON on stdout."),
) -> None:
    """The experiment's place in its line and its latest succession proposal."""
    from eth_account import Account

    ledger = _ledger(deployment, rpc, Account.create().key.hex())  # reads only: any key will do
    current = ledger.succession()
    report = {
        "experiment": ledger.deployment.address,
        "predecessor": ledger.predecessor(),
        "successor": ledger.successor(),
        "succession": {
            "state": current.state.name, "number": current.number, "successor": current.successor,
            "proposer": current.proposer, "vote_deadline": current.vote_deadline,
            "approvals": current.approvals, "rejections": current.rejections, "voters": list(current.voters),
        },
    }
    if as_json:
        print_json(report)
        return
    console.print(f"experiment {report['experiment']}: predecessor {report['predecessor'] or 'none (first of its line)'}, "
                  f"successor {report['successor'] or 'none'}", soft_wrap=True)
    if current.number == 0:
        console.print("no succession proposed")
        return
    console.print(f"succession {current.number}: {current.successor}, proposed by {current.proposer}; "
                  f"{current.state.name}, {current.approvals} for, {current.rejections} against, votes until "
                  f"{_when(current.vote_deadline)}", soft_wrap=True)


def _when(unix: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(unix))




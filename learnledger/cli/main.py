"""Entry point of the ``learnledger`` command: every command family is registered here, once."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import typer
from typer.core import TyperOption

from learnledger.cli import (account, audit, chain, compete, consortium, data, experiment, ipfs,
                             store, succession, vote, watch)
from learnledger.cli.console import CliError, console, exit_with

app = typer.Typer(
    name="learnledger",
    help="Collaborative learning for research groups, recorded on an Ethereum contract. "
         "Exit status of every command: 0 done, 1 a check or operation failed, 2 a usage error or "
         "an unreachable chain or store (docs/cli.md).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _flags_without_a_type(display: Any) -> Any:
    """Typer's rich help shows every option's type, a flag's too (``--verify <bool>``); a flag takes
    no value, so it shows none."""
    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else display(self, ctx)

    return display_type_rich


# Typer releases other than the pinned one may draw the help without this method: the help then keeps
# its types, and the command line still starts (it once failed to start on a GPU machine's typer).
if hasattr(TyperOption, "display_type_rich"):
    TyperOption.display_type_rich = _flags_without_a_type(TyperOption.display_type_rich)  # type: ignore[method-assign]


def package_version() -> str:
    try:
        return version("learnledger")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _print_version(asked: bool) -> None:
    if asked:
        console.print(f"learnledger {package_version()}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                      help="Print the version and exit."),
) -> None:
    """Collaborative learning for research groups, recorded on an Ethereum contract."""


for family in (chain, consortium, account, store, ipfs, data, experiment, vote, succession, audit, watch, compete):
    family.register(app)


def main() -> None:
    try:
        app()
    except CliError as error:
        exit_with(error)


if __name__ == "__main__":
    main()

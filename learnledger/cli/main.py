"""Entry point of the ``learnledger`` command: every command family is registered here, once."""

from __future__ import annotations

import typer

from learnledger.cli import (account, audit, chain, compete, consortium, data, experiment, ipfs,
                             store, watch)
from learnledger.cli.console import CliError, exit_with

app = typer.Typer(
    name="learnledger",
    help="Collaborative learning for research groups, recorded on an Ethereum contract.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for family in (chain, consortium, account, store, ipfs, data, experiment, audit, watch, compete):
    family.register(app)


def main() -> None:
    try:
        app()
    except CliError as error:
        exit_with(error)


if __name__ == "__main__":
    main()

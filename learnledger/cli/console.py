"""One console for all human-facing output, one exit path for errors, and the exit-status scheme.

Every command exits with one of three statuses (the table per command is in docs/cli.md):

    0  OK           the command did what it was asked, or every check held
    1  FAILED       a check or an operation failed (a transaction refused, an audit finding, a
                    store that lacks a CID, a training run that broke)
    2  USAGE        the command was called wrongly (a bad value, a missing file, options that do not
                    go together), or a service it needs (chain, store) could not be reached
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

from rich.console import Console
from rich.markup import escape

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)

OK = 0
FAILED = 1
USAGE = 2
UNREACHABLE = 2
"""A chain or store that does not answer counts as a usage error: the command named the wrong place."""
INTERRUPTED = 130
"""Ctrl-C or SIGTERM, after the command has said what it saved (128 + SIGINT, as shells count)."""


class CliError(Exception):
    """An error meant for the user: the message says what is wrong and what to do.

    Raised anywhere under a command; ``main`` prints it (no traceback) and exits with ``exit_code``.
    """

    def __init__(self, message: str, exit_code: int = FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def fail(message: str, exit_code: int = FAILED) -> NoReturn:
    """Stop the command with a clear message on stderr (exit 1 unless told otherwise)."""
    raise CliError(message, exit_code)


def usage(message: str) -> NoReturn:
    """Stop the command because it was called wrongly: the message names the value and the fix (exit 2)."""
    raise CliError(message, USAGE)


def print_error(message: str) -> None:
    """``error: message`` on stderr, the message printed as it is (``[training]`` is not markup)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)


def print_json(value: Any) -> None:
    """Machine-readable output: one JSON document on stdout, nothing else on that line (``--json``)."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


def exit_with(error: CliError) -> NoReturn:
    print_error(str(error))
    sys.stderr.flush()
    sys.exit(error.exit_code)

"""One console for all human-facing output, and one exit path for errors."""

from __future__ import annotations

import sys
from typing import NoReturn

from rich.console import Console
from rich.markup import escape

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)


class CliError(Exception):
    """An error meant for the user: the message says what is wrong and what to do.

    Raised anywhere under a command; ``main`` prints it (no traceback) and exits with ``exit_code``.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def fail(message: str, exit_code: int = 1) -> NoReturn:
    """Stop the command with a clear message on stderr."""
    raise CliError(message, exit_code)


def print_error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}")  # a message may hold [brackets]


def exit_with(error: CliError) -> NoReturn:
    print_error(str(error))
    sys.exit(error.exit_code)

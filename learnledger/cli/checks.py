"""Checks of command-line values, made at the edge before any transaction, training or service starts.

Each one stops the command with exit status 2 and a message that names the option, echoes the value
received and says what would be accepted (as Click's ``BadParameter`` does).
"""

from __future__ import annotations

from pathlib import Path

from learnledger.cli.console import usage

UINT32_MAX = 2**32 - 1
"""The contracts keep windows (seconds) and round counts as uint32."""


def at_least(option: str, value: float | int | None, minimum: float | int, unit: str = "") -> None:
    """``value`` (when given) is ``minimum`` or more."""
    if value is not None and not value >= minimum:
        usage(f"{option} must be at least {minimum}{unit}; received: {value}")


def above_zero(option: str, value: float | int | None, unit: str = " seconds") -> None:
    """``value`` (when given) is a positive number."""
    if value is not None and not value > 0:
        usage(f"{option} must be a number of{unit} above 0; received: {value}")


def within(option: str, value: int | None, low: int, high: int) -> None:
    """``low <= value <= high`` (when given)."""
    if value is not None and not low <= value <= high:
        usage(f"{option} must be between {low} and {high}; received: {value}")


def port(option: str, value: int | None) -> None:
    """A TCP port number (0 asks the system for a free one where a command allows it)."""
    within(option, value, 0, 65535)


def uint32(option: str, value: int | None, minimum: int = 0) -> None:
    """A count or a number of seconds that a contract stores as uint32."""
    within(option, value, minimum, UINT32_MAX)


def existing_file(option: str, path: Path | None) -> None:
    """``path`` (when given) is a file that exists: an input the command reads."""
    if path is None:
        return
    if path.is_dir():
        usage(f"{option} {str(path)!r} is a folder; give a file")
    if not path.exists():
        usage(f"{option} {str(path)!r} does not exist; check the path")


def existing_folder(option: str, path: Path | None) -> None:
    """``path`` (when given) is a folder that exists: a store or data folder the command reads."""
    if path is None:
        return
    if not path.exists():
        usage(f"{option} {str(path)!r} does not exist; check the path, or create the folder first")
    if not path.is_dir():
        usage(f"{option} {str(path)!r} is a file, not a folder")


def writable_file(option: str, path: Path | None) -> None:
    """``path`` (when given) can be written as a file: its folder exists and it is not a folder."""
    if path is None:
        return
    if path.is_dir():
        usage(f"{option} {str(path)!r} is a folder; give a file name")
    parent = path.parent
    if not parent.is_dir():
        usage(f"{option}: the folder {str(parent)!r} does not exist; create it or choose another {option}")


def file_to_make(option: str, path: Path | None) -> None:
    """``path`` (when given) names a file the command writes; its folder is created if missing."""
    if path is None:
        return
    if path.is_dir():
        usage(f"{option} {str(path)!r} is a folder; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        usage(f"{option}: cannot create the folder {str(path.parent)!r}: {error.strerror}")


def folder_to_make(option: str, path: Path | None) -> None:
    """``path`` (when given) is a folder, or nothing yet: a run or keys folder the command fills."""
    if path is not None and path.exists() and not path.is_dir():
        usage(f"{option} {str(path)!r} is a file; give a folder (it is created if missing)")

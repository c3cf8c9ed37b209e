"""Commands of the 'store' family (placeholder: the owning module fills it in)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this family's commands to the main app."""

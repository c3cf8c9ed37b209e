"""The ``learnledger data`` family: make, convert and look at datasets.

Commands live in two modules that share ``data_app``: this one (the LArTPC simulator and the event
display) and ``data_sources`` (MNIST, the DUNE CVN sample and other real-data formats).
"""

from __future__ import annotations

import typer

data_app = typer.Typer(help="Make, convert and look at datasets.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``data`` family to the main app."""
    from learnledger.cli import data_sources  # noqa: F401  (registers its commands on data_app)

    app.add_typer(data_app, name="data")

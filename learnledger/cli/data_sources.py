"""``learnledger data`` commands for real-data sources (placeholder: the datasets module fills it in)."""

from __future__ import annotations

from learnledger.cli.data import data_app  # noqa: F401

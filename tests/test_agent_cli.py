"""``learnledger agent`` refuses bad timing flags before it touches the chain, the store or the data."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from learnledger.cli.console import CliError
from learnledger.cli.main import app


@pytest.mark.parametrize("flag,value", [("--poll", "0"), ("--retry-limit", "0"), ("--retry-limit", "-5")])
def test_agent_refuses_a_pause_that_is_not_above_zero(tmp_path: Path, flag: str, value: str) -> None:
    result = CliRunner().invoke(app, ["agent", "--deployment", str(tmp_path / "absent.json"),
                                      "--group", "cern", flag, value])
    assert isinstance(result.exception, CliError) and result.exception.exit_code == 2, result.output
    assert f"{flag} must be a number of seconds above 0; received: {float(value)}" in str(result.exception)

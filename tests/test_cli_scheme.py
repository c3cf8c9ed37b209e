"""One scheme for every command: documented exit statuses, flags shown as flags, one ``--json``,
``--version``, and the CLI as the top layer that nothing else imports."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from typer.main import get_command
from typer.testing import CliRunner

from learnledger.cli.main import app, package_version

REPO = Path(__file__).resolve().parents[1]


def _commands() -> dict[str, object]:
    """Every leaf command as 'family name' (or 'name'), with its click command."""
    found: dict[str, object] = {}

    def walk(command: object, prefix: str) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            if getattr(sub, "commands", None):
                walk(sub, f"{prefix}{name} ")
            else:
                found[f"{prefix}{name}"] = sub

    walk(get_command(app), "")
    return found


def test_every_command_has_a_row_in_the_exit_status_table_of_docs_cli() -> None:
    table = [line for line in (REPO / "docs" / "cli.md").read_text().splitlines()
             if line.startswith("| `")]
    documented: set[str] = set()
    for row in table:
        first = row.split("|")[1]
        names = re.findall(r"`([^`]+)`", first)
        family = names[0].split()[0] if " " in names[0] else None
        for name in names:
            documented.add(name if " " in name or family is None else f"{family} {name}")
    missing = sorted(set(_commands()) - documented)
    assert not missing, f"commands without a row in docs/cli.md: {missing}"


def test_flags_show_no_type_and_defaults_are_said() -> None:
    runner = CliRunner()
    audit_help = runner.invoke(app, ["audit", "--help"], env={"COLUMNS": "200"}).output
    assert "--verify" in audit_help and "<bool>" not in audit_help
    deploy_help = runner.invoke(app, ["deploy", "--help"], env={"COLUMNS": "200"}).output
    assert "experiment's [[learners]]" in deploy_help  # help text is not eaten as markup either
    launch_help = runner.invoke(app, ["launch", "--help"], env={"COLUMNS": "200"}).output
    assert "Default: none (wait for the last round)" in launch_help
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.strip() == f"learnledger {package_version()}"
    assert package_version() != "unknown"


def test_the_command_line_starts_on_a_typer_without_rich_type_display() -> None:
    """A GPU machine's Typer had no ``TyperOption.display_type_rich``: ``learnledger`` failed to start."""
    script = (
        "from typer.core import TyperOption\n"
        "for kind in TyperOption.__mro__:\n"
        "    if 'display_type_rich' in vars(kind):\n"
        "        delattr(kind, 'display_type_rich')\n"
        "from typer.testing import CliRunner\n"
        "from learnledger.cli.main import app\n"
        "result = CliRunner().invoke(app, ['--version'])\n"
        "assert result.exit_code == 0 and result.output.startswith('learnledger '), result.output\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_machine_readable_output_has_one_spelling() -> None:
    for name, command in _commands().items():
        for param in command.params:  # type: ignore[attr-defined]
            assert "--format" not in param.opts, f"{name} still has --format; use the --json flag"
            if "--json" in param.opts:
                assert param.is_flag, f"{name} --json takes a value; --json is a flag printing JSON on stdout"


def test_nothing_outside_the_cli_imports_it() -> None:
    """The CLI is the top layer: the library below must work without it (a static check of imports)."""
    offenders = []
    package = REPO / "learnledger"
    for path in package.rglob("*.py"):
        if (package / "cli") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if isinstance(node, ast.ImportFrom) and node.module == "learnledger":
                names += [f"learnledger.{alias.name}" for alias in node.names]
            offenders += [f"{path.relative_to(REPO)}:{node.lineno} imports {name}"
                          for name in names if name == "learnledger.cli" or name.startswith("learnledger.cli.")]
    assert not offenders, offenders


def test_the_data_commands_import_no_cycle_and_no_private_name() -> None:
    def imports(module: str) -> set[str]:
        tree = ast.parse((REPO / "learnledger" / "cli" / f"{module}.py").read_text())
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                found |= {f"{node.module}.{alias.name}" for alias in node.names}
        return found

    assert not any(name.startswith("learnledger.cli.data.") or name == "learnledger.cli.data"
                   for name in imports("data_sources")), "data_sources imports data: a cycle"
    assert not any(name.rsplit(".", 1)[-1].startswith("_") for name in imports("data")
                   if name.startswith("learnledger.data")), "cli/data.py imports a private name"

"""The committed artifact is exactly what the pinned compiler makes of the committed sources."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from learnledger.ledger import compile as build
from learnledger.ledger.artifact import ARTIFACT_PATH, CONTRACTS_DIR, load_artifact
from learnledger.ledger.api import LedgerError


def test_artifact_records_the_sources_it_was_built_from() -> None:
    """Cheap and compiler-free: catches a source edited without rebuilding."""
    artifact = json.loads(ARTIFACT_PATH.read_text())
    for name in build.SOURCES:
        text = (CONTRACTS_DIR / name).read_text()
        expected = hashlib.sha256(text.encode()).hexdigest()
        assert artifact["sources"][f"contracts/{name}"]["sha256"] == expected, (
            f"contracts/{name} changed since the artifact was built: "
            "run `python -m learnledger.ledger.compile`"
        )
    assert artifact["settings"] == build.compiler_settings()
    assert artifact["compiler"]["version"].startswith(build.SOLC_VERSION + "+commit.")
    assert artifact["warnings"] == []


@pytest.mark.slow
def test_a_fresh_build_matches_the_committed_artifact_byte_for_byte() -> None:
    try:
        compiler = build.find_compiler()
    except build.CompilerNotFound as missing:
        pytest.skip(f"no pinned compiler here to rebuild with: {missing}")
    assert build.build_artifact(compiler) == ARTIFACT_PATH.read_text()


def test_loading_the_artifact_needs_no_compiler() -> None:
    artifact = load_artifact()
    names = {entry.get("name") for entry in artifact.abi}
    assert {"propose", "vote", "finalize", "roundState", "RoundUnexpectedState", "VoteCast"} <= names
    assert artifact.bytecode.startswith("0x") and len(artifact.deployed_bytecode) > 1000


def test_a_missing_artifact_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="python -m learnledger.ledger.compile"):
        load_artifact(tmp_path / "nothing.json")


def test_no_compiler_gives_the_setup_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(build, "SOLCJS", tmp_path / "no-solcjs")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("solcx.get_installed_solc_versions", lambda: [])
    with pytest.raises(build.CompilerNotFound, match="npm ci"):
        build.find_compiler()


def test_compile_errors_are_reported_with_the_compiler_message(tmp_path: Path) -> None:
    try:
        compiler = build.find_compiler()
    except build.CompilerNotFound as missing:
        pytest.skip(f"no pinned compiler here: {missing}")
    for name in build.SOURCES:
        (tmp_path / name).write_text((CONTRACTS_DIR / name).read_text())
    broken = tmp_path / "CollaborativeLearning.sol"
    broken.write_text(broken.read_text().replace("uint256 private constant BPS", "uint256 private constant BPS BPS"))
    with pytest.raises(LedgerError, match="does not compile"):
        build.build_artifact(compiler, contracts_dir=tmp_path)


PUSH0 = 0x5F
PUSH1, PUSH32 = 0x60, 0x7F


def opcodes(code: bytes) -> list[int]:
    """The opcodes of EVM ``code`` in order, the immediate bytes of PUSH1..PUSH32 skipped."""
    found, at = [], 0
    while at < len(code):
        op = code[at]
        found.append(op)
        at += 1 + (op - PUSH1 + 1 if PUSH1 <= op <= PUSH32 else 0)
    return found


def test_the_disassembler_finds_push0_where_it_is() -> None:
    assert PUSH0 in opcodes(bytes([0x60, 0x5F, 0x5F]))  # PUSH1 0x5f, then a real PUSH0
    assert PUSH0 not in opcodes(bytes([0x60, 0x5F, 0x61, 0x5F, 0x5F]))  # 0x5f only as push data


@pytest.mark.parametrize("path", [ARTIFACT_PATH, build.COMPETITION_ARTIFACT_PATH], ids=lambda p: p.stem)
def test_artifacts_run_on_london_chains_such_as_clique(path: Path) -> None:
    """geth Clique (and other proof-of-authority chains) stop at London: no PUSH0 (Shanghai) may appear.

    The metadata trailer (CBOR, its length in the last two bytes) is data, not code: it is cut off.
    The deployment on a real Clique chain (tests/test_consortium.py) is the end-to-end proof."""
    artifact = json.loads(path.read_text())
    assert artifact["settings"]["evmVersion"] in {"london", "paris"}
    for field in ("bytecode", "deployedBytecode"):
        code = bytes.fromhex(artifact[field].removeprefix("0x"))
        trailer = int.from_bytes(code[-2:], "big") + 2
        assert PUSH0 not in opcodes(code[:-trailer]), (
            f"{path.name} {field} holds PUSH0: a London chain would reject it")

"""The committed ModelCompetition artifact is exactly what the pinned compiler makes of its sources."""

from __future__ import annotations

import hashlib
import json

import pytest

from learnledger.competition.client import competition_artifact
from learnledger.ledger import compile as build
from learnledger.ledger.artifact import CONTRACTS_DIR


def test_the_artifact_records_the_sources_it_was_built_from() -> None:
    artifact = json.loads(build.COMPETITION_ARTIFACT_PATH.read_text())
    for name in build.COMPETITION_SOURCES:
        expected = hashlib.sha256((CONTRACTS_DIR / name).read_text().encode()).hexdigest()
        assert artifact["sources"][f"contracts/{name}"]["sha256"] == expected, (
            f"contracts/{name} changed since the artifact was built: run `python -m learnledger.ledger.compile`"
        )
    assert artifact["contractName"] == "ModelCompetition"
    assert artifact["settings"] == build.compiler_settings(build.COMPETITION_SOURCES)
    assert artifact["warnings"] == []


def test_loading_the_artifact_needs_no_compiler() -> None:
    names = {entry.get("name") for entry in competition_artifact().abi}
    assert {"enter", "commit", "reveal", "finalize", "RevealMismatch", "ScoresRevealed"} <= names


def test_an_unknown_contract_name_is_refused_with_the_choices() -> None:
    with pytest.raises(build.LedgerError, match="choose one of CollaborativeLearning, ModelCompetition"):
        build.build_artifact(contract="Nope")


@pytest.mark.slow
def test_a_fresh_build_matches_the_committed_artifact_byte_for_byte() -> None:
    try:
        compiler = build.find_compiler()
    except build.CompilerNotFound as missing:
        pytest.skip(f"no pinned compiler here to rebuild with: {missing}")
    fresh = build.build_artifact(compiler, contract=build.COMPETITION_NAME)
    assert fresh == build.COMPETITION_ARTIFACT_PATH.read_text()

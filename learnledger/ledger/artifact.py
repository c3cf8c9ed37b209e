"""The committed build of the contract: read at run time, no compiler needed.

``contracts/build/CollaborativeLearning.json`` is written by ``learnledger.ledger.compile`` and
checked by the tests to match a fresh build byte for byte.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from learnledger.ledger.api import LedgerError

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = REPO_ROOT / "contracts"
ARTIFACT_PATH = CONTRACTS_DIR / "build" / "CollaborativeLearning.json"
CONTRACT_NAME = "CollaborativeLearning"


@dataclass(frozen=True)
class ContractArtifact:
    """What deploying and calling the contract needs: its ABI and its bytecodes (0x-hex)."""

    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler_version: str


@lru_cache(maxsize=4)
def load_artifact(path: Path = ARTIFACT_PATH) -> ContractArtifact:
    """Read the built contract; raise LedgerError naming the file and the fix if it is missing."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise LedgerError(
            f"the contract artifact is missing: {path}; build it with "
            "`python -m learnledger.ledger.compile`"
        ) from None
    except json.JSONDecodeError as error:
        raise LedgerError(
            f"the contract artifact {path} is not valid JSON ({error}); rebuild it with "
            "`python -m learnledger.ledger.compile`"
        ) from None
    return ContractArtifact(
        abi=data["abi"],
        bytecode=data["bytecode"],
        deployed_bytecode=data["deployedBytecode"],
        compiler_version=data["compiler"]["version"],
    )

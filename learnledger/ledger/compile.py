"""Build the contracts from source with the pinned compiler and write the committed artifacts.

The compiler is solc 0.8.37, found locally and never downloaded: a native ``solc`` of that version
(installed for py-solc-x, or on PATH) is used through py-solc-x; otherwise the solcjs of
``node_modules`` (the same compiler, built to WebAssembly). Both take the same standard-JSON input
and give the same bytecode.

Run ``python -m learnledger.ledger.compile`` to rewrite the artifacts, ``--check`` to compare.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from learnledger.ledger.api import LedgerError
from learnledger.ledger.artifact import ARTIFACT_PATH, CONTRACT_NAME, CONTRACTS_DIR, REPO_ROOT

SOLC_VERSION = "0.8.37"
"""The pinned compiler; package.json pins the same solcjs."""

EVM_VERSION = "paris"
"""The EVM the artifacts target: the newest without PUSH0, so that every chain a consortium is
likely to run accepts the code. geth Clique stops at London (clique refuses Shanghai), Besu and
Quorum proof-of-authority networks often do too; Paris added no opcode London lacks (it only
renamed DIFFICULTY to PREVRANDAO, which a London chain answers with the block's difficulty), and
newer forks (the embedded chain's and anvil's Prague) run older code unchanged. Shanghai would emit PUSH0,
which a London chain rejects as an invalid opcode. Cost of the older target, measured on a
5-member round: see docs/gas.md."""

OPTIMIZER_RUNS = 10_000
"""One deployment, then many rounds of calls: optimise for the calls. Measured with the IR
pipeline on a 5-member round: runs=200 costs 36,983 gas per vote, 10,000 costs 36,883, 1,000,000
costs 36,878 for a 9% larger contract; 10,000 takes nearly all the gain. The size that matters is
EIP-3860's 49,152 bytes of creation code plus constructor arguments: with sealed votes and
succession the code is 22.6 kB, and a full 256-member roster adds 16.7 kB of arguments (group
names as bytes32 words; as strings they took 33 kB, which did not fit beside this code)."""

VIA_IR = True
"""The IR pipeline packs the round's storage slot better: 36,883 gas per vote against 37,436 with
the legacy code generator (same runs), 242k against 245k per 5-member round."""

SOURCES = ("ICollaborativeLearning.sol", "CollaborativeLearning.sol")
"""The sources of the round protocol's contract (the default build)."""

COMPETITION_NAME = "ModelCompetition"
COMPETITION_SOURCES = ("IModelCompetition.sol", "ModelCompetition.sol")
COMPETITION_ARTIFACT_PATH = CONTRACTS_DIR / "build" / "ModelCompetition.json"

BUILDS: dict[str, tuple[tuple[str, ...], Path]] = {
    CONTRACT_NAME: (SOURCES, ARTIFACT_PATH),
    COMPETITION_NAME: (COMPETITION_SOURCES, COMPETITION_ARTIFACT_PATH),
}
"""Every contract the project deploys: its sources and its committed artifact. Each is compiled
on its own, so a change to one contract leaves the other's artifact byte for byte the same."""

SOLCJS = REPO_ROOT / "node_modules" / ".bin" / "solcjs"


class CompilerNotFound(LedgerError):
    """Neither a native solc of the pinned version nor solcjs is installed."""


def compiler_settings(sources: tuple[str, ...] = SOURCES) -> dict[str, Any]:
    """The solc settings, part of the artifact so a build can be reproduced from it alone."""
    return {
        "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
        "viaIR": VIA_IR,
        "evmVersion": EVM_VERSION,
        "outputSelection": {
            f"contracts/{name}": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
            for name in sources
        },
    }


def standard_json_input(
    contracts_dir: Path = CONTRACTS_DIR, sources: tuple[str, ...] = SOURCES
) -> dict[str, Any]:
    """The compiler's standard-JSON input, sources inlined (no file access by the compiler)."""
    return {
        "language": "Solidity",
        "sources": {
            f"contracts/{name}": {"content": (contracts_dir / name).read_text()} for name in sources
        },
        "settings": compiler_settings(sources),
    }


@dataclass(frozen=True)
class Compiler:
    """A way to run solc: ``kind`` is 'solc' (native, via py-solc-x) or 'solcjs'."""

    kind: str
    path: Path
    version: str

    def compile(self, standard_input: dict[str, Any]) -> dict[str, Any]:
        if self.kind == "solc":
            import solcx

            output: dict[str, Any] = solcx.compile_standard(
                standard_input, solc_binary=self.path, allow_empty=True
            )
            return output
        # solcjs (node) exits before a pipe drains past 64 KiB: give it a file to write to.
        with tempfile.TemporaryFile("w+") as stdout:
            completed = subprocess.run(
                [str(self.path), "--standard-json"],
                input=json.dumps(standard_input),
                stdout=stdout,
                stderr=subprocess.PIPE,
                text=True,
                check=False,
            )
            stdout.seek(0)
            text = stdout.read()
        # solcjs prints a ">>> Cannot retry compilation with SMT ..." line before the JSON.
        if "{" not in text:
            raise LedgerError(
                f"solcjs gave no JSON (exit {completed.returncode}): {completed.stderr.strip()}"
            )
        parsed: dict[str, Any] = json.loads(text[text.index("{") :])
        return parsed


def _version_of(command: list[str]) -> str | None:
    """'0.8.37+commit.f401782d' from a compiler's --version, without the platform suffix."""
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False).stdout
    except OSError:
        return None
    for token in out.replace("Version:", " ").split():
        if token.startswith(SOLC_VERSION + "+commit."):
            return ".".join(token.split(".")[:4])
    return None


def find_compiler() -> Compiler:
    """The pinned solc: native first (py-solc-x's installs, then PATH), else solcjs."""
    candidates: list[Path] = []
    try:
        import solcx

        for installed in solcx.get_installed_solc_versions():
            if str(installed) == SOLC_VERSION:
                candidates.append(Path(solcx.get_executable(installed)))
    except Exception:  # py-solc-x absent or its install folder unreadable: fall through
        pass
    on_path = shutil.which("solc")
    if on_path:
        candidates.append(Path(on_path))
    for native in candidates:
        version = _version_of([str(native), "--version"])
        if version:
            return Compiler("solc", native, version)
    if SOLCJS.exists():
        version = _version_of([str(SOLCJS), "--version"])
        if version:
            return Compiler("solcjs", SOLCJS, version)
    raise CompilerNotFound(
        f"no solc {SOLC_VERSION} found: install the npm parts (`npm ci`, or run scripts/setup.sh) "
        f"for solcjs at {SOLCJS}, or put a native solc {SOLC_VERSION} on PATH"
    )


def build_artifact(
    compiler: Compiler | None = None, contracts_dir: Path = CONTRACTS_DIR, contract: str = CONTRACT_NAME
) -> str:
    """Compile ``contract`` (a key of ``BUILDS``) and return its artifact's exact text (what is
    committed)."""
    if contract not in BUILDS:
        raise LedgerError(f"unknown contract: contract={contract!r}; choose one of {', '.join(BUILDS)}")
    compiler = compiler or find_compiler()
    sources, _ = BUILDS[contract]
    standard_input = standard_json_input(contracts_dir, sources)
    output = compiler.compile(standard_input)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise LedgerError(
            "the contract does not compile:\n" + "\n".join(e["formattedMessage"] for e in errors)
        )
    warnings = [e["formattedMessage"] for e in output.get("errors", []) if e.get("severity") == "warning"]
    built = output["contracts"][f"contracts/{contract}.sol"][contract]
    artifact = {
        "contractName": contract,
        "abi": built["abi"],
        "bytecode": "0x" + built["evm"]["bytecode"]["object"],
        "deployedBytecode": "0x" + built["evm"]["deployedBytecode"]["object"],
        "compiler": {"name": "solc", "version": compiler.version},
        "settings": compiler_settings(sources),
        "sources": {
            name: {"sha256": hashlib.sha256(source["content"].encode()).hexdigest()}
            for name, source in standard_input["sources"].items()
        },
        "warnings": warnings,
    }
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Rewrite every artifact, or with --check report whether each matches a fresh build."""
    args = sys.argv[1:] if argv is None else argv
    compiler = find_compiler()
    stale = 0
    for contract, (_, path) in BUILDS.items():
        fresh = build_artifact(compiler, contract=contract)
        if "--check" in args:
            committed = path.read_text() if path.exists() else ""
            if committed != fresh:
                print(f"{path} is stale: rebuild with `python -m learnledger.ledger.compile`")
                stale += 1
            else:
                print(f"{path} matches a fresh build ({compiler.kind} {compiler.version})")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(fresh)
        print(f"wrote {path} ({compiler.kind} {compiler.version})")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())

"""Run Slither over both contracts with the project's own compiler input and the pinned solcjs.

Slither cannot download solc here, and solcjs has no ``--combined-json``, so this writes each
contract's standard-JSON input (``learnledger.ledger.compile.standard_json_input``, with the AST and
source maps Slither reads) and hands it to crytic-compile's Solc-json platform, with
``scripts/solcjs_as_solc.js`` as the ``solc`` it runs. Slither is optional, not a project
dependency: install it apart, e.g. ``python -m venv /tmp/slither && /tmp/slither/bin/pip install
slither-analyzer``, and give its path with ``--slither``. Triage of every finding: docs/security.md.

    .venv/bin/python scripts/slither.py --slither /tmp/slither/bin/slither
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from learnledger.ledger.compile import BUILDS, standard_json_input

WRAPPER = Path(__file__).resolve().parent / "solcjs_as_solc.js"
OUTPUTS = ["abi", "metadata", "devdoc", "userdoc", "evm.bytecode", "evm.deployedBytecode", "evm.methodIdentifiers"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slither", default=shutil.which("slither"), help="the slither executable")
    args = parser.parse_args()
    if not args.slither or not Path(args.slither).exists():
        print("slither is not installed: `pip install slither-analyzer` (in a venv of its own) and give "
              "--slither PATH", file=sys.stderr)
        return 2
    worst = 0
    with tempfile.TemporaryDirectory() as folder:
        for name, (sources, _) in BUILDS.items():
            request = standard_json_input(sources=sources)
            request["settings"]["outputSelection"] = {"*": {"": ["ast"], "*": OUTPUTS}}
            target = Path(folder) / f"{name}.json"
            target.write_text(json.dumps(request))
            print(f"== {name}", flush=True)
            done = subprocess.run([args.slither, str(target), "--solc", str(WRAPPER),
                                   "--compile-force-framework", "Solc-json"], check=False)
            worst = max(worst, 1 if done.returncode else 0)  # slither exits nonzero when it finds anything
    return worst


if __name__ == "__main__":
    sys.exit(main())

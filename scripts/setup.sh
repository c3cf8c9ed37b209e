#!/usr/bin/env bash
# Set up a fresh checkout: a virtual environment at .venv with the project, its Keras backend
# (TensorFlow CPU) and the test tools, pinned by constraints.txt; and the npm parts that package.json
# pins (solcjs to compile the contract, anvil for the devnet). Running it again is harmless.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[tensorflow,dev]"
npm ci --no-audit --no-fund --loglevel=error
echo "set-up done: .venv and node_modules are ready"

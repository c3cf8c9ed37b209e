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
# npm ci installs exactly the lockfile. Where the registry serves only this platform's anvil build
# (the other platforms' optional packages answer 404), npm cannot list them in the lockfile and
# npm ci refuses it as out of sync; npm install then resolves the same pinned versions.
if ! npm ci --no-audit --no-fund --loglevel=error 2>/dev/null; then
    echo "npm ci refused the lockfile (optional anvil builds for other platforms missing here); using npm install"
    npm install --no-audit --no-fund --no-save --loglevel=error
fi
test -x node_modules/.bin/anvil && test -x node_modules/.bin/solcjs
echo "set-up done: .venv and node_modules are ready"

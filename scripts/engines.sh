#!/usr/bin/env bash
# Build the pinned engines a real consortium runs, from the Go module proxy, into .engines/bin
# (git-ignored): geth (a Clique signer for the consortium chain) and kubo (one IPFS node per lab).
# Only the tests and commands that run a network of nodes need them; `learnledger run` and the rest
# of the tests need neither, nor Go. Running it again is a no-op once both are there.
set -euo pipefail
cd "$(dirname "$0")/.."

GETH_VERSION=v1.13.15   # the last geth that can seal Clique (v1.14 removed it)
# v0.43.1 replaces go-libp2p by a fork commit the Go module proxy does not serve (403); it does build
# with that replace dropped and go-libp2p v0.50.0 required (the release with the same quic-go), but
# v0.43.0 is the newest release that builds exactly as released, so it is the one pinned.
KUBO_VERSION=v0.43.0
BIN="$PWD/.engines/bin"

if ! command -v go >/dev/null 2>&1; then
    echo "engines: Go is not installed, so geth and kubo cannot be built;" \
         "the tests that need them will skip, saying so. Install Go (1.22 or newer) and run this again." >&2
    exit 0
fi
mkdir -p "$BIN"

have() {  # have BINARY TEXT: the binary exists and its version output names TEXT
    [ -x "$BIN/$1" ] && "$BIN/$1" version 2>/dev/null | grep -q -- "$2"
}

if have geth "${GETH_VERSION#v}"; then
    echo "engines: geth ${GETH_VERSION} already built"
else
    echo "engines: building geth ${GETH_VERSION} (a few minutes the first time; Go's caches make it fast after)"
    start=$SECONDS
    # Go >= 1.23 refuses the runtime linknames geth 1.13 uses; -checklinkname=0 lets them link.
    GOBIN="$BIN" GOFLAGS=-mod=mod go install -ldflags=-checklinkname=0 \
        "github.com/ethereum/go-ethereum/cmd/geth@${GETH_VERSION}"
    echo "engines: geth built in $((SECONDS - start)) s"
fi

if have ipfs "${KUBO_VERSION#v}"; then
    echo "engines: kubo ${KUBO_VERSION} already built"
else
    echo "engines: building kubo ${KUBO_VERSION} (a few minutes the first time)"
    start=$SECONDS
    # kubo's go.mod has exclude (and, in v0.43.1, replace) directives, which `go install
    # pkg@version` refuses; so fetch the module's source through the proxy and build inside it,
    # where its go.mod applies.
    source=$(go mod download -json "github.com/ipfs/kubo@${KUBO_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    # Built with no telemetry endpoint (kubo's documented switch), so no node can report home.
    (cd "$source" && GOFLAGS= go build -trimpath \
        -ldflags "-X github.com/ipfs/kubo/plugin/plugins/telemetry.defaultEndpoint=" \
        -o "$BIN/ipfs" ./cmd/ipfs)
    echo "engines: kubo built in $((SECONDS - start)) s"
fi
"$BIN/geth" version | sed -n 's/^Version: /engines: geth /p'
"$BIN/ipfs" version

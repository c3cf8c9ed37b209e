#!/usr/bin/env bash
# Build the pinned engines a real consortium runs, from the Go module proxy, into .engines/bin
# (git-ignored): geth (a Clique signer for the consortium chain) and kubo (one IPFS node per lab).
# Only the tests and commands that run a network of nodes need them; `learnledger run` and the rest
# of the tests need neither, nor Go. Running it again is a no-op once both are there.
set -euo pipefail
cd "$(dirname "$0")/.."

GETH_VERSION=v1.13.15   # the last geth that can seal Clique (v1.14 removed it)
KUBO_VERSION=v0.43.1
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
    # `go install kubo@v0.43.1` is refused: its go.mod replaces go-libp2p by a fork commit (made for
    # quic-go v0.62) that the Go module proxy does not serve. go-libp2p v0.50.0 is the release that
    # requires that same quic-go v0.62.0 and webtransport-go v0.13.0, so build kubo's own module with
    # the replace dropped and v0.50.0 required; everything else is kubo's go.sum as released.
    src_mod=$(go mod download -json "github.com/ipfs/kubo@${KUBO_VERSION}" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    src=".engines/src/kubo-${KUBO_VERSION}"
    rm -rf "$src" && mkdir -p "$(dirname "$src")" && cp -r "$src_mod" "$src" && chmod -R u+w "$src"
    (
        cd "$src"
        go mod edit -dropreplace github.com/libp2p/go-libp2p \
                    -require=github.com/libp2p/go-libp2p@v0.50.0
        GOFLAGS=-mod=mod go build -trimpath -o "$BIN/ipfs" ./cmd/ipfs
    )
    echo "engines: kubo built in $((SECONDS - start)) s"
fi
"$BIN/geth" version | sed -n 's/^Version: /engines: geth /p'
"$BIN/ipfs" version

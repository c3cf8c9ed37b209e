"""Moving a proposal between real kubo nodes by bitswap: one voter, then a voter with two sources, then two at once.

Starts three kubo nodes on this machine, each in its own temporary repository with a private
configuration written here: the ``test`` profile (API, gateway and swarm on 127.0.0.1 only, empty
Bootstrap, MDNS off, AutoConf off), no routing (``Routing.Type = none``: peers are connected by
hand), no relay, and a private-network ``swarm.key`` with ``LIBP2P_FORCE_PNET=1`` so nothing can dial
out or in. Node A adds ``--mb`` MB of random bytes (incompressible, as float weights are) and:

1. B fetches it from A alone (the baseline: one copy, the proposer serving);
2. C fetches it with A and B both holding it (how much does bitswap take from the second source?);
3. a fresh object: B and C fetch it from A at the same time (two voters sharing the proposer's upload).

Times are ratios to the baseline. On loopback the link is not the limit: what is measured is what a
node's CPU (hashing, the noise/TLS encryption, yamux) lets bitswap move, on this shared 2-core
machine. The ``ipfs`` binary is found in ``.engines/bin`` (``scripts/engines.sh``) or on PATH.

    .venv/bin/python scripts/bench_bitswap.py                # 100 MB
    .venv/bin/python scripts/bench_bitswap.py --mb 20 --ipfs /work/main/.engines/bin/ipfs
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def find_ipfs(given: str | None) -> str | None:
    if given:
        return given
    local = ROOT / ".engines" / "bin" / "ipfs"
    return str(local) if local.exists() else shutil.which("ipfs")


class Node:
    """One kubo daemon in its own repository, private and loopback-only."""

    def __init__(self, ipfs: str, home: Path, swarm_key: str) -> None:
        self.ipfs = ipfs
        self.home = home
        self.env = {**os.environ, "IPFS_PATH": str(home), "LIBP2P_FORCE_PNET": "1"}
        self.run("init", "--profile=test", "-e")
        for key, value in (
            ("Routing.Type", '"none"'),
            ("Swarm.RelayClient.Enabled", "false"),
            ("Swarm.RelayService.Enabled", "false"),
            ("Bootstrap", "[]"),
            ("Discovery.MDNS.Enabled", "false"),
        ):
            self.run("config", "--json", key, value)
        (home / "swarm.key").write_text(swarm_key)
        self.log = open(home / "daemon.log", "w")
        self.process = subprocess.Popen([ipfs, "daemon"], env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not (home / "api").exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"kubo did not start; see {home / 'daemon.log'}")
            time.sleep(0.2)
        self.id = json.loads(self.run("id"))
        self.addr = next(a for a in self.id["Addresses"] if a.startswith("/ip4/127.0.0.1/tcp/"))

    def run(self, *args: str) -> str:
        return subprocess.run([self.ipfs, *args], env=self.env, capture_output=True, text=True, check=True).stdout

    def fetch(self, cid: str) -> float:
        """Seconds to pull every block of ``cid`` (pinning it, as a voter's agent would keep it)."""
        started = time.perf_counter()
        self.run("pin", "add", "--progress=false", cid)
        return time.perf_counter() - started

    def received_from(self, peer: "Node") -> int:
        return int(json.loads(self.run("bitswap", "ledger", peer.id["ID"], "--enc=json"))["Recv"])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100, help="object size in MB (default 100)")
    parser.add_argument("--ipfs", default=None, help="the kubo binary (default: .engines/bin/ipfs, else PATH)")
    args = parser.parse_args()
    ipfs = find_ipfs(args.ipfs)
    if ipfs is None:
        print("no kubo binary: run scripts/engines.sh (or pass --ipfs PATH)", file=sys.stderr)
        return 2
    swarm_key = "/key/swarm/psk/1.0.0/\n/base16/\n" + secrets.token_hex(32) + "\n"
    size = args.mb * 1_000_000
    with tempfile.TemporaryDirectory(prefix="bitswap-") as tmp:
        nodes: list[Node] = []
        try:
            for name in "abc":
                nodes.append(Node(ipfs, Path(tmp) / name, swarm_key))
            a, b, c = nodes
            for node in (b, c):
                node.run("swarm", "connect", f"{a.addr}/p2p/{a.id['ID']}")
            c.run("swarm", "connect", f"{b.addr}/p2p/{b.id['ID']}")
            figures: dict[str, float] = {}
            for label in ("first", "second"):
                blob = Path(tmp) / f"{label}.bin"
                blob.write_bytes(os.urandom(size))
                started = time.perf_counter()
                cid = a.run("add", "-Q", "--pin", str(blob)).strip()
                figures[f"add {label}"] = time.perf_counter() - started
                if label == "first":
                    figures["B from A"] = b.fetch(cid)
                    figures["C from A and B"] = c.fetch(cid)
                    figures["C's bytes from B"] = c.received_from(b)
                    figures["C's bytes from A"] = c.received_from(a)
                else:
                    started = time.perf_counter()
                    both = [subprocess.Popen([ipfs, "pin", "add", "--progress=false", cid], env=n.env,
                                             stdout=subprocess.DEVNULL) for n in (b, c)]
                    for p in both:
                        p.wait()
                    figures["B and C at once from A"] = time.perf_counter() - started
        finally:
            for node in nodes:
                node.stop()
    base = figures["B from A"]
    mb = size / 1e6
    print(f"| transfer ({args.mb} MB, 3 private kubo {Path(ipfs).name} nodes on loopback) | seconds | MB/s | ratio to one fetch |")
    print("|---|---:|---:|---:|")
    print(f"| A adds it (chunk, hash, store) | {figures['add first']:.1f} | {mb / figures['add first']:.0f} | {figures['add first'] / base:.2f} |")
    print(f"| B fetches from A alone | {base:.1f} | {mb / base:.0f} | 1.00 |")
    print(f"| C fetches with A and B holding it | {figures['C from A and B']:.1f} | {mb / figures['C from A and B']:.0f} | "
          f"{figures['C from A and B'] / base:.2f} |")
    print(f"| B and C fetch a new object from A at once | {figures['B and C at once from A']:.1f} | "
          f"{2 * mb / figures['B and C at once from A']:.0f} (both) | {figures['B and C at once from A'] / base:.2f} |")
    from_b, from_a = figures["C's bytes from B"], figures["C's bytes from A"]
    print(f"\nC received {from_b / 1e6:.0f} MB from B and {from_a / 1e6:.0f} MB from A "
          f"({(from_a + from_b) / size:.2f}x the object; above 1 is blocks received twice)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Real kubo daemons for tests: found where ``scripts/engines.sh`` builds them, always stopped after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from learnledger.store.kubo_node import ENGINES_BIN, KUBO_VERSION, KuboNode, find_ipfs

IPFS = find_ipfs()
needs_kubo = pytest.mark.skipif(
    IPFS is None,
    reason=f"kubo (ipfs) is not built: run scripts/engines.sh (needs Go) to build kubo "
           f"v{KUBO_VERSION} into {ENGINES_BIN}")
"""Marks a test that runs real kubo daemons."""


@contextmanager
def kubo_nodes(folder: Path, count: int, swarm_key: str | None = None,
               connect: bool = True) -> Iterator[list[KuboNode]]:
    """``count`` private kubo nodes on loopback, each in ``folder/nodeK``, connected to each other."""
    nodes = [KuboNode(folder / f"node{k}", swarm_key=swarm_key) for k in range(count)]
    try:
        for node in nodes:
            node.start()
        if connect:
            for k, node in enumerate(nodes):
                for other in nodes[k + 1:]:
                    node.connect(other.multiaddr)
        yield nodes
    finally:
        for node in nodes:
            node.stop()

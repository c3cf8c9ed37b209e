"""One private kubo node per lab for ``learnledger launch --ipfs-per-lab``, connected to each other.

The nodes share a swarm key made for this run, so they talk to each other and to nothing else;
each keeps the others on its peering list, so a lab whose node restarts is found again. Their repos
are ``RUN/ipfs/GROUP``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from learnledger.store.kubo_node import KuboNode, new_swarm_key


class LabNodes:
    """Start one ``KuboNode`` per group under ``folder`` on entering; stop them all on leaving."""

    def __init__(self, folder: Path, groups: Sequence[str], host: str = "127.0.0.1") -> None:
        key = new_swarm_key()
        self.nodes = {group: KuboNode(folder / group, host=host, swarm_key=key) for group in groups}

    @property
    def urls(self) -> dict[str, str]:
        """Each group's node's RPC URL."""
        return {group: node.rpc_url for group, node in self.nodes.items()}

    def __enter__(self) -> LabNodes:
        try:
            for node in self.nodes.values():
                node.start()
            nodes = list(self.nodes.values())
            for k, node in enumerate(nodes):
                for other in nodes[k + 1:]:
                    node.connect(other.multiaddr)
                    other.connect(node.multiaddr, keep=True)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        for node in self.nodes.values():
            node.stop()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

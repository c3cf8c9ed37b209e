"""The weight store seen from a learner: put bytes, get them back verified, by content identifier."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


class StoreError(Exception):
    """Root of every store error; the message names the CID or URL and what to do."""


class ContentNotFound(StoreError):
    """No content is known for this CID (never stored here, or removed, or the node lacks it)."""


class ContentCorrupted(StoreError):
    """The bytes returned for a CID do not hash to that CID."""


class StoreUnreachable(StoreError):
    """The store (an IPFS node, or the store server) could not be reached after bounded retries."""


@runtime_checkable
class WeightStore(Protocol):
    """Content-addressed storage with kubo-identical CIDs."""

    def put(self, data: bytes, pin: bool = True) -> str:
        """Store ``data`` and return its CID (CIDv1, raw leaves, unless the store was set to v0)."""
        ...

    def get(self, cid: str) -> bytes:
        """Return the bytes for ``cid``, verified against it; raises ContentNotFound/Corrupted."""
        ...

    def pin(self, cid: str) -> None:
        """Keep ``cid`` from removal."""
        ...


@runtime_checkable
class PinningStore(WeightStore, Protocol):
    """A store that can also let content go: a lab's own IPFS node, or the embedded store."""

    def unpin(self, cid: str) -> None:
        """Let ``cid`` be removed at the next garbage collection; ContentNotFound if not pinned."""
        ...

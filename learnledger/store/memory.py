"""A store that lives in a dict: the no-store baseline of the overhead benchmark, and nothing else.

It computes the same CIDs as the other stores (so everything that reads CIDs works unchanged) but
skips the disk; it forgets everything when the process ends.
"""

from __future__ import annotations

from learnledger.store.api import ContentNotFound
from learnledger.store.cid import compute_cid


class MemoryStore:
    """Content-addressed bytes in memory (implements ``api.WeightStore``)."""

    def __init__(self, cid_version: int = 1) -> None:
        self.cid_version = cid_version
        self._blobs: dict[str, bytes] = {}

    def put(self, data: bytes, pin: bool = True) -> str:
        cid = compute_cid(data, version=self.cid_version)
        self._blobs[cid] = bytes(data)
        return cid

    def get(self, cid: str) -> bytes:
        try:
            return self._blobs[cid]
        except KeyError:
            raise ContentNotFound(f"no content for CID {cid} in this in-memory store") from None

    def pin(self, cid: str) -> None:
        if cid not in self._blobs:
            raise ContentNotFound(f"cannot pin {cid}: no content for it in this in-memory store")

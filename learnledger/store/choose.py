"""Which store a command means: a Kubo RPC node when given its URL, else the embedded directory."""

from __future__ import annotations

from pathlib import Path

from learnledger.store.api import WeightStore


def open_store(ipfs_url: str | None, store_dir: Path | None, cid_version: int = 1) -> WeightStore:
    """A Kubo RPC client for ``ipfs_url``, else the embedded store at ``store_dir`` (or its default)."""
    if ipfs_url is not None:
        from learnledger.store.kubo import KuboStore

        return KuboStore(ipfs_url, cid_version=cid_version)
    from learnledger.store.local import LocalStore

    return LocalStore(store_dir, cid_version=cid_version)

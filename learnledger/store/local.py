"""The embedded weight store: a content-addressed directory that needs no daemon.

Layout under the root (one file per stored object, named by its CID)::

    objects/<2 chars>/<cid>   the bytes; the shard is the CID's next-to-last two characters,
                              as kubo's flatfs shards blocks, so no directory grows too large
    pins/<cid>                an empty marker: this CID is kept by ``gc``
    tmp/                      files being written; renamed into objects/ only when complete

Several processes on one host may share a root: every object is written to a private temporary
file and moved into place with ``os.replace``, which is atomic, so a reader sees either nothing or
the whole file; a pin marker is written *before* its object, so a concurrent ``gc`` never removes
content that is being pinned. Every read is checked against its CID, so a file damaged on disk
is reported (ContentCorrupted), never served.
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from learnledger.store.api import ContentCorrupted, ContentNotFound, StoreError
from learnledger.store.cid import CID_VERSIONS, InvalidCid, cid_version, compute_cid, verify_cid

STORE_ENV = "LEARNLEDGER_STORE"
"""Environment variable naming the embedded store's root directory."""

STALE_TEMP_SECONDS = 3600.0
"""Temporary files older than this are leftovers of a crashed writer; ``gc`` removes them."""

_OVERLAP_FROM = 1 << 20  # below 1 MiB a worker thread costs more than it saves
_WRITE_LIMIT = 1 << 30  # write in 1 GiB pieces: one write(2) moves at most ~2 GiB on Linux


class ContentPinned(StoreError):
    """The content is pinned, so it is not removed; unpin it first."""


def default_store_root() -> Path:
    """Where the embedded store lives unless told otherwise.

    ``$LEARNLEDGER_STORE`` if set, else ``$XDG_DATA_HOME/learnledger/store``, else
    ``~/.local/share/learnledger/store``.
    """
    explicit = os.environ.get(STORE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "learnledger" / "store"


class LocalStore:
    """A content-addressed directory implementing ``WeightStore`` with kubo-identical CIDs.

    Args:
        root: the store's directory, created if missing (default ``default_store_root()``).
        cid_version: CID version of new content, 1 (default, raw leaves) or 0.
        fsync: flush every object to disk before it becomes visible (default False: reads are
            verified, so a file torn by a power cut is reported as corrupted, never served).
    """

    def __init__(self, root: Path | str | None = None, cid_version: int = 1, fsync: bool = False):
        if cid_version not in CID_VERSIONS:
            raise InvalidCid(f"CID version must be 0 or 1, received: cid_version={cid_version!r}")
        self.root = Path(root).expanduser() if root is not None else default_store_root()
        self.cid_version = cid_version
        self.fsync = fsync
        self._objects = self.root / "objects"
        self._pins = self.root / "pins"
        self._tmp = self.root / "tmp"
        for directory in (self._objects, self._pins, self._tmp):
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(
                    f"cannot create the store directory {directory}: {error.strerror}; choose "
                    f"another root (--store DIR or ${STORE_ENV})") from error

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r}, cid_version={self.cid_version})"

    # ------------------------------------------------------------------------- WeightStore

    def put(self, data: bytes, pin: bool = True, cid_version: int | None = None) -> str:
        """Store ``data`` and return its CID (the store's CID version unless one is given).

        The CID is computed on a worker thread while the bytes are written to a temporary file,
        so a large put costs about one pass, not two, where a second core is free.
        """
        version = self.cid_version if cid_version is None else cid_version
        if memoryview(data).nbytes < _OVERLAP_FROM:
            cid = compute_cid(data, version)
            temporary = self._write_temporary(data, cid[-12:])
        else:
            with ThreadPoolExecutor(max_workers=1) as worker:
                hashing = worker.submit(compute_cid, data, version)
                temporary = self._write_temporary(data, "incoming")
                try:
                    cid = hashing.result()
                except BaseException:
                    temporary.unlink(missing_ok=True)
                    raise
        self._publish(temporary, cid, pin)
        return cid

    def get(self, cid: str) -> bytes:
        """The bytes named ``cid``, verified against it.

        Raises:
            InvalidCid: ``cid`` is not a CID.
            ContentNotFound: nothing is stored under ``cid``.
            ContentCorrupted: the stored file no longer hashes to ``cid``.
        """
        path = self.path_of(cid)
        with self.open(cid) as file:
            data = file.read()
        try:
            verify_cid(data, cid)
        except ContentCorrupted as error:
            raise ContentCorrupted(
                f"the stored file {path} is damaged: {error}. Remove it "
                f"('learnledger store rm {cid} --force') and add the original again") from None
        return data

    def open(self, cid: str) -> BinaryIO:
        """The stored file of ``cid``, unverified (for serving it as is; ``get`` verifies).

        Raises:
            ContentNotFound: nothing is stored under ``cid``.
        """
        try:
            return open(self.path_of(cid), "rb")
        except FileNotFoundError:
            raise ContentNotFound(
                f"{cid} is not in the store at {self.root}: it was never added here or was "
                "removed; add the file ('learnledger store add FILE') or fetch it from the "
                "node of the group that proposed it (--ipfs URL)") from None

    def pin(self, cid: str) -> None:
        """Keep ``cid`` from ``gc``; raises ContentNotFound if it is not stored here."""
        marker = self.pin_marker(cid)
        marker.touch()
        if not self.path_of(cid).exists():
            marker.unlink(missing_ok=True)
            raise ContentNotFound(
                f"cannot pin {cid}: it is not in the store at {self.root}; add it first")

    # ------------------------------------------------------------------------- housekeeping

    def has(self, cid: str) -> bool:
        """True if an object is stored under ``cid`` (not verified: ``get`` verifies)."""
        return self.path_of(cid).exists()

    def unpin(self, cid: str) -> None:
        """Let ``gc`` remove ``cid`` (no error if it was not pinned)."""
        self.pin_marker(cid).unlink(missing_ok=True)

    def pins(self) -> list[str]:
        """Every pinned CID, sorted."""
        return sorted(path.name for path in self._pins.iterdir() if _is_cid(path.name))

    def cids(self) -> list[str]:
        """Every stored CID, pinned or not, sorted."""
        return sorted(path.name for path in self._objects.glob("*/*") if _is_cid(path.name))

    def remove(self, cid: str, force: bool = False) -> None:
        """Delete the content named ``cid``.

        Raises:
            ContentPinned: ``cid`` is pinned and ``force`` is False.
            ContentNotFound: nothing is stored under ``cid``.
        """
        if self.pin_marker(cid).exists():
            if not force:
                raise ContentPinned(
                    f"{cid} is pinned, so it is kept; unpin it first, or remove it with force")
            self.unpin(cid)
        try:
            self.path_of(cid).unlink()
        except FileNotFoundError:
            raise ContentNotFound(f"cannot remove {cid}: it is not in the store at {self.root}") \
                from None

    def gc(self) -> list[str]:
        """Remove every unpinned object (and stale temporary files); return the removed CIDs."""
        pinned = set(self.pins())
        removed = []
        for cid in self.cids():
            if cid not in pinned:
                self.path_of(cid).unlink(missing_ok=True)
                removed.append(cid)
        horizon = time.time() - STALE_TEMP_SECONDS
        for leftover in self._tmp.iterdir():
            try:
                if leftover.stat().st_mtime < horizon:
                    leftover.unlink()
            except FileNotFoundError:
                pass
        return removed

    # ------------------------------------------------------------------------- paths

    def path_of(self, cid: str) -> Path:
        """Where the object named ``cid`` lives (checks that ``cid`` is a CID first)."""
        cid_version(cid)
        return self._objects / cid[-3:-1] / cid

    def pin_marker(self, cid: str) -> Path:
        cid_version(cid)
        return self._pins / cid

    def _write_temporary(self, data: bytes, label: str) -> Path:
        """Write ``data`` to a new private file under tmp/ (removed again if anything fails)."""
        descriptor, name = tempfile.mkstemp(dir=self._tmp, prefix=label + ".")
        temporary = Path(name)
        try:
            with open(descriptor, "wb", buffering=0) as file:
                view = memoryview(data).cast("B")
                for start in range(0, len(view), _WRITE_LIMIT):
                    piece = view[start:start + _WRITE_LIMIT]
                    while piece:
                        piece = piece[file.write(piece):]
                if self.fsync:
                    os.fsync(file.fileno())
            os.chmod(temporary, 0o444)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return temporary

    def _publish(self, temporary: Path, cid: str, pin: bool) -> None:
        """Move a complete temporary file into place as ``cid``; the pin marker goes first."""
        try:
            if pin:
                self.pin_marker(cid).touch()
            path = self.path_of(cid)
            path.parent.mkdir(exist_ok=True)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise


def _is_cid(name: str) -> bool:
    try:
        cid_version(name)
    except InvalidCid:
        return False
    return True

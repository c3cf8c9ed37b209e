"""Content identifiers exactly as kubo's ``ipfs add`` computes them, and checks of CID strings.

A CID names bytes by their hash, so anyone can check that bytes fetched from anywhere are the
bytes that were named. We want the *same* CID a real IPFS node gives for the same file, so a group
running kubo and a group on the embedded store agree on every name:

- CIDv1 (the default, ``ipfs add --cid-version=1``): 256 KiB chunks stored as raw blocks; a file of
  one chunk is that raw block (``bafkrei...``), a larger one a balanced dag-pb tree of up to 174
  links per node (``bafybei...``).
- CIDv0 (``ipfs add``, on request): the same tree with every chunk wrapped in a UnixFS dag-pb node,
  named by the bare base58 multihash (``Qm...``).

The hashing is ``aleph-cid``'s (Rust, streaming, it releases the GIL); the tests check it against
CIDs that kubo itself produced and against an independent implementation on ``hashlib``.
"""

from __future__ import annotations

import base64
import re

import aleph_cid

from learnledger.store.api import ContentCorrupted, StoreError

CID_VERSIONS = (0, 1)

_BASE58_V0 = re.compile(r"Qm[1-9A-HJ-NP-Za-km-z]{44}")
_BASE32_V1 = re.compile(r"b[a-z2-7]{58}")
_RAW_CODEC = 0x55
_DAG_PB_CODEC = 0x70
_SHA2_256 = (0x12, 0x20)


class InvalidCid(StoreError, ValueError):
    """The text is not a CID this store can name (kubo's default CIDv0 or base32 CIDv1, sha2-256)."""


_PIECE = 4 * 1024 * 1024


class CidBuilder:
    """The CID of bytes that arrive in pieces (from a socket, a file), without holding them all."""

    def __init__(self, version: int = 1) -> None:
        if version == 1:
            self._hasher = aleph_cid.CidHasher.for_ipfs_v1_raw_leaves()
        elif version == 0:
            self._hasher = aleph_cid.CidHasher.for_ipfs()
        else:
            raise InvalidCid(f"CID version must be 0 or 1, received: version={version!r}")
        self.size = 0

    def update(self, piece: bytes | bytearray | memoryview) -> None:
        if isinstance(piece, bytes):
            self._hasher.update(piece)
        else:  # aleph-cid takes bytes only: copy in pieces small enough to stay in cache
            view = memoryview(piece).cast("B")
            for start in range(0, len(view), _PIECE):
                self._hasher.update(bytes(view[start:start + _PIECE]))
        self.size += len(piece) if isinstance(piece, (bytes, bytearray)) else memoryview(piece).nbytes

    def finalize(self) -> str:
        return self._hasher.finalize()


def compute_cid(data: bytes | bytearray | memoryview, version: int = 1) -> str:
    """The CID kubo's ``ipfs add --cid-version=<version>`` gives ``data`` (v1 with raw leaves)."""
    builder = CidBuilder(version)
    builder.update(data)
    return builder.finalize()


CHUNK_SIZE = 256 * 1024
"""kubo's default chunk size (``--chunker=size-262144``)."""

MAX_LINKS = 174
"""Most links in one node of kubo's balanced file DAG."""


def dag_size(length: int, version: int = 1) -> int:
    """The cumulative size kubo reports for a file of ``length`` bytes (add's ``Size``).

    It counts every block of the file's DAG: the chunks (wrapped in UnixFS nodes for CIDv0) and
    the dag-pb nodes above them, which depend only on the length, so no hashing is needed.
    """
    chunks = [CHUNK_SIZE] * (length // CHUNK_SIZE) + ([length % CHUNK_SIZE] if length % CHUNK_SIZE
                                                       else [])
    if not chunks:
        chunks = [0]
    if version == 1:
        nodes = [(size, size) for size in chunks]  # (cumulative, file bytes): raw leaves
        link_hash_length = 36                      # CIDv1 binary: version, codec, multihash
    else:
        nodes = [(_leaf_node_length(size), size) for size in chunks]
        link_hash_length = 34                      # bare multihash
    while len(nodes) > 1:
        nodes = [_parent(nodes[start:start + MAX_LINKS], link_hash_length)
                 for start in range(0, len(nodes), MAX_LINKS)]
    return nodes[0][0]


def _varint_length(value: int) -> int:
    return max(1, (value.bit_length() + 6) // 7)


def _field_length(payload: int) -> int:
    return 1 + _varint_length(payload) + payload


def _leaf_node_length(size: int) -> int:
    unixfs = 2 + (_field_length(size) if size else 0) + 1 + _varint_length(size)
    return _field_length(unixfs)


def _parent(children: list[tuple[int, int]], link_hash_length: int) -> tuple[int, int]:
    file_bytes = sum(size for _, size in children)
    unixfs = 2 + 1 + _varint_length(file_bytes) + sum(1 + _varint_length(s) for _, s in children)
    links = sum(_field_length(_field_length(link_hash_length) + 2 + 1 + _varint_length(cumulative))
                for cumulative, _ in children)
    length = links + _field_length(unixfs)
    return length + sum(cumulative for cumulative, _ in children), file_bytes


def cid_version(cid: str) -> int:
    """Check that ``cid`` is a CID of the kind ``ipfs add`` makes, and return its version.

    Raises:
        InvalidCid: anything else (the message echoes the text and says what a CID looks like).
    """
    if not isinstance(cid, str):
        raise InvalidCid(f"a CID is a string, received {type(cid).__name__}: {cid!r:.80}")
    if _BASE58_V0.fullmatch(cid):
        return 0
    if _BASE32_V1.fullmatch(cid):
        raw = base64.b32decode(cid[1:].upper() + "=" * (-len(cid[1:]) % 8))
        if raw[0] == 1 and raw[1] in (_RAW_CODEC, _DAG_PB_CODEC) and tuple(raw[2:4]) == _SHA2_256:
            return 1
    raise InvalidCid(
        f"not a CID: {cid!r:.100}. Expected what 'ipfs add' prints: CIDv0 'Qm...' (46 characters) "
        "or base32 CIDv1 'bafy...'/'bafk...' (59 characters) with sha2-256; for another "
        "encoding run 'ipfs cid base32 CID' first")


def verify_cid(data: bytes | bytearray | memoryview, cid: str) -> None:
    """Check that ``data`` is what ``cid`` names.

    Raises:
        InvalidCid: ``cid`` is not a CID.
        ContentCorrupted: the bytes hash to another CID (the message gives both).
    """
    actual = compute_cid(data, cid_version(cid))
    if actual != cid:
        raise ContentCorrupted(
            f"bytes for {cid} hash to {actual} ({memoryview(data).nbytes:,} bytes): they were truncated or "
            "altered; discard them and fetch again from a trusted store")

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


def compute_cid(data: bytes, version: int = 1) -> str:
    """The CID kubo's ``ipfs add --cid-version=<version>`` gives ``data`` (v1 with raw leaves)."""
    if version == 1:
        hasher = aleph_cid.CidHasher.for_ipfs_v1_raw_leaves()
    elif version == 0:
        hasher = aleph_cid.CidHasher.for_ipfs()
    else:
        raise InvalidCid(f"CID version must be 0 or 1, received: version={version!r}")
    hasher.update(data)
    return hasher.finalize()


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


def verify_cid(data: bytes, cid: str) -> None:
    """Check that ``data`` is what ``cid`` names.

    Raises:
        InvalidCid: ``cid`` is not a CID.
        ContentCorrupted: the bytes hash to another CID (the message gives both).
    """
    actual = compute_cid(data, cid_version(cid))
    if actual != cid:
        raise ContentCorrupted(
            f"bytes for {cid} hash to {actual} ({len(data):,} bytes): they were truncated or "
            "altered; discard them and fetch again from a trusted store")

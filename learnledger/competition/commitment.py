"""The evaluator's commitment, computed exactly as the contract computes it:
``keccak256(abi.encode(int64[] scores, bytes32 salt, address evaluator))``.

Binding the evaluator's address into the hash stops another evaluator from replaying a commitment
it saw (it could not reveal it: the contract recomputes the hash with the revealer's address).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from eth_abi import encode as abi_encode
from eth_utils import is_address, keccak, to_checksum_address

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def new_salt() -> bytes:
    """32 random bytes: without them a commitment to a few scores could be brute-forced."""
    return secrets.token_bytes(32)


def commitment(scores: Sequence[int], salt: bytes, evaluator: str) -> bytes:
    """The 32-byte hash an evaluator commits to and the contract checks at reveal."""
    for index, score in enumerate(scores):
        if isinstance(score, bool) or not isinstance(score, int) or not INT64_MIN <= score <= INT64_MAX:
            raise ValueError(f"scores must be int64 integers, received: scores[{index}]={score!r}")
    if not isinstance(salt, (bytes, bytearray)) or len(salt) != 32:
        raise ValueError(f"the salt must be 32 bytes, received: {salt!r}")
    if not is_address(evaluator):
        raise ValueError(f"not an address (0x and 40 hex digits), received: evaluator={evaluator!r}")
    encoded = abi_encode(["int64[]", "bytes32", "address"], [list(scores), bytes(salt), to_checksum_address(evaluator)])
    return keccak(encoded)

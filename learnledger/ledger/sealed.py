"""Sealed votes: the commitment a voter sends first and opens later (commit-reveal).

The contract's ``commitmentFor`` and this module compute the same hash, so a client can seal a vote
without a call and the reference model checks reveals as the contract does. Only eth-abi and
eth-utils here, no web3.
"""

from __future__ import annotations

import secrets

from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

SALT_BYTES = 32
"""A salt is 32 random bytes: too many to guess the vote by trying every salt."""

NO_COMMITMENT = bytes(32)
"""What ``commitmentOf`` answers when a voter has nothing committed (or already revealed)."""


def new_salt() -> bytes:
    """32 bytes from the operating system's secure random source."""
    return secrets.token_bytes(SALT_BYTES)


def vote_commitment(approve: bool, vote_score: int, test_score: int, salt: bytes, voter: str, round: int) -> bytes:
    """keccak256(abi.encode(approve, voteScore, testScore, salt, voter, round)), each value one
    32-byte ABI word (bool, int64, int64, bytes32, address, uint256): the contract's ``commitmentFor``.

    Binding ``voter`` and ``round`` keeps a member from replaying another's commitment, or its own
    from an earlier round.
    """
    if len(salt) != SALT_BYTES:
        raise ValueError(f"a salt is {SALT_BYTES} bytes, received: {len(salt)} bytes")
    encoded = abi_encode(
        ["bool", "int64", "int64", "bytes32", "address", "uint256"],
        [bool(approve), int(vote_score), int(test_score), bytes(salt), to_checksum_address(voter), int(round)],
    )
    return keccak(encoded)

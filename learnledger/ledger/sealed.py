"""Sealed votes: the commitment a voter sends first and opens later (commit-reveal).

The contract's ``commitmentFor`` and this module compute the same hash, so a client can seal a vote
without a call and the reference model checks reveals as the contract does. Only eth-abi and
eth-utils here, no web3.
"""

from __future__ import annotations

import secrets

from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from learnledger.ledger.api import Ledger, RoundState

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


def reveal_problem(ledger: Ledger, round: int, approve: bool, vote_score: int, test_score: int,
                   salt: bytes) -> str | None:
    """What would make the contract refuse this reveal by ``ledger``'s account, in words, or None.

    Read before any transaction, so a person is told what is wrong (and what to do) instead of
    paying for a refused one: the round outside its reveal window, nothing committed, or a vote
    that does not hash to the commitment.
    """
    state = ledger.round_state(round)
    if ledger.reveal_window() == 0:
        return "this experiment's votes are open (its reveal window is 0): there is nothing to reveal"
    if state is not RoundState.REVEALING:
        if state is RoundState.VOTING:
            return (f"round {round} is still in its vote window: reveals open when it closes (in "
                    f"{max(0, int(ledger.seconds_until_deadline(round) or 0))} s) or once every member has committed")
        if state in (RoundState.VOTING_CLOSED, RoundState.ACCEPTED, RoundState.REJECTED):
            return (f"the reveal window of round {round} has closed (the round is {state.name}): "
                    "a vote not revealed in time counts as none")
        return f"round {round} is {state.name}: it has no reveal window open"
    committed = ledger.commitment_of(round, ledger.account)
    if committed == NO_COMMITMENT:
        return (f"{ledger.account} has no unrevealed commitment in round {round}: it never committed "
                "there, or it revealed already")
    revealed = vote_commitment(approve, vote_score, test_score, salt, ledger.account, round)
    if revealed != committed:
        return (f"the vote given does not match what {ledger.account} committed in round {round} "
                f"(committed 0x{committed.hex()}, this vote and salt give 0x{revealed.hex()}): reveal "
                "exactly the vote, scores and salt of that account's sealed-vote file for that round")
    return None

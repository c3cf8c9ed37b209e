"""Where an agent keeps its sealed votes between the commit and the reveal.

With sealed votes (commit-reveal) the chain holds only a hash of the vote; the vote, its scores and
the secret salt live here until revealed. Without them the vote cannot be revealed and counts as
none, so each is written before its commitment is sent, atomically (a crash leaves the old file or
the new one, never half of one) and readable by the owner alone (until the reveal the salt is what
keeps the vote secret). A restarted agent reads the file and still reveals.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

SEALED_VOTES_FOLDER = "sealed-votes"
"""The folder of a run (or beside an agent's deployment record) that holds the sealed votes."""

SALT_BYTES = 32
"""A salt is 32 random bytes (the contract's bytes32): too many to guess a vote by trying salts."""


class BallotError(Exception):
    """A sealed vote's file cannot be written or read; the message names the file and what to do."""


@dataclass(frozen=True)
class SealedBallot:
    """One sealed vote: what was committed in ``round``, and the salt that opens it."""

    round: int
    approve: bool
    vote_score: int
    test_score: int
    salt: bytes

    def to_json(self) -> str:
        return json.dumps({"round": self.round, "approve": self.approve, "vote_score": self.vote_score,
                           "test_score": self.test_score, "salt": "0x" + self.salt.hex()}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SealedBallot:
        data = json.loads(text)
        salt = bytes.fromhex(str(data["salt"]).removeprefix("0x"))
        if len(salt) != SALT_BYTES:
            raise ValueError(f"salt must be {SALT_BYTES} bytes, received: {len(salt)} bytes")
        return cls(int(data["round"]), bool(data["approve"]), int(data["vote_score"]), int(data["test_score"]), salt)


def new_salt() -> bytes:
    """32 bytes from the operating system's secure random source."""
    return secrets.token_bytes(SALT_BYTES)


class BallotBox:
    """One owner-only JSON file per round for ``account``'s sealed votes, in ``folder``.

    Args:
        folder: created (owner-only) if missing; a run's or an agent's own state folder.
        account: the voter's address; it names the files, so several agents may share a folder.
    """

    def __init__(self, folder: Path, account: str) -> None:
        self.folder = Path(folder)
        self.account = account.lower()

    def path(self, round: int) -> Path:
        return self.folder / f"sealed-vote-{self.account}-round-{round}.json"

    def for_successor(self, experiment: str) -> BallotBox:
        """The box for the same voter in the successor ``experiment`` (its address): a folder of its
        own, since its rounds are numbered from 1 again and a kept vote must never be taken for
        another experiment's."""
        return BallotBox(self.folder / experiment.lower(), self.account)

    def keep(self, ballot: SealedBallot) -> Path:
        """Write ``ballot`` durably before its commitment is sent: a temporary file created
        owner-only, flushed to disk, then renamed over the round's file."""
        path = self.path(ballot.round)
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            descriptor, temporary = tempfile.mkstemp(dir=self.folder, prefix=".sealed-vote-", suffix=".tmp")
            try:  # mkstemp creates the file with mode 0600
                with os.fdopen(descriptor, "w") as out:
                    out.write(ballot.to_json())
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as error:
            raise BallotError(f"cannot keep the sealed vote of round {ballot.round} in {path}: {error}; "
                              "give the agent a writable folder for its sealed votes") from None
        return path

    def load(self, round: int) -> SealedBallot | None:
        """The sealed vote kept for ``round``, or None if none was kept."""
        path = self.path(round)
        try:
            return SealedBallot.from_json(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise BallotError(f"the sealed vote file {path} cannot be read ({error}); without it the "
                              f"vote of round {round} cannot be revealed") from None

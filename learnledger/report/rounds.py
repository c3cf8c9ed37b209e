"""Rounds as plain JSON: the one shape that rounds.jsonl, the plots and the audit share.

A line of rounds.jsonl::

    {"round": 3, "proposer": "cern", "proposer_address": "0x...", "outcome": "accepted",
     "cid": "bafk...", "digest": "9f86...", "approvals": 4, "rejections": 0,
     "votes": {"fnal": {"approve": true, "vote_score": 0.9512, "test_score": 0.9480}, ...},
     "model_digest": "9f86..."}

Scores are the metric (the on-chain int64 divided by 1e6); ``null`` where the voter could not score
the proposal (its bytes were missing or corrupt).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from learnledger.ledger.api import NO_SCORE, RoundRecord, RoundState, from_score

OUTCOMES = {
    RoundState.ACCEPTED: "accepted",
    RoundState.REJECTED: "rejected",
    RoundState.SKIPPED: "skipped",
}


def _score(value: int) -> float | None:
    return None if value == NO_SCORE else from_score(value)


def round_to_json(record: RoundRecord, groups: Mapping[str, str]) -> dict[str, object]:
    """One finalized (or open) round as a JSON-ready dict; ``groups`` maps lower-case address -> group."""

    def group(address: str) -> str:
        return groups.get(address.lower(), address)

    proposal = record.proposal
    return {
        "round": record.round,
        "proposer": group(record.proposer),
        "proposer_address": record.proposer,
        "outcome": OUTCOMES.get(record.state, record.state.name.lower()),
        "cid": proposal.cid if proposal else None,
        "digest": proposal.digest.hex() if proposal else None,
        "approvals": record.approvals,
        "rejections": record.rejections,
        "votes": {
            group(vote.voter): {
                "approve": vote.approve,
                "vote_score": _score(vote.vote_score),
                "test_score": _score(vote.test_score),
            }
            for vote in record.votes
        },
        "model_digest": record.model_digest.hex(),
    }


def write_jsonl(path: Path, rows: Iterable[Mapping[str, object]]) -> None:
    """Write rows as JSON lines, atomically (a crash never leaves half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as out:
        for row in rows:
            out.write(json.dumps(row, sort_keys=True) + "\n")
    tmp.replace(path)


def read_jsonl(path: Path) -> list[dict[str, object]]:
    with path.open() as lines:
        return [json.loads(line) for line in lines if line.strip()]

"""The competition seen from an agent: its phases, entries and reveals, and the ``Competition``
interface. Nothing here imports web3, so the evaluator agent depends on this module alone."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol, runtime_checkable

from learnledger.agents.models import METRICS
from learnledger.ledger.api import NO_SCORE, to_score

__all__ = ["NO_SCORE", "Phase", "EntryRecord", "Reveal", "CompetitionStatus", "Competition", "score_range"]


def score_range(metric: str) -> tuple[int, int]:
    """The on-chain scores an honest evaluator of ``metric`` can send, as (lowest, highest): the
    metric's worst and best values times 1e6, a loss negated (accuracy: (0, 1_000_000); the loss,
    whose worst is the cross-entropy at the 1e-7 probability floor: (-16_118_096, 0))."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric: metric={metric!r}; choose one of {', '.join(METRICS)}")
    worst = METRICS[metric].worst
    if METRICS[metric].higher_is_better:
        return to_score(worst), to_score(1.0)
    return to_score(-worst), 0


class Phase(IntEnum):
    """Where the competition stands (mirrors ``IModelCompetition.Phase``; the order matters)."""

    Entry = 0
    Commit = 1
    Reveal = 2
    Closed = 3
    Finalized = 4


@dataclass(frozen=True)
class EntryRecord:
    """One submitted model: its spec and weights by sha256 digest and by CID in the store."""

    index: int
    entrant: str
    spec_digest: bytes
    spec_cid: str
    weights_digest: bytes
    weights_cid: str


@dataclass(frozen=True)
class Reveal:
    """One evaluator's revealed scores, one per entry in entry order (``NO_SCORE`` = abstained)."""

    evaluator: str
    scores: tuple[int, ...]


@dataclass(frozen=True)
class CompetitionStatus:
    """What an agent reads before each step (the contract's ``statusOf``)."""

    phase: Phase
    entered: bool
    committed: bool
    revealed: bool
    entry_count: int


@runtime_checkable
class Competition(Protocol):
    """One account's handle on a competition (``client.CompetitionClient`` implements it)."""

    @property
    def account(self) -> str: ...

    @property
    def metric(self) -> str:
        """The metric evaluators report (higher is better once scaled; a loss is sent negated)."""
        ...

    def status(self) -> CompetitionStatus: ...

    def entries(self) -> tuple[EntryRecord, ...]:
        """Every entry so far, in entry order."""
        ...

    def seconds_until_deadline(self) -> float | None:
        """Seconds left in the current phase's window; None once the reveal window has passed."""
        ...

    def enter(self, spec_digest: bytes, spec_cid: str, weights_digest: bytes, weights_cid: str) -> int: ...

    def commit(self, commitment: bytes) -> None: ...

    def reveal(self, scores: tuple[int, ...], salt: bytes) -> None: ...

    def finalize(self) -> None: ...

"""Bad-data learners: one learner's TRAIN set spoiled on purpose, its vote and test sets honest.

The paper's observation (Vergani & Bagoly, arXiv:2209.07191) is that the other learners vote down
what a learner with bad data proposes. So only what it trains on is spoiled: it still judges the
others' proposals fairly, as a well-meaning group with a broken dataset would.

Kinds:
- ``label_noise``: the given fraction of labels replaced by a different class, drawn uniformly;
- ``shuffled_labels``: the labels of the given fraction of samples permuted among themselves;
- ``blank_images``: the given fraction of images set to zero (labels kept).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from learnledger.data.api import LearnerData, Split
from learnledger.data.errors import DataError

CORRUPTION_KINDS: tuple[str, ...] = ("none", "label_noise", "shuffled_labels", "blank_images")


@dataclass(frozen=True)
class Corruption:
    """How one learner's train set is spoiled: ``kind`` (see CORRUPTION_KINDS) on ``fraction`` of it."""

    kind: str = "none"
    fraction: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in CORRUPTION_KINDS:
            raise DataError(
                f"unknown corruption kind={self.kind!r}; choose one of {', '.join(CORRUPTION_KINDS)}."
            )
        if not (isinstance(self.fraction, (int, float)) and 0.0 <= self.fraction <= 1.0):
            raise DataError(f"corruption fraction must lie in [0, 1]; got fraction={self.fraction!r}.")

    @classmethod
    def from_dict(cls, table: Mapping[str, object] | None) -> Corruption:
        """Read a learner's corruption from its experiment-file table.

        Accepts ``{"kind": ..., "fraction": ...}``; a kind given without a fraction spoils the whole
        train set (fraction 1.0). An empty or missing table means an honest learner.
        """
        if not table:
            return cls()
        unknown = sorted(set(table) - {"kind", "fraction"})
        if unknown:
            raise DataError(
                f"unknown key(s) in a learner's corruption: {', '.join(unknown)}; the keys are "
                "kind and fraction."
            )
        kind = table.get("kind", "none")
        if not isinstance(kind, str):
            raise DataError(f"corruption kind must be a string; got kind={kind!r}.")
        default_fraction = 0.0 if kind == "none" else 1.0
        fraction = table.get("fraction", default_fraction)
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
            raise DataError(f"corruption fraction must be a number in [0, 1]; got fraction={fraction!r}.")
        return cls(kind=kind, fraction=float(fraction))

    @property
    def is_honest(self) -> bool:
        return self.kind == "none" or self.fraction == 0.0


def corrupt_split(split: Split, corruption: Corruption, n_classes: int,
                  rng: np.random.Generator) -> Split:
    """Return a spoiled copy of ``split``; the input arrays are never changed."""
    if corruption.is_honest:
        return split
    n = len(split)
    chosen = np.sort(rng.choice(n, size=round(n * corruption.fraction), replace=False))
    x, y = split.x, split.y.copy()
    if corruption.kind == "label_noise":
        if n_classes < 2:
            raise DataError("label noise needs at least two classes to move a label to.")
        # An offset in 1..n_classes-1 moves every chosen label to a different class, uniformly.
        y[chosen] = (y[chosen] + rng.integers(1, n_classes, size=len(chosen))) % n_classes
    elif corruption.kind == "shuffled_labels":
        y[chosen] = y[rng.permutation(chosen)]
    elif corruption.kind == "blank_images":
        x = x.copy()
        x[chosen] = 0
    return Split(x=x, y=y)


def corrupt_learner(data: LearnerData, corruption: Corruption,
                    rng: np.random.Generator) -> LearnerData:
    """Spoil the learner's train set only, and record it in the provenance."""
    if corruption.is_honest:
        return data
    train = corrupt_split(data.train, corruption, len(data.class_names), rng)
    provenance = {**data.provenance,
                  "corruption": {"kind": corruption.kind, "fraction": corruption.fraction,
                                 "applies_to": "train"}}
    return dataclasses.replace(data, train=train, provenance=provenance)

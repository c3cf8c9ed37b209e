"""Datasets seen from a learner: arrays per split, and one learner's private share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Split:
    """Inputs ``x`` (float32, channels last: N x H x W x C) and integer labels ``y`` (N,)."""

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise ValueError(f"x and y differ in length: {len(self.x)} != {len(self.y)}")

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class LearnerData:
    """One learner's private data: it trains on ``train``, votes on ``vote``, reports ``test``."""

    train: Split
    vote: Split
    test: Split
    class_names: tuple[str, ...]
    provenance: dict[str, object] = field(default_factory=dict)
    """Where the data came from (source, file, seed, partition, corruption), for logs and reports."""

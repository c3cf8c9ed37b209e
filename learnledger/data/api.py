"""Datasets seen from a learner: arrays per split, and one learner's private share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Split:
    """Images ``x`` (uint8 0..255, channels last: N x H x W x C) and integer labels ``y`` (N,).

    Images stay uint8 end to end (a 12,000-event LArTPC set is 1.4 GB as uint8, 5.8 GB as float32);
    every model starts with a ``Rescaling(1/255)`` layer.
    """

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


NEUTRINO_CLASSES: tuple[str, ...] = ("NC", "numu CC", "nue CC")
"""Label order of every neutrino sample: 0 NC, 1 numu CC, 2 nue CC (3 nutau CC where included)."""

INTERACTION_MODES: tuple[str, ...] = ("QE", "RES", "DIS", "other")


@dataclass(frozen=True)
class EventSample:
    """Neutrino events as wire-plane images with their truth, simulated or real.

    ``images`` is (N, 3, H, W) uint8: planes U, V (induction) and Z (collection), wire x time, as the
    DUNE CVN sample stores them; ``to_split`` turns it channels-last for Keras.
    """

    images: np.ndarray
    labels: np.ndarray
    energy: np.ndarray
    """Neutrino energy, GeV."""
    lepton_energy: np.ndarray
    """Outgoing lepton energy, GeV (0 for NC where the lepton is a neutrino: its energy is invisible)."""
    interaction: np.ndarray
    """Index into INTERACTION_MODES."""
    class_names: tuple[str, ...] = NEUTRINO_CLASSES

    def __len__(self) -> int:
        return len(self.labels)

    def to_split(self) -> Split:
        return Split(x=np.ascontiguousarray(self.images.transpose(0, 2, 3, 1)), y=self.labels)

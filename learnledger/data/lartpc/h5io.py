"""Simulated samples on disk: one HDF5 file with images, labels, truth, and how it was made.

Layout: datasets ``images`` (N, 3, H, W) uint8 (gzip, one chunk per event), ``labels``, ``energy``
(GeV), ``lepton_energy`` (GeV), ``interaction`` (index into INTERACTION_MODES); attributes
``config`` (SimConfig as JSON), ``seed``, ``class_names``, ``interaction_modes``, ``format``.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from learnledger.data.api import INTERACTION_MODES, EventSample
from learnledger.data.lartpc.config import SimConfig

FORMAT = "learnledger-lartpc-1"
TRUTH = ("labels", "energy", "lepton_energy", "interaction")
TRUTH_DTYPES = {"labels": np.int64, "energy": np.float32, "lepton_energy": np.float32, "interaction": np.int64}


class H5Writer:
    """Write a sample batch by batch (a 12,000-event file need not fit in memory twice)."""

    def __init__(self, path: str | Path, n_events: int, config: SimConfig, seed: int,
                 class_names: tuple[str, ...] = ("NC", "numu CC", "nue CC")) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            raise FileNotFoundError(f"folder {str(self.path.parent)!r} does not exist; create it first")
        self.file = h5py.File(self.path, "w")
        size = config.image_size
        self.file.create_dataset("images", (n_events, 3, size, size), np.uint8, chunks=(1, 3, size, size),
                                 compression="gzip", compression_opts=4, shuffle=False)
        for name in TRUTH:
            self.file.create_dataset(name, (n_events,), TRUTH_DTYPES[name])
        self.file.attrs.update({
            "format": FORMAT, "config": config.to_json(), "seed": int(seed),
            "class_names": json.dumps(list(class_names)), "interaction_modes": json.dumps(list(INTERACTION_MODES)),
        })

    def write(self, start: int, batch: EventSample) -> None:
        stop = start + len(batch)
        self.file["images"][start:stop] = batch.images
        self.file["labels"][start:stop] = batch.labels
        self.file["energy"][start:stop] = batch.energy
        self.file["lepton_energy"][start:stop] = batch.lepton_energy
        self.file["interaction"][start:stop] = batch.interaction

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> H5Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_h5(path: str | Path, sample: EventSample, config: SimConfig, seed: int) -> None:
    """Save ``sample`` with the config and seed that made it (gzip-compressed)."""
    with H5Writer(path, len(sample), config, seed, sample.class_names) as writer:
        writer.write(0, sample)


def read_h5(path: str | Path) -> EventSample:
    """Load a file written by ``write_h5`` (or ``learnledger data lartpc``)."""
    with _open(path) as f:
        missing = [name for name in ("images", *TRUTH) if name not in f]
        if missing:
            raise ValueError(f"{str(path)!r} is not a LArTPC sample: missing dataset(s) {missing}; "
                             "make one with `learnledger data lartpc`")
        class_names = tuple(json.loads(f.attrs.get("class_names", '["NC", "numu CC", "nue CC"]')))
        return EventSample(
            images=f["images"][...], labels=f["labels"][...], energy=f["energy"][...],
            lepton_energy=f["lepton_energy"][...], interaction=f["interaction"][...], class_names=class_names,
        )


def read_h5_event(path: str | Path, index: int) -> tuple[np.ndarray, dict[str, object]]:
    """One event's (3, H, W) image and truth, without reading the whole file."""
    with _open(path) as f:
        n = len(f["labels"])
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range: {str(path)!r} holds {n} events (0..{n - 1})")
        class_names = json.loads(f.attrs.get("class_names", '["NC", "numu CC", "nue CC"]'))
        truth = {
            "label": class_names[int(f["labels"][index])],
            "interaction": INTERACTION_MODES[int(f["interaction"][index])],
            "energy": float(f["energy"][index]),
            "lepton_energy": float(f["lepton_energy"][index]),
        }
        return f["images"][index], truth


def read_h5_config(path: str | Path) -> tuple[SimConfig, int]:
    """The config and seed a file was made with."""
    with _open(path) as f:
        return SimConfig.from_json(f.attrs["config"]), int(f.attrs["seed"])


def _open(path: str | Path) -> h5py.File:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}; make one with `learnledger data lartpc`")
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{str(path)!r} is not an HDF5 file ({error})") from error

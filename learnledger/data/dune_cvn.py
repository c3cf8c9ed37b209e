"""The DUNE CVN sample: 800 real simulated DUNE Far Detector events, turned into 3 x 200 x 200.

Source: the events published with the DUNE CVN paper (Abi et al., Phys. Rev. D 102, 092003 (2020);
GENIE + GEANT4 + LArSoft), MIT licence, copied into ``data/dune_cvn_sample/`` (README there).
Each event is three views (U, V induction; Z collection) of 500 wires x 500 time samples, uint8
charge, 0 where nothing was seen; its ``.info`` holds the truth.

The crop (why it is this one):
- The window is ``size * pool`` raw pixels square, ``pool = 500 // size`` (200 -> pool 2, window 400),
  so downsampling is by a whole number of pixels and never interpolates.
- Time is the drift coordinate that all three views share, so one time window serves all three
  views; each view gets its own wire window. Among all placements the one holding the most charge
  is taken (exactly, through integral images), ties broken towards the charge centroid.
- Blocks of ``pool x pool`` pixels are summed (charge adds) and divided by ``pool``: a track
  crossing a block leaves the value it had per raw pixel of length, so dE/dx keeps its raw ADC
  scale; clipped at 255 (plain sums would clip 3-9% of pixels, this 0.05-0.6%).
  Measured on the whole sample: the window keeps 95% of the charge on average (docs/data.md).
"""

from __future__ import annotations

import hashlib
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from learnledger.data.api import INTERACTION_MODES, NEUTRINO_CLASSES, EventSample
from learnledger.data.errors import DataError

log = logging.getLogger(__name__)

RAW_SIZE = 500
RAW_SHAPE = (3, RAW_SIZE, RAW_SIZE)
DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "data" / "dune_cvn_sample"
"""The copy inside the repository, so the project works without anything beside it."""

FLAVOUR_DIRECTORIES: tuple[str, ...] = ("nc", "numu", "nue", "nutau")
"""Directory of each of our labels: 0 NC, 1 numu CC, 2 nue CC, 3 nutau CC."""
CVN_FLAVOUR_TO_LABEL = {0: 1, 1: 2, 2: 3, 3: 0}
"""The .info code's flavour (code // 4: 0 numu CC, 1 nue CC, 2 nutau CC, 3 NC) to our label."""
WITH_NUTAU: tuple[str, ...] = (*NEUTRINO_CLASSES, "nutau CC")
HALVES: tuple[str, ...] = ("calibration", "evaluation")
"""The two halves of the sample (see ``half_of``): the simulation is tuned on the first only, and
its sim-to-real accuracy is reported on the second only, so the figure is not flattered by tuning."""


@dataclass(frozen=True)
class EventTruth:
    """What an event's ``.info`` file says."""

    label: int
    interaction: int
    """Index into INTERACTION_MODES (code % 4: QE, RES, DIS, other)."""
    energy: float
    lepton_energy: float
    n_protons: int
    n_charged_pions: int
    n_neutral_pions: int
    n_neutrons: int


def read_raw_event(path: Path) -> np.ndarray:
    """One event's three 500 x 500 views from its ``eventN.gz`` (a raw zlib stream, not gzip)."""
    try:
        raw = zlib.decompress(path.read_bytes())
    except (OSError, zlib.error) as error:
        raise DataError(f"cannot read DUNE CVN event {path}: {error}") from error
    expected = int(np.prod(RAW_SHAPE))
    if len(raw) != expected:
        raise DataError(
            f"DUNE CVN event {path} holds {len(raw)} bytes once inflated; expected {expected} "
            "(3 views x 500 wires x 500 times). Is it from another pixel-map format?"
        )
    return np.frombuffer(raw, dtype=np.uint8).reshape(RAW_SHAPE)


def read_truth(path: Path) -> EventTruth:
    """Parse ``eventN.info``: line 0 interaction code, 1 nu energy, 2 lepton energy, 8-11 counts."""
    try:
        values = [float(line) for line in path.read_text().split()]
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read DUNE CVN truth {path}: {error}") from error
    if len(values) < 12:
        raise DataError(f"DUNE CVN truth {path} has {len(values)} lines; expected at least 12.")
    code = int(values[0])
    flavour, mode = divmod(code, 4)
    if flavour not in CVN_FLAVOUR_TO_LABEL:
        raise DataError(f"DUNE CVN truth {path}: interaction code {code} is outside 0..15.")
    return EventTruth(label=CVN_FLAVOUR_TO_LABEL[flavour], interaction=mode, energy=values[1],
                      lepton_energy=values[2], n_protons=int(values[8]),
                      n_charged_pions=int(values[9]), n_neutral_pions=int(values[10]),
                      n_neutrons=int(values[11]))


def crop_window(views: np.ndarray, window: int) -> tuple[int, tuple[int, int, int]]:
    """Where the ``window``-square crop goes: (time start, wire start per view).

    One time window for all views (time is their shared coordinate), one wire window per view; the
    placement holds the most charge, ties broken towards the charge centroid.
    """
    charge = views.astype(np.int64)
    n_wires, n_times = charge.shape[1:]
    if window > min(n_wires, n_times):
        raise DataError(f"a crop window of {window} pixels exceeds the {n_wires} x {n_times} views.")
    integral = np.zeros((3, n_wires + 1, n_times + 1), dtype=np.int64)
    integral[:, 1:, 1:] = charge.cumsum(axis=1).cumsum(axis=2)
    # held[v, a, b]: charge of view v in wires a..a+window, times b..b+window.
    held = (integral[:, window:, window:] - integral[:, :-window, window:]
            - integral[:, window:, :-window] + integral[:, :-window, :-window])
    wire_centroid, time_centroid = _centroids(charge)

    best_per_time = held.max(axis=1).sum(axis=0)
    time_starts = np.flatnonzero(best_per_time == best_per_time.max())
    time_start = int(time_starts[np.argmin(np.abs(time_starts + window / 2 - time_centroid))])
    wire_starts = []
    for view in range(3):
        column = held[view, :, time_start]
        candidates = np.flatnonzero(column == column.max())
        nearest = np.argmin(np.abs(candidates + window / 2 - wire_centroid[view]))
        wire_starts.append(int(candidates[nearest]))
    return time_start, (wire_starts[0], wire_starts[1], wire_starts[2])


def crop_event(views: np.ndarray, size: int = 200) -> np.ndarray:
    """Crop three raw views around their activity and pool them (sum / pool) to ``size`` x ``size``."""
    pool = _pool_for(size, views.shape[-1])
    window = size * pool
    time_start, wire_starts = crop_window(views, window)
    out = np.empty((3, size, size), dtype=np.uint8)
    for view, wire_start in enumerate(wire_starts):
        block = views[view, wire_start:wire_start + window, time_start:time_start + window]
        summed = block.astype(np.uint32).reshape(size, pool, size, pool).sum(axis=(1, 3))
        out[view] = np.minimum((summed + pool // 2) // pool, 255).astype(np.uint8)
    return out


def charge_kept(views: np.ndarray, size: int = 200) -> float:
    """Fraction of the event's charge inside the crop window (before pooling and clipping)."""
    window = size * _pool_for(size, views.shape[-1])
    time_start, wire_starts = crop_window(views, window)
    total = int(views.astype(np.int64).sum())
    if total == 0:
        return 1.0
    kept = sum(int(views[v, w:w + window, time_start:time_start + window].astype(np.int64).sum())
               for v, w in enumerate(wire_starts))
    return kept / total


def event_files(root: Path | None = None, include_nutau: bool = False,
                per_class: int | None = None) -> list[tuple[int, Path]]:
    """(label, ``eventN.gz`` path) for every event, in label then event-number order."""
    root = Path(root) if root is not None else DEFAULT_ROOT
    if not root.is_dir():
        raise DataError(
            f"DUNE CVN directory not found: {root}. It should hold nc/, numu/, nue/ (and nutau/) "
            f"with eventN.gz and eventN.info files; the repository's copy is {DEFAULT_ROOT}."
        )
    labels = range(4 if include_nutau else 3)
    files: list[tuple[int, Path]] = []
    for label in labels:
        directory = root / FLAVOUR_DIRECTORIES[label]
        if not directory.is_dir():
            raise DataError(f"DUNE CVN directory {root} has no {FLAVOUR_DIRECTORIES[label]}/ "
                            f"subdirectory (the {WITH_NUTAU[label]} events).")
        events = sorted(directory.glob("event*.gz"), key=_event_number)
        if not events:
            raise DataError(f"{directory} holds no eventN.gz files.")
        files.extend((label, path) for path in events[:per_class])
    return files


def split_halves(files: list[tuple[int, Path]]) -> dict[str, list[tuple[int, Path]]]:
    """The fixed rule that splits the real events into a calibration and an evaluation half.

    Within each class, events are ordered by the sha256 of ``<directory>/<file name>`` (e.g.
    ``nue/event17.gz``); the first half of that order (rounded down) is the calibration half, the
    rest the evaluation half. The rule depends on names alone, so it never changes with the order
    of a listing, the machine or the simulation, and each half is balanced by class.
    """
    halves: dict[str, list[tuple[int, Path]]] = {name: [] for name in HALVES}
    for label in sorted({label for label, _ in files}):
        members = sorted((path for lab, path in files if lab == label), key=_split_key)
        cut = len(members) // 2
        halves["calibration"].extend((label, path) for path in members[:cut])
        halves["evaluation"].extend((label, path) for path in members[cut:])
    return halves


def _split_key(path: Path) -> str:
    return hashlib.sha256(f"{path.parent.name}/{path.name}".encode()).hexdigest()


def load_dune_cvn(root: Path | None = None, include_nutau: bool = False, size: int = 200,
                  per_class: int | None = None, half: str | None = None) -> EventSample:
    """Load the DUNE CVN events as an EventSample of ``size`` x ``size`` views.

    Args:
        root: directory with nc/, numu/, nue/, nutau/; default the repository's copy.
        include_nutau: keep nutau CC events as a fourth class (label 3). Default False.
        size: output pixels per side (default 200, the simulator's size); see the module notes.
        per_class: read only the first N events of each class (tests, quick looks). Default all.
        half: "calibration" or "evaluation" (``split_halves``: the simulation is tuned on the first,
            judged on the second); default None: every event.
    """
    files = event_files(root, include_nutau, per_class)
    if half is not None:
        if half not in HALVES:
            raise DataError(f"half must be one of {HALVES} or None; received: half={half!r}")
        files = split_halves(files)[half]
    images = np.empty((len(files), 3, size, size), dtype=np.uint8)
    truths = []
    for index, (label, path) in enumerate(files):
        truth = read_truth(_info_path(path))
        if truth.label != label:
            raise DataError(
                f"{path.with_suffix('.info')} says {WITH_NUTAU[truth.label]} but the event sits in "
                f"{path.parent.name}/ ({WITH_NUTAU[label]}); the sample is mixed up."
            )
        images[index] = crop_event(read_raw_event(path), size)
        truths.append(truth)
    log.info("DUNE CVN: %d events from %s", len(files), root or DEFAULT_ROOT)
    return EventSample(
        images=images,
        labels=np.array([t.label for t in truths], dtype=np.int64),
        energy=np.array([t.energy for t in truths], dtype=np.float32),
        lepton_energy=np.array([t.lepton_energy for t in truths], dtype=np.float32),
        interaction=np.array([t.interaction for t in truths], dtype=np.int64),
        class_names=WITH_NUTAU if include_nutau else NEUTRINO_CLASSES,
    )


def _info_path(event_path: Path) -> Path:
    info = event_path.with_suffix(".info")
    if not info.is_file():
        raise DataError(f"DUNE CVN event {event_path} has no truth file {info.name} beside it.")
    return info


def _event_number(path: Path) -> int:
    digits = path.stem.removeprefix("event")
    return int(digits) if digits.isdigit() else -1


def _pool_for(size: int, raw: int) -> int:
    if not (1 <= size <= raw):
        raise DataError(f"output size must be 1..{raw} pixels; got size={size}.")
    return raw // size


def _centroids(charge: np.ndarray) -> tuple[np.ndarray, float]:
    """Charge-weighted wire centroid per view and time centroid over all views."""
    total = charge.sum(axis=(1, 2)).astype(float)
    wires = np.arange(charge.shape[1])
    times = np.arange(charge.shape[2])
    safe = np.where(total > 0, total, 1.0)
    wire_centroid = np.where(total > 0, (charge.sum(axis=2) * wires).sum(axis=1) / safe,
                             charge.shape[1] / 2)
    time_centroid = (float((charge.sum(axis=(0, 1)) * times).sum() / total.sum())
                     if total.sum() > 0 else charge.shape[2] / 2)
    return wire_centroid, time_centroid


assert INTERACTION_MODES[:4] == ("QE", "RES", "DIS", "other")  # code % 4 indexes this order

"""MicroBooNE Open Samples (HDF5, CC BY 4.0, Zenodo) as 3 x 200 x 200 EventSamples.

The "with wire" samples hold, per event, the processed waveform of every wire (``wire_table``:
``event_id`` (M, 3) run/subrun/event, ``local_plane``, ``local_wire``, ``adc`` (M, 6400 ticks)) and the
truth (``event_table``: ``event_id``, ``is_cc``, ``nu_pdg``, ``nu_energy``, ``lep_energy``,
``nu_vtx_wire_pos`` (per-plane wire of the vertex)). Schema: github.com/uboone/OpenSamples,
filecontent-hdf5.md. Planes 0 and 1 are induction (+-60 degrees), plane 2 collection; wire pitch
3 mm; a tick is 0.5 us, 0.0549 cm of drift (``tpcTimeToX`` in microboone_utils.py).

Rendering (each a parameter): blocks of ``wire_pool`` wires x ``time_pool`` ticks are summed, so a
pixel is 0.90 x 0.99 cm by default (3 x 18), about the size of a DUNE CVN output pixel along the
wires (0.96 cm, docs/data.md). The wire window is centred on the true vertex wire of each plane
(the charge centroid if the file lacks it); the time window, shared by the planes, on the charge
centroid of the collection wires inside that window, which keeps cosmic rays elsewhere in the
detector from dragging it. Values: block sum / ``adc_per_unit``, clipped to 0..255.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from learnledger.data.api import INTERACTION_MODES, NEUTRINO_CLASSES, EventSample
from learnledger.data.errors import DataError

log = logging.getLogger(__name__)

WIRES_PER_PLANE: tuple[int, int, int] = (2400, 2400, 3456)
NEUTRINO_PDG_TO_CC_LABEL = {14: 1, 12: 2, 16: 3}
EVENT_COLUMNS = ("event_id", "is_cc", "nu_pdg")
WIRE_COLUMNS = ("event_id", "local_plane", "local_wire", "adc")


def load_microboone(path: Path, size: int = 200, wire_pool: int = 3, time_pool: int = 18,
                    adc_per_unit: float | None = None, include_nutau: bool = False,
                    max_events: int | None = None) -> EventSample:
    """Read a MicroBooNE open-samples file and render each event's three planes.

    Args:
        path: the ``.h5`` file (a "with wire" sample: it must have ``wire_table``).
        size: output pixels per side. Default 200.
        wire_pool, time_pool: wires and ticks summed into one pixel. Defaults 3 and 18 (~1 cm).
        adc_per_unit: block sum that makes one unit of the uint8 image. Default ``time_pool``
            (a pixel then holds the per-tick mean summed over its wires).
        include_nutau: keep nutau CC (label 3). Default False: those events are dropped.
        max_events: read only the first N events. Default all.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DataError(f"MicroBooNE file not found: {path}. Download a 'with wire' sample of the "
                        "MicroBooNE Open Samples (Zenodo, CC BY 4.0) and give its path.")
    scale = float(adc_per_unit if adc_per_unit is not None else time_pool)
    try:
        with h5py.File(path, "r") as handle:
            events = _read_table(handle, path, "event_table", EVENT_COLUMNS)
            _require(handle, path, "wire_table", WIRE_COLUMNS)
            wire_rows = _rows_per_event(handle["wire_table"], events["event_id"])
            count = len(events["event_id"]) if max_events is None else min(max_events,
                                                                             len(events["event_id"]))
            images, keep, labels = [], [], []
            for index in range(count):
                label = _label(int(events["is_cc"][index]), int(events["nu_pdg"][index]))
                if label == 3 and not include_nutau:
                    continue
                vertex = events["nu_vtx_wire_pos"][index] if "nu_vtx_wire_pos" in events else None
                planes = _read_planes(handle["wire_table"], wire_rows.get(index, np.empty(0, int)))
                images.append(render_event(planes, size, wire_pool, time_pool, scale, vertex))
                keep.append(index)
                labels.append(label)
    except (OSError, KeyError) as error:
        raise DataError(f"cannot read MicroBooNE file {path}: {error}") from error
    keep_idx = np.array(keep, dtype=int)

    def column(name: str) -> np.ndarray:
        if name in events:
            return events[name][keep_idx].astype(np.float32)
        return np.full(len(keep_idx), np.nan, dtype=np.float32)

    log.info("MicroBooNE: %d events from %s", len(keep), path)
    return EventSample(
        images=np.stack(images) if images else np.zeros((0, 3, size, size), np.uint8),
        labels=np.array(labels, dtype=np.int64),
        energy=column("nu_energy"),
        lepton_energy=column("lep_energy"),
        interaction=np.full(len(keep), INTERACTION_MODES.index("other"), dtype=np.int64),
        class_names=(*NEUTRINO_CLASSES, "nutau CC") if include_nutau else NEUTRINO_CLASSES,
    )


def render_event(planes: list[dict[int, np.ndarray]], size: int, wire_pool: int, time_pool: int,
                 adc_per_unit: float, vertex_wires: np.ndarray | None = None) -> np.ndarray:
    """Three planes ({wire: waveform}) to a (3, size, size) uint8 image around the activity."""
    wire_span, time_span = size * wire_pool, size * time_pool
    wire_starts = []
    for plane, waveforms in enumerate(planes):
        if vertex_wires is not None and np.isfinite(vertex_wires[plane]):
            centre = float(vertex_wires[plane])
        else:
            centre = _centroid({w: float(np.clip(v, 0, None).sum()) for w, v in waveforms.items()},
                               WIRES_PER_PLANE[plane] / 2)
        wire_starts.append(int(round(centre - wire_span / 2)))
    collection = planes[2]
    in_window = [v for w, v in collection.items() if wire_starts[2] <= w < wire_starts[2] + wire_span]
    n_ticks = max((len(v) for p in planes for v in p.values()), default=time_span)
    if in_window:
        profile = np.clip(np.sum(in_window, axis=0), 0, None)
        time_centre = _centroid(dict(enumerate(profile)), n_ticks / 2)
    else:
        time_centre = n_ticks / 2
    time_start = int(round(time_centre - time_span / 2))

    image = np.zeros((3, size, size), dtype=np.uint8)
    for plane, waveforms in enumerate(planes):
        dense = np.zeros((wire_span, time_span), dtype=np.float64)
        for wire, waveform in waveforms.items():
            row = wire - wire_starts[plane]
            if not 0 <= row < wire_span:
                continue
            lo, hi = max(time_start, 0), min(time_start + time_span, len(waveform))
            if hi > lo:
                dense[row, lo - time_start:hi - time_start] = waveform[lo:hi]
        pooled = dense.reshape(size, wire_pool, size, time_pool).sum(axis=(1, 3)) / adc_per_unit
        image[plane] = np.clip(np.rint(pooled), 0, 255).astype(np.uint8)
    return image


def _label(is_cc: int, nu_pdg: int) -> int:
    if not is_cc:
        return 0
    flavour = abs(nu_pdg)
    if flavour not in NEUTRINO_PDG_TO_CC_LABEL:
        raise DataError(f"event with is_cc=1 and nu_pdg={nu_pdg}: not a neutrino PDG code (12, 14, 16).")
    return NEUTRINO_PDG_TO_CC_LABEL[flavour]


def _require(handle, path: Path, table: str, columns: tuple[str, ...]) -> None:
    if table not in handle:
        hint = " (only the 'with wire' samples have it)" if table == "wire_table" else ""
        raise DataError(f"{path} has no /{table}{hint}; found {sorted(handle.keys())}.")
    missing = [c for c in columns if c not in handle[table]]
    if missing:
        raise DataError(f"{path}: /{table} lacks {missing}; is it a MicroBooNE open-samples file?")


def _read_table(handle, path: Path, table: str, columns: tuple[str, ...]) -> dict[str, np.ndarray]:
    _require(handle, path, table, columns)
    out = {}
    for name, dataset in handle[table].items():
        if name.endswith(".seq_cnt") or not hasattr(dataset, "shape"):
            continue
        values = dataset[()]
        out[name] = values[:, 0] if values.ndim == 2 and values.shape[1] == 1 else values
    return out


def _rows_per_event(wires, event_ids: np.ndarray) -> dict[int, np.ndarray]:
    """Row indices of wire_table for each event_table index, matched on (run, subrun, event)."""
    event_ids = np.asarray(event_ids).reshape(len(event_ids), -1)
    key_of = {tuple(row): index for index, row in enumerate(event_ids.tolist())}
    wire_ids = np.asarray(wires["event_id"][()]).reshape(len(wires["event_id"]), -1)
    rows: dict[int, list[int]] = {}
    for row, key in enumerate(map(tuple, wire_ids.tolist())):
        if key in key_of:
            rows.setdefault(key_of[key], []).append(row)
    return {index: np.array(r) for index, r in rows.items()}


def _read_planes(wires, rows: np.ndarray) -> list[dict[int, np.ndarray]]:
    planes: list[dict[int, np.ndarray]] = [{}, {}, {}]
    if len(rows) == 0:
        return planes
    rows = np.sort(rows)
    plane_ids = np.asarray(wires["local_plane"][rows]).reshape(-1)
    wire_ids = np.asarray(wires["local_wire"][rows]).reshape(-1)
    adc = np.asarray(wires["adc"][rows], dtype=np.float64)
    for plane, wire, waveform in zip(plane_ids.tolist(), wire_ids.tolist(), adc):
        if plane in (0, 1, 2):
            planes[plane][int(wire)] = waveform
    return planes


def _centroid(weights: dict[int, float], default: float) -> float:
    total = sum(weights.values())
    if total <= 0:
        return default
    return sum(k * w for k, w in weights.items()) / total

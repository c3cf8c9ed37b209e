"""Any EventSample on disk, in the same layout as the simulator's files.

Datasets ``images`` (N, 3, H, W) uint8 (gzip, one chunk per event), ``labels``, ``energy``,
``lepton_energy``, ``interaction``; attributes ``class_names``, ``interaction_modes`` (JSON),
``format`` and ``provenance`` (JSON). ``learnledger.data.lartpc.read_h5`` and ``learnledger data
show`` read these files too, so a converted real sample goes wherever a simulated one does.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py

from learnledger.data.api import INTERACTION_MODES, EventSample
from learnledger.data.errors import DataError

FORMAT = "learnledger-events-1"


def write_event_sample(path: Path, sample: EventSample, provenance: dict[str, object]) -> None:
    """Write ``sample`` with where it came from; the folder must exist."""
    path = Path(path)
    if not path.parent.is_dir():
        raise DataError(f"folder {path.parent} does not exist; create it or choose another output.")
    height, width = sample.images.shape[2:]
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=sample.images, chunks=(1, 3, height, width),
                         compression="gzip", compression_opts=4)
        for name in ("labels", "energy", "lepton_energy", "interaction"):
            f.create_dataset(name, data=getattr(sample, name))
        f.attrs.update({
            "format": FORMAT,
            "class_names": json.dumps(list(sample.class_names)),
            "interaction_modes": json.dumps(list(INTERACTION_MODES)),
            "provenance": json.dumps(provenance),
        })

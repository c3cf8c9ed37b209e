"""The MicroBooNE open-samples loader on a small file written here in that schema."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from learnledger.data.errors import DataError
from learnledger.data.microboone import load_microboone

TICKS = 6400
# (run, subrun, event), is_cc, nu_pdg: NC, numu CC, nue CC, nutau CC, anti-numu CC.
EVENTS = [((1, 1, 1), 0, 14), ((1, 1, 2), 1, 14), ((1, 1, 3), 1, 12), ((1, 1, 4), 1, 16),
          ((1, 1, 5), 1, -14)]
VERTEX_WIRES = (1200.0, 1200.0, 1700.0)
TRACK_TICKS = slice(3000, 3090)  # 90 ticks = 5 pixels of 18


def _write(path, with_wires=True, drop_event_column=None):
    with h5py.File(path, "w") as f:
        events = f.create_group("event_table")
        columns = {
            "event_id": np.array([e[0] for e in EVENTS], dtype=np.int32),
            "is_cc": np.array([[e[1]] for e in EVENTS], dtype=np.int32),
            "nu_pdg": np.array([[e[2]] for e in EVENTS], dtype=np.int32),
            "nu_energy": np.array([[0.8 + i / 10] for i in range(len(EVENTS))], dtype=np.float32),
            "lep_energy": np.array([[0.3]] * len(EVENTS), dtype=np.float32),
            "nu_vtx_wire_pos": np.array([VERTEX_WIRES] * len(EVENTS), dtype=np.float32),
        }
        for name, values in columns.items():
            if name != drop_event_column:
                events.create_dataset(name, data=values)
        if not with_wires:
            return
        ids, planes, wires, adcs = [], [], [], []
        for number, (event_id, _, _) in enumerate(EVENTS):
            for plane in range(3):
                for offset in range(6):  # a short track: 6 wires beside the vertex
                    waveform = np.zeros(TICKS, dtype=np.float32)
                    waveform[TRACK_TICKS] = 2.0 * (number + 1)
                    ids.append(event_id)
                    planes.append([plane])
                    wires.append([int(VERTEX_WIRES[plane]) + offset])
                    adcs.append(waveform)
        table = f.create_group("wire_table")
        table.create_dataset("event_id", data=np.array(ids, dtype=np.int32))
        table.create_dataset("local_plane", data=np.array(planes, dtype=np.int32))
        table.create_dataset("local_wire", data=np.array(wires, dtype=np.int32))
        table.create_dataset("adc", data=np.array(adcs), compression="gzip")


def test_events_render_around_the_vertex_with_labels_from_the_truth(tmp_path):
    path = tmp_path / "bnb_WithWire.h5"
    _write(path)
    sample = load_microboone(path)
    assert sample.images.shape == (4, 3, 200, 200) and sample.images.dtype == np.uint8
    assert sample.labels.tolist() == [0, 1, 2, 1]  # nutau dropped, anti-numu CC is numu CC
    np.testing.assert_allclose(sample.energy, [0.8, 0.9, 1.0, 1.2], rtol=1e-6)
    # Event 1 (numu CC): 6 wires -> 2 pixels of 3 wires; 90 ticks -> 5 or 6 pixels of 18 ticks.
    image = sample.images[1, 2].astype(int)
    lit = np.argwhere(image > 0)
    assert set(lit[:, 0].tolist()) == {100, 101}  # the vertex wire sits at the window's centre
    assert 97 <= lit[:, 1].min() and lit[:, 1].max() <= 102  # the time window is centred on it
    # Charge is conserved: 6 wires x 90 ticks x 4.0 ADC / 18 per unit = 120 (up to rounding).
    assert abs(image.sum() - 120) <= 6


def test_nutau_can_be_kept_as_a_fourth_class(tmp_path):
    path = tmp_path / "f.h5"
    _write(path)
    sample = load_microboone(path, include_nutau=True, max_events=4)
    assert sample.labels.tolist() == [0, 1, 2, 3] and sample.class_names[3] == "nutau CC"


def test_a_file_without_wires_or_truth_is_named_with_what_is_missing(tmp_path):
    path = tmp_path / "nowire.h5"
    _write(path, with_wires=False)
    with pytest.raises(DataError, match="nowire.h5 has no /wire_table.*with wire"):
        load_microboone(path)
    path = tmp_path / "nopdg.h5"
    _write(path, drop_event_column="nu_pdg")
    with pytest.raises(DataError, match=r"/event_table lacks \['nu_pdg'\]"):
        load_microboone(path)
    with pytest.raises(DataError, match="not found: .*absent.h5"):
        load_microboone(tmp_path / "absent.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(DataError, match="cannot read MicroBooNE file .*text.h5"):
        load_microboone(tmp_path / "text.h5")

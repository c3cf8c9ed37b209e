"""The DUNE CVN loader on a few real events: labels, shapes, the crop, and what goes wrong."""

from __future__ import annotations

import shutil
import zlib

import numpy as np
import pytest

from learnledger.data.calibration import event_statistics, muon_csda_range_cm, transverse_time_scale
from learnledger.data.dune_cvn import (
    DEFAULT_ROOT,
    charge_kept,
    crop_event,
    event_files,
    load_dune_cvn,
    read_raw_event,
    read_truth,
    split_halves,
)
from learnledger.data.errors import DataError

pytestmark = pytest.mark.skipif(not DEFAULT_ROOT.is_dir(),
                                reason=f"the DUNE CVN copy is missing at {DEFAULT_ROOT}")


@pytest.fixture(scope="module")
def sample():
    return load_dune_cvn(include_nutau=True, per_class=4)


def test_labels_follow_the_directories_and_truth_is_filled(sample):
    assert sample.images.shape == (16, 3, 200, 200) and sample.images.dtype == np.uint8
    assert sample.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4
    assert sample.class_names == ("NC", "numu CC", "nue CC", "nutau CC")
    assert (sample.energy > 0).all() and (sample.lepton_energy > 0).all()
    assert set(sample.interaction.tolist()) <= {0, 1, 2, 3}


def test_info_codes_agree_with_the_directory_on_every_event():
    for label, path in event_files(include_nutau=True):
        assert read_truth(path.with_suffix(".info")).label == label, path


def test_nutau_is_left_out_unless_asked():
    sample = load_dune_cvn(per_class=1)
    assert sample.labels.tolist() == [0, 1, 2] and len(sample.class_names) == 3


def test_the_crop_keeps_most_of_the_charge():
    fractions = [charge_kept(read_raw_event(path)) for _, path in event_files(per_class=6)]
    assert np.mean(fractions) > 0.9 and min(fractions) > 0.7


def test_pooling_keeps_a_tracks_value_per_unit_length():
    views = np.zeros((3, 500, 500), dtype=np.uint8)
    views[:, 100:300, 250] = 40  # a straight track along the wires, one time pixel wide
    cropped = crop_event(views)
    assert cropped.shape == (3, 200, 200)
    column = cropped[2][cropped[2].any(axis=1)]
    # 200 wires become 100 pixels, each holding (40 + 40) / 2: the value per raw pixel of length.
    assert len(column) == 100 and set(np.unique(column[column > 0]).tolist()) == {40}
    assert int(cropped.sum()) * 2 == int(views.astype(int).sum())


def test_statistics_describe_occupancy_and_charge(sample):
    stats = event_statistics(sample)
    occupancy = {name: c["occupancy_mean"] for name, c in stats["per_class"].items()}
    assert occupancy["nue CC"] > occupancy["numu CC"] > 0  # showers light up more pixels
    assert 0 < stats["charge"]["Z"]["quantiles"]["p50"] < 255


def test_muon_range_and_time_scale_are_physical():
    assert muon_csda_range_cm(1.0) == pytest.approx(440, rel=0.05)  # PDG LAr table: ~4.3-4.4 m
    views = [read_raw_event(path) for _, path in event_files(per_class=10)]
    assert 0.3 < transverse_time_scale(views) < 1.5  # cm per time pixel, a few ticks each


def test_missing_directory_and_corrupt_event_are_named(tmp_path):
    with pytest.raises(DataError, match="not found: .*nowhere"):
        load_dune_cvn(tmp_path / "nowhere")
    for flavour in ("nc", "numu", "nue"):
        shutil.copytree(DEFAULT_ROOT / flavour, tmp_path / flavour,
                        ignore=lambda d, names: [n for n in names if not n.startswith("event1.")])
    (tmp_path / "numu" / "event1.gz").write_bytes(b"not zlib")
    with pytest.raises(DataError, match=r"numu/event1\.gz"):
        load_dune_cvn(tmp_path)
    (tmp_path / "numu" / "event1.gz").write_bytes(zlib.compress(b"\0" * 100))
    with pytest.raises(DataError, match="holds 100 bytes"):
        load_dune_cvn(tmp_path)


def test_an_event_in_the_wrong_directory_is_refused(tmp_path):
    for flavour in ("nc", "numu", "nue"):
        (tmp_path / flavour).mkdir()
    for flavour, source in (("nc", "numu"), ("numu", "numu"), ("nue", "nue")):
        for suffix in (".gz", ".info"):
            shutil.copy(DEFAULT_ROOT / source / f"event0{suffix}", tmp_path / flavour)
    with pytest.raises(DataError, match="says numu CC but the event sits in nc/"):
        load_dune_cvn(tmp_path)


def test_the_calibration_and_evaluation_halves_are_fixed_balanced_and_disjoint():
    files = event_files()
    halves = split_halves(files)
    again = split_halves(list(reversed(files)))
    assert {k: sorted(map(str, (p for _, p in v))) for k, v in halves.items()} == \
        {k: sorted(map(str, (p for _, p in v))) for k, v in again.items()}
    calibration = {p for _, p in halves["calibration"]}
    evaluation = {p for _, p in halves["evaluation"]}
    assert not calibration & evaluation and len(calibration | evaluation) == len(files)
    for half in (halves["calibration"], halves["evaluation"]):
        assert np.bincount([label for label, _ in half]).tolist() == [100, 100, 100]
    sample = load_dune_cvn(half="evaluation", per_class=10)
    assert np.bincount(sample.labels).tolist() == [5, 5, 5]
    with pytest.raises(DataError, match="half"):
        load_dune_cvn(half="training")

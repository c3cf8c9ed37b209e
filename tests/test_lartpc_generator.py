"""The simulator as others use it: shapes, balance, seeds, configs, files, and the two commands."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from learnledger.cli.console import CliError
from learnledger.cli.main import app
from learnledger.data.api import EventSample
from learnledger.data.lartpc import SimConfig, generate, read_h5, write_h5
from learnledger.data.lartpc.config import CVN_READOUT
from learnledger.data.lartpc.h5io import read_h5_config

SMALL = SimConfig(image_size=64)


@pytest.fixture(scope="module")
def sample() -> EventSample:
    return generate(60, seed=7, config=SMALL, workers=1)


def test_shapes_and_dtypes(sample):
    assert sample.images.shape == (60, 3, 64, 64) and sample.images.dtype == np.uint8
    assert sample.labels.dtype.kind == "i" and set(np.unique(sample.labels)) == {0, 1, 2}
    assert sample.to_split().x.shape == (60, 64, 64, 3)
    assert np.all(sample.interaction >= 0) and np.all(sample.interaction <= 3)


def test_classes_are_balanced_and_truth_is_physical(sample):
    assert np.bincount(sample.labels).tolist() == [20, 20, 20]
    assert 1.5 < sample.energy.mean() < 3.5
    cc = sample.labels > 0
    assert np.all(sample.lepton_energy[~cc] == 0)  # the NC lepton is an invisible neutrino
    assert np.all((sample.lepton_energy[cc] > 0) & (sample.lepton_energy[cc] < sample.energy[cc]))


def test_every_event_shows_charge_and_nue_lights_up_more_than_nc(sample):
    occupancy = (sample.images > 0).mean(axis=(1, 2, 3))
    assert occupancy[sample.labels == 2].mean() > occupancy[sample.labels == 0].mean()
    assert (sample.images.reshape(60, -1).max(axis=1) > 0).mean() > 0.9


def test_same_seed_same_events_whatever_the_worker_count(sample):
    again = generate(60, seed=7, config=SMALL, workers=2)
    assert np.array_equal(again.images, sample.images)
    assert np.array_equal(again.energy, sample.energy)


def test_another_seed_other_events(sample):
    other = generate(60, seed=8, config=SMALL, workers=1)
    assert not np.array_equal(other.images, sample.images)


def test_knobs_change_the_images():
    quiet = generate(9, seed=1, config=SMALL.replace(noise_electrons=0.0), workers=1)
    noisy = generate(9, seed=1, config=SMALL.replace(noise_electrons=20000.0), workers=1)
    assert (noisy.images > 0).sum() > 2 * (quiet.images > 0).sum()


def test_config_round_trips_and_refuses_typos():
    config = SimConfig.for_geometry("dune", noise_electrons=1234.0)
    assert config.induction_angle_deg == pytest.approx(35.7)
    assert SimConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match="nois_electrons"):
        SimConfig.from_dict({"nois_electrons": 1.0})
    with pytest.raises(ValueError, match="geometry='sbnd'"):
        SimConfig(geometry="sbnd")
    with pytest.raises(ValueError, match="nc_pi0_fraction"):
        SimConfig(nc_pi0_fraction=1.5)
    with pytest.raises(ValueError, match="readout_pool=0"):
        SimConfig(readout_pool=0)
    with_readout = SimConfig.for_geometry("dune", **CVN_READOUT)
    assert SimConfig.from_json(with_readout.to_json()) == with_readout
    with pytest.raises(ValueError, match="n_events=0"):
        generate(0, seed=1)


def test_h5_round_trip(tmp_path, sample):
    path = tmp_path / "events.h5"
    write_h5(path, sample, SMALL, seed=7)
    back = read_h5(path)
    for field in ("images", "labels", "energy", "lepton_energy", "interaction"):
        assert np.array_equal(getattr(back, field), getattr(sample, field))
    config, seed = read_h5_config(path)
    assert config == SMALL and seed == 7
    with h5py.File(path) as f:
        assert f["images"].compression == "gzip"


def test_read_h5_explains_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.h5"):
        read_h5(tmp_path / "nothing.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = [1]
    with pytest.raises(ValueError, match="missing dataset"):
        read_h5(tmp_path / "other.h5")


def _invoke(args: list[str]):
    """Run the CLI in-process; CliError is how commands report user errors (main prints them)."""
    result = CliRunner().invoke(app, args)
    return result


def test_cli_lartpc_then_show(tmp_path):
    out = tmp_path / "s.h5"
    result = _invoke(["data", "lartpc", "--events", "6", "--out", str(out), "--seed", "3", "--geometry", "dune",
                      "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "wrote 6 events" in result.output
    assert len(read_h5(out)) == 6 and read_h5_config(out)[0].geometry == "dune"
    png = tmp_path / "e.png"
    result = _invoke(["data", "show", str(out), "--index", "2", "--out", str(png)])
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_refuses_bad_input(tmp_path):
    result = _invoke(["data", "lartpc", "--events", "5", "--out", str(tmp_path / "a.h5"), "--geometry", "sbnd"])
    assert isinstance(result.exception, CliError) and "sbnd" in str(result.exception)
    result = _invoke(["data", "lartpc", "--events", "0", "--out", str(tmp_path / "a.h5")])
    assert isinstance(result.exception, CliError) and "received: 0" in str(result.exception)
    out = tmp_path / "s.h5"
    _invoke(["data", "lartpc", "--events", "3", "--out", str(out), "--workers", "1"])
    result = _invoke(["data", "show", str(out), "--index", "9"])
    assert isinstance(result.exception, CliError) and "holds 3 events" in str(result.exception)


def test_activity_framing_keeps_the_charge_in_view():
    from learnledger.data.lartpc.render import frame_on_activity

    canvas = np.zeros((1, 3, 30, 30), np.uint8)
    canvas[0, :, 22:26, 3:6] = 50  # activity near a corner of the canvas
    framed = frame_on_activity(canvas, 10)
    assert framed.shape == (1, 3, 10, 10)
    assert framed.sum() == canvas.sum()  # one time window for all views, a wire window per view


def test_pooling_follows_the_cvn_loader():
    """Readout pixels pooled as the DUNE CVN maps are: 2 x 2 summed, halved, rounded, clipped."""
    from learnledger.data.dune_cvn import crop_event
    from learnledger.data.lartpc.render import pool_pixels

    raw = np.random.default_rng(3).integers(0, 256, (3, 400, 400)).astype(np.uint8)
    raw[raw < 200] = 0  # sparse, with saturated pixels, like an event
    assert np.array_equal(pool_pixels(raw[None], 2)[0], crop_event(raw))


def test_dune_readout_thresholds_and_saturates_readout_pixels():
    """Read out as the CVN maps (change 9), the threshold and the 8-bit ceiling act on the readout
    pixels, before the 2 x 2 pooling: a pooled pixel can hold half a threshold (a lone faint hit),
    and charge landing on one readout pixel reads at most 255 / 2 once pooled, however much it is."""
    from learnledger.data.lartpc.generator import _draw

    config = SimConfig.for_geometry("dune", **CVN_READOUT, noise_electrons=0.0, framing="vertex")
    assert config.readout_pool == 2
    sample = generate(30, seed=4, config=config, workers=1)
    lit = sample.images[sample.images > 0]
    assert lit.min() >= config.threshold_counts / 2 - 0.5
    assert (lit < config.threshold_counts).mean() > 0.03  # faint hits, as in the real maps (~10%)
    one_wire = np.array([[0.1 * config.pixel_wire_cm] * 3])  # inside one readout pixel of each view
    images = []
    for electrons in (1e5, 1e7):  # ~150 and ~15,000 counts on one readout pixel
        images.append(_draw(np.zeros(1, np.int64), one_wire, np.array([0.1 * config.pixel_time_cm]),
                            np.array([electrons]), np.array([[100.0, 100.0]]), 1, config,
                            np.random.default_rng(0)))
    faint, bright = (image.max() for image in images)
    assert faint == round(1e5 * config.counts_per_kilo_electron * 2 / 1000 / 2)
    assert bright == 128  # 255 on the readout pixel, halved by the pooling


def test_noise_on_empty_pixels_crosses_the_threshold_at_the_gaussian_rate():
    from math import erfc, sqrt

    from learnledger.data.lartpc.render import add_noise

    sigma, threshold = 1.5, 6.0  # threshold within 6 sigma of zero, as on the DUNE readout pixels
    counts = np.zeros(4_000_000, np.float32)
    add_noise(counts, sigma, threshold, np.random.default_rng(0))
    expected = 0.5 * erfc(threshold / (sigma * sqrt(2))) * counts.size  # ~127
    assert abs((counts >= threshold).sum() - expected) < 5 * sqrt(expected)


@pytest.mark.parametrize("noise_electrons", [1000.0, 4000.0])
def test_sparse_readout_gives_the_dense_images(noise_electrons):
    """Read out as the CVN maps, only the lit pixels are handled; that must give the dense path's
    images, draw for draw (4000 e- of noise: ~7,000 empty pixels over the threshold, some landing on lit ones)."""
    from learnledger.data.lartpc import render

    config = SimConfig.for_geometry("dune", **CVN_READOUT, image_size=80, framing="vertex",
                                    noise_electrons=noise_electrons)
    rng = np.random.default_rng(5)
    n_events, n_deposits = 4, 3000
    event = np.sort(rng.integers(0, n_events, n_deposits))
    wires = rng.normal(0.0, 10.0, (n_deposits, 3))
    drift = rng.normal(0.0, 10.0, n_deposits)
    charge = rng.exponential(20000.0, n_deposits)
    vertex = np.full((n_events, 2), 40.0)
    args = (event, wires, drift, charge, vertex, n_events, config)
    dense = render.pool_pixels(render.readout(render.bin_charge(*args), config, np.random.default_rng(9)), 2)
    sparse = render.read_out_sparse(*args, pool=2, rng=np.random.default_rng(9))
    assert dense.any() and np.array_equal(sparse, dense)

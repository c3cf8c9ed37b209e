"""Numbers that tie a simulator to real events: pixel scale, charge scale, occupancy.

``event_statistics`` describes any EventSample (simulated or real) the same way, so the two can be
compared line by line. ``dune_cvn_statistics`` adds what only the raw DUNE CVN maps can tell: the
size of a pixel in centimetres and how much charge the crop keeps.

Pixel scale, measured two ways on the raw 500 x 500 maps:
- wires: one pixel is one wire (4.79 mm collection pitch, 4.67 mm induction, U/V at +-35.7 degrees
  to the vertical; DUNE TDR). Checked by contained muons: the z extent seen on the Z view agrees
  with the one reconstructed from U and V, and their 3D length is compared with the CSDA range of
  the true muon energy.
- time: x (drift) and y (vertical) are both transverse to the beam, so over many events the charge
  spreads as widely in x as in y. y comes from the U and V spreads (var U + var V = 2 cos^2 a var z
  + 2 sin^2 a var y), x = scale x time pixels; equating their sums over all events gives the scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

from learnledger.data.api import EventSample
from learnledger.data.dune_cvn import WITH_NUTAU, charge_kept, event_files, read_raw_event, read_truth

# DUNE Far Detector horizontal drift (DUNE TDR Vol. IV, arXiv:2002.03010).
COLLECTION_PITCH_CM = 0.479
INDUCTION_PITCH_CM = 0.4669
INDUCTION_ANGLE_DEG = 35.7
TICK_US = 0.5
DRIFT_SPEED_CM_PER_US = 0.16

# Liquid argon for the muon CSDA range (PDG "Atomic and nuclear properties", argon, liquid).
LAR_DENSITY = 1.396  # g/cm^3
LAR_Z_OVER_A = 0.45059
LAR_MEAN_EXCITATION_MEV = 188.0e-6
LAR_STERNHEIMER = {"a": 0.19559, "k": 3.0, "x0": 0.2, "x1": 3.0, "cbar": 5.2146}
MUON_MASS_MEV = 105.6584
ELECTRON_MASS_MEV = 0.51099895
K_MEV_CM2_PER_MOL = 0.307075

QUANTILES = (5, 25, 50, 75, 95)


def event_statistics(sample: EventSample) -> dict[str, object]:
    """Occupancy and charge of a sample, per class and per plane, in output pixels.

    occupancy: fraction of non-zero pixels of an event (mean and standard deviation per class);
    charge: quantiles of the non-zero pixel values per plane; saturated: fraction of non-zero
    pixels at 255; charge_per_event: mean summed pixel value per plane, per class.
    """
    images = sample.images
    nonzero = images > 0
    occupancy = nonzero.reshape(len(images), -1).mean(axis=1)
    per_class: dict[str, object] = {}
    for label, name in enumerate(sample.class_names):
        members = sample.labels == label
        if not members.any():
            continue
        per_class[name] = {
            "events": int(members.sum()),
            "occupancy_mean": float(occupancy[members].mean()),
            "occupancy_std": float(occupancy[members].std()),
            "charge_per_event": [float(images[members, plane].sum(axis=(1, 2), dtype=np.int64).mean())
                                 for plane in range(images.shape[1])],
        }
    planes = {}
    for plane, name in enumerate(("U", "V", "Z")[: images.shape[1]]):
        values = images[:, plane][nonzero[:, plane]]
        planes[name] = {
            "quantiles": dict(zip((f"p{q}" for q in QUANTILES),
                                  np.percentile(values, QUANTILES).tolist() if values.size else [])),
            "saturated": float(np.mean(values == 255)) if values.size else 0.0,
        }
    return {"events": len(sample), "image_shape": list(images.shape[1:]), "per_class": per_class,
            "charge": planes}


def muon_csda_range_cm(kinetic_energy_gev: float) -> float:
    """CSDA range of a muon in liquid argon, cm: the Bethe formula with density effect, integrated.

    Radiative losses are left out (under 2% below 10 GeV). Checks: minimum ionization
    2.10 MeV/cm; a 1 GeV muon goes 4.4 m (PDG tables: 4.3 m).
    """
    t = np.linspace(1.0, max(kinetic_energy_gev * 1000.0, 1.0 + 1e-6), 4000)
    return float(np.trapezoid(1.0 / _muon_dedx(t), t) / LAR_DENSITY)


def transverse_time_scale(views_list: list[np.ndarray]) -> float:
    """cm per time pixel from the transverse isotropy of charge (see the module notes)."""
    cos_a, sin_a = np.cos(np.radians(INDUCTION_ANGLE_DEG)), np.sin(np.radians(INDUCTION_ANGLE_DEG))
    sum_var_y = 0.0
    sum_var_t = 0.0
    for views in views_list:
        var_wire, var_time = _spreads(views)
        var_z = COLLECTION_PITCH_CM**2 * var_wire[2]
        sum_var_y += (INDUCTION_PITCH_CM**2 * (var_wire[0] + var_wire[1])
                      - 2 * cos_a**2 * var_z) / (2 * sin_a**2)
        sum_var_t += float(np.mean(var_time))
    return float(np.sqrt(max(sum_var_y, 0.0) / sum_var_t))


def contained_muon_lengths(events: list[tuple[np.ndarray, float]], time_scale_cm: float,
                           ) -> list[dict[str, float]]:
    """3D length against CSDA range for numu CC events whose muon stays in the map.

    ``events``: (raw views, muon kinetic energy GeV). The main cluster of each view is taken as a
    straight line (its extreme points along its principal axis); an event counts only when it
    stays 3 pixels away from the edges, its three views agree on the time extent (within 15%) and
    the z extent from U and V agrees with the Z view's (within 15% of the range).
    """
    cos_a, sin_a = np.cos(np.radians(INDUCTION_ANGLE_DEG)), np.sin(np.radians(INDUCTION_ANGLE_DEG))
    results = []
    for views, kinetic in events:
        extents = [_line_extent(view) for view in views]
        if any(extent is None for extent in extents):
            continue
        (du, tu), (dv, tv), (dz, tz) = extents  # type: ignore[misc]
        times = (tu, tv, tz)
        if max(times) - min(times) > 0.15 * max(times) + 3:
            continue
        csda = muon_csda_range_cm(kinetic)
        z_from_z = COLLECTION_PITCH_CM * dz
        z_from_uv = INDUCTION_PITCH_CM * (du + dv) / (2 * cos_a)
        if abs(z_from_z - z_from_uv) > 0.15 * csda + 5:
            continue
        y = INDUCTION_PITCH_CM * (dv - du) / (2 * sin_a)
        length = float(np.sqrt(z_from_z**2 + y**2 + (time_scale_cm * np.mean(times)) ** 2))
        results.append({"kinetic_energy_gev": kinetic, "csda_range_cm": csda,
                        "length_cm": length, "ratio": length / csda})
    return results


def dune_cvn_statistics(root: Path | None = None, include_nutau: bool = True,
                        per_class: int | None = None, size: int = 200) -> dict[str, object]:
    """Everything the simulator needs to look like the DUNE CVN sample, measured on it."""
    from learnledger.data.dune_cvn import load_dune_cvn

    files = event_files(root, include_nutau, per_class)
    raw_occupancy: dict[str, list[float]] = {}
    raw_values: list[list[np.ndarray]] = [[], [], []]
    kept: dict[str, list[float]] = {}
    all_views = []
    muons = []
    for label, path in files:
        views = read_raw_event(path)
        name = WITH_NUTAU[label]
        all_views.append(views)
        raw_occupancy.setdefault(name, []).append(float((views > 0).mean()))
        kept.setdefault(name, []).append(charge_kept(views, size))
        for plane in range(3):
            raw_values[plane].append(views[plane][views[plane] > 0])
        if label == 1:
            truth = read_truth(path.with_suffix(".info"))
            kinetic = truth.lepton_energy - MUON_MASS_MEV / 1000.0
            if 0.0 < kinetic < 1.2:  # range under ~5 m: might stay inside the 2.4 m map
                muons.append((views, kinetic))
    time_scale = transverse_time_scale(all_views)
    per_class_time_scale = {
        name: transverse_time_scale([v for (lab, _), v in zip(files, all_views)
                                     if WITH_NUTAU[lab] == name])
        for name in raw_occupancy
    }
    muon_checks = contained_muon_lengths(muons, time_scale)
    ratios = [m["ratio"] for m in muon_checks]
    raw_charge = {}
    for plane, name in enumerate(("U", "V", "Z")):
        values = np.concatenate(raw_values[plane])
        raw_charge[name] = {
            "quantiles": dict(zip((f"p{q}" for q in QUANTILES),
                                  np.percentile(values, QUANTILES).tolist())),
            "saturated": float(np.mean(values == 255)),
        }
    pool = 500 // size
    return {
        "raw": {
            "events": len(files),
            "wire_pitch_cm": {"U": INDUCTION_PITCH_CM, "V": INDUCTION_PITCH_CM,
                              "Z": COLLECTION_PITCH_CM},
            "induction_angle_deg": INDUCTION_ANGLE_DEG,
            "time_pixel_cm": time_scale,
            "time_pixel_cm_per_class": per_class_time_scale,
            "time_pixel_in_ticks": time_scale / (TICK_US * DRIFT_SPEED_CM_PER_US),
            "contained_muons": {"events": len(muon_checks),
                                "length_over_csda_median": float(np.median(ratios)) if ratios else None,
                                "each": muon_checks},
            "occupancy": {name: {"mean": float(np.mean(v)), "std": float(np.std(v))}
                          for name, v in raw_occupancy.items()},
            "charge": raw_charge,
        },
        "crop": {
            "size": size, "pool": pool, "window": size * pool,
            "output_pixel_cm": {"wire_Z": COLLECTION_PITCH_CM * pool,
                                "wire_UV": INDUCTION_PITCH_CM * pool,
                                "time": time_scale * pool},
            "charge_kept": {name: {"mean": float(np.mean(v)), "min": float(np.min(v))}
                            for name, v in kept.items()},
            "charge_kept_mean": float(np.mean([x for v in kept.values() for x in v])),
        },
        "output": event_statistics(load_dune_cvn(root, include_nutau, size, per_class)),
    }


def _muon_dedx(kinetic_mev: np.ndarray) -> np.ndarray:
    """Mean ionization loss of a muon in liquid argon, MeV cm^2/g (PDG Bethe formula)."""
    gamma = (kinetic_mev + MUON_MASS_MEV) / MUON_MASS_MEV
    beta2 = 1.0 - 1.0 / gamma**2
    beta_gamma2 = beta2 * gamma**2
    ratio = ELECTRON_MASS_MEV / MUON_MASS_MEV
    w_max = 2 * ELECTRON_MASS_MEV * beta_gamma2 / (1 + 2 * gamma * ratio + ratio**2)
    x = 0.5 * np.log10(beta_gamma2)
    p = LAR_STERNHEIMER
    delta = np.where(x >= p["x1"], 2 * np.log(10) * x - p["cbar"],
                     np.where(x >= p["x0"],
                              2 * np.log(10) * x - p["cbar"] + p["a"] * (p["x1"] - x) ** p["k"], 0.0))
    log_term = 0.5 * np.log(2 * ELECTRON_MASS_MEV * beta_gamma2 * w_max / LAR_MEAN_EXCITATION_MEV**2)
    return K_MEV_CM2_PER_MOL * LAR_Z_OVER_A / beta2 * (log_term - beta2 - delta / 2)


def _spreads(views: np.ndarray) -> tuple[list[float], list[float]]:
    """Charge-weighted variance along wires and along time, per view, in pixels^2."""
    axis = np.arange(views.shape[-1], dtype=float)
    var_wire, var_time = [], []
    for view in views.astype(float):
        total = view.sum()
        if total == 0:
            var_wire.append(0.0)
            var_time.append(0.0)
            continue
        for profile, out in ((view.sum(axis=1), var_wire), (view.sum(axis=0), var_time)):
            weights = profile / total
            mean = (axis * weights).sum()
            out.append(float(((axis - mean) ** 2 * weights).sum()))
    return var_wire, var_time


def _line_extent(view: np.ndarray) -> tuple[float, float] | None:
    """(signed wire extent, time extent) of the view's main cluster, None if it touches an edge."""
    hits = view > 0
    if not hits.any():
        return None
    clusters, count = ndimage.label(ndimage.binary_dilation(hits, iterations=2))
    sizes = ndimage.sum(hits, clusters, range(1, count + 1))
    wires, times = np.nonzero((clusters == 1 + int(np.argmax(sizes))) & hits)
    edge = view.shape[0] - 4
    if min(wires.min(), times.min()) < 3 or max(wires.max(), times.max()) > edge:
        return None
    points = np.stack([wires, times], axis=1).astype(float)
    centred = points - points.mean(axis=0)
    if len(points) < 3:
        return None
    _, vectors = np.linalg.eigh(np.cov(centred.T))
    along = centred @ vectors[:, 1]
    delta = points[np.argmax(along)] - points[np.argmin(along)]
    if delta[1] < 0:
        delta = -delta
    return float(delta[0]), float(delta[1])

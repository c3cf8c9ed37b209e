"""From energy in the argon to charge at the wires: recombination, drift, diffusion, projection.

Coordinates (cm, relative to the vertex): x along the drift (towards the anode is earlier time),
y up, z along the beam. Wire planes: U and V wires at -/+ the induction angle from the vertical,
Z (collection) wires vertical; a plane's wire coordinate is the position across its wires.
"""

from __future__ import annotations

import numpy as np

from learnledger.data.lartpc import constants as C
from learnledger.data.lartpc.config import SimConfig

PLANES = ("U", "V", "Z")


def recombination_survival(dedx: np.ndarray, config: SimConfig) -> np.ndarray:
    """Fraction of ionisation electrons escaping recombination (modified box model, ArgoNeuT)."""
    xi = config.recombination_beta * np.maximum(dedx, 0.1) / (C.LAR_DENSITY * config.electric_field_kv_cm)
    return np.log(config.recombination_alpha + xi) / xi


def collected_electrons(energy: np.ndarray, dedx: np.ndarray, drift_cm: np.ndarray,
                        config: SimConfig) -> np.ndarray:
    """Electrons reaching the wires: ionisation, minus recombination, minus capture on impurities."""
    produced = energy / config.w_ion_mev
    drift_time_us = drift_cm / config.drift_velocity_cm_us
    survive_drift = np.exp(-drift_time_us / (config.electron_lifetime_ms * 1000.0))
    return produced * recombination_survival(dedx, config) * survive_drift


def diffuse(position: np.ndarray, drift_cm: np.ndarray, config: SimConfig,
            rng: np.random.Generator) -> np.ndarray:
    """Each deposit's charge cloud centre, spread by longitudinal and transverse diffusion."""
    t_s = drift_cm / config.drift_velocity_cm_us * 1e-6
    sigma_long = np.sqrt(2 * config.diffusion_long_cm2_s * t_s)
    sigma_trans = np.sqrt(2 * config.diffusion_trans_cm2_s * t_s)
    sigma = np.column_stack([sigma_long, sigma_trans, sigma_trans])
    return position + rng.standard_normal(position.shape) * sigma


def wire_coordinates(position: np.ndarray, config: SimConfig) -> np.ndarray:
    """(n, 3) position across the wires of planes U, V, Z, cm."""
    angle = np.deg2rad(config.induction_angle_deg)
    y, z = position[:, 1], position[:, 2]
    return np.column_stack([
        z * np.cos(angle) - y * np.sin(angle),
        z * np.cos(angle) + y * np.sin(angle),
        z,
    ])

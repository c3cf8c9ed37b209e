"""Mean energy loss of heavy charged particles in liquid argon, and the CSDA range it implies.

Bethe-Bloch with the density effect (PDG, passage of particles through matter, eq. 34.5), integrated
once per mass into a table of range against kinetic energy. A track then needs only table look-ups:
its range from its energy, and its energy (so its dE/dx) at each residual range.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from learnledger.data.lartpc import constants as C


def bethe_bloch(kinetic_mev: np.ndarray | float, mass_mev: float) -> np.ndarray:
    """Mean dE/dx (MeV/cm) of a singly charged particle in liquid argon."""
    t = np.asarray(kinetic_mev, float)
    gamma = 1.0 + t / mass_mev
    beta2 = 1.0 - 1.0 / gamma**2
    bg2 = beta2 * gamma**2
    me = C.ELECTRON_MASS
    w_max = 2 * me * bg2 / (1 + 2 * gamma * me / mass_mev + (me / mass_mev) ** 2)
    log_term = 0.5 * np.log(2 * me * bg2 * w_max / C.LAR_MEAN_EXCITATION**2)
    per_gram = C.BETHE_K * C.LAR_Z_OVER_A / beta2 * (log_term - beta2 - 0.5 * _density_effect(bg2))
    return np.maximum(per_gram, 0.0) * C.LAR_DENSITY


def _density_effect(bg2: np.ndarray) -> np.ndarray:
    """Sternheimer's parametrisation of delta(beta gamma)/2 x 2 (PDG eq. 34.7)."""
    p = C.STERNHEIMER_LAR
    x = 0.5 * np.log10(np.maximum(bg2, 1e-30))
    two_ln10 = 2.0 * np.log(10.0)
    delta = np.where(x >= p["x1"], two_ln10 * x - p["cbar"], two_ln10 * x - p["cbar"] + p["a"] * np.clip(p["x1"] - x, 0, None) ** p["k"])
    return np.where(x < p["x0"], p["delta0"] * 10 ** (2 * (x - p["x0"])), delta)


class RangeTable:
    """Range (cm) against kinetic energy (MeV) for one mass, by integrating 1/(dE/dx)."""

    def __init__(self, mass_mev: float) -> None:
        self.mass = mass_mev
        # from beta gamma = 0.05 (below it Bethe-Bloch fails; the range there is < 0.01 cm) to 100 GeV
        lowest = mass_mev * (np.sqrt(1 + 0.05**2) - 1)
        self.kinetic = np.geomspace(lowest, 1.0e5, 2000)
        self.dedx = bethe_bloch(self.kinetic, mass_mev)
        inverse = 1.0 / self.dedx
        steps = np.diff(self.kinetic) * 0.5 * (inverse[1:] + inverse[:-1])
        start = lowest / self.dedx[0]  # the bit below the table, at the first stopping power
        self.range = start + np.concatenate([[0.0], np.cumsum(steps)])

    def range_of(self, kinetic_mev: np.ndarray | float) -> np.ndarray:
        return np.interp(np.log(np.maximum(kinetic_mev, self.kinetic[0])), np.log(self.kinetic), self.range) * (
            np.minimum(np.asarray(kinetic_mev) / self.kinetic[0], 1.0))

    def kinetic_at(self, residual_range_cm: np.ndarray | float) -> np.ndarray:
        r = np.asarray(residual_range_cm, float)
        above = np.exp(np.interp(r, self.range, np.log(self.kinetic)))
        return np.where(r < self.range[0], self.kinetic[0] * np.maximum(r, 0) / self.range[0], above)

    def dedx_at(self, kinetic_mev: np.ndarray | float) -> np.ndarray:
        t = np.maximum(np.asarray(kinetic_mev, float), self.kinetic[0])
        return np.interp(np.log(t), np.log(self.kinetic), self.dedx)


@lru_cache(maxsize=8)
def range_table(mass_mev: float) -> RangeTable:
    return RangeTable(mass_mev)


def pdg_muon_csda_range_cm(kinetic_mev: np.ndarray | float) -> np.ndarray:
    """The PDG (Groom, Mokhov, Striganov) muon CSDA range in liquid argon, cm, interpolated in log-log."""
    log_r = np.interp(np.log(kinetic_mev), np.log(C.MUON_CSDA_TABLE_KE), np.log(C.MUON_CSDA_TABLE_RANGE))
    return np.exp(log_r) / C.LAR_DENSITY

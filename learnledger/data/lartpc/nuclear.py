"""Where a charged pion meets an argon nucleus: its cross-sections, how far it flies first, and how
an elastic scattering turns it.

A pion's chance to meet a nucleus depends on its energy: near the Delta(1232) resonance (kinetic
energy ~150 MeV) the pion-argon cross-section is ~1.5 b (1 b of reactions, 0.6 b of elastic
scattering), a mean free path of 32 cm in liquid argon, while above a few GeV it is ~0.7 b (68 cm).
A constant length (the PDG's nuclear interaction length, 85.7 cm, and no elastic scattering) lets the
slow pions of neutrino events fly far too long and too straight, so their tracks look like muons.
The cross-sections are Barashenkov's evaluation for mass number 40 (``C.PI_MINUS_REACTION_MB``).

A track slows as it goes, so the point where it meets a nucleus is found on its residual range: the
optical depth tau(r) = integral from 0 to r of n sigma(T(r')) dr' is tabulated once per species, and
a track of range R interacts at the residual range r where tau(R) - tau(r) equals an exponential draw
of mean 1; if tau(R) is smaller, the track stops first. There the pion scatters elastically with the
share sigma_elastic / sigma_total of its energy then, and reacts otherwise.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from learnledger.data.lartpc import constants as C
from learnledger.data.lartpc import species as S
from learnledger.data.lartpc.energy_loss import range_table

_TABLES_MB = {S.PION_MINUS: (C.PI_MINUS_REACTION_MB, C.PI_MINUS_TOTAL_MB),
              S.PION_PLUS: (C.PI_PLUS_REACTION_MB, C.PI_PLUS_TOTAL_MB)}


def pion_cross_sections_mb(kind: int, kinetic_mev: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """(reaction, total) cross-sections of a pi+ or pi- (``kind``) on argon, mb, log-linear in kinetic
    energy between the table's points and held at its ends."""
    reaction, total = _TABLES_MB[kind]
    energies = np.log(C.PION_REACTION_KE_GEV[: len(reaction)] * 1000.0)
    at = np.log(np.maximum(kinetic_mev, 1e-3))
    return np.interp(at, energies, reaction), np.interp(at, energies, total)


def pion_mean_free_path_cm(kind: int, kinetic_mev: np.ndarray | float) -> np.ndarray:
    """Mean path before a pion meets a nucleus (elastically or not), cm: 1 / (n sigma_total)."""
    return 1.0 / (C.LAR_NUCLEI_PER_CM3 * pion_cross_sections_mb(kind, kinetic_mev)[1] * 1e-27)


def elastic_share(kind: int, kinetic_mev: np.ndarray | float) -> np.ndarray:
    """Share of a pion's encounters with a nucleus that are elastic scatterings."""
    reaction, total = pion_cross_sections_mb(kind, kinetic_mev)
    return 1.0 - reaction / total


def distance_to_interaction(kind: int, kinetic_mev: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Path length (cm) at which pions of ``kind`` starting at ``kinetic_mev`` meet a nucleus, given an
    optical depth ``depth`` drawn from an exponential of mean 1 per pion; inf where they stop first."""
    residual, tau = _optical_depth(kind)
    full_range = range_table(float(S.MASS[kind])).range_of(kinetic_mev)
    left = np.interp(full_range, residual, tau) - np.asarray(depth, float)
    where = np.interp(np.maximum(left, 0.0), tau, residual)
    return np.where(left > 0.0, full_range - where, np.inf)


def elastic_angle(kind: int, kinetic_mev: np.ndarray | float, rng: np.random.Generator) -> np.ndarray:
    """Scattering angles (rad) of elastic pion-argon scatterings: the diffraction peak of a black disk
    of the nuclear radius R, d(sigma)/dt ~ exp(-R^2 |t| / 4) with |t| = (p theta)^2, so theta^2 is
    exponential with mean 4 / (p R)^2 (18 degrees r.m.s. at 300 MeV/c). The nucleus's recoil (~0.1 MeV)
    is neglected."""
    mass = float(S.MASS[kind])
    kinetic = np.asarray(kinetic_mev, float)
    p_per_fm = np.sqrt(kinetic * (kinetic + 2 * mass)) / C.HBAR_C_MEV_FM
    mean_square = 4.0 / (p_per_fm * C.NUCLEAR_RADIUS_FM) ** 2
    return np.minimum(np.sqrt(rng.exponential(mean_square)), np.pi)


@lru_cache(maxsize=4)
def _optical_depth(kind: int) -> tuple[np.ndarray, np.ndarray]:
    """(residual range, tau) on the range table's grid of ``kind``."""
    table = range_table(float(S.MASS[kind]))
    per_cm = 1.0 / pion_mean_free_path_cm(kind, table.kinetic)
    steps = np.diff(table.range) * 0.5 * (per_cm[1:] + per_cm[:-1])
    tau = table.range[0] * per_cm[0] + np.concatenate([[0.0], np.cumsum(steps)])
    return table.range, tau

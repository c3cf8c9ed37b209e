"""Physics of the LArTPC simulator against the numbers it claims: PDG dE/dx, CSDA ranges, showers."""

from __future__ import annotations

import numpy as np
import pytest

from learnledger.data.lartpc import constants as C
from learnledger.data.lartpc import species as S
from learnledger.data.lartpc.config import SimConfig
from learnledger.data.lartpc.detector import recombination_survival
from learnledger.data.lartpc.energy_loss import bethe_bloch, pdg_muon_csda_range_cm
from learnledger.data.lartpc.particles import Particles, step_tracks
from learnledger.data.lartpc.showers import cascade
from learnledger.data.lartpc.transport import NEUTRON_CUT_MEV, scatter_neutrons


def _beam(kind: int, energies: np.ndarray) -> Particles:
    n = len(energies)
    return Particles(np.arange(n), np.full(n, kind, np.int8), np.zeros((n, 3)), np.tile([0.0, 0.0, 1.0], (n, 1)),
                     np.asarray(energies, float))


def test_minimum_ionisation_is_2_1_mev_per_cm():
    kinetic = np.geomspace(10.0, 1.0e5, 2000)
    dedx = bethe_bloch(kinetic, C.MUON_MASS)
    assert dedx.min() == pytest.approx(2.105, abs=0.03)
    beta_gamma_at_min = np.sqrt((1 + kinetic[dedx.argmin()] / C.MUON_MASS) ** 2 - 1)
    assert 3.0 < beta_gamma_at_min < 4.5  # PDG: the minimum lies near beta gamma = 3.5


def test_simulated_muon_deposits_2_1_mev_per_cm_near_minimum():
    deposits, _ = step_tracks(_beam(S.MUON, np.full(20, 400.0)), np.random.default_rng(1), interactions=False)
    first_30_cm = np.linalg.norm(deposits.position, axis=1) < 30.0
    per_cm = deposits.energy[first_30_cm].sum() / (20 * 30.0)
    assert per_cm == pytest.approx(2.12, rel=0.05)


@pytest.mark.parametrize("kinetic", [50.0, 200.0, 1000.0, 3000.0])
def test_muon_range_matches_pdg_csda_within_10_percent(kinetic):
    deposits, ends = step_tracks(_beam(S.MUON, np.full(5, kinetic)), np.random.default_rng(2), interactions=False)
    csda = pdg_muon_csda_range_cm(kinetic)
    assert np.all(ends.stopped)
    assert np.all(np.abs(ends.length / csda - 1) < 0.10)
    # the deposits account for the energy, and a scattered track ends a little short of its path length
    assert np.bincount(deposits.event, deposits.energy).mean() == pytest.approx(kinetic, rel=0.05)
    straight = np.linalg.norm(ends.position, axis=1)
    assert np.all(straight <= ends.length + 1e-6) and np.all(straight > 0.8 * ends.length)


def test_proton_has_a_bragg_peak():
    deposits, ends = step_tracks(_beam(S.PROTON, [200.0]), np.random.default_rng(3), landau_width=0.0,
                                 interactions=False)
    distance = np.linalg.norm(deposits.position, axis=1)
    near_end = distance > ends.length[0] - 1.0
    near_start = distance < 3.0
    assert deposits.dedx[near_end].max() > 4 * deposits.dedx[near_start].mean()


def test_shower_maximum_grows_like_log_energy():
    rng = np.random.default_rng(4)
    energies = np.array([250.0, 500.0, 1000.0, 2000.0])
    depth_of_max = []
    for energy in energies:
        deposits = cascade(_beam(S.ELECTRON, np.full(25, energy)), rng)
        depth = deposits.position[:, 2] / C.LAR_RADIATION_LENGTH
        profile, edges = np.histogram(depth, bins=np.arange(0, 25, 0.5), weights=deposits.energy)
        depth_of_max.append(edges[profile.argmax()] + 0.25)
        assert deposits.energy.sum() / (25 * energy) == pytest.approx(1.0, abs=0.06)  # contained, conserved
    slope, intercept = np.polyfit(np.log(energies / C.LAR_CRITICAL_ENERGY), depth_of_max, 1)
    assert 0.7 < slope < 1.4  # PDG: t_max = ln(E/E_c) + C_e
    assert -1.5 < intercept < 1.5  # PDG: C_e = -0.5


def test_photon_converts_after_a_gap():
    rng = np.random.default_rng(5)
    deposits = cascade(_beam(S.PHOTON, np.full(400, 500.0)), rng)
    order = np.lexsort((np.linalg.norm(deposits.position, axis=1), deposits.event))
    first = deposits.position[order][np.r_[0, np.flatnonzero(np.diff(deposits.event[order])) + 1]]
    gap = np.linalg.norm(first, axis=1)
    assert gap.mean() == pytest.approx(C.PAIR_PRODUCTION_MEAN_FREE_PATH, rel=0.15)  # 9/7 X0 = 18 cm


def test_recombination_modified_box_model():
    config = SimConfig()
    mip = recombination_survival(np.array([2.1]), config)[0]
    assert 0.55 < mip < 0.75  # MicroBooNE/ArgoNeuT: ~0.6-0.7 of MIP charge survives at 273-500 V/cm
    assert recombination_survival(np.array([20.0]), config)[0] < 0.5 * mip  # a Bragg peak quenches more


def test_a_fast_neutron_hits_several_nuclei_before_it_is_lost():
    rng = np.random.default_rng(5)
    n = 400
    neutrons = Particles(np.arange(n), np.full(n, S.NEUTRON, np.int8), np.zeros((n, 3)),
                         np.tile([[0.0, 0.0, 1.0]], (n, 1)), np.full(n, 300.0))
    hits = 0
    while len(neutrons):
        made, neutrons = scatter_neutrons(neutrons, rng)
        hits += int(np.sum(made.kind == S.PHOTON))
        assert np.all(neutrons.energy > NEUTRON_CUT_MEV)
    assert hits / n > 2.0  # a 300 MeV neutron keeps ~70% of its energy per hit

"""Physics of the LArTPC simulator against the numbers it claims: PDG dE/dx, CSDA ranges, showers."""

from __future__ import annotations

import numpy as np
import pytest

from learnledger.data.lartpc import constants as C
from learnledger.data.lartpc import species as S
from learnledger.data.lartpc.config import SimConfig
from learnledger.data.lartpc.detector import recombination_survival
from learnledger.data.lartpc.energy_loss import bethe_bloch, pdg_muon_csda_range_cm
from learnledger.data.lartpc.particles import Particles, TrackEnds, knocked_out_nucleons, step_tracks, track_secondaries
from learnledger.data.lartpc.showers import (
    _compton_klein_nishina, _photon_step, cascade, compton_attenuation, klein_nishina_fraction,
    pair_attenuation, pair_share, total_attenuation,
)
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


def test_compton_plus_pairs_make_nists_attenuation():
    """Two independent sources agree: Klein-Nishina and the pair fit against NIST's measured table."""
    table = C.PHOTON_ATTENUATION_KE >= 1.25
    energy = C.PHOTON_ATTENUATION_KE[table]
    parts = compton_attenuation(energy) + pair_attenuation(energy)
    np.testing.assert_allclose(parts, C.PHOTON_ATTENUATION_MU_RHO[table], rtol=0.01)
    assert compton_attenuation(1.0) == pytest.approx(0.0573, rel=0.005)  # 0.2112 b per electron
    assert total_attenuation(1.0e5) == pytest.approx(7 / (9 * C.LAR_RADIATION_LENGTH * C.LAR_DENSITY), rel=0.01)
    assert pair_share(0.9) == 0.0 and pair_share(2.0) < 0.05
    assert 0.35 < pair_share(10.0) < 0.5 < pair_share(15.0)  # pairs overtake Compton near 12 MeV in argon
    assert np.all(np.diff(total_attenuation(np.geomspace(0.1, 15.0, 50))) < 0)  # falls to its minimum


def _mean_transfer_by_integration(k: float) -> float:
    """The electron's mean share of the photon energy, integrating Klein-Nishina's d sigma / d eps."""
    eps = np.linspace(1 / (1 + 2 * k), 1.0, 200_001)
    cos = 1 - (1 - eps) / (eps * k)
    density = (1 / eps + eps) * (1 - eps * (1 - cos**2) / (1 + eps**2))
    return float(np.trapezoid(density * (1 - eps), eps) / np.trapezoid(density, eps))


@pytest.mark.parametrize("energy, tabulated", [(0.1, 0.138), (1.0, 0.440), (10.0, 0.683)])
def test_compton_electrons_take_klein_nishinas_share(energy, tabulated):
    """Mean energy transfer against its integral and the tabulated sigma_tr/sigma (Attix, table 7.1)."""
    k = energy / C.ELECTRON_MASS
    kept = klein_nishina_fraction(np.full(100_000, k), np.random.default_rng(1))
    assert kept.min() >= 1 / (1 + 2 * k) and kept.max() <= 1.0
    assert 1 - kept.mean() == pytest.approx(_mean_transfer_by_integration(k), abs=0.004)
    assert 1 - kept.mean() == pytest.approx(tabulated, abs=0.006)


def test_compton_scattering_conserves_energy_and_momentum():
    photons = _beam(S.PHOTON, np.geomspace(0.3, 30.0, 2000))
    electrons, scattered = _compton_klein_nishina(photons, photons.position, np.random.default_rng(2))
    assert np.all(scattered.energy > 0.1)  # none below the photon cut in this range: the rows pair up
    np.testing.assert_allclose(electrons.energy + scattered.energy, photons.energy)
    t = electrons.energy
    electron_momentum = electrons.direction * np.sqrt(t * t + 2 * t * C.ELECTRON_MASS)[:, None]
    total = electron_momentum + scattered.direction * scattered.energy[:, None]
    np.testing.assert_allclose(total, photons.direction * photons.energy[:, None], atol=1e-9 * 30)
    assert np.all(electrons.direction[:, 2] > 0)  # the electron always goes forward


def test_klein_nishina_photons_convert_by_their_cross_sections():
    """At 10 MeV the threshold makes every photon a pair; by the cross-sections 43% are, the rest
    Compton-scatter (one electron each)."""
    n = 4000
    photons = _beam(S.PHOTON, np.full(n, 10.0))
    for klein_nishina, expected in ((False, 1.0), (True, float(pair_share(10.0)))):
        made, _, _ = _photon_step(photons, np.random.default_rng(4), np.inf, klein_nishina)
        electrons = np.bincount(made.event, minlength=n)
        assert set(np.unique(electrons)) <= {1, 2}
        assert (electrons == 2).mean() == pytest.approx(expected, abs=0.03)


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


def test_knocked_out_nucleons_spend_exactly_the_energy_left():
    rng = np.random.default_rng(6)
    nucleons = [knocked_out_nucleons(500.0, 50.0, rng) for _ in range(400)]
    for out in nucleons:
        spent = sum(kinetic + C.NUCLEON_BINDING_MEV for _, kinetic, _ in out)
        assert 500.0 - C.NUCLEON_BINDING_MEV <= spent <= 500.0 + 1e-9
    kinds = np.array([kind for out in nucleons for kind, _, _ in out])
    assert np.mean(kinds == S.NEUTRON) == pytest.approx(C.ARGON_NEUTRON_SHARE, abs=0.03)
    assert knocked_out_nucleons(C.NUCLEON_BINDING_MEV, 50.0, rng) == []  # nothing left to free one


def test_inelastic_interactions_conserve_energy_when_asked():
    """Pions of 1 GeV forced to interact at once: their products (plus pi0 masses and binding energy)
    carry what they had, where the crude interaction loses about half of it."""
    n = 300
    pions = _beam(S.PION_PLUS, np.full(n, 1000.0))
    ends = TrackEnds(position=np.zeros((n, 3)), direction=pions.direction, energy=pions.energy,
                     length=np.zeros(n), stopped=np.zeros(n, bool), interacted=np.ones(n, bool))
    def carried(nucleon_mev):
        made = track_secondaries(pions, ends, np.random.default_rng(7), nucleon_mev)
        extra = C.NEUTRAL_PION_MASS * np.sum(made.kind == S.PI0)
        nucleons = np.sum(np.isin(made.kind, (S.PROTON, S.NEUTRON)))
        return (made.energy.sum() + extra + C.NUCLEON_BINDING_MEV * nucleons) / pions.energy.sum()
    assert carried(50.0) == pytest.approx(1.0, abs=0.01)
    assert carried(None) < 0.75

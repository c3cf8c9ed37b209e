"""Follow every particle of a batch of events until nothing visible is left.

Each generation: pi0s decay to photon pairs, neutrons knock out protons, tracks are stepped (their
ends make the next generation), electrons and photons shower. A handful of generations suffice.
"""

from __future__ import annotations

import numpy as np

from learnledger.data.lartpc import constants as C
from learnledger.data.lartpc import species as S
from learnledger.data.lartpc.particles import Deposits, Particles, cone, step_tracks, track_secondaries
from learnledger.data.lartpc.showers import cascade

MAX_GENERATIONS = 8
NEUTRON_CUT_MEV = 10.0
"""Below this kinetic energy a neutron is followed no further (it thermalises and is captured; the
capture gammas are among the de-excitation blips)."""


def transport(primaries: Particles, rng: np.random.Generator, reach_cm: float, step_cm: float = 0.3,
              landau_width: float = 0.12, klein_nishina: bool = False,
              inelastic_nucleon_mev: float | None = None, pion_cross_sections: bool = False) -> Deposits:
    """All energy deposits of ``primaries`` (positions relative to each event's vertex) within reach;
    ``klein_nishina`` chooses the showers' photon interactions (``showers.cascade``),
    ``inelastic_nucleon_mev`` whether hadron-argon interactions conserve energy
    (``particles.track_secondaries``), ``pion_cross_sections`` where pions interact
    (``particles.step_tracks``)."""
    deposits: list[Deposits] = []
    pending = primaries
    for _ in range(MAX_GENERATIONS):
        if not len(pending):
            break
        pending = Particles.concat([pending.select(pending.kind != S.PI0),
                                    decay_pi0(pending.select(pending.kind == S.PI0), rng)])
        knocked, neutrons_on = scatter_neutrons(pending.select(pending.kind == S.NEUTRON), rng, reach_cm)
        pending = Particles.concat([pending.select(pending.kind != S.NEUTRON), knocked])
        is_track = np.isin(pending.kind, S.TRACKS)
        tracks = pending.select(is_track & (pending.energy > 0.5))
        showering = pending.select(~is_track)
        next_generation = []
        if len(tracks):
            exit_at = distance_to_sphere(tracks.position, tracks.direction, reach_cm)
            track_deposits, ends = step_tracks(tracks, rng, step_cm, landau_width, max_length_cm=exit_at,
                                               pion_cross_sections=pion_cross_sections)
            deposits.append(track_deposits)
            next_generation.append(track_secondaries(tracks, ends, rng, inelastic_nucleon_mev,
                                                     pion_cross_sections))
        if len(showering):
            deposits.append(cascade(showering, rng, step_cm, landau_width, reach_cm, klein_nishina=klein_nishina))
        pending = Particles.concat([*next_generation, neutrons_on])
    return Deposits.concat(deposits)


def decay_pi0(pi0: Particles, rng: np.random.Generator) -> Particles:
    """pi0 -> gamma gamma at the production point (c tau = 25 nm), isotropic in the pi0 rest frame."""
    if not len(pi0):
        return Particles.empty()
    n = len(pi0)
    m = C.NEUTRAL_PION_MASS
    total = pi0.energy + m
    p = np.sqrt(np.maximum(total**2 - m * m, 0.0))
    beta = (p / total)[:, None] * pi0.direction
    rest_dir = cone(np.tile([[0.0, 0.0, 1.0]], (n, 1)), np.arccos(rng.uniform(-1, 1, n)), rng)
    photons = []
    for sign in (1.0, -1.0):
        energy, momentum = _boost(np.full(n, m / 2), sign * rest_dir * (m / 2), beta)
        direction = momentum / np.linalg.norm(momentum, axis=1, keepdims=True)
        photons.append(Particles(pi0.event, np.full(n, S.PHOTON, np.int8), pi0.position, direction, energy))
    return Particles.concat(photons)


def scatter_neutrons(neutrons: Particles, rng: np.random.Generator, reach_cm: float = np.inf
                     ) -> tuple[Particles, Particles]:
    """Neutrons are invisible until they hit a nucleus: a recoil proton and a de-excitation photon.

    Returns (what the hits make, the neutrons going on, while within ``reach_cm`` of the vertex). A neutron is not stopped by one inelastic
    hit: it goes on, deflected, with what the proton, the photon and the binding energy (8 MeV per
    nucleon) leave it, and hits again in a later generation while it has more than
    ``NEUTRON_CUT_MEV``; so a fast neutron leaves a trail of detached proton stubs and blips, as it
    does in GEANT4's DUNE simulation.
    """
    if not len(neutrons):
        return Particles.empty(), Particles.empty()
    n = len(neutrons)
    where = neutrons.position + neutrons.direction * rng.exponential(C.LAR_NUCLEAR_INTERACTION_LENGTH, n)[:, None]
    proton_energy = neutrons.energy * rng.uniform(0.05, 0.5, n)
    gamma_energy = rng.uniform(0.5, 4.0, n)
    protons = Particles(neutrons.event, np.full(n, S.PROTON, np.int8), where,
                        cone(neutrons.direction, np.arccos(rng.uniform(0, 1, n)), rng), proton_energy)
    gammas = Particles(neutrons.event, np.full(n, S.PHOTON, np.int8), where,
                       cone(neutrons.direction, np.arccos(rng.uniform(-1, 1, n)), rng), gamma_energy)
    left = neutrons.energy - proton_energy - gamma_energy - C.NUCLEON_BINDING_MEV
    going = (left > NEUTRON_CUT_MEV) & (np.linalg.norm(where, axis=1) < reach_cm)
    onward = Particles(neutrons.event[going], neutrons.kind[going], where[going],
                       cone(neutrons.direction[going], np.arccos(rng.uniform(0, 1, int(going.sum()))), rng),
                       left[going])
    return Particles.concat([protons.select(proton_energy > 3.0), gammas]), onward


def distance_to_sphere(position: np.ndarray, direction: np.ndarray, radius: float) -> np.ndarray:
    """Path length from ``position`` along ``direction`` to the sphere of ``radius`` round the vertex."""
    b = np.sum(position * direction, axis=1)
    c = np.sum(position * position, axis=1) - radius**2
    return np.maximum(-b + np.sqrt(np.maximum(b * b - c, 0.0)), 0.0)


def _boost(energy: np.ndarray, momentum: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    b2 = np.sum(beta * beta, axis=1)
    gamma = 1.0 / np.sqrt(np.maximum(1.0 - b2, 1e-12))
    bp = np.sum(beta * momentum, axis=1)
    coefficient = np.where(b2 > 1e-12, (gamma - 1.0) * bp / np.maximum(b2, 1e-12), 0.0) + gamma * energy
    return gamma * (energy + bp), momentum + coefficient[:, None] * beta

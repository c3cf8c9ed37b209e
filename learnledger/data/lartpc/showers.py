"""Electromagnetic showers as a stochastic cascade of electrons and photons, stepped together.

Not a smooth profile but the cascade itself, so that showers look like they do in a LArTPC: a trunk,
then branches and detached blobs where photons travelled before converting. Per step:

- an electron loses ~2.1 MeV/cm to ionisation and radiates bremsstrahlung photons: the fraction y of
  its energy given to a photon is drawn log-uniform on [y_min, 1], at a rate such that on average it
  radiates E/X0 per cm (X0 = 14 cm); it scatters by the Highland angle;
- a photon flies an exponential distance (mean free path 9/7 X0 at high energy, the NIST attenuation
  length below), then pair-converts (above 10 MeV) or Compton-scatters, handing part of its energy
  to an electron; below 0.1 MeV it is absorbed where it is.

Everything of a batch of events moves in one set of arrays, one step per loop turn. The depth of the
shower maximum then grows like ln(E/E_c), as the test checks.
"""

from __future__ import annotations

import numpy as np

from learnledger.data.lartpc import constants as C
from learnledger.data.lartpc import species as S
from learnledger.data.lartpc.particles import Deposits, Particles, cone, highland_angle, loss_fluctuation

ELECTRON_DEDX = C.LAR_MIP_DEDX
"""Collision loss of shower electrons, MeV/cm: close to minimum ionising over the range that matters."""
Y_MIN = 0.05
"""Softest bremsstrahlung photon followed, as a fraction of the electron energy; softer ones are
accounted for as continuous loss."""
PAIR_THRESHOLD = 10.0
"""MeV; above it a photon interaction is taken to be pair production, below it Compton scattering."""
ELECTRON_CUT = 0.2
PHOTON_CUT = 0.1
MAX_STEP = 2.0
"""Longest electron step, cm, so that multiple scattering bends low-energy electrons."""


def cascade(particles: Particles, rng: np.random.Generator, step_cm: float = 0.3,
            landau_width: float = 0.12, reach_cm: float = np.inf, max_turns: int = 400) -> Deposits:
    """Deposits of the electromagnetic showers started by the electrons and photons in ``particles``."""
    electrons = particles.select(particles.kind == S.ELECTRON)
    photons = particles.select(particles.kind == S.PHOTON)
    deposits: list[Deposits] = []
    brem_rate = np.log(1 / Y_MIN) / ((1 - Y_MIN) * C.LAR_RADIATION_LENGTH)
    for _ in range(max_turns):
        if not len(electrons) and not len(photons):
            break
        new_electrons, photons, blips = _photon_step(photons, rng, reach_cm)
        deposits.append(blips)
        electrons = Particles.concat([electrons, new_electrons])
        if not len(electrons):
            continue
        n = len(electrons)
        to_brem = rng.exponential(1.0 / brem_rate, n)
        to_stop = electrons.energy / ELECTRON_DEDX
        step = np.minimum(np.minimum(to_brem, to_stop), MAX_STEP)
        deposits.append(_segment_deposits(electrons, step, step_cm, landau_width, rng))
        energy = electrons.energy - ELECTRON_DEDX * step
        end = electrons.position + electrons.direction * step[:, None]

        radiates = (to_brem <= step) & (energy > ELECTRON_CUT)
        y = Y_MIN ** (1.0 - rng.random(n))
        k = np.where(radiates, y * energy, 0.0)
        energy = energy - k
        brem = Particles(electrons.event[radiates], np.full(int(radiates.sum()), S.PHOTON, np.int8),
                         end[radiates], electrons.direction[radiates], k[radiates])
        photons = Particles.concat([photons, brem])

        angle = highland_angle(np.maximum(energy, ELECTRON_CUT), C.ELECTRON_MASS, step)
        direction = cone(electrons.direction, np.abs(rng.normal(0, 1, n)) * angle * np.sqrt(2), rng)
        alive = (energy > ELECTRON_CUT) & (np.linalg.norm(end, axis=1) < reach_cm)
        dead = ~alive & (energy > 0)
        deposits.append(Deposits(electrons.event[dead], end[dead], energy[dead], np.full(int(dead.sum()), 5.0)))
        electrons = Particles(electrons.event[alive], electrons.kind[alive], end[alive], direction[alive],
                              energy[alive])
    return Deposits.concat(deposits)


def _photon_step(photons: Particles, rng: np.random.Generator, reach_cm: float
                 ) -> tuple[Particles, Particles, Deposits]:
    """Move every photon to its next interaction: (electrons made, photons left, absorbed energy)."""
    if not len(photons):
        return Particles.empty(), photons, Deposits.concat([])
    n = len(photons)
    distance = rng.exponential(attenuation_length(photons.energy))
    where = photons.position + photons.direction * distance[:, None]
    inside = np.linalg.norm(where, axis=1) < reach_cm
    absorbed = inside & (photons.energy < PHOTON_CUT)
    pair = inside & ~absorbed & (photons.energy >= PAIR_THRESHOLD)
    compton = inside & ~absorbed & ~pair

    share = rng.random(n)
    pair_energy = photons.energy - 2 * C.ELECTRON_MASS
    opening = C.ELECTRON_MASS / np.maximum(photons.energy, 1.0)
    e1 = Particles(photons.event[pair], np.full(int(pair.sum()), S.ELECTRON, np.int8), where[pair],
                   cone(photons.direction[pair], opening[pair], rng), (share * pair_energy)[pair])
    e2 = Particles(photons.event[pair], np.full(int(pair.sum()), S.ELECTRON, np.int8), where[pair],
                   cone(photons.direction[pair], opening[pair], rng), ((1 - share) * pair_energy)[pair])
    # Compton: the electron takes a fraction (Klein-Nishina, crudely: uniform in [0.1, 0.8])
    taken = photons.energy * (0.1 + 0.7 * share)
    ce = Particles(photons.event[compton], np.full(int(compton.sum()), S.ELECTRON, np.int8), where[compton],
                   cone(photons.direction[compton], rng.uniform(0.2, 1.2, int(compton.sum())), rng),
                   taken[compton])
    scattered = compton & (photons.energy - taken > PHOTON_CUT)
    left = Particles(photons.event[scattered], photons.kind[scattered], where[scattered],
                     cone(photons.direction[scattered], rng.uniform(0.2, 1.5, int(scattered.sum())), rng),
                     (photons.energy - taken)[scattered])
    blips = Deposits(photons.event[absorbed], where[absorbed], photons.energy[absorbed],
                     np.full(int(absorbed.sum()), 5.0))
    return Particles.concat([e1, e2, ce]), left, blips


def attenuation_length(energy_mev: np.ndarray) -> np.ndarray:
    """Photon mean free path in liquid argon, cm (NIST XCOM; 9/7 X0 at high energy)."""
    mu_rho = np.exp(np.interp(np.log(np.maximum(energy_mev, 1e-3)), np.log(C.PHOTON_ATTENUATION_KE),
                              np.log(C.PHOTON_ATTENUATION_MU_RHO)))
    return 1.0 / (mu_rho * C.LAR_DENSITY)


def _segment_deposits(electrons: Particles, step: np.ndarray, step_cm: float, landau_width: float,
                      rng: np.random.Generator) -> Deposits:
    """Points every ``step_cm`` along each electron's straight step, sharing its ionisation loss."""
    n_points = np.maximum(np.ceil(step / step_cm).astype(np.int64), 1)
    owner = np.repeat(np.arange(len(step)), n_points)
    first = np.cumsum(n_points) - n_points
    k = np.arange(len(owner)) - first[owner]
    along = (k + 0.5) / n_points[owner] * step[owner]
    position = electrons.position[owner] + electrons.direction[owner] * along[:, None]
    piece = step[owner] / n_points[owner]
    energy = ELECTRON_DEDX * piece * loss_fluctuation(rng, len(owner), landau_width)
    return Deposits(electrons.event[owner], position, energy, np.full(len(owner), ELECTRON_DEDX))

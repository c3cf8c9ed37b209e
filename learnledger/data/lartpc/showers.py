"""Electromagnetic showers as a stochastic cascade of electrons and photons, stepped together.

Not a smooth profile but the cascade itself, so that showers look like they do in a LArTPC: a trunk,
then branches and detached blobs where photons travelled before converting. Per step:

- an electron loses ~2.1 MeV/cm to ionisation and radiates bremsstrahlung photons: the fraction y of
  its energy given to a photon is drawn log-uniform on [y_min, 1], at a rate such that on average it
  radiates E/X0 per cm (X0 = 14 cm); it scatters by the Highland angle;
- a photon flies an exponential distance (mean free path 9/7 X0 at high energy, the NIST attenuation
  length below), then pair-converts (above 10 MeV) or Compton-scatters, handing part of its energy
  to an electron; below 0.1 MeV it is absorbed where it is. With ``klein_nishina`` the choice follows
  the cross-sections (Compton by Klein-Nishina, pairs the rest of the attenuation) and a Compton
  scattering takes its energies and angles from the Klein-Nishina formula and conservation laws.

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
            landau_width: float = 0.12, reach_cm: float = np.inf, max_turns: int = 400,
            klein_nishina: bool = False) -> Deposits:
    """Deposits of the electromagnetic showers started by the electrons and photons in ``particles``.
    ``klein_nishina``: photons interact by the Klein-Nishina cross-section (``photon_interactions``)."""
    electrons = particles.select(particles.kind == S.ELECTRON)
    photons = particles.select(particles.kind == S.PHOTON)
    deposits: list[Deposits] = []
    brem_rate = np.log(1 / Y_MIN) / ((1 - Y_MIN) * C.LAR_RADIATION_LENGTH)
    for _ in range(max_turns):
        if not len(electrons) and not len(photons):
            break
        new_electrons, photons, blips = _photon_step(photons, rng, reach_cm, klein_nishina)
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


def _photon_step(photons: Particles, rng: np.random.Generator, reach_cm: float, klein_nishina: bool = False
                 ) -> tuple[Particles, Particles, Deposits]:
    """Move every photon to its next interaction: (electrons made, photons left, absorbed energy)."""
    if not len(photons):
        return Particles.empty(), photons, Deposits.concat([])
    n = len(photons)
    distance = rng.exponential(attenuation_length(photons.energy))
    where = photons.position + photons.direction * distance[:, None]
    inside = np.linalg.norm(where, axis=1) < reach_cm
    absorbed = inside & (photons.energy < PHOTON_CUT)
    if klein_nishina:
        pair = inside & ~absorbed & (rng.random(n) < pair_share(photons.energy))
    else:
        pair = inside & ~absorbed & (photons.energy >= PAIR_THRESHOLD)
    compton = inside & ~absorbed & ~pair

    share = rng.random(n)
    pair_energy = photons.energy - 2 * C.ELECTRON_MASS
    opening = C.ELECTRON_MASS / np.maximum(photons.energy, 1.0)
    e1 = Particles(photons.event[pair], np.full(int(pair.sum()), S.ELECTRON, np.int8), where[pair],
                   cone(photons.direction[pair], opening[pair], rng), (share * pair_energy)[pair])
    e2 = Particles(photons.event[pair], np.full(int(pair.sum()), S.ELECTRON, np.int8), where[pair],
                   cone(photons.direction[pair], opening[pair], rng), ((1 - share) * pair_energy)[pair])
    if klein_nishina:
        ce, left = _compton_klein_nishina(photons.select(compton), where[compton], rng)
    else:
        ce, left = _compton_uniform(photons.select(compton), where[compton], share[compton], rng)
    blips = Deposits(photons.event[absorbed], where[absorbed], photons.energy[absorbed],
                     np.full(int(absorbed.sum()), 5.0))
    return Particles.concat([e1, e2, ce]), left, blips


def _compton_uniform(photons: Particles, where: np.ndarray, share: np.ndarray, rng: np.random.Generator
                     ) -> tuple[Particles, Particles]:
    """The crude Compton scattering of the presets: the electron takes a uniform 10-80% of the photon's
    energy at a uniform 0.2-1.2 rad, the photon goes on at 0.2-1.5 rad. (electron, photon left)."""
    n = len(photons)
    taken = photons.energy * (0.1 + 0.7 * share)
    ce = Particles(photons.event, np.full(n, S.ELECTRON, np.int8), where,
                   cone(photons.direction, rng.uniform(0.2, 1.2, n), rng), taken)
    scattered = photons.energy - taken > PHOTON_CUT
    left = Particles(photons.event[scattered], photons.kind[scattered], where[scattered],
                     cone(photons.direction[scattered], rng.uniform(0.2, 1.5, int(scattered.sum())), rng),
                     (photons.energy - taken)[scattered])
    return ce, left


def _compton_klein_nishina(photons: Particles, where: np.ndarray, rng: np.random.Generator
                           ) -> tuple[Particles, Particles]:
    """Compton scattering on a free electron: the scattered photon's energy from the Klein-Nishina
    cross-section, both angles from energy and momentum conservation, the electron on the far side of
    the photon's azimuth. (electron, photon left)."""
    n = len(photons)
    k = photons.energy / C.ELECTRON_MASS
    kept = klein_nishina_fraction(k, rng)
    cos_photon = 1.0 - (1.0 - kept) / (kept * k)
    sin_photon = np.sqrt(np.clip(1.0 - cos_photon**2, 0.0, 1.0))
    electron_angle = np.arctan2(kept * sin_photon, 1.0 - kept * cos_photon)
    azimuth = rng.uniform(0, 2 * np.pi, n)
    ce = Particles(photons.event, np.full(n, S.ELECTRON, np.int8), where,
                   cone(photons.direction, electron_angle, rng, azimuth + np.pi), photons.energy * (1 - kept))
    scattered = photons.energy * kept > PHOTON_CUT
    left = Particles(photons.event[scattered], photons.kind[scattered], where[scattered],
                     cone(photons.direction[scattered], np.arccos(cos_photon[scattered]), rng, azimuth[scattered]),
                     (photons.energy * kept)[scattered])
    return ce, left


def klein_nishina_fraction(k: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Energy kept by Compton-scattered photons of energy ``k`` electron masses, E'/E, drawn from the
    Klein-Nishina cross-section (Butcher and Messel's sampling, as in Geant4's G4KleinNishinaCompton):
    from a 1/eps or a linear density in eps^2 on [1/(1 + 2k), 1], kept with the rest of the formula."""
    k = np.asarray(k, float)
    lowest = 1.0 / (1.0 + 2.0 * k)
    alpha1 = -np.log(lowest)
    alpha2 = alpha1 + 0.5 * (1.0 - lowest**2)
    kept = np.empty(len(k))
    todo = np.arange(len(k))
    while len(todo):
        r = rng.random((3, len(todo)))
        low, a1, a2, kk = lowest[todo], alpha1[todo], alpha2[todo], k[todo]
        eps = np.where(a1 > a2 * r[0], np.exp(-a1 * r[1]), np.sqrt(low**2 + (1.0 - low**2) * r[1]))
        one_minus_cos = (1.0 - eps) / (eps * kk)
        sin2 = one_minus_cos * (2.0 - one_minus_cos)
        accepted = 1.0 - eps * sin2 / (1.0 + eps**2) >= r[2]
        kept[todo[accepted]] = eps[accepted]
        todo = todo[~accepted]
    return kept


def attenuation_length(energy_mev: np.ndarray) -> np.ndarray:
    """Photon mean free path in liquid argon, cm."""
    return 1.0 / (total_attenuation(energy_mev) * C.LAR_DENSITY)


def total_attenuation(energy_mev: np.ndarray) -> np.ndarray:
    """mu/rho of argon, cm^2/g: NIST's table up to 20 MeV (photoelectric absorption included), Compton
    scattering plus pair production above it (the two agree to 0.4% from 1.25 to 20 MeV)."""
    energy = np.maximum(np.asarray(energy_mev, float), C.PHOTON_ATTENUATION_KE[0])
    table = np.exp(np.interp(np.log(energy), np.log(C.PHOTON_ATTENUATION_KE),
                             np.log(C.PHOTON_ATTENUATION_MU_RHO)))
    return np.where(energy <= C.PHOTON_ATTENUATION_KE[-1], table,
                    compton_attenuation(energy) + pair_attenuation(energy))


def compton_attenuation(energy_mev: np.ndarray) -> np.ndarray:
    """Klein-Nishina mass attenuation of argon's 18 electrons, cm^2/g: 2 pi r_e^2 N_A Z/A times the
    total Klein-Nishina cross-section in units of 2 pi r_e^2 (binding neglected: fine above ~0.2 MeV)."""
    k = np.asarray(energy_mev, float) / C.ELECTRON_MASS
    log = np.log1p(2 * k)
    per_electron = ((1 + k) / k**2 * (2 * (1 + k) / (1 + 2 * k) - log / k) + log / (2 * k)
                    - (1 + 3 * k) / (1 + 2 * k) ** 2)
    return C.BETHE_K / (2 * C.ELECTRON_MASS) * C.LAR_Z_OVER_A * per_electron


def pair_attenuation(energy_mev: np.ndarray) -> np.ndarray:
    """Pair production in argon (nuclear and electron fields), cm^2/g, by the fit ``C.PAIR_FIT_MICROBARN``;
    zero below the threshold 2 m_e, constant above 100 GeV (where the fit ends)."""
    energy = np.asarray(energy_mev, float)
    x = np.log(np.clip(energy, C.PAIR_FIT_FLOOR_MEV, C.PAIR_FIT_CEILING_MEV) / C.ELECTRON_MASS)
    f1, f2, f3 = np.polynomial.polynomial.polyval(x, C.PAIR_FIT_MICROBARN.T)
    z = C.LAR_Z
    per_atom_cm2 = z * (z + 1) * (f1 + z * f2 + f3 / z) * 1e-30
    threshold = 2 * C.ELECTRON_MASS
    near = np.clip((energy - threshold) / (C.PAIR_FIT_FLOOR_MEV - threshold), 0.0, 1.0) ** 2
    scale = np.where(energy < C.PAIR_FIT_FLOOR_MEV, near, 1.0)
    return per_atom_cm2 * scale * C.AVOGADRO / C.LAR_A


def pair_share(energy_mev: np.ndarray) -> np.ndarray:
    """Share of photon interactions that make a pair (the rest: Compton scattering; photoelectric
    absorption and Rayleigh scattering, 0.5% of the attenuation at 1 MeV, are counted with it).
    2% at 2 MeV, 43% at 10 MeV, 86% at 50 MeV."""
    pair = pair_attenuation(energy_mev)
    return pair / (pair + compton_attenuation(np.maximum(np.asarray(energy_mev, float), 1e-3)))


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

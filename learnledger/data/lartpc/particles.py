"""Charged-particle tracks: muons, charged pions and protons, many at once.

Each track is cut into steps of ``step_cm``. Along it the residual range gives the kinetic energy and
so the mean dE/dx (Bethe-Bloch, the Bragg peak at the end comes for free); each step's loss
fluctuates with a Landau-like (Moyal) shape, and its direction with the Highland multiple-scattering
angle. All tracks of a batch are stepped together with segmented cumulative sums, no Python loop
per step. A track ends when it stops, leaves the visible region, or (pions, protons) interacts in
the argon after an exponential distance of one nuclear interaction length (pions optionally by their
cross-sections, elastic scattering included, ``nuclear``); what happens at its end
(a Michel electron, pion absorption, hadronic secondaries) is returned as new particles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from learnledger.data.lartpc import constants as C
from learnledger.data.lartpc import species as S
from learnledger.data.lartpc.energy_loss import range_table
from learnledger.data.lartpc.nuclear import distance_to_interaction, elastic_angle, elastic_share

MOYAL_MEAN = np.euler_gamma + np.log(2.0)
MOYAL_RMS = np.pi / np.sqrt(2.0)


@dataclass
class Particles:
    """A set of particles (structure of arrays): which event, what, where, where to, how much."""

    event: np.ndarray  # (n,) int64
    kind: np.ndarray  # (n,) int8, species codes
    position: np.ndarray  # (n, 3) cm, relative to the event's vertex
    direction: np.ndarray  # (n, 3) unit vectors
    energy: np.ndarray  # (n,) kinetic energy, MeV

    def __len__(self) -> int:
        return len(self.event)

    @classmethod
    def empty(cls) -> Particles:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0))

    def select(self, mask: np.ndarray) -> Particles:
        return Particles(self.event[mask], self.kind[mask], self.position[mask], self.direction[mask],
                         self.energy[mask])

    @staticmethod
    def concat(parts: list[Particles]) -> Particles:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Particles.empty()
        return Particles(
            np.concatenate([p.event for p in parts]), np.concatenate([p.kind for p in parts]),
            np.concatenate([p.position for p in parts]), np.concatenate([p.direction for p in parts]),
            np.concatenate([p.energy for p in parts]),
        )


@dataclass
class Deposits:
    """Energy left in the argon: per point its event, position (cm), energy (MeV) and local dE/dx."""

    event: np.ndarray
    position: np.ndarray
    energy: np.ndarray
    dedx: np.ndarray

    def __len__(self) -> int:
        return len(self.event)

    @staticmethod
    def concat(parts: list[Deposits]) -> Deposits:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Deposits(np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros(0), np.zeros(0))
        return Deposits(
            np.concatenate([p.event for p in parts]), np.concatenate([p.position for p in parts]),
            np.concatenate([p.energy for p in parts]), np.concatenate([p.dedx for p in parts]),
        )


@dataclass
class TrackEnds:
    """How each stepped track ended (for tests and for the secondaries)."""

    position: np.ndarray
    direction: np.ndarray
    energy: np.ndarray  # kinetic energy left, MeV
    length: np.ndarray  # path length, cm
    stopped: np.ndarray  # ranged out
    interacted: np.ndarray  # inelastic interaction in the argon


def step_tracks(tracks: Particles, rng: np.random.Generator, step_cm: float = 0.3,
                landau_width: float = 0.12, max_length_cm: np.ndarray | float = np.inf,
                interactions: bool = True, pion_cross_sections: bool = False) -> tuple[Deposits, TrackEnds]:
    """Deposits along every track of ``tracks`` (muons, charged pions, protons) and how each ended.
    Pions and protons interact after one nuclear interaction length on average, or, with
    ``pion_cross_sections``, pions after their energy's mean free path (``nuclear``)."""
    n = len(tracks)
    mass = S.MASS[tracks.kind]
    full_range = np.zeros(n)
    for kind in np.unique(tracks.kind):
        sel = tracks.kind == kind
        full_range[sel] = range_table(float(S.MASS[kind])).range_of(tracks.energy[sel])
    hadronic = (tracks.kind != S.MUON) if interactions else np.zeros(n, bool)
    interaction_at = np.where(hadronic, rng.exponential(C.LAR_NUCLEAR_INTERACTION_LENGTH, n), np.inf)
    if pion_cross_sections:  # the same draws, read as optical depths
        for kind in S.CHARGED_PIONS:
            pions = hadronic & (tracks.kind == kind)
            interaction_at[pions] = distance_to_interaction(
                kind, tracks.energy[pions], interaction_at[pions] / C.LAR_NUCLEAR_INTERACTION_LENGTH)
    length = np.minimum(np.minimum(full_range, interaction_at), max_length_cm)
    length = np.maximum(length, 1e-3)
    n_steps = np.maximum(np.ceil(length / step_cm).astype(np.int64), 1)
    track = np.repeat(np.arange(n), n_steps)
    first = np.cumsum(n_steps) - n_steps
    k = np.arange(len(track)) - first[track]
    last = k == n_steps[track] - 1
    step = np.where(last, length[track] - k * step_cm, step_cm)
    residual = full_range[track] - (k * step_cm + 0.5 * step)
    kinetic = np.zeros(len(track))
    dedx = np.zeros(len(track))
    for kind in np.unique(tracks.kind):
        sel = tracks.kind[track] == kind
        table = range_table(float(S.MASS[kind]))
        kinetic[sel] = table.kinetic_at(residual[sel])
        dedx[sel] = table.dedx_at(kinetic[sel])
    loss = dedx * step * loss_fluctuation(rng, len(step), landau_width)

    angle = highland_angle(kinetic, mass[track], step)
    kicks = rng.standard_normal((len(step), 2)) * angle[:, None]
    bend = _segmented_cumsum(kicks, first, n_steps, track)
    u, v = perpendicular_basis(tracks.direction)
    direction = tracks.direction[track] + bend[:, :1] * u[track] + bend[:, 1:] * v[track]
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    travelled = _segmented_cumsum(direction * step[:, None], first, n_steps, track)
    position = tracks.position[track] + travelled - 0.5 * direction * step[:, None]

    end = first + n_steps - 1
    stopped = full_range <= np.minimum(interaction_at, max_length_cm)
    interacted = ~stopped & (interaction_at < max_length_cm)
    ends = TrackEnds(
        position=tracks.position + travelled[end], direction=direction[end],
        energy=np.where(stopped, 0.0, kinetic[end]), length=length, stopped=stopped, interacted=interacted,
    )
    return Deposits(tracks.event[track], position, loss, dedx), ends


def track_secondaries(tracks: Particles, ends: TrackEnds, rng: np.random.Generator,
                      nucleon_mev: float | None = None, pion_cross_sections: bool = False) -> Particles:
    """What the tracks leave behind at their ends: Michel electrons, absorption and hadronic debris.
    With ``nucleon_mev`` an inelastic interaction conserves energy (``knocked_out_nucleons``); with
    ``pion_cross_sections`` a pion's encounter with a nucleus may be an elastic scattering (``nuclear``)."""
    made: list[Particles] = []
    for i in np.flatnonzero(ends.stopped | ends.interacted):
        kind, event = int(tracks.kind[i]), int(tracks.event[i])
        where, heading, left = ends.position[i], ends.direction[i], float(ends.energy[i])
        if ends.stopped[i]:
            out = _at_rest(kind, rng)
        elif pion_cross_sections and kind in S.CHARGED_PIONS and rng.random() < elastic_share(kind, left):
            out = [(kind, left, float(elastic_angle(kind, left, rng)))]
        else:
            out = _inelastic(kind, left, rng)
            if nucleon_mev is not None:
                out += knocked_out_nucleons(left - _energy_taken(kind, out), nucleon_mev, rng)
        if out:
            kinds, energies, angles = (np.array(x) for x in zip(*out))
            dirs = cone(np.repeat(heading[None], len(kinds), 0), angles, rng)
            made.append(Particles(np.full(len(kinds), event), kinds.astype(np.int8),
                                  np.repeat(where[None], len(kinds), 0), dirs, energies.astype(float)))
    return Particles.concat(made)


def _at_rest(kind: int, rng: np.random.Generator) -> list[tuple[int, float, float]]:
    """(species, kinetic MeV, angle to the track) of what a stopped particle produces."""
    isotropic = float(np.arccos(rng.uniform(-1, 1)))
    if kind == S.MUON and rng.random() < C.MU_MINUS_DECAY_FRACTION_ARGON:
        return [(S.ELECTRON, float(michel_energies(rng, 1)[0]), isotropic)]
    if kind == S.PION_PLUS:  # pi+ -> mu+ (4.1 MeV, 1.4 mm) -> e+: a Michel positron
        return [(S.ELECTRON, float(michel_energies(rng, 1)[0]), isotropic)]
    if kind == S.PION_MINUS:  # absorbed by the nucleus: a few low-energy protons
        return [(S.PROTON, float(rng.exponential(25.0) + 5.0), float(np.arccos(rng.uniform(-1, 1))))
                for _ in range(rng.integers(0, 3))]
    return []


def _inelastic(kind: int, kinetic: float, rng: np.random.Generator) -> list[tuple[int, float, float]]:
    """A crude hadron-argon inelastic interaction: a kink, knocked-out protons, sometimes a pion."""
    out: list[tuple[int, float, float]] = []
    if kind in S.CHARGED_PIONS:
        if rng.random() < 0.3:  # quasi-elastic: the pion goes on, deflected
            return [(kind, kinetic * rng.uniform(0.7, 1.0), abs(rng.normal(0, 0.5)))]
        budget = kinetic
        if rng.random() < 0.5:
            share = budget * rng.uniform(0.3, 0.7)
            out.append((kind, share, abs(rng.normal(0, 0.6))))
            budget -= share
        if rng.random() < 0.15:
            share = budget * rng.uniform(0.2, 0.6)
            out.append((S.PI0, share, abs(rng.normal(0, 0.6))))
            budget -= share
        for _ in range(rng.integers(0, 3)):
            out.append((S.PROTON, min(budget * rng.uniform(0.1, 0.4), 400.0), abs(rng.normal(0, 0.9))))
        return out
    if kind == S.PROTON and rng.random() < 0.5:
        out.append((S.PROTON, kinetic * rng.uniform(0.1, 0.5), abs(rng.normal(0, 0.7))))
    return out


def _energy_taken(kind: int, products: list[tuple[int, float, float]]) -> float:
    """Kinetic energy the products of an inelastic interaction carry, plus the mass of each pi0 made
    and the binding energy of each proton knocked out (all but a proton's own leading proton)."""
    taken = sum(energy for _, energy, _ in products)
    taken += C.NEUTRAL_PION_MASS * sum(k == S.PI0 for k, _, _ in products)
    knocked = sum(k == S.PROTON for k, _, _ in products) - (kind == S.PROTON and bool(products))
    return taken + C.NUCLEON_BINDING_MEV * knocked


def knocked_out_nucleons(budget: float, mean_mev: float, rng: np.random.Generator
                         ) -> list[tuple[int, float, float]]:
    """Nucleons that carry off what an inelastic interaction's listed products do not: the nucleus
    breaks up (protons and neutrons in argon's proportion, each freed at the binding energy, with
    kinetic energies exponential of mean ``mean_mev``, in random directions) until the energy is spent."""
    out: list[tuple[int, float, float]] = []
    while budget > C.NUCLEON_BINDING_MEV:
        kinetic = min(float(rng.exponential(mean_mev)), budget - C.NUCLEON_BINDING_MEV)
        kind = S.NEUTRON if rng.random() < C.ARGON_NEUTRON_SHARE else S.PROTON
        out.append((kind, kinetic, float(np.arccos(rng.uniform(-1, 1)))))
        budget -= kinetic + C.NUCLEON_BINDING_MEV
    return out


def michel_energies(rng: np.random.Generator, n: int) -> np.ndarray:
    """Electron energies from muon decay at rest: x = E/E_max with density x^2 (3 - 2x)."""
    out = np.zeros(0)
    while len(out) < n:
        x = rng.random(3 * n + 8)
        out = np.concatenate([out, x[rng.random(len(x)) < x * x * (3 - 2 * x)]])
    return out[:n] * C.MICHEL_ENDPOINT


def highland_angle(kinetic: np.ndarray, mass: np.ndarray | float, step: np.ndarray | float) -> np.ndarray:
    """RMS plane scattering angle over ``step`` cm (PDG eq. 34.16), for singly charged particles."""
    total = kinetic + mass
    p = np.sqrt(np.maximum(total**2 - np.asarray(mass) ** 2, 1e-12))
    beta = p / total
    x = np.maximum(np.asarray(step, float), 1e-4) / C.LAR_RADIATION_LENGTH
    return C.HIGHLAND_SCALE / (beta * p) * np.sqrt(x) * np.maximum(1 + 0.038 * np.log(x / beta**2), 0.2)


def perpendicular_basis(direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors perpendicular to each direction and to each other."""
    helper = np.where(np.abs(direction[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    u = np.cross(direction, helper)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return u, np.cross(direction, u)


def cone(direction: np.ndarray, angle: np.ndarray, rng: np.random.Generator,
         azimuth: np.ndarray | None = None) -> np.ndarray:
    """Directions at ``angle`` (radians) to ``direction``, at ``azimuth`` (random if None)."""
    u, v = perpendicular_basis(direction)
    phi = rng.uniform(0, 2 * np.pi, len(direction)) if azimuth is None else np.asarray(azimuth, float)
    a = np.asarray(angle, float).reshape(-1, 1)
    return direction * np.cos(a) + (u * np.cos(phi)[:, None] + v * np.sin(phi)[:, None]) * np.sin(a)


def loss_fluctuation(rng: np.random.Generator, n: int, width: float) -> np.ndarray:
    """Mean-one multiplicative energy-loss fluctuations with a Landau-like (Moyal) tail."""
    if width <= 0:
        return np.ones(n)
    moyal = -np.log(np.maximum(rng.standard_normal(n) ** 2, 1e-12))
    return np.clip(1.0 + width * (moyal - MOYAL_MEAN) / MOYAL_RMS, 0.05, 8.0)


def _segmented_cumsum(values: np.ndarray, first: np.ndarray, counts: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Cumulative sums restarting at each segment (rows ``first[i] .. first[i] + counts[i]``)."""
    total = np.cumsum(values, axis=0)
    before = total[first] - values[first]
    return total - before[segment]

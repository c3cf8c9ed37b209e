"""The neutrino interaction: energy, interaction mode, lepton and hadronic final state.

A deliberately small event generator in the spirit of GENIE's models, enough for images:

- QE: nu n -> l p with a dipole axial form factor in Q^2 and Fermi motion of the nucleon.
- RES: Delta(1232) production (Breit-Wigner in W) and its isotropic decay to a nucleon and a pion.
- DIS: Bjorken x from a valence-like Beta(0.5, 4), y flat, KNO-like pion multiplicity in W, the
  hadrons sharing W in their rest frame, boosted along the momentum transfer.
- other: two-nucleon (2p2h) knock-out.

The beam is along +z. Momenta are in MeV; every event carries its truth (GeV, as the CVN sample).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from learnledger.data.lartpc import constants as C
from learnledger.data.lartpc import species as S
from learnledger.data.lartpc.config import SimConfig

NC, NUMU_CC, NUE_CC = 0, 1, 2
QE, RES, DIS, OTHER = 0, 1, 2, 3
M = C.NUCLEON_MASS / 1000.0  # GeV
LEPTON_MASS_GEV = {NUMU_CC: C.MUON_MASS / 1000.0, NUE_CC: C.ELECTRON_MASS / 1000.0, NC: 0.0}


@dataclass(frozen=True)
class Interaction:
    """One neutrino interaction: truth and the visible final state at the vertex."""

    label: int
    mode: int
    energy_gev: float
    lepton_energy_gev: float
    """The charged lepton's energy; 0 for NC (the outgoing neutrino is invisible)."""
    energy_transfer_gev: float
    """E_nu minus the outgoing lepton's (or neutrino's) energy: what the hadronic system receives."""
    kinds: np.ndarray
    """Species codes of the final-state particles (see species.py)."""
    momenta_mev: np.ndarray
    """(n, 3) momenta, MeV/c."""


def sample_interaction(label: int, rng: np.random.Generator, config: SimConfig | None = None) -> Interaction:
    """Draw one interaction of the class ``label`` (0 NC, 1 numu CC, 2 nue CC).

    The energy is drawn first and kept (so the spectrum asked is the spectrum made), then the mode; a
    kinematically forbidden draw (a DIS event with W below ``dis_min_w_gev``) is redrawn within the
    same mode, and only a mode out of reach at this energy is drawn again. Redrawing the mode at
    every rejection would bias the shares towards QE and RES (43% DIS asked gave 30-37%).
    """
    config = config or SimConfig()
    made = None
    while made is None:  # an energy at which no mode is reachable (never seen) is drawn again
        energy = _energy(label, rng, config)
        shares = _mode_shares(label, energy, config)
        for _ in range(_MODE_DRAWS):
            mode = int(rng.choice(4, p=shares))
            for _ in range(_TRIES_PER_MODE):
                made = _try_kinematics(label, mode, energy, rng, config)
                if made is not None:
                    break
            if made is not None:
                break
    lepton_energy, lepton_p, hadrons = made
    transfer = energy - lepton_energy
    kinds = [k for k, _ in hadrons]
    momenta = [p for _, p in hadrons]
    if label == NUMU_CC:
        kinds.insert(0, S.MUON)
        momenta.insert(0, lepton_p)
    elif label == NUE_CC:
        kinds.insert(0, S.ELECTRON)
        momenta.insert(0, lepton_p)
    else:
        lepton_energy = 0.0
    kinds, momenta = _pion_absorption(kinds, momenta, config, rng)
    kinds = _pion_charge_exchange(kinds, config.fsi_pion_charge_exchange, rng)
    if label == NC and config.nc_pi0_fraction is not None:
        kinds, momenta = _ensure_pi0_share(kinds, momenta, config.nc_pi0_fraction, rng)
    kinds, momenta = _nuclear_emission(kinds, momenta, mode, config, rng)
    return Interaction(
        label=label, mode=mode, energy_gev=energy, lepton_energy_gev=float(lepton_energy),
        energy_transfer_gev=float(transfer),
        kinds=np.asarray(kinds, np.int8), momenta_mev=np.asarray(momenta, float).reshape(-1, 3) * 1000.0,
    )


_TRIES_PER_MODE = 50
_MODE_DRAWS = 20


def _mode_shares(label: int, energy: float, config: SimConfig) -> np.ndarray:
    """QE, RES, DIS, other shares at this energy.

    With ``dis_grows_with_energy`` the configured shares hold at the class's median energy and the
    DIS share scales with E_nu: above ~2 GeV the QE and RES cross sections are flat while the DIS
    cross section grows linearly with the energy (Formaggio & Zeller, Rev. Mod. Phys. 84 (2012) 1307).
    """
    fractions = np.asarray(config.class_mode_fractions[label] if config.class_mode_fractions is not None
                           else config.mode_fractions, float)
    if config.dis_grows_with_energy:
        fractions = fractions.copy()
        fractions[DIS] *= energy / _median_energy(label, config)
    return fractions / fractions.sum()


def _median_energy(label: int, config: SimConfig) -> float:
    if config.class_energy_quantiles_gev is not None:
        table = np.log(np.asarray(config.class_energy_quantiles_gev[label], float))
        return float(np.exp(np.interp(0.5, np.linspace(0.0, 1.0, len(table)), table)))
    return config.energy_mean_gev


def _energy(label: int, rng: np.random.Generator, config: SimConfig) -> float:
    """E_nu: from the class's quantile table (inverse CDF, log-linear between quantiles) or a normal."""
    if config.class_energy_quantiles_gev is not None:
        table = np.log(np.asarray(config.class_energy_quantiles_gev[label], float))
        levels = np.linspace(0.0, 1.0, len(table))
        return float(np.exp(np.interp(rng.random(), levels, table)))
    while True:
        energy = float(rng.normal(config.energy_mean_gev, config.energy_sigma_gev))
        if energy >= 0.4:
            return energy


def _pion_absorption(kinds: list, momenta: list, config: SimConfig, rng: np.random.Generator):
    """Pions absorbed in the nucleus on their way out (final-state interactions): with probability
    ``fsi_pion_absorption`` a pion is replaced by the proton and neutron that absorb it
    (pi N N -> N N), sharing its total energy."""
    if config.fsi_pion_absorption <= 0:
        return kinds, momenta
    out_kinds, out_momenta = [], []
    for kind, p in zip(kinds, momenta):
        if kind in _PIONS and rng.random() < config.fsi_pion_absorption:
            p = np.asarray(p, float)
            mass = S.MASS[kind] / 1000.0
            share = float(np.sqrt(p @ p + mass * mass)) / 2.0  # total energy per nucleon, kinetic
            for nucleon in (S.PROTON, S.NEUTRON):
                m = S.MASS[nucleon] / 1000.0
                out_kinds.append(nucleon)
                out_momenta.append(np.sqrt(share * (share + 2 * m))
                                   * _direction(rng.uniform(-1, 1), rng.uniform(0, 2 * np.pi)))
        else:
            out_kinds.append(kind)
            out_momenta.append(p)
    return out_kinds, out_momenta


_PIONS = (S.PION_PLUS, S.PION_MINUS, S.PI0)


def _pion_charge_exchange(kinds: list, probability: float, rng: np.random.Generator) -> list:
    """Pions that exchange their charge with a nucleon on their way out of the nucleus (single charge
    exchange, a fate of GENIE's hA cascade): with ``probability`` a pi+ or pi- leaves as a pi0, and a
    pi0 as a pi+ (on a proton) or a pi- (on a neutron: 22 of argon's 40 nucleons). The momentum is
    kept (the pion masses differ by 4.6 MeV). Charged pions outnumber neutral ones about two to one,
    so the exchange moves charge into pi0s, as the argon data of the CVN sample show."""
    if probability <= 0:
        return kinds
    out = list(kinds)
    for i, kind in enumerate(kinds):
        if kind in _PIONS and rng.random() < probability:
            if kind == S.PI0:
                out[i] = S.PION_MINUS if rng.random() < C.ARGON_NEUTRON_SHARE else S.PION_PLUS
            else:
                out[i] = S.PI0
    return out


def _nuclear_emission(kinds: list, momenta: list, mode: int, config: SimConfig, rng: np.random.Generator):
    """Nucleons knocked out of the argon nucleus by the hadrons on their way out (final-state
    interactions: the intranuclear cascade of GENIE's hA model), beyond those of the primary
    process: Poisson numbers of protons and neutrons (``fsi_nucleons``, per mode), each with a kinetic
    energy from an exponential of mean ``fsi_nucleon_mev``, in random directions."""
    if config.fsi_nucleons is None:
        return kinds, momenta
    mean_protons, mean_neutrons = config.fsi_nucleons[mode]
    extra = [S.PROTON] * int(rng.poisson(mean_protons)) + [S.NEUTRON] * int(rng.poisson(mean_neutrons))
    if not extra:
        return kinds, momenta
    kinds, momenta = list(kinds), list(momenta)
    for kind in extra:
        kinetic = rng.exponential(config.fsi_nucleon_mev) / 1000.0
        mass = S.MASS[kind] / 1000.0
        p = np.sqrt(kinetic * (kinetic + 2.0 * mass))
        kinds.append(kind)
        momenta.append(p * _direction(rng.uniform(-1, 1), rng.uniform(0, 2 * np.pi)))
    return kinds, momenta


def _try_kinematics(label: int, mode: int, energy: float, rng: np.random.Generator, config: SimConfig):
    """Lepton and hadrons for one (mode, energy), or None when the draw is kinematically forbidden."""
    m_l = LEPTON_MASS_GEV[label]
    removal = 0.0
    if mode == QE:
        w = M
        if config.qe_llewellyn_smith:
            q2 = _llewellyn_smith_q2(rng, energy, m_l)
            removal = C.ARGON_REMOVAL_ENERGY_GEV
        else:
            q2 = _dipole_q2(rng, C.AXIAL_MASS_GEV)
    elif mode == RES:
        if rng.random() < config.higher_resonance_fraction:
            w = float(rng.uniform(1.3, C.RES_MAX_W_GEV))
        else:
            w = _breit_wigner(rng, C.DELTA_MASS_GEV, C.DELTA_WIDTH_GEV, 1.08, 1.6)
        q2 = _dipole_q2(rng, 1.1)
    elif mode == DIS:
        x = rng.beta(0.5, 4.0)
        y = rng.uniform(0.05, 0.95)
        q2 = 2.0 * M * energy * x * y
        w2 = M * M + 2.0 * M * energy * y - q2
        if w2 < config.dis_min_w_gev**2:
            return None
        w = float(np.sqrt(w2))
    else:
        w = 2.0 * M
        q2 = _dipole_q2(rng, 1.0)
    if mode == OTHER:  # two nucleons out: quasi-elastic peak plus the pair's removal energy
        nu = q2 / (2.0 * M) + rng.uniform(0.02, 0.12)
    else:
        nu = (w * w - M * M + q2) / (2.0 * M) + removal
    lepton_energy = energy - nu
    if lepton_energy <= m_l + 1e-3:
        return None
    p_l = np.sqrt(lepton_energy**2 - m_l**2)
    cos_theta = (2.0 * energy * lepton_energy - m_l**2 - q2) / (2.0 * energy * p_l)
    if not -1.0 <= cos_theta <= 1.0:
        return None
    lepton_p = p_l * _direction(cos_theta, rng.uniform(0, 2 * np.pi))
    q = np.array([0.0, 0.0, energy]) - lepton_p
    hadron_energy = nu + (2.0 * M if mode == OTHER else M)
    hadrons = _hadrons(label, mode, w, q, hadron_energy, rng, config)
    if hadrons is None:
        return None
    return lepton_energy, lepton_p, hadrons


def _hadrons(label: int, mode: int, w: float, q: np.ndarray, e_had: float, rng: np.random.Generator,
             config: SimConfig):
    cc = label != NC
    if mode == QE:
        nucleon = S.PROTON if cc or rng.random() < 0.5 else S.NEUTRON
        return [(nucleon, q + _fermi_momentum(rng))]
    if mode == OTHER:
        kinds = [S.PROTON, S.PROTON if rng.random() < 0.6 else S.NEUTRON]
        split = rng.uniform(0.3, 0.7)
        kick = _fermi_momentum(rng)
        return [(kinds[0], split * q + kick), (kinds[1], (1 - split) * q - kick)]
    if mode == RES:
        channels = _RES_CC if cc else _RES_NC
        kinds = list(channels[rng.choice(len(channels), p=[c[2] for c in channels])][:2])
    else:
        n_pions = max(1, rng.poisson(C.KNO_MULTIPLICITY[0] + C.KNO_MULTIPLICITY[1] * np.log(w * w)))
        charge_p = (0.40, 0.33, 0.27) if cc else (0.33, 0.34, 0.33)
        pions = rng.choice([S.PION_PLUS, S.PI0, S.PION_MINUS], size=n_pions, p=charge_p)
        kinds = [S.PROTON if rng.random() < 0.5 else S.NEUTRON, *pions.tolist()]
    jets = mode == DIS and config.dis_hadron_pt_gev is not None
    momenta = _phase_space(w, [S.MASS[k] / 1000.0 for k in kinds], rng, q if jets else None,
                           config.dis_hadron_pt_gev if jets else None)
    if momenta is None:
        return None
    boosted = _boost(momenta, q / e_had)
    return list(zip(kinds, boosted))


# Delta decays: (nucleon, pion, probability), isospin-weighted on argon (18 p, 22 n).
_RES_CC = ((S.PROTON, S.PION_PLUS, 0.55), (S.PROTON, S.PI0, 0.30), (S.NEUTRON, S.PION_PLUS, 0.15))
_RES_NC = ((S.PROTON, S.PI0, 0.35), (S.NEUTRON, S.PI0, 0.35), (S.NEUTRON, S.PION_PLUS, 0.15),
           (S.PROTON, S.PION_MINUS, 0.15))


def _ensure_pi0_share(kinds: list, momenta: list, fraction: float, rng: np.random.Generator):
    """Make about ``fraction`` of NC events carry a pi0 by turning a pion (or the nucleon) into one."""
    wants_pi0 = rng.random() < fraction
    has_pi0 = S.PI0 in kinds
    if wants_pi0 and not has_pi0:
        charged = [i for i, k in enumerate(kinds) if k in (S.PION_PLUS, S.PION_MINUS)]
        index = charged[0] if charged else int(np.argmax([np.linalg.norm(p) for p in momenta]))
        kinds[index] = S.PI0
    elif not wants_pi0 and has_pi0:
        kinds = [S.PION_PLUS if k == S.PI0 else k for k in kinds]
    return kinds, momenta


def _dipole_q2(rng: np.random.Generator, axial_mass: float) -> float:
    """Q^2 from (1 + Q^2/M_A^2)^-4 (the dipole axial form factor squared), by inverting its CDF."""
    return float(axial_mass**2 * ((1.0 - rng.random()) ** (-1.0 / 3.0) - 1.0))


def llewellyn_smith_dsigma_dq2(q2: np.ndarray, energy: float, lepton_mass: float = 0.0) -> np.ndarray:
    """d(sigma)/dQ^2 of nu n -> l p, up to a constant: A + B (s-u)/M^2 + C (s-u)^2/M^4 with dipole
    vector (M_V^2 = 0.71 GeV^2) and axial (M_A) form factors (C.H. Llewellyn Smith, Phys. Rep. 3 (1972)
    261; J.A. Formaggio, G.P. Zeller, Rev. Mod. Phys. 84 (2012) 1307, eq. 15-16); the interference
    term B adds for neutrinos. Zero outside the kinematic range."""
    q2 = np.asarray(q2, float)
    tau = q2 / (4.0 * M * M)
    g_d = (1.0 + q2 / C.VECTOR_MASS_SQ_GEV2) ** -2
    g_e, g_m = g_d, (1.0 + C.ANOMALOUS_MOMENT_DIFFERENCE) * g_d
    f1 = (g_e + tau * g_m) / (1.0 + tau)
    f2 = (g_m - g_e) / (1.0 + tau)
    fa = C.AXIAL_COUPLING / (1.0 + q2 / C.AXIAL_MASS_GEV**2) ** 2
    fp = 2.0 * M * M * fa / (_PION_MASS_GEV**2 + q2)  # pseudoscalar, pion-pole dominance
    r = lepton_mass**2 / (4.0 * M * M)
    a = (lepton_mass**2 + q2) / (M * M) * ((1 + tau) * fa**2 - (1 - tau) * f1**2 + tau * (1 - tau) * f2**2
                                           + 4 * tau * f1 * f2
                                           - r * ((f1 + f2) ** 2 + (fa + 2 * fp) ** 2 - 4 * (1 + tau) * fp**2))
    b = q2 / (M * M) * fa * (f1 + f2)
    c = 0.25 * (fa**2 + f1**2 + tau * f2**2)
    s_u = 4.0 * M * energy - q2 - lepton_mass**2
    value = a + b * s_u / (M * M) + c * s_u**2 / M**4
    return np.where((s_u > 0) & (q2 >= 0), np.maximum(value, 0.0), 0.0)


_LS_GRID = 256
_PION_MASS_GEV = S.MASS[S.PION_PLUS] / 1000.0


def _llewellyn_smith_q2(rng: np.random.Generator, energy: float, lepton_mass: float) -> float:
    """Q^2 of a QE event at E_nu = ``energy``: inverse CDF of the Llewellyn Smith cross section on a
    grid up to the free-nucleon limit 4 M E^2 / (M + 2E) (draws past the lepton's limit are redrawn
    by the caller's kinematic check)."""
    q2_max = 4.0 * M * energy**2 / (M + 2.0 * energy)
    grid = np.linspace(0.0, q2_max, _LS_GRID)
    density = llewellyn_smith_dsigma_dq2(grid, energy, lepton_mass)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]))])
    return float(np.interp(rng.random() * cdf[-1], cdf, grid))


def _breit_wigner(rng: np.random.Generator, mass: float, width: float, low: float, high: float) -> float:
    while True:
        w = mass + 0.5 * width * np.tan(np.pi * (rng.random() - 0.5))
        if low < w < high:
            return float(w)


def _fermi_momentum(rng: np.random.Generator) -> np.ndarray:
    """Uniform in the Fermi sphere of argon."""
    p = C.FERMI_MOMENTUM_GEV * rng.random() ** (1.0 / 3.0)
    return p * _direction(rng.uniform(-1, 1), rng.uniform(0, 2 * np.pi))


def _direction(cos_theta: float, phi: float) -> np.ndarray:
    sin_theta = np.sqrt(max(0.0, 1.0 - cos_theta**2))
    return np.array([sin_theta * np.cos(phi), sin_theta * np.sin(phi), cos_theta])


def _phase_space(w: float, masses: list[float], rng: np.random.Generator, axis: np.ndarray | None = None,
                 pt_gev: float | None = None) -> np.ndarray | None:
    """Momenta (n, 4: E, px, py, pz) of hadrons sharing the mass ``w`` in their rest frame.

    Kinetic energies are shared at random (Dirichlet), directions isotropic; the leftover momentum
    is removed and the energies recomputed, which keeps the invariant mass within a few percent.
    With ``axis`` and ``pt_gev`` the hadrons come out as two jets instead, as string fragmentation
    makes them: each has a transverse momentum to ``axis`` drawn with <p_T^2> = pt_gev^2 and the rest
    of its momentum along it, the first hadron (the nucleon: the target remnant) backwards, pions
    forwards (the current jet) three times in four.
    """
    masses_arr = np.asarray(masses)
    available = w - masses_arr.sum()
    if available <= 0:
        return None
    n = len(masses_arr)
    if n == 1:
        return np.array([[masses_arr[0], 0.0, 0.0, 0.0]])
    kinetic = available * rng.dirichlet(np.full(n, 1.5))
    p_abs = np.sqrt(kinetic * (kinetic + 2 * masses_arr))
    if axis is not None and pt_gev:
        pt = np.minimum(np.sqrt(rng.exponential(pt_gev**2, n)), p_abs)
        forward = np.where(rng.random(n) < 0.75, 1.0, -1.0)
        forward[0] = -1.0
        cos_theta = forward * np.sqrt(1.0 - (pt / np.maximum(p_abs, 1e-12)) ** 2)
        dirs = _along(axis, cos_theta, rng.uniform(0, 2 * np.pi, n))
    else:
        dirs = np.stack([_direction(rng.uniform(-1, 1), rng.uniform(0, 2 * np.pi)) for _ in range(n)])
    p = dirs * p_abs[:, None]
    p -= p.mean(axis=0)
    e = np.sqrt(np.sum(p * p, axis=1) + masses_arr**2)
    return np.column_stack([e, p])


def _along(axis: np.ndarray, cos_theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Unit vectors at polar angle arccos(cos_theta) to ``axis``, azimuth ``phi``."""
    axis = axis / np.linalg.norm(axis)
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u)
    v = np.cross(axis, u)
    sin_theta = np.sqrt(np.maximum(0.0, 1.0 - cos_theta**2))
    return (cos_theta[:, None] * axis + sin_theta[:, None] * (np.cos(phi)[:, None] * u + np.sin(phi)[:, None] * v))


def _boost(four: np.ndarray, beta: np.ndarray) -> list[np.ndarray]:
    """Lorentz-boost rest-frame four-momenta by velocity ``beta``; returns the 3-momenta."""
    b2 = float(beta @ beta)
    if b2 >= 1.0:
        beta = beta / np.sqrt(b2) * 0.999
        b2 = float(beta @ beta)
    if b2 < 1e-12:
        return [row[1:].copy() for row in four]
    gamma = 1.0 / np.sqrt(1.0 - b2)
    out = []
    for e, *p in four:
        p = np.asarray(p)
        bp = float(beta @ p)
        p_new = p + ((gamma - 1.0) * bp / b2 + gamma * e) * beta
        out.append(p_new)
    return out

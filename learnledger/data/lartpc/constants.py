"""Physical constants of the simulation, each with its source.

Units: MeV, cm, g, microseconds, kV/cm, unless a name says otherwise. Detector constants that a user
may want to change live in :class:`learnledger.data.lartpc.config.SimConfig`; their defaults are
taken from here so that every number has one cited home.

Sources (abbreviations used below):

- PDG: R.L. Workman et al. (Particle Data Group), Review of Particle Physics, and its "Atomic and
  Nuclear Properties" tables for liquid argon (pdg.lbl.gov/AtomicNuclearProperties, "liquid argon").
- GMS: D.E. Groom, N.V. Mokhov, S.I. Striganov, "Muon stopping power and range tables 10 MeV-100 TeV",
  Atomic Data and Nuclear Data Tables 78 (2001) 183 (the PDG table "muE_liquid_argon").
- ArgoNeuT: R. Acciarri et al., "A study of electron recombination using highly ionizing particles in
  the ArgoNeuT LArTPC", JINST 8 (2013) P08005 (modified box model).
- uBooNE: R. Acciarri et al. (MicroBooNE), "Design and construction of the MicroBooNE detector",
  JINST 12 (2017) P02017.
- DUNE TDR: B. Abi et al. (DUNE), Far Detector Technical Design Report Vol. IV, arXiv:2002.03010.
- LArSoft: the default LArProperties / DetectorProperties of LArSoft (diffusion from ICARUS data).
"""

from __future__ import annotations

import numpy as np

# --- particle masses (PDG), MeV -----------------------------------------------------------------
ELECTRON_MASS = 0.51099895
MUON_MASS = 105.6583755
CHARGED_PION_MASS = 139.57039
NEUTRAL_PION_MASS = 134.9768
PROTON_MASS = 938.27208816
NEUTRON_MASS = 939.56542052
NUCLEON_MASS = 0.5 * (PROTON_MASS + NEUTRON_MASS)

# --- liquid argon as a material (PDG Atomic and Nuclear Properties, "liquid argon") ------------
LAR_DENSITY = 1.396
"""g/cm^3 at the normal boiling point (PDG)."""
LAR_Z = 18
LAR_A = 39.948
"""Argon's atomic number and molar mass, g/mol."""
AVOGADRO = 6.02214076e23
LAR_Z_OVER_A = LAR_Z / LAR_A
LAR_MEAN_EXCITATION = 188.0e-6
"""I, MeV (PDG)."""
LAR_RADIATION_LENGTH = 14.0
"""X0 = 19.55 g/cm^2 / 1.396 g/cm^3 = 14.0 cm (PDG)."""
LAR_MOLIERE_RADIUS = 9.04
"""R_M, cm (PDG: 9.043 cm)."""
LAR_CRITICAL_ENERGY = 32.84
"""E_c for electrons, MeV (PDG, Rossi definition: 32.84 MeV for e-, 31.91 MeV for e+)."""
LAR_NUCLEAR_INTERACTION_LENGTH = 119.7 / LAR_DENSITY
"""lambda_I = 119.7 g/cm^2 (PDG) = 85.7 cm; used for the inelastic interactions of pions and protons."""
LAR_MIP_DEDX = 1.508 * LAR_DENSITY
"""Minimum ionisation, 1.508 MeV cm^2/g (PDG) = 2.105 MeV/cm."""
PAIR_PRODUCTION_MEAN_FREE_PATH = 9.0 / 7.0 * LAR_RADIATION_LENGTH
"""High-energy photons convert after 9/7 X0 on average (PDG, passage of particles through matter)."""

# --- Bethe-Bloch (PDG, passage of particles through matter, eq. 34.5) ---------------------------
BETHE_K = 0.307075
"""4 pi N_A r_e^2 m_e c^2, MeV mol^-1 cm^2 (PDG)."""
STERNHEIMER_LAR = {"a": 0.19559, "k": 3.0, "x0": 0.2, "x1": 3.0, "cbar": 5.2146, "delta0": 0.0}
"""Density-effect parameters of liquid argon (Sternheimer, Berger, Seltzer 1984, as listed by GMS)."""

HIGHLAND_SCALE = 13.6
"""MeV; theta_0 = 13.6 MeV / (beta c p) sqrt(x/X0) [1 + 0.038 ln(x / (X0 beta^2))] (PDG eq. 34.16)."""

# --- PDG muon CSDA range in liquid argon (GMS), kinetic energy MeV -> range g/cm^2 --------------
MUON_CSDA_TABLE_KE = np.array(
    [10.0, 14.0, 20.0, 30.0, 40.0, 80.0, 100.0, 140.0, 200.0, 300.0, 400.0, 800.0, 1000.0, 1400.0,
     2000.0, 3000.0, 4000.0, 8000.0, 10000.0]
)
MUON_CSDA_TABLE_RANGE = np.array(
    [0.9833, 1.786, 3.321, 6.598, 10.58, 30.84, 42.50, 67.32, 106.3, 172.5, 238.5, 493.4, 616.3,
     855.2, 1202.0, 1758.0, 2297.0, 4359.0, 5354.0]
)
"""CSDA range, g/cm^2; divide by LAR_DENSITY for cm (e.g. a 1 GeV muon: 441 cm)."""

# --- photon attenuation in argon ---------------------------------------------------------------
PHOTON_ATTENUATION_KE = np.array([0.1, 0.15, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 10.0, 15.0, 20.0])
PHOTON_ATTENUATION_MU_RHO = np.array(
    [0.2043, 0.1427, 0.1205, 0.09953, 0.07958, 0.06419, 0.05762, 0.04695, 0.04074, 0.03384, 0.02802,
     0.02517, 0.02451, 0.02418, 0.02453]
)
"""Total mass attenuation coefficient mu/rho of argon, cm^2/g, from 0.1 to 20 MeV (NIST, J.H. Hubbell
and S.M. Seltzer, X-ray mass attenuation coefficients, NISTIR 5632, Z = 18). Above 20 MeV,
Klein-Nishina plus pair production (``showers.total_attenuation``), which reproduces this table to
0.4% from 1.25 to 20 MeV and tends to 7/(9 X0). Before this correction the table read 5-13% high (0.0278
at 10 MeV, 0.0615 at 1 MeV), so photons converted ~12% too early."""
PAIR_FIT_MICROBARN = np.array([
    [8.7842e2, -1.9625e3, 1.2949e3, -2.0028e2, 1.2575e1, -2.8333e-1],
    [-1.0342e1, 1.7692e1, -8.2381, 1.3063, -9.0815e-2, 2.3586e-3],
    [-4.5263e2, 1.1161e3, -8.6749e2, 2.1773e2, -2.0467e1, 6.5372e-1],
])
"""L. Urban's fit to the pair-production cross-sections of J.H. Hubbell, H.A. Gimm and I. Overbo
(J. Phys. Chem. Ref. Data 9 (1980) 1023), as GEANT (PHYS210) and Geant4 (G4BetheHeitlerModel) use it:
sigma = Z (Z + 1) (F1 + Z F2 + F3 / Z) microbarn per atom, F_i = sum_n c_in ln(E/m_e)^n, good to ~5%
from 1.5 MeV to 100 GeV; below 1.5 MeV it scales as (E - 2 m_e)^2."""
PAIR_FIT_FLOOR_MEV = 1.5
PAIR_FIT_CEILING_MEV = 1.0e5

# --- decays and captures ------------------------------------------------------------------------
MICHEL_ENDPOINT = 52.83
"""Highest energy of the Michel electron from muon decay at rest, MeV (PDG: m_mu / 2)."""
MU_MINUS_DECAY_FRACTION_ARGON = 0.25
"""A stopped mu- in argon decays in about 25% of cases; the rest are captured by the nucleus
(T. Suzuki, D.F. Measday, J.P. Roalsvig, Phys. Rev. C 35 (1987) 2212: capture lifetime 616 ns)."""

# --- charge production and transport -----------------------------------------------------------
W_ION = 23.6e-6
"""Energy per ionisation electron, MeV (M. Miyajima et al., Phys. Rev. A 9 (1974) 1438)."""
RECOMBINATION_ALPHA = 0.93
RECOMBINATION_BETA = 0.212
"""Modified box model R = ln(alpha + xi) / xi, xi = beta dE/dx / (rho E): alpha = 0.93,
beta = 0.212 (kV/cm)(g/cm^2)/MeV (ArgoNeuT)."""
DIFFUSION_LONGITUDINAL = 6.2
DIFFUSION_TRANSVERSE = 16.3
"""Electron diffusion constants in LAr, cm^2/s (LArSoft defaults, from ICARUS measurements)."""

# --- detectors ------------------------------------------------------------------------------------
MICROBOONE = {
    "induction_angle_deg": 60.0,  # U/V wires at +-60 deg from vertical (uBooNE)
    "wire_pitch_cm": 0.3,  # 3 mm on all planes (uBooNE)
    "electric_field_kv_cm": 0.273,  # 273 V/cm (uBooNE)
    "drift_velocity_cm_us": 0.1114,  # at 273 V/cm and 87 K (uBooNE)
    "max_drift_cm": 256.0,  # drift length 2.56 m (uBooNE)
    "electron_lifetime_ms": 10.0,  # "greater than 10 ms" achieved (MicroBooNE, JINST 12 P02017)
    "noise_electrons": 400.0,  # ENC per wire after noise filtering (MicroBooNE, JINST 12 P08003)
}
DUNE = {
    "induction_angle_deg": 35.7,  # U/V at +-35.7 deg from vertical (DUNE TDR)
    "wire_pitch_cm": 0.479,  # 4.79 mm collection pitch, 4.67 mm induction (DUNE TDR)
    "electric_field_kv_cm": 0.5,  # 500 V/cm nominal (DUNE TDR)
    "drift_velocity_cm_us": 0.16,  # 1.6 mm/us at 500 V/cm (DUNE TDR)
    "max_drift_cm": 350.0,  # 3.5 m drift (DUNE TDR)
    "electron_lifetime_ms": 3.0,  # requirement >= 3 ms (DUNE TDR)
    "noise_electrons": 1000.0,  # ENC requirement < 1000 e- (DUNE TDR)
}
SAMPLING_TICK_US = 0.5
"""Both detectors digitise at 2 MHz (uBooNE; DUNE TDR)."""
CVN_TICKS_PER_PIXEL = 6
"""The DUNE CVN images merge 6 ticks per time pixel (Abi et al., Phys. Rev. D 102 (2020) 092003):
6 x 0.5 us x 0.16 cm/us = 0.48 cm of drift per pixel, close to the wire pitch."""
CVN_RAW_THRESHOLD_COUNTS = 8.0
"""Lowest value of a lit readout pixel of the CVN maps, measured on the calibration half: of the lit
raw pixels 0.1-0.2% read 2-3, ~0.1% each 4-7, then 0.3-0.7% at 8 and ~1% at 9-10 (per class):
the hit threshold sits at 8 counts per readout pixel (wire x 6 ticks), before the 2 x 2 pooling."""
CVN_POOL = 2
"""The CVN maps (500 wires x 500 pixels of 6 ticks, 8-bit: 1.4-4.5% of lit raw pixels read 255 in
the calibration half) are pooled 2 x 2 by the loader (learnledger.data.dune_cvn.crop_event)."""

# --- the neutrino interaction -------------------------------------------------------------------
MODE_FRACTIONS = (0.22, 0.30, 0.43, 0.05)
"""QE, RES, DIS, other (2p2h/coherent) shares of the nu-Ar cross section near 2.5 GeV (read from
J.A. Formaggio, G.P. Zeller, Rev. Mod. Phys. 84 (2012) 1307, Fig. 13)."""
AXIAL_MASS_GEV = 1.0
"""M_A of the dipole axial form factor, GeV (world average near 1.0 GeV: Formaggio & Zeller)."""
VECTOR_MASS_SQ_GEV2 = 0.71
"""M_V^2 of the dipole vector form factors, GeV^2 (CVC from electron scattering; Llewellyn Smith,
Phys. Rep. 3 (1972) 261; Formaggio & Zeller eq. 16)."""
AXIAL_COUPLING = 1.267
"""g_A = F_A(0) (PDG, neutron beta decay)."""
ANOMALOUS_MOMENT_DIFFERENCE = 3.706
"""mu_p - mu_n, the isovector anomalous magnetic moment: F_2^V(0)."""
ARGON_REMOVAL_ENERGY_GEV = 0.030
"""Energy to remove a nucleon from argon in GENIE's Fermi gas (E_b = 30 MeV for Ar): a bound
nucleon's QE energy transfer is Q^2/2M plus this."""
ARGON_NEUTRON_SHARE = 22 / 40
"""Neutrons among the nucleons of 40Ar (18 protons, 22 neutrons)."""
NUCLEON_BINDING_MEV = 8.0
"""Energy to free a nucleon from argon (binding energy per nucleon, ~8.6 MeV for 40Ar)."""
PION_REACTION_KE_GEV = np.array(
    [0.02, 0.04, 0.06, 0.08, 0.10, 0.12, 0.14, 0.16, 0.18, 0.20, 0.22, 0.25, 0.30, 0.35, 0.40, 0.45,
     0.50, 0.60, 0.70, 0.80, 0.90, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0]
)
PI_MINUS_REACTION_MB = np.array(
    [470, 550, 620, 860, 955, 980, 960, 920, 860, 820, 780, 740, 665, 637, 615, 600,
     590, 590, 600, 608, 610, 615, 550, 525, 510, 488, 470, 450, 450], float
)
PI_PLUS_REACTION_MB = np.array(
    [160, 315, 500, 745, 870, 905, 900, 860, 810, 770, 740, 710, 640, 617, 595, 585,
     575, 575, 590, 600, 602, 608, 510], float
)
PI_MINUS_TOTAL_MB = np.array(
    [800, 980, 1240, 1460, 1570, 1600, 1580, 1535, 1475, 1425, 1375, 1295, 1200, 1083, 1000, 948,
     915, 895, 900, 908, 915, 922, 856, 795, 740, 705, 682, 660, 660], float
)
PI_PLUS_TOTAL_MB = np.array(
    [275, 445, 790, 1195, 1440, 1485, 1475, 1435, 1385, 1335, 1295, 1245, 1160, 1050, 970, 923,
     895, 877, 887, 897, 904, 913, 855], float
)
"""Reaction (inelastic: everything but elastic scattering, so quasi-elastic knock-out, absorption
and charge exchange included) and total cross-sections of pi- and pi+ on a nucleus of mass number
40, mb, against the pion's kinetic energy (pi+ up to 2 GeV, held there above); elastic scattering is
their difference. V.S. Barashenkov's evaluation of the pion-nucleus data (Cross sections of
interactions of particles and nuclei with nuclei, JINR Dubna 1993), as GEANT4 tabulates it for
calcium (G4PiNuclearCrossSection); 40Ar has calcium's mass number. Reaction ~1 b at the Delta(1232),
~0.6 b from 0.4 to 1 GeV, 0.45-0.55 b above; elastic 0.6 b at the Delta, 0.3 b at 1 GeV."""
NUCLEAR_RADIUS_FM = 1.2 * 40 ** (1 / 3)
"""R = r0 A^(1/3), r0 = 1.2 fm: 4.1 fm for argon."""
HBAR_C_MEV_FM = 197.3269804
LAR_NUCLEI_PER_CM3 = LAR_DENSITY * AVOGADRO / LAR_A
"""Argon nuclei per cm^3 of liquid argon (2.10e22): an interaction length is 1 / (this x sigma)."""
DELTA_MASS_GEV = 1.232
DELTA_WIDTH_GEV = 0.117
"""Delta(1232) mass and width (PDG)."""
FERMI_MOMENTUM_GEV = 0.242
"""Argon Fermi momentum, GeV (global Fermi gas, as in GENIE after Bodek-Ritchie)."""
KNO_MULTIPLICITY = (0.4, 1.42)
"""<n_ch> = a + b ln W^2 for nu p DIS (AGKY model of GENIE, T. Yang et al., EPJ C 63 (2009) 1)."""
STRING_PT_GEV = 0.335
"""Root-mean-square transverse momentum of hadrons to the string axis, GeV: PYTHIA 8's StringPT:sigma
(T. Sjostrand et al., Comput. Phys. Commun. 191 (2015) 159), the fragmentation GENIE's AGKY model
hands DIS events to above W = 3 GeV."""
DIS_TRANSITION_W_GEV = 1.7
"""W_cut of GENIE's RES-DIS transition: below it DIS enters only as the non-resonant background,
scaled down by multiplicity-dependent factors (~0.1 for one pion), above it in full (C. Andreopoulos et
al., NIM A 614 (2010) 87; GENIE's default Wcut = 1.7 GeV)."""
RES_MAX_W_GEV = 2.0
"""Upper end of the resonance region in W: GENIE's Rein-Sehgal model takes resonances up to W = 2 GeV
and hands higher W to DIS (C. Andreopoulos et al., NIM A 614 (2010) 87)."""

# --- measured on the calibration half of the DUNE CVN sample ----------------------------------------
# (dune_cvn.split_halves; scripts/lartpc_realism.py truth). The evaluation half is never used here.
CVN_ENERGY_DECILES_GEV = (
    (0.92, 1.42, 2.11, 2.54, 3.16, 3.46, 3.83, 4.34, 5.57, 13.72, 34.72),  # NC
    (0.64, 1.50, 1.96, 2.57, 2.93, 3.06, 3.46, 4.01, 5.02, 11.87, 45.74),  # numu CC
    (0.45, 2.10, 3.13, 3.85, 5.66, 6.71, 8.16, 10.24, 16.48, 22.30, 37.59),  # nue CC
)
"""E_nu deciles (0%, 10%, ..., 100%) of the 100 calibration events of each class, GeV: a median of
3.3 GeV (NC), 3.1 GeV (numu CC), 6.7 GeV (nue CC), with a long tail above 10 GeV."""
CVN_MODE_FRACTIONS = (
    (0.17, 0.29, 0.49, 0.05),  # NC: no NC modes in the .info code; numu CC's (preset: CVN_NC_MODE_FRACTIONS)
    (0.17, 0.29, 0.49, 0.05),  # numu CC
    (0.13, 0.20, 0.65, 0.02),  # nue CC: higher energies, more DIS
)
"""QE, RES, DIS, other shares of the calibration events (the .info code % 4)."""
NC_TO_CC_QUASI_ELASTIC = 0.18
"""sigma(NC elastic) / sigma(CC quasi-elastic) per nucleon: MiniBooNE measured about 0.19 on CH2
(A.A. Aguilar-Arevalo et al., Phys. Rev. D 82 (2010) 092005); taken for the two-nucleon mode too."""
NC_TO_CC_INELASTIC = 0.31
"""sigma(NC) / sigma(CC) of deep-inelastic neutrino scattering on an isoscalar target, 1/2 -
sin^2(theta_W) + 20/27 sin^4(theta_W) with sin^2(theta_W) = 0.231 (C.H. Llewellyn Smith, Nucl. Phys.
B 228 (1983) 205); taken for resonance production too."""
_NC_WEIGHTED = [share * ratio for share, ratio in zip(CVN_MODE_FRACTIONS[1], (
    NC_TO_CC_QUASI_ELASTIC, NC_TO_CC_INELASTIC, NC_TO_CC_INELASTIC, NC_TO_CC_QUASI_ELASTIC))]
CVN_NC_MODE_FRACTIONS = tuple(round(share / sum(_NC_WEIGHTED), 3) for share in _NC_WEIGHTED)
"""QE, RES, DIS, other shares of NC events (change 13 of docs/lartpc.md): numu CC's shares of the
calibration half weighted by the NC/CC ratio of each mode (NC_TO_CC_QUASI_ELASTIC for QE and other,
NC_TO_CC_INELASTIC for RES and DIS), instead of numu CC's shares as they are; the NC sample's .info
code carries no mode."""
CVN_PION_ABSORPTION = 0.3
"""Share of pions absorbed in the argon nucleus: the calibration half's events carry 0.64 (NC), 0.64
(numu CC), 0.83 (nue CC) times the charged pions of our primary process, 0.7-0.9 times the pi0s; 30%
is also the size of pion absorption in argon in GENIE's hA model at a few hundred MeV."""
CVN_PION_CHARGE_EXCHANGE = 0.12
"""Probability of a pion's charge exchange on its way out of the argon nucleus (change 12 of
docs/lartpc.md): the calibration half's events carry 0.387 pi0 per pion (+-0.014; NC, numu CC,
nue CC: 0.64, 0.37, 0.66 pi0s and 0.73, 0.68, 1.24 charged pions an event), our production with NC
pions of the charges it gives them 0.345; 0.12 brings it to 0.38-0.39. Single charge exchange is of this order in GENIE's hA fates
for pions of a few hundred MeV in medium nuclei."""
CVN_FSI_NUCLEONS = ((0.0, 1.0), (0.7, 1.2), (0.7, 0.9), (0.0, 2.5))
"""Protons and neutrons per event beyond those of our primary process, per mode (QE, RES, DIS, other):
the calibration half's CC events carry 0.9 / 1.9 / 1.5 / 0.6 protons and 1.4 / 1.8 / 1.8 / 2.9
neutrons (the .info counts, lines 8 and 11), our primaries 1.0 / 0.9 / 0.5 / 1.6 and 0 / 0.1 / 0.5 / 0.4;
pion absorption (CVN_PION_ABSORPTION) adds ~0.3 of each, so the knock-out means are the rest."""

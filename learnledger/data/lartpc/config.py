"""Every knob of the simulator in one frozen, serialisable dataclass.

``SimConfig()`` is the MicroBooNE-like detector; ``SimConfig.for_geometry("dune")`` the DUNE-like one
(calibrated against the DUNE CVN sample, see docs/lartpc.md). Any field can be overridden:
``SimConfig.for_geometry("dune", noise_electrons=2000)``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from learnledger.data.lartpc import constants as C

GEOMETRIES = ("microboone", "dune")
INDUCTION_RESPONSES = ("bipolar", "unipolar")
FRAMINGS = ("vertex", "activity")
PHOTON_INTERACTIONS = ("threshold", "klein-nishina")


@dataclass(frozen=True)
class SimConfig:
    """Simulation settings. Lengths in cm, energies in GeV (neutrino) or MeV (detector)."""

    geometry: str = "microboone"
    # --- wire planes and image ------------------------------------------------------------------
    induction_angle_deg: float = C.MICROBOONE["induction_angle_deg"]
    """U and V wires at -/+ this angle from the vertical; Z (collection) wires are vertical."""
    pixel_wire_cm: float = 1.0
    """Wire-axis size of one image pixel. The MicroBooNE pitch is 0.3 cm: a pixel merges ~3 wires so
    that 200 pixels span 2 m, enough to tell a muon track from a shower."""
    pixel_time_cm: float = 1.0
    """Drift distance per time pixel (ticks x drift velocity)."""
    image_size: int = 200
    vertex_pixel: tuple[float, float] = (0.3, 0.5)
    """Where the vertex lands, as fractions of the image (wire, time); the beam points to higher wires."""
    vertex_jitter: float = 0.05
    """Standard deviation of the vertex position in the image, as a fraction of the image size."""
    framing: str = "vertex"
    """'vertex': the image is placed by ``vertex_pixel``; 'activity': events are drawn on a canvas
    ``canvas_scale`` times larger and cropped where they hold the most charge, the rule of the DUNE
    CVN loader, so that simulated and real events are framed alike."""
    canvas_scale: float = 1.5
    # --- charge: production, drift, readout -------------------------------------------------------
    electric_field_kv_cm: float = C.MICROBOONE["electric_field_kv_cm"]
    drift_velocity_cm_us: float = C.MICROBOONE["drift_velocity_cm_us"]
    max_drift_cm: float = C.MICROBOONE["max_drift_cm"]
    electron_lifetime_ms: float = C.MICROBOONE["electron_lifetime_ms"]
    diffusion_long_cm2_s: float = C.DIFFUSION_LONGITUDINAL
    diffusion_trans_cm2_s: float = C.DIFFUSION_TRANSVERSE
    recombination_alpha: float = C.RECOMBINATION_ALPHA
    recombination_beta: float = C.RECOMBINATION_BETA
    w_ion_mev: float = C.W_ION
    counts_per_kilo_electron: float = 0.6
    """Image value per 1000 collected electrons (uint8 saturates at 255): a MIP crossing one 1 cm
    pixel gives ~2.1 MeV x 0.65 / 23.6 eV ~ 58k e- ~ 35 counts, as in the DUNE CVN images."""
    noise_electrons: float = 2500.0
    """Gaussian noise per pixel, electrons (a pixel merges several wires and ticks; default sets the
    difficulty, see docs/lartpc.md)."""
    threshold_counts: float = 8.0
    """Zero suppression: pixels below this many counts read 0 ("no charge"), as in the CVN images."""
    resolution_pixels: float = 0.7
    """Gaussian blur (electronics shaping, wire crosstalk), sigma in pixels."""
    readout_pool: int = 1
    """Readout pixels pooled into one image pixel per side. With 2 (the DUNE preset) events are drawn
    on the detector's own pixels (``pixel_wire_cm / 2`` x ``pixel_time_cm / 2``), the threshold and
    the 8-bit saturation applied there, then blocks of 2 x 2 summed and divided by 2, as the CVN pixel
    maps are read (``learnledger.data.dune_cvn.crop_event``). ``counts_per_kilo_electron`` and
    ``resolution_pixels`` keep their meaning in image pixels; ``noise_electrons`` (a wire's noise)
    and ``threshold_counts`` are per readout pixel."""
    induction_response: str = "bipolar"
    """'bipolar': induction planes see the derivative of the charge along time (stored as its
    magnitude); 'unipolar': as after deconvolution and hit finding (what the CVN images hold)."""
    # --- physics ----------------------------------------------------------------------------------
    energy_mean_gev: float = 2.5
    energy_sigma_gev: float = 0.5
    mode_fractions: tuple[float, float, float, float] = C.MODE_FRACTIONS
    nc_pi0_fraction: float | None = 0.5
    """Share of NC events with at least one pi0 (the background that looks like nue CC), made so by
    turning a pion (or the nucleon) into a pi0 or every pi0 into a pi+; None: NC pions keep the
    charges their production and final-state interactions give them."""
    class_energy_quantiles_gev: tuple[tuple[float, ...], ...] | None = None
    """Per class (NC, numu CC, nue CC): quantiles of E_nu at equal steps from 0 to 1, drawn by inverse
    CDF (log-linear between them); replaces the normal of ``energy_mean_gev`` when set."""
    class_mode_fractions: tuple[tuple[float, float, float, float], ...] | None = None
    """Per class: QE, RES, DIS, other shares; replaces ``mode_fractions`` when set."""
    dis_grows_with_energy: bool = False
    """Scale the DIS share with E_nu / (the class's median energy): flat QE and RES cross sections,
    a DIS cross section growing linearly with the energy, so high-energy events are mostly DIS."""
    dis_hadron_pt_gev: float | None = None
    """DIS hadrons as two jets along the momentum transfer (string fragmentation), with this root-mean-
    square transverse momentum, GeV; None: shared isotropically in the hadronic rest frame."""
    qe_llewellyn_smith: bool = False
    """QE momentum transfer from the Llewellyn Smith cross section (vector and axial form factors, the
    energy's kinematic limit) and the argon nucleon's removal energy, instead of the axial dipole alone
    on a free nucleon; the dipole alone gives too soft a Q^2 and too little energy to the proton
    (change 10 of docs/lartpc.md: measured, not in a preset)."""
    dis_min_w_gev: float = 1.4
    """Lowest hadronic invariant mass W of a DIS event, GeV; below it the resonances (RES) stand. GENIE
    keeps DIS below W_cut = 1.7 GeV only as a small non-resonant background, so its DIS events lie
    above it (``C.DIS_TRANSITION_W_GEV``; change 11 of docs/lartpc.md: measured, not in a preset)."""
    higher_resonance_fraction: float = 0.0
    """Share of RES events above the Delta: W uniform from 1.3 GeV to the end of the resonance
    region (2 GeV), instead of the Delta(1232) Breit-Wigner."""
    fsi_nucleons: tuple[tuple[float, float], ...] | None = None
    """Per mode (QE, RES, DIS, other): mean numbers of protons and neutrons knocked out of the nucleus
    by final-state interactions, beyond the primary process; None: none."""
    fsi_pion_absorption: float = 0.0
    """Probability that a pion made in the interaction is absorbed in the nucleus (becoming a proton
    and a neutron)."""
    fsi_pion_charge_exchange: float = 0.0
    """Probability that a pion leaving the nucleus exchanges its charge with a nucleon on the way out
    (pi+ n -> pi0 p, pi- p -> pi0 n, and pi0 back to pi+ or pi- on a proton or a neutron): the charge-
    exchange fate of GENIE's hA model (change 12 of docs/lartpc.md; 0.12 in the DUNE preset)."""
    fsi_nucleon_mev: float = 50.0
    """Mean kinetic energy of those nucleons, MeV (exponential)."""
    photon_interactions: str = "threshold"
    """How shower photons interact: "threshold" (pairs above 10 MeV, Compton below with the electron
    taking a uniform 10-80% at 0.2-1.2 rad) or "klein-nishina" (Compton and pairs in the proportion of
    their cross-sections, Compton energies and angles from the Klein-Nishina formula; change 14 of
    docs/lartpc.md, in the DUNE preset)."""
    inelastic_conserves_energy: bool = False
    """Hadron-argon inelastic interactions (pions and protons in flight) give the energy their listed
    products (a leading hadron, a pi0, a few protons) do not carry to nucleons knocked out of the
    nucleus (``particles.knocked_out_nucleons``, kinetic energies of mean ``fsi_nucleon_mev``), instead
    of dropping it: 30-50% of an energetic hadron's energy vanished at each interaction (change 15 of
    docs/lartpc.md)."""
    pion_cross_sections: bool = False
    """Charged pions in flight meet argon nuclei by their energy's cross-sections (Barashenkov's
    evaluation for mass number 40: near the Delta 1 b of reactions and 0.6 b of elastic scattering, a
    mean free path of 32 cm; ``nuclear``), and an elastic scattering turns them by the diffraction
    angle, instead of reacting after one nuclear interaction length (85.7 cm) at any energy and never
    scattering (change 16 of docs/lartpc.md)."""
    deposit_step_cm: float = 0.3
    landau_width: float = 0.12
    """Relative width of energy-loss fluctuations per step (a Moyal/Landau shape)."""
    blip_rate: float = 4.0
    """Mean number of low-energy deposits (neutron captures, de-excitation gammas) per event."""
    extras: dict[str, Any] = field(default_factory=dict, compare=False)
    """Free-form notes carried into the HDF5 attributes (e.g. the calibration that set a field)."""

    def __post_init__(self) -> None:
        if self.geometry not in GEOMETRIES:
            raise ValueError(f"geometry must be one of {GEOMETRIES}; received: geometry={self.geometry!r}")
        if self.induction_response not in INDUCTION_RESPONSES:
            raise ValueError(
                f"induction_response must be one of {INDUCTION_RESPONSES}; "
                f"received: induction_response={self.induction_response!r}"
            )
        if self.framing not in FRAMINGS:
            raise ValueError(f"framing must be one of {FRAMINGS}; received: framing={self.framing!r}")
        if self.photon_interactions not in PHOTON_INTERACTIONS:
            raise ValueError(f"photon_interactions must be one of {PHOTON_INTERACTIONS}; "
                             f"received: photon_interactions={self.photon_interactions!r}")
        if self.canvas_scale < 1:
            raise ValueError(f"canvas_scale must be at least 1; received: canvas_scale={self.canvas_scale}")
        if not 1 <= int(self.readout_pool) <= 8:
            raise ValueError(f"readout_pool must be between 1 and 8; received: readout_pool={self.readout_pool}")
        if not 8 <= int(self.image_size) <= 2048:
            raise ValueError(f"image_size must be between 8 and 2048; received: image_size={self.image_size}")
        for name in ("pixel_wire_cm", "pixel_time_cm", "drift_velocity_cm_us", "electron_lifetime_ms",
                     "counts_per_kilo_electron", "deposit_step_cm", "energy_mean_gev"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive; received: {name}={getattr(self, name)}")
        for name in ("noise_electrons", "threshold_counts", "resolution_pixels", "energy_sigma_gev",
                     "landau_width", "blip_rate"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative; received: {name}={getattr(self, name)}")
        self._check_tables()
        if not self.dis_min_w_gev > 1.08:
            raise ValueError("dis_min_w_gev must exceed the nucleon and pion masses (1.08 GeV); "
                             f"received: {self.dis_min_w_gev}")
        for name in ("higher_resonance_fraction", "fsi_pion_absorption", "fsi_pion_charge_exchange"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]; received: {getattr(self, name)}")
        if self.dis_hadron_pt_gev is not None and not self.dis_hadron_pt_gev > 0:
            raise ValueError(f"dis_hadron_pt_gev must be positive or None; received: {self.dis_hadron_pt_gev}")
        if not self.fsi_nucleon_mev > 0:
            raise ValueError(f"fsi_nucleon_mev must be positive; received: {self.fsi_nucleon_mev}")
        if self.nc_pi0_fraction is not None and not 0.0 <= self.nc_pi0_fraction <= 1.0:
            raise ValueError(f"nc_pi0_fraction must be in [0, 1] or None; received: {self.nc_pi0_fraction}")
        if len(self.mode_fractions) != 4 or min(self.mode_fractions) < 0 or sum(self.mode_fractions) <= 0:
            raise ValueError(
                "mode_fractions must be four non-negative shares (QE, RES, DIS, other); "
                f"received: mode_fractions={self.mode_fractions}"
            )

    def _check_tables(self) -> None:
        quantiles = self.class_energy_quantiles_gev
        if quantiles is not None and (len(quantiles) != 3 or any(
                len(row) < 2 or min(row) <= 0 or list(row) != sorted(row) for row in quantiles)):
            raise ValueError("class_energy_quantiles_gev must hold, for NC, numu CC and nue CC, at least two "
                             f"positive, increasing energies; received: {quantiles}")
        modes = self.class_mode_fractions
        if modes is not None and (len(modes) != 3 or any(
                len(row) != 4 or min(row) < 0 or sum(row) <= 0 for row in modes)):
            raise ValueError("class_mode_fractions must hold four non-negative shares (QE, RES, DIS, other) "
                             f"for each of NC, numu CC, nue CC; received: {modes}")
        fsi = self.fsi_nucleons
        if fsi is not None and (len(fsi) != 4 or any(len(row) != 2 or min(row) < 0 for row in fsi)):
            raise ValueError("fsi_nucleons must hold, for QE, RES, DIS and other, two non-negative means "
                             f"(protons, neutrons); received: {fsi}")

    @classmethod
    def for_geometry(cls, geometry: str, **overrides: Any) -> SimConfig:
        """The preset of a detector ("microboone" or "dune"), with any field overridden."""
        if geometry == "microboone":
            preset: dict[str, Any] = {}
        elif geometry == "dune":
            preset = dict(DUNE_PRESET)
        else:
            raise ValueError(f"geometry must be one of {GEOMETRIES}; received: geometry={geometry!r}")
        preset.update(overrides)
        return cls(geometry=geometry, **preset)

    def replace(self, **changes: Any) -> SimConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SimConfig:
        """Rebuild a config; unknown keys are an error (a typo would otherwise be silently ignored)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown SimConfig field(s): {unknown}; known fields: {sorted(known)}")
        converted = dict(values)
        for name in ("vertex_pixel", "mode_fractions"):
            if name in converted:
                converted[name] = tuple(converted[name])
        for name in ("class_energy_quantiles_gev", "class_mode_fractions", "fsi_nucleons"):
            if converted.get(name) is not None:
                converted[name] = tuple(tuple(row) for row in converted[name])
        return cls(**converted)

    @classmethod
    def from_json(cls, text: str) -> SimConfig:
        return cls.from_dict(json.loads(text))


CVN_READOUT: dict[str, Any] = {
    # reconstructed hits: each hit's charge sits in its own wire and tick pixel (no blur once read out
    # at the detector's pixels; with 0 blur the median lit pixel of numu CC reads 31, real 32)
    "resolution_pixels": 0.0,
    # the CVN maps are 8-bit per readout pixel (wire x 6 ticks), thresholded and saturated there, then
    # pooled 2 x 2 by the loader: raw values of the calibration half start at 8 and 1.4-4.5% of lit
    # raw pixels read 255 (docs/lartpc.md, change 9)
    "readout_pool": C.CVN_POOL,
    "threshold_counts": C.CVN_RAW_THRESHOLD_COUNTS,
}
"""Change 9 of docs/lartpc.md: the DUNE preset read out as the CVN maps are made. In the preset since
the grid of 15 trainings measured it on top of changes 12 and 13 (the calibration half's mean 72.3 ->
72.4%); over four trainings on the preset of changes 1-8 it had fallen (70.9 -> 69.1%, one network of
four failing to learn numu CC)."""

DUNE_PRESET: dict[str, Any] = {
    "induction_angle_deg": C.DUNE["induction_angle_deg"],
    "electric_field_kv_cm": C.DUNE["electric_field_kv_cm"],
    "drift_velocity_cm_us": C.DUNE["drift_velocity_cm_us"],
    "max_drift_cm": C.DUNE["max_drift_cm"],
    "electron_lifetime_ms": C.DUNE["electron_lifetime_ms"],
    "induction_response": "unipolar",
    "pixel_wire_cm": 2 * C.DUNE["wire_pitch_cm"],
    "pixel_time_cm": 2 * C.CVN_TICKS_PER_PIXEL * C.SAMPLING_TICK_US * C.DUNE["drift_velocity_cm_us"],
    "framing": "activity",
    # calibrated against the DUNE CVN sample (scripts/lartpc_realism.py calibrate, docs/lartpc.md):
    "counts_per_kilo_electron": 0.75,  # median lit-pixel value of numu CC events 32, as in the CVN images
    "noise_electrons": C.DUNE["noise_electrons"],  # the CVN images hold hits: little noise survives
    **CVN_READOUT,  # change 9: read out at the detector's pixels, as the CVN maps are made
    # the interactions of the CVN sample, measured on its calibration half (constants.py):
    "class_energy_quantiles_gev": C.CVN_ENERGY_DECILES_GEV,
    "class_mode_fractions": (C.CVN_NC_MODE_FRACTIONS, *C.CVN_MODE_FRACTIONS[1:]),  # change 13
    "dis_grows_with_energy": True,
    "higher_resonance_fraction": 0.6,
    "dis_hadron_pt_gev": C.STRING_PT_GEV,
    "fsi_nucleons": C.CVN_FSI_NUCLEONS,
    "fsi_pion_absorption": C.CVN_PION_ABSORPTION,
    "fsi_pion_charge_exchange": C.CVN_PION_CHARGE_EXCHANGE,  # change 12, with:
    "nc_pi0_fraction": None,  # NC pions of the charges their production and FSI give them
    "photon_interactions": "klein-nishina",  # change 14: photons by their cross-sections
    "inelastic_conserves_energy": True,  # change 15: hadron-argon interactions conserve energy
}
"""DUNE far-detector geometry, with a unipolar (deconvolved) induction response like the CVN images.
The pixel and charge scales, the energy spectra, mode shares and final-state effects are measured on
the calibration half of the CVN sample only (dune_cvn.split_halves; docs/lartpc.md), so that
sim-to-real on the evaluation half is not flattered by the tuning."""


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value

"""The particles the transport knows, as small integer codes, with their masses (MeV)."""

from __future__ import annotations

import numpy as np

from learnledger.data.lartpc import constants as C

MUON, PION_PLUS, PION_MINUS, PROTON, ELECTRON, PHOTON, PI0, NEUTRON = range(8)
NAMES = ("mu-", "pi+", "pi-", "p", "e", "gamma", "pi0", "n")
MASS = np.array(
    [C.MUON_MASS, C.CHARGED_PION_MASS, C.CHARGED_PION_MASS, C.PROTON_MASS, C.ELECTRON_MASS, 0.0,
     C.NEUTRAL_PION_MASS, C.NEUTRON_MASS]
)
TRACKS = (MUON, PION_PLUS, PION_MINUS, PROTON)
"""Heavy charged particles: continuous energy loss along a track."""
CHARGED_PIONS = (PION_PLUS, PION_MINUS)

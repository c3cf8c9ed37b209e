"""Simulated Liquid Argon TPC neutrino events (numpy, no GEANT4): NC, numu CC and nue CC images.

    from learnledger.data.lartpc import generate, read_h5, write_h5, SimConfig
    sample = generate(3000, seed=1, config=SimConfig.for_geometry("dune"))

Modules, from physics to pixels: constants (every number, cited), kinematics (the interaction),
energy_loss (Bethe-Bloch and ranges), particles (tracks), showers (EM cascades), transport (the
particle loop), detector (recombination, drift, diffusion, wire planes), render (images), generator
(batches, workers, seeds), h5io (files), display (event pictures). docs/lartpc.md tells the story.
"""

from learnledger.data.lartpc.config import SimConfig
from learnledger.data.lartpc.generator import generate
from learnledger.data.lartpc.h5io import read_h5, write_h5

__all__ = ["SimConfig", "generate", "read_h5", "write_h5"]

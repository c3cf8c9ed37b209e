"""Shared test helpers: a tiny experiment file that trains in seconds on this CPU, and the anvil mark."""

from __future__ import annotations

from pathlib import Path

import pytest

from learnledger.ledger.consortium import geth_unavailable
from learnledger.ledger.devnet import ANVIL

needs_anvil = pytest.mark.skipif(
    not ANVIL.exists(), reason=f"anvil is not installed at {ANVIL}: run `npm ci` (scripts/setup.sh)"
)
"""Marks a test that starts the real anvil devnet from node_modules."""

_GETH_MISSING = geth_unavailable()
needs_geth = pytest.mark.skipif(_GETH_MISSING is not None, reason=f"no geth here to run a consortium: {_GETH_MISSING}")
"""Marks a test that runs geth Clique nodes (built by scripts/engines.sh into .engines/bin)."""

TINY = """
[experiment]
name = "tiny"
rounds = {rounds}
seed = 11

[data]
source = "mnist"
max_per_learner = 120

[model]
architecture = "mlp"
input_shape = [28, 28, 1]
num_classes = 10

[training]
epochs = {epochs}
batch_size = 16
learning_rate = 0.003

[[learners]]
group = "cern"

[[learners]]
group = "fnal"

[[learners]]
group = "desy"
{extra}
"""


def tiny_experiment(tmp_path: Path, rounds: int = 3, extra: str = "", epochs: int = 2) -> Path:
    """Three groups, an MLP on 120 MNIST digits each; ``epochs`` sets how long a proposal trains."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY.format(rounds=rounds, extra=extra, epochs=epochs))
    return path


def tiny_experiment_with_windows(tmp_path: Path, rounds: int, proposal_window: int, vote_window: int) -> Path:
    """The tiny experiment with its own proposal and vote windows, in seconds."""
    path = tiny_experiment(tmp_path, rounds=rounds)
    path.write_text(path.read_text().replace(
        "[experiment]\n", f"[experiment]\nproposal_window = {proposal_window}\nvote_window = {vote_window}\n", 1))
    return path

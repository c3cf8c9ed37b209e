"""Shared test helpers: a tiny experiment file that trains in seconds on this CPU."""

from __future__ import annotations

from pathlib import Path

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
epochs = 2
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


def tiny_experiment(tmp_path: Path, rounds: int = 3, extra: str = "") -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY.format(rounds=rounds, extra=extra))
    return path

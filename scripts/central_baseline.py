"""The central-training baseline of an experiment: what one model trained on everyone's data reaches.

Pools every learner's train set (as no real collaboration could), trains the experiment's model on it
from the same initial weights, and prints, after each epoch, the mean over learners of the metric on
each learner's own test set: the same figure as a collaborative round's mean test score. Put it beside
``summary.json``'s ``final_mean_test_score`` of ``learnledger run`` on the same file.

    .venv/bin/python scripts/central_baseline.py examples/lartpc.toml [--epochs 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from learnledger.agents.backend import select_backend
from learnledger.agents.experiment import Experiment


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", type=Path)
    parser.add_argument("--epochs", type=int, default=None,
                        help="passes over the pooled train sets (default: the experiment's rounds x "
                             "its epochs divided by the learners, the data a collaboration sees)")
    args = parser.parse_args()

    experiment = Experiment.load(args.experiment)
    select_backend(experiment.keras_backend)
    from learnledger.agents.learner import train_central
    from learnledger.data.experiment_data import load_learner_data

    shares = load_learner_data(experiment.data, [spec.corruption for spec in experiment.learners],
                               experiment.seed)
    epochs = args.epochs or max(1, experiment.rounds * experiment.spec.epochs // len(shares))
    started = time.perf_counter()
    baseline = train_central(shares, experiment.spec, epochs=epochs)
    wall = time.perf_counter() - started
    print(f"central baseline for {experiment.name}: {sum(len(s.train) for s in shares)} pooled train "
          f"examples, {experiment.spec.architecture}, {epochs} epochs, {wall:.1f} s")
    for epoch, score in enumerate(baseline.test_scores, start=1):
        print(f"  epoch {epoch:>3}: mean test {experiment.spec.metric} {score:.4f}")
    print(json.dumps({"experiment": experiment.name, "epochs": epochs,
                      "test_scores": [round(s, 4) for s in baseline.test_scores],
                      "final_mean_test_score": round(baseline.final_test_score, 4),
                      "wall_s": round(wall, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The paper's neutrino study: collaborative learning on simulated events, judged on real ones.

    .venv/bin/python scripts/lartpc_paper_study.py examples/lartpc_dune.toml [--json FILE]
        [--ledger chain|reference]

Runs the experiment end to end (``learnledger run``: the contract on the embedded chain, the
embedded store), then scores the final shared model on the real evaluation half of the DUNE CVN
sample (``dune_cvn.split_halves``: events no calibration of the simulation looked at), and trains the
central baseline (every learner's train set pooled, the same model, as many epochs as the
collaboration's rounds x epochs / learners) and scores it the same way. From the chain's rounds it
reads the paper's qualitative observations: when the mean test score plateaus, what became of a
corrupted learner's proposals, whether voters' scores on their vote sets exceed those on their test
sets, and how close collaborative comes to central.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from learnledger.agents.backend import select_backend
from learnledger.agents.experiment import Experiment


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="run folder (default runs/paper_study/NAME)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--skip-central", action="store_true")
    parser.add_argument("--ledger", choices=("chain", "reference"), default="chain",
                        help="the contract on the embedded chain (default), or the pure-Python reference "
                             "rules where web3 and eth-tester are not installed (a GPU machine's image)")
    args = parser.parse_args()

    experiment = Experiment.load(args.experiment)
    select_backend(experiment.keras_backend)
    from learnledger.data.dune_cvn import load_dune_cvn
    from learnledger.runs.embedded import run_experiment

    out = args.out or Path("runs/paper_study") / experiment.name
    started = time.perf_counter()
    result = run_experiment(experiment, out, ledger=args.ledger, on_round=_progress)
    real = load_dune_cvn(half="evaluation").to_split()
    final = (result.out / "final.safetensors").read_bytes()
    figures = {
        "experiment": experiment.name, "ledger": args.ledger, "backend": _backend_name(),
        "collaborative_wall_s": round(time.perf_counter() - started, 1),
        "collaborative": {
            "sim_test_per_learner": {k: round(v, 4) for k, v in result.summary["final_test_scores"].items()},
            "sim_test_mean": round(result.summary["final_mean_test_score"], 4),
            "real_evaluation_half": _real_score(experiment.spec, final, real),
            "accepted": result.summary["accepted"], "rejected": result.summary["rejected"],
        },
        "observations": observations(result.rounds, experiment),
    }
    _write(figures, args.json)  # now too: a run cut short in the central baseline keeps the collaboration
    if not args.skip_central:
        started = time.perf_counter()
        figures["central"] = central(experiment, real)
        figures["central"]["wall_s"] = round(time.perf_counter() - started, 1)
        _write(figures, args.json)
    print(json.dumps(figures, indent=1))
    return 0


def _write(figures: dict, path: Path | None) -> None:
    if path:
        path.write_text(json.dumps(figures, indent=1) + "\n")


def _progress(row: dict) -> None:
    print(f"round {row['round']}: {row['proposer']} {row['outcome']} "
          f"({row['approvals']} for, {row['rejections']} against)", flush=True)


def _backend_name() -> str:
    import keras

    return keras.backend.backend()


def observations(rows: list[dict], experiment: Experiment) -> dict:
    """The paper's qualitative claims, as numbers read from the chain's rounds."""
    mean_test, mean_vote, gaps = [], [], []
    for row in rows:
        votes = [v for v in row["votes"].values() if v["test_score"] is not None]
        mean_test.append(round(float(np.mean([v["test_score"] for v in votes])), 4) if votes else None)
        mean_vote.append(round(float(np.mean([v["vote_score"] for v in votes])), 4) if votes else None)
        gaps.extend(v["vote_score"] - v["test_score"] for v in votes)
    known = [s for s in mean_test if s is not None]
    best = max(known) if known else None
    plateau = next((i + 1 for i, s in enumerate(mean_test) if s is not None and best - s <= 0.02), None)
    corrupted = {spec.group for spec in experiment.learners if spec.corruption.kind != "none"}
    bad = [{"round": row["round"], "proposer": row["proposer"], "outcome": row["outcome"],
            "approvals": row["approvals"], "rejections": row["rejections"]}
           for row in rows if row["proposer"] in corrupted]
    return {
        "outcomes": [row["outcome"] for row in rows],
        "proposers": [row["proposer"] for row in rows],
        "mean_voter_test_score_per_round": mean_test,
        "mean_vote_score_per_round": mean_vote,
        "first_round_within_0.02_of_best": plateau,
        "vote_minus_test_mean": round(float(np.mean(gaps)), 4) if gaps else None,
        "votes_with_vote_above_test": f"{sum(g > 0 for g in gaps)}/{len(gaps)}",
        "corrupted_learners": sorted(corrupted),
        "corrupted_proposals": bad,
    }


def central(experiment: Experiment, real) -> dict:
    from learnledger.agents.learner import train_central
    from learnledger.data.experiment_data import load_learner_data

    shares = load_learner_data(experiment.data, [spec.corruption for spec in experiment.learners], experiment.seed)
    honest = [share for share, spec in zip(shares, experiment.learners) if spec.corruption.kind == "none"]
    epochs = max(1, experiment.rounds * experiment.spec.epochs // len(shares))
    baseline = train_central(honest, experiment.spec, epochs=epochs)
    return {"epochs": epochs, "learners_pooled": len(honest),
            "sim_test_mean_per_epoch": [round(s, 4) for s in baseline.test_scores],
            "sim_test_mean": round(baseline.final_test_score, 4),
            "real_evaluation_half": _real_score(experiment.spec, baseline.weights, real)}


def _real_score(spec, weights: bytes, real) -> dict:
    from learnledger.agents.learner import _Trainer

    trainer = _Trainer(spec)
    trainer.load(weights)
    predicted = np.argmax(trainer.predict(real.x), axis=1)
    confusion = np.zeros((3, 3), int)
    np.add.at(confusion, (real.y, predicted), 1)
    return {"events": len(real.y), "accuracy": round(float(np.mean(predicted == real.y)), 4),
            "confusion_rows_true_cols_predicted": confusion.tolist()}


if __name__ == "__main__":
    sys.exit(main())

"""What the chain and the store cost a whole experiment: the same run with and without them.

Runs one experiment in this process with the same seeds on the embedded chain (the contract on
eth-tester, every transaction signed and mined) with the directory store, and on the pure-Python
reference ledger with an in-memory store, replaying the proposers the contract drew. Both must accept
the same rounds and end with the same model; the figure is the wall-time ratio. With --anvil it also
runs on an anvil devnet (a native node) to show what the chain costs without py-evm's interpreter.

    .venv/bin/python scripts/bench_overhead.py [EXPERIMENT.toml] [--rounds N]

Default: examples/mnist.toml (5 learners, 20 rounds). Goal: ratio at most 1.10.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

from learnledger.agents.backend import select_backend
from learnledger.agents.experiment import DEFAULT_EXPERIMENT, Experiment

GOAL = 1.10


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", nargs="?", type=Path, default=DEFAULT_EXPERIMENT)
    parser.add_argument("--rounds", type=int, default=None, help="override the experiment's rounds")
    parser.add_argument("--anvil", action="store_true", help="also run on an anvil devnet")
    args = parser.parse_args()

    experiment = Experiment.load(args.experiment)
    if args.rounds:
        experiment = dataclasses.replace(experiment, rounds=args.rounds)
    select_backend(experiment.keras_backend)
    from learnledger.runs.embedded import run_experiment

    with tempfile.TemporaryDirectory() as tmp:
        # One-round warm-ups pay once per process what no experiment pays twice: Keras builds its
        # compiled functions, and web3, eth-tester and py-evm are imported and fill their caches.
        ledgers = ["reference", "chain"] + (["anvil"] if args.anvil else [])
        for ledger in ledgers:
            run_experiment(dataclasses.replace(experiment, rounds=1), Path(tmp) / f"warmup-{ledger}", ledger=ledger)
        started = time.perf_counter()
        chained = run_experiment(experiment, Path(tmp) / "chain", ledger="chain")
        chain_s = time.perf_counter() - started
        proposers = [row["proposer"] for row in chained.rounds]
        started = time.perf_counter()
        reference = run_experiment(experiment, Path(tmp) / "reference", ledger="reference",
                                   proposers=proposers)
        reference_s = time.perf_counter() - started
        runs = [("reference (no chain, memory store)", reference, reference_s),
                ("embedded chain + directory store", chained, chain_s)]
        if args.anvil:
            started = time.perf_counter()
            on_anvil = run_experiment(experiment, Path(tmp) / "anvil", ledger="anvil")
            runs.append(("anvil devnet + directory store", on_anvil, time.perf_counter() - started))

    same_outcomes = [r["outcome"] for r in chained.rounds] == [r["outcome"] for r in reference.rounds]
    same_model = chained.summary["final_model_digest"] == reference.summary["final_model_digest"]
    ratio = chain_s / reference_s
    print(f"experiment {experiment.name}: {len(experiment.learners)} learners, {experiment.rounds} rounds")
    print(f"{'ledger':<34}{'wall s':>9}{'accepted':>10}{'final mean test':>17}{'ratio':>8}")
    for label, result, seconds in runs:
        print(f"{label:<34}{seconds:>9.1f}{result.summary['accepted']:>10}"
              f"{result.summary['final_mean_test_score']:>17.4f}{seconds / reference_s:>8.3f}")
    print(f"same outcomes every round: {same_outcomes}; same final model: {same_model}")
    print(f"wall-time ratio chain / reference: {ratio:.3f} (goal <= {GOAL})")
    print(json.dumps({"ratio": round(ratio, 4), "chain_s": round(chain_s, 2),
                      "reference_s": round(reference_s, 2), "same_outcomes": same_outcomes,
                      "same_final_model": same_model}))
    return 0 if same_outcomes and same_model else 1


if __name__ == "__main__":
    sys.exit(main())

"""What the chain and the store cost a whole experiment: the same run with and without them.

Runs one experiment in this process with the same seeds on the embedded chain (the contract on
revm in this process, every transaction signed and mined) with the directory store, and on the pure-Python
reference ledger with an in-memory store, replaying the proposers the contract drew. Both must accept
the same rounds and end with the same model; the figure is the wall-time ratio. With --anvil it also
runs on an anvil devnet (a native node in its own process) to show what the chain costs over HTTP,
against a second reference run that replays anvil's proposers (anvil draws others than the embedded
chain: its block hashes are not predictable).

    .venv/bin/python scripts/bench_overhead.py [EXPERIMENT.toml] [--rounds N] [--anvil] [--repeats R]

Default: examples/mnist.toml (5 learners, 20 rounds). Goal: ratio at most 1.10.

With --repeats R each ledger runs R times, interleaved (chain, reference, anvil, anvil's reference,
then reference, chain, anvil, anvil's reference, ...), and each figure is the median over the repeats, each
repeat's ratio taken against the reference run of the same repeat: on a shared machine the load
changes within minutes, not within one repeat. The CPU
seconds of each run (this process's threads plus the children it waited for, such as anvil) are
reported beside the wall time: on a machine shared with other work they move less than the wall time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from learnledger.agents.backend import select_backend
from learnledger.agents.experiment import DEFAULT_EXPERIMENT, Experiment

GOAL = 1.10
ANVIL_REFERENCE = "reference for anvil"
REFERENCE_OF = {"chain": "reference", "anvil": ANVIL_REFERENCE}
"""Each chain run's reference: the reference ledger replaying that run's proposers."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", nargs="?", type=Path, default=DEFAULT_EXPERIMENT)
    parser.add_argument("--rounds", type=int, default=None, help="override the experiment's rounds")
    parser.add_argument("--anvil", action="store_true", help="also run on an anvil devnet")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved repeats of every run (median)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, received: {args.repeats}")

    experiment = Experiment.load(args.experiment)
    if args.rounds:
        experiment = dataclasses.replace(experiment, rounds=args.rounds)
    select_backend(experiment.keras_backend)
    from learnledger.runs.embedded import run_experiment

    # Each chain run is set against a reference run that replays its proposers: the same rounds,
    # the same training, the same final model, so the ratio is what the chain and the store cost.
    runs_of = {"chain": "chain", "reference": "reference"}
    if args.anvil:
        runs_of.update({"anvil": "anvil", ANVIL_REFERENCE: "reference"})
    ledgers = list(runs_of)
    seconds: dict[str, list[float]] = {ledger: [] for ledger in ledgers}
    cpu: dict[str, list[float]] = {ledger: [] for ledger in ledgers}
    ratios: dict[str, list[float]] = {ledger: [] for ledger in REFERENCE_OF if ledger in ledgers}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        # One-round warm-ups pay once per process what no experiment pays twice: Keras builds its
        # compiled functions, and web3 and pyrevm are imported and fill their caches.
        for ledger in dict.fromkeys(runs_of.values()):
            run_experiment(dataclasses.replace(experiment, rounds=1), Path(tmp) / f"warmup-{ledger}", ledger=ledger)
        for repeat in range(args.repeats):
            # The order alternates, so that neither the embedded chain nor its reference always runs
            # second, in caches the other warmed; the reference may run first because the embedded
            # chain draws the same proposers every run (its block hashes follow from their numbers).
            # anvil draws others each run, so its reference can only follow it: if anything, that
            # flatters the reference, and the anvil ratio errs high.
            order = ledgers if repeat % 2 == 0 else ["reference", "chain", *ledgers[2:]]
            for ledger in order:
                replayed = next((chain for chain, ref in REFERENCE_OF.items() if ref == ledger), None)
                proposers = [row["proposer"] for row in results[replayed].rounds] if replayed else None
                started, cpu_started = time.perf_counter(), _cpu_seconds()
                results[ledger] = run_experiment(experiment, Path(tmp) / f"{ledger}-{repeat}",
                                                 ledger=runs_of[ledger], proposers=proposers)
                seconds[ledger].append(time.perf_counter() - started)
                cpu[ledger].append(_cpu_seconds() - cpu_started)
            for ledger in ratios:
                ratios[ledger].append(seconds[ledger][-1] / seconds[REFERENCE_OF[ledger]][-1])
            print(f"repeat {repeat + 1}/{args.repeats}: " + ", ".join(
                f"{ledger} {seconds[ledger][-1]:.1f} s ({cpu[ledger][-1]:.1f} s CPU)" for ledger in ledgers)
                + f", load average {os.getloadavg()[0]:.2f}", flush=True)
    labels = {"reference": "reference (no chain, memory store)", "chain": "embedded chain + directory store",
              "anvil": "anvil devnet + directory store", ANVIL_REFERENCE: "reference, anvil's proposers"}
    runs = [(labels[ledger], results[ledger], statistics.median(seconds[ledger]),
             statistics.median(ratios[ledger]) if ledger in ratios else 1.0)
            for ledger in ["reference", "chain"] + (["anvil", ANVIL_REFERENCE] if args.anvil else [])]
    chain_s, reference_s = statistics.median(seconds["chain"]), statistics.median(seconds["reference"])

    def same(chain: str) -> tuple[bool, bool]:
        """Whether ``chain``'s last run and its reference's decided every round alike and ended alike."""
        ran, replayed = results[chain], results[REFERENCE_OF[chain]]
        return ([r["outcome"] for r in ran.rounds] == [r["outcome"] for r in replayed.rounds],
                ran.summary["final_model_digest"] == replayed.summary["final_model_digest"])

    same_outcomes, same_model = (all(pair) for pair in zip(*(same(chain) for chain in ratios)))
    ratio = statistics.median(ratios["chain"])
    print(f"experiment {experiment.name}: {len(experiment.learners)} learners, {experiment.rounds} rounds, "
          f"{args.repeats} interleaved repeat(s), load average {os.getloadavg()[0]:.2f}")
    print(f"{'ledger':<34}{'wall s':>9}{'accepted':>10}{'final mean test':>17}{'ratio':>8}")
    for label, result, wall_s, median_ratio in runs:
        print(f"{label:<34}{wall_s:>9.1f}{result.summary['accepted']:>10}"
              f"{result.summary['final_mean_test_score']:>17.4f}{median_ratio:>8.3f}")
    print(f"each chain run and its reference: same outcomes every round: {same_outcomes}; "
          f"same final model: {same_model}")
    print(f"wall-time ratio chain / reference: {ratio:.3f} (goal <= {GOAL})")
    figures = {"ratio": round(ratio, 4), "chain_s": round(chain_s, 2), "reference_s": round(reference_s, 2),
               "ratios": [round(r, 4) for r in ratios["chain"]], "same_outcomes": same_outcomes,
               "same_final_model": same_model}
    cpu_ratios = {ledger: statistics.median(c / r for c, r in zip(cpu[ledger], cpu[REFERENCE_OF[ledger]]))
                  for ledger in ratios}
    print("CPU-time ratios against the reference (medians): "
          + ", ".join(f"{ledger} {value:.3f}" for ledger, value in cpu_ratios.items()))
    figures["cpu_ratio"] = round(cpu_ratios["chain"], 4)
    if args.anvil:
        figures["anvil_cpu_ratio"] = round(cpu_ratios["anvil"], 4)
        figures["anvil_ratio"] = round(statistics.median(ratios["anvil"]), 4)
        figures["anvil_ratios"] = [round(r, 4) for r in ratios["anvil"]]
    print(json.dumps(figures))
    return 0 if same_outcomes and same_model else 1


def _cpu_seconds() -> float:
    """CPU seconds of this process (all threads) and of the children it has waited for (anvil)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


if __name__ == "__main__":
    sys.exit(main())

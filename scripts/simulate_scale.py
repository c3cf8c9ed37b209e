"""Committees against every-member voting: real MNIST learners, then calibrated ones at 1,000 labs.

1. Real learners (``learnledger.scale.population``: numpy MLPs on the bundled MNIST digits, one
   shared loader) play every scenario (honest; bad-data labs at 10/20/33%; a colluding coalition at
   10/20/33%) under every-member voting, and the honest, 20% bad-data and 20% coalition scenarios
   under committees of each k as well.
2. The statistical learner is calibrated on the real votes (probit fit of the vote noise; the true
   changes real proposals made), and checked: the committee flip chances it predicts for the real
   proposals against those the real votes give.
3. Calibrated learners play the same at ``--stat-labs`` labs.
4. For each population: the exact chance that a committee of k decides otherwise than every member
   (hypergeometric, over every proposal of the every-member runs), and the smallest k below 1%.

    .venv/bin/python scripts/simulate_scale.py                   # default (one seed): about 10 min on 2 shared cores
    .venv/bin/python scripts/simulate_scale.py --quick           # a smoke run (under a minute)
    .venv/bin/python scripts/simulate_scale.py --seeds 0,1,2   # the figures of docs/scale.md
    .venv/bin/python scripts/simulate_scale.py --labs 300 --rounds 400 --stat-labs 1000,10000
    .venv/bin/python scripts/simulate_scale.py --calibration runs/scale/simulation.json --stat-labs 10000

Prints markdown tables; writes every figure to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from learnledger.scale.population import DigitPopulation
from learnledger.scale.simulate import (
    BAD,
    COLLUDER,
    HONEST,
    Population,
    RoundRow,
    Scenario,
    Trajectory,
    harmful_accept,
    mean_flip,
    run_trajectory,
    smallest_committee,
)
from learnledger.scale.statistical import (
    ProposalBank,
    ProposalRecord,
    StatisticalPopulation,
    VoteNoise,
    fit_vote_noise,
)

SCENARIOS = (
    Scenario("honest"),
    Scenario("bad 10%", bad_fraction=0.10),
    Scenario("bad 20%", bad_fraction=0.20),
    Scenario("bad 33%", bad_fraction=0.33),
    Scenario("collude 10%", colluder_fraction=0.10),
    Scenario("collude 20%", colluder_fraction=0.20),
    Scenario("collude 33%", colluder_fraction=0.33),
)
COMMITTEE_SCENARIOS = ("honest", "bad 20%", "collude 20%")
BOUND = 0.01


def play(population: Population, rounds: int, ks: Sequence[int], seed: int, label: str,
         scenarios: Sequence[Scenario] = SCENARIOS) -> list[Trajectory]:
    """Each scenario under every-member voting; the committee scenarios under each k too."""
    runs = []
    for scenario in scenarios:
        designs: list[int | None] = [None] + (list(ks) if scenario.name in COMMITTEE_SCENARIOS else [])
        for k in designs:
            started = time.perf_counter()
            runs.append(run_trajectory(population, scenario, k, rounds, seed=seed))
            print(f"  {label}: {scenario.name:<12} {'every member' if k is None else f'k={k}':<12} "
                  f"{time.perf_counter() - started:6.1f} s", file=sys.stderr, flush=True)
    return runs


def trajectory_table(runs: Sequence[Trajectory], targets: Sequence[float]) -> str:
    """One line per (scenario, design), over the seeds: means, medians of the rounds reached, totals."""
    groups: dict[tuple[str, int | None], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run.scenario, run.k), []).append(run.summary(targets))
    seeds = max(len(g) for g in groups.values())
    heads = ["scenario", "design", "final acc" + (f" (mean of {seeds})" if seeds > 1 else ""), "best acc",
             *[f"rounds to {t:.2f}" + (" (median; reached)" if seeds > 1 else "") for t in targets],
             "accepted", "spoiled accepted", "vs every member: accepts it rejects", "rejects it accepts"]
    lines = ["| " + " | ".join(heads) + " |", "|---|---|" + "---:|" * (len(heads) - 2)]
    for (scenario, k), group in groups.items():
        reach = []
        for t in targets:
            reached = [g[f"rounds_to_{t:.2f}"] for g in group if g[f"rounds_to_{t:.2f}"] is not None]
            text = f"{np.median(reached):.0f}" if reached else "not reached"
            reach.append(text + (f"; {len(reached)}/{len(group)}" if seeds > 1 else ""))
        mean = lambda key: float(np.mean([g[key] for g in group]))  # noqa: E731
        total = lambda key: sum(g[key] for g in group)  # noqa: E731
        cells = [scenario, "every member" if k is None else f"k = {k}", f"{mean('final_accuracy'):.3f}",
                 f"{mean('best_accuracy'):.3f}", *reach, f"{mean('accepted'):.1f}", str(total("spoiled_accepted")),
                 str(total("false_accepts")), str(total("false_rejects"))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def flip_figures(runs: Sequence[Trajectory], ks: Sequence[int]) -> dict[str, dict[str, Any]]:
    """Per scenario (every-member runs): mean flip chance per k, by proposer, and the smallest k < 1%."""
    pooled: dict[str, list[RoundRow]] = {}
    for run in runs:
        if run.k is None:
            pooled.setdefault(run.scenario, []).extend(run.rows)
    figures = {}
    for scenario, rows in pooled.items():
        figures[scenario] = {
            "proposals": len(rows),
            "all": {k: mean_flip(rows, k) for k in ks},
            "coalition": {k: mean_flip(rows, k, COLLUDER) for k in ks},
            "bad data": {k: mean_flip(rows, k, BAD) for k in ks},
            "honest": {k: mean_flip(rows, k, HONEST) for k in ks},
            "smallest k (all)": smallest_committee(rows, BOUND),
            "smallest k (coalition proposals)": smallest_committee(rows, BOUND, COLLUDER),
            "smallest k (honest proposals)": smallest_committee(rows, BOUND, HONEST),
            "harmful": {k: harmful_accept(rows, k) for k in ks},
            "smallest k (harmful accepts)": smallest_committee(rows, BOUND, harmful=True),
            "contested share": float(np.mean([0.35 <= r.full_approvals / r.eligible <= 0.65 for r in rows])),
        }
    return figures


def flip_table(figures: dict[str, dict[str, Any]], ks: Sequence[int]) -> str:
    heads = ["scenario", "proposals", *[f"k = {k}" for k in ks], "coalition proposals, k = " + "/".join(map(str, ks)),
             "smallest k < 1% (all)", "(coalition proposals)", "(honest proposals)", "contested (35-65% yes)",
             "harmful accepts, k = " + "/".join(map(str, ks)), "smallest k < 1% (harmful)"]
    lines = ["| " + " | ".join(heads) + " |", "|---|" + "---:|" * (len(heads) - 1)]

    def pct(value: float) -> str:
        return "-" if value != value else f"{100 * value:.2f}%"

    for name, f in figures.items():
        cells = [name, str(f["proposals"]), *[pct(f["all"][k]) for k in ks],
                 " / ".join(pct(f["coalition"][k]) for k in ks),
                 str(f["smallest k (all)"]), str(f["smallest k (coalition proposals)"]),
                 str(f["smallest k (honest proposals)"]), f"{100 * f['contested share']:.0f}%",
                 " / ".join(pct(f["harmful"][k]) for k in ks), str(f["smallest k (harmful accepts)"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def calibrate(runs: Sequence[Trajectory]) -> tuple[VoteNoise, ProposalBank, list[ProposalRecord]]:
    """Fit the vote noise to the honest labs' votes and bank the true changes of real proposals."""
    deltas, votes, records = [], [], []
    for run in runs:
        if run.k is not None:
            continue
        for row in run.rows:
            delta = row.candidate_accuracy - row.accuracy_before
            yes = round(row.honest_approval * row.honest_voters)
            deltas.append(np.full(row.honest_voters, delta))
            votes.append(np.arange(row.honest_voters) < yes)
            records.append(ProposalRecord(row.accuracy_before, delta, row.proposer_role != HONEST))
    noise = fit_vote_noise(np.concatenate(deltas), np.concatenate(votes))
    return noise, ProposalBank(records), records


def calibration_check(runs: Sequence[Trajectory], noise: VoteNoise, ks: Sequence[int], seed: int) -> dict[str, Any]:
    """Real votes against the statistical learner's, on the same real proposals."""
    rng = np.random.default_rng(seed)
    real_rows, stat_rows, errors = [], [], []
    for run in runs:
        if run.k is not None:
            continue
        for row in run.rows:
            p = float(noise.approval_probability(row.candidate_accuracy - row.accuracy_before))
            errors.append(abs(p - row.honest_approval))
            honest_yes = round(row.honest_approval * row.honest_voters)
            coalition_yes = row.full_approvals - honest_yes  # the coalition's votes, as cast
            stat_yes = int(rng.binomial(row.honest_voters, p))
            real_rows.append(row)
            stat_rows.append(dataclasses.replace(row, honest_approval=p, full_approvals=stat_yes + coalition_yes))
    return {
        "sigma": noise.sigma,
        "tau": noise.tau,
        "mean_abs_approval_error": float(np.mean(errors)),
        "flip_real": {k: mean_flip(real_rows, k) for k in ks},
        "flip_statistical": {k: mean_flip(stat_rows, k) for k in ks},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labs", type=int, default=100, help="real learners (default 100)")
    parser.add_argument("--rounds", type=int, default=150, help="rounds per real run (default 150)")
    parser.add_argument("--stat-labs", default="1000", help="statistical roster sizes, comma-separated (default 1000)")
    parser.add_argument("--stat-rounds", type=int, default=300, help="rounds per statistical run (default 300)")
    parser.add_argument("--ks", default="5,9,15,31", help="committee sizes (default 5,9,15,31)")
    parser.add_argument("--targets", default="0.80,0.85", help="accuracies to count rounds to (default 0.80,0.85)")
    parser.add_argument("--real-scenarios", default="all",
                        help="scenarios the real learners play, comma-separated names (default all; "
                             "the calibrated learners always play all)")
    parser.add_argument("--seeds", default="0", help="seeds, comma-separated; figures pool them (default 0)")
    parser.add_argument("--calibration", type=Path, default=None,
                        help="a JSON this script wrote: reuse its calibration and skip the real learners")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 40 labs, 40 rounds, 200 calibrated labs")
    parser.add_argument("--out", type=Path, default=Path("runs/scale/simulation.json"))
    args = parser.parse_args()
    if args.quick:
        args.labs, args.rounds, args.stat_labs, args.stat_rounds = 40, 40, "200", 60
    try:
        ks = [int(k) for k in args.ks.split(",")]
        targets = [float(t) for t in args.targets.split(",")]
        stat_labs = [int(n) for n in args.stat_labs.split(",") if n]
        seeds = [int(seed) for seed in args.seeds.split(",")]
    except ValueError as error:
        parser.error(f"--ks, --targets, --stat-labs and --seeds take comma-separated numbers: {error}")
    names = {s.name: s for s in SCENARIOS}
    wanted = list(names) if args.real_scenarios == "all" else [n.strip() for n in args.real_scenarios.split(",")]
    unknown = [n for n in wanted if n not in names]
    if unknown:
        parser.error(f"--real-scenarios: unknown {', '.join(unknown)}; choose from {', '.join(names)}")
    real_scenarios = [names[n] for n in wanted]
    if all(s.bad_fraction == 0 and s.colluder_fraction == 0 for s in real_scenarios):
        parser.error("--real-scenarios: include one with bad-data labs or colluders (the calibration needs "
                     "spoiled proposals), e.g. 'honest,collude 20%'")
    started = time.perf_counter()

    if args.calibration is not None:
        return calibrated_only(args, ks, targets, stat_labs, seeds)
    real_runs: list[Trajectory] = []
    for seed in seeds:
        print(f"real learners: {args.labs} labs, {args.rounds} rounds, seed {seed}", file=sys.stderr)
        real_runs += play(DigitPopulation(args.labs, seed=seed), args.rounds, ks, seed, f"{args.labs} real",
                          real_scenarios)
    noise, bank, records = calibrate(real_runs)
    check = calibration_check(real_runs, noise, ks, seeds[0])
    results: dict[str, Any] = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "real": {"labs": args.labs, "summaries": [r.summary(targets) for r in real_runs],
                 "flips": flip_figures(real_runs, ks)},
        "calibration": {**check, "records": [[r.accuracy, r.delta, r.spoiled] for r in records]},
        "statistical": {},
    }
    print(f"\n## {args.labs} real learners (numpy MLP on MNIST), {args.rounds} rounds, seeds {args.seeds}\n")
    print(trajectory_table(real_runs, targets))
    print(f"\nExact chance a committee decides otherwise than every member ({args.labs} real labs):\n")
    print(flip_table(results["real"]["flips"], ks))
    print(f"\nCalibration: sigma {noise.sigma:.4f}, tau {noise.tau:.4f}, mean |approval fraction error| "
          f"{check['mean_abs_approval_error']:.3f}; flip chance on the real proposals, real votes vs "
          "statistical: " + ", ".join(f"k={k} {100 * check['flip_real'][k]:.2f}% vs {100 * check['flip_statistical'][k]:.2f}%" for k in ks))

    initial_accuracy = float(np.mean([run.accuracy[0] for run in real_runs]))
    results["calibration"]["initial_accuracy"] = initial_accuracy
    play_calibrated(results, noise, bank, initial_accuracy, args, ks, targets, stat_labs, seeds)
    write(results, args.out, started)
    return 0


def play_calibrated(results: dict[str, Any], noise: VoteNoise, bank: ProposalBank, initial_accuracy: float,
                    args: argparse.Namespace, ks: Sequence[int], targets: Sequence[float],
                    stat_labs: Sequence[int], seeds: Sequence[int]) -> None:
    """Every scenario with calibrated learners at each roster size; tables printed, figures kept."""
    for labs in stat_labs:
        runs: list[Trajectory] = []
        for seed in seeds:
            stat = StatisticalPopulation(labs, noise, bank, initial_accuracy=initial_accuracy, seed=seed)
            runs += play(stat, args.stat_rounds, ks, seed, f"{labs} calibrated")
        flips = flip_figures(runs, ks)
        results["statistical"][str(labs)] = {"summaries": [r.summary(targets) for r in runs], "flips": flips}
        print(f"\n## {labs} calibrated statistical learners, {args.stat_rounds} rounds, seeds {args.seeds}\n")
        print(trajectory_table(runs, targets))
        print(f"\nExact chance a committee decides otherwise than every member ({labs} calibrated labs):\n")
        print(flip_table(flips, ks))


def calibrated_only(args: argparse.Namespace, ks: Sequence[int], targets: Sequence[float],
                    stat_labs: Sequence[int], seeds: Sequence[int]) -> int:
    """The calibrated learners alone, from the calibration an earlier run wrote."""
    started = time.perf_counter()
    try:
        saved = json.loads(args.calibration.read_text())["calibration"]
        noise = VoteNoise(sigma=float(saved["sigma"]), tau=float(saved["tau"]))
        bank = ProposalBank([ProposalRecord(float(a), float(d), bool(s)) for a, d, s in saved["records"]])
        initial_accuracy = float(saved["initial_accuracy"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"--calibration {args.calibration}: not a calibration this script wrote ({error}); "
              "run it once without --calibration", file=sys.stderr)
        return 2
    print(f"calibration from {args.calibration}: sigma {noise.sigma:.4f}, tau {noise.tau:.4f}")
    results: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}, "statistical": {}}
    play_calibrated(results, noise, bank, initial_accuracy, args, ks, targets, stat_labs, seeds)
    write(results, args.out, started)
    return 0


def write(results: dict[str, Any], out: Path, started: float) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str))
    print(f"\nwrote {out} in {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

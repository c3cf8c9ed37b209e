"""Load: 64 learners with a tiny model for 10 rounds on anvil, every round finalized, none lost.

Runs the same experiment twice on fresh anvil devnets, each with its own store server on loopback:
first with 3 learners, one worker process each (the baseline of the throughput ratio and of the
memory per agent), then with 64 learners spread over --workers processes (default 8, so 8 agents
per process; --workers 64 gives each agent its own process, as in production, on a machine with the
memory for it). Every agent has its own devnet key, ledger handle, store client and Keras model
(an MLP on 78 MNIST digits, one epoch per proposal).

It reports rounds per minute (from "go", once every agent is built and round 1 is open, to the
last round final), the transactions the agents sent against those the chain records, the votes
missing from any round, and each worker's peak memory: per agent, and the marginal cost of an
agent (a worker with k agents against a worker with one, measured in the same run).

    nice .venv/bin/python scripts/bench_load.py [--learners 64] [--rounds 10] [--workers 8] [--json FILE]
        [--block-time 2]

With --block-time anvil mines a block every that many seconds, as a real chain does, and each
round's chain latency in blocks (from the block that opened it to the one that finalized it; at
least 2) is reported too.

Exit status 1 if a round is not finalized or a transaction is lost (the reason is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from learnledger.runs.crowd import CrowdError, CrowdRun, crowd_experiment_toml, run_crowd
from learnledger.runs.rss import peak_rss_kib

MIB = 1024.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=64, help="learners of the load run (default 64)")
    parser.add_argument("--rounds", type=int, default=10, help="rounds of each run (default 10)")
    parser.add_argument("--workers", type=int, default=8,
                        help="worker processes sharing the load run's agents (default 8)")
    parser.add_argument("--baseline-learners", type=int, default=3,
                        help="learners of the baseline run, one process each (default 3)")
    parser.add_argument("--examples", type=int, default=78,
                        help="MNIST digits per learner (default 78: 64 x 78 fit the 5,000 bundled)")
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between looks at the chain")
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                        help="do not train each agent once before the start (peaks then depend on the draw)")
    parser.add_argument("--block-time", type=float, default=None,
                        help="seconds between anvil's blocks (default: each transaction mined at once)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up on a run after this many seconds")
    parser.add_argument("--out", type=Path, default=None, help="keep run folders here (default: a temporary one)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here as JSON")
    args = parser.parse_args()
    for name in ("learners", "rounds", "workers", "baseline_learners"):
        if getattr(args, name) < (2 if "learners" in name else 1):
            parser.error(f"--{name.replace('_', '-')} is too small: {getattr(args, name)}")
    if args.workers > args.learners:
        parser.error(f"--workers {args.workers} exceeds --learners {args.learners}: a worker needs an agent")
    if args.learners * args.examples > 5000 or args.baseline_learners * args.examples > 5000:
        parser.error(f"{max(args.learners, args.baseline_learners)} learners x {args.examples} digits "
                     "exceed the 5,000 bundled MNIST digits; lower --examples")

    # `kill` (SIGTERM) stops the runs as Ctrl-C does: workers, anvil and the store server with them
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_load-"))
    started = time.perf_counter()
    try:
        baseline = _run(out / "baseline", args.baseline_learners, args.baseline_learners, args)
        load = _run(out / "load", args.learners, args.workers, args)
    except CrowdError as error:
        print(f"FAILED: {error}\nrun folders kept in {out}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted: workers, anvil and the store server are stopped; run folders in {out}",
              file=sys.stderr)
        return 130

    report = _report(baseline, load, time.perf_counter() - started)
    _print(report, baseline, load)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
        print(f"figures written to {args.json}")
    if report["failures"]:
        print("FAILED:\n  " + "\n  ".join(report["failures"]) + f"\nrun folders kept in {out}", file=sys.stderr)
        return 1
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)
    return 0


def _run(folder: Path, learners: int, workers: int, args: argparse.Namespace) -> CrowdRun:
    folder.mkdir(parents=True, exist_ok=True)
    experiment = folder / "crowd.toml"
    experiment.write_text(crowd_experiment_toml(learners, args.rounds, args.examples, name=f"crowd{learners}"))
    print(f"== {learners} learners in {workers} worker process(es), {args.rounds} rounds", flush=True)
    began = time.perf_counter()
    last = [0.0]

    def on_round(record, seconds: float) -> None:
        print(f"  round {record.round:>3}/{args.rounds}  {record.state.name.lower():<9} "
              f"approvals {record.approvals:>3}  rejections {record.rejections:>3}  votes {len(record.votes):>3}"
              f"  final at {seconds:7.1f} s (+{seconds - last[0]:.1f} s)", flush=True)
        last[0] = seconds

    return run_crowd(experiment, folder / "run", workers, poll_s=args.poll, warm_up=args.warm_up,
                     timeout_s=args.timeout, on_round=on_round, block_time=args.block_time,
                     on_setup=lambda line: print(f"  [{time.perf_counter() - began:6.1f} s] {line}", flush=True))


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def _memory(baseline: CrowdRun, load: CrowdRun) -> dict[str, object]:
    """Peak per agent, and the marginal cost of an agent: k-agent workers against 1-agent ones."""
    one = [w for w in baseline.workers if w.agents == 1]
    sizes = [w.agents for w in load.workers]
    k = max(set(sizes), key=sizes.count)  # the usual worker size (sizes differ by at most one)
    many = [w for w in load.workers if w.agents == k]
    peak_1, peak_k = _mean([w.peak_rss_kib for w in one]), _mean([w.peak_rss_kib for w in many])
    ready_1 = _mean([w.ready_rss_kib or 0 for w in one])
    ready_k = _mean([w.ready_rss_kib or 0 for w in many])
    marginal = (peak_k - peak_1) / (k - 1) if k > 1 else None
    marginal_ready = (ready_k - ready_1) / (k - 1) if k > 1 else None
    return {
        "agents_per_worker": k,
        "process_without_agents_kib": round(_mean([w.base_rss_kib or 0 for w in load.workers + one])),
        "worker_peak_1_agent_kib": round(peak_1),
        "worker_peak_k_agents_kib": round(peak_k),
        "worker_peak_max_kib": max(w.peak_rss_kib for w in load.workers),
        "peak_per_agent_kib": round(_mean([w.peak_per_agent_kib for w in load.workers]), 1),
        "marginal_per_agent_kib": None if marginal is None else round(marginal, 1),
        "marginal_per_agent_ready_kib": None if marginal_ready is None else round(marginal_ready, 1),
        "anvil_peak_kib": {"baseline": baseline.anvil_peak_rss_kib, "load": load.anvil_peak_rss_kib},
        "bench_process_peak_kib": peak_rss_kib(),
    }


def _report(baseline: CrowdRun, load: CrowdRun, wall_s: float) -> dict[str, object]:
    failures = [f"baseline: {line}" for line in baseline.tally.failures()]
    failures += [f"load: {line}" for line in load.tally.failures()]
    ratio = load.rounds_per_minute / baseline.rounds_per_minute if baseline.rounds_per_minute else None
    return {
        "baseline": baseline.as_dict(),
        "load": load.as_dict(),
        "throughput_ratio_load_over_baseline": None if ratio is None else round(ratio, 3),
        "memory": _memory(baseline, load),
        "bench_wall_s": round(wall_s, 1),
        "failures": failures,
    }


def _mib(kib: float | int | None) -> str:
    return "n/a" if kib is None else f"{kib / MIB:.1f} MiB"


def _print(report: dict, baseline: CrowdRun, load: CrowdRun) -> None:
    print()
    print(f"{'':<28}{'baseline':>14}{'load':>14}")
    rows = [
        ("learners / workers", f"{baseline.learners} / {len(baseline.workers)}", f"{load.learners} / {len(load.workers)}"),
        ("set-up (to every agent ready)", f"{baseline.setup_s:.0f} s", f"{load.setup_s:.0f} s"),
        ("rounds final", f"{baseline.tally.final_rounds}/{baseline.rounds}", f"{load.tally.final_rounds}/{load.rounds}"),
        ("rounds per minute", f"{baseline.rounds_per_minute:.2f}", f"{load.rounds_per_minute:.2f}"),
        ("seconds per round", f"{baseline.seconds_per_round:.1f}", f"{load.seconds_per_round:.1f}"),
    ]
    for label, left, right in rows:
        print(f"{label:<28}{left:>14}{right:>14}")
    ratio = report["throughput_ratio_load_over_baseline"]
    print(f"throughput ratio (rounds/min at {load.learners} / at {baseline.learners}): {ratio}")
    block_time = load.extra.get("block_time_s")
    for name, run in (("baseline", baseline), ("load", load)):
        blocks = run.extra.get("blocks_per_round") or []
        if blocks:
            print(f"{name}: blocks per round (opened to final) median {statistics.median(blocks):g}, "
                  f"range {min(blocks)}-{max(blocks)}"
                  + (f" at {block_time:g} s blocks" if block_time else " (a block per transaction)"))
    for name, run in (("baseline", baseline), ("load", load)):
        tally = run.tally
        outcomes = ", ".join(f"{count} {state}" for state, count in sorted(tally.outcomes().items()))
        sent, recorded = tally.totals("sent"), tally.totals("recorded")
        print(f"{name}: rounds {outcomes}")
        print(f"  transactions sent by agents   {_kinds(sent)}")
        print(f"  recorded on the chain         {_kinds(recorded)}")
        print(f"  mined from member accounts: {sum(tally.mined.values())} (reverted on chain: {tally.reverted}); "
              f"lost: {'none' if not tally.lost() else tally.lost()}")
        missing = tally.missing_votes
        print(f"  votes missing: {'none' if not missing else missing}")
    memory = report["memory"]
    k = memory["agents_per_worker"]
    print("memory (peak resident set, per process):")
    lines = [
        ("worker with no agent yet (Keras + web3 loaded)", _mib(memory["process_without_agents_kib"])),
        ("worker with 1 agent (baseline run)", _mib(memory["worker_peak_1_agent_kib"])),
        (f"worker with {k} agents (load run)",
         f"{_mib(memory['worker_peak_k_agents_kib'])}  (largest {_mib(memory['worker_peak_max_kib'])})"),
        (f"peak per agent (worker peak / {k})", _mib(memory["peak_per_agent_kib"])),
        (f"marginal per agent ((peak_{k} - peak_1) / {k - 1})",
         f"{_mib(memory['marginal_per_agent_kib'])}  (same at ready: {_mib(memory['marginal_per_agent_ready_kib'])})"),
    ]
    for label, value in lines:
        print(f"  {label:<50}{value}")
    anvil = memory["anvil_peak_kib"]
    print(f"  anvil (native node + its npm launcher): {_mib(anvil['baseline'])} with {baseline.learners} members, "
          f"{_mib(anvil['load'])} with {load.learners}")
    print(f"  this process (store server, observer, deployment): {_mib(memory['bench_process_peak_kib'])}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print(json.dumps({"rounds_per_minute": load.rounds_per_minute, "ratio": ratio,
                      "baseline_rounds_per_minute": baseline.rounds_per_minute,
                      "blocks_per_round_median": statistics.median(load.extra["blocks_per_round"])
                      if load.extra.get("blocks_per_round") else None,
                      "peak_per_agent_mib": memory["peak_per_agent_kib"] / MIB,
                      "ok": not report["failures"]}))


def _kinds(counts: dict[str, int]) -> str:
    return "  ".join(f"{kind} {counts[kind]:>4}" for kind in ("proposed", "voted", "finalized"))


if __name__ == "__main__":
    sys.exit(main())

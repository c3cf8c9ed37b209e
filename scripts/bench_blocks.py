"""Chain latency per round on a geth Clique consortium with real block times, in blocks and seconds.

Runs an experiment with `launch --consortium` (one geth node per group, each agent on its own node,
reacting to new blocks), then reads every round's blocks from the chain and each agent's timings
from its log. Per round:

- blocks: from the block that opened the round to the block that finalized it (the last vote);
- proposal->final: blocks from the proposal's block to the finalizing block (goal: every vote in
  the next block, so 1 when scoring takes under a block);
- chain blocks: the round's seconds on the chain minus the proposer's training and the slowest
  voter's scoring (each measured by the agent itself), in block periods: what the chain adds to
  the learning. The issue's goal is <= 3 blocks.

    .venv/bin/python scripts/bench_blocks.py                       # 5 groups on MNIST, 2 s blocks
    .venv/bin/python scripts/bench_blocks.py --rounds 4 --period 2 --experiment examples/mnist.toml
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
from pathlib import Path

from learnledger.agents.experiment import Experiment
from learnledger.report.rounds import read_jsonl
from learnledger.runs.consortium_launch import launch_on_consortium

ROOT = Path(__file__).resolve().parents[1]


def with_rounds(path: Path, rounds: int, folder: Path) -> Path:
    text = re.sub(r"(?m)^rounds = \d+", f"rounds = {rounds}", path.read_text())
    copy = folder / path.name
    copy.write_text(text)
    return copy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", type=Path, default=ROOT / "examples" / "mnist.toml")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--period", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-blocks-"))
    experiment = Experiment.load(with_rounds(args.experiment, args.rounds, work))
    out = args.out or work / "run"
    timelines = []
    result = launch_on_consortium(experiment, out, period=args.period, timeout_s=3600,
                                  on_setup=lambda line: print(line, file=sys.stderr),
                                  before_stop=lambda observer: timelines.extend(_timelines(observer)))
    logs = {g: list(read_jsonl(out / "agents" / f"{g}.jsonl")) for g in experiment.groups}
    rows = []
    for timeline in timelines:
        if timeline.opened is None or timeline.finalized is None or timeline.proposed is None:
            continue  # a skipped round (no proposal): nothing to learn from
        entries = [e for lines in logs.values() for e in lines if e.get("round") == timeline.round]
        train = sum(e["timings"].get("train", 0) + e["timings"].get("store", 0)
                    for e in entries if e.get("role") == "proposer")
        score = max((e["timings"].get("score", 0) + e["timings"].get("store", 0)
                     for e in entries if e.get("role") == "voter"), default=0.0)
        seconds = timeline.finalized[1] - timeline.opened[1]
        rows.append({
            "round": timeline.round,
            "blocks": timeline.finalized[0] - timeline.opened[0],
            "seconds": seconds,
            "proposal_to_final_blocks": timeline.finalized[0] - timeline.proposed[0],
            "vote_blocks": sorted({b - timeline.proposed[0] for b, _ in timeline.votes}),
            "train_s": round(train, 2), "score_s": round(score, 2),
            "chain_blocks": round(max(0.0, seconds - train - score) / args.period, 2),
        })
    print(f"{'round':>5} {'blocks':>6} {'seconds':>7} {'prop->final':>11} {'votes at +':>12} "
          f"{'train s':>7} {'score s':>7} {'chain blocks':>12}")
    for r in rows:
        print(f"{r['round']:>5} {r['blocks']:>6} {r['seconds']:>7} {r['proposal_to_final_blocks']:>11} "
              f"{','.join(map(str, r['vote_blocks'])):>12} {r['train_s']:>7} {r['score_s']:>7} {r['chain_blocks']:>12}")
    warm = [r for r in rows if r["round"] > 1]  # round 1 also waits for the agents to start (Keras, data)
    if warm:
        chain = [r["chain_blocks"] for r in warm]
        print(f"chain blocks per round: median {statistics.median(chain):.2f}, min {min(chain):.2f}, "
              f"max {max(chain):.2f}; goal <= 3 -> ratio {statistics.median(chain) / 3:.2f}")
        print(f"(rounds 2..{warm[-1]['round']}; round 1 includes the agents' start-up)")
        print(f"blocks per round: median {statistics.median(r['blocks'] for r in warm)}, seconds per round: "
              f"median {statistics.median(r['seconds'] for r in warm)} at {args.period} s blocks; "
              f"proposal->final blocks: {sorted(r['proposal_to_final_blocks'] for r in warm)}")
    (out / "bench_blocks.json").write_text(json.dumps(rows, indent=1) + "\n")
    print(f"summary: {json.dumps(result.summary, sort_keys=True)}")
    return 0


def _timelines(observer):  # type: ignore[no-untyped-def]
    from learnledger.ledger.timeline import round_timelines

    return round_timelines(observer)


if __name__ == "__main__":
    sys.exit(main())

"""The succession demonstration, full size, from the chain alone (docs/succession.md).

Three labs run 10 rounds; a fourth joins by a succession; one of the first three leaves by a
second; 10 more rounds each time: 30 rounds over three deployments. Writes, under --out (default
runs/succession-demo): history.png (Figure 2 across the line, the roster changes marked),
rounds.jsonl (every round, numbered continuously) and summary.json (the audit's verdict, the
hand-overs, the gas of each succession step). Exit status 1 if the audit of the line finds anything.

    .venv/bin/python scripts/demo_succession.py [--out DIR] [--rounds 10] [--per-learner 300]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from learnledger.runs.succession_demo import run_demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/succession-demo"))
    parser.add_argument("--rounds", type=int, default=10, help="rounds per experiment")
    parser.add_argument("--per-learner", type=int, default=300, help="MNIST examples per lab")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = run_demo(args.out, rounds=args.rounds, per_learner=args.per_learner, epochs=args.epochs,
                      say=lambda line: print(line, flush=True))
    summary = json.loads((args.out / "summary.json").read_text())
    print(json.dumps({key: summary[key] for key in ("ok", "rounds", "accepted", "experiments", "handovers",
                                                    "gas", "final_test_accuracy")}, indent=2))
    print(f"{time.perf_counter() - started:.0f} s; outputs in {args.out}")
    for finding in result.line.findings:
        print(f"finding: {finding}", file=sys.stderr)
    return 0 if result.line.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Simulator speed: events per second on one worker and on two, and the time for the paper's 12,000.

    python scripts/bench_lartpc.py [--events 1000] [--geometry microboone]

The baseline is one worker, measured in the same run; the two-worker figure is given as a ratio to it.
"""

from __future__ import annotations

import argparse
import time

from learnledger.data.lartpc import SimConfig, generate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--geometry", default="microboone")
    args = parser.parse_args()
    config = SimConfig.for_geometry(args.geometry)
    generate(50, seed=0, config=config, workers=1)  # warm the range tables and imports
    rates = {}
    for workers in (1, 2):
        started = time.perf_counter()
        generate(args.events, seed=1, config=config, workers=workers)
        rates[workers] = args.events / (time.perf_counter() - started)
    print(f"geometry {args.geometry}, {args.events} events")
    print(f"1 worker : {rates[1]:.0f} events/s (baseline)")
    print(f"2 workers: {rates[2]:.0f} events/s = {rates[2] / rates[1]:.2f} x baseline")
    print(f"12,000 events on 2 workers: {12000 / rates[2]:.0f} s (budget 300 s: {300 * rates[2] / 12000:.1f} x headroom)")


if __name__ == "__main__":
    main()

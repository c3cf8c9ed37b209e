"""Simulator speed: events per second on one worker and on two, and the time for the paper's 12,000.

    python scripts/bench_lartpc.py [--events 1000] [--geometry microboone]

The baseline is one worker, measured in the same run; the two-worker figure is given as a ratio to it.
On a shared machine wall time says more about the neighbours than about the simulator, so the one
worker (run in this process) is also timed in CPU seconds: two free cores make about twice its
CPU rate, the figure to hold against the budget (12,000 events in 5 minutes: 40 events/s).
"""

from __future__ import annotations

import argparse
import time

from learnledger.data.lartpc import SimConfig, generate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--geometry", default="microboone")
    parser.add_argument("--one-worker-only", action="store_true", help="skip the two-worker run")
    args = parser.parse_args()
    config = SimConfig.for_geometry(args.geometry)
    generate(50, seed=0, config=config, workers=1)  # warm the range tables and imports
    rates = {}
    wall, cpu = time.perf_counter(), time.process_time()
    generate(args.events, seed=1, config=config, workers=1)
    rates[1] = args.events / (time.perf_counter() - wall)
    cpu_rate = args.events / (time.process_time() - cpu)
    print(f"geometry {args.geometry}, {args.events} events")
    print(f"1 worker : {rates[1]:.0f} events/s wall (baseline), {cpu_rate:.0f} events per CPU second")
    print(f"two free cores: ~{2 * cpu_rate:.0f} events/s, 12,000 events in ~{12000 / (2 * cpu_rate):.0f} s "
          f"(budget 300 s: {300 * 2 * cpu_rate / 12000:.1f} x headroom)")
    if args.one_worker_only:
        return
    started = time.perf_counter()
    generate(args.events, seed=1, config=config, workers=2)
    rates[2] = args.events / (time.perf_counter() - started)
    print(f"2 workers: {rates[2]:.0f} events/s = {rates[2] / rates[1]:.2f} x baseline")
    print(f"12,000 events on 2 workers: {12000 / rates[2]:.0f} s (budget 300 s: {300 * rates[2] / 12000:.1f} x headroom)")


if __name__ == "__main__":
    main()

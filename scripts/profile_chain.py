"""Where a round's chain time goes: an experiment on the embedded chain (or anvil), timed per ledger
call and per JSON-RPC method, against the same rounds' total wall time.

Runs a one-round warm-up, then the experiment (default examples/mnist.toml, 10 rounds) on the
embedded chain, with timers around every ``ContractLedger`` call the agents and the driver make
(status, proposal, current_model, propose, vote, ...) and around every JSON-RPC request the node
answers (eth_call, eth_sendRawTransaction, ...). Prints both per round, and the share of the
rounds' wall time the ledger client took. The timers wrap the classes for this process only. With
--anvil the run is on an anvil devnet and the JSON-RPC timers are around the HTTP requests (a
batch is one entry, named by its methods), the node's answer and the trip included.

    .venv/bin/python scripts/profile_chain.py [EXPERIMENT.toml] [--rounds N] [--anvil] [--json FILE]
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import functools
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from learnledger.agents.backend import select_backend
from learnledger.agents.experiment import DEFAULT_EXPERIMENT, Experiment

LEDGER_CALLS = ("status", "current_round", "round_state", "proposer_of", "proposal", "current_model",
                "has_voted", "seconds_until_deadline", "history", "head", "members", "propose", "vote",
                "finalize")


class Timers:
    """Counts and seconds per name; ``outermost`` keeps a call inside another timed one out."""

    def __init__(self) -> None:
        self.calls: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])
        self._depth = 0

    def wrap(self, owner: type, name: str, label: str) -> None:
        original = getattr(owner, name)
        timers = self

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            timers._depth += 1
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                timers._depth -= 1
                if timers._depth == 0:
                    entry = timers.calls[label]
                    entry[0] += 1
                    entry[1] += time.perf_counter() - started

        setattr(owner, name, timed)

    def total(self) -> float:
        return sum(seconds for _, seconds in self.calls.values())

    def rows(self, rounds: int) -> list[dict[str, object]]:
        ordered = sorted(self.calls.items(), key=lambda item: -item[1][1])
        return [{"name": name, "calls_per_round": round(count / rounds, 1),
                 "ms_per_round": round(1000 * seconds / rounds, 1),
                 "ms_per_call": round(1000 * seconds / count, 2)} for name, (count, seconds) in ordered]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", nargs="?", type=Path, default=DEFAULT_EXPERIMENT)
    parser.add_argument("--rounds", type=int, default=10, help="rounds to time (default 10)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here as JSON")
    parser.add_argument("--anvil", action="store_true",
                        help="run on an anvil devnet and time the HTTP requests instead of the embedded node")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, received: {args.rounds}")
    experiment = dataclasses.replace(Experiment.load(args.experiment), rounds=args.rounds)
    select_backend(experiment.keras_backend)
    from learnledger.ledger.node import EmbeddedProvider
    from learnledger.ledger.transport import KeepAliveProvider
    from learnledger.ledger.client import ContractLedger
    from learnledger.runs.embedded import run_experiment

    ledger_timers, rpc_timers = Timers(), Timers()
    with tempfile.TemporaryDirectory() as tmp:
        ledger = "anvil" if args.anvil else "chain"
        run_experiment(dataclasses.replace(experiment, rounds=1), Path(tmp) / "warmup", ledger=ledger)
        for name in LEDGER_CALLS:
            ledger_timers.wrap(ContractLedger, name, name)
        provider: Any = KeepAliveProvider if args.anvil else EmbeddedProvider
        original = provider.make_request

        def make_request(self: Any, method: Any, params: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(self, method, params)
            finally:
                entry = rpc_timers.calls[str(method)]
                entry[0] += 1
                entry[1] += time.perf_counter() - started

        provider.make_request = make_request
        if args.anvil:  # one entry per batch, named by the methods in it
            original_batch = provider.make_batch_request

            def make_batch_request(self: Any, requests: Any) -> Any:
                started = time.perf_counter()
                try:
                    return original_batch(self, requests)
                finally:
                    entry = rpc_timers.calls["batch[" + "+".join(str(method) for method, _ in requests) + "]"]
                    entry[0] += 1
                    entry[1] += time.perf_counter() - started

            provider.make_batch_request = make_batch_request
        started = time.perf_counter()
        run_experiment(experiment, Path(tmp) / "run", ledger=ledger)
        wall_s = time.perf_counter() - started

    rounds = args.rounds
    client_s = ledger_timers.total()
    figures = {
        "rounds": rounds, "wall_s_per_round": round(wall_s / rounds, 3),
        "ledger_client_s_per_round": round(client_s / rounds, 3),
        "ledger_client_share": round(client_s / wall_s, 3),
        "node_s_per_round": round(rpc_timers.total() / rounds, 3),
        "ledger_calls": ledger_timers.rows(rounds), "rpc_methods": rpc_timers.rows(rounds),
        "load_average": round(os.getloadavg()[0], 2),
    }
    where = "an anvil devnet" if args.anvil else "the embedded chain"
    print(f"{experiment.name}: {rounds} rounds on {where}, load average {figures['load_average']}")
    print(f"wall time per round {figures['wall_s_per_round']:.3f} s, of which in the ledger client "
          f"{figures['ledger_client_s_per_round']:.3f} s ({100 * figures['ledger_client_share']:.0f}%), "
          f"in JSON-RPC requests {figures['node_s_per_round']:.3f} s")
    for title, rows in (("ledger call", figures["ledger_calls"]), ("JSON-RPC method", figures["rpc_methods"])):
        print(f"\n{title:<28}{'calls/round':>12}{'ms/round':>10}{'ms/call':>9}")
        for row in rows:
            print(f"{row['name']:<28}{row['calls_per_round']:>12}{row['ms_per_round']:>10}{row['ms_per_call']:>9}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

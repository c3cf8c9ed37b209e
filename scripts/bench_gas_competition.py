"""Gas of each model-competition action, on the embedded chain, for a few roster sizes.

For each size (entrants x evaluators, every entrant enters, every evaluator commits and reveals):
deployment, an entry (median of all), a commit, a reveal (both medians of all), and finalize,
which checks every entry's given median on-chain, for random scores and for the worst order of
the review (scores falling with the evaluator index). Ratios are against a plain transfer (21,000
gas), measured as the intrinsic cost every transaction pays. Prints a table.

    .venv/bin/python scripts/bench_gas_competition.py
    .venv/bin/python scripts/bench_gas_competition.py --sizes 4x3,16x8
"""

from __future__ import annotations

import argparse
import random
import statistics

from learnledger.competition.api import Phase
from learnledger.competition.commitment import commitment, new_salt
from learnledger.competition.sandbox import embedded_competition

START = 4_000_000_000
WINDOW = 10_000
CID_59 = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
TRANSFER = 21_000


def measure(entrants: int, evaluators: int, falling: bool = False) -> dict[str, int]:
    comp = embedded_competition(entrants, evaluators, entry_window=WINDOW, commit_window=WINDOW,
                                reveal_window=WINDOW, start_time=START)
    deploy_gas = int(comp.chain.w3.eth.get_transaction_receipt(comp.deployment.tx_hash)["gasUsed"])
    samples: dict[str, list[int]] = {"enter": [], "commit": [], "reveal": []}
    for n, entrant in enumerate(comp.entrants):
        client = comp.client(entrant)
        client.enter(bytes([n + 1]) * 32, CID_59, bytes([n + 101]) * 32, CID_59)
        samples["enter"].append(client.last_gas_used)
    deadlines = comp.client(comp.outsiders[0]).deadlines()
    comp.chain.advance_to(deadlines[0] + 1)
    draw = random.Random(1)
    rows = {}
    for evaluator in comp.evaluators:
        i = len(rows)
        scores = ([1_000_000 - 10_000 * i - j for j in range(entrants)] if falling
                  else [draw.randint(0, 1_000_000) for _ in range(entrants)])
        rows[evaluator] = (scores, new_salt())
        client = comp.client(evaluator)
        client.commit(commitment(*rows[evaluator], evaluator))
        samples["commit"].append(client.last_gas_used)
    comp.chain.advance_to(deadlines[1] + 1)
    for evaluator, (scores, salt) in rows.items():
        client = comp.client(evaluator)
        client.reveal(tuple(scores), salt)
        samples["reveal"].append(client.last_gas_used)
    comp.chain.advance_to(deadlines[2] + 1)
    finalizer = comp.client(comp.outsiders[0])
    finalizer.finalize()
    assert finalizer.phase() is Phase.Finalized
    figures = {name: int(statistics.median(values)) for name, values in samples.items()}
    figures["finalize"] = finalizer.last_gas_used
    figures["deploy"] = deploy_gas
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4x3,8x8,16x16,32x16,64x64",
                        help="entrants x evaluators, comma-separated (each at most 64)")
    args = parser.parse_args()
    sizes = [tuple(int(n) for n in size.split("x")) for size in args.sizes.split(",")]
    columns = ("deploy", "enter", "commit", "reveal", "finalize", "finalize (falling)")
    print(f"{'entrants x evaluators':>22} " + " ".join(f"{c:>10}" for c in columns)
          + "   (reveal, finalize as x transfer)")
    for entrants, evaluators in sizes:
        figures = measure(entrants, evaluators)
        figures["finalize (falling)"] = measure(entrants, evaluators, falling=True)["finalize"]
        print(f"{f'{entrants} x {evaluators}':>22} " + " ".join(f"{figures[c]:>10,}" for c in columns)
              + f"   ({figures['reveal'] / TRANSFER:.2f}x, {figures['finalize'] / TRANSFER:.1f}x)")


if __name__ == "__main__":
    main()

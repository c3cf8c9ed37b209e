"""Where a round's costs go as labs (n), model size (m) and block time grow: the table of docs/scale.md.

Gas is measured, not guessed: the per-transaction gas of propose, vote and the last vote comes from
``scripts/bench_gas.py``'s own measurement (run here at 5 members), and the deployment's gas from
deploying the contract on the embedded chain at 5, 64 and 256 members (the marginal gas per member
extrapolates past the contract's cap of 256). Everything else is arithmetic on stated assumptions
(the PRICES, LINKS and WORK constants below), so a reader with other prices reruns it.

    .venv/bin/python scripts/scale_costs.py                 # measure, then print the tables
    .venv/bin/python scripts/scale_costs.py --committee 15  # the committee design at k = 15 as well
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eth_abi import encode  # noqa: E402

ROSTERS = (5, 64, 256, 1_000, 10_000)
MODELS_MB = (0.2, 100.0, 1_000.0)
CONTRACT_CAP = 256
CID_59 = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"


@dataclass(frozen=True)
class Chain:
    """A network's price and capacity (assumptions, stated in docs/scale.md)."""

    name: str
    gwei_per_gas: float
    block_gas_limit: int
    block_seconds: float


ETH_USD = 3_000.0
CHAINS = (
    Chain("consortium (Clique, free)", 0.0, 30_000_000, 5.0),
    Chain("L2 rollup", 0.02, 30_000_000, 2.0),
    Chain("Ethereum mainnet", 10.0, 36_000_000, 12.0),
)
LINK_BYTES_PER_S = 125e6
"""A lab's link: 1 Gbit/s each way."""
VOTE_SET = 400
"""Samples in a voter's vote set (the LArTPC experiment's)."""
RESNET_GFLOP_PER_SAMPLE = 6.6
"""ResNet50V2 forward pass at 200x200x3: about 3.3 G multiply-adds."""
RESNET_MB = 94.0
LOG_BYTES = {"VoteCast": 3 * 32 + 20 + 3 * 32}
"""A log's topics, address and data as stored; JSON-RPC returns about 3x this."""
TXPOOL_SLOTS = 5_120
"""geth's default --txpool.globalslots (executable transactions the pool holds)."""


def measure_gas() -> dict[str, float]:
    """Per-transaction gas at 5 members (bench_gas) and deployment gas at 5, 64, 256 members."""
    from bench_gas import measure

    from learnledger.ledger.sandbox import embedded_experiment

    gas = dict(measure(5))
    for members in (5, 64, 256):
        exp = embedded_experiment(members, outsiders=0)
        receipt = exp.chain.w3.eth.get_transaction_receipt(exp.deployment.tx_hash)
        gas[f"deploy {members}"] = float(receipt["gasUsed"])
        print(f"deployed at {members} members: {receipt['gasUsed']:,} gas", file=sys.stderr, flush=True)
    gas["deploy per member"] = (gas["deploy 256"] - gas["deploy 64"]) / (256 - 64)
    return gas


def calldata_bytes() -> dict[str, int]:
    return {
        "vote": 4 + len(encode(["uint256", "bool", "int64", "int64"], [1, True, 973_400, 960_000])),
        "propose": 4 + len(encode(["uint256", "bytes32", "string"], [1, b"\x01" * 32, CID_59])),
    }


def human(value: float, unit: str = "") -> str:
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {suffix}{unit}"
    return f"{value:.3g} {unit}".strip()


def seconds(value: float) -> str:
    if value >= 3600:
        return f"{value / 3600:.1f} h"
    if value >= 60:
        return f"{value / 60:.1f} min"
    return f"{value:.1f} s"


def usd(value: float) -> str:
    return "0" if value == 0 else f"${value:,.2f}" if value < 100 else f"${value:,.0f}"


def round_gas(voters: int, gas: dict[str, float]) -> float:
    """propose + (voters - 1) votes + the last vote (which finalizes and opens the next round)."""
    return gas["propose"] + max(voters - 1, 0) * gas["vote"] + (gas["last vote"] if voters else gas["finalize"])


def tables(gas: dict[str, float], committee: int | None) -> str:
    calldata = calldata_bytes()
    out = []
    out.append("Measured: propose {propose:,.0f} gas, vote {vote:,.0f}, last vote {last:,.0f}; deployment "
               "{d5:,.0f} / {d64:,.0f} / {d256:,.0f} gas at 5 / 64 / 256 members ({per:,.0f} per member); "
               "calldata: vote {cv} bytes, propose {cp} bytes (59-character CID).".format(
                   propose=gas["propose"], vote=gas["vote"], last=gas["last vote"], d5=gas["deploy 5"],
                   d64=gas["deploy 64"], d256=gas["deploy 256"], per=gas["deploy per member"],
                   cv=calldata["vote"], cp=calldata["propose"]))
    out.append("")
    designs = [("every member", None)] + ([(f"committee k = {committee}", committee)] if committee else [])
    for label, k in designs:
        out.append(f"### Votes and chain, {label}\n")
        heads = ["n", "votes/round", "gas/round", "calldata/round", "deploy gas"]
        heads += [f"{c.name}: $/round, blocks of votes" for c in CHAINS]
        heads += ["audit logs/1k rounds"]
        out.append("| " + " | ".join(heads) + " |")
        out.append("|---:|" + "---:|" * (len(heads) - 1))
        for n in ROSTERS:
            if k is not None and k >= n - 1:
                continue  # the committee is everyone: the same as the row above
            voters = n - 1 if k is None else k
            g = round_gas(voters, gas)
            data = calldata["propose"] + voters * calldata["vote"]
            deploy = gas["deploy 5"] + (n - 5) * gas["deploy per member"]
            cells = [f"{n:,}", f"{voters:,}", human(g), human(data, "B"),
                     human(deploy) + (" (cap 256)" if n > CONTRACT_CAP else "")]
            for chain in CHAINS:
                cost = g * chain.gwei_per_gas * 1e-9 * ETH_USD
                blocks = g / chain.block_gas_limit
                cells.append(f"{usd(cost)}, {blocks:.2f}")
            logs = 1_000 * (voters + 3)
            cells.append(f"{human(logs)} ({human(logs * LOG_BYTES['VoteCast'], 'B')})")
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    out.append("### Weights and scoring, per round (a proposal fetched by every voter)\n")
    heads = ["n", "m", "voters", "bytes moved", "proposer alone serves all", "bitswap fan-out (pipelined .. store-and-forward)",
             "scoring: evaluations", "scoring: total compute"]
    out.append("| " + " | ".join(heads) + " |")
    out.append("|---:|---:|" + "---:|" * (len(heads) - 2))
    for n in ROSTERS:
        for m in MODELS_MB:
            for label, k in designs:
                if k is not None and k >= n - 1:
                    continue
                voters = n - 1 if k is None else k
                size = m * 1e6
                one = size / LINK_BYTES_PER_S
                alone = voters * one
                pipelined, forward = one, max(1, math.ceil(math.log2(voters + 1))) * one
                flops = voters * VOTE_SET * RESNET_GFLOP_PER_SAMPLE * 1e9 * (m / RESNET_MB)
                cells = [f"{n:,}", f"{m:g} MB", f"{voters:,}" + ("" if k is None else f" (k={k})"),
                         human(voters * size, "B"), seconds(alone), f"{seconds(pipelined)} .. {seconds(forward)}",
                         f"{voters:,}", human(flops, "FLOP")]
                out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.append("### Where each design breaks first\n")
    per_block = {c.name: int(c.block_gas_limit // gas["vote"]) for c in CHAINS}
    deploy_limit = int((CHAINS[0].block_gas_limit - gas["deploy 5"]) // gas["deploy per member"] + 5)
    out.append(f"- votes per block at the gas limit: " + ", ".join(f"{name} {v:,}" for name, v in per_block.items()))
    out.append(f"- largest roster whose deployment fits one 30M-gas block: about {deploy_limit:,} members")
    out.append(f"- geth's default pending pool holds {TXPOOL_SLOTS:,} transactions: a round's votes beyond that wait or are dropped")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--committee", type=int, default=None, help="also the committee design with this k")
    args = parser.parse_args()
    gas = measure_gas()
    print(tables(gas, args.committee))
    return 0


if __name__ == "__main__":
    sys.exit(main())

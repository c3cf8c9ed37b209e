"""Gas of each round action for rosters of 3 to 256 members, on the embedded chain.

For each roster size it deploys an experiment and plays full rounds (propose, every vote, the last
vote finalizing and opening the next round), then one round decided by its deadline (finalize)
and one skipped round (finalize with no proposal). Each figure is the median over its samples.
Then, on 3 members, the extra gas of a member's first vote in a new 247-round word of its ballot
bits. Then the same full rounds with sealed votes (a reveal window: every voter commits, then
reveals; the last reveal finalizes), and each voter's gas for commit + reveal against its one open
vote, measured in the same run. Then the gas of a succession (propose the successor, each vote,
the hand-over) for rosters of 3 to 64. Prints a table, the goals of issue 2 as ratios (figure /
goal), and the vote's spread across
roster sizes; writes the table into docs/gas.md (the committed gas snapshot, between its
``snapshot`` markers; the rest of that page is prose).

    .venv/bin/python scripts/bench_gas.py            # all sizes (a couple of minutes)
    .venv/bin/python scripts/bench_gas.py --sizes 3,5 --no-write
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from learnledger.ledger.compile import EVM_VERSION, OPTIMIZER_RUNS, SOLC_VERSION, VIA_IR
from learnledger.ledger.sandbox import deploy_successor, embedded_experiment

CID_59 = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
START = 4_000_000_000
WINDOW = 10_000  # block time runs one second per transaction here: room for 255 votes
GOALS = {"vote": 38_000, "propose": 60_000, "round5": 250_000}
SNAPSHOT = Path(__file__).resolve().parents[1] / "docs" / "gas.md"
TRANSFER = 21_000  # the intrinsic cost of any transaction: the baseline of the ratios


def rounds_for(size: int) -> int:
    return 4 if size <= 16 else 2


def measure(size: int) -> dict[str, float]:
    exp = embedded_experiment(size, outsiders=1, proposal_window=WINDOW, vote_window=WINDOW, start_time=START)
    reader = exp.ledger(exp.outsiders[0])
    samples: dict[str, list[int]] = {"propose": [], "first vote": [], "vote": [], "last vote": [], "round": []}
    for round_ in range(1, rounds_for(size) + 1):
        proposer = exp.ledger(reader.proposer_of(round_))
        proposer.propose(round_, bytes([round_]) * 32, CID_59)
        spent = [proposer.last_gas_used]
        samples["propose"].append(proposer.last_gas_used)
        voters = [exp.ledger(m) for m in exp.members if m != proposer.account]
        for i, voter in enumerate(voters):
            voter.vote(round_, i % 3 != 2, 973_400 + i, 960_000 + i)
            spent.append(voter.last_gas_used)
            kind = "last vote" if i == len(voters) - 1 else "first vote" if i == 0 else "vote"
            samples[kind].append(voter.last_gas_used)
        samples["round"].append(sum(spent))
    figures = {name: float(statistics.median(values)) for name, values in samples.items() if values}

    round_ = reader.current_round()  # decided by the deadline: finalize counts the votes
    proposer = exp.ledger(reader.proposer_of(round_))
    proposer.propose(round_, b"\xaa" * 32, CID_59)
    if size > 2:
        exp.ledger(next(m for m in exp.members if m != proposer.account)).vote(round_, True, 1, 1)
    if size > 1:
        exp.chain.time_travel(WINDOW + 2)
        reader.finalize(round_)
        figures["finalize"] = reader.last_gas_used
    round_ = reader.current_round()  # no proposal: finalize skips
    exp.chain.time_travel(WINDOW + 2)
    reader.finalize(round_)
    figures["finalize (skip)"] = reader.last_gas_used
    return figures


def measure_sealed(size: int) -> dict[str, float]:
    """Full rounds with sealed votes: propose, every voter commits, every voter reveals."""
    exp = embedded_experiment(size, outsiders=1, proposal_window=WINDOW, vote_window=WINDOW,
                              reveal_window=WINDOW, start_time=START)
    reader = exp.ledger(exp.outsiders[0])
    samples: dict[str, list[int]] = {"first commit": [], "commit": [], "reveal": [], "last reveal": [],
                                     "round": []}
    for round_ in range(1, rounds_for(size) + 1):
        proposer = exp.ledger(reader.proposer_of(round_))
        proposer.propose(round_, bytes([round_]) * 32, CID_59)
        spent = [proposer.last_gas_used]
        voters = [exp.ledger(m) for m in exp.members if m != proposer.account]
        ballots = [(i % 3 != 2, 973_400 + i, 960_000 + i, bytes([i % 256, round_ % 256]) * 16)
                   for i in range(len(voters))]
        for i, (voter, ballot) in enumerate(zip(voters, ballots)):
            voter.commit_vote(round_, *ballot)
            spent.append(voter.last_gas_used)
            samples["first commit" if i == 0 else "commit"].append(voter.last_gas_used)
        for i, (voter, ballot) in enumerate(zip(voters, ballots)):
            voter.reveal_vote(round_, *ballot)
            spent.append(voter.last_gas_used)
            samples["last reveal" if i == len(voters) - 1 else "reveal"].append(voter.last_gas_used)
        samples["round"].append(sum(spent))
    return {name: float(statistics.median(values)) for name, values in samples.items() if values}


SEALED_COLUMNS = ["first commit", "commit", "reveal", "last reveal", "round"]


def sealed_table(open_: dict[int, dict[str, float]], sealed: dict[int, dict[str, float]]) -> str:
    """Sealed rounds, and a voter's commit + reveal against its open vote (same roster size)."""
    head = SEALED_COLUMNS + ["voter, sealed", "voter, open", "sealed / open", "round sealed / open"]
    lines = ["| members | " + " | ".join(head) + " |", "|---:|" + "---:|" * len(head)]
    for size, figures in sealed.items():
        commit = figures.get("commit", figures["first commit"])
        reveal = figures.get("reveal", figures["last reveal"])
        voter_open = open_[size].get("vote", open_[size]["first vote"])
        cells = [f"{figures[c]:,.0f}" if c in figures else "n/a" for c in SEALED_COLUMNS]
        cells += [f"{commit + reveal:,.0f}", f"{voter_open:,.0f}", f"{(commit + reveal) / voter_open:.2f}x",
                  f"{figures['round'] / open_[size]['round']:.2f}x"]
        lines.append(f"| {size} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


COLUMNS = ["propose", "first vote", "vote", "last vote", "finalize", "finalize (skip)", "round"]
WORD_ROUNDS = 247
MARKERS = ("<!-- snapshot: written by scripts/bench_gas.py -->", "<!-- end of snapshot -->")


def fresh_word_extra() -> tuple[int, int]:
    """On 3 members, one member's first vote of each round it votes in (always the first voter,
    so every sample draws the next proposer): the gas of its first vote in rounds 247+ (a fresh
    word of ballot bits) and of its next one (the same word). Plays about 250 rounds."""
    exp = embedded_experiment(3, outsiders=1, proposal_window=WINDOW, vote_window=WINDOW, start_time=START)
    reader = exp.ledger(exp.outsiders[0])
    member = exp.members[0]
    fresh: list[int] = []
    for round_ in range(1, 10 * WORD_ROUNDS):
        proposer = exp.ledger(reader.proposer_of(round_))
        proposer.propose(round_, bytes([round_ % 250 + 1]) * 32, CID_59)
        voters = sorted((m for m in exp.members if m != proposer.account), key=lambda m: m != member)
        for voter in voters:
            exp.ledger(voter).vote(round_, True, 973_400, 960_000)
            if voter == member and round_ >= WORD_ROUNDS:
                fresh.append(exp.ledger(voter).last_gas_used)
        if len(fresh) == 2:
            return fresh[0], fresh[1]
    raise RuntimeError("member 0 did not vote twice after round 247")


SUCCESSION_COLUMNS = ["propose", "vote", "hand-over", "succession"]


def succession_costs(size: int) -> dict[str, float]:
    """On ``size`` members after one round: propose a successor (same roster), every other member
    votes for it, then the hand-over (finalizeSuccession). ``vote`` is the median vote;
    ``succession`` the sum of all of them."""
    exp = embedded_experiment(size, outsiders=1, proposal_window=WINDOW, vote_window=WINDOW,
                              max_rounds=1, start_time=START)
    reader = exp.ledger(exp.outsiders[0])
    proposer = exp.ledger(reader.proposer_of(1))
    proposer.propose(1, b"\x01" * 32, CID_59)
    for member in exp.members:
        if member != proposer.account:
            exp.ledger(member).vote(1, True, 1, 1)
    successor = deploy_successor(exp, exp.members)
    first = exp.ledger(exp.members[0])
    first.propose_successor(successor.deployment.address)
    spent = {"propose": first.last_gas_used}
    votes = []
    for member in exp.members[1:]:
        exp.ledger(member).vote_succession(True)
        votes.append(exp.ledger(member).last_gas_used)
    reader.finalize_succession()
    spent["hand-over"] = reader.last_gas_used
    assert reader.successor() == successor.deployment.address
    figures = {name: float(value) for name, value in spent.items()}
    if votes:
        figures["vote"] = float(statistics.median(votes))
    figures["succession"] = float(spent["propose"] + sum(votes) + spent["hand-over"])
    return figures


def table(results: dict[int, dict[str, float]], columns: list[str] = COLUMNS) -> str:
    lines = ["| members | " + " | ".join(columns) + " |", "|---:|" + "---:|" * len(columns)]
    for size, figures in results.items():
        cells = [f"{figures[c]:,.0f}" if c in figures else "n/a" for c in columns]
        lines.append(f"| {size} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3,5,16,64,256", help="roster sizes, comma-separated")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/gas.md alone")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    results: dict[int, dict[str, float]] = {}
    for size in sizes:
        results[size] = measure(size)
        print(f"measured {size} members", file=sys.stderr, flush=True)
    rendered = table(results)
    print(rendered)
    print()
    print(f"ratios to a plain transfer ({TRANSFER:,} gas, the intrinsic cost every transaction pays):")
    for size, figures in results.items():
        parts = [f"{name} {figures[name] / TRANSFER:.2f}x" for name in ("propose", "vote", "round") if name in figures]
        print(f"  {size:>3} members: " + ", ".join(parts))
    print("goals of issue 2 (figure / goal, <= 1 meets it):")
    votes = [figures[kind] for figures in results.values() for kind in ("first vote", "vote")
             if kind in figures] or [float("nan")]
    print(f"  vote       max {max(votes):,.0f} / {GOALS['vote']:,} = {max(votes) / GOALS['vote']:.3f}")
    proposes = [figures["propose"] for figures in results.values()]
    print(f"  propose    max {max(proposes):,.0f} / {GOALS['propose']:,} = {max(proposes) / GOALS['propose']:.3f} (59-char CID)")
    if 5 in results:
        print(f"  5-member round {results[5]['round']:,.0f} / {GOALS['round5']:,} = {results[5]['round'] / GOALS['round5']:.3f}")
    spread = max(votes) / min(votes) - 1
    print(f"  vote spread across sizes and positions {spread:.2%} (goal: within 5%)")
    sealed: dict[int, dict[str, float]] = {}
    for size in sizes:
        sealed[size] = measure_sealed(size)
        print(f"measured {size} members with sealed votes", file=sys.stderr, flush=True)
    rendered_sealed = sealed_table(results, sealed)
    print(rendered_sealed)
    print()
    first, same_word = fresh_word_extra()
    word_line = (f"A member's first vote in a new {WORD_ROUNDS}-round word of its ballot bits (rounds 247, 494, ...) "
                 f"costs {first:,} gas against {same_word:,} for its next one: +{first - same_word:,}.")
    print(word_line)
    succession = {size: succession_costs(size) for size in sizes if size <= 64}
    succession_table = table(succession, SUCCESSION_COLUMNS)
    print("succession (propose the successor, the median vote, the hand-over, all of them):")
    print(succession_table)

    if not args.no_write:
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        snapshot = (
            "Written by `scripts/bench_gas.py` (embedded chain, revm, Prague rules); medians over "
            "full rounds (4 rounds up to 16 members, 2 above). `first vote` is a round's first vote "
            "(it also draws the next round's proposer), `vote` an ordinary vote, `last vote` "
            "the one that finalizes the round and opens the next, `finalize` a round decided by its "
            "vote deadline, `finalize (skip)` a round with no proposal, `round` a whole round "
            "(propose + every vote). The proposal carries a 59-character CID.\n\n"
            f"Compiler: solc {SOLC_VERSION}, optimizer runs {OPTIMIZER_RUNS}, viaIR {VIA_IR}, "
            f"evmVersion {EVM_VERSION}.\n\n"
            + rendered
            + "\n\n" + word_line + "\n\n"
            "Sealed votes (a reveal window; the same rounds, measured in the same run): `first commit` "
            "is a round's first commitment (it draws the next round's proposer), `commit` an ordinary "
            "one, `reveal` an ordinary reveal, `last reveal` the one that finalizes the round and opens "
            "the next, `round` a whole round (propose + every commit + every reveal). `voter, sealed` "
            "is an ordinary voter's commit + reveal, `voter, open` its one open `vote` above.\n\n"
            + rendered_sealed + "\n\n"
            "A succession, after one round (`learnledger succession`, docs/succession.md): `propose` is "
            "`proposeSuccessor` (it reads the successor's three views), `vote` the median "
            "`voteSuccession`, `hand-over` the `finalizeSuccession` that accepts it, `succession` "
            "all of them (every member but the proposer votes).\n\n"
            + succession_table + "\n"
        )
        text = SNAPSHOT.read_text() if SNAPSHOT.exists() else "# Gas snapshot\n\n" + "\n".join(MARKERS) + "\n"
        if MARKERS[0] not in text or MARKERS[1] not in text:
            print(f"{SNAPSHOT} has no snapshot markers {MARKERS}; not written", file=sys.stderr)
            return 1
        head, rest = text.split(MARKERS[0], 1)
        tail = rest.split(MARKERS[1], 1)[1]
        SNAPSHOT.write_text(head + MARKERS[0] + "\n" + snapshot + MARKERS[1] + tail)
        print(f"wrote {SNAPSHOT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

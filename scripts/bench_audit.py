"""Audit speed: 1,000 rounds with 5 learners on anvil, audited without fetching weights.

The rounds are driven straight at the contract (no training: random digests and CIDs). Each round's
five transactions (one proposal, four votes, the last of which finalizes and opens the next round)
are signed here with known nonces and a fixed gas limit and sent in one JSON-RPC batch; anvil mines
each on arrival. The audit then reads everything back and checks it. The baseline, measured in the
same run, is the raw ``eth_getLogs`` of the same block range in one query: the audit's time as a
multiple of it says what the checks, views, receipts and block times cost on top of reading.

    .venv/bin/python scripts/bench_audit.py [--rounds 1000] [--learners 5]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time

from eth_account import Account
from web3 import Web3
from web3.exceptions import ContractCustomError

from learnledger.audit.run import audit
from learnledger.ledger.artifact import load_artifact
from learnledger.ledger.chain import connect
from learnledger.ledger.deploy import deploy
from learnledger.ledger.devnet import Devnet
from learnledger.ledger.params import ExperimentParams
from learnledger.ledger.sandbox import PLACEHOLDER_INITIAL_DIGEST, PLACEHOLDER_SPEC_DIGEST

GAS_LIMIT = 400_000
"""Above any round action's gas (a finalizing vote that opens the next round is about 75k)."""


def opened_proposer(contract, round_: int, patience: float = 10.0) -> str:  # type: ignore[no-untyped-def]
    """The proposer of ``round_`` once it is open: anvil may answer a batch of sends before it has
    mined them all, so the last vote (which opens this round) may still be on its way."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return str(contract.functions.proposerOf(round_).call())
        except ContractCustomError:
            if time.monotonic() > deadline:
                raise SystemExit(f"round {round_} did not open within {patience} s: a transaction failed")
            time.sleep(0.005)


def drive(w3: Web3, address: str, accounts: list[tuple[str, str]], rounds: int) -> int:
    """Play ``rounds`` rounds; return the transactions sent. Approvals alternate by round."""
    contract = w3.eth.contract(address=address, abi=load_artifact().abi)
    keys = {a: Account.from_key(k) for a, k in accounts}
    nonces = {a: w3.eth.get_transaction_count(a) for a in keys}
    chain_id, gas_price = w3.eth.chain_id, w3.eth.gas_price
    sent = 0

    def signed(sender: str, data: str) -> str:
        transaction = {"to": address, "data": data, "gas": GAS_LIMIT, "gasPrice": gas_price,
                       "nonce": nonces[sender], "chainId": chain_id}
        nonces[sender] += 1
        return "0x" + keys[sender].sign_transaction(transaction).raw_transaction.hex()


    for round_ in range(1, rounds + 1):
        proposer = opened_proposer(contract, round_)
        digest = hashlib.sha256(os.urandom(32)).digest()
        proposal = signed(proposer, contract.encode_abi("propose", [round_, digest, f"bafk-bench-{round_}"]))
        approve = round_ % 3 != 0
        votes = [signed(voter, contract.encode_abi("vote", [round_, approve, 900_000 + i, 800_000 + i]))
                 for i, voter in enumerate(a for a in keys if a != proposer)]
        # The proposal must be mined before the votes; the votes may land in any order (anvil may
        # mine a batch's transactions together), and the last one finalizes the round.
        for batch in ([proposal], votes):
            responses = w3.provider.make_batch_request([("eth_sendRawTransaction", [raw]) for raw in batch])
            failed = [r for r in responses if "error" in r]  # type: ignore[union-attr]
            if failed:
                raise SystemExit(f"round {round_}: the node refused a transaction: {failed[0]}")
            sent += len(batch)
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--learners", type=int, default=5)
    options = parser.parse_args()

    with Devnet(accounts=options.learners) as devnet:
        w3 = connect(devnet.rpc_url)
        members = [a for a, _ in devnet.accounts]
        params = ExperimentParams(tuple(members), tuple(f"group-{i}" for i in range(len(members))),
                                  PLACEHOLDER_SPEC_DIGEST, "spec", PLACEHOLDER_INITIAL_DIGEST, "initial")
        deployment = deploy(w3, devnet.accounts[0][1], params, rpc_url=devnet.rpc_url)

        started = time.perf_counter()
        sent = drive(w3, deployment.address, devnet.accounts, options.rounds)
        opened_proposer(w3.eth.contract(address=deployment.address, abi=load_artifact().abi), options.rounds + 1)
        generate = time.perf_counter() - started
        print(f"generated {options.rounds} rounds ({sent} transactions) in {generate:.1f} s: "
              f"{sent / generate:.0f} tx/s, {options.rounds / generate:.0f} rounds/s")

        head = w3.eth.block_number
        started = time.perf_counter()
        logs = w3.eth.get_logs({"address": deployment.address, "fromBlock": deployment.block, "toBlock": head})
        raw = time.perf_counter() - started
        print(f"baseline: raw eth_getLogs of blocks {deployment.block}..{head} in one query: {len(logs)} logs "
              f"in {raw:.3f} s")

        started = time.perf_counter()
        report = audit(w3, deployment.address, deployment)
        took = time.perf_counter() - started
        assert len(report.rows) == options.rounds + 1, len(report.rows)  # plus the round now open
        print(f"audit: {options.rounds} rounds in {took:.2f} s = {options.rounds / took:.0f} rounds/s "
              f"({took / raw:.1f}x the raw log fetch); findings: {len(report.findings)}")
        print("  steps: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in report.timings.items()))
        print(f"goal under 10 s: {'met' if took < 10 else 'NOT met'}")
        for finding in report.findings[:5]:
            print(f"  {finding}")


if __name__ == "__main__":
    main()

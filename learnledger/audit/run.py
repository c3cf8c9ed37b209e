"""One audit, start to end: read the chain (and the store), rebuild, check, and shape the rows.

Fetching, rebuilding, checking and rendering are apart; this module only puts them in order and
times each step (the benchmark reports them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eth_utils import is_address, to_checksum_address

from learnledger.audit import checks
from learnledger.audit.fetch import (
    ChainUnreachable,
    ContractViews,
    Rpc,
    block_times,
    deployed_address,
    fetch_events,
    gas_used,
    head_block,
    read_views,
)
from learnledger.audit.findings import Finding
from learnledger.audit.rebuild import Place, Rebuilt, rebuild
from learnledger.audit.verify import files_named, verify_files
from learnledger.ledger.artifact import load_artifact
from learnledger.ledger.api import RoundRecord
from learnledger.ledger.params import Deployment, ExperimentParams
from learnledger.report.rounds import round_to_json
from learnledger.store.api import WeightStore

if TYPE_CHECKING:
    from web3 import Web3


class AuditInputError(ValueError):
    """The audit was asked something that cannot be (a block range outside the chain)."""


@dataclass
class AuditReport:
    """What an audit read, rebuilt and found."""

    address: str
    from_block: int
    to_block: int
    views: ContractViews
    rebuilt: Rebuilt
    params: ExperimentParams | None
    records: list[RoundRecord]
    rows: list[dict[str, Any]]
    findings: list[Finding]
    timings: dict[str, float] = field(default_factory=dict)
    verified_files: int | None = None
    verified_bytes: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def groups(self) -> list[str]:
        return [m.group for m in self.rebuilt.members]


def audit(
    w3: Web3,
    address: str,
    deployment: Deployment | None = None,
    store: WeightStore | None = None,
    from_block: int | None = None,
    to_block: int | None = None,
    get_logs: Callable[[dict[str, Any]], list[Any]] | None = None,
    confirmations: int | None = None,
) -> AuditReport:
    """Audit the experiment at ``address``.

    Args:
        w3: a connection to the chain.
        address: the contract.
        deployment: its deployment record, if there is one; it is checked against the chain too.
        store: with a store, every file the chain names is fetched and checked (``--verify``).
        from_block: first block to read events from. Default: the deployment block, else 0.
        to_block: last block to read events from. Default: the head (the latest block).
        get_logs: replaces ``eth_getLogs`` (tests break it on purpose).
        confirmations: audit the chain as it stood ``confirmations`` blocks below the head: events
            up to that block, and the contract's views at that block too, so rounds newer than it
            are not audited (nor missed). What a recent reorganisation could still change is left
            out. Default: none (everything to the head, or to ``to_block``).

    Raises:
        ChainUnreachable: the node did not answer. StoreUnreachable: the store did not answer.
        AuditInputError: the block range lies outside the chain.
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    if not is_address(address):
        raise AuditInputError(f"not a contract address: {address!r}; expected 0x and 40 hex digits")
    address = to_checksum_address(address)
    abi = load_artifact().abi
    rpc = Rpc(w3)
    head = head_block(rpc)
    if confirmations is not None:
        if confirmations < 0 or to_block is not None:
            raise AuditInputError("--confirmations is a number of blocks >= 0, and replaces --to-block; "
                                  f"received: confirmations={confirmations}, to_block={to_block}")
        head = max(0, head - confirmations)  # the chain as it stood then: events and views alike
    start = from_block if from_block is not None else (deployment.block if deployment else 0)
    end = head if to_block is None else to_block
    if confirmations is not None and start > end:
        raise AuditInputError(f"nothing is {confirmations} blocks deep yet: the experiment starts at block "
                              f"{start} and the chain's head is {head + confirmations}; wait, or ask fewer "
                              "--confirmations")
    if not 0 <= start <= end <= head:
        raise AuditInputError(f"the block range {start}..{end} is not within the chain (blocks 0..{head}); "
                              "check --from-block/--to-block")

    events = fetch_events(rpc, address, abi, start, end, get_logs=get_logs)
    lap("events")
    rebuilt = rebuild(events.events)
    rounds = sorted(rebuilt.rounds)
    votes = [(n, v.voter) for n in rounds for v, _ in rebuilt.rounds[n].votes]
    views = read_views(rpc, address, abi, head, rounds, votes)
    lap("views")
    findings = checks.check_contract(views, address, deployment,
                                     deployed_address(rpc, deployment.tx_hash) if deployment else None)
    params = checks.params_from_events(rebuilt)
    records: list[RoundRecord] = []
    rows: list[dict[str, Any]] = []
    report = AuditReport(address, start, end, views, rebuilt, params, records, rows, findings, timings)
    if not views.has_code or views.error:
        return report

    places = events.events
    times = block_times(rpc, sorted({e.block for e in places}))
    gas = gas_used(rpc, [e.tx_hash for e in places])
    lap("blocks and receipts")

    initial = params.initial_digest if params else (deployment.params.initial_digest if deployment else bytes(32))
    open_states = {n: info["state"] for n, info in views.round_info.items()}
    records.extend(rebuilt.records(initial, open_states))
    findings.extend(checks.check_terms(rebuilt, views, deployment.params if deployment else None, start))
    findings.extend(checks.check_numbering(rebuilt))
    findings.extend(checks.check_votes(rebuilt, views))
    findings.extend(checks.check_views(rebuilt, views))
    findings.extend(checks.check_head(rebuilt, views, records, params))
    findings.extend(checks.check_replay(rebuilt, params, times, address))
    lap("checks")

    rows.extend(_row(record, rebuilt, gas, times) for record in records)
    lap("rows")
    if store is not None:
        files = files_named(rebuilt, params)
        store_findings, report.verified_bytes = verify_files(store, files)
        findings.extend(store_findings)
        report.verified_files = len(files)
        lap("store")
    return report


def _place(place: Place | None, gas: dict[str, int], times: dict[int, int]) -> dict[str, Any] | None:
    if place is None:
        return None
    return {"block": place.block, "time": times.get(place.block), "tx": place.tx_hash,
            "gas_used": gas.get(place.tx_hash)}


def _row(record: RoundRecord, rebuilt: Rebuilt, gas: dict[str, int], times: dict[int, int]) -> dict[str, Any]:
    """rounds.jsonl's row (``round_to_json``) plus where each action was recorded and its gas."""
    row = round_to_json(record, rebuilt.groups)
    trail = rebuilt.rounds[record.round]
    groups = rebuilt.groups
    row["opened"] = _place(trail.opened, gas, times)
    row["proposed"] = _place(trail.proposed, gas, times)
    row["finalized"] = _place(trail.finalized, gas, times)
    votes: dict[str, Any] = row["votes"]  # type: ignore[assignment]
    for vote, place in trail.votes:
        entry = votes.get(groups.get(vote.voter.lower(), vote.voter))
        if entry is not None:
            entry["voter"] = vote.voter
            entry.update(_place(place, gas, times) or {})
    return row


__all__ = ["AuditInputError", "AuditReport", "ChainUnreachable", "audit"]

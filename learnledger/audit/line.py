"""The audit of a whole line of experiments, first to last, and of every hand-over between them.

Each experiment is audited on its own (``learnledger.audit.run.audit``); then each hand-over from a
predecessor P to its successor S must hold both ways and carry the model unchanged:

- P's ``successor()`` is S and S's ``predecessor()`` is P;
- P recorded the hand-over (an accepted ``SuccessionDecided`` naming S), and its model digest
  there is P's final shared model;
- S's initial weights (its ``ExperimentCreated``) are exactly that model.

The rounds of the line are numbered continuously: S's round r is round ``offset + r`` of the line,
where the offset is the sum of the rounds its predecessors finalized (each ``SuccessionDecided``'s
``lastRound``). Each row keeps its experiment and its own round number too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eth_utils import to_checksum_address

from learnledger.audit.findings import Finding
from learnledger.audit.run import AuditReport, audit
from learnledger.ledger.line import line_of
from learnledger.store.api import WeightStore

if TYPE_CHECKING:
    from web3 import Web3


@dataclass
class RosterChange:
    """Who joined and who left at a hand-over, after line round ``after_round``."""

    after_round: int
    successor: str
    joined: tuple[str, ...]
    left: tuple[str, ...]

    @property
    def label(self) -> str:
        parts = [f"+{g}" for g in self.joined] + [f"-{g}" for g in self.left]
        return "succession: " + (" ".join(parts) if parts else "same roster")


@dataclass
class LineReport:
    """Every experiment's audit, first to last, the hand-over findings and the continuous rows."""

    reports: list[AuditReport]
    offsets: list[int]
    handover_findings: list[Finding] = field(default_factory=list)
    changes: list[RosterChange] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for report in self.reports for f in report.findings] + self.handover_findings

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Every round of the line, numbered continuously, with its experiment and own number."""
        rows = []
        for report, offset in zip(self.reports, self.offsets):
            for row in report.rows:
                rows.append({**row, "round": offset + int(row["round"]), "experiment": report.address,
                             "experiment_round": int(row["round"])})
        return rows

    @property
    def groups(self) -> list[str]:
        """Every group of the line, in order of first appearance."""
        return list(dict.fromkeys(group for report in self.reports for group in report.groups))


def audit_line(w3: Web3, address: str, store: WeightStore | None = None,
               on_step: Callable[[str], None] = lambda line: None) -> LineReport:
    """Audit the line of experiments that ``address`` belongs to (any one of them will do)."""
    line = line_of(w3, address)
    reports = []
    for deployment in line:
        on_step(f"auditing {deployment.address} ({len(reports) + 1} of {len(line)})")
        reports.append(audit(w3, deployment.address, deployment, store))
    offsets = [0]
    findings: list[Finding] = []
    changes: list[RosterChange] = []
    for before, after in zip(reports, reports[1:]):
        handed, last_round = check_handover(before, after, findings)
        offsets.append(offsets[-1] + last_round)
        old, new = set(before.groups), set(after.groups)
        changes.append(RosterChange(offsets[-1], after.address, tuple(g for g in after.groups if g not in old),
                                    tuple(g for g in before.groups if g not in new)))
    return LineReport(reports, offsets, findings, changes)


def check_handover(before: AuditReport, after: AuditReport, findings: list[Finding]) -> tuple[bool, int]:
    """Check the hand-over from ``before`` to ``after``; return whether it holds and the number of
    rounds ``before`` finalized (the successor's round offset)."""
    def say(message: str) -> None:
        findings.append(Finding("handover", 0, f"{before.address} -> {after.address}: {message}"))

    start = len(findings)
    if before.views.successor != after.address:
        say(f"the predecessor's successor() is {before.views.successor}")
    if after.views.predecessor != before.address:
        say(f"the successor's predecessor() is {after.views.predecessor}")
    decided = before.rebuilt.handed_over
    final_model = before.views.model_digest
    last_round = max((r for r, trail in before.rebuilt.rounds.items() if trail.outcome is not None), default=0)
    if decided is None:
        say("the predecessor recorded no accepted SuccessionDecided event")
    else:
        if to_checksum_address(decided.args["successor"]) != after.address:
            say(f"the accepted succession names {decided.args['successor']}")
        if bytes(decided.args["modelDigest"]) != final_model:
            say(f"the hand-over names model 0x{bytes(decided.args['modelDigest']).hex()}, the predecessor's "
                f"final model is 0x{final_model.hex()}")
        if int(decided.args["lastRound"]) != last_round:
            say(f"the hand-over says the last round was {int(decided.args['lastRound'])}, the events "
                f"end at {last_round}")
    initial = after.params.initial_digest if after.params else None
    if initial != final_model:
        say(f"the successor starts from 0x{initial.hex() if initial else '?'}, the predecessor's final model is "
            f"0x{final_model.hex()}")
    return len(findings) == start, last_round

"""What the agents say they sent against what the chain recorded: the load run's accounting.

Each agent counts the actions it completed (a proposal, a vote or a finalize whose transaction was
mined and succeeded). The chain tells its own story in events: a ``WeightsProposed`` per proposal,
a ``VoteCast`` per vote, and a ``RoundFinalized`` per round, emitted either by an explicit
``finalize`` transaction or by the last vote of a round (which finalizes by itself). The two
stories must agree for every member: a transaction that an agent counted and the chain does not
hold is lost; one the chain holds that no agent counted was sent twice or by someone else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from learnledger.ledger.api import RoundRecord, RoundState
from learnledger.ledger.client import ContractLedger

KINDS = ("proposed", "voted", "finalized")
"""The three round actions, named as the agent's ``Action`` values name them."""


@dataclass(frozen=True)
class Tally:
    """Sent against recorded, per member and kind, and what the rounds look like on the chain.

    Attributes:
        rounds_expected: the experiment's rounds.
        records: every opened round, as the events tell it.
        sent: group -> kind -> how many the agents completed.
        recorded: group -> kind -> how many the chain holds from that member.
        mined: group -> transactions mined from its account (its nonce), reverted ones included.
        missing_votes: round -> the eligible voters whose vote is not on the chain.
    """

    rounds_expected: int
    records: tuple[RoundRecord, ...]
    sent: dict[str, dict[str, int]]
    recorded: dict[str, dict[str, int]]
    mined: dict[str, int]
    missing_votes: dict[int, tuple[str, ...]] = field(default_factory=dict)

    @property
    def final_rounds(self) -> int:
        return sum(record.state.is_final for record in self.records)

    def outcomes(self) -> dict[str, int]:
        """How many rounds ended each way (accepted, rejected, skipped; open ones as their state)."""
        counts: dict[str, int] = {}
        for record in self.records:
            name = record.state.name.lower()
            counts[name] = counts.get(name, 0) + 1
        return counts

    def totals(self, side: str) -> dict[str, int]:
        """Sums over members of ``sent`` or ``recorded``, per kind."""
        table = self.sent if side == "sent" else self.recorded
        return {kind: sum(counts[kind] for counts in table.values()) for kind in KINDS}

    def lost(self) -> dict[str, dict[str, tuple[int, int]]]:
        """group -> kind -> (sent, recorded) wherever the two differ."""
        differences: dict[str, dict[str, tuple[int, int]]] = {}
        for group in sorted(set(self.sent) | set(self.recorded)):
            for kind in KINDS:
                sent = self.sent.get(group, {}).get(kind, 0)
                recorded = self.recorded.get(group, {}).get(kind, 0)
                if sent != recorded:
                    differences.setdefault(group, {})[kind] = (sent, recorded)
        return differences

    @property
    def reverted(self) -> int:
        """Transactions mined from members that succeeded in nothing (mined minus recorded)."""
        return sum(self.mined.values()) - sum(self.totals("recorded").values())

    def failures(self) -> list[str]:
        """Why the run failed the load criteria (every round final, no transaction lost); [] if not."""
        problems = []
        if self.final_rounds != self.rounds_expected or len(self.records) != self.rounds_expected:
            unfinished = [r.round for r in self.records if not r.state.is_final]
            problems.append(f"{self.final_rounds} of {self.rounds_expected} rounds are final "
                            f"({len(self.records)} opened; not final: {unfinished or 'none'})")
        for group, kinds in self.lost().items():
            for kind, (sent, recorded) in kinds.items():
                problems.append(f"{group}: {kind} {sent} times by its own count, but the chain "
                                f"records {recorded}")
        return problems


def tally(observer: ContractLedger, sent: Mapping[str, Mapping[str, int]], rounds_expected: int) -> Tally:
    """Read the chain through ``observer`` and set it against ``sent`` (group -> kind -> count)."""
    params = observer.deployment.params
    group_of = {address.lower(): group for address, group in zip(params.members, params.group_names)}
    recorded = {group: dict.fromkeys(KINDS, 0) for group in params.group_names}
    records = tuple(observer.history())
    missing: dict[int, tuple[str, ...]] = {}
    for record in records:
        if record.proposal is not None:
            recorded[group_of[record.proposal.proposer.lower()]]["proposed"] += 1
        for vote in record.votes:
            recorded[group_of[vote.voter.lower()]]["voted"] += 1
        if record.proposal is not None and record.state is not RoundState.SKIPPED:
            voters = {vote.voter.lower() for vote in record.votes}
            eligible = [a for a in params.members if a.lower() != record.proposer.lower()]
            absent = tuple(group_of[a.lower()] for a in eligible if a.lower() not in voters)
            if absent:
                missing[record.round] = absent
    for sender in _finalize_senders(observer):
        # anyone may finalize: a sender off the roster is listed by its address
        group = group_of.get(sender.lower(), sender)
        recorded.setdefault(group, dict.fromkeys(KINDS, 0))["finalized"] += 1
    mined = {group: observer.w3.eth.get_transaction_count(address)
             for address, group in zip(params.members, params.group_names)}
    return Tally(
        rounds_expected=rounds_expected,
        records=records,
        sent={group: {kind: int(counts.get(kind, 0)) for kind in KINDS} for group, counts in sent.items()},
        recorded=recorded,
        mined=mined,
        missing_votes=missing,
    )


def _finalize_senders(observer: ContractLedger) -> list[str]:
    """The sender of every ``finalize`` transaction that finalized a round.

    A ``RoundFinalized`` event comes from a ``finalize`` call or from a round's last vote; the
    transaction's call data says which.
    """
    contract, w3 = observer.contract, observer.w3
    senders = []
    for event in contract.events.RoundFinalized().get_logs(from_block=observer.deployment.block):
        transaction = w3.eth.get_transaction(event["transactionHash"])
        call = bytes(transaction["input"])
        if call == bytes.fromhex(contract.encode_abi("finalize", [event["args"]["round"]])[2:]):
            senders.append(str(transaction["from"]))
    return senders


def blocks_per_round(observer: ContractLedger) -> list[int]:
    """For each finalized round, the blocks from the one that opened it (the previous round's last
    vote, or the deployment) to the one that finalized it: a round's chain latency in blocks, at
    least 2 (the proposal in the next block, then every vote in the block after)."""
    return [final - opened for opened, final in observer.round_blocks().values()]

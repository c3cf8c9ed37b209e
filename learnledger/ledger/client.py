"""The contract seen through the ``Ledger`` interface, acting as one member's account."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from web3 import Web3

from learnledger.ledger.abi import FunctionTable
from learnledger.ledger.api import (
    LedgerError,
    LedgerStatus,
    Member,
    Proposal,
    RoundRecord,
    RoundState,
    SharedModel,
    Succession,
    SuccessionState,
)
from learnledger.ledger.artifact import load_artifact
from learnledger.ledger.chain import chain_clock, is_embedded
from learnledger.ledger.errors import RevertDecoder
from learnledger.ledger.guard import check_contract
from learnledger.ledger.history import EventReader, RoundEventLog, fold_history
from learnledger.ledger.params import Deployment
from learnledger.ledger.sealed import vote_commitment
from learnledger.ledger.transact import Transactor

VIEW_BLOCK = "pending"
"""Views read the block the next transaction lands in, so a state read here is the state an
action sent now would meet (the latest block's clock may already be past a deadline's edge)."""

HISTORY_READS = 3
"""How many times ``history`` reads again when a round closes while it reads (one more is plenty)."""

GAS_LIMITS = {"propose": 120_000, "vote": 120_000, "finalize": 120_000}
"""Gas sent with a round action that the status just read allows, instead of simulating it first.

Each covers its function's worst case with room to spare (docs/gas.md): propose 57.7k with a
59-character CID, about 60k with the longest CID the contract takes (128 bytes); a vote 37.5k, 56.8k
as a member's first vote in a new word of ballot bits; the last vote, which finalizes the round and
opens the next, 74.2k, about 94k in a new word; finalize 65.0k. Only the gas used is paid; the limit
counts against a block's gas, so 250 votes still fit one 30M block. tests/test_gas_limits.py runs
every worst case with these limits on a real chain."""


class ContractLedger:
    """One member's typed client of a deployed experiment (implements ``api.Ledger``).

    On construction it checks that ``w3`` serves the record's chain and that the contract there is
    this artifact's (``guard.check_contract``), and refuses otherwise.

    Args:
        w3: a connection to the chain holding ``deployment``.
        deployment: where the contract lives (from ``deploy`` or ``Deployment.load``).
        key: the private key (hex) this handle signs with; it need not be a member's (anyone may
            finalize), but only members propose and vote.
        clock: the chain's idea of now, for deadlines. Default: the latest block's time or the
            wall clock, whichever is later.
    """

    def __init__(
        self,
        w3: Web3,
        deployment: Deployment,
        key: str,
        clock: Callable[[], float] | None = None,
    ) -> None:
        artifact = load_artifact()
        check_contract(w3, deployment.address, artifact.deployed_bytecode, deployment.chain_id,
                       deployed_at=deployment.block)
        self.w3 = w3
        self.deployment = deployment
        self.contract = w3.eth.contract(address=deployment.address, abi=artifact.abi)
        self._functions = FunctionTable(artifact.abi)
        self._sender = Transactor(w3, key, RevertDecoder(artifact.abi))
        self._events = EventReader(w3, deployment.address, artifact.abi)
        embedded = is_embedded(w3)  # no reorgs to follow there
        self._embedded = embedded
        self._round_events = (RoundEventLog(self._events, deployment.block, rescan_blocks=0) if embedded
                              else RoundEventLog.shared(self._events, deployment.block))
        self._clock = clock or (lambda: chain_clock(w3))
        self._members: tuple[Member, ...] | None = None
        self._reveal_window: int | None = None
        self._remember: Callable[[Any, Callable[[], Any]], Any] | None = getattr(w3.provider, "remember", None)
        """The embedded chain answers a read of a state it answered before from memory."""
        self._checked: LedgerStatus | None = None
        """The status read last, until the next action uses it to skip that action's simulation."""

    # ------------------------------------------------------------------------------- reading

    @property
    def account(self) -> str:
        return self._sender.address

    def _view(self, name: str, *args: Any) -> Any:
        def read() -> Any:
            return self._read(name, args, VIEW_BLOCK)

        return read() if self._remember is None else self._remember((self.deployment.address, name, args), read)

    def _read(self, name: str, args: tuple[Any, ...], block: str | int) -> Any:
        data = self._sender.read(self.deployment.address, self._functions.encode(name, args), block)
        return self._functions.decode(name, data)

    def head(self) -> int:
        """The number of the chain's latest block: one cheap call, to react to new blocks."""
        return int(self.w3.eth.block_number)

    def members(self) -> tuple[Member, ...]:
        """The roster with group names, read once from the registration events (it never changes)."""
        if self._members is None:
            registered = self._events.logs(self.deployment.block, ("MemberRegistered",))
            self._members = tuple(
                sorted(
                    (Member(int(a["index"]), a["member"], a["groupName"]) for _, a in registered),
                    key=lambda m: m.index,
                )
            )
        return self._members

    def status(self) -> LedgerStatus:
        """The contract's ``statusOf(account)``; an action that this status allows, sent next, is
        not simulated first (see ``GAS_LIMITS``)."""
        round, state, proposer, voted, finished = self._view("statusOf", self.account)
        self._checked = LedgerStatus(int(round), RoundState(state),
                                     None if int(proposer, 16) == 0 else str(proposer), bool(voted),
                                     bool(finished))
        return self._checked

    def current_round(self) -> int:
        return int(self._view("currentRound"))

    def is_finished(self) -> bool:
        return bool(self._view("isFinished"))

    def round_state(self, round: int) -> RoundState:
        return RoundState(self._view("roundState", round))

    def round_info(self, round: int) -> dict[str, Any]:
        """Everything the contract stores about ``round`` (its RoundInfo struct), in one call."""
        names = [c["name"] for c in _struct_components(self.contract.abi, "roundInfo")]
        info = dict(zip(names, self._view("roundInfo", round)))
        info["state"] = RoundState(info["state"])
        info["digest"] = bytes(info["digest"])
        return info

    def round_state_at(self, round: int, block: int | str) -> RoundState:
        """The state of ``round`` as of ``block`` (a number, or "latest"/"pending")."""
        return RoundState(self._read("roundState", (round,), block))

    def proposer_of(self, round: int) -> str:
        return str(self._view("proposerOf", round))

    def proposal(self, round: int) -> Proposal | None:
        """The proposal of ``round`` as the chain holds it now (read from the events each time, so a
        proposal that a reorganisation removed or replaced is never served from memory)."""
        def read() -> Proposal | None:
            found = None
            for name, args in self._round_events.refresh():
                if name == "WeightsProposed" and int(args["round"]) == round:
                    found = Proposal(round, args["proposer"], bytes(args["digest"]), args["cid"])
            return found

        return read() if self._remember is None else self._remember((self.deployment.address, "proposal", round), read)

    def current_model(self) -> SharedModel:
        digest, round_ = self._view("currentModel")
        return SharedModel(bytes(digest), int(round_))

    def has_voted(self, round: int, voter: str) -> bool:
        return bool(self._view("hasVoted", round, Web3.to_checksum_address(voter)))

    def reveal_window(self) -> int:
        """The contract's reveal window (a term fixed at deployment: read once)."""
        if self._reveal_window is None:
            self._reveal_window = int(self._view("revealWindow"))
        return self._reveal_window

    def commitment_of(self, round: int, voter: str) -> bytes:
        return bytes(self._view("commitmentOf", round, Web3.to_checksum_address(voter)))

    def seconds_until_deadline(self, round: int) -> float | None:
        deadline = int(self._view("deadlineOf", round))
        return None if deadline == 0 else deadline - self._clock()

    def predecessor(self) -> str | None:
        """The experiment this one succeeds, or None for the first of a line."""
        return _address_or_none(self._view("predecessor"))

    def successor(self) -> str | None:
        """The experiment that took this one over by an accepted succession, or None."""
        return _address_or_none(self._view("successor"))

    def initial_digest(self) -> bytes:
        """The digest of the weights this experiment started from (its round 0 model)."""
        return bytes(self._view("initialDigest"))

    def succession_state(self) -> SuccessionState:
        return SuccessionState(self._view("successionState"))

    def succession(self) -> Succession:
        """The latest succession proposal: its state from the contract, the rest from its events
        (state NONE and zeros before the first)."""
        state = SuccessionState(self._view("successionState"))
        events = list(self._events.logs(self.deployment.block, ("SuccessionProposed", "SuccessionVoteCast")))
        return fold_succession(state, events)
    def round_blocks(self) -> dict[int, tuple[int, int]]:
        """For each finalized round, the block that opened it and the block that finalized it (for
        a round's chain latency in blocks)."""
        since = self.deployment.block
        opened = {int(e["args"]["round"]): int(e["blockNumber"])
                  for e in self.contract.events.RoundOpened().get_logs(from_block=since)}
        final = {int(e["args"]["round"]): int(e["blockNumber"])
                 for e in self.contract.events.RoundFinalized().get_logs(from_block=since)}
        return {number: (opened[number], block) for number, block in sorted(final.items()) if number in opened}

    def history(self) -> list[RoundRecord]:
        """Every round so far, from the events; the open round's state from the contract.

        The events are read first and the open round's state after them, so a round can close in
        between: it would then show as final without its last votes and outcome. Such a read is
        thrown away and done again (rounds close seconds apart, so a second read suffices).
        """
        for _ in range(HISTORY_READS):
            closed_meanwhile: list[int] = []
            # On a node, the events and the open round's state are read at one block, so they agree
            # (a node's pending block may already hold a vote whose event is not in a mined block
            # yet). The embedded chain mines each transaction at once: its pending state is current.
            at_block, events = self._round_events.read()

            def state_of(round: int) -> RoundState:
                state = self.round_state(round) if self._embedded else self.round_state_at(round, at_block)
                if state.is_final:  # final, yet its RoundFinalized event was not in the read
                    closed_meanwhile.append(round)
                return state

            records = fold_history(iter(events), self.deployment.params.initial_digest, state_of)
            if not closed_meanwhile:
                return records
        raise LedgerError(f"rounds {closed_meanwhile} kept closing while the history was read "
                          f"{HISTORY_READS} times; read it again")

    # ------------------------------------------------------------------------------- acting

    def _send(self, name: str, *args: Any, checked: bool = False) -> dict[str, Any]:
        """Send ``name(*args)``: with its fixed gas limit and no simulation when ``checked`` (the
        status just read allows it) and ``GAS_LIMITS`` knows the function, else simulated first. A
        refusal is ``ContractRevert`` both ways: from the simulation, or named by replaying a
        transaction that reverted on chain."""
        return self._sender.send(self.deployment.address, "0x" + self._functions.encode(name, args).hex(),
                                 gas=GAS_LIMITS.get(name) if checked else None)

    def _allowed_by_status(self, round: int, action: str) -> bool:
        """Whether the status read last (used up by this call) allows ``action`` in ``round`` now."""
        status, self._checked = self._checked, None
        if status is None or status.finished or status.round != round:
            return False
        mine = status.proposer is not None and status.proposer.lower() == self.account.lower()
        if action == "propose":
            return status.state is RoundState.PROPOSING and mine
        if action == "vote":  # an open vote (the record's term): a sealed experiment takes commitments
            return (status.state is RoundState.VOTING and not mine and not status.voted
                    and self.deployment.params.reveal_window == 0)
        return status.state.can_finalize

    def propose(self, round: int, digest: bytes, cid: str) -> None:
        self._send("propose", round, digest, cid, checked=self._allowed_by_status(round, "propose"))

    def vote(self, round: int, approve: bool, vote_score: int, test_score: int) -> None:
        self._send("vote", round, approve, vote_score, test_score,
                   checked=self._allowed_by_status(round, "vote"))

    def commit_vote(self, round: int, approve: bool, vote_score: int, test_score: int, salt: bytes) -> None:
        self._send("commitVote", round, vote_commitment(approve, vote_score, test_score, salt, self.account, round))

    def reveal_vote(self, round: int, approve: bool, vote_score: int, test_score: int, salt: bytes) -> None:
        self._send("revealVote", round, approve, vote_score, test_score, salt)

    def finalize(self, round: int) -> None:
        self._send("finalize", round, checked=self._allowed_by_status(round, "finalize"))

    def propose_successor(self, successor: str) -> None:
        self._send("proposeSuccessor", Web3.to_checksum_address(successor))

    def vote_succession(self, approve: bool) -> None:
        self._send("voteSuccession", approve)

    def finalize_succession(self) -> None:
        self._send("finalizeSuccession")

    @property
    def last_gas_used(self) -> int:
        """Gas of this handle's last transaction (for the gas benchmark)."""
        return self._sender.last_gas_used


def fold_succession(state: SuccessionState, events: list[tuple[str, dict[str, Any]]]) -> Succession:
    """The latest succession from its events (``SuccessionProposed`` then its votes) and its state."""
    proposed = [args for name, args in events if name == "SuccessionProposed"]
    if not proposed:
        return Succession(state, 0, None, None, 0, (), 0, 0)
    latest = proposed[-1]
    number = int(latest["number"])
    votes = [(Web3.to_checksum_address(args["voter"]), bool(args["approve"])) for name, args in events
             if name == "SuccessionVoteCast" and int(args["number"]) == number]
    approvals = sum(approve for _, approve in votes)
    return Succession(state, number, Web3.to_checksum_address(latest["successor"]),
                      Web3.to_checksum_address(latest["proposer"]), int(latest["voteDeadline"]),
                      tuple(voter for voter, _ in votes), approvals, len(votes) - approvals)


def _address_or_none(value: str) -> str | None:
    return None if int(value, 16) == 0 else Web3.to_checksum_address(value)


def _struct_components(abi: list[dict[str, Any]], function: str) -> list[dict[str, Any]]:
    (entry,) = (e for e in abi if e.get("type") == "function" and e["name"] == function)
    components: list[dict[str, Any]] = entry["outputs"][0]["components"]
    return components

"""The competition contract through web3: deploy it, and act on it as one account.

Follows ``learnledger.ledger.client.ContractLedger``: the same Transactor (local signing, nonces,
revert decoding into ``ContractRevert``), the same event reader, views read at the pending block.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from web3 import Web3

from learnledger.competition.api import CompetitionStatus, EntryRecord, Phase, Reveal, score_range
from learnledger.competition.results import tally
from learnledger.ledger.abi import FunctionTable
from learnledger.ledger.api import LedgerError
from learnledger.ledger.artifact import ContractArtifact, load_artifact
from learnledger.ledger.chain import chain_clock
from learnledger.ledger.compile import COMPETITION_ARTIFACT_PATH
from learnledger.ledger.deploy import deploy_artifact, where_deployed
from learnledger.ledger.errors import RevertDecoder
from learnledger.ledger.guard import check_contract
from learnledger.ledger.history import EventReader
from learnledger.ledger.transact import Transactor

VIEW_BLOCK = "pending"
"""Views read the block the next transaction lands in (see ``ledger.client.VIEW_BLOCK``)."""

MAX_ROSTER = 64
"""The contract's limit on each roster (it bounds finalize's on-chain check of the medians)."""


def competition_artifact() -> ContractArtifact:
    """The committed build of ModelCompetition (no compiler needed)."""
    return load_artifact(COMPETITION_ARTIFACT_PATH)


@dataclass(frozen=True)
class CompetitionParams:
    """The contract's constructor arguments, in its order.

    Args:
        task: what is competed on, in words (or the CID of a description).
        metric: what evaluators report, e.g. "accuracy" (sent as metric * 1e6; a loss negated).
        entrants: addresses that may submit one model each (1..64, distinct).
        entrant_names: one research group's name per entrant.
        evaluators: addresses holding private test data (1..64, distinct; may also be entrants).
        evaluator_names: one research group's name per evaluator.
        entry_window: seconds from deployment to submit models. Default 3600.
        commit_window: seconds after the entry deadline to commit scores. Default 3600.
        reveal_window: seconds after the commit deadline to reveal them. Default 3600.
        min_score, max_score: the range of a revealed score (metric * 1e6). Default: the metric's
            own range, ``api.score_range(metric)``.
    """

    task: str
    metric: str
    entrants: tuple[str, ...]
    entrant_names: tuple[str, ...]
    evaluators: tuple[str, ...]
    evaluator_names: tuple[str, ...]
    entry_window: int = 3600
    commit_window: int = 3600
    reveal_window: int = 3600
    min_score: int | None = None
    max_score: int | None = None

    def __post_init__(self) -> None:
        for name in ("entrants", "entrant_names", "evaluators", "evaluator_names"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.min_score is None or self.max_score is None:
            low, high = score_range(self.metric)
            object.__setattr__(self, "min_score", low if self.min_score is None else self.min_score)
            object.__setattr__(self, "max_score", high if self.max_score is None else self.max_score)

    def constructor_args(self) -> tuple[Any, ...]:
        return (
            self.task,
            self.metric,
            list(self.entrants),
            list(self.entrant_names),
            list(self.evaluators),
            list(self.evaluator_names),
            [self.min_score, self.max_score],
            self.entry_window,
            self.commit_window,
            self.reveal_window,
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompetitionParams:
        return cls(**data)


@dataclass(frozen=True)
class CompetitionDeployment:
    """Where a competition lives (``competition.json``): enough for any group to find it."""

    address: str
    chain_id: int
    block: int
    rpc_url: str | None
    params: CompetitionParams
    tx_hash: str

    def to_json(self) -> str:
        data = asdict(self)
        data["params"] = self.params.to_dict()
        data["contract"] = "ModelCompetition"
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> CompetitionDeployment:
        try:
            data = json.loads(text)
            if data.get("contract") != "ModelCompetition":
                raise ValueError(f"contract is {data.get('contract')!r}, not 'ModelCompetition'")
            return cls(
                address=data["address"],
                chain_id=int(data["chain_id"]),
                block=int(data["block"]),
                rpc_url=data.get("rpc_url"),
                params=CompetitionParams.from_dict(data["params"]),
                tx_hash=data["tx_hash"],
            )
        except (ValueError, KeyError, TypeError) as error:
            raise LedgerError(
                f"not a valid competition record ({type(error).__name__}: {error}); "
                "write one with `learnledger compete deploy`"
            ) from None

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_json())

    @classmethod
    def load(cls, path: Path) -> CompetitionDeployment:
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            raise LedgerError(
                f"no competition record at {path}; deploy with `learnledger compete deploy --out {path}`"
            ) from None
        return cls.from_json(text)


def deploy_competition(
    w3: Web3, key: str, params: CompetitionParams, rpc_url: str | None = None
) -> CompetitionDeployment:
    """Deploy a competition with ``params`` from ``key``'s account; a roster or window the contract
    refuses raises ContractRevert naming it (e.g. ``CompetitionDuplicate``) before anything is sent."""
    receipt = deploy_artifact(w3, key, competition_artifact(), params.constructor_args())
    return CompetitionDeployment(**where_deployed(w3, receipt, rpc_url), params=params)


@dataclass(frozen=True)
class Audit:
    """Everything the leaderboard shows, read from the chain's events and views alone."""

    params: CompetitionParams
    phase: Phase
    entries: tuple[EntryRecord, ...]
    commits: tuple[str, ...]
    reveals: tuple[Reveal, ...]
    discarded: dict[str, str]
    """evaluator -> "NotCommitted" or "NotRevealed" (set at finalize)."""
    results: dict[int, tuple[int, int]]
    """entry index -> (median, score count), from the contract's EntryScored events."""
    winner: int | None

    @property
    def withholders(self) -> tuple[str, ...]:
        """Evaluators that committed and, the reveal window past, did not reveal."""
        if self.phase < Phase.Closed:
            return ()
        revealed = {r.evaluator for r in self.reveals}
        return tuple(e for e in self.commits if e not in revealed)


class CompetitionClient:
    """One account's typed client of a deployed competition (implements ``api.Competition``).

    Args:
        w3: a connection to the chain holding ``deployment``.
        deployment: where the competition lives.
        key: the private key (hex) this handle signs with.
        clock: the chain's idea of now. Default: the latest block's time or the wall clock.
    """

    def __init__(
        self,
        w3: Web3,
        deployment: CompetitionDeployment,
        key: str,
        clock: Callable[[], float] | None = None,
    ) -> None:
        artifact = competition_artifact()
        check_contract(w3, deployment.address, artifact.deployed_bytecode, deployment.chain_id,
                       name="the competition's contract")
        self.w3 = w3
        self.deployment = deployment
        self.contract = w3.eth.contract(address=deployment.address, abi=artifact.abi)
        self._functions = FunctionTable(artifact.abi)
        self._sender = Transactor(w3, key, RevertDecoder(artifact.abi))
        self._events = EventReader(w3, deployment.address, artifact.abi)
        self._clock = clock or (lambda: chain_clock(w3))

    # ------------------------------------------------------------------------------- reading

    @property
    def account(self) -> str:
        return self._sender.address

    @property
    def metric(self) -> str:
        return self.deployment.params.metric

    def _view(self, name: str, *args: Any) -> Any:
        data = self._sender.read(self.deployment.address, self._functions.encode(name, args), VIEW_BLOCK)
        return self._functions.decode(name, data)

    def _logs(self, *names: str) -> list[tuple[str, dict[str, Any]]]:
        return list(self._events.logs(self.deployment.block, names))

    def phase(self) -> Phase:
        return Phase(self._view("phase"))

    def status(self) -> CompetitionStatus:
        phase, entered, committed, revealed, count = self._view("statusOf", self.account)
        return CompetitionStatus(Phase(phase), bool(entered), bool(committed), bool(revealed), int(count))

    def deadlines(self) -> tuple[int, int, int]:
        """The entry, commit and reveal deadlines (unix seconds, inclusive)."""
        return (int(self._view("entryDeadline")), int(self._view("commitDeadline")),
                int(self._view("revealDeadline")))

    def seconds_until_deadline(self) -> float | None:
        phase = self.phase()
        if phase >= Phase.Closed:
            return None
        return self.deadlines()[int(phase)] - self._clock()

    def entries(self) -> tuple[EntryRecord, ...]:
        return tuple(
            EntryRecord(int(a["entryIndex"]), a["entrant"], bytes(a["specDigest"]), a["specCid"],
                        bytes(a["weightsDigest"]), a["weightsCid"])
            for _, a in self._logs("EntrySubmitted")
        )

    def reveals(self) -> tuple[Reveal, ...]:
        return tuple(Reveal(a["evaluator"], tuple(int(s) for s in a["scores"]))
                     for _, a in self._logs("ScoresRevealed"))

    def winner(self) -> int | None:
        """The winning entry's index once finalized (None before, or if nothing was scored)."""
        has_winner, index = self._view("winner")
        return int(index) if has_winner else None

    def result_of(self, index: int) -> tuple[int, int]:
        """(median, score count) of entry ``index``; zeros until finalized."""
        median, count, _ = self._view("resultOf", index)
        return int(median), int(count)

    def score_range(self) -> tuple[int, int]:
        """The lowest and highest score a reveal may carry (metric * 1e6)."""
        low, high = self._view("scoreRange")
        return int(low), int(high)

    def audit(self) -> Audit:
        """The whole competition from its events: entries, commits, reveals, discards, results."""
        events = self._logs("EntrySubmitted", "ScoresCommitted", "ScoresRevealed",
                            "EvaluatorDiscarded", "EntryScored", "CompetitionFinalized")
        commits = tuple(a["evaluator"] for n, a in events if n == "ScoresCommitted")
        discarded = {a["evaluator"]: ("NotCommitted", "NotRevealed")[int(a["reason"])]
                     for n, a in events if n == "EvaluatorDiscarded"}
        results = {int(a["entryIndex"]): (int(a["median"]), int(a["scoreCount"]))
                   for n, a in events if n == "EntryScored"}
        finals = [a for n, a in events if n == "CompetitionFinalized"]
        winner = int(finals[0]["winnerIndex"]) if finals and finals[0]["hasWinner"] else None
        return Audit(self.deployment.params, self.phase(), self.entries(), commits, self.reveals(),
                     discarded, results, winner)

    # ------------------------------------------------------------------------------- acting

    def _send(self, name: str, *args: Any) -> dict[str, Any]:
        return self._sender.send(self.deployment.address, "0x" + self._functions.encode(name, args).hex())

    def enter(self, spec_digest: bytes, spec_cid: str, weights_digest: bytes, weights_cid: str) -> int:
        """Submit a model; returns its entry index."""
        receipt = self._send("enter", spec_digest, spec_cid, weights_digest, weights_cid)
        event = self.contract.events.EntrySubmitted().process_receipt(receipt)
        return int(event[0]["args"]["entryIndex"])

    def commit(self, commitment: bytes) -> None:
        self._send("commit", commitment)

    def reveal(self, scores: tuple[int, ...], salt: bytes) -> None:
        self._send("reveal", list(scores), salt)

    def finalize(self) -> None:
        """Finalize with every entry's lower median, computed from the revealed scores (the
        contract checks each and refuses a wrong one)."""
        medians = [r.median or 0 for r in tally(self.entries(), self.reveals())]
        self._send("finalize", medians)

    @property
    def last_gas_used(self) -> int:
        """Gas of this handle's last transaction (for the gas benchmark)."""
        return self._sender.last_gas_used

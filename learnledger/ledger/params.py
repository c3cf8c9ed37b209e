"""What an experiment is deployed with, and where it was deployed (``deployment.json``)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from learnledger.ledger.api import DEFAULT_THRESHOLD_BPS, LedgerError

ZERO_ADDRESS = "0x" + "00" * 20

GROUP_NAME_BYTES = 32
"""A group name is one word on-chain (the constructor takes ``bytes32[]``), so at most 32 bytes."""
"""No predecessor: the first experiment of a line."""

MAX_MEMBERS = 256
"""The contract's roster limit (one bit per member in a 256-bit word)."""


@dataclass(frozen=True)
class ExperimentParams:
    """The contract's constructor arguments, in its order.

    Args:
        members: the roster's addresses (1..256, distinct, nonzero); the order is the roster index.
        group_names: one research group's name per member.
        spec_digest: sha256 of the model spec (32 bytes); ``spec_cid`` names it in the store.
        initial_digest: sha256 of the initial weights (32 bytes); ``initial_cid`` names them.
        threshold_bps: approvals needed, in basis points of the eligible voters. Default 5000.
        proposal_window: seconds the proposer has from the round's opening. Default 3600.
        vote_window: seconds the voters have from the proposal. Default 3600.
        max_rounds: the experiment ends after this many rounds; 0 = unlimited. Default 0.
        reveal_window: seconds for reveals after the vote window; 0 = open votes, anything more
            seals the votes (commit, then reveal). Default 0.
        predecessor: the experiment this one succeeds (its initial weights are that one's shared
            model, see ``docs/succession.md``); the zero address for the first. Default zero.
    """

    members: tuple[str, ...]
    group_names: tuple[str, ...]
    spec_digest: bytes
    spec_cid: str
    initial_digest: bytes
    initial_cid: str
    threshold_bps: int = DEFAULT_THRESHOLD_BPS
    proposal_window: int = 3600
    vote_window: int = 3600
    max_rounds: int = 0
    reveal_window: int = 0
    predecessor: str = ZERO_ADDRESS

    def __post_init__(self) -> None:
        # Tuples even when given lists, so the params stay hashable and comparable.
        object.__setattr__(self, "members", tuple(self.members))
        object.__setattr__(self, "group_names", tuple(self.group_names))
        for name in ("spec_digest", "initial_digest"):
            value = getattr(self, name)
            if not isinstance(value, (bytes, bytearray)) or len(value) != 32:
                raise LedgerError(f"{name} must be 32 bytes (a sha256 digest), received: {value!r}")
            object.__setattr__(self, name, bytes(value))
        for index, group in enumerate(self.group_names):
            encoded = str(group).encode("utf-8")
            if len(encoded) > GROUP_NAME_BYTES or b"\0" in encoded:
                raise LedgerError(f"group name {index + 1} ({group!r}) must be at most {GROUP_NAME_BYTES} bytes "
                                  f"of UTF-8 without NUL ({len(encoded)} bytes): the contract keeps each name in one "
                                  "word; choose a shorter name")

    def constructor_args(self) -> tuple[Any, ...]:
        """The arguments in the order the contract's constructor takes them."""
        return (
            list(self.members),
            [group.encode("utf-8").ljust(GROUP_NAME_BYTES, b"\0") for group in self.group_names],
            self.threshold_bps,
            self.proposal_window,
            self.vote_window,
            self.spec_digest,
            self.spec_cid,
            self.initial_digest,
            self.initial_cid,
            self.max_rounds,
            self.reveal_window,
            self.predecessor,
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["members"] = list(self.members)
        data["group_names"] = list(self.group_names)
        data["spec_digest"] = "0x" + self.spec_digest.hex()
        data["initial_digest"] = "0x" + self.initial_digest.hex()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentParams:
        values = dict(data)
        for name in ("spec_digest", "initial_digest"):
            values[name] = bytes.fromhex(str(values[name]).removeprefix("0x"))
        values["members"] = tuple(values["members"])
        values["group_names"] = tuple(values["group_names"])
        return cls(**values)


@dataclass(frozen=True)
class Deployment:
    """Where an experiment lives: enough for any member's agent to find and check it."""

    address: str
    chain_id: int
    block: int
    rpc_url: str | None
    params: ExperimentParams
    tx_hash: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        data = {
            "address": self.address,
            "chain_id": self.chain_id,
            "block": self.block,
            "rpc_url": self.rpc_url,
            "tx_hash": self.tx_hash,
            "params": self.params.to_dict(),
        }
        if self.extra:
            data["extra"] = self.extra
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Deployment:
        try:
            data = json.loads(text)
            return cls(
                address=data["address"],
                chain_id=int(data["chain_id"]),
                block=int(data["block"]),
                rpc_url=data.get("rpc_url"),
                params=ExperimentParams.from_dict(data["params"]),
                tx_hash=data["tx_hash"],
                extra=dict(data.get("extra", {})),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise LedgerError(
                f"not a valid deployment record ({type(error).__name__}: {error}); "
                "write one with `learnledger deploy`"
            ) from None

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_json())

    @classmethod
    def load(cls, path: Path) -> Deployment:
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            raise LedgerError(
                f"no deployment record at {path}; deploy with `learnledger deploy --out {path}`"
            ) from None
        return cls.from_json(text)

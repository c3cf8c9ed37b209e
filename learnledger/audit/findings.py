"""A finding: one thing the audit found that does not hold, said so that a person can act on it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """``check`` names the check that failed; ``round`` is 0 for the experiment as a whole."""

    check: str
    round: int
    message: str

    def __str__(self) -> str:
        where = f"round {self.round}" if self.round else "experiment"
        return f"[{self.check}] {where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"check": self.check, "round": self.round, "message": self.message}

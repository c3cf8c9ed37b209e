"""The run folder: everything a run leaves behind, written as it goes so a crash loses nothing.

    rounds.jsonl        one line per finalized round (appended and flushed as each round ends)
    agents/<group>.jsonl  each agent's own account of its rounds (scores, vote, timings)
    deployment.json     where the contract lives (or the reference ledger's parameters)
    store/              the embedded weight store of the run (every proposal and the spec)
    final.safetensors   the final shared model
    summary.json        final mean test score, rounds accepted/rejected/skipped, wall time
    history.png         the paper's Figure 2, drawn from rounds.jsonl
    chain.json          launch only: the devnet's saved state (an audit brings it back up)
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from learnledger.agents.agent import RoundLog
from learnledger.report.terms import ExperimentTerms

RUN_FILES = ("rounds.jsonl", "summary.json", "final.safetensors", "deployment.json", "history.png",
             "chain.json")
RUN_FOLDERS = ("agents", "store", "keys", "ipfs")


class RunFolder:
    """One run's output folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, path: Path) -> RunFolder:
        """Make ``path`` ready for a new run; the outputs of an earlier run there are replaced."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(f"the run folder {path} is a file; choose another --out")
        path.mkdir(parents=True, exist_ok=True)
        for name in RUN_FILES:
            (path / name).unlink(missing_ok=True)
        for folder in RUN_FOLDERS:
            shutil.rmtree(path / folder, ignore_errors=True)
        (path / "agents").mkdir()
        return cls(path)

    @staticmethod
    def earlier_run(path: Path) -> str | None:
        """What an earlier run left in ``path``, in words (None if nothing): a finished run, or an
        interrupted one and how far it got. ``create`` would replace it."""
        path = Path(path)
        if not path.is_dir():
            return None
        if (path / "summary.json").exists():
            return "a finished run (summary.json)"
        rounds = path / "rounds.jsonl"
        if rounds.exists():
            count = sum(1 for line in rounds.read_text().splitlines() if line.strip())
            return f"an interrupted run ({count} round{'s' if count != 1 else ''} in rounds.jsonl)"
        if any((path / name).exists() for name in RUN_FILES) or any(
                (path / folder).is_dir() and any((path / folder).iterdir()) for folder in RUN_FOLDERS):
            return "an interrupted run (stopped before its first round)"
        return None

    @property
    def store_dir(self) -> Path:
        return self.path / "store"

    def write_text(self, name: str, text: str) -> None:
        self._atomic(name, text.encode())

    def write_bytes(self, name: str, data: bytes) -> None:
        self._atomic(name, data)

    def append_round(self, row: Mapping[str, object]) -> None:
        append_line(self.path / "rounds.jsonl", row)

    def agent_logger(self, group: str) -> Callable[[RoundLog], None]:
        """A callback that appends an agent's round log to agents/<group>.jsonl."""
        target = self.path / "agents" / f"{group}.jsonl"
        return lambda entry: append_line(target, entry.as_dict())

    def draw_history(self, rows: Sequence[Mapping[str, object]], groups: Sequence[str], title: str,
                     terms: ExperimentTerms | None = None,
                     final_test_scores: Mapping[str, float] | None = None) -> None:
        from learnledger.report.history_plot import plot_history

        plot_history(rows, groups, self.path / "history.png", title=title, terms=terms,
                     final_test_scores=final_test_scores)

    def _atomic(self, name: str, data: bytes) -> None:
        target = self.path / name
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)


def append_line(path: Path, row: Mapping[str, object]) -> None:
    """Append ``row`` to a JSON-lines file and flush it, so a crash loses at most the line in flight."""
    with path.open("a") as out:
        out.write(json.dumps(row, sort_keys=True) + "\n")
        out.flush()

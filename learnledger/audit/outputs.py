"""An experiment's outputs rebuilt from the chain: what ``learnledger run`` writes, for any deployment.

On the step-by-step path every agent is its own process and writes only its own log; nobody writes
the experiment's ``rounds.jsonl``, ``history.png`` or ``summary.json``. The audit can, from the
chain alone (``learnledger audit --out DIR``): the same files, in the same shapes, plus the HTML
report. Final scores come from the experiment's run where one left them, else from the chain (the
voters' test scores of the last accepted proposal), and the summary says which.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from learnledger.audit.run import AuditReport
from learnledger.audit.terms import ReportTerms
from learnledger.report.headline import final_result
from learnledger.report.rounds import write_jsonl

OUTPUT_FILES = ("rounds.jsonl", "history.png", "summary.json", "report.html")


def chain_summary(report: AuditReport, gathered: ReportTerms) -> dict[str, Any]:
    """summary.json as ``run`` writes it (``learnledger.report.summary.summarize``), from the chain.

    ``wall_time_s`` is the chain's time from the first round's opening to the last finalization;
    ``final_mean_test_error`` its binomial error (None where the test-set sizes are unknown).
    """
    from learnledger.report.summary import summarize

    terms = gathered.terms
    headline = final_result(report.rows, terms, gathered.final_test_scores or None)
    opened = [r["opened"]["time"] for r in report.rows if (r.get("opened") or {}).get("time") is not None]
    closed = [r["finalized"]["time"] for r in report.rows if (r.get("finalized") or {}).get("time") is not None]
    summary = summarize(
        terms.name or report.address, f"chain {report.views.chain_id}, contract {report.address}", report.rows,
        headline.scores if headline else {}, report.views.model_digest.hex(),
        float(max(closed) - min(opened)) if opened and closed else 0.0,
    )
    summary.update({
        "final_mean_test_error": headline.error if headline else None,
        "final_scores_source": headline.source if headline else None,
        "terms": terms.as_dict(),
        "audit": {"ok": report.ok, "findings": [str(f) for f in report.findings],
                  "blocks": [report.from_block, report.to_block]},
    })
    return summary


def write_outputs(
    report: AuditReport,
    gathered: ReportTerms,
    out: Path,
    html: str,
    history_png: bytes | None,
) -> list[Path]:
    """Write rounds.jsonl, history.png (if drawn), summary.json and report.html into ``out``.

    Raises:
        NotADirectoryError: ``out`` is a file.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file; name a folder")
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "rounds.jsonl", out / "summary.json", out / "report.html"]
    write_jsonl(out / "rounds.jsonl", report.rows)
    _atomic(out / "summary.json", json.dumps(chain_summary(report, gathered), indent=2, sort_keys=True) + "\n")
    _atomic(out / "report.html", html)
    if history_png is not None:
        (out / "history.png").write_bytes(history_png)
        written.insert(1, out / "history.png")
    return written


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def same_rounds(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]) -> bool:
    """Whether two lists of rounds agree on everything ``run``'s rounds.jsonl holds (extra keys aside)."""
    keys = ("round", "proposer", "proposer_address", "outcome", "cid", "digest", "approvals", "rejections",
            "model_digest")

    def core(row: Mapping[str, Any]) -> dict[str, Any]:
        votes = {g: {k: v.get(k) for k in ("approve", "vote_score", "test_score")}
                 for g, v in dict(row.get("votes") or {}).items()}
        return {**{k: row.get(k) for k in keys}, "votes": votes}

    return [core(r) for r in a] == [core(r) for r in b]

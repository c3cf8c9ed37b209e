"""The audit for people: a table on the terminal, the history plot, and one self-contained HTML page.

The page holds everything it shows (styles inline, plots as base64 PNG), so it can be mailed, archived
next to a paper, or opened years later with no server and no network.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from learnledger.audit.run import AuditReport
from learnledger.audit.valuation import GroupValue

TABLE_ROWS = 40
"""Rounds the terminal table shows (the last ones); the JSON lines and the HTML page hold them all."""


def _score(value: object) -> str:
    return "-" if value is None else f"{float(value):.4f}"  # type: ignore[arg-type]


def _short(text: object, keep: int = 10) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= keep + 1 else text[:keep] + "…"


def rounds_table(report: AuditReport, limit: int = TABLE_ROWS) -> Table:
    """One line per round (the last ``limit``): proposer, outcome, tallies, mean scores, CID."""
    rows = report.rows[-limit:] if limit else report.rows
    title = f"{len(report.rows)} rounds" + (f" (last {len(rows)} shown)" if len(rows) < len(report.rows) else "")
    table = Table(title=title)
    for name in ("round", "proposer", "outcome", "yes/no", "mean vote", "mean test", "CID", "block"):
        table.add_column(name, justify="right" if name in ("round", "block") else "left")
    for row in rows:
        votes: Mapping[str, Mapping[str, Any]] = row["votes"]
        vote_scores = [v["vote_score"] for v in votes.values() if v["vote_score"] is not None]
        test_scores = [v["test_score"] for v in votes.values() if v["test_score"] is not None]
        finalized = row.get("finalized") or {}
        table.add_row(str(row["round"]), str(row["proposer"]), str(row["outcome"]),
                      f"{row['approvals']}/{row['rejections']}",
                      _score(sum(vote_scores) / len(vote_scores) if vote_scores else None),
                      _score(sum(test_scores) / len(test_scores) if test_scores else None),
                      _short(row["cid"], 14), str(finalized.get("block", "")))
    return table


def valuation_table(values: Sequence[GroupValue]) -> Table:
    table = Table(title="dataset valuation (ranked by total test-score gain)")
    for name in ("rank", "group", "proposals", "accepted", "rate", "mean gain", "total gain"):
        table.add_column(name, justify="left" if name == "group" else "right")
    for v in values:
        table.add_row(str(v.rank), v.group, str(v.proposals), str(v.accepted),
                      "-" if v.acceptance_rate is None else f"{v.acceptance_rate:.0%}",
                      "-" if v.mean_gain is None else f"{v.mean_gain:+.4f}", f"{v.total_gain:+.4f}")
    return table


def draw_history(rows: Sequence[Mapping[str, Any]], groups: Sequence[str], path: Path, title: str) -> None:
    """The paper's Figure 2 from the rows (``learnledger.report.history_plot``)."""
    from learnledger.report.history_plot import plot_history

    plot_history(rows, list(groups), path, title=title)


def valuation_png(values: Sequence[GroupValue]) -> bytes:
    """A bar chart of accepted and rejected proposals per group, best ranked first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 0.5 + 0.4 * max(1, len(values))))
    names = [v.group for v in values][::-1]
    accepted = [v.accepted for v in values][::-1]
    refused = [v.proposals - v.accepted for v in values][::-1]
    axis.barh(names, accepted, color="#2a7", label="accepted")
    axis.barh(names, refused, left=accepted, color="#c44", label="not accepted")
    axis.set_xlabel("proposals")
    axis.legend(loc="lower right")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:75em}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3} td.l{text-align:left;font-family:monospace}
.ok{color:#1a7f37;font-weight:bold} .bad{color:#c62828;font-weight:bold}
img{max-width:100%;border:1px solid #ddd}
"""

_SCRIPT = """
document.addEventListener('DOMContentLoaded',function(){
  var imgs=document.images,left=imgs.length,ok=0;
  function done(){if(--left===0){document.body.setAttribute('data-images-loaded',String(ok));}}
  if(!left){document.body.setAttribute('data-images-loaded','0');}
  for(var i=0;i<imgs.length;i++){var im=imgs[i];
    if(im.complete){if(im.naturalWidth>0)ok++;done();}
    else{im.onload=function(){if(this.naturalWidth>0)ok++;done();};im.onerror=done;}}
});
"""


def html_report(
    report: AuditReport,
    values: Sequence[GroupValue],
    images: Mapping[str, bytes],
    evaluation: Mapping[str, Mapping[str, float]] | None = None,
) -> str:
    """The whole audit as one HTML page; ``images`` maps a caption to PNG bytes (embedded)."""
    e = html.escape
    verdict = ("<p class=ok>All checks hold.</p>" if report.ok else
               f"<p class=bad>{len(report.findings)} check(s) failed.</p><ul>" +
               "".join(f"<li>{e(str(f))}</li>" for f in report.findings) + "</ul>")
    verified = ("not fetched (run with --verify)" if report.verified_files is None else
                f"{report.verified_files} files, {report.verified_bytes:,} bytes checked")
    facts = [("contract", report.address), ("chain id", report.views.chain_id),
             ("blocks read", f"{report.from_block}..{report.to_block} (head {report.views.head})"),
             ("members", ", ".join(report.groups)), ("rounds", len(report.rows)),
             ("current model", "0x" + report.views.model_digest.hex() + f" (round {report.views.model_round})"),
             ("store", verified)]
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>LearnLedger audit "
             f"{e(report.address)}</title><style>{_STYLE}</style><script>{_SCRIPT}</script></head><body>",
             f"<h1>Audit of experiment {e(report.address)}</h1>", verdict, "<table>"]
    parts += [f"<tr><th>{e(k)}</th><td class=l>{e(str(v))}</td></tr>" for k, v in facts]
    parts.append("</table>")
    for caption, png in images.items():
        data = base64.b64encode(png).decode()
        parts.append(f"<figure><img alt='{e(caption)}' src='data:image/png;base64,{data}'>"
                     f"<figcaption>{e(caption)}</figcaption></figure>")
    parts.append("<h2>Dataset valuation</h2><table id=valuation><tr><th>rank</th><th>group</th><th>proposals</th>"
                 "<th>accepted</th><th>rate</th><th>mean gain</th><th>total gain</th></tr>")
    for v in values:
        rate = "-" if v.acceptance_rate is None else f"{v.acceptance_rate:.0%}"
        gain = "-" if v.mean_gain is None else f"{v.mean_gain:+.4f}"
        parts.append(f"<tr><td>{v.rank}</td><td class=l>{e(v.group)}</td><td>{v.proposals}</td>"
                     f"<td>{v.accepted}</td><td>{rate}</td><td>{gain}</td><td>{v.total_gain:+.4f}</td></tr>")
    parts.append("</table>")
    if evaluation:
        parts.append("<h2>Final model on local data</h2><table id=evaluation><tr><th>data</th><th>split</th>"
                     "<th>score</th></tr>")
        for name, scores in evaluation.items():
            parts += [f"<tr><td class=l>{e(name)}</td><td class=l>{e(split)}</td><td>{score:.4f}</td></tr>"
                      for split, score in scores.items()]
        parts.append("</table>")
    parts.append("<h2>Rounds</h2><table id=rounds><tr><th>round</th><th>proposer</th><th>outcome</th>"
                 "<th>yes/no</th><th>votes (group: vote / test score)</th><th>CID</th><th>digest</th></tr>")
    for row in report.rows:
        votes = "; ".join(f"{g}: {'yes' if v['approve'] else 'no'} {_score(v['vote_score'])} / "
                          f"{_score(v['test_score'])}" for g, v in row["votes"].items())
        parts.append(f"<tr><td>{row['round']}</td><td class=l>{e(str(row['proposer']))}</td>"
                     f"<td class=l>{e(str(row['outcome']))}</td><td>{row['approvals']}/{row['rejections']}</td>"
                     f"<td class=l>{e(votes)}</td><td class=l>{e(str(row['cid'] or '-'))}</td>"
                     f"<td class=l>{e(_short(row['digest'], 16))}</td></tr>")
    parts.append("</table></body></html>\n")
    return "".join(parts)

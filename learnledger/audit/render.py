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

from datetime import datetime, timezone

from rich.table import Table

from learnledger.audit.run import AuditReport
from learnledger.audit.valuation import GroupValue
from learnledger.report.headline import final_result
from learnledger.report.stats import mean_error, plus_minus
from learnledger.report.terms import ExperimentTerms

TABLE_ROWS = 40
"""Rounds the terminal table shows (the last ones); the JSON lines and the HTML page hold them all."""


def _score(value: object) -> str:
    return "-" if value is None else f"{float(value):.4f}"  # type: ignore[arg-type]


def _short(text: object, keep: int = 10) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= keep + 1 else text[:keep] + "…"


def approvals_text(row: Mapping[str, Any]) -> str:
    """``1/2``: approvals out of the votes cast, as ``learnledger run`` prints them."""
    return f"{row['approvals']}/{int(row['approvals']) + int(row['rejections'])}"


def mean_scores(row: Mapping[str, Any], key: str) -> dict[str, float]:
    """group -> the ``key`` score ("vote_score" or "test_score") each voter gave the round's proposal."""
    votes: Mapping[str, Mapping[str, Any]] = row.get("votes") or {}
    return {g: float(v[key]) for g, v in votes.items() if v.get(key) is not None}


def _mean(scores: Mapping[str, float]) -> float | None:
    return sum(scores.values()) / len(scores) if scores else None


def round_duration(row: Mapping[str, Any]) -> float | None:
    """Seconds from the round's opening to its finalization, on the chain's clock (None if unknown)."""
    opened, finalized = (row.get("opened") or {}).get("time"), (row.get("finalized") or {}).get("time")
    return None if opened is None or finalized is None else float(finalized - opened)


def _utc(seconds: object) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(float(seconds), tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")  # type: ignore[arg-type]


def rounds_table(report: AuditReport, limit: int = TABLE_ROWS, terms: ExperimentTerms | None = None) -> Table:
    """One line per round (the last ``limit``): proposer, outcome, approvals, mean scores, CID."""
    terms = terms or ExperimentTerms()
    rows = report.rows[-limit:] if limit else report.rows
    title = f"{len(report.rows)} rounds" + (f" (last {len(rows)} shown)" if len(rows) < len(report.rows) else "")
    table = Table(title=title)
    columns = ("round", "proposer", "outcome", "approvals", f"mean {terms.score_label('vote')}",
               f"mean {terms.score_label('test')}", "CID", "block")
    for name in columns:
        table.add_column(name, justify="right" if name in ("round", "block", "approvals") else "left")
    for row in rows:
        finalized = row.get("finalized") or {}
        table.add_row(str(row["round"]), str(row["proposer"]), str(row["outcome"]), approvals_text(row),
                      _score(_mean(mean_scores(row, "vote_score"))), _score(_mean(mean_scores(row, "test_score"))),
                      _short(row["cid"], 14), str(finalized.get("block", "")))
    return table


def _rank(value: GroupValue) -> str:
    return f"{value.rank}=" if value.tied else str(value.rank)


def _gain(value: float | None, error: float | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:+.4f}" if error is None else f"{value:+.4f} \u00b1 {error:.4f}"


def _total_gain(value: GroupValue) -> str:
    """The total gain with its error; a group with no gain measured shows a bare +0.0000."""
    return _gain(value.total_gain, value.total_gain_error if value.mean_gain is not None else None)


def valuation_table(values: Sequence[GroupValue]) -> Table:
    table = Table(title="dataset valuation (rank: 1 + groups whose total test-score gain is higher by more "
                        "than 2 errors; '=' marks groups the noise cannot tell apart)")
    for name in ("rank", "group", "proposals", "accepted", "rate", "mean gain", "total gain", "not distinguishable from"):
        table.add_column(name, justify="left" if name == "group" else "right")
    for v in values:
        table.add_row(_rank(v), v.group, str(v.proposals), str(v.accepted),
                      "-" if v.acceptance_rate is None else f"{v.acceptance_rate:.0%}",
                      _gain(v.mean_gain), _total_gain(v),
                      ", ".join(v.indistinguishable) or "-")
    return table


def draw_history(rows: Sequence[Mapping[str, Any]], groups: Sequence[str], path: Path, title: str,
                 terms: ExperimentTerms | None = None,
                 final_test_scores: Mapping[str, float] | None = None,
                 marks: Sequence[tuple[float, str]] = ()) -> None:
    """The paper's Figure 2 from the rows (``learnledger.report.history_plot``)."""
    from learnledger.report.history_plot import plot_history

    plot_history(rows, list(groups), path, title=title, terms=terms, final_test_scores=final_test_scores,
                 marks=marks)


def valuation_png(values: Sequence[GroupValue]) -> bytes:
    """A bar chart of accepted and rejected proposals per group (whole counts), best ranked first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, axis = plt.subplots(figsize=(6.5, 1.1 + 0.4 * max(1, len(values))))
    names = [v.group for v in values][::-1]
    accepted = [v.accepted for v in values][::-1]
    refused = [v.proposals - v.accepted for v in values][::-1]
    axis.barh(names, accepted, color="#2a7", label="accepted")
    axis.barh(names, refused, left=accepted, color="#c44", label="not accepted")
    axis.set_xlabel("proposals (whole counts)")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlim(0, max([v.proposals for v in values] + [1]))
    for side in ("top", "right"):
        axis.spines[side].set_visible(False)
    # The legend sits above the bars, never on them.
    axis.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, frameon=False, fontsize=9)
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
.sub,.note{color:#555} .headline{font-size:1.35em;margin:.6em 0} .tie{color:#8a5a00}
dl{display:grid;grid-template-columns:12em 1fr;gap:.3em 1em;font-size:.92em} dt{font-weight:bold}
dd{margin:0} tr.rejected td{background:#fdf1f0} tr.skipped td{color:#777}
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


DEFINITIONS = (
    ("test score", "the metric (e.g. accuracy: the fraction of examples classified right) that a voter measured "
                   "for the round's proposal on its own private test set; the test sets are never used to decide."),
    ("vote score", "the same metric on the voter's private vote set: the score it voted on. A voter approves "
                   "when the proposal's vote score beats the current shared model's."),
    ("approvals a/b", "a of the b votes cast approved; a proposal is accepted when a reaches the threshold."),
    ("mean of voters", "the mean over the voters of their scores of the round's proposal."),
    ("shared model (mean)", "the model the members hold after the round: the last accepted proposal. Its "
                            "score is the mean of the voters' test scores of that proposal (before any "
                            "acceptance: the initial weights, round 0, where they were measured)."),
    ("gain", "for an accepted proposal: the mean, over the voters that scored both, of its test score minus "
             "their test score of the shared model it replaced. A group's total gain sums its accepted "
             "proposals' gains; the first accepted proposal has no on-chain baseline and no gain."),
    ("\u00b1 (error)", "the binomial standard error sqrt(p(1-p)/n) of an accuracy measured on n test examples; a "
                        "mean over groups adds their errors in quadrature. A gain's error treats the two "
                        "scores as independent (cautious). A group's rank counts only the groups whose "
                        "total gain is higher by more than 2 errors; '=' marks a group the noise cannot tell "
                        "apart from another."),
    ("round time", "from the round's opening to its finalization, on the chain's clock (block timestamps)."),
)
"""What every name on the page means; shown under the figures."""


def html_report(
    report: AuditReport,
    values: Sequence[GroupValue],
    images: Mapping[str, bytes],
    evaluation: Mapping[str, Mapping[str, float]] | None = None,
    terms: ExperimentTerms | None = None,
    final_test_scores: Mapping[str, float] | None = None,
) -> str:
    """The whole audit as one HTML page; ``images`` maps a caption to PNG bytes (embedded).

    Args:
        terms: the experiment's name and terms (title, terms table, errors, round 0). Default unknown.
        final_test_scores: every group's test score of the final model (a run's summary.json), for
            the headline; default: the voters' test scores of the last accepted proposal.
    """
    e = html.escape
    terms = terms or ExperimentTerms()
    name = terms.name or f"experiment {report.address}"
    verdict = ("<p class=ok>All checks hold.</p>" if report.ok else
               f"<p class=bad>{len(report.findings)} check(s) failed.</p><ul>" +
               "".join(f"<li>{e(str(f))}</li>" for f in report.findings) + "</ul>")
    verified = ("not fetched (run with --verify)" if report.verified_files is None else
                f"{report.verified_files} files, {report.verified_bytes:,} bytes checked")
    facts = [("contract", report.address), ("chain id", report.views.chain_id),
             ("blocks read", f"{report.from_block}..{report.to_block} (head {report.views.head})"),
             ("members (roster order)", ", ".join(report.groups)), ("rounds", len(report.rows)),
             ("current model", "0x" + report.views.model_digest.hex() + f" (round {report.views.model_round})"),
             ("store", verified)]
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{e(name)}: LearnLedger report"
             f"</title><style>{_STYLE}</style><script>{_SCRIPT}</script></head><body>",
             f"<h1 id=title>{e(name)}</h1>",
             f"<p class=sub>Collaborative learning on contract <code>{e(report.address)}</code>, "
             f"chain {report.views.chain_id}: {len(report.rows)} rounds, audited from the chain's events.</p>",
             _headline_html(report.rows, terms, final_test_scores), verdict,
             "<h2>Terms</h2><table id=terms>"]
    parts += [f"<tr><th>{e(k)}</th><td class=l>{e(str(v))}</td></tr>" for k, v in [*terms.facts(), *facts]]
    parts.append("</table>")
    for caption, png in images.items():
        data = base64.b64encode(png).decode()
        parts.append(f"<figure><img alt='{e(caption)}' src='data:image/png;base64,{data}'>"
                     f"<figcaption>{e(caption)}</figcaption></figure>")
    parts.append("<h2>What the names mean</h2><dl id=definitions>")
    parts += [f"<dt>{e(term)}</dt><dd>{e(meaning)}</dd>" for term, meaning in DEFINITIONS]
    parts.append("</dl>")
    parts.append(_valuation_html(values, terms))
    if evaluation:
        parts.append("<h2>Final model on local data</h2><table id=evaluation><tr><th>data</th><th>split</th>"
                     "<th>score</th></tr>")
        for data_name, scores in evaluation.items():
            parts += [f"<tr><td class=l>{e(data_name)}</td><td class=l>{e(split)}</td><td>{score:.4f}</td></tr>"
                      for split, score in scores.items()]
        parts.append("</table>")
    parts.append(rounds_html(report.rows, terms))
    parts.append("</body></html>\n")
    return "".join(parts)


def _headline_html(rows: Sequence[Mapping[str, Any]], terms: ExperimentTerms,
                   final_test_scores: Mapping[str, float] | None) -> str:
    e = html.escape
    headline = final_result(rows, terms, final_test_scores)
    lines = []
    if headline is not None:
        lines.append(f"<p class=headline id=headline><b>{e(headline.text(terms))}</b> "
                     f"<span class=note>({e(headline.source)}; "
                     + ("binomial standard error" if headline.error is not None else
                        "error unknown: the test-set sizes are not known here (pass --experiment)")
                     + ")</span></p>")
    if terms.baseline_test_scores:
        base = terms.baseline_test_scores
        error = mean_error(base, terms.test_examples) if terms.has_errors else None
        lines.append(f"<p id=baseline>Round 0 (the initial weights, before any proposal): "
                     f"{e(terms.score_label('mean test'))} {e(plus_minus(sum(base.values()) / len(base), error))}</p>")
    return "".join(lines)


def _valuation_html(values: Sequence[GroupValue], terms: ExperimentTerms) -> str:
    e = html.escape
    parts = ["<h2>Dataset valuation</h2>"]
    if any(v.total_gain_error is None for v in values) and values:
        parts.append("<p class=note>The gains' errors are unknown here (the test-set sizes come with "
                     "--experiment or a run's summary.json), so the ranks below may order groups within the "
                     "noise.</p>")
    elif any(v.tied for v in values):
        parts.append("<p class=tie>A rank counts only the groups whose total gain is higher by more than 2 "
                     "standard errors; '=' marks a group the noise cannot tell apart from those listed as "
                     "not distinguishable.</p>")
    parts.append("<table id=valuation><tr><th>rank</th><th>group</th><th>proposals</th><th>accepted</th>"
                 "<th>rate</th><th>mean gain</th><th>total gain</th><th>not distinguishable from</th></tr>")
    for v in values:
        rate = "-" if v.acceptance_rate is None else f"{v.acceptance_rate:.0%}"
        parts.append(f"<tr><td>{_rank(v)}</td><td class=l>{e(v.group)}</td><td>{v.proposals}</td>"
                     f"<td>{v.accepted}</td><td>{rate}</td><td>{_gain(v.mean_gain)}</td>"
                     f"<td>{_total_gain(v)}</td>"
                     f"<td class=l>{e(', '.join(v.indistinguishable) or '-')}</td></tr>")
    parts.append("</table>")
    return "".join(parts)


def rounds_html(rows: Sequence[Mapping[str, Any]], terms: ExperimentTerms) -> str:
    """The rounds table of the page (also the live view's): one line per round, newest last."""
    e = html.escape
    parts = ["<h2>Rounds</h2><table id=rounds><tr><th>round</th><th>proposer</th><th>outcome</th>"
             f"<th>approvals</th><th>mean {e(terms.score_label('vote'))}</th>"
             f"<th>mean {e(terms.score_label('test'))}</th><th>finalized (UTC)</th><th>round time</th>"
             "<th>votes (group: vote / test score)</th><th>CID</th></tr>"]
    for row in rows:
        tests = mean_scores(row, "test_score")
        test_mean = _mean(tests)
        error = mean_error(tests, terms.test_examples) if terms.has_errors and tests else None
        duration = round_duration(row)
        votes = "; ".join(f"{g}: {'approve' if v['approve'] else 'reject'} {_score(v['vote_score'])} / "
                          f"{_score(v['test_score'])}" for g, v in (row.get("votes") or {}).items())
        parts.append(
            f"<tr class={e(str(row['outcome']))}><td>{row['round']}</td><td class=l>{e(str(row['proposer']))}</td>"
            f"<td class=l>{e(str(row['outcome']))}</td><td>{approvals_text(row)}</td>"
            f"<td>{_score(_mean(mean_scores(row, 'vote_score')))}</td>"
            f"<td>{'-' if test_mean is None else e(plus_minus(test_mean, error, 4))}</td>"
            f"<td>{_utc((row.get('finalized') or {}).get('time'))}</td>"
            f"<td>{'-' if duration is None else f'{duration:.0f} s'}</td>"
            f"<td class=l>{e(votes)}</td><td class=l>{e(_short(row.get('cid'), 16) or '-')}</td></tr>")
    parts.append("</table>")
    return "".join(parts)

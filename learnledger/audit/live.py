"""The live view: the audit, repeated as the chain moves, served to a browser on this machine.

A GPU experiment runs for hours; the groups want to watch it move. A poller thread re-reads the
chain whenever its head block changes (the audit's own reader: events, views, checks), turns the
result into one JSON snapshot, and a small HTTP server on loopback serves a page that fetches
that snapshot every second and redraws Figure 2 (inline SVG, no external script or style) and
the round table in place: a round finalized on the chain appears without a reload.

Routes: ``/`` the page, ``/state.json`` the latest snapshot (``version`` grows with every change).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from learnledger.audit.fetch import ChainUnreachable, Rpc, head_block
from learnledger.audit.render import approvals_text, round_duration
from learnledger.audit.terms import ReportTerms, gather_terms
from learnledger.report.headline import final_result
from learnledger.report.stats import binomial_error, mean_error, plus_minus

if TYPE_CHECKING:
    from web3 import Web3

    from learnledger.audit.run import AuditReport
    from learnledger.ledger.params import Deployment
    from learnledger.store.api import WeightStore

PAGE = Path(__file__).with_name("live.html")
"""The page: HTML with its script and styles inline (it loads nothing else)."""


def snapshot(report: AuditReport, gathered: ReportTerms, version: int) -> dict[str, Any]:
    """What the page draws: the rounds with their scores and errors, the headline, the terms."""
    terms = gathered.terms
    rows = []
    for row in report.rows:
        votes = {}
        for group, vote in dict(row.get("votes") or {}).items():
            test, size = vote.get("test_score"), terms.test_examples.get(group)
            votes[group] = {"approve": vote.get("approve"), "vote_score": vote.get("vote_score"),
                            "test_score": test,
                            "test_error": binomial_error(test, size) if terms.has_errors and size and test is not None
                            else None}
        tests = {g: v["test_score"] for g, v in votes.items() if v["test_score"] is not None}
        mean_test = sum(tests.values()) / len(tests) if tests else None
        error = mean_error(tests, terms.test_examples) if terms.has_errors and tests else None
        rows.append({"round": row["round"], "proposer": row["proposer"], "outcome": row["outcome"],
                     "approvals": approvals_text(row), "votes": votes, "cid": row.get("cid"),
                     "mean_test": mean_test, "mean_test_text": "-" if mean_test is None else
                     plus_minus(mean_test, error, 4),
                     "finalized_time": (row.get("finalized") or {}).get("time"),
                     "duration_s": round_duration(row)})
    headline = final_result(report.rows, terms, gathered.final_test_scores or None)
    baseline = terms.baseline_test_scores
    return {
        "version": version,
        "updated": time.time(),
        "title": terms.name or f"experiment {report.address}",
        "address": report.address,
        "chain_id": report.views.chain_id,
        "head": report.views.head,
        "groups": report.groups,
        "current_round": report.views.current_round,
        "finished": report.views.finished,
        "checks": "all checks hold" if report.ok else f"{len(report.findings)} check(s) failed",
        "findings": [str(f) for f in report.findings],
        "headline": headline.text(terms) if headline else None,
        "headline_source": headline.source if headline else None,
        "baseline": sum(baseline.values()) / len(baseline) if baseline else None,
        "labels": {"test": terms.score_label("test"), "vote": terms.score_label("vote")},
        "terms": terms.facts(),
        "rounds": rows,
        "error": None,
    }


@dataclass
class LiveExperiment:
    """Polls one experiment and keeps its latest snapshot.

    Args:
        w3: a connection to the chain; address: the contract; deployment: its record, if any
            (``deployment_path``: where it was read, so that a run folder's summary.json is found).
        store: the weights' store (the model spec, and round 0 with ``experiment``), if any.
        experiment: the experiment file (name, data, test-set sizes), if given.
        interval: seconds between looks at the head block. Default 1.
    """

    w3: Web3
    address: str
    deployment: Deployment | None = None
    deployment_path: Path | None = None
    store: WeightStore | None = None
    experiment: Path | None = None
    interval: float = 1.0
    on_step: Callable[[str], None] = lambda line: None
    state: dict[str, Any] = field(init=False, default_factory=lambda: {"version": 0, "rounds": [],
                                                                       "error": "reading the chain"})
    _gathered: ReportTerms | None = field(init=False, default=None)
    _head: int | None = field(init=False, default=None)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)

    def current(self) -> dict[str, Any]:
        with self._lock:
            return self.state

    def refresh(self) -> bool:
        """Read the chain again if its head moved; True if the snapshot changed.

        Raises:
            ChainUnreachable, AuditInputError, EvaluationError: as the audit and ``gather_terms``.
        """
        from learnledger.audit.run import AuditInputError, audit

        head = head_block(Rpc(self.w3))
        if head == self._head and self.state.get("error") is None:
            return False
        report = audit(self.w3, self.address, self.deployment)
        if not report.views.has_code:
            raise AuditInputError(f"no contract at {report.address} on chain {report.views.chain_id} (head block "
                                  f"{head}); check --address, or that the node is the one the experiment runs on")
        if self._gathered is None:
            self._gathered = gather_terms(report, self.deployment_path, self.store, self.experiment, self.on_step)
        fresh = snapshot(report, self._gathered, int(self.state["version"]) + 1)
        with self._lock:
            self.state, self._head = fresh, head
        return True

    def run(self) -> None:
        """Poll until ``stop``; a chain that stops answering is shown on the page, not fatal.

        A long history takes seconds to re-read: the pause after a re-read is at least twice what
        it took, so that a busy chain does not keep the machine re-reading without rest.
        """
        while not self._stop.is_set():
            started = time.monotonic()
            pause = self.interval
            try:
                if self.refresh():
                    pause = max(self.interval, 2 * (time.monotonic() - started))
            except Exception as error:  # shown on the page; the next look may succeed
                reason = "the chain does not answer" if isinstance(error, ChainUnreachable) else "cannot read the chain"
                with self._lock:
                    self.state = {**self.state, "version": int(self.state["version"]) + 1,
                                  "error": f"{reason}: {error}"}
                self._head = None
            self._stop.wait(pause)

    def stop(self) -> None:
        self._stop.set()


class LiveServer:
    """The page and ``/state.json`` on ``host:port`` (loopback), each request in its own thread."""

    def __init__(self, live: LiveExperiment, host: str = "127.0.0.1", port: int = 0) -> None:
        page = PAGE.read_bytes()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                path = self.path.split("?", 1)[0]
                if path == "/":
                    self._send(200, "text/html; charset=utf-8", page)
                elif path == "/state.json":
                    self._send(200, "application/json", json.dumps(live.current()).encode())
                else:
                    self._send(404, "text/plain; charset=utf-8", b"not found: the page is at /\n")

            def _send(self, status: int, kind: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # quiet: the terminal is the user's
                pass

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.live = live
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> None:
        """Serve and poll in background threads."""
        for target, name in ((self.httpd.serve_forever, "live-http"), (self.live.run, "live-poll")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling and serving, and wait for both threads."""
        self.live.stop()
        self.httpd.shutdown()
        self.httpd.server_close()
        for thread in self._threads:
            thread.join(timeout)

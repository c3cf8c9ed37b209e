"""A JSON-RPC relay on loopback between one agent and its node, which can hold its transactions.

A fault test points one agent's ``--rpc`` at a relay and, when it chooses, arms it: from then on each
``eth_sendRawTransaction`` the agent sends is held, neither answered nor forwarded, so the test knows
the transaction is in flight and that the agent is blocked waiting for it. The test then kills the
agent and decides the transaction's fate: lost with its sender (``drop``) or landing after its
sender's death (``forward``). Every other call is passed through unchanged.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOLD_LIMIT_S = 300.0
"""A held transaction that nobody releases is dropped after this long, so no thread hangs forever."""


@dataclass
class HeldTransaction:
    """A transaction the relay holds: the request as the agent sent it, and its fate once decided."""

    body: bytes
    decided: threading.Event = field(default_factory=threading.Event)
    forward: bool = False

    @property
    def raw(self) -> str:
        """The signed transaction, hex."""
        return json.loads(self.body)["params"][0]


class RpcRelay:
    """Relays JSON-RPC from ``127.0.0.1:<port>`` to ``upstream``; ``arm()`` starts holding transactions."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.armed = False
        self.held: list[HeldTransaction] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def arm(self) -> None:
        """Hold every transaction from now on."""
        self.armed = True

    def drop(self) -> None:
        """Disarm, and lose every held transaction: they never reach the node."""
        self._decide(forward=False)

    def forward(self) -> None:
        """Disarm, and send every held transaction on to the node, as if it had only been slow."""
        self._decide(forward=True)

    def close(self) -> None:
        self.drop()
        self._server.shutdown()
        self._server.server_close()

    def _decide(self, forward: bool) -> None:
        with self._lock:
            self.armed = False
            held, self.held = self.held, []
        for transaction in held:
            transaction.forward = forward
            transaction.decided.set()

    def _hold(self, body: bytes) -> HeldTransaction | None:
        """The held transaction if ``body`` is a transaction to hold now, else None."""
        with self._lock:
            if not self.armed:
                return None
            try:
                request = json.loads(body)
            except ValueError:
                return None
            if not isinstance(request, dict) or request.get("method") != "eth_sendRawTransaction":
                return None
            transaction = HeldTransaction(body)
            self.held.append(transaction)
            return transaction

    def relay(self, body: bytes) -> tuple[int, bytes]:
        """Send ``body`` to the node; its status and reply."""
        request = urllib.request.Request(self.upstream, data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                return reply.status, reply.read()
        except OSError as error:  # the node is down: tell the agent as a gateway would
            return 502, str(error).encode()


def _handler_for(relay: RpcRelay) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the name http.server dispatches to)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            held = relay._hold(body)
            if held is not None:
                held.decided.wait(HOLD_LIMIT_S)
                if not held.forward:
                    self.close_connection = True  # lost: the agent gets no answer at all
                    return
            status, reply = relay.relay(body)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except OSError:  # the agent died while its request was held
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler

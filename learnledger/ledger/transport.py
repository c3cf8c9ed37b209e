"""JSON-RPC over HTTP on one kept-alive connection per thread, without ``requests``.

web3's ``HTTPProvider`` posts through ``requests``: about 0.35 ms of Python per request on top of
the node's answer (0.45 ms for ``eth_blockNumber`` on a local anvil against 0.10 ms over a bare
``http.client`` connection).
An agent asks its node some sixty questions a round, so that was most of what a chain over HTTP
cost beyond the embedded one. ``KeepAliveProvider`` is web3's provider with the post replaced:
the same requests, encodings, batches and answers, on a socket of its own, with ``http.client``
reading the answers (0.09 ms a request).
"""

from __future__ import annotations

import base64
import http.client
import select
import socket
import ssl
import threading
from typing import Any, cast
from urllib.parse import unquote, urlsplit, urlunsplit

from web3 import HTTPProvider
from web3.types import RPCEndpoint, RPCResponse


class RpcHttpError(ConnectionError):
    """The node answered with an HTTP error status instead of a JSON-RPC answer."""


class KeepAliveProvider(HTTPProvider):
    """An ``HTTPProvider`` that keeps one HTTP/1.1 connection per thread open to ``endpoint_uri``.

    A request goes out in one write, headers and body together (``http.client`` writes them
    apart: two segments, and two wake-ups of the node, per request). A connection the server closed
    while idle (geth closes them after two minutes) is noticed before the next request is written
    and opened again, as ``urllib3`` does; a request is never sent twice (a transaction sent twice
    would be refused as already known, or worse, counted twice).

    Args:
        endpoint_uri: ``http://`` or ``https://`` URL of the node's JSON-RPC endpoint (user and
            password in it are sent as basic authentication).
        timeout: seconds to wait for the connection and for each answer.
    """

    def __init__(self, endpoint_uri: str, timeout: float = 10.0) -> None:
        super().__init__(endpoint_uri, request_kwargs={"timeout": timeout})
        parts = urlsplit(str(endpoint_uri))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"an RPC URL is http://HOST[:PORT][/PATH] or https://..., received: {endpoint_uri!r}")
        self._tls = ssl.create_default_context() if parts.scheme == "https" else None
        self._address = (parts.hostname, parts.port or (443 if self._tls else 80))
        self._timeout = timeout
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._where = without_credentials(str(endpoint_uri))
        """The endpoint as errors name it."""
        headers = dict(self.get_request_headers(), Host=urlsplit(self._where).netloc, Connection="keep-alive")
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
        self._request_head = (f"POST {path} HTTP/1.1\r\n"
                              + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
                              + "Content-Length: ").encode()
        self._local = threading.local()

    def _make_request(self, method: RPCEndpoint, request_data: bytes) -> bytes:
        return self._post(request_data)

    def make_batch_request(self, batch_requests: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse] | RPCResponse:
        response = self.decode_rpc_response(self._post(self.encode_batch_rpc_request(batch_requests)))
        if not isinstance(response, list):  # a node refusing the whole batch answers one error
            return response
        # answers may come in any order (JSON-RPC 2.0); web3 expects the requests' order, by id
        return cast(list[RPCResponse], sorted(response, key=lambda answer: answer.get("id") or 0))

    def _post(self, body: bytes) -> bytes:
        sock = self._socket()
        try:
            sock.sendall(self._request_head + str(len(body)).encode() + b"\r\n\r\n" + body)
            response = http.client.HTTPResponse(sock, method="POST")
            response.begin()
            data = response.read()
        except BaseException:
            self._close()  # in an unknown state: the next request opens a new one
            raise
        if response.will_close:
            self._close()
        if response.status >= 400 and not data.lstrip().startswith((b"{", b"[")):
            raise RpcHttpError(f"{self._where} answered HTTP {response.status} {response.reason}: "
                               f"{data[:200].decode(errors='replace')}")
        return data

    def _socket(self) -> socket.socket:
        """This thread's open connection; a new one if there is none or the server closed it."""
        sock: socket.socket | None = getattr(self._local, "sock", None)
        if sock is not None and _closed_by_peer(sock):
            self._close()
            sock = None
        if sock is None:
            sock = socket.create_connection(self._address, timeout=self._timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=self._address[0])
            self._local.sock = sock
        return sock

    def _close(self) -> None:
        sock, self._local.sock = getattr(self._local, "sock", None), None
        if sock is not None:
            sock.close()


def without_credentials(url: str) -> str:
    """``url`` without the user and password it may carry, for messages and logs."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether an idle connection's socket is readable: between answers that means the server
    closed it (or sent something unasked), so it must not carry the next request."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)

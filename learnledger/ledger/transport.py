"""JSON-RPC over HTTP on one kept-alive connection per thread, without ``requests``.

web3's ``HTTPProvider`` posts through ``requests``: about 0.35 ms of Python per request on top of
the node's answer (0.45 ms for ``eth_blockNumber`` on a local anvil, 0.10 ms over ``http.client``).
An agent asks its node some sixty questions a round, so that was most of what a chain over HTTP
cost beyond the embedded one. ``KeepAliveProvider`` is web3's provider with the post replaced:
the same requests, encodings, batches and answers, through ``http.client``.
"""

from __future__ import annotations

import http.client
import select
import threading
from typing import Any, cast
from urllib.parse import urlsplit

from web3 import HTTPProvider
from web3._utils.batching import sort_batch_response_by_response_ids
from web3.types import RPCEndpoint, RPCResponse


class RpcHttpError(ConnectionError):
    """The node answered with an HTTP error status instead of a JSON-RPC answer."""


class KeepAliveProvider(HTTPProvider):
    """An ``HTTPProvider`` that keeps one HTTP/1.1 connection per thread open to ``endpoint_uri``.

    A connection the server closed while idle (geth closes them after two minutes) is noticed before
    the next request is written and opened again, as ``urllib3`` does; a request is never sent twice
    (a transaction sent twice would be refused as already known, or worse, counted twice).

    Args:
        endpoint_uri: ``http://`` or ``https://`` URL of the node's JSON-RPC endpoint.
        timeout: seconds to wait for the connection and for each answer.
    """

    def __init__(self, endpoint_uri: str, timeout: float = 10.0) -> None:
        super().__init__(endpoint_uri, request_kwargs={"timeout": timeout})
        parts = urlsplit(str(endpoint_uri))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"an RPC URL is http://HOST[:PORT][/PATH] or https://..., received: {endpoint_uri!r}")
        self._connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._timeout = timeout
        self._headers = dict(self.get_request_headers(), Connection="keep-alive")
        self._local = threading.local()

    def _make_request(self, method: RPCEndpoint, request_data: bytes) -> bytes:
        return self._post(request_data)

    def make_batch_request(self, batch_requests: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse] | RPCResponse:
        response = self.decode_rpc_response(self._post(self.encode_batch_rpc_request(batch_requests)))
        if not isinstance(response, list):  # a node refusing the whole batch answers one error
            return response
        return cast(list[RPCResponse], sort_batch_response_by_response_ids(response))

    def _post(self, body: bytes) -> bytes:
        connection = self._connection()
        try:
            connection.request("POST", self._path, body, self._headers)
            response = connection.getresponse()
            data = response.read()
        except BaseException:
            self._local.connection = None  # in an unknown state: the next request opens a new one
            connection.close()
            raise
        if response.will_close:
            self._local.connection = None
            connection.close()
        if response.status >= 400 and not data.lstrip().startswith((b"{", b"[")):
            raise RpcHttpError(f"{self.endpoint_uri} answered HTTP {response.status} {response.reason}: "
                               f"{data[:200].decode(errors='replace')}")
        return data

    def _connection(self) -> http.client.HTTPConnection:
        """This thread's open connection; a new one if there is none or the server closed it."""
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None and _closed_by_peer(connection):
            connection.close()
            connection = None
        if connection is None:
            connection = self._connection_class(self._host, self._port, timeout=self._timeout)
            self._local.connection = connection
        return connection


def _closed_by_peer(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle connection's socket is readable: between answers that means the server
    closed it (or sent something unasked), so it must not carry the next request."""
    sock = connection.sock
    if sock is None:
        return False  # not connected yet: http.client connects on the first request
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)

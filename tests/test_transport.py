"""The kept-alive JSON-RPC transport against a real HTTP server on loopback: one connection carries
many requests, a connection the server closed is replaced without sending a request twice, threads
do not share a connection, and an HTTP error says what the server said."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from web3 import Web3

from learnledger.ledger.transport import KeepAliveProvider, RpcHttpError


class _Node(ThreadingHTTPServer):
    """Answers ``eth_blockNumber`` with the count of requests seen; counts connections and requests."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0
        self.requests: list[str] = []
        self.close_after_answer = False
        self.status = 200
        self.stall_s = 0.0
        self.idle_s: float | None = None
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/rpc"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless told to close
    server: _Node

    def setup(self) -> None:
        self.timeout = self.server.idle_s  # an idle connection is closed after this long
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.server.headers.append(dict(self.headers))
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(self.server.stall_s)
        if self.server.status != 200:
            payload = b"bad gateway"
            self.send_response(self.server.status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        calls = body if isinstance(body, list) else [body]
        answers = []
        for call in calls:
            with self.server.lock:
                self.server.requests.append(call["method"])
                count = len(self.server.requests)
            answers.append({"jsonrpc": "2.0", "id": call["id"], "result": hex(count)})
        payload = json.dumps(list(reversed(answers)) if isinstance(body, list) else answers[0]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if self.server.close_after_answer:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(payload)


@contextmanager
def node(tls: ssl.SSLContext | None = None) -> Iterator[_Node]:
    server = _Node()
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_many_requests_travel_on_one_connection() -> None:
    with node() as server:
        w3 = Web3(KeepAliveProvider(server.url))
        numbers = [w3.eth.block_number for _ in range(20)]
        assert numbers == list(range(1, 21))
        assert server.connections == 1


def test_a_connection_the_server_closed_is_replaced_and_no_request_is_sent_twice() -> None:
    with node() as server:
        provider = KeepAliveProvider(server.url)
        server.close_after_answer = True  # "Connection: close" on every answer
        assert [provider.make_request("eth_blockNumber", [])["result"] for _ in range(3)] == ["0x1", "0x2", "0x3"]
        assert server.connections == 3
        # a kept-alive connection the server closes while it is idle (geth does after two minutes)
        server.close_after_answer, server.idle_s = False, 0.2
        assert provider.make_request("eth_blockNumber", [])["result"] == "0x4"
        time.sleep(0.6)
        assert provider.make_request("eth_blockNumber", [])["result"] == "0x5"
        assert server.requests == ["eth_blockNumber"] * 5, "each request reached the server exactly once"
        assert server.connections == 5


def test_a_batch_comes_back_in_request_order() -> None:
    with node() as server:
        provider = KeepAliveProvider(server.url)
        answers = provider.make_batch_request([("eth_blockNumber", []), ("eth_chainId", []), ("eth_gasPrice", [])])
        assert isinstance(answers, list)
        assert [a["result"] for a in answers] == ["0x1", "0x2", "0x3"]  # the server sent them reversed
        assert server.requests == ["eth_blockNumber", "eth_chainId", "eth_gasPrice"]


def test_each_thread_has_its_own_connection() -> None:
    with node() as server:
        provider = KeepAliveProvider(server.url)
        results: list[list[str]] = []

        def ask() -> None:
            results.append([provider.make_request("eth_blockNumber", [])["result"] for _ in range(10)])

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(int(r, 16) for answers in results for r in answers) == list(range(1, 41))
        assert server.connections == 4


def test_an_http_error_names_the_status_and_the_servers_words_but_not_the_password() -> None:
    with node() as server:
        server.status = 502
        provider = KeepAliveProvider(server.url.replace("http://", "http://lab:secret@"))
        with pytest.raises(RpcHttpError, match="HTTP 502.*bad gateway") as refused:
            provider.make_request("eth_blockNumber", [])
        assert server.url in str(refused.value) and "secret" not in str(refused.value)


def test_a_node_that_does_not_answer_times_out_and_the_next_request_opens_a_new_connection() -> None:
    with node() as server:
        provider = KeepAliveProvider(server.url, timeout=0.3)
        server.stall_s = 1.0
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            provider.make_request("eth_blockNumber", [])
        assert time.monotonic() - started < 0.9
        server.stall_s = 0.0
        time.sleep(1.0)  # the stalled answer is written to the old, closed connection
        assert provider.make_request("eth_blockNumber", [])["result"] == "0x2"
        assert server.connections == 2


def test_a_url_that_is_not_http_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="ws://127.0.0.1:8545"):
        KeepAliveProvider("ws://127.0.0.1:8545")


def test_the_host_and_the_urls_credentials_go_in_the_headers() -> None:
    with node() as server:
        port = server.server_address[1]
        KeepAliveProvider(f"http://lab:s%40cret@127.0.0.1:{port}/rpc").make_request("eth_blockNumber", [])
        (headers,) = server.headers
        assert headers["Host"] == f"127.0.0.1:{port}"
        assert headers["Authorization"] == "Basic bGFiOnNAY3JldA=="  # base64 of lab:s@cret
        assert headers["Content-Type"] == "application/json"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_https_checks_the_nodes_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    with node(tls) as server:
        url = server.url.replace("http://", "https://")
        with pytest.raises(ssl.SSLCertVerificationError):  # a certificate no known authority signed
            KeepAliveProvider(url).make_request("eth_blockNumber", [])
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # now an authority this process trusts
        assert KeepAliveProvider(url).make_request("eth_blockNumber", [])["result"] == "0x1"

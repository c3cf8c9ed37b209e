"""KuboStore against real servers on loopback: a real kubo daemon, and our own RPC subset.

The behaviours a learner relies on (add with pin, cat, pin, version, refusals) are checked against
both a kubo daemon (built by ``scripts/engines.sh``; those cases skip, saying so, where it is not)
and ``learnledger.store.server`` serving a LocalStore, which follows kubo's RPC documentation for
add, cat, pin/add and version. A third-party client (ipfshttpclient) checks both speak that
protocol as others expect; a deliberately faulty server on loopback checks retries and corrupted
answers.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from learnledger.store.api import (
    ContentCorrupted,
    ContentNotFound,
    StoreError,
    StoreUnreachable,
    WeightStore,
)
from learnledger.store.cid import InvalidCid, compute_cid, dag_size
from learnledger.store.kubo import KuboStore, parse_node_url
from learnledger.store.local import LocalStore
from learnledger.store.server import serve_in_thread
from tests.kubo_nodes import IPFS, KuboNode, needs_kubo

WEIGHTS = bytes(range(256)) * 4000  # 1 MB, four chunks


@pytest.fixture
def server(tmp_path):
    server, thread = serve_in_thread(LocalStore(tmp_path / "served"))
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def kubo(server) -> KuboStore:
    return KuboStore(server.url, timeout=5, retries=0)


class Node:
    """A Kubo RPC server under test: its URL and what it pins, seen from outside the client."""

    def __init__(self, kind: str, url: str, pins) -> None:
        self.kind, self.url, self.pins = kind, url, pins


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    """One real kubo daemon (private configuration, loopback) for this module's tests."""
    if IPFS is None:
        pytest.skip(needs_kubo.kwargs["reason"])
    node = KuboNode(tmp_path_factory.mktemp("kubo") / "repo").start()
    yield node
    node.stop()


@pytest.fixture(params=["server", pytest.param("kubo", marks=needs_kubo)])
def node(request, tmp_path) -> Node:
    """Each case runs against our server and against a real kubo daemon."""
    if request.param == "kubo":
        daemon = request.getfixturevalue("daemon")
        return Node("kubo", daemon.rpc_url, lambda: KuboStore(daemon.rpc_url).pins())
    server = request.getfixturevalue("server")
    return Node("server", server.url, server.store.pins)


@pytest.fixture
def client(node) -> KuboStore:
    return KuboStore(node.url, timeout=10, retries=0, find_timeout=2)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rpc(url: str, path: str, method: str = "POST") -> tuple[int, dict]:
    request = urllib.request.Request(url + path, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, json.loads(body) if body.startswith(b"{") else {"text": body.decode()}


# ------------------------------------------------------------------------------ nominal workflow


def test_it_is_a_weight_store(client):
    assert isinstance(client, WeightStore)


def test_put_get_pin_through_the_rpc(client, node):
    weights = WEIGHTS + node.kind.encode()  # new content in the module-wide daemon, each case
    cid = client.put(weights)
    assert cid == compute_cid(weights, 1)
    assert client.get(cid) == weights
    client.pin(cid)
    assert cid in node.pins()
    unpinned = client.put(b"scratch " + node.kind.encode(), pin=False)
    assert unpinned not in node.pins()
    assert client.get(unpinned) == b"scratch " + node.kind.encode()  # stored, though not pinned


def test_cid_version_0_on_request(node):
    cid = KuboStore(node.url, cid_version=0).put(b"hello\n")
    assert cid == "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN"


def test_version_reports_the_kubo_rpc_it_follows(client, node):
    expected = "0.30.0-learnledger" if node.kind == "server" else KuboNode.version_of_binary()
    assert client.version()["Version"] == expected


def test_urls_and_multiaddrs_are_understood():
    assert parse_node_url("http://127.0.0.1:5001") == ("http", "127.0.0.1", 5001)
    assert parse_node_url("/ip4/127.0.0.1/tcp/5002/http") == ("http", "127.0.0.1", 5002)
    with pytest.raises(StoreError, match="not an IPFS node URL: 'ftp://x'"):
        parse_node_url("ftp://x")


# ----------------------------------------------------------------------- the server as kubo's RPC


def test_add_answers_kubo_ndjson_with_cumulative_size(server):
    boundary = "xyz"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"w.st\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + WEIGHTS + \
        f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"{server.url}/api/v0/add?cid-version=1", data=body,
                                     method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        line = json.loads(response.read().splitlines()[0])
    assert line == {"Name": "w.st", "Hash": compute_cid(WEIGHTS, 1),
                    "Size": str(dag_size(len(WEIGHTS), 1))}
    assert int(line["Size"]) > len(WEIGHTS)  # the root node counts too


def test_rpc_accepts_post_only(node):
    status, answer = rpc(node.url, "/api/v0/version", method="GET")
    assert status == 405


def test_errors_have_kubo_shape(server):
    missing = compute_cid(b"never added")
    status, answer = rpc(server.url, f"/api/v0/cat?arg={missing}")
    assert status == 500 and answer["Type"] == "error" and answer["Code"] == 0
    assert "not found" in answer["Message"] and missing in answer["Message"]
    status, answer = rpc(server.url, "/api/v0/cat")
    assert status == 400 and answer["Message"] == 'argument "ipfs-path" is required'
    status, answer = rpc(server.url, "/api/v0/cat?arg=nonsense")
    assert status == 400 and "not a CID: 'nonsense'" in answer["Message"]
    status, answer = rpc(server.url, "/api/v0/add?chunker=rabin")
    assert status == 400 and "unsupported chunker 'rabin'" in answer["Message"]
    status, answer = rpc(server.url, "/api/v0/nope")
    assert status == 404


@pytest.mark.filterwarnings("ignore::FutureWarning")  # urllib3's note about ipfshttpclient
def test_third_party_client_adds_and_cats(node):
    """ipfshttpclient talks to our server and to a real kubo alike, this far:

    ``ipfshttpclient.connect`` refuses daemons from kubo 0.8 on: the real kubo, and this server,
    which reports the kubo RPC release it follows (0.30.0). Past that check (its documented way is
    to construct ``Client`` directly) add, add with CIDv1 and raw leaves, cat and pin/add work on
    both, and each reads what KuboStore wrote.
    """
    ipfshttpclient = pytest.importorskip("ipfshttpclient")
    _, host, port = parse_node_url(node.url)
    address = f"/ip4/{host}/tcp/{port}/http"
    with pytest.raises(ipfshttpclient.exceptions.VersionMismatch):
        ipfshttpclient.connect(address)
    client = ipfshttpclient.Client(address)
    assert client.add_bytes(b"hello\n") == "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN"
    added = client.add(io.BytesIO(WEIGHTS), cid_version=1, raw_leaves=True)
    assert added["Hash"] == compute_cid(WEIGHTS, 1)
    assert client.cat(added["Hash"]) == WEIGHTS
    assert client.pin.add(added["Hash"])["Pins"] == [added["Hash"]]
    ours = KuboStore(node.url).put(b"from learnledger")
    assert client.cat(ours) == b"from learnledger"


# ------------------------------------------------------------------------------------- refusals


def test_unknown_cid_is_not_found(client, node):
    """Our server knows at once; kubo searches its peers until ``find_timeout``, then gives up."""
    missing = compute_cid(b"never added")
    with pytest.raises(ContentNotFound, match=missing) as caught:
        client.get(missing)
    if node.kind == "kubo":
        assert f"asked the node at {node.url} and its peers [none connected] for 2 s" in str(caught.value)
    with pytest.raises(ContentNotFound, match=missing):
        client.pin(missing)


def test_malformed_cid_is_refused_before_any_request(client):
    with pytest.raises(InvalidCid, match="not a CID: 'Qm-oops'"):
        client.get("Qm-oops")


def test_unreachable_node_names_the_url_and_what_to_do():
    port = closed_port()
    store = KuboStore(f"http://127.0.0.1:{port}", timeout=1, retries=2, backoff=0.01)
    started = time.monotonic()
    with pytest.raises(StoreUnreachable) as caught:
        store.get(compute_cid(b"x"))
    message = str(caught.value)
    assert f"http://127.0.0.1:{port}" in message and "after 3 attempts" in message
    assert "learnledger store serve" in message and "ipfs daemon" in message
    assert "connection refused" in message
    assert time.monotonic() - started < 5


class FlakyThenWrong(BaseHTTPRequestHandler):
    """Answers 503 twice, then serves bytes that do not match the CID asked for."""

    calls = 0

    def do_POST(self):  # noqa: N802
        type(self).calls += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if type(self).calls <= 2:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"not the weights"
        if self.path.startswith("/api/v0/add"):
            body = json.dumps({"Name": "w", "Hash": compute_cid(b"other"), "Size": "5"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def faulty_url():
    FlakyThenWrong.calls = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyThenWrong)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_5xx_is_retried_with_backoff_then_wrong_bytes_are_refused(faulty_url):
    store = KuboStore(faulty_url, timeout=2, retries=3, backoff=0.01)
    cid = compute_cid(WEIGHTS)
    with pytest.raises(ContentCorrupted, match=f"{faulty_url} served wrong bytes.*{cid}"):
        store.get(cid)
    assert FlakyThenWrong.calls == 3


def test_retries_are_bounded(faulty_url):
    store = KuboStore(faulty_url, timeout=2, retries=1, backoff=0.01)
    with pytest.raises(StoreUnreachable, match="after 2 attempts \\(HTTP 503\\)"):
        store.get(compute_cid(WEIGHTS))


def test_a_node_naming_added_bytes_wrongly_is_refused(faulty_url):
    FlakyThenWrong.calls = 2
    with pytest.raises(ContentCorrupted, match="named the added bytes"):
        KuboStore(faulty_url, retries=0).put(WEIGHTS)


def test_a_gateway_or_other_http_service_is_named_as_such(server):
    class NotFound(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    other = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=other.serve_forever, args=(0.05,), daemon=True).start()
    try:
        with pytest.raises(StoreError, match="not a gateway"):
            KuboStore(f"http://127.0.0.1:{other.server_address[1]}", retries=0).version()
    finally:
        other.shutdown()
        other.server_close()


def test_uploads_over_the_limit_are_refused(server):
    server.max_upload = 1000
    with pytest.raises(StoreError, match="exceeds this server's limit of 1,000 bytes"):
        KuboStore(server.url, retries=0).put(WEIGHTS)


def test_parameter_errors_are_clear():
    with pytest.raises(ValueError, match="timeout=0"):
        KuboStore(timeout=0)
    with pytest.raises(InvalidCid, match="cid_version=2"):
        KuboStore(cid_version=2)


def test_damaged_object_is_caught_by_the_client_or_by_a_verifying_server(server, kubo):
    cid = kubo.put(WEIGHTS)
    path = server.store.path_of(cid)
    path.chmod(0o644)
    damaged = bytearray(WEIGHTS)
    damaged[5] ^= 0x40
    path.write_bytes(bytes(damaged))
    with pytest.raises(ContentCorrupted, match="served wrong bytes"):
        kubo.get(cid)  # served as stored (like kubo's HashOnRead=false); the client verifies
    server.verify_reads = True
    with pytest.raises(StoreError, match="is damaged"):
        kubo.get(cid)


def test_chunked_uploads_are_read(server):
    """Streaming clients (ipfshttpclient among them) send add bodies with chunked encoding."""
    import http.client

    head = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="w"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n")
    pieces = [head, WEIGHTS[:300_000], WEIGHTS[300_000:], b"\r\n--b--\r\n"]
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    connection.request("POST", "/api/v0/add?cid-version=1", body=iter(pieces), encode_chunked=True,
                       headers={"Content-Type": "multipart/form-data; boundary=b",
                                "Transfer-Encoding": "chunked"})
    answer = json.loads(connection.getresponse().read())
    connection.close()
    assert answer["Hash"] == compute_cid(WEIGHTS, 1)


def test_ipfs_up_without_kubo_says_how_to_get_it(tmp_path):
    """Where kubo is not installed, ``learnledger ipfs up`` exits 2 and names scripts/engines.sh."""
    import os
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "learnledger.cli.main", "ipfs", "up", "--repo", str(tmp_path)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "LEARNLEDGER_IPFS": str(tmp_path / "no-such-ipfs")})
    assert done.returncode == 2
    assert "kubo (ipfs) is not installed: run scripts/engines.sh" in " ".join(done.stderr.split())
    assert not (tmp_path / "config").exists(), "nothing was made"

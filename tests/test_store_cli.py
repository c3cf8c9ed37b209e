"""The ``learnledger store`` commands: add prints the CID, cat writes verified bytes, refusals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from learnledger.cli.console import CliError
from learnledger.cli.main import app
from learnledger.store.cid import compute_cid
from learnledger.store.local import LocalStore
from learnledger.store.server import serve_in_thread

BINARY = bytes(range(256)) * 1200 + b"\r\n\x00\x1a"  # every byte value, line endings, > 1 chunk

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_add_prints_the_kubo_cid_and_cat_returns_the_bytes(tmp_path):
    source = tmp_path / "weights.bin"
    source.write_bytes(BINARY)
    store = str(tmp_path / "store")
    added = invoke("store", "add", str(source), "--store", store)
    assert added.exit_code == 0, added.output
    assert added.stdout.strip() == compute_cid(BINARY, 1)
    v0 = invoke("store", "add", str(source), "--cid-version", "0", "--store", store)
    assert v0.stdout.strip() == compute_cid(BINARY, 0)
    out = tmp_path / "back.bin"
    assert invoke("store", "cat", compute_cid(BINARY, 0), "--store", store, "-o", str(out)).exit_code == 0
    assert out.read_bytes() == BINARY
    assert json.loads(invoke("store", "pins", "--store", store, "--json").stdout) == \
        sorted([compute_cid(BINARY, 0), compute_cid(BINARY, 1)])


def test_cat_to_stdout_is_binary_safe_in_a_real_process(tmp_path):
    store = tmp_path / "store"
    cid = LocalStore(store).put(BINARY)
    done = subprocess.run([sys.executable, "-m", "learnledger.cli.main", "store", "cat", cid,
                           "--store", str(store)], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == BINARY


def test_add_and_cat_through_an_ipfs_url(tmp_path):
    server, thread = serve_in_thread(LocalStore(tmp_path / "served"))
    try:
        source = tmp_path / "w.bin"
        source.write_bytes(BINARY)
        added = invoke("store", "add", str(source), "--ipfs", server.url)
        assert added.stdout.strip() == compute_cid(BINARY, 1)
        assert server.store.pins() == [compute_cid(BINARY, 1)]
        out = tmp_path / "back.bin"
        invoke("store", "cat", compute_cid(BINARY, 1), "--ipfs", server.url, "-o", str(out))
        assert out.read_bytes() == BINARY
    finally:
        server.shutdown()
        server.server_close()


def test_gc_and_rm(tmp_path):
    store = LocalStore(tmp_path / "store")
    kept, loose = store.put(b"kept"), store.put(b"loose", pin=False)
    result = invoke("store", "gc", "--store", str(store.root))
    assert f"removed {loose}" in result.stdout and "1 unpinned object removed" in result.stdout
    refused = invoke("store", "rm", kept, "--store", str(store.root))
    assert isinstance(refused.exception, CliError) and refused.exception.exit_code == 1 and f"learnledger store unpin {kept}" in str(refused.exception)
    assert invoke("store", "rm", kept, "--force", "--store", str(store.root)).exit_code == 0
    assert store.cids() == []


@pytest.mark.parametrize("args, message", [
    (["store", "cat", "not-a-cid"], "not a CID: 'not-a-cid'"),
    (["store", "cat", compute_cid(b"absent")], "is not in the store"),
    (["store", "add", "/no/such/file"], "no file '/no/such/file'"),
    (["store", "add", "{tmp}", "--cid-version", "2"], "--cid-version must be 0 or 1; received: 2"),
    (["store", "pins"], "does not exist; check the path, or create the folder first"),
])
def test_bad_input_gets_a_clear_error(tmp_path, args, message):
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args] + ["--store", str(tmp_path / "s")]
    result = invoke(*args)
    assert isinstance(result.exception, CliError), result.output
    assert message in str(result.exception)


def test_unreachable_node_exits_with_advice(tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = subprocess.run([sys.executable, "-m", "learnledger.cli.main", "store", "cat",
                           compute_cid(b"x"), "--ipfs", f"http://127.0.0.1:{port}"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2  # an unreachable service, as for every command
    assert "could not be reached" in done.stderr and "learnledger store serve" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_runs_as_its_own_process_for_agents_elsewhere(tmp_path):
    import socket
    import time

    from learnledger.store.api import StoreUnreachable
    from learnledger.store.kubo import KuboStore

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # started as from a background job: SIGINT ignored by inheritance; SIGTERM must still stop it
    server = subprocess.Popen([sys.executable, "-m", "learnledger.cli.main", "store", "serve",
                               "--port", str(port), "--root", str(tmp_path / "served")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        client = KuboStore(f"http://127.0.0.1:{port}", timeout=5, retries=0)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.version()
                break
            except StoreUnreachable:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()
                time.sleep(0.1)
        cid = client.put(BINARY)
        assert client.get(cid) == BINARY
        assert LocalStore(tmp_path / "served").pins() == [cid]
        server.send_signal(signal.SIGINT)  # Ctrl-C reaches it even though it inherited SIGINT ignored
        assert server.wait(timeout=30) == 0 and b"stopped" in server.stdout.read()
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=10)


def test_serve_stops_cleanly_on_sigterm(tmp_path):
    import socket
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "learnledger.cli.main", "store", "serve",
                               "--port", str(port), "--root", str(tmp_path / "served")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while True:
        with socket.socket() as client:
            if client.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert server.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    server.send_signal(signal.SIGTERM)
    out, err = server.communicate(timeout=30)
    assert server.returncode == 0 and "stopped" in out and "Traceback" not in err, err

"""Real kubo daemons: private configuration, CIDs identical to ours, bitswap between labs, the
swarm key, and the refusals (a node down, a locked repo, a key that does not match, a CID nobody
has). Each daemon is stopped at the end of its test; the whole file skips, saying so, without kubo.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from learnledger.store.api import ContentNotFound, StoreError, StoreUnreachable
from learnledger.store.cid import CHUNK_SIZE, MAX_LINKS, compute_cid, dag_size
from learnledger.store.kubo import KuboStore
from learnledger.store.kubo_node import KuboNode, KuboNodeError, denied_networks, new_swarm_key
from tests.kubo_nodes import kubo_nodes, needs_kubo

pytestmark = [needs_kubo]

SIZES = [0, 1, 6, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 1_000_000, 4 * CHUNK_SIZE,
         MAX_LINKS * CHUNK_SIZE, MAX_LINKS * CHUNK_SIZE + 1, 25_000_000]
"""Empty, one byte, one chunk and its edges, several chunks, the 174-link edge of one tree level
and one byte past it (a second level), and a 25 MB file."""


def pseudo_random(size: int, seed: int) -> bytes:
    import numpy as np

    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    with kubo_nodes(tmp_path_factory.mktemp("kubo"), 1) as (only,):
        yield only


def test_cids_kubo_returns_equal_ours_for_v1_and_v0(node):
    """kubo's own ``add`` (with its own defaults) names every size as LearnLedger does."""
    rows = []
    for version in (1, 0):
        for index, size in enumerate(SIZES):
            data = pseudo_random(size, index)
            query = {"cid-version": version, "pin": "false"}
            if version == 1:
                query["raw-leaves"] = "true"
            answer = _add_plain(node.rpc_url, data, query)
            assert answer["Hash"] == compute_cid(data, version), (version, size)
            assert int(answer["Size"]) == dag_size(size, version), (version, size)
            rows.append((version, size))
    print(f"kubo and LearnLedger agree on {len(rows)} CIDs and DAG sizes: sizes {SIZES} x CIDv1, CIDv0")


def test_the_configuration_is_private(node):
    config = json.loads((node.repo / "config").read_text())
    assert config["Bootstrap"] == []
    assert config["Discovery"]["MDNS"]["Enabled"] is False
    assert config["Routing"]["Type"] == "none"
    assert config["AutoConf"]["Enabled"] is False and config["AutoNAT"]["ServiceMode"] == "disabled"
    assert config["Swarm"]["RelayClient"]["Enabled"] is False
    for kind in ("API", "Gateway", "Swarm"):
        assert all(a.startswith("/ip4/127.0.0.1/tcp/") for a in config["Addresses"][kind]), config["Addresses"]
    assert "/ip6/::/ipcidr/0" in config["Swarm"]["AddrFilters"]
    assert config["Plugins"]["Plugins"]["telemetry"]["Disabled"] is True
    assert config["HTTPRetrieval"]["Enabled"] is False
    assert "telemetry will be enabled" not in node.log.read_text().lower()  # kubo's notice when it would report
    assert node.peers() == []  # it dialled no one by itself
    assert node.rpc_url.startswith("http://127.0.0.1:")
    assert node.multiaddr.startswith("/ip4/127.0.0.1/tcp/") and f"/p2p/{node.peer_id}" in node.multiaddr


def test_addr_filters_deny_everything_but_the_peer_networks():
    import ipaddress

    denied = denied_networks(["127.0.0.0/8", "10.213.0.0/16"])
    blocks = [ipaddress.ip_network(f"{a.split('/')[2]}/{a.split('/')[4]}") for a in denied if a.startswith("/ip4/")]
    def allowed(address: str) -> bool:
        return not any(ipaddress.ip_address(address) in block for block in blocks)
    assert allowed("127.0.0.1") and allowed("10.213.7.2")
    assert not allowed("10.214.0.1") and not allowed("8.8.8.8") and not allowed("192.168.1.1")
    assert sum(block.num_addresses for block in blocks) == 2**32 - 2**24 - 2**16


def test_weights_move_between_labs_by_bitswap_and_are_pinned_where_asked(tmp_path):
    weights = pseudo_random(3_000_000, 7)
    with kubo_nodes(tmp_path, 2, swarm_key=new_swarm_key()) as (cern, fnal):
        assert [p.split("/p2p/")[1] for p in cern.peers()] == [fnal.peer_id]
        cid = cern.store().put(weights)
        fetched = fnal.store(find_timeout=60)
        assert fetched.get(cid) == weights   # fnal never had it: it came from cern
        assert cid not in fetched.pins()
        fetched.pin(cid)
        assert cid in fetched.pins()
        fetched.unpin(cid)
        assert cid not in fetched.pins()
        with pytest.raises(ContentNotFound, match=cid):
            fetched.unpin(cid)


def test_a_node_without_the_swarm_key_can_neither_connect_nor_fetch(tmp_path):
    key = new_swarm_key()
    with kubo_nodes(tmp_path / "labs", 1, swarm_key=key) as (lab,), \
            kubo_nodes(tmp_path / "outsider", 1) as (outsider,), \
            kubo_nodes(tmp_path / "other-key", 1, swarm_key=new_swarm_key()) as (stranger,):
        cid = lab.store().put(b"unpublished weights")
        for intruder in (outsider, stranger):
            with pytest.raises(KuboNodeError, match="same swarm.key"):
                intruder.connect(lab.multiaddr, keep=False)
            with pytest.raises(ContentNotFound) as caught:
                intruder.store(find_timeout=3).get(cid)
            assert cid in str(caught.value) and intruder.rpc_url in str(caught.value)
            assert "[none connected]" in str(caught.value)
        assert lab.peers() == []


def test_a_cid_no_reachable_node_has_times_out_naming_the_cid_and_the_nodes_asked(tmp_path):
    missing = compute_cid(b"nobody stored this")
    with kubo_nodes(tmp_path, 2) as (cern, fnal):
        store = cern.store(find_timeout=3)
        with pytest.raises(ContentNotFound) as caught:
            store.get(missing)
        message = str(caught.value)
        assert missing in message and cern.rpc_url in message and fnal.peer_id in message
        assert "for 3 s" in message


def test_a_stopped_node_is_unreachable_and_loses_no_pin(tmp_path):
    node = KuboNode(tmp_path / "repo")
    with node:
        url = node.rpc_url
        cid = node.store().put(b"kept across restarts")
    with pytest.raises(StoreUnreachable, match=f"{url}.*learnledger ipfs up"):
        KuboStore(url, retries=1, backoff=0.01, timeout=2).get(cid)
    with node:
        assert cid in node.store().pins()
        assert node.store().get(cid) == b"kept across restarts"


def test_a_frozen_node_times_out_naming_the_url_then_serves_again(tmp_path):
    """A daemon that accepts connections but does not answer (SIGSTOP) costs bounded time."""
    import signal
    import time

    with KuboNode(tmp_path / "repo") as node:
        cid = node.store().put(b"an accepted model")
        node.process.send_signal(signal.SIGSTOP)
        try:
            store = KuboStore(node.rpc_url, timeout=2, retries=1, backoff=0.01, find_timeout=1)
            started = time.monotonic()
            with pytest.raises(StoreUnreachable, match=f"{node.rpc_url}.*after 2 attempts \\(no answer within 3 s\\)"):
                store.get(cid)
            assert time.monotonic() - started < 30
        finally:
            node.process.send_signal(signal.SIGCONT)
        assert node.store().get(cid) == b"an accepted model" and cid in node.store().pins()


def test_a_repo_in_use_by_another_daemon_is_refused_and_left_alone(tmp_path):
    with KuboNode(tmp_path / "repo") as first:
        cid = first.store().put(b"first's")
        with pytest.raises(KuboNodeError, match="in use by another kubo daemon"):
            KuboNode(tmp_path / "repo").start()
        assert first.store().get(cid) == b"first's"  # still running, still serving


def test_cli_up_prints_the_rpc_and_peer_and_down_stops_it(tmp_path):
    repo = tmp_path / "repo"
    key = tmp_path / "swarm.key"
    cli = [sys.executable, "-m", "learnledger.cli.main", "ipfs"]
    made = subprocess.run([*cli, "key", str(key)], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0 and key.stat().st_mode & 0o777 == 0o600
    again = subprocess.run([*cli, "key", str(key)], capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "is not overwritten" in said(again)
    up = subprocess.run([*cli, "up", "--repo", str(repo), "--api-port", "0", "--swarm-port", "0",
                         "--swarm-key", str(key)], capture_output=True, text=True, timeout=180)
    try:
        assert up.returncode == 0, up.stderr
        lines = dict(line.split(": ", 1) for line in up.stdout.splitlines() if ": " in line)
        assert lines["rpc"].startswith("http://127.0.0.1:")
        assert lines["peer"].startswith("/ip4/127.0.0.1/tcp/") and "/p2p/12D3" in lines["peer"]
        assert KuboStore(lines["rpc"]).version()["Version"] == KuboNode.version_of_binary()
        assert (repo / "swarm.key").read_text() == key.read_text()
        twice = subprocess.run([*cli, "up", "--repo", str(repo), "--api-port", "0", "--swarm-port", "0"],
                               capture_output=True, text=True, timeout=180)
        assert twice.returncode == 1 and "in use by another kubo daemon" in said(twice)
    finally:
        down = subprocess.run([*cli, "down", "--repo", str(repo)], capture_output=True, text=True,
                              timeout=120)
    assert down.returncode == 0, down.stderr
    assert KuboNode(repo).running_daemon_url() is None
    gone = subprocess.run([*cli, "down", "--repo", str(repo)], capture_output=True, text=True, timeout=60)
    assert gone.returncode == 2 and "no kubo daemon is running" in said(gone)
    bad_key = tmp_path / "bad.key"
    bad_key.write_text("not a key\n")
    refused = subprocess.run([*cli, "up", "--repo", str(repo), "--swarm-key", str(bad_key)],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "is not a swarm key" in said(refused)


def test_a_full_disk_is_a_clear_error_and_loses_no_pin(tmp_path):
    """The node's repo on a 40 MB tmpfs: a 60 MB add fails, saying so; what was pinned stays."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(disk)],
                             capture_output=True, text=True, timeout=30)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here to fill (needs root with CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        node = KuboNode(disk / "repo")
        with node:
            store = node.store(timeout=60, retries=0)
            kept = store.put(b"an accepted model")
            with pytest.raises(StoreError, match="its disk is full .*no space left on device.*Nothing it pinned is lost"):
                store.put(pseudo_random(60_000_000, 3))
            assert store.get(kept) == b"an accepted model" and kept in store.pins()
        with node:  # and after a restart
            assert kept in node.store().pins()
    finally:
        subprocess.run(["umount", "-l", str(disk)], timeout=30)


def said(done: subprocess.CompletedProcess[str]) -> str:
    """What a command printed on stderr, with the console's line wrapping undone."""
    return " ".join(done.stderr.split())


def _add_plain(url: str, data: bytes, query: dict[str, object]) -> dict[str, str]:
    """kubo's add with only the given options: its own chunker and layout defaults decide."""
    import http.client
    import urllib.parse

    boundary = "learnledgerboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"w\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    _, hostport = url.split("://")
    host, port = hostport.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=120)
    connection.request("POST", f"/api/v0/add?{urllib.parse.urlencode(query)}", body=body,
                       headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    response = connection.getresponse()
    text = response.read()
    connection.close()
    assert response.status == 200, text
    return json.loads(text.splitlines()[-1])

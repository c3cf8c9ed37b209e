"""The embedded store: content addressing, verified reads, pins, gc, several processes at once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from learnledger.store.api import ContentCorrupted, ContentNotFound, WeightStore
from learnledger.store.cid import InvalidCid, compute_cid
from learnledger.store.local import STORE_ENV, ContentPinned, LocalStore, default_store_root

WEIGHTS = bytes(range(256)) * 3000  # 768 KB: three 256 KiB chunks and a bit


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


def test_it_is_a_weight_store(store):
    assert isinstance(store, WeightStore)


def test_put_returns_kubo_cid_and_get_returns_the_bytes(store):
    cid = store.put(WEIGHTS)
    assert cid == compute_cid(WEIGHTS, 1) and cid.startswith("bafybei")
    assert store.get(cid) == WEIGHTS
    assert store.put(WEIGHTS) == cid  # idempotent
    assert store.cids() == [cid]


def test_cid_version_0_on_request(tmp_path):
    v0 = LocalStore(tmp_path, cid_version=0)
    cid = v0.put(b"hello\n")
    assert cid == "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN"
    assert v0.get(cid) == b"hello\n"
    assert v0.put(b"hello\n", cid_version=1).startswith("bafkrei")


def test_objects_are_sharded_by_cid(store):
    cid = store.put(WEIGHTS)
    assert store.path_of(cid) == store.root / "objects" / cid[-3:-1] / cid
    assert store.path_of(cid).read_bytes() == WEIGHTS


def test_unknown_cid_is_not_found_with_advice(store):
    cid = compute_cid(b"never stored")
    with pytest.raises(ContentNotFound, match=f"{cid} is not in the store.*learnledger store add"):
        store.get(cid)


def test_text_that_is_not_a_cid_is_refused_and_never_becomes_a_path(store):
    with pytest.raises(InvalidCid, match="not a CID"):
        store.get("../../../etc/passwd")


def test_flipped_byte_on_disk_is_reported_not_served(store):
    cid = store.put(WEIGHTS)
    path = store.path_of(cid)
    damaged = bytearray(path.read_bytes())
    damaged[300_000] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(damaged))
    with pytest.raises(ContentCorrupted, match=f"{path}.*is damaged.*store rm {cid}"):
        store.get(cid)


def test_truncated_file_on_disk_is_reported(store):
    cid = store.put(WEIGHTS)
    path = store.path_of(cid)
    path.chmod(0o644)
    path.write_bytes(WEIGHTS[:1000])
    with pytest.raises(ContentCorrupted, match="truncated or altered"):
        store.get(cid)


def test_putting_the_right_bytes_again_heals_a_damaged_object(store):
    cid = store.put(WEIGHTS)
    store.path_of(cid).chmod(0o644)
    store.path_of(cid).write_bytes(b"garbage")
    store.put(WEIGHTS)
    assert store.get(cid) == WEIGHTS


def test_pins_are_listed_and_gc_removes_only_unpinned(store):
    kept = store.put(b"kept")
    loose = store.put(b"loose", pin=False)
    later = store.put(b"pinned later", pin=False)
    store.pin(later)
    assert store.pins() == sorted([kept, later])
    assert store.gc() == [loose]
    assert store.cids() == sorted([kept, later])
    store.unpin(kept)
    assert store.gc() == [kept]
    assert store.get(later) == b"pinned later"


def test_pinning_absent_content_is_refused(store):
    cid = compute_cid(b"absent")
    with pytest.raises(ContentNotFound, match="add it first"):
        store.pin(cid)
    assert store.pins() == []


def test_remove_refuses_pinned_content_unless_forced(store):
    cid = store.put(b"precious")
    with pytest.raises(ContentPinned, match="unpin it first"):
        store.remove(cid)
    assert store.get(cid) == b"precious"
    store.remove(cid, force=True)
    assert not store.has(cid) and store.pins() == []
    with pytest.raises(ContentNotFound):
        store.remove(cid)


def test_gc_removes_stale_temporary_files_only(store):
    stale, fresh = store.root / "tmp" / "stale", store.root / "tmp" / "fresh"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"x")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    store.gc()
    assert not stale.exists() and fresh.exists()


def test_a_failed_write_leaves_nothing_behind(store, monkeypatch):
    def fail(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="No space"):
        store.put(WEIGHTS, pin=False)
    assert list((store.root / "tmp").iterdir()) == []
    assert store.cids() == []


def test_fsync_mode_stores_the_same(tmp_path):
    durable = LocalStore(tmp_path, fsync=True)
    assert durable.get(durable.put(WEIGHTS)) == WEIGHTS


def test_default_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "chosen"))
    assert default_store_root() == tmp_path / "chosen"
    assert LocalStore().root == tmp_path / "chosen"
    monkeypatch.delenv(STORE_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_store_root() == tmp_path / "xdg" / "learnledger" / "store"


def test_bad_cid_version_is_refused(tmp_path):
    with pytest.raises(InvalidCid, match="cid_version=3"):
        LocalStore(tmp_path, cid_version=3)


def test_several_processes_writing_at_once_leave_every_object_whole(tmp_path):
    """Four writer processes put overlapping contents into one root at the same time."""
    script = textwrap.dedent("""
        import sys
        from learnledger.store.local import LocalStore
        store = LocalStore(sys.argv[1])
        worker = int(sys.argv[2])
        for round in range(15):
            for item in (round, worker * 100 + round):   # shared and private contents
                store.put(bytes([item % 256]) * (300_000 + item), pin=item % 2 == 0)
    """)
    root = tmp_path / "shared"
    writers = [subprocess.Popen([sys.executable, "-c", script, str(root), str(worker)])
               for worker in range(4)]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0, 0, 0]
    store = LocalStore(root)
    items = set(range(15)) | {worker * 100 + r for worker in range(4) for r in range(15)}
    assert len(store.cids()) == len(items)
    for item in items:
        data = bytes([item % 256]) * (300_000 + item)
        assert store.get(compute_cid(data)) == data
    assert list((root / "tmp").iterdir()) == []

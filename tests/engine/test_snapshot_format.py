"""The snapshot file format (sandbox/engine/snapshot.py): what it rebuilds, and that a
torn, truncated or corrupted file is refused with a clear error instead of loaded."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from sandbox.engine import snapshot
from sandbox.engine.config import EngineConfig
from sandbox.engine.resp import encode_command
from sandbox.engine.server import Server
from sandbox.engine.slots import key_slot
from sandbox.engine.snapshot import CorruptSnapshotError, SnapshotMeta

FUTURE_MS = int(time.time() * 1000) + 3_600_000


def new_server() -> Server:
    server = Server(EngineConfig(port=0, cluster_enabled=True))
    server.expires_locally = False  # as on a replica and in the snapshotter
    return server


def apply(server: Server, *commands: list[bytes | str]) -> None:
    server.apply_stream(b"".join(encode_command([b"SELECT", b"0"]) + encode_command(c) for c in commands))


def sample_server(extra_keys: int = 0) -> Server:
    server = new_server()
    apply(
        server,
        ["SET", "str", "value"], ["PEXPIREAT", "str", FUTURE_MS],
        ["SET", "gone", "x"], ["PEXPIREAT", "gone", 1000],  # TTL passed; the primary's DEL has not come yet
        ["RPUSH", "list", "a", "b", "c"],
        ["HSET", "hash", "f1", "v1", "f2", "v2"],
        ["SADD", "set", "m1", "m2", "m3"],
        ["ZADD", "zset", "1.5", "a", "-0", "b", "inf", "c"],
    )
    for i in range(extra_keys):
        apply(server, ["SET", f"k{i}", f"v{i}" * 10])
    return server


def write_snapshot(directory: Path, server: Server, upto: int = 7, created_ms: int = 1) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    meta = SnapshotMeta(snapshot.FORMAT, 0, upto, 12345, created_ms, snapshot.key_count(server), "test",
                        snapshot.dataset_digest(server))
    path = str(directory / snapshot.snapshot_name(upto, created_ms))
    snapshot.write(path, meta, snapshot.dump(server))
    return path


def test_a_snapshot_rebuilds_every_type_with_its_absolute_expiry(tmp_path):
    original = sample_server()
    path = write_snapshot(tmp_path, original)
    restored = new_server()
    snap = snapshot.load(path, restored)
    assert snap.meta.upto_id == 7 and snap.meta.crc == 12345 and snap.meta.keys == 6
    db = restored.keyspace.dbs[0]
    assert db.data[b"str"] == b"value" and db.expires[b"str"] == FUTURE_MS
    assert db.data[b"gone"] == b"x" and db.expires[b"gone"] == 1000
    assert list(db.data[b"list"]) == [b"a", b"b", b"c"]
    assert db.data[b"hash"] == {b"f1": b"v1", b"f2": b"v2"}
    assert db.data[b"set"] == {b"m1", b"m2", b"m3"}
    assert [(m, s) for s, m in db.data[b"zset"]] == [(b"b", 0.0), (b"a", 1.5), (b"c", float("inf"))]
    assert snapshot.dataset_digest(restored) == snapshot.dataset_digest(original)


def test_the_digest_depends_on_the_data_not_on_the_order_it_was_built_in():
    a, b = new_server(), new_server()
    apply(a, ["SADD", "s", "1", "2", "3"], ["HSET", "h", "x", "1", "y", "2"], ["SET", "k", "v"])
    apply(b, ["SET", "k", "v"], ["HSET", "h", "y", "2", "x", "1"], ["SADD", "s", "3", "1"], ["SADD", "s", "2"])
    assert snapshot.dataset_digest(a) == snapshot.dataset_digest(b)
    apply(b, ["PEXPIREAT", "k", FUTURE_MS])
    assert snapshot.dataset_digest(a) != snapshot.dataset_digest(b)


def test_a_big_key_spans_chunks_and_every_chunk_ends_on_a_command(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshot, "CHUNK_BYTES", 4096)
    server = new_server()
    apply(server, ["RPUSH", "big", *[f"element-{i}" for i in range(5000)]], ["SET", "after", "1"])
    path = write_snapshot(tmp_path, server)
    snap = snapshot.read(path)
    assert len(snap.chunks) > 10
    for chunk in snap.chunks:
        probe = new_server()
        probe.apply_stream(chunk)  # raises on half a command
    restored = new_server()
    snapshot.load(path, restored)
    assert list(restored.keyspace.dbs[0].data[b"big"]) == [f"element-{i}".encode() for i in range(5000)]


def test_it_refuses_a_file_truncated_at_any_byte(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshot, "CHUNK_BYTES", 300)  # several chunks, so cuts land inside and between them
    path = write_snapshot(tmp_path / "good", sample_server(extra_keys=40))
    data = Path(path).read_bytes()
    cut_path = tmp_path / snapshot.snapshot_name(7, 1)
    assert len(snapshot.read(path).chunks) >= 3
    for size in range(len(data)):
        cut_path.write_bytes(data[:size])
        with pytest.raises(CorruptSnapshotError) as info:
            snapshot.verify(str(cut_path))
        assert str(cut_path) in str(info.value), size


def test_it_refuses_a_file_with_any_byte_corrupted(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshot, "CHUNK_BYTES", 300)
    path = write_snapshot(tmp_path / "good", sample_server(extra_keys=40))
    data = Path(path).read_bytes()
    bad_path = tmp_path / snapshot.snapshot_name(7, 1)
    reasons = set()
    for offset in range(len(data)):
        flipped = bytearray(data)
        flipped[offset] ^= 0x5A
        bad_path.write_bytes(bytes(flipped))
        with pytest.raises(CorruptSnapshotError) as info:
            snapshot.verify(str(bad_path))
        assert str(bad_path) in str(info.value), offset
        reasons.add(info.value.reason.split(" ")[0])
    assert len(reasons) >= 3  # header, middle records and the tail are told apart


def test_it_refuses_a_snapshot_under_another_entrys_name(tmp_path):
    path = write_snapshot(tmp_path, sample_server(), upto=7)
    renamed = tmp_path / snapshot.snapshot_name(9, 1)
    shutil.copy(path, renamed)
    with pytest.raises(CorruptSnapshotError, match="named for entry 9 but holds entry 7"):
        snapshot.verify(str(renamed))


def test_write_never_replaces_an_existing_file(tmp_path):
    path = write_snapshot(tmp_path, sample_server())
    with pytest.raises(FileExistsError):
        write_snapshot(tmp_path, sample_server())
    snapshot.verify(path)


def test_load_latest_falls_back_to_an_older_snapshot_then_to_nothing(tmp_path):
    older = write_snapshot(tmp_path, sample_server(), upto=5)
    newer_server = sample_server(extra_keys=3)
    newer = write_snapshot(tmp_path, newer_server, upto=9)
    (tmp_path / (snapshot.TEMP_PREFIX + snapshot.snapshot_name(12, 1))).write_bytes(b"half a file")
    assert snapshot.published(str(tmp_path)) == [newer, older]

    server = new_server()
    assert snapshot.load_latest(str(tmp_path), server).path == newer
    assert snapshot.dataset_digest(server) == snapshot.dataset_digest(newer_server)

    data = bytearray(Path(newer).read_bytes())
    data[len(data) // 2] ^= 0xFF
    Path(newer).write_bytes(bytes(data))
    rejected: list[tuple[str, str]] = []
    snap = snapshot.load_latest(str(tmp_path), server, rejected=lambda p, why: rejected.append((p, why)))
    assert snap is not None and snap.path == older and snap.meta.upto_id == 5
    assert [p for p, _ in rejected] == [newer]
    assert snapshot.key_count(server) == 6

    # A trim past entry 5 makes the older snapshot useless too: nothing is loaded.
    assert snapshot.load_latest(str(tmp_path), server, min_upto=6) is None
    assert snapshot.key_count(server) == 0


def test_only_the_snapshotter_removes_temp_files(tmp_path):
    write_snapshot(tmp_path, sample_server())
    temp = tmp_path / (snapshot.TEMP_PREFIX + "snap-0000000000000010-1.mdbsnap")
    temp.write_bytes(b"partial")
    assert all(snapshot.TEMP_PREFIX not in p for p in snapshot.published(str(tmp_path)))
    assert snapshot.remove_temp_files(str(tmp_path)) == [temp.name]
    assert not temp.exists() and len(snapshot.published(str(tmp_path))) == 1


def test_rebase_seeds_each_new_shard_at_entry_zero_with_the_keys_of_its_slots(tmp_path):
    source = write_snapshot(tmp_path / "src", sample_server(extra_keys=200), upto=4242)
    ranges = [(0, 8191), (8192, 16383)]
    metas = snapshot.rebase(source, str(tmp_path / "new"), ranges, EngineConfig(port=0, cluster_enabled=True),
                            now_ms=5)
    assert [m.upto_id for m in metas] == [0, 0] and [m.crc for m in metas] == [0, 0]
    assert sum(m.keys for m in metas) == 206
    for shard, (lo, hi) in enumerate(ranges):
        server = new_server()
        snap = snapshot.load_latest(snapshot.shard_dir(str(tmp_path / "new"), shard), server)
        assert snap is not None and "rebased from" in snap.meta.source and "entry 4242" in snap.meta.source
        keys = server.keyspace.dbs[0].data
        assert keys and all(lo <= key_slot(k) <= hi for k in keys)
        if b"gone" in keys:
            assert server.keyspace.dbs[0].expires[b"gone"] == 1000
    with pytest.raises(FileExistsError):
        snapshot.rebase(source, str(tmp_path / "new"), ranges, EngineConfig(port=0, cluster_enabled=True), now_ms=6)
    assert not any(name.startswith(snapshot.TEMP_PREFIX) for name in os.listdir(tmp_path / "new" / "shard-0"))

"""Engine bounds on a sandbox's resources, with real processes started by a
``Supervisor`` on loopback and stopped by it (by pid): the learner's user may not
bypass maxmemory (CLIENT NO-EVICT), every process runs under a memory limit derived
from maxmemory, a process that keeps crashing is restarted later each time, a value
larger than a snapshot record once allowed is snapshotted and restored byte for
byte, and a durable cluster's disk cap refuses writes (not reads) until a snapshot
trims the log."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from pathlib import Path

import redis

from sandbox.engine import errors, snapshot
from sandbox.engine.supervisor import ClusterSpec, Supervisor, memory_limit

from .rawclient import RawClient
from .durability import wait_for
from .test_supervisor import data_nodes, wait_event

USER, PASSWORD = "learner-b0und", "pw-" + "cd" * 12
MB = 1024 * 1024


async def event_after(sup: Supervisor, seen: int, name: str, timeout: float, **match: object) -> dict:
    """The first ``name`` event after the first ``seen`` events of the history."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for event in sup.history[seen:]:
            if event.get("event") == name and all(event.get(k) == v for k, v in match.items()):
                return event
        await asyncio.sleep(0.02)
    raise TimeoutError(f"no {name} event {match} within {timeout} s")


def data_size_limit(pid: int) -> int:
    with open(f"/proc/{pid}/limits") as f:
        line = next(line for line in f if line.startswith("Max data size"))
    soft = line.split()[3]
    return -1 if soft == "unlimited" else int(soft)


def test_the_learners_user_gets_noperm_for_client_no_evict_and_every_process_has_a_memory_limit(tmp_path: Path) -> None:
    async def scenario() -> None:
        spec = ClusterSpec(mode="durable", shards=1, replicas=1, data_dir=str(tmp_path), maxmemory="64mb",
                           username=USER, password=PASSWORD)
        sup = Supervisor(spec)
        try:
            top = await sup.start()
            primary = next(p for p in data_nodes(top) if p["role"] == "primary")
            with RawClient(primary["port"]) as c:
                assert c.call("AUTH", USER, PASSWORD) == b"+OK\r\n"
                assert c.call("CLIENT", "NO-EVICT", "on") == (
                    b"-NOPERM this user has no permissions to run the 'client|no-evict' command\r\n")
                assert c.call("CLIENT", "ID").startswith(b":")  # other CLIENT subcommands stay allowed
            kinds = set()
            for p in sup.procs.values():
                assert p.pid is not None
                want = memory_limit(p.kind, spec)
                assert want > 0 and data_size_limit(p.pid) == want, p.id
                kinds.add(p.kind)
            assert kinds == {"journal", "data", "snapshotter"}
            assert memory_limit("data", spec) == 128 * MB + 4 * 64 * MB  # a 64mb node: 384 MB, not ~430
        finally:
            await sup.stop()

    asyncio.run(scenario())


def test_without_maxmemory_no_process_gets_a_memory_limit(tmp_path: Path) -> None:
    async def scenario() -> None:
        sup = Supervisor(ClusterSpec(mode="cache", shards=1, replicas=0, data_dir=str(tmp_path)))
        try:
            await sup.start()
            for p in sup.procs.values():
                assert data_size_limit(p.pid) == -1  # type: ignore[arg-type]
        finally:
            await sup.stop()

    asyncio.run(scenario())


def test_a_process_that_keeps_crashing_is_restarted_later_each_time(tmp_path: Path) -> None:
    async def scenario() -> None:
        sup = Supervisor(ClusterSpec(mode="durable", shards=1, replicas=0, data_dir=str(tmp_path),
                                     restart_delay_ms=200))
        try:
            await sup.start()
            delays = []
            for round_ in range(3):
                await sup.kill("snapshotter")
                if round_ == 0:
                    await wait_event(sup, "node_restarted", 10, node="snapshotter")
                else:
                    backoff = await wait_event(sup, "restart_backoff", 10, node="snapshotter", crashes=round_ + 1)
                    assert "crashed" in backoff["reason"] and "waiting" in backoff["reason"]
                    delays.append(backoff["delay_ms"])
                    restarted = await wait_for(sup, "node_restarted", 10, since=sup.history.index(backoff),
                                               node="snapshotter")
                    # The supervisor's own timestamps (ms): the test noticing the backoff
                    # late on a loaded host must not shorten the wait it measures.
                    assert restarted["ts"] - backoff["ts"] >= backoff["delay_ms"] - 1, (backoff, restarted)
            assert delays == [400, 800]  # doubling from the spec's 200 ms
        finally:
            await sup.stop()

    asyncio.run(scenario())


def test_a_70mb_value_is_snapshotted_verified_trimmed_and_restored_byte_for_byte(tmp_path: Path) -> None:
    async def scenario() -> None:
        sup = Supervisor(ClusterSpec(mode="durable", shards=1, replicas=1, data_dir=str(tmp_path), maxmemory="200mb",
                                     snapshot_interval_s=0, snapshot_threshold_entries=0))
        try:
            top = await sup.start()
            primary = next(p for p in data_nodes(top) if p["role"] == "primary")
            replica = next(p for p in data_nodes(top) if p["role"] == "replica")
            client = redis.Redis(port=primary["port"], socket_timeout=60)
            assert client.setrange("big", 70_000_000, "x") == 70_000_001
            client.set("small", "v")
            want = hashlib.sha256(bytes(70_000_000) + b"x").hexdigest()
            for _ in range(2):  # the journal is trimmed to the older of two kept snapshots
                seen = len(sup.history)
                await sup.snapshot()
                written = await event_after(sup, seen, "snapshot_written", 120)
                assert written["keys"] == 2
                client.set("small", f"after-{seen}")
            trimmed = await wait_event(sup, "trimmed", 30)
            assert trimmed["upto"] > 0
            assert not any(e["event"] == "snapshot_failed" for e in sup.history)
            path = snapshot.published(snapshot.shard_dir(str(tmp_path / "snapshots"), 0))[0]
            meta = snapshot.verify(path)
            assert meta.format == 3 and meta.keys == 2
            # A node restored from it (the journal no longer holds the write) has the value.
            seen = len(sup.history)
            await sup.kill(replica["id"])
            loaded = await event_after(sup, seen, "snapshot_loaded", 30, node=replica["id"], reason="start")
            assert loaded["from_snapshot"] is not None and loaded["upto"] >= trimmed["upto"]
            back = redis.Redis(port=replica["port"], socket_timeout=60)
            back.execute_command("READONLY")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:  # CLUSTERDOWN until the supervisor's topology push reaches the restarted node
                    if back.strlen("big") == 70_000_001:
                        break
                except redis.ResponseError:
                    pass
                await asyncio.sleep(0.1)
            assert hashlib.sha256(back.get("big")).hexdigest() == want
        finally:
            await sup.stop()

    asyncio.run(scenario())


QUOTA_TEXT = re.compile(r"^the sandbox's disk quota is used up \(\d+ MB of 8 MB\); "
                        r"writes resume after the next snapshot trims the log$")


def test_a_disk_cap_refuses_writes_keeps_reads_and_loses_no_acknowledged_write(tmp_path: Path) -> None:
    async def scenario() -> None:
        sup = Supervisor(ClusterSpec(mode="durable", shards=1, replicas=1, data_dir=str(tmp_path),
                                     max_disk_bytes=8 * MB, snapshot_interval_s=0, snapshot_threshold_entries=0))
        try:
            top = await sup.start()
            primary = next(p for p in data_nodes(top) if p["role"] == "primary")
            client = redis.Redis(port=primary["port"], socket_timeout=10)
            acked: dict[str, bytes] = {}
            last_big = -1
            refused: str | None = None
            for i in range(300):  # at most 300 MB in 1 MB writes
                try:
                    client.set("big", b"%08d" % i + bytes(MB))
                    last_big = i
                    client.set(f"a{i}", i)
                    acked[f"a{i}"] = b"%d" % i
                except redis.ResponseError as exc:
                    if "disk quota" in str(exc):
                        refused = str(exc)
                        break
                    raise
            assert refused is not None, "the cap was never reached"
            assert QUOTA_TEXT.match(refused), refused
            await event_after(sup, 0, "disk_quota_reached", 5)  # this blocking client held the event loop
            # Reads go on while writes are refused.
            assert client.get("a0") == b"0"
            # The snapshotter trims the log (it runs once the log is a quarter of the cap)
            # and writes resume.
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.set("after", "cap")
                    break
                except redis.ResponseError as exc:
                    assert "disk quota" in str(exc) and time.monotonic() < deadline, str(exc)
                    await asyncio.sleep(0.2)
            await event_after(sup, 0, "disk_quota_cleared", 5)
            assert any(e["event"] == "trimmed" for e in sup.history)
            for key, value in acked.items():
                assert client.get(key) == value, key
            assert int(client.get("big")[:8]) == last_big
            assert not any(e["event"] == "fenced" for e in sup.history)
        finally:
            await sup.stop()

    asyncio.run(scenario())

"""Snapshots with real processes: the off-node snapshotter writes verified snapshots
(on demand, past a threshold) and lets the journal trim; data nodes restore from
them and replay the rest; damage and crashes never publish or load a bad snapshot;
a new cluster starts from a snapshot file.

Every process is started by a ``Supervisor`` (or ``subprocess``) here and stopped by
pid when the test ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import redis
from redis.cluster import RedisCluster

from sandbox.engine import snapshot
from sandbox.engine.__main__ import build_parser
from sandbox.engine.durable import JournalClient
from sandbox.engine.journal_auth import load_secret
from sandbox.engine.respclient import RespError, connect
from sandbox.engine.slots import key_slot
from sandbox.engine.supervisor import ClusterSpec, Supervisor, slot_ranges

from .servers import ROOT, die_with_parent, stop

NEVER = 1_000_000  # a threshold no test reaches


@contextlib.asynccontextmanager
async def durable_cluster(data_dir: Path, **spec: Any) -> AsyncIterator[Supervisor]:
    # Crashed nodes come back on their own (after 2 s, so that a test that kills a
    # node on purpose restarts it first, after wiping its directory).
    options: dict[str, Any] = {"replicas": 1, "snapshot_interval_s": 0, "snapshot_threshold_entries": NEVER,
                               "restart_delay_ms": 2000}
    options.update(spec)
    sup = Supervisor(ClusterSpec(mode="durable", shards=options.pop("shards", 1), data_dir=str(data_dir), **options))
    try:
        await sup.start()
        yield sup
    finally:
        await sup.stop()


async def wait_event(sup: Supervisor, name: str, timeout: float, since: int = 0, **match: Any) -> dict:
    """The first event called ``name`` at or after history index ``since`` matching ``match``."""
    async def find() -> dict:
        seen = since
        while True:
            for event in sup.history[seen:]:
                if event.get("event") == name and all(event.get(k) == v for k, v in match.items()):
                    return event
            seen = len(sup.history)
            await asyncio.sleep(0.02)

    try:
        return await asyncio.wait_for(find(), timeout)
    except asyncio.TimeoutError:
        seen = [(e.get("event"), e.get("reason")) for e in sup.history[since:]]
        raise AssertionError(f"no {name} {match} within {timeout}s; saw {seen}") from None


async def primary(sup: Supervisor, shard: int = 0) -> redis.Redis:
    """A client of the shard's primary, once it accepts writes (the topology push
    that follows the election may still be on its way) and every data node of the
    cluster is up and tailing the journal."""
    await settled(sup)
    lo, hi = slot_ranges(sup.spec.shards)[shard]
    probe = next(k for k in (f"probe-{i}" for i in range(10_000)) if lo <= key_slot(k.encode()) <= hi)
    deadline = time.monotonic() + 10
    while True:
        p = sup.primary_of(shard)
        if p is not None:
            client = redis.Redis(port=p.port, single_connection_client=True)
            try:
                client.set(probe, "1")
                return client
            except redis.RedisError:
                client.close()
        if time.monotonic() > deadline:
            raise AssertionError("the shard's primary never accepted a write")
        await asyncio.sleep(0.05)


async def settled(sup: Supervisor, timeout: float = 15) -> None:
    """Every data node runs and has reported ``restored`` since it last started."""
    deadline = time.monotonic() + timeout
    while True:
        nodes = [p for p in sup.procs.values() if p.kind == "data"]
        last_start = {p.id: 0 for p in nodes}
        caught_up: set[str] = set()
        for i, e in enumerate(sup.history):
            if e.get("node") in last_start and e["event"] in ("node_crashed", "node_restarted"):
                last_start[e["node"]] = i
                caught_up.discard(e["node"])
            elif e["event"] == "restored" and i >= last_start.get(e.get("node"), i + 1):
                caught_up.add(e["node"])
        if all(p.status == "running" and p.id in caught_up for p in nodes):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"data nodes not settled: {[(p.id[:8], p.status) for p in nodes]}")
        await asyncio.sleep(0.05)


def write(client: redis.Redis, prefix: str, count: int) -> None:
    for i in range(count):
        client.set(f"{prefix}{i}", f"{prefix}-value-{i}")


def replica_reads(port: int, prefixes: dict[str, int]) -> dict[str, int]:
    """How many of each prefix's keys a replica holds with the right value."""
    client = redis.Redis(port=port, single_connection_client=True)
    try:
        client.execute_command("READONLY")
        return {p: sum(client.get(f"{p}{i}") == f"{p}-value-{i}".encode() for i in range(n)) for p, n in prefixes.items()}
    finally:
        client.close()


def journal_secret(sup: Supervisor) -> str:
    return load_secret(str(sup.journal_secret_file)).decode()


def journal(sup: Supervisor) -> JournalClient:
    return JournalClient(tuple(("127.0.0.1", p.port) for p in sup.procs.values() if p.kind == "journal"),
                         secret=journal_secret(sup))


async def jread_from_zero(sup: Supervisor) -> Any:
    client = journal(sup)
    try:
        return await client.call(b"JREAD", b"shard-0", 0, 5, 0)
    except RespError as err:
        return err
    finally:
        client.drop()


async def trim_applied_everywhere(sup: Supervisor) -> None:
    """Wait until every journal replica answers a read from entry 0 with -TRIMMED."""
    for p in [p for p in sup.procs.values() if p.kind == "journal"]:
        conn = await connect("127.0.0.1", p.port, auth=(journal_secret(sup),))
        try:
            for _ in range(100):
                try:
                    await conn.send(b"JREAD", b"shard-0", 0, 1, 0)
                except RespError as err:
                    assert err.code == "TRIMMED"
                    break
                await asyncio.sleep(0.02)
            else:
                raise AssertionError(f"{p.id} never applied the trim")
        finally:
            conn.close()


def shard_dir(sup: Supervisor, shard: int = 0) -> str:
    return snapshot.shard_dir(str(sup.dir / "snapshots"), shard)


def replica_of(sup: Supervisor, shard: int = 0):
    return next(p for p in sup.procs.values() if p.kind == "data" and p.shard == shard and p.role == "replica")


async def snapshot_now(sup: Supervisor, timeout: float = 20) -> dict:
    mark = len(sup.history)
    await sup.snapshot()
    return await wait_event(sup, "snapshot_written", timeout, since=mark, stream="shard-0")


async def restart_wiped(sup: Supervisor, node_id: str) -> dict:
    """SIGKILL a data node, wipe its directory, start it again; its ``restored`` event."""
    mark = len(sup.history)
    await sup.kill(node_id)
    await wait_event(sup, "node_crashed", 10, since=mark, node=node_id)
    shutil.rmtree(sup.dir / "nodes" / node_id, ignore_errors=True)
    mark = len(sup.history)
    await sup.restart(node_id)
    return await wait_event(sup, "restored", 20, since=mark, node=node_id)


def test_on_demand_snapshots_are_verified_kept_two_deep_and_trim_the_journal(tmp_path):
    async def scenario() -> None:
        async with durable_cluster(tmp_path / "first") as sup:
            client = await primary(sup)
            write(client, "a", 100)
            first = await snapshot_now(sup)
            assert first["reason"] == "on_demand" and first["keys"] == 101 and first["from"] is None
            assert first["checksums"] >= 1  # the primary's running-checksum markers were checked
            assert snapshot.verify(first["path"]).upto_id == first["upto"]
            assert isinstance(await jread_from_zero(sup), list)  # nothing trimmed: no older snapshot yet

            write(client, "b", 60)
            mark = len(sup.history)
            second = await snapshot_now(sup)
            assert second["from"] == os.path.basename(first["path"])
            assert second["replayed"] == second["upto"] - first["upto"] and second["keys"] == 161
            trimmed = await wait_event(sup, "trimmed", 10, since=mark)
            assert trimmed["upto"] == first["upto"]  # up to the older kept snapshot
            for _ in range(50):  # a journal follower applies the trim a moment later
                answer = await jread_from_zero(sup)
                if isinstance(answer, RespError):
                    break
                await asyncio.sleep(0.05)
            assert isinstance(answer, RespError)
            assert answer.text == f"TRIMMED {first['upto']} {os.path.basename(first['path'])}"

            write(client, "c", 30)
            third = await snapshot_now(sup)
            assert snapshot.published(shard_dir(sup)) == [third["path"], second["path"]]
            source = third["path"]
            shutil.copy(source, tmp_path / "backup.mdbsnap")

        # A new cluster of two shards from that snapshot: every key, in the shard owning its slot.
        mark = 0
        async with durable_cluster(tmp_path / "second", shards=2, replicas=0,
                                   from_snapshot=str(tmp_path / "backup.mdbsnap")) as sup2:
            seeded = await wait_event(sup2, "seeded_from_snapshot", 1, since=mark)
            assert sum(s["keys"] for s in seeded["shards"]) == 191 and all(s["keys"] for s in seeded["shards"])
            restored = [e for e in sup2.history if e["event"] == "restored"]
            assert len(restored) == 2 and all(e["upto"] == 0 and e["from_snapshot"] for e in restored)
            await primary(sup2, 0)
            await primary(sup2, 1)
            rc = RedisCluster(host="127.0.0.1", port=sup2.primary_of(0).port)
            try:
                for prefix, n in (("a", 100), ("b", 60), ("c", 30)):
                    assert [rc.get(f"{prefix}{i}") for i in range(n)] == [f"{prefix}-value-{i}".encode() for i in range(n)]
                rc.set("new", "write")
                assert rc.get("new") == b"write"
            finally:
                rc.close()
            tail = await journal(sup2).call(b"JTAIL", b"shard-0")
            assert tail < 50  # a new stream: the source's entry ids are not carried over

    asyncio.run(scenario())


def test_a_wiped_replica_restores_from_the_threshold_snapshot_and_replays_only_the_rest(tmp_path):
    async def scenario() -> None:
        async with durable_cluster(tmp_path, snapshot_threshold_entries=200) as sup:
            client = await primary(sup)
            write(client, "a", 250)
            snap = await wait_event(sup, "snapshot_written", 15, stream="shard-0")
            assert snap["reason"] == "threshold" and snap["upto"] >= 200
            write(client, "b", 60)
            tail = await journal(sup).call(b"JTAIL", b"shard-0")
            node = replica_of(sup)
            restored = await restart_wiped(sup, node.id)
            assert restored["from_snapshot"] == os.path.basename(snap["path"]) and restored["upto"] == snap["upto"]
            # It replayed the rest of the stream (at least up to the tail before the kill), not all of it.
            assert restored["upto"] + restored["replayed"] >= tail and restored["replayed"] < tail - 150
            assert replica_reads(node.port, {"a": 250, "b": 60}) == {"a": 250, "b": 60}

    asyncio.run(scenario())


def test_a_replica_that_slept_through_a_trim_reloads_a_snapshot_and_catches_up(tmp_path):
    async def scenario() -> None:
        async with durable_cluster(tmp_path) as sup:
            client = await primary(sup)
            write(client, "a", 20)
            node = replica_of(sup)
            mark = len(sup.history)
            await sup.pause(node.id, 60)  # SIGSTOP: its last JREAD answer waits in the socket
            write(client, "b", 700)  # more than one JREAD batch (500) past where it stopped
            first = await snapshot_now(sup)
            write(client, "c", 20)
            await snapshot_now(sup)
            await wait_event(sup, "trimmed", 10, since=mark, upto=first["upto"])
            await trim_applied_everywhere(sup)
            os.kill(node.pid, signal.SIGCONT)  # wake it now rather than when the pause ends
            trimmed = await wait_event(sup, "journal_trimmed", 20, since=mark, node=node.id)
            assert trimmed["trimmed_upto"] == first["upto"] and trimmed["applied"] < first["upto"]
            # It reloads a snapshot covering the trim. On a loaded machine the live
            # primary may miss a lease renewal while this runs, and the woken replica
            # may then win an election (the old primary is fenced): it still starts
            # from that snapshot, so either way its data must be complete.
            loaded = await wait_event(sup, "snapshot_loaded", 20, since=mark, node=node.id, reason="trimmed")
            assert loaded["upto"] >= first["upto"]
            assert replica_reads(node.port, {"a": 20, "b": 700, "c": 20}) == {"a": 20, "b": 700, "c": 20}

    asyncio.run(scenario())


def test_snapshots_also_run_on_a_schedule(tmp_path):
    async def scenario() -> None:
        async with durable_cluster(tmp_path, replicas=0, snapshot_interval_s=1) as sup:
            client = await primary(sup)
            write(client, "a", 10)
            # A scheduled snapshot may already be under way (or done) from before the
            # writes: on a slow start the first tick comes before the election. The
            # property is that a later tick, with nobody asking, captures them.
            mark = len(sup.history)
            deadline = time.monotonic() + 15
            while True:
                scheduled = [e for e in sup.history[mark:] if e["event"] == "snapshot_written"]
                if any(e["keys"] >= 10 for e in scheduled):
                    break
                assert time.monotonic() < deadline, f"no scheduled snapshot of the writes; saw {scheduled}"
                await asyncio.sleep(0.05)
            assert {e["reason"] for e in scheduled} == {"interval"}

    asyncio.run(scenario())


def test_a_corrupted_newest_snapshot_is_passed_over_and_everyone_still_converges(tmp_path):
    async def scenario() -> None:
        async with durable_cluster(tmp_path) as sup:
            client = await primary(sup)
            write(client, "a", 80)
            older = await snapshot_now(sup)
            write(client, "b", 80)
            newest = await snapshot_now(sup)
            data = bytearray(Path(newest["path"]).read_bytes())
            data[len(data) // 2] ^= 0xFF
            Path(newest["path"]).write_bytes(bytes(data))
            write(client, "c", 40)

            node = replica_of(sup)
            mark = len(sup.history)
            restored = await restart_wiped(sup, node.id)
            rejected = await wait_event(sup, "snapshot_rejected", 1, since=mark, node=node.id)
            assert rejected["path"] == newest["path"] and "corrupt" in rejected["reason"]
            assert restored["from_snapshot"] == os.path.basename(older["path"])
            assert replica_reads(node.port, {"a": 80, "b": 80, "c": 40}) == {"a": 80, "b": 80, "c": 40}

            # The snapshotter too starts from the older one, and sets the damaged one aside.
            after = await snapshot_now(sup)
            assert after["from"] == os.path.basename(older["path"]) and after["keys"] == 201
            assert snapshot.published(shard_dir(sup)) == [after["path"], older["path"]]
            assert os.path.exists(newest["path"] + ".corrupt")

    asyncio.run(scenario())


def test_the_snapshotter_publishes_nothing_when_a_checksum_entry_disagrees(tmp_path):
    async def scenario() -> None:
        async with durable_cluster(tmp_path, replicas=0) as sup:
            client = await primary(sup)
            write(client, "a", 30)
            planter = journal(sup)
            while True:  # the primary renews its lease meanwhile: append right after the real tail
                tail = await planter.call(b"JTAIL", b"shard-0")
                try:
                    await planter.call(b"JAPPEND", b"shard-0", tail, b"checksum", json.dumps([tail, 1]).encode())
                    break
                except RespError as err:
                    assert err.code == "CONDFAIL"
            mark = len(sup.history)
            await sup.snapshot()
            failed = await wait_event(sup, "snapshot_failed", 15, since=mark, stream="shard-0")
            assert "running checksum mismatch" in failed["reason"] and f"entry {tail}" in failed["reason"]
            assert snapshot.published(shard_dir(sup)) == []
            assert os.listdir(shard_dir(sup)) == []  # no temp file left either
            assert not any(e["event"] == "trimmed" for e in sup.history)
            assert isinstance(await jread_from_zero(sup), list)

    asyncio.run(scenario())


def test_a_snapshotter_killed_mid_write_publishes_nothing_and_the_next_run_succeeds(tmp_path):
    async def scenario() -> None:
        async with durable_cluster(tmp_path, replicas=0, restart_delay_ms=300) as sup:
            client = await primary(sup)
            value = b"v" * 400
            for start in range(0, 30_000, 2000):  # a transaction is one journal entry: a fast way to load 12 MB
                pipe = client.pipeline(transaction=True)
                for i in range(start, start + 2000):
                    pipe.set(f"{{big}}{i}", value)  # one slot: EXEC refuses a cross-slot transaction
                pipe.execute()
            mark = len(sup.history)
            await sup.snapshot()
            writing = await wait_event(sup, "snapshot_writing", 20, since=mark, stream="shard-0")
            await sup.kill("snapshotter")
            await wait_event(sup, "node_crashed", 5, since=mark, node="snapshotter")
            assert os.path.exists(writing["path"])  # killed before its file was published
            assert snapshot.published(shard_dir(sup)) == []

            removed = await wait_event(sup, "temp_removed", 15, since=mark, node="snapshotter")
            assert removed["files"] == [os.path.basename(writing["path"])]
            assert not os.path.exists(writing["path"])
            done = await snapshot_now(sup, timeout=30)
            assert done["keys"] == 30_001 and snapshot.published(shard_dir(sup)) == [done["path"]]
            assert snapshot.verify(done["path"]).keys == 30_001

    asyncio.run(scenario())


def test_the_snapshotter_command_speaks_json_lines_and_exits_0_on_sigterm(tmp_path):
    leftover = tmp_path / "shard-0" / (snapshot.TEMP_PREFIX + snapshot.snapshot_name(3, 1))
    leftover.parent.mkdir()
    leftover.write_bytes(b"a crash left this")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.engine", "snapshotter", "--journal", "127.0.0.1:1", "--shards", "1",
         "--dir", str(tmp_path), "--interval-s", "0", "--threshold-entries", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, preexec_fn=die_with_parent,
    )
    assert proc.stdout is not None
    try:
        ready = json.loads(proc.stdout.readline())
        assert ready["event"] == "ready" and ready["pid"] == proc.pid
        assert not leftover.exists()
        proc.send_signal(signal.SIGUSR1)
        events: list[dict] = []
        while not any(e["event"] == "snapshot_failed" for e in events):
            events.append(json.loads(proc.stdout.readline()))
        assert events[0]["event"] == "temp_removed"
        assert events[-1] == {"event": "snapshot_failed", "shard": 0, "stream": "shard-0", "reason": "journal unavailable"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        stop(proc)


def test_the_cluster_command_takes_a_snapshot_to_start_from():
    args = build_parser().parse_args(["cluster", "--mode", "durable", "--from-snapshot", "/backups/s.mdbsnap"])
    assert args.from_snapshot == "/backups/s.mdbsnap"
    with pytest.raises(ValueError):
        Supervisor(ClusterSpec(mode="cache", from_snapshot="/backups/s.mdbsnap"))

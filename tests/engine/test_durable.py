"""Durable mode under real failures: SIGKILLed primaries, replicas, journal
replicas and whole zones, paused primaries and full restarts. Every acknowledged
write must survive; counters may never fall below their acknowledged increments."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis

from sandbox.engine.journal_auth import load_secret
from sandbox.engine.supervisor import ClusterSpec, Supervisor

from .durability import Writer, data_ports, primary, verify, wait_for


def spec(tmp_path, **kw) -> ClusterSpec:
    base = dict(mode="durable", shards=1, replicas=1, data_dir=str(tmp_path), snapshotter=False,
                restart_delay_ms=300, lease_ms=600)
    base.update(kw)
    return ClusterSpec(**base)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


async def until_acked(writer: Writer, count: int, timeout: float = 30) -> None:
    """Let the writer run at least until ``count`` writes were acknowledged: a count,
    not a sleep, so a loaded host that writes slowly still tests as much."""
    deadline = time.monotonic() + timeout
    while len(writer.ledger.acked) < count:
        assert time.monotonic() < deadline, f"only {len(writer.ledger.acked)} writes acknowledged"
        await asyncio.sleep(0.05)


def test_acknowledged_writes_survive_repeated_primary_kills(tmp_path):
    async def scenario() -> None:
        sup = Supervisor(spec(tmp_path, shards=2))
        await sup.start()
        writer = Writer(data_ports(sup))
        writer.start()
        try:
            for round_ in range(3):
                await asyncio.sleep(0.7)
                await until_acked(writer, 40 * (round_ + 1))
                victim = primary(sup, shard=round_ % 2)
                mark = len(sup.history)
                await sup.kill(victim.id)
                done = await wait_for(sup, "failover_finished", 15, since=mark, shard=victim.shard)
                assert done["primary"] != victim.id
                await wait_for(sup, "node_restarted", 15, since=mark, node=victim.id)
            await asyncio.sleep(0.5)
            await until_acked(writer, 130)
            ledger = writer.finish()
            kept, lost = verify(primary(sup).port, ledger)
            assert len(ledger.acked) > 100, "the writer should have made progress between kills"
            assert lost == [], f"durable mode lost acknowledged writes: {lost[:20]}"
        finally:
            writer.finish()
            await sup.stop()

    run(scenario())


def test_losing_a_replica_and_a_journal_zone_changes_nothing_for_clients(tmp_path):
    async def scenario() -> None:
        sup = Supervisor(spec(tmp_path, replicas=2, auto_restart=False))
        await sup.start()
        client = redis.Redis(port=primary(sup).port, socket_timeout=5)
        replica = next(p for p in sup.procs.values() if p.kind == "data" and p.role == "replica")
        journal = next(p for p in sup.procs.values() if p.kind == "journal")
        try:
            for i in range(50):
                client.set(f"before:{i}", i)
            await sup.kill(replica.id)
            await sup.kill(journal.id)
            await asyncio.sleep(0.2)
            started = time.monotonic()
            for i in range(200):
                assert client.set(f"after:{i}", i) is True
            assert time.monotonic() - started < 10
            assert client.get("before:49") == b"49" and client.get("after:199") == b"199"
        finally:
            client.close()
            await sup.stop()

    run(scenario())


def test_losing_two_journal_zones_stops_writes_and_loses_nothing(tmp_path):
    async def scenario() -> None:
        sup = Supervisor(spec(tmp_path, auto_restart=False))
        await sup.start()
        port = primary(sup).port
        client = redis.Redis(port=port, socket_timeout=8)
        journals = [p for p in sup.procs.values() if p.kind == "journal"]
        try:
            for i in range(20):
                client.set(f"k{i}", i)
            for j in journals[:2]:
                await sup.kill(j.id)
            await asyncio.sleep(0.3)
            loop = asyncio.get_running_loop()
            # The write can't reach a majority: it must fail clearly, not be acknowledged.
            with pytest.raises(redis.RedisError) as refused:
                await loop.run_in_executor(None, client.set, "during", "outage")
            # redis-py maps "-CLUSTERDOWN ..." to ClusterDownError; a node that gave up its
            # role may also have closed the connection.
            assert isinstance(refused.value, (redis.exceptions.ClusterDownError, redis.ConnectionError,
                                              redis.TimeoutError)), refused.value
            for j in journals[:2]:
                await sup.restart(j.id)
            # The fenced primary restarts as a replica; a primary is elected again.
            for p in list(sup.procs.values()):
                if p.kind == "data" and p.status == "crashed":
                    await sup.restart(p.id)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                p = sup.primary_of(0)
                if p is not None and p.status == "running":
                    try:
                        fresh = redis.Redis(port=p.port, socket_timeout=3)
                        if fresh.set("after", "recovery"):
                            break
                    except redis.RedisError:
                        pass
                await asyncio.sleep(0.2)
            fresh = redis.Redis(port=sup.primary_of(0).port)
            assert [fresh.get(f"k{i}") for i in range(20)] == [b"%d" % i for i in range(20)]
            assert fresh.get("after") == b"recovery"
        finally:
            client.close()
            await sup.stop()

    run(scenario())


def test_killing_the_primarys_whole_zone_loses_nothing(tmp_path):
    async def scenario() -> None:
        sup = Supervisor(spec(tmp_path, replicas=2))
        await sup.start()
        writer = Writer(data_ports(sup))
        writer.start()
        try:
            await asyncio.sleep(0.8)
            await until_acked(writer, 30)
            zone = primary(sup).zone
            mark = len(sup.history)
            killed = await sup.kill_zone(zone)
            assert any(sup.procs[k].kind == "journal" for k in killed)
            await wait_for(sup, "failover_finished", 15, since=mark)
            await asyncio.sleep(0.8)
            await until_acked(writer, 60)
            ledger = writer.finish()
            kept, lost = verify(primary(sup).port, ledger)
            assert lost == [] and kept == len(ledger.acked) > 50
        finally:
            writer.finish()
            await sup.stop()

    run(scenario())


def test_a_paused_primary_is_fenced_and_its_late_write_is_never_acknowledged(tmp_path):
    async def scenario() -> None:
        sup = Supervisor(spec(tmp_path))
        await sup.start()
        old = primary(sup)
        stale = redis.Redis(port=old.port, socket_timeout=10)
        try:
            stale.set("seen-by-all", "1")
            mark = len(sup.history)
            await sup.pause(old.id, 2.5)  # several leases: the replica takes over meanwhile
            done = await wait_for(sup, "failover_finished", 10, since=mark)
            new = sup.procs[done["primary"]]
            assert new.id != old.id
            loop = asyncio.get_running_loop()
            with pytest.raises(redis.RedisError):
                # Sent to the paused old primary; answered only after it wakes up, fenced.
                await loop.run_in_executor(None, stale.set, "late", "write")
            fresh = redis.Redis(port=new.port)
            assert fresh.get("late") is None and fresh.get("seen-by-all") == b"1"
            await wait_for(sup, "fenced", 10, since=mark, node=old.id)
        finally:
            stale.close()
            await sup.stop()

    run(scenario())


def test_a_stopped_cluster_starts_again_from_its_directory_with_nothing_lost(tmp_path):
    async def scenario() -> None:
        sup = Supervisor(spec(tmp_path, shards=2))
        await sup.start()
        from redis.cluster import RedisCluster

        rc = RedisCluster(host="127.0.0.1", port=primary(sup).port)
        for i in range(300):
            rc.set(f"key:{i}", i)
        rc.close()
        await sup.stop()
        secret = sup.journal_secret_file.read_bytes()
        again = Supervisor(spec(tmp_path, shards=2))
        await again.start()
        try:
            assert again.journal_secret_file.read_bytes() == secret  # the journal's secret is kept too
            rc = RedisCluster(host="127.0.0.1", port=primary(again).port)
            assert [int(rc.get(f"key:{i}")) for i in range(300)] == list(range(300))
            rc.close()
        finally:
            await again.stop()

    run(scenario())


def set_retrying(client: redis.Redis, key: str, value: object, within_s: float = 10.0) -> None:
    """SET, retried while the node answers CLUSTERDOWN (a lease being renewed)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            assert client.set(key, value) is True
            return
        except redis.exceptions.ClusterDownError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_a_shard_without_replicas_refuses_writes_until_its_node_has_replayed(tmp_path):
    async def scenario() -> None:
        sup = Supervisor(spec(tmp_path, replicas=0, restart_delay_ms=800))
        await sup.start()
        node = primary(sup)
        client = redis.Redis(port=node.port, socket_timeout=3)
        for i in range(100):
            # A primary starved of CPU may let its lease lapse for a moment and refuse
            # a write (never acknowledging it): a client retries that, and so does this.
            set_retrying(client, f"k{i}", i)
        mark = len(sup.history)
        await sup.kill(node.id)
        await asyncio.sleep(0.2)
        with pytest.raises(redis.ConnectionError):
            redis.Redis(port=node.port, socket_connect_timeout=1).set("x", "y")
        await wait_for(sup, "failover_finished", 20, since=mark, primary=node.id)
        back = redis.Redis(port=node.port)
        assert [back.get(f"k{i}") for i in range(100)] == [b"%d" % i for i in range(100)]
        assert back.set("x", "y") is True
        await sup.stop()

    run(scenario())


def test_a_busy_primary_renews_its_lease_with_its_writes_and_an_idle_one_with_lease_entries(tmp_path):
    """Every committed data append renews the lease, so a primary that is writing
    appends no ``lease`` entries; once it falls idle it renews with lease entries
    (renewal period: a quarter of the 600 ms lease)."""
    from sandbox.engine.durable import stream_name

    async def scenario() -> None:
        sup = Supervisor(spec(tmp_path, replicas=1))
        await sup.start()
        try:
            client = redis.Redis(port=primary(sup).port, socket_timeout=3)
            secret = load_secret(str(sup.journal_secret_file)).decode()
            journals = [redis.Redis(port=p.port, socket_timeout=3, protocol=2, password=secret)
                        for p in sup.procs.values() if p.kind == "journal"]
            # the Raft leader: followers learn the commit index a heartbeat later
            reader = next(j for j in journals if j.execute_command("JROLE")[1] == b"leader")
            stream = stream_name(0)

            def kinds_after(entry: int) -> list[bytes]:
                return [kind for _id, kind, _data in reader.execute_command("JREAD", stream, entry, 100000, 0)]

            mark = len(sup.history)
            start = int(reader.execute_command("JTAIL", stream))
            deadline = time.monotonic() + 1.5
            writes = 0
            sent: list[float] = []
            while time.monotonic() < deadline:
                sent.append(time.monotonic())
                client.set(f"busy:{writes}", writes)
                writes += 1
                await asyncio.sleep(0.03)
            busy = kinds_after(start)
            assert busy.count(b"data") >= writes * 0.9, busy
            # At most one lease entry sent just before the first write, plus one per
            # real pause of the writer: a loaded host can hold a write back longer than
            # the renewal period (at least lease/4 = 150 ms), and then a lease entry is
            # right. Half that period counts as a pause, so an idle host allows exactly one.
            pauses = sum(1 for a, b in zip(sent, sent[1:]) if b - a > 0.075)
            assert busy.count(b"lease") <= 1 + pauses, (busy, pauses)

            # Idle: it renews with lease entries only. Waiting for four of them is bounded
            # generously; how often they come is what the lease's survival below proves.
            idle_from = int(reader.execute_command("JTAIL", stream))
            idle_deadline = time.monotonic() + 10
            while (idle := kinds_after(idle_from)).count(b"lease") < 4:
                assert time.monotonic() < idle_deadline, idle
                await asyncio.sleep(0.1)
            assert idle.count(b"data") == 0, idle
            # and the lease held throughout: no replica campaigned, the primary never lost it
            assert not [e for e in sup.history[mark:] if e.get("event") in ("failover_started", "lease_lost")]
        finally:
            await sup.stop()

    run(scenario())

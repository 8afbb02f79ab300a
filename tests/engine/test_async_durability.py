"""ElastiCache's asynchronous durability (``--durability async``) in real processes.

An async primary acknowledges a write once applied and appends it to the journal
afterwards; a SIGKILL can lose only what it acknowledged after the journal's last
committed entry of its own writes (checked against the journal itself), never a
committed entry. With two of the three journal processes stopped (SIGSTOP, the
journal has no quorum) it goes on acknowledging until its oldest unpersisted write
is older than the buffer limit, then refuses writes with the documented cluster-down
error while reads go on, and takes writes again once the journal is back.

That ``sync`` loses nothing is tested by test_durable.py
(``test_acknowledged_writes_survive_repeated_primary_kills``,
``test_losing_two_journal_zones_stops_writes_and_loses_nothing``) and
test_durable_vs_cache.py.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time

import redis

from sandbox.engine import errors
from sandbox.engine.durable import stream_name
from sandbox.engine.journal_auth import load_secret
from sandbox.engine.supervisor import ClusterSpec, Supervisor

from .durability import Writer, data_ports, primary, wait_for

SET_EFFECT = re.compile(rb"\*3\r\n\$3\r\nSET\r\n\$\d+\r\n([a-z]+):(\d+)\r\n", re.IGNORECASE)


def spec(tmp_path, **kw) -> ClusterSpec:
    base = dict(mode="durable", durability="async", shards=1, replicas=1, data_dir=str(tmp_path),
                snapshotter=False, restart_delay_ms=300, lease_ms=600)
    base.update(kw)
    return ClusterSpec(**base)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


def journal_reader(sup: Supervisor) -> redis.Redis:
    """A connection to the journal's Raft leader (followers learn commits a beat later)."""
    secret = load_secret(str(sup.journal_secret_file)).decode()
    journals = [redis.Redis(port=p.port, socket_timeout=3, protocol=2, password=secret)
                for p in sup.procs.values() if p.kind == "journal"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for j in journals:
            try:
                if j.execute_command("JROLE")[1] == b"leader":
                    return j
            except redis.RedisError:
                pass
        time.sleep(0.1)
    raise AssertionError("no journal leader")


def committed_sets(sup: Supervisor) -> dict[str, set[int]]:
    """prefix -> ids of ``SET prefix:id`` effects the journal committed for shard 0."""
    found: dict[str, set[int]] = {}
    for _id, kind, data in journal_reader(sup).execute_command("JREAD", stream_name(0), 0, 1_000_000, 0):
        if kind == b"data":
            for prefix, n in SET_EFFECT.findall(data):
                found.setdefault(prefix.decode(), set()).add(int(n))
    return found


def test_a_killed_async_primary_loses_only_writes_acknowledged_after_its_last_committed_entry(tmp_path):
    async def scenario() -> None:
        sup = Supervisor(spec(tmp_path))
        await sup.start()
        writers = [Writer(data_ports(sup), prefix=p) for p in ("a", "b", "c")]
        for w in writers:
            w.start()
        try:
            deadline = time.monotonic() + 30
            while min(len(w.ledger.acked) for w in writers) < 150:
                assert time.monotonic() < deadline, [len(w.ledger.acked) for w in writers]
                await asyncio.sleep(0.05)
            info = redis.Redis(port=primary(sup).port, socket_timeout=3).info("replication")
            assert info["durability_writes"] == "async" and info["durability_buffer_limit_ms"] == 10_000
            victim = primary(sup)
            mark = len(sup.history)
            await sup.kill(victim.id)
            # What the writers had acknowledged by now came from the killed primary (no
            # other can take writes before a lease and a half of silence has passed).
            await asyncio.sleep(0.2)
            by_victim = {w.prefix: len(w.ledger.acked) for w in writers}
            done = await wait_for(sup, "failover_finished", 20, since=mark)
            assert done["primary"] != victim.id
            ledgers = {w.prefix: list(w.finish().acked)[: by_victim[w.prefix]] for w in writers}
            committed = committed_sets(sup)
            fresh = redis.Redis(port=primary(sup).port, socket_timeout=5)
            lost_total = 0
            for prefix, acked in ledgers.items():
                kept_ids = committed.get(prefix, set())
                lost = [n for n in acked if n not in kept_ids]
                last_committed = max((n for n in acked if n in kept_ids), default=0)
                # Only a suffix: what the appender had not yet brought to the journal.
                assert all(n > last_committed for n in lost), (prefix, lost[:10], last_committed)
                # Nothing the journal committed is missing on the new primary.
                ids = sorted(kept_ids)
                pipe = fresh.pipeline(transaction=False)
                for n in ids:
                    pipe.get(f"{prefix}:{n}")
                values = pipe.execute() if ids else []
                missing = [n for n, v in zip(ids, values) if v != str(n).encode()]
                assert missing == [], (prefix, missing[:10])
                assert len(acked) - len(lost) >= 100
                lost_total += len(lost)
            print(f"async kill: acknowledged {sum(map(len, ledgers.values()))}, lost {lost_total}")
        finally:
            for w in writers:
                w.finish()
            await sup.stop()

    run(scenario())


def test_with_the_journal_stopped_async_acknowledges_until_the_buffer_limit_then_refuses_writes_only(tmp_path):
    limit_ms = 1500

    async def scenario() -> None:
        # A lease well past the limit, so it is the buffer, not the lease, that stops writes.
        sup = Supervisor(spec(tmp_path, lease_ms=8000, durability_buffer_limit_ms=limit_ms, auto_restart=False))
        await sup.start()
        loop = asyncio.get_running_loop()
        client = redis.Redis(port=primary(sup).port, socket_timeout=5)
        journals = [p for p in sup.procs.values() if p.kind == "journal"][:2]
        stopped = False
        try:
            for i in range(20):
                client.set(f"before:{i}", i)
            for j in journals:
                j.process.send_signal(signal.SIGSTOP)
            stopped = True
            paused_at = time.monotonic()
            acked: list[int] = []
            refusal: redis.RedisError | None = None
            refused_at = 0.0

            def write_until_refused() -> None:
                nonlocal refusal, refused_at
                n = 0
                while time.monotonic() - paused_at < 6:
                    n += 1
                    try:
                        client.set(f"during:{n}", n)
                    except redis.RedisError as exc:
                        refusal, refused_at = exc, time.monotonic()
                        return
                    acked.append(n)
                    time.sleep(0.005)

            await loop.run_in_executor(None, write_until_refused)
            assert refusal is not None, f"{len(acked)} writes acknowledged for 6 s with the journal stopped"
            # redis-py turns "-CLUSTERDOWN <text>" into ClusterDownError(<text>).
            assert isinstance(refusal, redis.exceptions.ClusterDownError), repr(refusal)
            assert "CLUSTERDOWN " + str(refusal) == errors.DURABILITY_BUFFER_FULL.text.decode(), refusal
            # The buffer's oldest write is at most a few ms older than the pause: the node
            # cannot have refused before the limit had passed since then.
            assert refused_at - paused_at >= limit_ms / 1000 - 0.1, refused_at - paused_at
            assert len(acked) > 20, len(acked)
            # Reads go on, and see the unpersisted writes (read-your-writes from memory).
            assert client.get("before:3") == b"3"
            assert client.get(f"during:{acked[-1]}") == str(acked[-1]).encode()
            info = client.info("replication")
            assert info["durability_buffer_full"] == 1 and info["durability_buffer_age_ms"] >= limit_ms
            assert info["durability_buffer_writes"] >= len(acked)
            for j in journals:
                j.process.send_signal(signal.SIGCONT)
            stopped = False
            deadline = time.monotonic() + 20
            while True:
                try:
                    if client.set("after", "resumed"):
                        break
                except redis.RedisError as exc:
                    assert time.monotonic() < deadline, f"writes never resumed: {exc}"
                    await asyncio.sleep(0.1)
            info = client.info("replication")
            assert info["role"] == "master" and info["durability_buffer_full"] == 0
            # Nothing was lost: every write acknowledged during the outage reached the journal.
            kept = committed_sets(sup)
            assert set(acked) <= kept.get("during", set()), sorted(set(acked) - kept.get("during", set()))[:10]
        finally:
            if stopped:
                for j in journals:
                    j.process.send_signal(signal.SIGCONT)
            client.close()
            await sup.stop()

    run(scenario())

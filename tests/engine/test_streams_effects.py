"""What stream writes hand to the log, and that replaying it — on a node whose clock
says something else — rebuilds the same streams: entries, counters, groups,
consumers with their seen-times, PELs with delivery times and counts. Then the
same for the full-sync dataset and snapshot files (``Stream.rebuild_commands``),
and for a real cache-mode replica."""

from __future__ import annotations

import asyncio
import shlex
import time
from pathlib import Path
from typing import Any

import pytest

from sandbox.engine import snapshot
from sandbox.engine.config import EngineConfig
from sandbox.engine.datatypes import copy_value
from sandbox.engine.replication_replica import capture, encode_snapshot, key_commands
from sandbox.engine.resp import encode, encode_command
from sandbox.engine.server import Server, encode_effects
from sandbox.engine.streamtype import Stream

from .effects import EffectNode, RecordingLog
from .rawclient import RawClient
from .test_replication import Nodes, caught_up, nodes, wait_until  # noqa: F401  (fixture)

HOUR_S = 3600.0


def run(node: EffectNode, script: str) -> list[Any]:
    return [node.run(*shlex.split(line)) for line in script.strip().splitlines() if line.strip()]


def replica_of(node: EffectNode, clock_offset_s: float = HOUR_S) -> Server:
    """A fresh server that applied everything ``node`` logged, as a replica or the
    journal applies it (the primary's client, no re-logging), an hour later."""
    replica = Server(EngineConfig(port=0), clock=lambda: time.time() + clock_offset_s)
    replica.expires_locally = False
    for db, batch in node.log.entries:
        replica.apply_stream(encode_effects(db, batch))
    return replica


def streams_of(server: Server) -> dict[tuple[int, bytes], list[bytes]]:
    """Every stream's canonical data (everything but its node layout)."""
    return {(db.id, key): list(value.canonical()) for db in server.keyspace.dbs
            for key, value in db.data.items() if type(value) is Stream}


def parse(frame: bytes) -> Any:
    import hiredis

    reader = hiredis.Reader()
    reader.feed(frame)
    return reader.gets()


def reply(server: Server, *args: str) -> bytes:
    client = server.new_client("t:1", "t:0")
    return encode(server.execute(client, [a.encode() for a in args]), 2)


WORKLOAD = """
    XADD s * a 1
    XADD s * b 2 c 3
    XADD s 99999999999999-* d 4
    XADD s 99999999999999-* e 5
    XADD s MAXLEN ~ 1 * f 6
    XADD big 1-1 f v
    XGROUP CREATE s g 0
    XGROUP CREATE s g2 $ ENTRIESREAD 3
    XGROUP CREATE fresh g $ MKSTREAM
    XGROUP CREATECONSUMER s g idle
    XGROUP CREATECONSUMER fresh g c
    XREADGROUP GROUP g alice COUNT 2 STREAMS s >
    XREADGROUP GROUP g bob STREAMS s >
    XREADGROUP GROUP g alice STREAMS s 0
    XREADGROUP GROUP g2 carol NOACK STREAMS s >
    XREADGROUP GROUP g2 dave STREAMS s 0
    XCLAIM s g bob 0 99999999999999-0 IDLE 5000
    XCLAIM s g erin 0 99999999999999-1 TIME 12345 RETRYCOUNT 7
    XCLAIM s g erin 0 99999999999999-1 JUSTID LASTID 99999999999999-9
    XADD s 99999999999999-10 g 7
    XADD s 99999999999999-11 h 8
    XREADGROUP GROUP g frank STREAMS s >
    XDEL s 99999999999999-10
    XAUTOCLAIM s g gina 0 0 COUNT 2
    XAUTOCLAIM s g gina 0 0
    XACK s g 99999999999999-11
    XGROUP DELCONSUMER s g frank
    XGROUP SETID s g2 0 ENTRIESREAD 0
    XTRIM s MINID ~ 0
    XSETID big 5-5 ENTRIESADDED 9 MAXDELETEDID 3-3
    XADD e 1-1 a 1
    XDEL e 1-1
    XSETID e 0-5
"""


def test_replaying_stream_effects_an_hour_later_rebuilds_every_stream() -> None:
    node = EffectNode()
    run(node, WORKLOAD)
    assert len(streams_of(node.server)) == 4
    replica = replica_of(node)
    assert streams_of(replica) == streams_of(node.server)
    assert snapshot.dataset_digest(replica) == snapshot.dataset_digest(node.server)
    for args in (["XINFO", "STREAM", "s", "FULL"], ["XINFO", "STREAM", "e"], ["XPENDING", "s", "g"],
                 ["XINFO", "GROUPS", "s"], ["XINFO", "STREAM", "big"]):
        assert reply(replica, *args) == reply(node.server, *args), args


def test_xadd_logs_the_id_it_assigned_and_the_exact_trim() -> None:
    node = EffectNode()
    sid = node.run("XADD", "s", "*", "a", "1")
    assert node.effects() == [[b"XADD", b"s", sid, b"a", b"1"]]
    node.run("XADD", "s", "7-*", "a", "1")  # 7 < the clock's ms: refused, nothing logged
    assert node.effects() == []
    node.run("XADD", "t", "7-*", "a", "1")
    assert node.effects() == [[b"XADD", b"t", b"7-0", b"a", b"1"]]
    node.run("XADD", "t", "8-1", "a", "1")
    assert node.effects() == [[b"XADD", b"t", b"8-1", b"a", b"1"]]  # explicit: as given
    for i in range(9, 260):
        node.run("XADD", "t", f"{i}-1", "f", "v")
    node.effects()
    node.run("XADD", "t", "NOMKSTREAM", "MAXLEN", "~", "50", "LIMIT", "200", "300-1", "f", "v")
    length = node.run("XLEN", "t")
    assert 50 < length < 253  # whole nodes only
    assert node.effects() == [[b"XADD", b"t", b"MAXLEN", b"=", b"%d" % length, b"300-1", b"f", b"v"]]
    for i in range(301, 450):
        node.run("XADD", "t", f"{i}-1", "f", "v")
    node.effects()
    first = node.run("XRANGE", "t", "-", "+", "COUNT", "1")[0][0]
    node.run("XTRIM", "t", "MINID", "~", "400")
    after = node.run("XRANGE", "t", "-", "+", "COUNT", "1")[0][0]
    assert after != first
    assert node.effects() == [[b"XTRIM", b"t", b"MINID", b"=", after]]
    node.run("XTRIM", "t", "MINID", "~", "1000")
    assert node.run("XLEN", "t") == 0
    assert node.effects() == [[b"XTRIM", b"t", b"MINID", b"=", b"18446744073709551615-18446744073709551615"]]
    node.run("XTRIM", "t", "MAXLEN", "~", "1000")
    node.run("XDEL", "t", "1-1")
    node.run("XADD", "nope", "NOMKSTREAM", "*", "a", "1")
    assert node.effects() == []  # writes that change nothing log nothing
    node.run("XADD", "t", "MINID", "=", "5", "*", "a", "1")
    [(_x, _t, *trim, _id, _f, _v)] = node.effects()
    assert trim == [b"MINID", b"=", b"5-0"]


def test_xreadgroup_logs_the_pel_it_built_with_the_primarys_times() -> None:
    node = EffectNode()
    run(node, """
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        XGROUP CREATE s g 0
    """)
    node.effects()
    before = int(time.time() * 1000)
    node.run("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    claim, setid = node.effects()
    when = int(claim[claim.index(b"TIME") + 1])
    assert before <= when <= int(time.time() * 1000)
    assert claim == [b"XCLAIM", b"s", b"g", b"c", b"0", b"1-1", b"2-1", b"TIME", b"%d" % when, b"RETRYCOUNT", b"1",
                     b"FORCE", b"JUSTID", b"LASTID", b"2-1", b"SEENTIME", b"%d" % when]
    assert setid == [b"XGROUP", b"SETID", b"s", b"g", b"2-1", b"ENTRIESREAD", b"2"]
    node.run("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")  # nothing new: nothing at all
    assert node.effects() == []
    node.run("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0")  # history: delivered again
    [again] = node.effects()
    assert again[5:7] == [b"1-1", b"2-1"] and again[again.index(b"RETRYCOUNT") + 1] == b"2"
    node.run("XADD", "s", "3-1", "c", "3")
    node.effects()
    node.run("XREADGROUP", "GROUP", "g", "n", "NOACK", "STREAMS", "s", ">")
    seen, setid = node.effects()
    assert seen[:6] == [b"XCLAIM", b"s", b"g", b"n", b"0", b"SEENTIME"]
    assert setid == [b"XGROUP", b"SETID", b"s", b"g", b"3-1", b"ENTRIESREAD", b"3"]


def test_claims_log_explicit_times_and_deleted_entries_as_acks() -> None:
    node = EffectNode()
    run(node, """
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        XADD s 3-1 c 3
        XGROUP CREATE s g 0
        XREADGROUP GROUP g c STREAMS s >
        XDEL s 2-1
    """)
    node.effects()
    node.run("XCLAIM", "s", "g", "d", "0", "1-1", "2-1", "IDLE", "60000")
    ack, claim = node.effects()
    assert ack == [b"XACK", b"s", b"g", b"2-1"]
    when = int(claim[claim.index(b"TIME") + 1])
    assert abs(when - (time.time() * 1000 - 60000)) < 5000
    assert claim[5] == b"1-1" and claim[claim.index(b"RETRYCOUNT") + 1] == b"2"
    node.run("XCLAIM", "s", "g", "d", "0", "9-9", "LASTID", "5-5")  # moves the group only
    assert node.effects() == [[b"XGROUP", b"SETID", b"s", b"g", b"5-5", b"ENTRIESREAD", b"3"]]
    node.run("XAUTOCLAIM", "s", "g", "e", "0", "0", "JUSTID")
    claims = node.effects()  # JUSTID keeps the counts (2 and 1): one XCLAIM per count
    assert [(c[3], c[5], c[c.index(b"RETRYCOUNT") + 1]) for c in claims] == [(b"e", b"1-1", b"2"), (b"e", b"3-1", b"1")]
    node.run("XGROUP", "CREATECONSUMER", "s", "g", "f")
    [seen] = node.effects()
    assert seen[:6] == [b"XCLAIM", b"s", b"g", b"f", b"0", b"SEENTIME"]


def test_seentime_is_only_for_the_primarys_stream() -> None:
    node = EffectNode()
    run(node, """
        XADD s 1-1 a 1
        XGROUP CREATE s g 0
    """)
    err = node.run("XCLAIM", "s", "g", "c", "0", "SEENTIME", "5")
    assert err.text == b"ERR Unrecognized XCLAIM option 'SEENTIME'"
    replica = Server(EngineConfig(port=0))
    replica.apply_stream(encode_effects(0, [[b"XADD", b"s", b"1-1", b"a", b"1"], [b"XGROUP", b"CREATE", b"s", b"g", b"0"],
                                             [b"XCLAIM", b"s", b"g", b"c", b"0", b"SEENTIME", b"5"],
                                             [b"XCLAIM", b"s", b"g", b"c", b"0", b"1-1", b"TIME", b"99999999999999",
                                              b"FORCE", b"JUSTID", b"SEENTIME", b"7"]]))
    g = replica.keyspace.dbs[0].data[b"s"].groups[b"g"]
    assert g.consumers[b"c"].seen_time == 7
    assert g.pel[(1, 1)].delivery_time == 99999999999999  # a future time is not clamped on replay


def test_copy_value_copies_groups_and_pels() -> None:
    node = EffectNode()
    run(node, """
        XADD s 1-1 a 1
        XGROUP CREATE s g 0
        XREADGROUP GROUP g c STREAMS s >
    """)
    original = node.server.keyspace.dbs[0].data[b"s"]
    twin = copy_value(original)
    assert list(twin.canonical()) == list(original.canonical())
    twin.groups[b"g"].ack((1, 1))
    twin.append((2, 1), (b"b", b"2"))
    twin.groups[b"g"].consumers[b"c"].seen_time = 0
    assert original.groups[b"g"].pel and len(original) == 1
    assert original.groups[b"g"].consumers[b"c"].seen_time != 0
    assert list(twin.canonical()) != list(original.canonical())


# ---------------------------------------------------------------------------
# Full sync and snapshots


def hard_streams(node: EffectNode) -> None:
    """Streams whose rebuild needs care: pending entries whose entry was deleted,
    consumers without pending entries, an empty stream, a last ID below the max
    deleted ID, counters set by XSETID, an expiring stream, another database."""
    run(node, WORKLOAD)
    run(node, """
        XADD gone 1-1 a 1
        XADD gone 2-1 b 2
        XGROUP CREATE gone g 0
        XREADGROUP GROUP g c STREAMS gone >
        XDEL gone 1-1 2-1
        XSETID gone 0-9
        XGROUP CREATE onlygroup g $ MKSTREAM
        XADD ttl 5-5 a 1
        PEXPIREAT ttl 99999999999999
        SELECT 2
        XADD other 1-1 x y
        SELECT 0
    """)


def test_the_full_sync_dataset_rebuilds_streams_exactly() -> None:
    node = EffectNode()
    hard_streams(node)

    async def payload() -> bytes:
        return b"".join([chunk async for chunk in encode_snapshot(capture(node.server), stream_db=0)])

    replica = Server(EngineConfig(port=0), clock=lambda: time.time() + HOUR_S)
    replica.expires_locally = False
    replica.apply_stream(asyncio.run(payload()))
    assert streams_of(replica) == streams_of(node.server)
    assert snapshot.dataset_digest(replica) == snapshot.dataset_digest(node.server)
    assert replica.keyspace.dbs[0].expires[b"ttl"] == 99999999999999
    for args in (["XINFO", "STREAM", "gone", "FULL"], ["XPENDING", "gone", "g"],
                 ["XINFO", "STREAM", "onlygroup", "FULL"], ["XINFO", "STREAM", "e"]):
        assert reply(replica, *args) == reply(node.server, *args), args
    # the rebuild of an empty stream starts as Redis's AOF rewrite does
    assert key_commands(b"e", node.server.keyspace.dbs[0].data[b"e"], None)[0] == \
        [b"XADD", b"e", b"MAXLEN", b"0", b"0-1", b"x", b"y"]


def test_a_stream_with_groups_and_pending_entries_survives_a_snapshot(tmp_path: Path) -> None:
    node = EffectNode()
    hard_streams(node)
    meta = snapshot.SnapshotMeta(snapshot.FORMAT, 0, 3, 0, 1, snapshot.key_count(node.server), "test",
                                 snapshot.dataset_digest(node.server))
    path = str(tmp_path / snapshot.snapshot_name(3, 1))
    snapshot.write(path, meta, snapshot.dump(node.server))
    restored = Server(EngineConfig(port=0))
    snapshot.load(path, restored)  # refuses a keyspace whose digest differs
    assert streams_of(restored) == streams_of(node.server)
    before = reply(node.server, "XINFO", "STREAM", "s", "FULL")
    assert reply(restored, "XINFO", "STREAM", "s", "FULL") == before
    # and the restored node goes on like the original
    for server in (node.server, restored):
        c = server.new_client("t:2", "t:0")
        server.execute(c, [b"XADD", b"s", b"99999999999999-50", b"z", b"1"])
        server.execute(c, [b"XREADGROUP", b"GROUP", b"g", b"zed", b"STREAMS", b"s", b">"])
    assert reply(restored, "XPENDING", "s", "g") == reply(node.server, "XPENDING", "s", "g")


def test_a_cache_mode_replica_gets_streams_by_full_sync_and_by_stream(nodes: Nodes) -> None:  # noqa: F811
    primary = nodes.start()
    with primary.client() as r:
        r.xadd("orders", {"sku": "a"}, id="1-1")
        r.xadd("orders", {"sku": "b"}, id="2-1")
        r.xadd("orders", {"sku": "c"}, id="3-1")
        r.xgroup_create("orders", "fulfilment", id="0")
        r.xreadgroup("fulfilment", "w1", {"orders": ">"}, count=2)
        r.xdel("orders", "1-1")
        r.xgroup_create("empty", "g", id="$", mkstream=True)
    replica = nodes.replica(primary)  # full sync
    with primary.client() as r:
        r.xreadgroup("fulfilment", "w2", {"orders": ">"})
        r.xclaim("orders", "fulfilment", "w3", 0, ["2-1"], idle=5000)
        r.xadd("orders", {"sku": "d"}, id="*", maxlen=2, approximate=True)
    wait_until(caught_up(primary, replica), what="the replica catching up")
    with RawClient(primary.port) as p, RawClient(replica.port) as q:
        for cmd in (("XINFO", "STREAM", "orders", "FULL"), ("XINFO", "STREAM", "empty", "FULL"),
                    ("XPENDING", "orders", "fulfilment", "-", "+", "10"), ("XRANGE", "orders", "-", "+"),
                    ("XINFO", "GROUPS", "orders")):
            a, b = p.call(*cmd), q.call(*cmd)
            if cmd[0] == "XPENDING":  # idle times are read at each node's clock
                a, b = [[row[:2] + row[3:] for row in parse(x)] for x in (a, b)]
            assert a == b, cmd
        assert len(parse(p.call("XPENDING", "orders", "fulfilment", "-", "+", "10"))) == 3


# ---------------------------------------------------------------------------
# A woken XREADGROUP logs what a served one does


def test_a_woken_xreadgroup_logs_its_pel_like_one_served_at_once() -> None:
    async def scenario() -> tuple[list, Any]:
        server = Server(EngineConfig(port=0))
        log = RecordingLog()
        server.log = log
        port = await server.start()
        try:
            reader_r, reader_w = await asyncio.open_connection("127.0.0.1", port)
            writer_r, writer_w = await asyncio.open_connection("127.0.0.1", port)

            async def call(w: asyncio.StreamWriter, r: asyncio.StreamReader, *args: str) -> bytes:
                from sandbox.engine.resp import encode_command

                w.write(encode_command(args))
                await w.drain()
                return await r.read(65536)

            await call(writer_w, writer_r, "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
            from sandbox.engine.resp import encode_command

            reader_w.write(encode_command(["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]))
            await reader_w.drain()
            await asyncio.sleep(0.05)
            log.entries.clear()
            await call(writer_w, writer_r, "XADD", "s", "1-1", "a", "1")
            woken = await asyncio.wait_for(reader_r.read(65536), 2)
            for w in (reader_w, writer_w):
                w.close()
            return [e for _db, batch in log.entries for e in batch], woken
        finally:
            await server.stop()

    effects, woken = asyncio.run(scenario())
    assert woken == b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    xadd, claim, setid = effects
    assert xadd == [b"XADD", b"s", b"1-1", b"a", b"1"]
    assert claim[:6] == [b"XCLAIM", b"s", b"g", b"c", b"0", b"1-1"] and b"FORCE" in claim
    assert setid == [b"XGROUP", b"SETID", b"s", b"g", b"1-1", b"ENTRIESREAD", b"1"]


@pytest.mark.parametrize("seed", range(5))
def test_random_stream_workloads_replay_exactly(seed: int) -> None:
    import random

    rnd = random.Random(seed)
    node = EffectNode()
    keys, groups, consumers = ["s1", "s2"], ["g1", "g2"], ["c1", "c2", "c3"]
    for _ in range(400):
        k, g, c = rnd.choice(keys), rnd.choice(groups), rnd.choice(consumers)
        op = rnd.randrange(12)
        if op < 4:
            trim = rnd.choice([[], ["MAXLEN", "~", str(rnd.randint(0, 150))], ["MAXLEN", str(rnd.randint(0, 150))],
                               ["MINID", "~", f"{rnd.randint(0, 10**13)}"]])
            node.run("XADD", k, *trim, "*", "f", str(rnd.random()))
        elif op == 4:
            node.run("XGROUP", "CREATE", k, g, rnd.choice(["0", "$"]), "MKSTREAM")
        elif op == 5:
            node.run("XREADGROUP", "GROUP", g, c, "COUNT", str(rnd.randint(1, 5)),
                     *(["NOACK"] if rnd.random() < 0.2 else []), "STREAMS", k, rnd.choice([">", ">", "0"]))
        elif op == 6:
            pending = node.run("XPENDING", k, g, "-", "+", "3")
            if isinstance(pending, list) and pending:
                node.run("XACK", k, g, pending[0][0])
        elif op == 7:
            node.run("XAUTOCLAIM", k, g, c, "0", "0", "COUNT", "2")
        elif op == 8:
            first = node.run("XRANGE", k, "-", "+", "COUNT", "1")
            if isinstance(first, list) and first:
                node.run("XDEL", k, first[0][0])
        elif op == 9:
            node.run("XTRIM", k, "MAXLEN", "~", str(rnd.randint(0, 100)))
        elif op == 10:
            pending = node.run("XPENDING", k, g, "-", "+", "5")
            if isinstance(pending, list) and pending:
                node.run("XCLAIM", k, g, c, "0", *[p[0] for p in pending], *rnd.choice([[], ["JUSTID"], ["IDLE", "50"]]))
        else:
            node.run("XGROUP", "SETID", k, g, "0")
    streams = [v for v in node.server.keyspace.dbs[0].data.values() if type(v) is Stream]
    assert sum(len(g.pel) + len(g.consumers) for v in streams for g in v.groups.values()) > 5  # it did something
    assert streams_of(replica_of(node)) == streams_of(node.server)


# ---------------------------------------------------------------------------
# Durable mode: the journal carries stream effects through a failover


def test_a_durable_failover_keeps_streams_groups_and_pels_exactly(tmp_path: Path) -> None:
    """A consumer group read (one of them woken from BLOCK), a claim and a deletion on
    a durable primary; after it is SIGKILLed, the new primary — which only ever
    applied the journal — answers XINFO STREAM FULL byte for byte as the old one
    did: same entries, counters, PEL delivery times and counts, seen-times."""
    from sandbox.engine.supervisor import ClusterSpec, Supervisor

    from .durability import primary, wait_for

    async def scenario() -> tuple[bytes, bytes, bytes]:
        spec = ClusterSpec(mode="durable", shards=1, replicas=1, data_dir=str(tmp_path), snapshotter=False,
                           restart_delay_ms=300, lease_ms=600)
        sup = Supervisor(spec)
        await sup.start()
        try:
            old = primary(sup)
            with RawClient(old.port) as c, RawClient(old.port) as blocked:
                for args in (("XADD", "orders", "1-1", "sku", "a"), ("XADD", "orders", "2-1", "sku", "b"),
                             ("XGROUP", "CREATE", "orders", "fulfilment", "0"),
                             ("XREADGROUP", "GROUP", "fulfilment", "w1", "COUNT", "1", "STREAMS", "orders", ">"),
                             ("XGROUP", "CREATECONSUMER", "orders", "fulfilment", "idle")):
                    assert not c.call(*args).startswith(b"-"), args
                blocked.send(encode_command(["XREADGROUP", "GROUP", "fulfilment", "w2", "COUNT", "5", "BLOCK", "0",
                                             "STREAMS", "orders", ">"]))
                time.sleep(0.05)  # 2-1 is undelivered: served at once
                woken_first = blocked.read_frame()
                blocked.send(encode_command(["XREADGROUP", "GROUP", "fulfilment", "w2", "BLOCK", "0",
                                             "STREAMS", "orders", ">"]))
                time.sleep(0.1)
                c.call("XADD", "orders", "3-1", "sku", "c")
                woken = blocked.read_frame()
                assert b"2-1" in woken_first and b"3-1" in woken, (woken_first, woken)
                c.call("XCLAIM", "orders", "fulfilment", "w3", "0", "1-1", "IDLE", "7000")
                c.call("XDEL", "orders", "2-1")
                c.call("XADD", "orders", "MAXLEN", "~", "1", "*", "sku", "d")
                before = c.call("XINFO", "STREAM", "orders", "FULL")
            mark = len(sup.history)
            await sup.kill(old.id)
            done = await wait_for(sup, "failover_finished", 20, since=mark)
            assert done["primary"] != old.id
            new = primary(sup)
            with RawClient(new.port) as c:
                after = c.call("XINFO", "STREAM", "orders", "FULL")
                pending = c.call("XPENDING", "orders", "fulfilment")
            return before, after, pending
        finally:
            await sup.stop()

    before, after, pending = asyncio.run(asyncio.wait_for(scenario(), 120))
    assert after == before
    assert parse(pending)[0] == 3  # 1-1 (w3), 2-1 (w2, its entry deleted), 3-1 (w2)

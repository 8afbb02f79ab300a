"""What blocking pops hand to the log: the non-blocking command that ran (as Redis
7.0 sends replicas), whether served at once or after blocking; replaying it
rebuilds the data; and on a durable cluster a served pop is acknowledged only once
the journal has it, so a failover neither loses an acknowledged push nor brings a
popped element back."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from sandbox.engine.client import Pending
from sandbox.engine.resp import encode_command

from .effects import EffectNode
from .rawclient import RawClient


def test_served_at_once_each_pop_logs_its_non_blocking_form() -> None:
    node = EffectNode()
    for args in (("RPUSH", "l", "a", "b", "c", "d", "e"), ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")):
        node.run(*args)
    node.effects()
    steps = [
        (("BLPOP", "none", "l", "0"), [[b"LPOP", b"l"]]),
        (("BRPOP", "l", "1.5"), [[b"RPOP", b"l"]]),
        (("BLMOVE", "l", "m", "Left", "RIGHT", "0"), [[b"LMOVE", b"l", b"m", b"Left", b"RIGHT"]]),
        (("BRPOPLPUSH", "m", "l", "0"), [[b"RPOPLPUSH", b"m", b"l"]]),
        (("BLMPOP", "0", "1", "l", "LEFT", "COUNT", "9"), [[b"LPOP", b"l", b"3"]]),
        (("BZPOPMIN", "z", "0"), [[b"ZPOPMIN", b"z"]]),
        (("BZPOPMAX", "z", "0"), [[b"ZPOPMAX", b"z"]]),
        (("BZMPOP", "0", "1", "z", "MAX", "COUNT", "5"), [[b"ZPOPMAX", b"z", b"5"]]),
    ]
    replica = EffectNode()
    replica.run("RPUSH", "l", "a", "b", "c", "d", "e")
    replica.run("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")
    for args, logged in steps:
        node.run(*args)
        got = node.effects()
        assert got == logged, (args, got)
        for argv in got:
            replica.server.execute(replica.client, argv)
    assert replica.snapshot() == node.snapshot() == {}


def test_a_woken_client_logs_the_pop_after_the_push_that_woke_it() -> None:
    async def scenario() -> tuple[list[Any], list[list[bytes]], EffectNode]:
        node = EffectNode()
        pusher = node.client
        waiters = [node.server.new_client(f"test:{i}", "test:0") for i in range(4)]
        held: list[Pending] = []
        for client, args in zip(waiters, (["BLPOP", "q", "0"], ["BLMOVE", "q", "done", "RIGHT", "LEFT", "0"],
                                          ["BZMPOP", "0", "1", "z", "MIN", "COUNT", "2"], ["BZPOPMAX", "z", "0"])):
            reply = node.server.execute(client, [a.encode() for a in args])
            assert type(reply) is Pending
            held.append(reply)
        node.run("RPUSH", "q", "a", "b", "c")
        node.run("ZADD", "z", "1", "x", "2", "y", "3", "w")
        await asyncio.sleep(0)
        assert all(p.future.done() for p in held)
        return [p.reply for p in held], node.effects(), node

    replies, logged, node = asyncio.run(scenario())
    assert replies == [[b"q", b"a"], b"c", [b"z", [[b"x", 1.0], [b"y", 2.0]]], [b"z", b"w", 3.0]]
    assert logged == [
        [b"RPUSH", b"q", b"a", b"b", b"c"], [b"LPOP", b"q"], [b"LMOVE", b"q", b"done", b"right", b"left"],
        [b"ZADD", b"z", b"1", b"x", b"2", b"y", b"3", b"w"], [b"ZPOPMIN", b"z", b"2"], [b"ZPOPMAX", b"z"],
    ]
    replica = EffectNode()
    for argv in logged:
        replica.server.execute(replica.client, argv)
    assert replica.snapshot() == node.snapshot() == {0: {b"q": [b"b"], b"done": [b"c"]}}


def test_a_durable_failover_keeps_acknowledged_pushes_and_loses_no_pop(tmp_path: Path) -> None:
    """A BLPOP blocked on the primary is served by another client's LPUSH; once the
    blocked client has its answer the primary is SIGKILLed. On the new primary the
    popped element is gone and every acknowledged push is there."""
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
                blocked.send(encode_command(["BLPOP", "jobs", "0"]))
                await asyncio.sleep(0.1)
                assert c.call("LPUSH", "jobs", "first") == b":1\r\n"
                served = blocked.read_frame()
                assert c.call("RPUSH", "jobs", "second", "third") == b":2\r\n"
            mark = len(sup.history)
            await sup.kill(old.id)
            done = await wait_for(sup, "failover_finished", 20, since=mark)
            assert done["primary"] != old.id
            new = primary(sup)
            deadline = time.monotonic() + 10
            while True:
                with RawClient(new.port) as c:
                    after = c.call("LRANGE", "jobs", "0", "-1")
                if not after.startswith(b"-") or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            return served, after, b""
        finally:
            await sup.stop()

    served, after, _ = asyncio.run(asyncio.wait_for(scenario(), 120))
    assert served == b"*2\r\n$4\r\njobs\r\n$5\r\nfirst\r\n"
    assert after == b"*2\r\n$6\r\nsecond\r\n$5\r\nthird\r\n"

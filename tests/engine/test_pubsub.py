"""Pub/sub against a real redis-server, frame for frame: a subscriber and a publisher
connection on each server, in RESP2 (arrays) and RESP3 (push frames), then
redis-py's PubSub (sync and asyncio) against the engine."""

from __future__ import annotations

import asyncio
import time

import hiredis
import pytest
import redis
import redis.asyncio

from sandbox.engine.resp import encode_command

from .conftest import Differ
from .rawclient import RawClient
from .servers import Proc


def parse(frame: bytes) -> object:
    reader = hiredis.Reader()
    reader.feed(frame)
    return reader.gets()


class Pair:
    """A subscriber and a publisher on one server."""

    def __init__(self, port: int, proto: int) -> None:
        self.sub = RawClient(port)
        self.pub = RawClient(port)
        if proto == 3:
            self.sub.call("HELLO", "3")
            self.pub.call("HELLO", "3")

    def close(self) -> None:
        self.sub.close()
        self.pub.close()


class PubSubDiff:
    """Runs the same steps on redis and on the engine; frames must be identical."""

    def __init__(self, redis_port: int, engine_port: int, proto: int) -> None:
        self.ref = Pair(redis_port, proto)
        self.eng = Pair(engine_port, proto)
        self.proto = proto

    def close(self) -> None:
        self.ref.close()
        self.eng.close()

    def sub(self, *args: str, frames: int = 1) -> list[bytes]:
        """Send on the subscriber; compare the next ``frames`` frames."""
        return self._send("sub", args, frames)

    def pub(self, *args: str, frames: int = 1) -> list[bytes]:
        return self._send("pub", args, frames)

    def _send(self, side: str, args: tuple[str, ...], frames: int) -> list[bytes]:
        out = []
        for pair in (self.ref, self.eng):
            conn = getattr(pair, side)
            conn.send(encode_command(args))
            out.append([conn.read_frame() for _ in range(frames)])
        assert out[1] == out[0], f"{side} {args}: redis {out[0]!r} engine {out[1]!r}"
        return out[0]

    def sub_unordered(self, *args: str, frames: int) -> None:
        """Like ``sub`` when Redis's order is its hash table's: the same kinds and
        counts in the same order, the same channels in any order."""
        out = []
        for pair in (self.ref, self.eng):
            pair.sub.send(encode_command(args))
            got = [parse(pair.sub.read_frame()) for _ in range(frames)]
            out.append(([(f[0], f[2]) for f in got], sorted(f[1] for f in got)))
        assert out[1] == out[0]

    def receive(self, frames: int = 1, unordered: bool = False) -> list[bytes]:
        """Frames delivered to the subscribers (e.g. after a PUBLISH)."""
        got = [[p.sub.read_frame() for _ in range(frames)] for p in (self.ref, self.eng)]
        if unordered:
            got = [sorted(g) for g in got]
        assert got[1] == got[0], f"delivered: redis {got[0]!r} engine {got[1]!r}"
        return got[0]

    def nothing_pending(self) -> None:
        for pair in (self.ref, self.eng):
            pair.sub.sock.settimeout(0.05)
            try:
                data = pair.sub.sock.recv(1024)
            except TimeoutError:
                data = b""
            finally:
                pair.sub.sock.settimeout(5)
            assert data == b"" and pair.sub.buf == b""


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def ps(request: pytest.FixtureRequest, diff: Differ, redis_proc: Proc, engine_proc: Proc):
    d = PubSubDiff(redis_proc.port, engine_proc.port, request.param)
    try:
        yield d
    finally:
        d.close()


def test_it_confirms_each_subscription_with_the_running_count(ps: PubSubDiff) -> None:
    ps.sub("SUBSCRIBE", "a", "b", "a", frames=3)
    ps.sub("PSUBSCRIBE", "h*", "h*", "x?", frames=3)
    ps.sub("SUBSCRIBE", "c")


def test_it_delivers_messages_to_channel_and_pattern_subscribers(ps: PubSubDiff) -> None:
    ps.sub("SUBSCRIBE", "news", "other", frames=2)
    ps.pub("PUBLISH", "news", "hello")
    ps.receive()
    ps.pub("PUBLISH", "nobody", "x")
    ps.sub("PSUBSCRIBE", "n*")
    ps.pub("PUBLISH", "news", "both")  # channel then pattern: 2 receivers
    ps.receive(2)
    ps.pub("PUBLISH", "nx", "")
    ps.receive()
    ps.pub("PUBLISH", "news", "bin\x00\r\nary")
    ps.receive(2)
    ps.nothing_pending()


def test_it_matches_glob_patterns_like_redis(ps: PubSubDiff) -> None:
    ps.sub("PSUBSCRIBE", "h[ae]llo", "h?llo", "*", "h\\*", "[a-c]x", frames=5)
    ps.pub("PUBLISH", "hello", "1")
    ps.receive(3, unordered=True)
    ps.pub("PUBLISH", "h*", "2")
    ps.receive(2, unordered=True)
    ps.pub("PUBLISH", "bx", "3")
    ps.receive(2, unordered=True)


def test_it_unsubscribes_named_channels_even_unknown_ones(ps: PubSubDiff) -> None:
    ps.sub("SUBSCRIBE", "a", "b", frames=2)
    ps.sub("PSUBSCRIBE", "p*")
    ps.sub("UNSUBSCRIBE", "a", "nosuch", "a", frames=3)
    ps.sub("PUNSUBSCRIBE", "q*", "p*", frames=2)
    ps.pub("PUBLISH", "a", "gone")
    ps.pub("PUBLISH", "b", "here")
    ps.receive()


def test_it_unsubscribes_from_everything_without_arguments(ps: PubSubDiff) -> None:
    ps.sub("SUBSCRIBE", "only")
    ps.sub("PSUBSCRIBE", "p1")
    ps.sub("UNSUBSCRIBE")  # one channel: deterministic
    ps.sub("UNSUBSCRIBE")  # none left: [unsubscribe, nil, count]
    ps.sub("PUNSUBSCRIBE")
    ps.sub("PUNSUBSCRIBE")
    ps.sub("SUBSCRIBE", "x", "y", "z", frames=3)
    ps.sub_unordered("UNSUBSCRIBE", frames=3)


def test_it_answers_unsubscribe_without_any_subscription(ps: PubSubDiff) -> None:
    ps.sub("UNSUBSCRIBE")
    ps.sub("PUNSUBSCRIBE")
    ps.sub("SUNSUBSCRIBE")
    ps.sub("UNSUBSCRIBE", "never")
    ps.sub("PUNSUBSCRIBE", "never*")
    ps.sub("SUNSUBSCRIBE", "never")
    ps.sub("GET", "k")  # still a normal connection


def test_it_keeps_shard_channels_and_their_count_apart(ps: PubSubDiff) -> None:
    ps.sub("SUBSCRIBE", "a")
    ps.sub("SSUBSCRIBE", "s1", "s2", "s1", frames=3)
    ps.sub("PSUBSCRIBE", "s*")
    ps.pub("SPUBLISH", "s1", "shard")
    ps.receive()
    ps.pub("PUBLISH", "s1", "plain")  # only the pattern: shard channels are another space
    ps.receive()
    ps.pub("SPUBLISH", "nobody", "x")
    ps.sub("SUNSUBSCRIBE", "s1", "zz", frames=2)
    ps.sub("SUNSUBSCRIBE")
    ps.sub("SUNSUBSCRIBE")
    ps.sub("UNSUBSCRIBE", "a")


def test_it_reports_pubsub_introspection(ps: PubSubDiff) -> None:
    ps.sub("SUBSCRIBE", "chan1")
    ps.sub("PSUBSCRIBE", "pat*", "pat*", "other", frames=3)
    ps.sub("SSUBSCRIBE", "shard1")
    ps.pub("PUBSUB", "CHANNELS")
    ps.pub("PUBSUB", "CHANNELS", "ch*")
    ps.pub("PUBSUB", "CHANNELS", "nomatch*")
    ps.pub("PUBSUB", "NUMSUB")
    ps.pub("PUBSUB", "NUMSUB", "chan1", "nosuch", "chan1")
    ps.pub("PUBSUB", "NUMPAT")
    ps.pub("PUBSUB", "SHARDCHANNELS")
    ps.pub("PUBSUB", "SHARDCHANNELS", "shard?")
    ps.pub("PUBSUB", "SHARDNUMSUB", "shard1", "nosuch")
    ps.pub("PUBSUB", "SHARDNUMSUB")
    ps.pub("PUBSUB", "CHANNELS", "a", "b")
    ps.pub("PUBSUB", "SHARDCHANNELS", "a", "b")
    ps.pub("PUBSUB", "NUMPAT", "x")
    ps.pub("PUBSUB", "NOSUCH")
    ps.pub("PUBSUB")
    ps.pub("PUBSUB", "HELP")


def test_it_refuses_other_commands_in_resp2_subscribed_context(diff: Differ, redis_proc: Proc, engine_proc: Proc) -> None:
    ps = PubSubDiff(redis_proc.port, engine_proc.port, 2)
    try:
        ps.sub("SUBSCRIBE", "a")
        ps.sub("GET", "k")
        ps.sub("PUBLISH", "a", "x")
        ps.sub("PUBSUB", "NUMPAT")
        ps.sub("PING")
        ps.sub("PING", "hi")
        ps.sub("SSUBSCRIBE", "s")
        ps.sub("PSUBSCRIBE", "p")
        ps.sub("UNSUBSCRIBE", "a")
        ps.sub("PUNSUBSCRIBE", "p")
        ps.sub("GET", "k")  # still subscribed to the shard channel
        ps.sub("SUNSUBSCRIBE", "s")
        ps.sub("GET", "k")  # back to normal
        ps.sub("SUBSCRIBE", "b")
        ps.sub("RESET")
        ps.sub("GET", "k")
        ps.sub("SUBSCRIBE", "c")
        ps.sub("QUIT")
    finally:
        ps.close()


def test_it_lets_resp3_subscribers_run_any_command(diff: Differ, redis_proc: Proc, engine_proc: Proc) -> None:
    ps = PubSubDiff(redis_proc.port, engine_proc.port, 3)
    try:
        ps.sub("SUBSCRIBE", "a")
        ps.sub("SET", "k", "v")
        ps.sub("GET", "k")
        ps.sub("PING")
        ps.pub("PUBLISH", "a", "m")
        ps.receive()
        # Its own message: the push frame comes before PUBLISH's reply.
        ps.sub("PUBLISH", "a", "self", frames=2)
        ps.sub("PSUBSCRIBE", "*")
        ps.sub("PUBLISH", "a", "twice", frames=3)
        ps.sub("SSUBSCRIBE", "s")
        ps.sub("SPUBLISH", "s", "shard", frames=2)
        ps.sub("DEL", "k")
    finally:
        ps.close()


def test_it_keeps_frames_in_pipeline_order(diff: Differ, redis_proc: Proc, engine_proc: Proc) -> None:
    for proto in (2, 3):
        ps = PubSubDiff(redis_proc.port, engine_proc.port, proto)
        try:
            batch = b"".join(encode_command(a) for a in [("ECHO", "before"), ("SUBSCRIBE", "q", "r"), ("PING",)])
            got = []
            for pair in (ps.ref, ps.eng):
                pair.sub.send(batch)
                got.append([pair.sub.read_frame() for _ in range(4)])
            assert got[1] == got[0]
            if proto == 3:
                batch = b"".join(encode_command(a) for a in [("ECHO", "x"), ("PUBLISH", "q", "mine"), ("ECHO", "y")])
                got = []
                for pair in (ps.ref, ps.eng):
                    pair.sub.send(batch)
                    got.append([pair.sub.read_frame() for _ in range(4)])
                assert got[1] == got[0]
        finally:
            ps.close()


def test_it_subscribes_inside_a_transaction_like_redis(diff: Differ, redis_proc: Proc, engine_proc: Proc) -> None:
    ps = PubSubDiff(redis_proc.port, engine_proc.port, 2)
    try:
        ps.sub("MULTI")
        ps.sub("SUBSCRIBE", "t", "u")
        ps.sub("EXEC", frames=2)  # *1, then two confirmations: Redis's own framing
        ps.pub("PUBLISH", "t", "after exec")
        ps.receive()
    finally:
        ps.close()


def test_it_checks_arity(ps: PubSubDiff) -> None:
    ps.pub("SUBSCRIBE")
    ps.pub("PSUBSCRIBE")
    ps.pub("SSUBSCRIBE")
    ps.pub("PUBLISH", "a")
    ps.pub("PUBLISH", "a", "b", "c")
    ps.pub("SPUBLISH", "a")


def test_it_drops_subscriptions_of_closed_connections(raw: RawClient, engine_proc: Proc) -> None:
    sub = RawClient(engine_proc.port)
    sub.call("SUBSCRIBE", "gone")
    sub.call("PSUBSCRIBE", "gone*")
    assert raw.call("PUBSUB", "NUMSUB", "gone") == b"*2\r\n$4\r\ngone\r\n:1\r\n"
    sub.close()
    deadline = time.monotonic() + 2
    while raw.call("PUBSUB", "NUMPAT") != b":0\r\n":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert raw.call("PUBSUB", "NUMSUB", "gone") == b"*2\r\n$4\r\ngone\r\n:0\r\n"
    assert raw.call("PUBLISH", "gone", "x") == b":0\r\n"


# ---------------------------------------------------------------------------
# redis-py


def test_redis_py_pubsub_receives_messages(engine_proc: Proc) -> None:
    for protocol in (2, 3):
        r = redis.Redis(port=engine_proc.port, protocol=protocol)
        p = r.pubsub()
        try:
            p.subscribe("rp")
            p.psubscribe("rp*")
            assert p.get_message(timeout=1)["type"] == "subscribe"
            assert p.get_message(timeout=1)["type"] == "psubscribe"
            assert r.publish("rp", "hi") == 2
            got = [p.get_message(timeout=1), p.get_message(timeout=1)]
            assert [m["type"] for m in got] == ["message", "pmessage"]
            assert got[0]["data"] == b"hi" and got[1]["pattern"] == b"rp*"
            assert r.pubsub_numsub("rp") == [(b"rp", 1)]
            assert r.pubsub_numpat() == 1
            assert r.pubsub_channels() == [b"rp"]
            p.unsubscribe("rp")
            p.punsubscribe()
            assert p.get_message(timeout=1)["type"] == "unsubscribe"
            assert p.get_message(timeout=1)["type"] == "punsubscribe"
        finally:
            p.close()
            r.close()


def test_redis_py_sharded_pubsub(engine_proc: Proc) -> None:
    r = redis.Redis(port=engine_proc.port)
    p = r.pubsub()
    try:
        p.ssubscribe("sh")
        assert p.get_sharded_message(timeout=1)["type"] == "ssubscribe"
        assert r.spublish("sh", "x") == 1
        msg = p.get_sharded_message(timeout=1)
        assert msg["type"] == "smessage" and msg["data"] == b"x"
        assert r.pubsub_shardnumsub("sh") == [(b"sh", 1)]
    finally:
        p.close()
        r.close()


def test_redis_py_asyncio_pubsub(engine_proc: Proc) -> None:
    async def run() -> None:
        for protocol in (2, 3):
            r = redis.asyncio.Redis(port=engine_proc.port, protocol=protocol)
            p = r.pubsub()
            try:
                await p.subscribe("ap")
                assert (await p.get_message(timeout=1))["type"] == "subscribe"
                assert await r.publish("ap", "v") == 1
                msg = await p.get_message(timeout=1)
                assert msg["type"] == "message" and msg["data"] == b"v"
                await p.unsubscribe()
                assert (await p.get_message(timeout=1))["type"] == "unsubscribe"
            finally:
                await p.aclose()
                await r.aclose()

    asyncio.run(run())


def test_redis_py_pubsub_worker_thread_handler(engine_proc: Proc) -> None:
    r = redis.Redis(port=engine_proc.port)
    got: list[bytes] = []
    p = r.pubsub()
    p.subscribe(**{"th": lambda m: got.append(m["data"])})
    worker = p.run_in_thread(sleep_time=0.01)
    try:
        deadline = time.monotonic() + 2
        while r.publish("th", "ping") == 0:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        while not got:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert got[0] == b"ping"
    finally:
        worker.stop()
        worker.join(2)
        p.close()
        r.close()


def test_parse_helper_reads_push_frames() -> None:
    assert parse(b">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n") == [b"message", b"a", b"b"]

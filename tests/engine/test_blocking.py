"""Blocking list and sorted-set pops, against redis-server 7.0, byte for byte.

The ``diff`` connection to each server writes; ``Blockers`` holds further
connections to each server that block, so both servers see the same clients in
the same order."""

from __future__ import annotations

import shlex
import socket
import time
from typing import Iterator

import pytest
import redis

from sandbox.engine.resp import encode_command

from .conftest import Differ
from .rawclient import RawClient
from .servers import Proc, engine_process, redis_process


class Blockers:
    """``n`` more connections to each server: index i is the same client on both."""

    def __init__(self, redis_port: int, engine_port: int, n: int, proto: int) -> None:
        self.ref = [RawClient(redis_port) for _ in range(n)]
        self.eng = [RawClient(engine_port) for _ in range(n)]
        if proto == 3:
            for c in self.ref + self.eng:
                c.call("HELLO", "3")

    def send(self, i: int, line: str) -> None:
        for c in (self.ref[i], self.eng[i]):
            c.send(encode_command(shlex.split(line)))

    def replies(self, i: int, wait: float) -> tuple[bytes | None, bytes | None]:
        return _poll(self.ref[i], wait), _poll(self.eng[i], wait)

    def ids(self, i: int) -> tuple[int, int]:
        return int(self.ref[i].call("CLIENT", "ID")[1:-2]), int(self.eng[i].call("CLIENT", "ID")[1:-2])

    def close(self) -> None:
        for c in self.ref + self.eng:
            c.close()


def _poll(client: RawClient, wait: float) -> bytes | None:
    client.sock.settimeout(wait)
    try:
        return client.read_frame()
    except (socket.timeout, TimeoutError):
        return None
    finally:
        client.sock.settimeout(5.0)


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pair(request: pytest.FixtureRequest, diff: Differ, redis_proc: Proc, engine_proc: Proc) -> Iterator[tuple[Differ, Blockers]]:
    if request.param == 3:
        diff.resp3()
    blockers = Blockers(redis_proc.port, engine_proc.port, 3, request.param)
    try:
        yield diff, blockers
    finally:
        blockers.close()


def still_blocked(b: Blockers, i: int) -> None:
    ref, eng = b.replies(i, 0.15)
    assert ref is None and eng is None, (i, ref, eng)


def same(b: Blockers, i: int, wait: float = 3.0) -> bytes:
    ref, eng = b.replies(i, wait)
    assert ref is not None and ref == eng, (i, ref, eng)
    return ref


# -- served at once --------------------------------------------------------------------------------


def test_each_pop_is_served_at_once_when_a_key_holds_data(pair: tuple[Differ, Blockers]) -> None:
    d, _ = pair
    d.many("""
        RPUSH l a b c d e f
        ZADD z 1 a 2 b 3 c 4 d 5 e
        BLPOP missing l 0
        BRPOP l missing 0
        BLMOVE l l2 LEFT RIGHT 0
        BRPOPLPUSH l l2 0
        BLMPOP 0 2 missing l RIGHT COUNT 5
        BLMPOP 0 1 l2 LEFT
        BZPOPMIN missing z 0
        BZPOPMAX z 0
        BZMPOP 0 1 z MIN COUNT 2
        BZMPOP 0 1 z MAX COUNT 9
        LRANGE l2 0 -1
        EXISTS l z
    """)


def test_a_key_of_another_type_answers_wrongtype_before_any_later_key(pair: tuple[Differ, Blockers]) -> None:
    d, _ = pair
    d.many("""
        SET s v
        RPUSH l a
        ZADD z 1 a
        BLPOP s l 0
        BLPOP l s 0
        BZPOPMIN s z 0
        BLMOVE s l LEFT LEFT 0
        RPUSH l b
        BLMOVE l s LEFT LEFT 0
        BRPOPLPUSH l s 0
        BLMPOP 0 2 s l LEFT
        BZMPOP 0 2 z s MIN
        BZMPOP 0 2 s z MIN
        LRANGE l 0 -1
    """)


@pytest.mark.parametrize("timeout", [
    "1e30", "inf", "-inf", "nan", " 1", "1 ", "-1", "abc", "", "9223372036854775807", "1e16",
    "0x", "1e", "--1",
])
def test_it_refuses_bad_timeouts_as_redis_words_them(d: Differ, timeout: str) -> None:
    d("BLPOP", "k", timeout)
    d("BZPOPMAX", "k", "k2", timeout)
    d("BLMOVE", "k", "k2", "LEFT", "RIGHT", timeout)
    d("BRPOPLPUSH", "k", "k2", timeout)
    d("BLMPOP", timeout, "1", "k", "LEFT")
    d("BZMPOP", timeout, "1", "k", "MIN", "COUNT", "2")


def test_argument_errors_come_in_redis_order(d: Differ) -> None:
    d.many("""
        SET s v
        BLPOP s -1
        BLMOVE s k UP LEFT -1
        BLMOVE s k LEFT DOWN x
        BLMPOP -1 0 s LEFT
        BLMPOP -1 1 s MIDDLE
        BLMPOP -1 1 s LEFT COUNT 0
        BLMPOP -1 1 s LEFT COUNT 1 COUNT 2
        BLMPOP -1 1 s LEFT
        BLMPOP 0 1 s LEFT
        BZMPOP x 2 s MAX
        BZMPOP 0 2 s k MAX
        BZMPOP 0 1 s MAX COUNT -3
        BLPOP
        BLMPOP 0 1 k
    """)


@pytest.fixture
def d(diff: Differ) -> Differ:
    return diff


# -- blocking and waking ---------------------------------------------------------------------------


def test_clients_blocked_on_a_key_are_served_first_come_first_served(pair: tuple[Differ, Blockers]) -> None:
    d, b = pair
    b.send(0, "BLPOP k1 k2 0")
    still_blocked(b, 0)
    b.send(1, "BRPOP k2 0")
    still_blocked(b, 1)
    b.send(2, "BLMPOP 0 2 k2 k1 LEFT COUNT 2")
    still_blocked(b, 2)
    d("RPUSH", "k2", "a", "b", "c", "d")
    assert same(b, 0) and same(b, 1) and same(b, 2)
    d("LRANGE", "k2", "0", "-1")


def test_keys_are_served_in_the_order_they_became_ready(pair: tuple[Differ, Blockers]) -> None:
    d, b = pair
    b.send(0, "BLPOP a b 0")
    still_blocked(b, 0)
    b.send(1, "BLPOP b a 0")
    still_blocked(b, 1)
    d.many("""
        MULTI
        RPUSH b 1
        RPUSH a 2
        EXEC
    """)
    same(b, 0)
    same(b, 1)


def test_a_blocked_move_feeds_the_next_blocked_client_in_the_same_round(pair: tuple[Differ, Blockers]) -> None:
    d, b = pair
    b.send(0, "BLMOVE src mid RIGHT LEFT 0")
    still_blocked(b, 0)
    b.send(1, "BRPOPLPUSH mid dst 0")
    still_blocked(b, 1)
    b.send(2, "BZPOPMIN nothing 0.2")
    d("RPUSH", "src", "x")
    same(b, 0)
    same(b, 1)
    same(b, 2)
    d.many("""
        LRANGE dst 0 -1
        EXISTS src mid
    """)


def test_a_pipelined_push_serves_the_blocked_client_before_the_next_command(pair: tuple[Differ, Blockers]) -> None:
    """Redis serves blocked clients after each command, even inside one pipeline."""
    d, b = pair
    b.send(0, "BLPOP k 0")
    still_blocked(b, 0)
    ref, eng = d.raw(encode_command(["RPUSH", "k", "a"]) + encode_command(["LPOP", "k"]))
    assert ref == eng
    assert d.ref.read_frame() == d.eng.read_frame()
    same(b, 0)


def test_a_key_that_gets_and_loses_a_value_in_one_transaction_wakes_nobody(pair: tuple[Differ, Blockers]) -> None:
    d, b = pair
    b.send(0, "BZPOPMAX z 0")
    still_blocked(b, 0)
    d.many("""
        MULTI
        ZADD z 1 a
        ZREM z a
        EXEC
    """)
    still_blocked(b, 0)
    d("ZADD", "z", "2", "b")
    same(b, 0)


def test_a_key_of_another_type_keeps_a_pop_blocked_but_fails_a_moves_destination(
        pair: tuple[Differ, Blockers]) -> None:
    d, b = pair
    b.send(0, "BLPOP k 0")
    still_blocked(b, 0)
    d("ZADD", "k", "1", "a")
    still_blocked(b, 0)
    d("DEL", "k")
    d("RPUSH", "k", "v")
    same(b, 0)
    b.send(1, "BLMOVE q dst LEFT LEFT 0")
    still_blocked(b, 1)
    d("SET", "dst", "string")
    still_blocked(b, 1)
    d("RPUSH", "q", "v")
    same(b, 1)  # WRONGTYPE, and the element stays in q
    d("LRANGE", "q", "0", "-1")


def test_the_timeout_answers_the_null_array(pair: tuple[Differ, Blockers]) -> None:
    d, b = pair
    started = time.monotonic()
    b.send(0, "BLMOVE a b LEFT LEFT 0.15")
    b.send(1, "BZMPOP 0.15 1 z MIN")
    b.send(2, "BLPOP a -0.0005")  # -0.5 ms rounded up: 0, forever
    assert same(b, 0) in (b"*-1\r\n", b"_\r\n")
    same(b, 1)
    assert time.monotonic() - started >= 0.14
    still_blocked(b, 2)
    d("RPUSH", "a", "x")
    same(b, 2)
    b.send(2, "BLPOP a 0.0001")  # rounded up to 1 ms
    same(b, 2)


def test_inside_multi_a_blocking_pop_answers_at_once(pair: tuple[Differ, Blockers]) -> None:
    d, _ = pair
    d.many("""
        MULTI
        BLPOP nothing 0
        BRPOP nothing 0
        BLMOVE nothing x LEFT LEFT 0
        BRPOPLPUSH nothing x 0
        BLMPOP 0 1 nothing LEFT
        BZPOPMIN nothing 0
        BZPOPMAX nothing 0
        BZMPOP 0 1 nothing MAX
        RPUSH l a
        BLPOP l 0
        EXEC
    """)


def test_client_unblock_answers_a_blocked_pop(pair: tuple[Differ, Blockers]) -> None:
    d, b = pair
    for reason in ("TIMEOUT", "ERROR"):
        ids = b.ids(0)
        b.send(0, "BZPOPMIN z 0")
        still_blocked(b, 0)
        assert [c.call("CLIENT", "UNBLOCK", str(i), reason) for c, i in zip((d.ref, d.eng), ids)] == [b":1\r\n"] * 2
        same(b, 0)
        assert [c.call("CLIENT", "UNBLOCK", str(i), reason) for c, i in zip((d.ref, d.eng), ids)] == [b":0\r\n"] * 2
    d("ZADD", "z", "1", "a")
    d("ZCARD", "z")


def test_a_blocked_pop_is_counted_and_flagged_as_redis_does(pair: tuple[Differ, Blockers]) -> None:
    d, b = pair

    def line(client: RawClient, prefix: str, *cmd: str) -> str:
        text = client.call(*cmd).decode()
        return next(part for part in text.replace("\r\n", " ").replace("\n", " ").split(" ")
                    if part.startswith(prefix))

    ids = b.ids(0)
    b.send(0, "BLMOVE a b LEFT RIGHT 0")
    still_blocked(b, 0)
    assert [line(c, "blocked_clients:", "INFO", "clients") for c in (d.ref, d.eng)] == ["blocked_clients:1"] * 2
    for prefix, want in (("flags=", "flags=b"), ("cmd=", "cmd=blmove")):
        got = [line(c, prefix, "CLIENT", "LIST", "ID", str(i)) for c, i in zip((d.ref, d.eng), ids)]
        assert got == [want] * 2
    d("RPUSH", "a", "x")
    same(b, 0)
    assert [line(c, "blocked_clients:", "INFO", "clients") for c in (d.ref, d.eng)] == ["blocked_clients:0"] * 2


def test_a_blocked_client_that_disconnects_is_forgotten(engine_proc: Proc) -> None:
    with RawClient(engine_proc.port) as writer:
        writer.call("FLUSHALL")
        gone = RawClient(engine_proc.port)
        gone.send(encode_command(["BLPOP", "k", "0"]))
        time.sleep(0.1)
        gone.close()
        time.sleep(0.1)
        assert writer.call("RPUSH", "k", "a") == b":1\r\n"
        time.sleep(0.05)
        assert writer.call("LRANGE", "k", "0", "-1") == b"*1\r\n$1\r\na\r\n"  # nobody took it
        assert b"blocked_clients:0" in writer.call("INFO", "clients")


# -- redis-py ----------------------------------------------------------------------------------------


def test_redis_py_blpop_and_bzpopmin_with_timeouts(engine_proc: Proc, redis_proc: Proc) -> None:
    got = []
    for port in (redis_proc.port, engine_proc.port):
        r = redis.Redis(port=port)
        other = redis.Redis(port=port)
        try:
            r.flushall()
            out: list[object] = [r.blpop(["q"], timeout=0.1), r.bzpopmin("z", timeout=0.1)]
            other.rpush("q", "job")
            other.zadd("z", {"m": 2.5})
            out += [r.blpop(["nothing", "q"], timeout=1), r.bzpopmin(["z"], timeout=1)]
            out.append(r.bzpopmax("z", timeout=0.05))
            got.append(out)
        finally:
            r.close()
            other.close()
    assert got[0] == got[1] == [None, None, (b"q", b"job"), (b"z", b"m", 2.5), None]


# -- a node that stops being primary ------------------------------------------------------------------


def test_a_primary_turned_replica_unblocks_and_closes_its_blocked_clients() -> None:
    with redis_process() as ref, engine_process() as eng:
        answers = []
        for port in (ref.port, eng.port):
            with RawClient(port) as admin, RawClient(port) as blocked:
                blocked.send(encode_command(["BLPOP", "k", "0"]))
                time.sleep(0.15)
                # A primary that can't be reached: the node stays a replica, trying.
                assert admin.call("REPLICAOF", "127.0.0.1", "1") == b"+OK\r\n"
                answer = blocked.read_frame()
                time.sleep(0.1)
                blocked.sock.settimeout(2)
                closed = blocked.sock.recv(16) == b""
                answers.append((answer, closed))
        assert answers[0] == answers[1]
        assert answers[0] == (b"-UNBLOCKED force unblock from blocking operation, instance state changed "
                              b"(master -> replica?)\r\n", True)

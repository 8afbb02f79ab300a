"""Stream commands against a real redis-server 7.0, in RESP2 and RESP3.

Explicit IDs make almost every reply deterministic, so most tests compare bytes
(``d.many``). Replies that carry times — XPENDING's idle, XINFO CONSUMERS' idle,
XINFO STREAM FULL's delivery and seen times — and ``*`` IDs are compared with the
time fields masked, after checking each masked value is plausible (an idle time
of a few seconds at most, an epoch time within a minute of now). Blocking reads
run on a second connection to each server and are compared the same way.
"""

from __future__ import annotations

import shlex
import socket
import time
from typing import Any, Callable

import hiredis
import pytest

from .conftest import Differ
from .rawclient import RawClient
from .servers import Proc


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request: pytest.FixtureRequest, diff: Differ) -> Differ:
    if request.param == 3:
        diff.resp3()
    return diff


def parse(frame: bytes) -> Any:
    reader = hiredis.Reader()
    reader.feed(frame)
    return reader.gets()


def both(d: Differ, *args: str | bytes) -> None:
    """Run a setup command on both servers; their replies must still agree."""
    assert d.ref.call(*args) == d.eng.call(*args), args


def now_ms() -> int:
    return int(time.time() * 1000)


def epoch(value: Any) -> str:
    """An epoch-ms time field: it must be within a minute of now."""
    assert isinstance(value, int) and abs(value - now_ms()) < 60_000, value
    return "<time>"


def idle(value: Any) -> str:
    """An idle-time field: a few seconds at most (the tests run quickly)."""
    assert isinstance(value, int) and 0 <= value < 10_000, value
    return "<idle>"


def pairs(reply: Any) -> dict:
    """A map reply (RESP3) or a flat key/value list (RESP2) as a dict."""
    if isinstance(reply, dict):
        return dict(reply)
    assert isinstance(reply, list) and len(reply) % 2 == 0, reply
    return dict(zip(reply[::2], reply[1::2]))


def masked(d: Differ, mask: Callable[[Any], Any], *args: str) -> Any:
    """Run ``args`` on both servers; the replies must agree once ``mask`` replaced
    their time fields (it also checks them). Returns the engine's masked reply."""
    ref, eng = d.ref.call(*args), d.eng.call(*args)
    d.transcript.append(" ".join(args))
    a, b = mask(parse(ref)), mask(parse(eng))
    assert a == b, f"{args}\n  redis:  {ref!r}\n  engine: {eng!r}"
    assert ref.split(b"\r\n", 1)[0] == eng.split(b"\r\n", 1)[0], (args, ref[:30], eng[:30])
    return b


def mask_pending_rows(reply: Any) -> Any:
    return [[r[0], r[1], idle(r[2]), r[3]] for r in reply]


def mask_consumers(reply: Any) -> Any:
    out = []
    for c in reply:
        c = pairs(c)
        c[b"idle"] = idle(c[b"idle"])
        out.append(c)
    return out


def mask_full(reply: Any) -> Any:
    info = pairs(reply)
    groups = []
    for g in info[b"groups"]:
        g = pairs(g)
        g[b"pending"] = [[p[0], p[1], epoch(p[2]), p[3]] for p in g[b"pending"]]
        consumers = []
        for c in g[b"consumers"]:
            c = pairs(c)
            c[b"seen-time"] = epoch(c[b"seen-time"])
            c[b"pending"] = [[p[0], epoch(p[1]), p[2]] for p in c[b"pending"]]
            consumers.append(c)
        g[b"consumers"] = consumers
        groups.append(g)
    info[b"groups"] = groups
    return info


def fill(d: Differ, key: str, n: int, start: int = 1) -> None:
    for i in range(start, start + n):
        both(d, "XADD", key, f"{i}-1", "f", f"v{i}")


# ---------------------------------------------------------------------------
# XADD


def test_xadd_takes_explicit_ids_and_refuses_smaller_ones(d: Differ) -> None:
    d.many("""
        XADD s 0-0 a 1
        XADD s 0 a 1
        XADD s 0-1 a 1
        XADD s 0-1 a 1
        XADD s 0-0 a 1
        XADD s 1 a 1
        XADD s 1-0 a 1
        XADD s 1 b 2
        XADD s 5-3 a 1 b 2 c 3
        XADD s 5-3 a 1
        XADD s 5-2 a 1
        XADD s 4 a 1
        XADD s 5-4 "" ""
        XADD s 00006-007 a 1
        XADD s " 7-+8" a 1
        XADD s 9--0 a 1
        XRANGE s - +
        XLEN s
    """)


def test_xadd_sequence_wildcard_and_id_edges(d: Differ) -> None:
    d.many("""
        XADD s 0-* a 1
        XADD s 0-* a 1
        XADD s 5-* a 1
        XADD s 5-* a 1
        XADD s 3-* a 1
        XADD s 5-18446744073709551615 a 1
        XADD s 5-* a 1
        XADD s 6-* a 1
        XADD s 18446744073709551615-18446744073709551614 a 1
        XADD s 18446744073709551615-* a 1
        XADD s 18446744073709551615-* a 1
        XADD s * a 1
        XADD s 18446744073709551615-18446744073709551615 a 1
        XADD s 18446744073709551616 a 1
        XADD s 18446744073709551616-0 a 1
        XADD s 1-18446744073709551616 a 1
        XADD s -1 a 1
        XADD s 1--1 a 1
        XADD s 1-* a 1
        XRANGE s - +
        XINFO STREAM s
    """)


def test_xadd_argument_errors_in_redis_order(d: Differ) -> None:
    d.many("""
        XADD s - a 1
        XADD s + a 1
        XADD s 1-x a 1
        XADD s x a 1
        XADD s 1-2-3 a 1
        XADD s ( a 1
        XADD s 5 a
        XADD s 0-0 a
        XADD s * a 1 b
        XADD s MAXLEN
        XADD s MAXLEN 5
        XADD s MAXLEN ~ 5
        XADD s MAXLEN 5 * a
        XADD s MAXLEN x * a 1
        XADD s MAXLEN -1 * a 1
        XADD s MAXLEN ~ -1 * a 1
        XADD s MAXLEN ~ x * a 1
        XADD s MAXLEN 1 MINID 5 * a 1
        XADD s MINID 5 MAXLEN 1 * a 1
        XADD s MAXLEN 1 MAXLEN 1 * a 1
        XADD s MINID - * a 1
        XADD s MINID x * a 1
        XADD s MINID 5-* * a 1
        XADD s LIMIT 5 * a 1
        XADD s LIMIT 0 * a 1
        XADD s LIMIT x * a 1
        XADD s MAXLEN 5 LIMIT 5 * a 1
        XADD s MAXLEN = 5 LIMIT 5 * a 1
        XADD s MAXLEN ~ 5 LIMIT -1 * a 1
        XADD s MAXLEN ~ 5 LIMIT x * a 1
        XADD s NOMKSTREAM NOMKSTREAM 1-1 a 1
        XADD s FOO 1-1 a 1
        EXISTS s
    """)


def test_xadd_nomkstream_and_wrong_type(d: Differ) -> None:
    d.many("""
        XADD s NOMKSTREAM 1-1 a 1
        XADD s NOMKSTREAM * a 1
        EXISTS s
        XADD s 1-1 a 1
        XADD s NOMKSTREAM 2-1 a 1
        XADD s NOMKSTREAM MAXLEN 1 3-1 a 1
        XRANGE s - +
        SET str x
        XADD str 1-1 a 1
        XADD str NOMKSTREAM 1-1 a 1
        XLEN str
        XRANGE str - +
        XDEL str 1-1
        XTRIM str MAXLEN 0
        XINFO STREAM str
        LPUSH s x
        GET s
    """)


def test_xadd_auto_ids_follow_the_clock_and_the_last_id(diff: Differ) -> None:
    for proto in (2, 3):
        diff.ref.call("HELLO", str(proto))
        diff.eng.call("HELLO", str(proto))
        for client in (diff.ref, diff.eng):
            client.call("DEL", "s")
            before = now_ms()
            ids = [parse(client.call("XADD", "s", "*", "n", str(i))) for i in range(50)]
            after = now_ms()
            parsed = [tuple(map(int, i.split(b"-"))) for i in ids]
            assert parsed == sorted(parsed) and len(set(parsed)) == 50
            assert all(before <= ms <= after for ms, _ in parsed), (before, parsed, after)
            future = f"{after + 3_600_000}-5"
            client.call("XADD", "s", future, "n", "x")
            nxt = parse(client.call("XADD", "s", "*", "n", "y"))
            assert nxt == f"{after + 3_600_000}-6".encode()  # the clock is behind: the sequence goes on
            client.call("XADD", "s", f"{after + 3_600_000}-18446744073709551615", "n", "z")
            assert parse(client.call("XADD", "s", "*", "n", "w")) == f"{after + 3_600_001}-0".encode()


# ---------------------------------------------------------------------------
# XRANGE / XREVRANGE / XLEN / XDEL


def test_xrange_bounds_exclusive_incomplete_ids_and_count(d: Differ) -> None:
    d.many("""
        XADD s 1-1 a 1
        XADD s 2-0 b 2
        XADD s 2-2 c 3 d 4
        XADD s 3-5 e 5
        XADD s 18446744073709551615-0 f 6
        XRANGE s - +
        XRANGE s 2 2
        XRANGE s 2 (3
        XRANGE s (2-0 +
        XRANGE s (1-1 (3-5
        XRANGE s ( +
        XRANGE s (- +
        XRANGE s - (+
        XRANGE s 18446744073709551615-18446744073709551615 +
        XRANGE s (18446744073709551615-18446744073709551615 +
        XRANGE s (18446744073709551615 +
        XRANGE s - (0-0
        XRANGE s - (0
        XRANGE s - (0-1
        XRANGE s 3 2
        XRANGE s - + COUNT 0
        XRANGE s - + COUNT -5
        XRANGE s - + COUNT 2
        XRANGE s - + COUNT 2 COUNT 1
        XRANGE s - + COUNT
        XRANGE s - + COUNT x
        XRANGE s - + FOO 1
        XRANGE s x +
        XRANGE s - x
        XRANGE s 0-* +
        XRANGE nokey - +
        XRANGE nokey - + COUNT 0
        XRANGE nokey x +
        XREVRANGE s + -
        XREVRANGE s + - COUNT 1
        XREVRANGE s (3-5 (1-1
        XREVRANGE s 2 2
        XREVRANGE s - +
        XREVRANGE s + - COUNT 0
        XREVRANGE s x (0-0
        XREVRANGE s (0-0 x
        XREVRANGE nokey + -
    """)


def test_xdel_and_xlen(d: Differ) -> None:
    d.many("""
        XDEL nokey 1-1
        XDEL nokey x
        XLEN nokey
        XADD s 1-1 a 1
        XADD s 2-1 a 1
        XADD s 3-1 a 1
        XDEL s 2-1 9-9 2-1
        XDEL s 2-1
        XDEL s 1-1 x
        XDEL s -
        XDEL s 1-*
        XLEN s
        XRANGE s - +
        XDEL s 1-1 3-1
        XLEN s
        EXISTS s
        XRANGE s - +
        XINFO STREAM s
        XADD s 2-5 a 1
        XINFO STREAM s
    """)


# ---------------------------------------------------------------------------
# Trimming and the node layout (radix-tree-keys/-nodes, approximate trims)


def test_exact_trimming_by_maxlen_and_minid(d: Differ) -> None:
    fill(d, "s", 30)
    d.many("""
        XTRIM s MAXLEN 25
        XTRIM s MAXLEN = 20
        XTRIM s MAXLEN 100
        XTRIM s MINID 12
        XTRIM s MINID = 12-2
        XTRIM s MINID 0
        XRANGE s - + COUNT 2
        XADD s MAXLEN 10 31-1 f v
        XADD s MINID 25 32-1 f v
        XADD s MINID = 99 33-1 f v
        XRANGE s - +
        XINFO STREAM s
        XTRIM s MAXLEN 0
        XINFO STREAM s
        XTRIM nokey MAXLEN 0
    """)


def test_xtrim_argument_errors(d: Differ) -> None:
    d.many("""
        XADD s 1-1 a 1
        XTRIM s
        XTRIM s MAXLEN
        XTRIM s MAXLEN ~
        XTRIM s FOO 10
        XTRIM s LIMIT 5
        XTRIM s LIMIT 0 MAXLEN 5
        XTRIM s LIMIT 5 MAXLEN 5
        XTRIM s MAXLEN 5 LIMIT 5
        XTRIM s MAXLEN ~ 5 LIMIT -1
        XTRIM s MAXLEN -1
        XTRIM s MAXLEN x
        XTRIM s MAXLEN 1 MINID 1
        XTRIM s MINID +
        XTRIM s MINID (1
        XTRIM s MAXLEN 1 extra
        XTRIM s MAXLEN 1 NOMKSTREAM
        XTRIM nokey MAXLEN ~ x
        XLEN s
    """)


def test_approximate_trimming_removes_whole_nodes_like_redis(d: Differ) -> None:
    fill(d, "s", 350)  # small entries: a node closes at 100 entries
    d.many("""
        XINFO STREAM s
        XADD s MAXLEN ~ 120 351-1 f x
        XLEN s
        XINFO STREAM s
        XTRIM s MAXLEN ~ 10
        XLEN s
        XINFO STREAM s
        XRANGE s - + COUNT 3
        XTRIM s MINID ~ 330
        XTRIM s MINID ~ 340
        XLEN s
        XTRIM s MAXLEN ~ 0
        XINFO STREAM s
    """)
    fill(d, "t", 450)
    d.many("""
        XTRIM t MAXLEN ~ 10 LIMIT 150
        XLEN t
        XTRIM t MAXLEN ~ 10 LIMIT 99
        XTRIM t MAXLEN ~ 10 LIMIT 0
        XLEN t
        XADD t MAXLEN ~ 0 LIMIT 100 451-1 f v
        XLEN t
        XINFO STREAM t
    """)


def test_node_layout_follows_listpack_sizes(d: Differ) -> None:
    """Nodes close by bytes (stream-node-max-bytes 4096) as well as by count, with
    Redis's listpack encoding: integer-looking strings, shared master fields, ID
    deltas that go negative, big values."""
    import random

    rnd = random.Random(7)
    for i in range(1, 220):
        value = "x" * rnd.choice([1, 10, 50, 63, 64, 100, 300, 4000])
        fields = rnd.choice([["a"], ["a", "b"], ["b"], ["123"], ["-5", "z"]])
        args = [x for f in fields for x in (f, value if rnd.random() < 0.7 else str(rnd.randint(-10**6, 10**6)))]
        both(d, "XADD", "t", f"{i}-{rnd.choice([0, 1, 99999, 18446744073709551615])}", *args)
    for i in range(1, 120):
        both(d, "XADD", "n", f"{i * 7919}-{(i * 104729) % 1000}", "1", str(i), "2", f"-{i}", "3", f"{i}{i}")
    d.many("""
        XINFO STREAM t
        XTRIM t MAXLEN ~ 50
        XINFO STREAM t
        XTRIM t MINID ~ 150
        XINFO STREAM t
        XTRIM t MINID 180
        XINFO STREAM t
        XINFO STREAM n
        XTRIM n MAXLEN ~ 5
        XINFO STREAM n
        XADD big 1-1 f """ + "y" * 5000 + """
        XADD big 2-1 f y
        XADD big 3-1 f y
        XINFO STREAM big
    """)


def test_deleted_entries_keep_their_place_in_nodes(d: Differ) -> None:
    fill(d, "s", 350)
    for i in range(1, 351, 3):
        both(d, "XDEL", "s", f"{i}-1")
    for i in range(101, 201):
        both(d, "XDEL", "s", f"{i}-1")  # a whole node goes with its last live entry
    d.many("""
        XINFO STREAM s
        XTRIM s MAXLEN ~ 100
        XINFO STREAM s
        XTRIM s MINID ~ 300
        XINFO STREAM s
        XTRIM s MINID 320
        XINFO STREAM s
    """)
    for i in range(351, 460):
        both(d, "XADD", "s", f"{i}-1", "f", str(i), "g", str(i * 1000))
    d.many("""
        XINFO STREAM s
        XTRIM s MAXLEN ~ 10 LIMIT 100
        XINFO STREAM s
        XRANGE s - + COUNT 2
    """)


# ---------------------------------------------------------------------------
# XSETID


def test_xsetid(d: Differ) -> None:
    d.many("""
        XSETID nokey 1-1
        XSETID nokey x
        XADD s 1-1 a 1
        XADD s 2-2 a 1
        XADD s 3-3 a 1
        XDEL s 2-2
        XSETID s 1-1
        XSETID s 3-2
        XSETID s 3-3 ENTRIESADDED 1
        XSETID s 3-3 ENTRIESADDED -1
        XSETID s 3-3 ENTRIESADDED x
        XSETID s 3-3 ENTRIESADDED
        XSETID s 3-3 MAXDELETEDID 4-4
        XSETID s 3-3 MAXDELETEDID -
        XSETID s 3-3 MAXDELETEDID x
        XSETID s 3-3 FOO 1
        XSETID s -
        XSETID s +
        XSETID s 9-*
        XSETID s 5-5 MAXDELETEDID 4-4 ENTRIESADDED 10
        XINFO STREAM s
        XSETID s 4-9
        XSETID s 4-3
        XADD s 4-9 a 1
        XADD s 4-* a 1
        XINFO STREAM s
        XDEL s 1-1 3-3 4-10
        XSETID s 0-5
        XSETID s 4-10 ENTRIESADDED 0
        XINFO STREAM s
        XADD s 5-0 a 1
        XRANGE s - +
        SET str x
        XSETID str 1-1
    """)


# ---------------------------------------------------------------------------
# XGROUP


def test_xgroup_create_and_setid(d: Differ) -> None:
    d.many("""
        XGROUP CREATE nokey g $
        XGROUP CREATE nokey g 0 ENTRIESREAD 3
        XGROUP CREATE nokey g x MKSTREAM
        EXISTS nokey
        XGROUP CREATE s g $ MKSTREAM
        XGROUP CREATE s g $ MKSTREAM
        XGROUP CREATE s g 0
        XINFO STREAM s
        XADD s 1-1 a 1
        XADD s 2-1 a 1
        XGROUP CREATE s g0 0
        XGROUP CREATE s gd $
        XGROUP CREATE s gm 1-1
        XGROUP CREATE s gx 1-5
        XGROUP CREATE s ge 0 ENTRIESREAD 1
        XGROUP CREATE s gf 0 ENTRIESREAD -1 MKSTREAM
        XGROUP CREATE s gb 0 ENTRIESREAD -2
        XGROUP CREATE s gb 0 ENTRIESREAD x
        XGROUP CREATE s gb 0 ENTRIESREAD
        XGROUP CREATE s gb 0 FOO
        XGROUP CREATE s gb 0 MKSTREAM MKSTREAM MKSTREAM MKSTREAM
        XGROUP CREATE s gb -
        XGROUP CREATE s gb +
        XGROUP CREATE s gb 0-*
        XGROUP CREATE s gb 5
        XGROUP CREATE s "" 0
        XGROUP CREATE s B 0
        XGROUP CREATE s a 0
        XGROUP CREATE s aa 0
        XINFO GROUPS s
        XDEL s 1-1
        XINFO GROUPS s
        XADD s 3-1 a 1
        XINFO GROUPS s
        XTRIM s MAXLEN 1
        XINFO GROUPS s
        XGROUP SETID s g 0
        XGROUP SETID s g -
        XGROUP SETID s g +
        XGROUP SETID s g (1
        XGROUP SETID s g $ ENTRIESREAD 1
        XGROUP SETID s g 1-1 ENTRIESREAD 3
        XGROUP SETID s g 0 ENTRIESREAD
        XGROUP SETID s g 0 ENTRIESREAD -3
        XGROUP SETID s g 0 FOO 3
        XGROUP SETID s g 0 ENTRIESREAD 1 x
        XGROUP SETID s g x
        XGROUP SETID s nog 0
        XGROUP SETID nokey g 0
        XINFO GROUPS s
        SET str x
        XGROUP CREATE str g $
        XGROUP CREATE str g $ MKSTREAM
        XGROUP SETID str g $
    """)


def test_xgroup_consumers_destroy_and_help(d: Differ) -> None:
    d.many("""
        XGROUP CREATECONSUMER nokey g c
        XGROUP DELCONSUMER nokey g c
        XGROUP DESTROY nokey g
        XADD s 1-1 a 1
        XGROUP CREATE s g 0
        XGROUP CREATECONSUMER s g c
        XGROUP CREATECONSUMER s g c
        XGROUP CREATECONSUMER s g b
        XGROUP CREATECONSUMER s nog c
        XGROUP DELCONSUMER s nog c
        XREADGROUP GROUP g c STREAMS s >
        XGROUP DELCONSUMER s g c
        XGROUP DELCONSUMER s g c
        XGROUP DELCONSUMER s g nobody
        XPENDING s g
    """)
    masked(d, mask_consumers, "XINFO", "CONSUMERS", "s", "g")
    d.many("""
        XGROUP DESTROY s nog
        XGROUP DESTROY s g
        XGROUP DESTROY s g
        XINFO GROUPS s
        XGROUP HELP
        XGROUP HELP x
        XGROUP FOO
        XGROUP
        XGROUP CREATE
        XGROUP CREATE s
        XGROUP CREATE s g
        XGROUP DESTROY s
        XGROUP DESTROY s g x
        XGROUP CREATECONSUMER s g
        XGROUP SETID s g
        SET str x
        XGROUP DESTROY str g
        XGROUP CREATECONSUMER str g c
    """)


# ---------------------------------------------------------------------------
# XREADGROUP, XPENDING, XACK


def test_xreadgroup_delivers_new_entries_and_history(d: Differ) -> None:
    d.many("""
        XREADGROUP GROUP g c STREAMS s >
        XGROUP CREATE s g $ MKSTREAM
        XREADGROUP GROUP g c STREAMS s >
        XREADGROUP GROUP g c STREAMS s 0
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        XADD s 3-1 c 3
        XADD s 4-1 d 4
        XREADGROUP GROUP g c COUNT 2 STREAMS s >
        XPENDING s g
        XREADGROUP GROUP g c2 STREAMS s >
        XREADGROUP GROUP g c2 STREAMS s >
        XPENDING s g
        XINFO GROUPS s
        XREADGROUP GROUP g c STREAMS s 0
        XREADGROUP GROUP g c COUNT 1 STREAMS s 0
        XREADGROUP GROUP g c STREAMS s 1-1
        XREADGROUP GROUP g c2 STREAMS s 3
        XREADGROUP GROUP g c3 STREAMS s 0
        XDEL s 3-1
        XREADGROUP GROUP g c2 STREAMS s 0
        XREADGROUP GROUP g c2 STREAMS s 18446744073709551615-18446744073709551615
        XPENDING s g
        XADD s 5-1 e 5
        XREADGROUP GROUP g c NOACK STREAMS s >
        XPENDING s g
        XINFO GROUPS s
        XGROUP SETID s g 0
        XREADGROUP GROUP g c4 COUNT 1 STREAMS s >
        XINFO GROUPS s
        XREADGROUP GROUP g c4 STREAMS s >
        XINFO GROUPS s
        XPENDING s g
        XGROUP SETID s g 1-1 ENTRIESREAD 1
        XREADGROUP GROUP g c5 NOACK COUNT 1 STREAMS s >
        XINFO GROUPS s
    """)
    masked(d, mask_pending_rows, "XPENDING", "s", "g", "-", "+", "10")
    masked(d, mask_consumers, "XINFO", "CONSUMERS", "s", "g")


def test_entries_read_and_lag_follow_redis_around_deleted_entries(d: Differ) -> None:
    fill(d, "s", 6)
    d.many("""
        XGROUP CREATE s g 0
        XGROUP CREATE s late 3-1
        XGROUP CREATE s known 0 ENTRIESREAD 0
        XREADGROUP GROUP g c COUNT 2 STREAMS s >
        XINFO GROUPS s
        XDEL s 1-1
        XINFO GROUPS s
        XDEL s 4-1
        XINFO GROUPS s
        XREADGROUP GROUP g c COUNT 1 STREAMS s >
        XINFO GROUPS s
        XREADGROUP GROUP g c COUNT 1 STREAMS s >
        XINFO GROUPS s
        XREADGROUP GROUP late c STREAMS s >
        XREADGROUP GROUP known c COUNT 3 STREAMS s >
        XINFO GROUPS s
        XADD s 7-1 f v
        XTRIM s MAXLEN 2
        XINFO GROUPS s
        XSETID s 9-9 ENTRIESADDED 20 MAXDELETEDID 8-8
        XINFO GROUPS s
        XGROUP SETID s g 9-9
        XINFO GROUPS s
        XGROUP SETID s g 7-1 ENTRIESREAD 19
        XINFO GROUPS s
        XINFO STREAM s
    """)


def test_xreadgroup_over_several_streams_and_its_errors(d: Differ) -> None:
    d.many("""
        XADD a 1-1 x 1
        XADD b 1-1 y 1
        XGROUP CREATE a g 0
        XREADGROUP GROUP g c STREAMS a b > >
        XGROUP CREATE b g $
        XREADGROUP GROUP g c STREAMS a b > >
        XADD b 2-1 y 2
        XREADGROUP GROUP g c COUNT 1 STREAMS a b > >
        XREADGROUP GROUP g c STREAMS a b 0 0
        XREADGROUP GROUP g c STREAMS a b 0 >
        XREADGROUP GROUP g c STREAMS a nokey > >
        XREADGROUP GROUP g c STREAMS a a > >
        XREADGROUP GROUP nog c STREAMS a >
        XREADGROUP GROUP g c GROUP nog c STREAMS a >
        XREADGROUP GROUP g c STREAMS a $
        XREADGROUP GROUP g c STREAMS a -
        XREADGROUP GROUP g c STREAMS a 0-*
        XREADGROUP GROUP g c STREAMS a (0
        XREADGROUP GROUP g c STREAMS a > x
        XREADGROUP GROUP g c STREAMS a
        XREADGROUP GROUP g STREAMS a >
        XREADGROUP STREAMS a > x y
        XREADGROUP COUNT 1 NOACK STREAMS a >
        XREADGROUP GROUP g c COUNT x STREAMS a >
        XREADGROUP GROUP g c BLOCK -1 STREAMS a >
        XREADGROUP GROUP g c BLOCK x STREAMS a >
        XREADGROUP GROUP g c FOO STREAMS a >
        SET str x
        XREADGROUP GROUP g c STREAMS str >
        XREADGROUP GROUP g c STREAMS a str > >
        XPENDING a g
        XPENDING b g
    """)


def test_xpending_summary_and_ranges(d: Differ) -> None:
    d.many("""
        XPENDING nokey g
        XPENDING nokey g - + 10
        XPENDING nokey g - + x
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        XADD s 3-1 c 3
        XADD s 4-1 d 4
        XGROUP CREATE s g 0
        XPENDING s g
        XPENDING s g - + 10
        XPENDING s nog
        XREADGROUP GROUP g c COUNT 3 STREAMS s >
        XREADGROUP GROUP g b STREAMS s >
        XPENDING s g
        XPENDING s g - + 0
        XPENDING s g - + -1
        XPENDING s g - + 10 nobody
        XPENDING s g IDLE 100000 - + 10
        XPENDING s g -
        XPENDING s g - +
        XPENDING s g - + x
        XPENDING s g x + 1
        XPENDING s g - x 1
        XPENDING s g (18446744073709551615-18446744073709551615 + 10
        XPENDING s g - (0-0 10
        XPENDING s g IDLE x - + 10
        XPENDING s g IDLE 0 - +
        XPENDING s g IDLE 0 - + 10 c extra
        XPENDING s g IDLE 0 - + 10 c extra more
        SET str x
        XPENDING str g
    """)
    for args in (["-", "+", "10"], ["-", "+", "2"], ["(1-1", "+", "10"], ["-", "(3-1", "10"], ["2", "3", "10"],
                 ["-", "+", "10", "c"], ["-", "+", "1", "b"], ["IDLE", "0", "-", "+", "10"],
                 ["IDLE", "-5", "-", "+", "10", "c"], ["-", "+", "10", "c", "ignored", "too"]):
        masked(d, mask_pending_rows, "XPENDING", "s", "g", *args)


def test_xack(d: Differ) -> None:
    d.many("""
        XACK nokey g 1-1
        XACK nokey g x
        XADD s 1-1 a 1
        XADD s 2-1 a 1
        XACK s g 1-1
        XGROUP CREATE s g 0
        XACK s g x
        XREADGROUP GROUP g c STREAMS s >
        XACK s g 1-1 9-9 1-1
        XACK s g 1-1
        XACK s g 2-1 x
        XACK s g -
        XACK s g 2-*
        XPENDING s g
        XACK s g 2-1
        XPENDING s g
        SET str x
        XACK str g 1-1
    """)
    masked(d, mask_consumers, "XINFO", "CONSUMERS", "s", "g")


# ---------------------------------------------------------------------------
# XCLAIM / XAUTOCLAIM


def test_xclaim_moves_entries_and_its_options(d: Differ) -> None:
    d.many("""
        XCLAIM nokey g c 0 1-1
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        XADD s 3-1 c 3
        XADD s 4-1 d 4
        XGROUP CREATE s g 0
        XCLAIM s nog c 0 1-1
        XREADGROUP GROUP g c STREAMS s >
        XCLAIM s g c2 0 1-1
        XCLAIM s g c2 0 1-1 JUSTID
        XCLAIM s g c2 0 1-1 RETRYCOUNT 7 JUSTID
        XCLAIM s g c2 0 1-1 2-1 9-9 JUSTID RETRYCOUNT 3
        XCLAIM s g c3 100000 1-1 3-1
        XCLAIM s g c3 0 5-5 FORCE
        XCLAIM s g c3 0 4-1 FORCE JUSTID LASTID 9-9
        XINFO GROUPS s
        XCLAIM s g c3 0 4-1 LASTID 1-1
        XCLAIM s g c3 0 4-1 FOO
        XCLAIM s g c3 0 4-1 IDLE
        XCLAIM s g c3 0 4-1 IDLE x
        XCLAIM s g c3 0 4-1 TIME x
        XCLAIM s g c3 0 4-1 RETRYCOUNT x
        XCLAIM s g c3 0 4-1 LASTID x
        XCLAIM s g c3 0 4-1 LASTID -
        XCLAIM s g c3 0 4-1 SEENTIME 5
        XCLAIM s g c3 0 -
        XCLAIM s g c3 0 4-*
        XCLAIM s g c3 x 4-1
        XCLAIM s g c3 -5 4-1 JUSTID
        XACK s g 4-1
        XCLAIM s g c4 0 4-1 FORCE JUSTID
        XACK s g 4-1
        XCLAIM s g c4 0 4-1 FORCE
        XACK s g 4-1
        XCLAIM s g c4 0 4-1 FORCE RETRYCOUNT 0 JUSTID
        XPENDING s g
        XDEL s 2-1
        XCLAIM s g c5 0 2-1 3-1 JUSTID
        XPENDING s g
        XGROUP SETID s g 0
        XCLAIM s g c6 0 7-7 LASTID 3-1
        XINFO GROUPS s
        SET str x
        XCLAIM str g c 0 1-1
    """)
    for args in (["-", "+", "10"], ["-", "+", "10", "c2"]):
        masked(d, mask_pending_rows, "XPENDING", "s", "g", *args)
    masked(d, mask_consumers, "XINFO", "CONSUMERS", "s", "g")


def test_xclaim_delivery_times_from_idle_and_time(d: Differ) -> None:
    d.many("""
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        XGROUP CREATE s g 0
        XREADGROUP GROUP g c STREAMS s >
        XCLAIM s g c2 0 1-1 IDLE 3600000 JUSTID
        XCLAIM s g c2 0 2-1 TIME 1 RETRYCOUNT 9
    """)

    def mask_long_idle(reply: Any) -> Any:
        for row in reply:
            assert row[2] >= 3_500_000, row
        return [[r[0], r[1], "<long idle>", r[3]] for r in reply]

    rows = masked(d, mask_long_idle, "XPENDING", "s", "g", "IDLE", "3500000", "-", "+", "10")
    assert [r[0] for r in rows] == [b"1-1", b"2-1"]
    d.many("""
        XCLAIM s g c3 3500000 1-1 2-1 JUSTID
        XCLAIM s g c3 3500000 1-1 2-1 JUSTID
    """)
    for client in (d.ref, d.eng):
        client.call("XCLAIM", "s", "g", "c4", "0", "1-1", "TIME", str(now_ms() + 10**9), "JUSTID")
    masked(d, mask_pending_rows, "XPENDING", "s", "g", "-", "+", "10")  # a future TIME means now


def test_xautoclaim_scans_the_pel_with_a_cursor(d: Differ) -> None:
    d.many("""
        XAUTOCLAIM nokey g c 0 0
        XAUTOCLAIM nokey g c 0 x
        XAUTOCLAIM nokey g c x 0
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        XADD s 3-1 c 3
        XADD s 4-1 d 4
        XADD s 5-1 e 5
        XADD s 6-1 f 6
        XGROUP CREATE s g 0
        XAUTOCLAIM s nog c 0 0
        XAUTOCLAIM s g c 0 0
        XREADGROUP GROUP g c STREAMS s >
        XDEL s 2-1 5-1
        XAUTOCLAIM s g c2 0 0 COUNT 1
        XAUTOCLAIM s g c2 0 0 COUNT 2
        XAUTOCLAIM s g c3 0 0 COUNT 2 JUSTID
        XAUTOCLAIM s g c3 0 (1-1 COUNT 2 JUSTID
        XAUTOCLAIM s g c3 0 (18446744073709551615-18446744073709551615
        XAUTOCLAIM s g c3 0 - JUSTID
        XAUTOCLAIM s g c3 0 + JUSTID
        XAUTOCLAIM s g c3 0 4 JUSTID
        XAUTOCLAIM s g c4 100000 0
        XAUTOCLAIM s g c4 0 0 COUNT 0
        XAUTOCLAIM s g c4 0 0 COUNT x
        XAUTOCLAIM s g c4 0 0 COUNT -1
        XAUTOCLAIM s g c4 0 0 COUNT 9223372036854775807
        XAUTOCLAIM s g c4 0 0 COUNT 576460752303423488
        XAUTOCLAIM s g c4 0 0 COUNT
        XAUTOCLAIM s g c4 x 0
        XAUTOCLAIM s g c4 -1 0 JUSTID
        XAUTOCLAIM s g c4 0 x
        XAUTOCLAIM s g c4 0 0 JUSTID FOO
        XPENDING s g
        SET str x
        XAUTOCLAIM str g c 0 0
    """)
    masked(d, mask_pending_rows, "XPENDING", "s", "g", "-", "+", "10")


def test_xautoclaim_attempts_are_bounded_by_count(d: Differ) -> None:
    fill(d, "s", 40)
    d.many("""
        XGROUP CREATE s g 0
        XREADGROUP GROUP g old STREAMS s >
    """)
    for i in range(1, 41, 2):
        both(d, "XCLAIM", "s", "g", "fresh", "0", f"{i}-1", "JUSTID")  # idle 0 again
    d.many("""
        XAUTOCLAIM s g c 3600000 0 COUNT 1 JUSTID
        XAUTOCLAIM s g c 0 0 COUNT 1 JUSTID
        XAUTOCLAIM s g c 0 0 COUNT 3 JUSTID
        XPENDING s g
    """)


# ---------------------------------------------------------------------------
# XINFO


def test_xinfo_stream_groups_and_full(d: Differ) -> None:
    d.many("""
        XINFO STREAM nokey
        XINFO GROUPS nokey
        XINFO CONSUMERS nokey g
        XGROUP CREATE e g $ MKSTREAM
        XINFO STREAM e
        XINFO STREAM e FULL
        XINFO GROUPS e
        XADD s 1-1 a 1 b 2
        XADD s 2-1 c 3
        XADD s 3-1 d 4
        XINFO STREAM s
        XINFO STREAM s FULL
        XINFO STREAM s FULL COUNT 1
        XINFO STREAM s FULL COUNT 0
        XINFO STREAM s FULL COUNT -1
        XINFO STREAM s FULL COUNT
        XINFO STREAM s FULL COUNT x
        XINFO STREAM s FULL COUNT 1 x
        XINFO STREAM s FULL FOO 1
        XINFO STREAM s FOO
        XINFO STREAM s FOO COUNT 1
        XINFO CONSUMERS s nog
        XINFO CONSUMERS s
        XINFO GROUPS s x
        XINFO HELP
        XINFO HELP x
        XINFO FOO
        XINFO
        SET str x
        XINFO STREAM str
        XINFO GROUPS str
        XINFO CONSUMERS str g
    """)
    d.many("""
        XGROUP CREATE s g1 0
        XGROUP CREATE s g2 $
        XREADGROUP GROUP g1 alice COUNT 2 STREAMS s >
        XREADGROUP GROUP g1 bob STREAMS s >
        XGROUP CREATECONSUMER s g2 carol
        XDEL s 2-1
    """)
    for extra in ([], ["COUNT", "1"], ["COUNT", "0"]):
        masked(d, mask_full, "XINFO", "STREAM", "s", "FULL", *extra)
    fill(d, "many", 15)  # FULL shows 10 entries and pending entries unless COUNT says otherwise
    d.many("""
        XGROUP CREATE many g 0
        XREADGROUP GROUP g c1 COUNT 12 STREAMS many >
        XREADGROUP GROUP g c2 STREAMS many >
    """)
    for extra in ([], ["COUNT", "11"], ["COUNT", "0"], ["COUNT", "-3"]):
        info = masked(d, mask_full, "XINFO", "STREAM", "many", "FULL", *extra)
        shown = {(): 10, ("COUNT", "11"): 11, ("COUNT", "0"): 15, ("COUNT", "-3"): 10}[tuple(extra)]
        assert len(info[b"entries"]) == shown and len(info[b"groups"][0][b"pending"]) == shown
    masked(d, mask_consumers, "XINFO", "CONSUMERS", "s", "g1")
    d.many("""
        XINFO STREAM s
        XINFO GROUPS s
    """)


# ---------------------------------------------------------------------------
# XREAD (not blocking)


def test_xread_from_ids_and_dollar(d: Differ) -> None:
    d.many("""
        XREAD STREAMS s 0
        XREAD STREAMS s $
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        XADD t 1-1 x 1
        XREAD STREAMS s 0
        XREAD STREAMS s 1-1
        XREAD STREAMS s 1
        XREAD STREAMS s 2-1
        XREAD STREAMS s $
        XREAD STREAMS s 18446744073709551615-18446744073709551615
        XREAD COUNT 1 STREAMS s t 0 0
        XREAD COUNT 0 STREAMS s 0
        XREAD COUNT -1 STREAMS s 0
        XREAD COUNT 1 COUNT 2 STREAMS s 0
        XREAD STREAMS nokey s 0 0
        XREAD STREAMS s nokey 0 0
        XREAD STREAMS s s 0 1-1
        XREAD STREAMS s t 1-1 0
        XREAD STREAMS t s 0 $
        XREAD BLOCK 0 STREAMS s 0
        XREAD STREAMS s 0 COUNT 1
        XREAD STREAMS STREAMS s 0
        XDEL s 2-1
        XREAD STREAMS s 1-1
        XSETID s 5-5
        XREAD STREAMS s 1-1
    """)


def test_xread_errors(d: Differ) -> None:
    d.many("""
        XREAD STREAMS s
        XREAD STREAMS s 0 t
        XREAD COUNT 1
        XREAD COUNT x STREAMS s 0
        XREAD GROUP g c STREAMS s 0
        XREAD NOACK STREAMS s 0
        XREAD STREAMS s >
        XREAD FOO STREAMS s 0
        XREAD BLOCK -1 STREAMS s 0
        XREAD BLOCK x STREAMS s 0
        XREAD BLOCK 10 BLOCK -1 STREAMS s 0
        XREAD STREAMS s -
        XREAD STREAMS s +
        XREAD STREAMS s 0-*
        XREAD STREAMS s (0
        SET str x
        XREAD STREAMS str 0
        XREAD STREAMS s str 0 0
        XREAD STREAMS str s 0 0
        XREAD STREAMS str $
    """)


def test_blocking_reads_inside_multi_answer_at_once(d: Differ) -> None:
    d.many("""
        XADD s 1-1 a 1
        XGROUP CREATE s g $
        MULTI
        XREAD BLOCK 0 STREAMS s $
        XREADGROUP GROUP g c BLOCK 0 STREAMS s >
        XREAD BLOCK 100000 STREAMS s 0
        XREADGROUP GROUP g c BLOCK 100000 STREAMS s 0
        EXEC
    """)


# ---------------------------------------------------------------------------
# BLOCK


class Pair:
    """A second connection to each server, for the client that blocks."""

    def __init__(self, redis_proc: Proc, engine_proc: Proc, proto: int) -> None:
        self.ref = RawClient(redis_proc.port)
        self.eng = RawClient(engine_proc.port)
        if proto == 3:
            self.ref.call("HELLO", "3")
            self.eng.call("HELLO", "3")

    def send(self, line: str) -> None:
        for c in (self.ref, self.eng):
            c.send(_encode(shlex.split(line)))

    def replies(self, wait: float) -> tuple[bytes | None, bytes | None]:
        return _poll(self.ref, wait), _poll(self.eng, wait)

    def close(self) -> None:
        self.ref.close()
        self.eng.close()


def _encode(args: list[str]) -> bytes:
    from sandbox.engine.resp import encode_command

    return encode_command(args)


def _poll(client: RawClient, wait: float) -> bytes | None:
    """The next reply if one arrives within ``wait`` seconds, else None."""
    client.sock.settimeout(wait)
    try:
        return client.read_frame()
    except (socket.timeout, TimeoutError):
        return None
    finally:
        client.sock.settimeout(5.0)


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def blocked(request: pytest.FixtureRequest, diff: Differ, redis_proc: Proc, engine_proc: Proc):
    if request.param == 3:
        diff.resp3()
    pair = Pair(redis_proc, engine_proc, request.param)
    try:
        yield diff, pair
    finally:
        pair.close()


def expect_blocked(pair: Pair) -> None:
    ref, eng = pair.replies(0.15)
    assert ref is None and eng is None, (ref, eng)


def expect_same(pair: Pair, wait: float = 2.0) -> bytes:
    ref, eng = pair.replies(wait)
    assert ref is not None and ref == eng, (ref, eng)
    return ref


def test_xread_block_is_woken_by_xadd(blocked: tuple[Differ, Pair]) -> None:
    d, pair = blocked
    pair.send("XREAD BLOCK 0 STREAMS s $")
    expect_blocked(pair)
    d("XADD", "other", "1-1", "a", "1")
    expect_blocked(pair)
    d("XADD", "s", "1-1", "a", "1")
    expect_same(pair)
    # $ is the last ID when the client blocked; entries before it don't wake it
    pair.send("XREAD BLOCK 0 STREAMS s s $ $")
    expect_blocked(pair)
    d.many("""
        DEL s
        XADD s 0-5 a 1
        SET s x
        DEL s
    """)
    expect_blocked(pair)
    d("XADD", "s", "2-1", "b", "2")
    expect_same(pair)


def test_xread_block_times_out_with_the_null_array(blocked: tuple[Differ, Pair]) -> None:
    d, pair = blocked
    started = time.monotonic()
    pair.send("XREAD BLOCK 150 STREAMS s $")
    assert expect_same(pair) in (b"*-1\r\n", b"_\r\n")
    assert time.monotonic() - started >= 0.14


def test_xread_block_count_and_several_keys(blocked: tuple[Differ, Pair]) -> None:
    d, pair = blocked
    d("XADD", "a", "1-1", "x", "1")
    pair.send("XREAD COUNT 1 BLOCK 0 STREAMS a b $ $")
    expect_blocked(pair)
    d.many("""
        MULTI
        XADD b 2-1 y 2
        XADD b 3-1 y 3
        EXEC
    """)
    expect_same(pair)
    d("XADD", "t", "1-1", "x", "1")
    pair.send("XREAD BLOCK 0 STREAMS s 0")
    expect_blocked(pair)
    d("RENAME", "t", "s")
    expect_same(pair)
    d("DEL", "s")
    for i in range(1, 1201):
        both(d, "XADD", "src", f"{i}-1", "f", "v")
    pair.send("XREAD BLOCK 0 STREAMS s 0")  # no COUNT: a woken client gets 1000 at most
    expect_blocked(pair)
    d("RENAME", "src", "s")
    reply = expect_same(pair)
    assert len(parse(reply)[0][1] if isinstance(parse(reply), list) else parse(reply)[b"s"]) == 1000


def test_xreadgroup_block_delivers_and_records_the_pel(blocked: tuple[Differ, Pair]) -> None:
    d, pair = blocked
    d("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    pair.send("XREADGROUP GROUP g c COUNT 1 BLOCK 0 STREAMS s >")
    expect_blocked(pair)
    d("XGROUP", "SETID", "s", "g", "0")  # no new entry: still blocked
    expect_blocked(pair)
    d.many("""
        MULTI
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        EXEC
    """)
    expect_same(pair)
    d("XPENDING", "s", "g")
    d("XINFO", "GROUPS", "s")
    pair.send("XREADGROUP GROUP g c2 NOACK BLOCK 0 STREAMS s >")
    expect_same(pair)  # 2-1 is still undelivered: served at once
    pair.send("XREADGROUP GROUP g c2 NOACK BLOCK 0 STREAMS s >")
    expect_blocked(pair)
    d("XADD", "s", "3-1", "c", "3")
    expect_same(pair)
    d("XPENDING", "s", "g")
    masked(d, mask_consumers, "XINFO", "CONSUMERS", "s", "g")


def test_xreadgroup_block_ends_when_its_group_or_key_goes(blocked: tuple[Differ, Pair]) -> None:
    d, pair = blocked
    d("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    pair.send("XREADGROUP GROUP g c BLOCK 0 STREAMS s >")
    expect_blocked(pair)
    d("XGROUP", "DESTROY", "s", "g")
    expect_same(pair)
    d("XGROUP", "CREATE", "s", "g", "$")
    pair.send("XREADGROUP GROUP g c BLOCK 0 STREAMS s >")
    expect_blocked(pair)
    d("DEL", "s")
    expect_same(pair)
    d("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    pair.send("XREADGROUP GROUP g c BLOCK 0 STREAMS s >")
    expect_blocked(pair)
    d("SET", "s", "x", "XX")
    expect_same(pair)


BLOCKED_SCENARIOS = {
    # what wakes a blocked read, and what it gets then: (setup, blocked command, [(command, woken?)])
    "xgroup setid does not wake, the next xadd serves from the group's new position": (
        ["XGROUP CREATE s g $ MKSTREAM", "XADD s 1-1 a 1", "XGROUP SETID s g 1-1"],
        "XREADGROUP GROUP g c COUNT 5 BLOCK 0 STREAMS s >",
        [("XGROUP SETID s g 0", False), ("XADD s 2-1 b 2", True), ("XPENDING s g", False)]),
    "xsetid does not wake": (
        ["XADD s 1-1 a 1"], "XREAD BLOCK 0 STREAMS s $", [("XSETID s 5-5", False), ("XADD s 6-1 b 1", True)]),
    "an entry added and deleted in one transaction serves an empty list": (
        ["XADD s 1-1 a 1"], "XREAD BLOCK 0 STREAMS s $",
        [("MULTI", False), ("XADD s 2-1 a 1", False), ("XDEL s 2-1", False), ("EXEC", True)]),
    "an entry added then its key deleted in one transaction": (
        ["XADD s 1-1 a 1"], "XREAD BLOCK 0 STREAMS s $",
        [("MULTI", False), ("XADD s 2-1 a 1", False), ("DEL s", False), ("EXEC", False), ("XADD s 3-1 b 1", True)]),
    "xreadgroup on a deleted entry of a group set back": (
        ["XGROUP CREATE s g $ MKSTREAM"], "XREADGROUP GROUP g c BLOCK 0 STREAMS s >",
        [("MULTI", False), ("XADD s 1-1 a 1", False), ("XDEL s 1-1", False), ("EXEC", True), ("XPENDING s g", False)]),
    "flushall ends a group read": (
        ["XGROUP CREATE s g $ MKSTREAM"], "XREADGROUP GROUP g c BLOCK 0 STREAMS s >", [("FLUSHALL", True)]),
    "flushall leaves a plain read blocked": (
        ["XADD s 1-1 a 1"], "XREAD BLOCK 0 STREAMS s $", [("FLUSHALL", False), ("XADD s 2-1 a 1", True)]),
    "another group's destruction serves a group that is behind": (
        ["XGROUP CREATE s g $ MKSTREAM", "XGROUP CREATE s other $", "XADD s 1-1 a 1", "XGROUP SETID s g 1-1"],
        "XREADGROUP GROUP g c BLOCK 0 STREAMS s >",
        [("XGROUP SETID s g 0", False), ("XGROUP DESTROY s other", True)]),
    "a stream moved in from another database": (
        ["SELECT 1", "XADD s 1-1 a 1", "SELECT 0"], "XREAD BLOCK 0 STREAMS s 0",
        [("SELECT 1", False), ("MOVE s 0", True), ("SELECT 0", False)]),
    "swapdb": (["SELECT 1", "XADD s 1-1 a 1", "SELECT 0"], "XREAD BLOCK 0 STREAMS s 0", [("SWAPDB 0 1", True)]),
    "copy over the key": (
        ["XADD s 1-1 a 1", "XADD t 1-1 a 1", "XADD t 2-1 b 2"], "XREAD BLOCK 0 STREAMS s $",
        [("COPY t s REPLACE", True)]),
}


@pytest.mark.parametrize("name", list(BLOCKED_SCENARIOS))
def test_what_wakes_a_blocked_read(blocked: tuple[Differ, Pair], name: str) -> None:
    d, pair = blocked
    setup, blocking, steps = BLOCKED_SCENARIOS[name]
    d.many("\n".join(setup))
    d("SELECT", "0")
    pair.send(blocking)
    expect_blocked(pair)
    for line, wakes in steps:
        d(*shlex.split(line))
        if wakes:
            expect_same(pair)
        else:
            expect_blocked(pair)


def test_client_unblock_answers_a_blocked_read(blocked: tuple[Differ, Pair]) -> None:
    d, pair = blocked
    for reason in ("TIMEOUT", "ERROR"):
        ids = parse(pair.ref.call("CLIENT", "ID")), parse(pair.eng.call("CLIENT", "ID"))
        pair.send("XREAD BLOCK 0 STREAMS s $")
        expect_blocked(pair)
        got = [parse(c.call("CLIENT", "UNBLOCK", str(i), reason)) for c, i in zip((d.ref, d.eng), ids)]
        assert got == [1, 1]
        expect_same(pair)
        got = [parse(c.call("CLIENT", "UNBLOCK", str(i), reason)) for c, i in zip((d.ref, d.eng), ids)]
        assert got == [0, 0]


def test_a_blocked_client_that_disconnects_is_forgotten(engine_proc: Proc) -> None:
    with RawClient(engine_proc.port) as writer:
        writer.call("FLUSHALL")
        gone = RawClient(engine_proc.port)
        gone.send(_encode(["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]))
        writer.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        gone.send(_encode(["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]))
        time.sleep(0.1)
        gone.close()
        time.sleep(1.3)  # the sweep runs every second
        writer.call("XADD", "s", "1-1", "a", "1")
        time.sleep(0.05)
        assert parse(writer.call("XPENDING", "s", "g"))[0] == 0  # nobody took the entry
        with RawClient(engine_proc.port) as reader:
            reader.send(_encode(["XREADGROUP", "GROUP", "g", "c2", "BLOCK", "2000", "STREAMS", "s", ">"]))
            assert parse(reader.read_frame())[0][1][0][0] == b"1-1"


# ---------------------------------------------------------------------------
# Streams as keys


def test_watch_sees_what_redis_shows_it(d: Differ) -> None:
    """WATCH on a stream key: added, deleted or trimmed entries and a key created by
    XGROUP CREATE MKSTREAM abort the transaction; consumer-group bookkeeping and
    XSETID don't (Redis 7.0 doesn't signal them)."""
    steps = [
        "XADD s 1-1 a 1", "XADD s 2-1 a 1", "XGROUP CREATE s g 0", "XGROUP CREATE s g2 0",
        "XREADGROUP GROUP g c STREAMS s >", "XACK s g 1-1", "XCLAIM s g c2 0 2-1", "XAUTOCLAIM s g c3 0 0",
        "XGROUP CREATECONSUMER s g c9", "XGROUP DELCONSUMER s g c9", "XGROUP SETID s g 0",
        "XREADGROUP GROUP g c NOACK STREAMS s >", "XREADGROUP GROUP g c STREAMS s 0", "XGROUP DESTROY s g2",
        "XSETID s 9-9", "XDEL s 1-1", "XTRIM s MAXLEN 0", "XGROUP CREATE new g $ MKSTREAM",
    ]
    others = [RawClient(client.sock.getpeername()[1]) for client in (d.ref, d.eng)]
    try:
        for step in steps:
            args = shlex.split(step)
            key = args[2] if args[0] == "XGROUP" else args[1]
            d("WATCH", key)
            replies = [other.call(*args) for other in others]
            assert replies[0] == replies[1], (step, replies)
            d("MULTI")
            d("PING")
            d("EXEC")
    finally:
        for other in others:
            other.close()


def test_streams_are_keys_like_any_other(d: Differ) -> None:
    d.many("""
        XADD s 1-1 a 1
        XGROUP CREATE s g 0
        XREADGROUP GROUP g c STREAMS s >
        TYPE s
        OBJECT ENCODING s
        EXISTS s
        XGROUP CREATE e g $ MKSTREAM
        TYPE e
        OBJECT ENCODING e
        EXISTS e
        SORT s
        LPUSH s x
        GET s
        HSET s a 1
        RENAME s s2
        TYPE s2
        XLEN s2
        XPENDING s2 g
        EXPIRE s2 100
        TTL s2
        PERSIST s2
        UNLINK s2
        DEL e
        EXISTS s s2 e
    """)
    d.many("""
        XADD a 1-1 x 1
        SET b y
        XGROUP CREATE z g $ MKSTREAM
    """)
    for client in (d.ref, d.eng):
        keys = parse(client.call("SCAN", "0", "TYPE", "stream", "COUNT", "100"))
        assert sorted(keys[1]) == [b"a", b"z"]
        assert parse(client.call("SCAN", "0", "TYPE", "STREAM", "MATCH", "z*"))[1] == [b"z"]


def test_copy_is_deep(d: Differ) -> None:
    d.many("""
        XADD s 1-1 a 1
        XADD s 2-1 b 2
        XGROUP CREATE s g 0
        XREADGROUP GROUP g c COUNT 1 STREAMS s >
        COPY s t
        XADD t 3-1 c 3
        XDEL t 1-1
        XACK t g 1-1
        XREADGROUP GROUP g c2 STREAMS t >
        XGROUP CREATE t g2 0
        XRANGE s - +
        XPENDING s g
        XINFO GROUPS s
        XINFO STREAM s
        XRANGE t - +
        XPENDING t g
        XINFO GROUPS t
        XINFO STREAM t
        COPY s t
        COPY s t REPLACE
        XINFO STREAM t
        COPY s t2 DB 1
        SELECT 1
        XINFO STREAM t2
        XPENDING t2 g
        SELECT 0
    """)
    masked(d, mask_full, "XINFO", "STREAM", "t", "FULL")


def test_stream_commands_report_keys_like_redis(diff: Differ) -> None:
    diff.many("""
        COMMAND GETKEYS XREAD STREAMS a b 0 0
        COMMAND GETKEYS XREAD COUNT 1 BLOCK 0 STREAMS a 0
        COMMAND GETKEYS XREADGROUP GROUP g c NOACK STREAMS a b > >
        COMMAND GETKEYS XREAD STREAMS a b 0
        COMMAND GETKEYS XREAD FOO STREAMS a 0
        COMMAND GETKEYS XREAD STREAMS STREAMS a 0
        COMMAND GETKEYS XREADGROUP GROUP STREAMS c STREAMS a 0
        COMMAND GETKEYS XREAD a b c STREAMS
        COMMAND GETKEYS XADD s * a 1
        COMMAND GETKEYS XGROUP CREATE s g $
        COMMAND GETKEYS XINFO STREAM s
        COMMAND GETKEYSANDFLAGS XREADGROUP GROUP g c STREAMS a >
        COMMAND GETKEYSANDFLAGS XREAD STREAMS a 0
        COMMAND GETKEYSANDFLAGS XADD s * a 1
        COMMAND GETKEYSANDFLAGS XGROUP CREATE s g 0
        COMMAND INFO XREAD XREADGROUP XADD XLEN XRANGE XSETID XTRIM XDEL XACK XCLAIM XAUTOCLAIM XPENDING
        COMMAND INFO XINFO|STREAM XGROUP|CREATE XGROUP|SETID XGROUP|HELP XINFO|HELP
    """)


def test_a_blocked_reader_is_counted_and_flagged_as_redis_does(blocked: tuple[Differ, Pair]) -> None:
    d, pair = blocked

    def blocked_clients(client: RawClient) -> str:
        info = parse(client.call("INFO", "clients")).decode()
        return next(line for line in info.splitlines() if line.startswith("blocked_clients:"))

    def flags(client: RawClient, cid: int) -> str:
        line = parse(client.call("CLIENT", "LIST", "ID", str(cid))).decode()
        return next(part for part in line.split() if part.startswith("flags="))

    ids = parse(pair.ref.call("CLIENT", "ID")), parse(pair.eng.call("CLIENT", "ID"))
    assert [blocked_clients(c) for c in (d.ref, d.eng)] == ["blocked_clients:0"] * 2
    pair.send("XREAD BLOCK 0 STREAMS s $")
    expect_blocked(pair)
    assert [blocked_clients(c) for c in (d.ref, d.eng)] == ["blocked_clients:1"] * 2
    assert [flags(c, i) for c, i in zip((d.ref, d.eng), ids)] == ["flags=b"] * 2
    d("XADD", "s", "1-1", "a", "1")
    expect_same(pair)
    assert [blocked_clients(c) for c in (d.ref, d.eng)] == ["blocked_clients:0"] * 2
    assert [flags(c, i) for c, i in zip((d.ref, d.eng), ids)] == ["flags=N"] * 2

"""Hash commands against a real redis-server, in RESP2 and RESP3.

Small hashes (what Redis keeps as a listpack) must come back in Redis's exact
order; big ones are hashtables in Redis, so their replies are compared as
multisets of fields/pairs. HRANDFIELD is random: its errors and its deterministic
cases (count >= size) are differential, the rest are properties of the engine.
"""

from __future__ import annotations

import time

import hiredis
import pytest

from .conftest import Differ


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request: pytest.FixtureRequest, diff: Differ) -> Differ:
    if request.param == 3:
        diff.resp3()
    return diff


def parse(frame: bytes) -> object:
    reader = hiredis.Reader()
    reader.feed(frame)
    return reader.gets()


def same_pairs(d: Differ, *args: str) -> None:
    """Same reply up to order: a flat field/value array or a map compared as pairs."""
    ref, eng = d.ref.call(*args), d.eng.call(*args)
    assert ref.split(b"\r\n", 1)[0] == eng.split(b"\r\n", 1)[0], (args, ref[:40], eng[:40])
    r, e = parse(ref), parse(eng)
    if isinstance(r, dict):
        assert r == e
    else:
        assert sorted(zip(r[::2], r[1::2])) == sorted(zip(e[::2], e[1::2]))


def same_elements(d: Differ, *args: str) -> None:
    ref, eng = d.ref.call(*args), d.eng.call(*args)
    assert ref.split(b"\r\n", 1)[0] == eng.split(b"\r\n", 1)[0], (args, ref[:40], eng[:40])
    assert sorted(parse(ref)) == sorted(parse(eng))


def both(d: Differ, *args: str | bytes) -> None:
    """Run a setup command on both servers without comparing (e.g. a big HSET)."""
    d.ref.call(*args)
    d.eng.call(*args)


def test_it_sets_and_reads_fields_in_listpack_order(d: Differ) -> None:
    d.many("""
        HSET h a 1 b 2 c 3
        HSET h b 20 d 4
        HGETALL h
        HKEYS h
        HVALS h
        HDEL h a
        HSET h a 10
        HGETALL h
        HMSET h e 5 b 200
        HGETALL h
        HSETNX h e 50
        HSETNX h f 6
        HGETALL h
        HGET h b
        HGET h nofield
        HGET nokey f
        HMGET h a nofield b a
        HMGET nokey a b
        HLEN h
        HLEN nokey
        HEXISTS h a
        HEXISTS h nofield
        HEXISTS nokey a
        HSTRLEN h b
        HSTRLEN h nofield
        HSTRLEN nokey a
        HGETALL nokey
        HKEYS nokey
        HVALS nokey
        HSET h "" ""
        HGET h ""
        HSTRLEN h ""
    """)


def test_it_deletes_fields_and_the_key_with_the_last_one(d: Differ) -> None:
    d.many("""
        HSET h a 1 b 2 c 3
        HDEL h a a nofield
        HDEL h nofield
        HDEL nokey a
        HDEL h b c a
        EXISTS h
        HSET h x 1
        HDEL h x x
        TYPE h
    """)


def test_it_refuses_bad_arity_and_wrong_types(d: Differ) -> None:
    d.many("""
        SET str x
        RPUSH list a
        HSET h a 1 b
        HSET str a 1 b
        HMSET h a
        HMSET h a 1 b
        HSET h a
        HSET str a 1
        HMSET str a 1
        HSETNX str a 1
        HGET str a
        HMGET str a
        HGETALL list
        HKEYS list
        HVALS list
        HDEL str a
        HLEN str
        HEXISTS str a
        HSTRLEN str a
        HINCRBY str a 1
        HINCRBYFLOAT str a 1
        HRANDFIELD str
        HRANDFIELD str 1
        HSCAN str 0
        HGET h
        HGETALL
        HDEL h
        HINCRBY h a
        HSETNX h a
    """)


def test_it_increments_integers_with_redis_errors(d: Differ) -> None:
    d.many("""
        HINCRBY h n 5
        HINCRBY h n -7
        HINCRBY h n 0
        HINCRBY h big 9223372036854775807
        HINCRBY h big 1
        HINCRBY h big -1
        HINCRBY h small -9223372036854775808
        HINCRBY h small -1
        HINCRBY h small 9223372036854775807
        HINCRBY h n 1.5
        HINCRBY h n abc
        HINCRBY h n " 1"
        HINCRBY h n +1
        HINCRBY h n 9223372036854775808
        HSET h f 1.0 g "" z 007 s " 1" m -0
        HINCRBY h f 1
        HINCRBY h g 1
        HINCRBY h z 1
        HINCRBY h s 1
        HINCRBY h m 1
        HINCRBY nokey n abc
        HGETALL h
    """)


def test_it_increments_floats_like_a_long_double(d: Differ) -> None:
    d.many("""
        HSET h f 10.5
        HINCRBYFLOAT h f 0.1
        HINCRBYFLOAT h f -5
        HINCRBYFLOAT h f 1e400
        HINCRBYFLOAT h g 1.5e-400
        HINCRBYFLOAT h g 3.0000000000000000001
        HINCRBYFLOAT h x 1.23456789012345678901234
        HINCRBYFLOAT h x 5.0e3
        HINCRBYFLOAT h t 1e-4950
        HINCRBYFLOAT h t 1e-4952
        HINCRBYFLOAT h t 0e999999999999
        HINCRBYFLOAT h t -0.0000000000000000001
        HINCRBYFLOAT h t 0x1.8p1
        HINCRBYFLOAT h t 0X10
        HINCRBYFLOAT h t 1.
        HINCRBYFLOAT h t .5
        HINCRBYFLOAT h t -.5e1
        HINCRBYFLOAT h t 1e
        HINCRBYFLOAT h t 0x
        HINCRBYFLOAT h u 1.18973149535723176502e+4932
        HINCRBYFLOAT h u 1e4932
        HINCRBYFLOAT h v 1.18973149535723176509e+4932
        HINCRBYFLOAT h v 1.5e-4951
        HINCRBYFLOAT h v 1.9e-4951
        HINCRBYFLOAT h w 5e-18
        HINCRBYFLOAT h w 1.5e-17
        HINCRBYFLOAT h w -1e-18
        HINCRBYFLOAT h i inf
        HINCRBYFLOAT h i -Infinity
        HINCRBYFLOAT h i nan
        HINCRBYFLOAT h i abc
        HINCRBYFLOAT h i " 1"
        HINCRBYFLOAT h i "1 "
        HINCRBYFLOAT h i ""
        HSET h s " 1" e "" z 00012 n1 inf n2 nan n3 1e5000
        HINCRBYFLOAT h s 1
        HINCRBYFLOAT h e 1
        HINCRBYFLOAT h z 1
        HINCRBYFLOAT h n1 1
        HINCRBYFLOAT h n2 1
        HINCRBYFLOAT h n3 1
        HINCRBYFLOAT nokey f nan
        HINCRBYFLOAT h f
    """)
    same_pairs(d, "HGETALL", "h")  # long values made it a hashtable: any order
    d("HINCRBYFLOAT", "h", "nul", "\x00")
    d("HINCRBYFLOAT", "h", "nul", "1\x00")
    d("HSET", "h", "nul", "1\x00")
    d("HINCRBYFLOAT", "h", "nul", "1")


def test_it_returns_the_whole_small_hash_for_big_positive_counts(d: Differ) -> None:
    d.many("""
        HSET h a 1 b 2 c 3
        HRANDFIELD h 3
        HRANDFIELD h 100
        HRANDFIELD h 100 WITHVALUES
        HRANDFIELD h 3 withvalues
        HRANDFIELD h 0
        HRANDFIELD h 0 WITHVALUES
        HRANDFIELD nokey
        HRANDFIELD nokey 5
        HRANDFIELD nokey -5 WITHVALUES
        HRANDFIELD nokey 0
    """)


def test_it_refuses_bad_hrandfield_counts(d: Differ) -> None:
    d.many("""
        HSET h a 1
        HRANDFIELD h abc
        HRANDFIELD h 1.5
        HRANDFIELD h -9223372036854775808
        HRANDFIELD h 9223372036854775808
        HRANDFIELD h 1 VALUES
        HRANDFIELD h 1 WITHVALUES extra
        HRANDFIELD nokey 4611686018427387904 WITHVALUES
        HRANDFIELD nokey -4611686018427387904 WITHVALUES
        HRANDFIELD nokey 4611686018427387903 WITHVALUES
        HRANDFIELD nokey -4611686018427387903 WITHVALUES
        HRANDFIELD h abc WITHVALUES
        HRANDFIELD h abc bogus
    """)


def test_hrandfield_count_sign_semantics(diff: Differ) -> None:
    eng = diff.eng
    fields = {f"f{i}".encode(): f"v{i}".encode() for i in range(20)}
    eng.call("HSET", "h", *[x for kv in fields.items() for x in kv])
    one = parse(eng.call("HRANDFIELD", "h"))
    assert one in fields
    distinct = parse(eng.call("HRANDFIELD", "h", "7"))
    assert len(distinct) == 7 and len(set(distinct)) == 7 and set(distinct) <= set(fields)
    repeated = parse(eng.call("HRANDFIELD", "h", "-50"))
    assert len(repeated) == 50 and set(repeated) <= set(fields)
    assert len(set(repeated)) < 50  # 50 draws from 20 fields must repeat
    pairs = parse(eng.call("HRANDFIELD", "h", "-5", "WITHVALUES"))
    assert len(pairs) == 10 and all(fields[f] == v for f, v in zip(pairs[::2], pairs[1::2]))
    single = parse(eng.call("HRANDFIELD", "h", "1", "WITHVALUES"))
    assert len(single) == 2 and fields[single[0]] == single[1]
    eng.call("HELLO", "3")
    nested = parse(eng.call("HRANDFIELD", "h", "-3", "WITHVALUES"))
    assert len(nested) == 3 and all(fields[f] == v for f, v in nested)
    nested = parse(eng.call("HRANDFIELD", "h", "4", "WITHVALUES"))
    assert len({f for f, _v in nested}) == 4


def test_it_scans_a_small_hash_in_one_call(d: Differ) -> None:
    d.many("""
        HSET h a 1 b 2 c 3 ab 4
        HSCAN h 0
        HSCAN h 0 COUNT 1
        HSCAN h 17 COUNT 1
        HSCAN h 0 MATCH a*
        HSCAN h 0 match * count 100
        HSCAN h 0 MATCH x* MATCH a?
        HSCAN h 0 MATCH nomatch
        HSCAN nokey 0
        HSCAN nokey 0 COUNT 0
        HSCAN nokey 0 BOGUS
    """)


def test_it_refuses_bad_scan_cursors_and_options(d: Differ) -> None:
    d.many("""
        HSET h a 1
        HSCAN h abc
        HSCAN h " 1"
        HSCAN h "1 "
        HSCAN h 18446744073709551616
        HSCAN h 99999999999999999999999
        HSCAN h -
        HSCAN h +
        HSCAN h 1.5
        HSCAN h +1
        HSCAN h -1
        HSCAN h ""
        HSCAN h 007
        HSCAN h 18446744073709551615
        HSCAN h 0 COUNT 0
        HSCAN h 0 COUNT -1
        HSCAN h 0 COUNT abc
        HSCAN h 0 COUNT
        HSCAN h 0 MATCH
        HSCAN h 0 TYPE string
        HSCAN h 0 NOVALUES
        HSCAN nokey abc
    """)
    d("HSCAN", "h", "5\x00x")
    d("HSCAN", "h", "\x00")


def _full_scan(client, key: str, *opts: str) -> tuple[list[bytes], int]:
    cursor, out, calls = b"0", [], 0
    while True:
        cursor, items = parse(client.call("HSCAN", key, cursor, *opts))
        out += items
        calls += 1
        if cursor == b"0":
            return out, calls
        assert calls < 10_000


def test_it_scans_a_big_hash_completely(diff: Differ) -> None:
    pairs = [x for i in range(600) for x in (f"field:{i}", f"value:{i}")]  # > 512: a hashtable
    both(diff, "HSET", "h", *pairs)
    for opts in ((), ("COUNT", "7"), ("MATCH", "field:1*"), ("COUNT", "1000")):
        ref, ref_calls = _full_scan(diff.ref, "h", *opts)
        eng, calls = _full_scan(diff.eng, "h", *opts)
        assert sorted(set(zip(ref[::2], ref[1::2]))) == sorted(set(zip(eng[::2], eng[1::2])))
        if opts != ("COUNT", "1000"):
            assert calls > 1 and ref_calls > 1  # really incremental
    # A long value (> 64 bytes) also makes a hashtable: scanned incrementally too.
    both(diff, "HSET", "long", "f", "x" * 65, "g", "y")
    (rc, ritems), (ec, eitems) = (parse(c.call("HSCAN", "long", "0", "COUNT", "100")) for c in (diff.ref, diff.eng))
    assert rc == ec == b"0"  # fewer fields than COUNT: all of them at once
    assert sorted(zip(ritems[::2], ritems[1::2])) == sorted(zip(eitems[::2], eitems[1::2]))


def test_a_hash_scan_returns_every_field_present_throughout(diff: Differ) -> None:
    eng = diff.eng
    eng.call("HSET", "h", *[x for i in range(300) for x in (f"keep:{i}", "v")])
    seen: set[bytes] = set()
    cursor, step = b"0", 0
    while True:
        cursor, items = parse(eng.call("HSCAN", "h", cursor, "COUNT", "20"))
        seen.update(items[::2])
        # churn between calls: add new fields and delete ones that were never "kept"
        eng.call("HSET", "h", f"new:{step}", "v", f"tmp:{step}", "v")
        eng.call("HDEL", "h", f"tmp:{step - 1}")
        step += 1
        if cursor == b"0":
            break
    assert {f"keep:{i}".encode() for i in range(300)} <= seen


def test_a_512_field_hash_is_still_a_listpack(d: Differ) -> None:
    # Redis 7.0's compiled-in hash-max-listpack-entries is 512 (redis.conf says 128).
    both(d, "HSET", "h", *[x for i in range(512) for x in (f"f{i * 37 % 1000}", f"{i}")])
    d("HGETALL", "h")
    d("HKEYS", "h")
    d("HVALS", "h")
    d("HSCAN", "h", "0", "COUNT", "5")
    d("HRANDFIELD", "h", "512", "WITHVALUES")
    d("HDEL", "h", "f0", "f37")
    d("HSET", "h", "f0", "again")
    d("HSCAN", "h", "0", "MATCH", "f1*")


def test_big_hashes_reply_with_the_same_pairs(d: Differ) -> None:
    both(d, "HSET", "h", *[x for i in range(513) for x in (f"f{i}", f"{i}")])
    same_pairs(d, "HGETALL", "h")
    same_elements(d, "HKEYS", "h")
    same_elements(d, "HVALS", "h")
    same_elements(d, "HRANDFIELD", "h", "1000")
    d("HLEN", "h")
    d("HDEL", "h", "f1", "f2", "nofield")
    d("HINCRBY", "h", "f3", "10")
    d("HINCRBYFLOAT", "h", "f4", "0.5")
    same_pairs(d, "HGETALL", "h")


def test_expired_hashes_are_gone(d: Differ) -> None:
    d.many("""
        HSET h a 1 b 2
        PEXPIRE h 1
    """)
    time.sleep(0.01)
    d.many("""
        HGET h a
        HLEN h
        HGETALL h
        HEXISTS h a
        HRANDFIELD h
        HRANDFIELD h 5
        HSCAN h 0
        HDEL h a
        HSETNX h a 9
        HGETALL h
        PTTL h
    """)
    d.many("""
        HSET e f 1.5
        PEXPIRE e 1
        HSET i f 5
        PEXPIRE i 1
    """)
    time.sleep(0.01)
    d.many("""
        HINCRBYFLOAT e f 1
        HINCRBY i f 1
        TTL e
        TTL i
    """)


def test_a_write_keeps_the_ttl_and_watch_sees_it(d: Differ) -> None:
    d.many("""
        HSET h a 1
        EXPIRE h 100
        HSET h b 2
        HINCRBY h c 1
        HINCRBYFLOAT h d 1.5
        HDEL h a
        TTL h
        WATCH h
        HSET h a 1
        MULTI
        PING
        EXEC
        WATCH h
        HSETNX h a 2
        MULTI
        PING
        EXEC
    """)

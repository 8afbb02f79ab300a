"""SCAN: cursor parsing and option errors byte for byte against redis-server, the
same key sets for every MATCH/COUNT/TYPE, and the SCAN guarantee — every key
present for a whole iteration is returned at least once — under concurrent writes
and deletes that grow and shrink the table."""

from __future__ import annotations

import random
import time

import hiredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Differ
from .effects import EffectNode
from .rawclient import RawClient


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request: pytest.FixtureRequest, diff: Differ) -> Differ:
    if request.param == 3:
        diff.resp3()
    return diff


def parse(frame: bytes) -> object:
    reader = hiredis.Reader()
    reader.feed(frame)
    return reader.gets()


def full_scan(client: RawClient, *options: str | int) -> list[bytes]:
    """Every key one complete iteration returns (duplicates kept)."""
    cursor: bytes = b"0"
    keys: list[bytes] = []
    while True:
        reply = parse(client.call("SCAN", cursor, *options))
        assert isinstance(reply, list) and len(reply) == 2
        cursor = reply[0]
        keys.extend(reply[1])
        if cursor == b"0":
            return keys


def seed_mixed(d: Differ, n: int = 60) -> None:
    for i in range(n):
        d("SET", f"str:{i}", i)
        if i % 3 == 0:
            d("RPUSH", f"list:{i}", i)
        if i % 4 == 0:
            d("HSET", f"hash:{i}", "f", i)
        if i % 5 == 0:
            d("SADD", f"set:{i}", i)
        if i % 6 == 0:
            d("ZADD", f"zset:{i}", i, "m")


def test_it_parses_cursors_like_strtoul(d: Differ) -> None:
    d("SET", "a", "1")
    for cursor in ["0", "", "00", "+0", "-0"]:
        d("SCAN", cursor)  # all mean 0: one call walks the whole small table
    for cursor in ["-1", "18446744073709551615", "-18446744073709551615", "3"]:
        # Accepted, but which buckets they point to depends on each server's hashing.
        expected, got = parse(d.ref.call("SCAN", cursor)), parse(d.eng.call("SCAN", cursor))
        assert isinstance(expected, list) and isinstance(got, list)
        assert got[0] == expected[0] == b"0"
        assert set(got[1]) <= {b"a"}
    for cursor in [" 0", "0 ", "\t0", "0x", "1.5", "x", "-", "+", "18446744073709551616", "99999999999999999999999"]:
        d("SCAN", cursor)
    d("SCAN", b"0\x00junk")
    d("SCAN", b"\x00")


def test_it_refuses_bad_options(d: Differ) -> None:
    d.many("""
        SET a 1
        SCAN
        SCAN 0 COUNT 0
        SCAN 0 COUNT -1
        SCAN 0 COUNT x
        SCAN 0 COUNT 1.5
        SCAN 0 COUNT 99999999999999999999
        SCAN 0 COUNT
        SCAN 0 MATCH
        SCAN 0 TYPE
        SCAN 0 FOO bar
        SCAN 0 MATCH * COUNT
        SCAN x COUNT 0
        SCAN 0 count 1 count 5 match a* type string
    """)


def test_it_replies_on_an_empty_or_small_database_exactly(d: Differ) -> None:
    d("SCAN", "0")
    d("SCAN", "0", "MATCH", "*", "COUNT", "100", "TYPE", "string")
    d("SET", "only", "1")
    d("SCAN", "0")
    d("SCAN", "0", "TYPE", "list")
    d("SCAN", "0", "TYPE", "STRING")
    d("SCAN", "0", "MATCH", "o*")
    d("SCAN", "0", "MATCH", "x*")


@pytest.mark.parametrize("options", [
    (), ("COUNT", 1), ("COUNT", 7), ("COUNT", 1000), ("MATCH", "str:1*"), ("MATCH", "*:[0-2]"),
    ("MATCH", "nomatch"), ("TYPE", "string"), ("TYPE", "LIST"), ("TYPE", "hash"), ("TYPE", "set"),
    ("TYPE", "zset"), ("TYPE", "none"), ("TYPE", "foo"), ("MATCH", "*1*", "TYPE", "string", "COUNT", 3),
])
def test_it_returns_the_same_keys_as_redis_over_a_full_iteration(diff: Differ, options: tuple) -> None:
    seed_mixed(diff)
    expected = full_scan(diff.ref, *options)
    got = full_scan(diff.eng, *options)
    assert set(got) == set(expected)
    assert len(got) == len(set(got))  # no concurrent change: no duplicates


def test_it_skips_and_deletes_expired_keys(d: Differ) -> None:
    d.many("""
        SET gone 1 PX 1
        SET stays 1
    """)
    time.sleep(0.01)
    d("SCAN", "0")
    d("SCAN", "0", "TYPE", "string")
    d("DBSIZE")


def test_it_returns_small_batches_with_a_count(raw: RawClient) -> None:
    raw.call("MSET", *[x for i in range(200) for x in (f"k{i}", i)])
    reply = parse(raw.call("SCAN", "0", "COUNT", "5"))
    assert reply[0] != b"0"
    assert 1 <= len(reply[1]) < 50


def scan_under_churn(client: RawClient, seed: int) -> None:
    """Scan while other keys come and go: every stable key must be returned."""
    rng = random.Random(seed)
    stable = [f"stable:{i}" for i in range(300)]
    client.call("MSET", *[x for k in stable for x in (k, "1")])
    transient: list[str] = []
    serial = 0
    returned: set[bytes] = set()
    cursor = b"0"
    steps = 0
    while True:
        reply = parse(client.call("SCAN", cursor, "COUNT", rng.choice([1, 3, 10, 50])))
        cursor = reply[0]
        returned.update(reply[1])
        steps += 1
        if cursor == b"0":
            break
        action = rng.random()
        if action < 0.45:  # a burst of new keys: the table grows
            burst = [f"t:{serial + j}" for j in range(rng.choice([10, 200, 2000]))]
            serial += len(burst)
            client.call("MSET", *[x for k in burst for x in (k, "1")])
            transient.extend(burst)
        elif action < 0.9 and transient:  # a mass delete: the table shrinks
            rng.shuffle(transient)
            cut = rng.randint(1, len(transient))
            doomed, transient = transient[:cut], transient[cut:]
            for i in range(0, len(doomed), 500):
                client.call("DEL", *doomed[i : i + 500])
    missing = {k.encode() for k in stable} - returned
    assert not missing, f"seed {seed}: {len(missing)} stable keys never returned, e.g. {sorted(missing)[:5]}"
    assert steps > 1


@pytest.mark.parametrize("seed", range(6))
def test_it_returns_every_stable_key_while_keys_are_added_and_deleted(diff: Differ, seed: int) -> None:
    scan_under_churn(diff.eng, seed)
    scan_under_churn(diff.ref, seed)  # the property is Redis's own: the reference must pass too


_ops = st.lists(
    st.one_of(
        st.tuples(st.just("scan"), st.sampled_from([1, 2, 5, 10, 100])),
        st.tuples(st.just("add"), st.integers(1, 600)),
        st.tuples(st.just("delete"), st.floats(0.05, 1.0)),
    ),
    min_size=1, max_size=60,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stable_count=st.integers(0, 200), ops=_ops)
def test_the_scan_guarantee_holds_for_any_interleaving(stable_count: int, ops: list) -> None:
    node = EffectNode()
    db = node.server.keyspace.dbs[0]
    stable = {b"s%d" % i for i in range(stable_count)}
    for key in stable:
        db.put(key, b"1")
    transient: list[bytes] = []
    serial = 0
    returned: set[bytes] = set()
    cursor = b"0"
    started = False

    def step(count: int) -> bytes:
        reply = node.run("SCAN", cursor, "COUNT", count)
        returned.update(reply[1])
        return reply[0]

    for op, arg in ops:
        if op == "scan":
            cursor = step(arg)
            started = True
            if cursor == b"0":
                break
        elif op == "add":
            for _ in range(arg):
                key = b"t%d" % serial
                serial += 1
                db.put(key, b"1")
                transient.append(key)
        elif transient:
            cut = max(1, int(len(transient) * arg))
            for key in transient[:cut]:
                node.run("DEL", key)
            transient = transient[cut:]
    if not started or cursor != b"0":
        while True:  # finish the iteration without further changes
            cursor = step(10)
            if cursor == b"0":
                break
    assert stable <= returned


def test_it_survives_the_table_growing_and_shrinking_mid_scan() -> None:
    node = EffectNode()
    db = node.server.keyspace.dbs[0]
    stable = {b"s%d" % i for i in range(100)}
    for key in stable:
        db.put(key, b"1")
    returned: set[bytes] = set()
    masks = []

    def step(cursor: bytes) -> bytes:
        reply = node.run("SCAN", cursor, "COUNT", 5)
        returned.update(reply[1])
        masks.append(db.scan_index().mask)
        return reply[0]

    cursor = step(b"0")
    cursor = step(cursor)
    transient = [b"t%d" % i for i in range(20_000)]
    for key in transient:
        db.put(key, b"1")
    cursor = step(cursor)  # the table is now much larger
    for i in range(0, len(transient), 1000):
        node.run("DEL", *transient[i : i + 1000])
    while cursor != b"0":  # ... and much smaller again
        cursor = step(cursor)
    assert masks[0] < masks[2] and masks[-1] < masks[2]
    assert stable <= returned

"""HyperLogLog commands answer exactly like Redis 7.0 and leave the same bytes: every
PFADD/PFMERGE/PFCOUNT is followed by GET of the value, compared byte for byte with a
real redis-server (sparse opcodes, promotion to dense, the cached count and its stale
bit), plus corrupted values, values copied between the two servers, PFDEBUG and a
hypothesis run of random batches."""

from __future__ import annotations

import hiredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Differ


def bulk(frame: bytes) -> bytes:
    reader = hiredis.Reader()
    reader.feed(frame)
    value = reader.gets()
    assert isinstance(value, bytes), frame[:80]
    return value


def words(prefix: str, start: int, stop: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(start, stop)]


@pytest.fixture
def sparse_limit(diff: Differ):
    """Lets a test change hll-sparse-max-bytes on both servers, restoring 3000 after."""
    def set_limit(value: str | int) -> None:
        diff("CONFIG", "SET", "hll-sparse-max-bytes", value)

    yield set_limit
    diff("CONFIG", "SET", "hll-sparse-max-bytes", "3000")


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request: pytest.FixtureRequest, diff: Differ) -> Differ:
    if request.param == 3:
        diff.resp3()
    return diff


def test_it_creates_an_empty_hll_and_caches_its_count_like_redis(d: Differ) -> None:
    d.many("""
        PFCOUNT nothing
        PFADD h
        GET h
        PFADD h
        PFCOUNT h
        GET h
        PFADD h a
        GET h
        PFADD h a
        PFCOUNT h
        PFCOUNT h
        GET h
        PFDEBUG ENCODING h
        PFDEBUG DECODE h
        STRLEN h
        TYPE h
    """)


def test_it_grows_sparse_opcodes_and_turns_dense_like_redis(diff: Differ) -> None:
    for batch in range(0, 4000, 150):
        diff("PFADD", "h", *words("member:", batch, batch + 150))
        diff("GET", "h")
        diff("PFDEBUG", "ENCODING", "h")
        if batch % 600 == 0:
            diff("PFDEBUG", "DECODE", "h")
        diff("PFCOUNT", "h")
        diff("GET", "h")
    assert diff("PFDEBUG", "ENCODING", "h") == b"+dense\r\n"


def test_it_promotes_at_the_configured_sparse_size_like_redis(diff: Differ, sparse_limit) -> None:
    for limit in ("0", "40", "200", "1kb"):
        sparse_limit(limit)
        diff("CONFIG", "GET", "hll-sparse-max-bytes")
        diff("DEL", "h")
        for i in range(0, 400, 7):
            diff("PFADD", "h", *words("x", i, i + 7))
            diff("GET", "h")
        diff("PFDEBUG", "ENCODING", "h")
        diff("PFCOUNT", "h")
        diff("GET", "h")


def test_it_merges_sparse_and_dense_hlls_like_redis(d: Differ) -> None:
    d("PFADD", "s1", *words("a", 0, 40))
    d("PFADD", "s2", *words("a", 20, 90))
    d("PFADD", "big", *words("b", 0, 5000))
    d.many("""
        PFMERGE m1 s1 s2
        GET m1
        PFCOUNT m1
        GET m1
        PFMERGE m2 s1 big
        GET m2
        PFMERGE s1 s2
        GET s1
        PFMERGE empty nosuch
        GET empty
        PFMERGE alone
        GET alone
        PFMERGE big s2
        GET big
        PFCOUNT s1 s2 big nosuch
        PFCOUNT s1 s2
        PFCOUNT nosuch other
        GET s1
        PFDEBUG ENCODING m1
        PFDEBUG ENCODING m2
    """)


def test_a_merge_into_a_sparse_key_edits_it_register_by_register_like_redis(diff: Differ, sparse_limit) -> None:
    for i in range(6):
        diff("PFADD", f"src{i}", *words(f"s{i}-", 0, 60 * (i + 1)))
    diff("PFADD", "dest", "one", "two")
    for i in range(6):
        diff("PFMERGE", "dest", f"src{i}")
        diff("GET", "dest")
    sparse_limit(300)
    diff("PFMERGE", "small", "src0", "src1", "src2")
    diff("GET", "small")


def test_it_refuses_values_that_are_not_hlls_like_redis(d: Differ) -> None:
    d.many("""
        RPUSH list a
        SET short hello
        SET fake "HYLLxxxxxxxxxxxxxxxxxxxxxx"
        SET number 123456789012345678
        PFADD h a b c
        PFADD list a
        PFADD short a
        PFCOUNT short
        PFCOUNT list
        PFCOUNT h short
        PFCOUNT h list
        PFMERGE h list
        PFMERGE h short
        PFMERGE short h
        PFADD fake x
        PFADD number x
        PFDEBUG GETREG short
        PFDEBUG ENCODING list
        PFDEBUG ENCODING nosuch
        PFDEBUG NOSUCH h
        PFDEBUG NOSUCH nosuch
        PFDEBUG GETREG
        PFDEBUG GETREG h extra
        PFCOUNT
        PFADD
        PFSELFTEST extra
        GET h
    """)


def test_it_detects_corrupted_values_like_redis(d: Differ) -> None:
    d("PFADD", "h", *words("m", 0, 30))
    d("PFADD", "dense", *words("m", 0, 4000))
    d.many("""
        COPY h appended
        APPEND appended z
        PFCOUNT appended
        PFADD appended more
        PFADD appended m1
        PFMERGE out appended
        PFCOUNT appended h
        PFDEBUG GETREG appended
        PFDEBUG TODENSE appended
        PFDEBUG DECODE appended
        COPY dense longer
        APPEND longer z
        PFCOUNT longer
        COPY h badenc
        SETRANGE badenc 4 "\x02"
        PFCOUNT badenc
        COPY h truncated
        SETRANGE truncated 17 "\x00"
        PFCOUNT truncated
        COPY dense stale
        SETRANGE stale 8 "\x07\x00\x00\x00\x00\x00\x00\x00"
        PFCOUNT stale
        GET stale
        SETRANGE stale 20 "\xff\xff\xff"
        PFCOUNT stale
        SETRANGE stale 15 "\x80"
        PFCOUNT stale
        GET stale
    """)


def test_hand_made_values_count_like_redis(diff: Differ) -> None:
    header = b"HYLL\x00\x00\x00\x00" + b"\x00" * 7 + b"\x80"
    for registers in (b"\xff" * 12288, bytes(range(256)) * 48, b"\x00" * 12287 + b"\xc0"):
        diff("SET", "crafted", header + registers)
        diff("PFCOUNT", "crafted")
        diff("GET", "crafted")
        diff("PFADD", "crafted", "a", "b")
        diff("PFCOUNT", "crafted", "crafted")
    # A sparse value whose VAL opcodes run past the last register, and one with an
    # unfinished XZERO at its end.
    for body in (b"\x7f\xfe\x83\x83", b"\x7f\xfd\x7f"):
        diff("SET", "odd", b"HYLL\x01\x00\x00\x00" + b"\x00" * 7 + b"\x80" + body)
        diff("PFCOUNT", "odd")
        diff("PFADD", "odd", "q")
        diff("PFCOUNT", "odd", "odd")
        diff("GET", "odd")


def test_values_copied_between_redis_and_the_engine_read_the_same(diff: Differ) -> None:
    for n in (5, 3000):
        diff.ref.call("DEL", "made")
        diff.ref.call("PFADD", "made", *words("r", 0, n))
        from_redis = bulk(diff.ref.call("GET", "made"))
        diff.eng.call("DEL", "made")
        diff.eng.call("PFADD", "made", *words("e", 0, n))
        from_engine = bulk(diff.eng.call("GET", "made"))
        for value in (from_redis, from_engine):
            diff("SET", "copy", value)
            diff("PFCOUNT", "copy")
            diff("PFADD", "copy", *words("more", 0, 50))
            diff("GET", "copy")
            diff("PFCOUNT", "copy")
            diff("PFMERGE", "copy2", "copy")
            diff("GET", "copy2")


def test_pfdebug_reads_and_converts_like_redis(d: Differ) -> None:
    d("PFADD", "h", *words("m", 0, 12))
    d.many("""
        PFDEBUG DECODE h
        PFDEBUG encoding h
        PFDEBUG TODENSE h
        PFDEBUG TODENSE h
        PFDEBUG ENCODING h
        PFDEBUG DECODE h
        GET h
        PFADD g x
        PFDEBUG GETREG g
        GET g
        PFDEBUG ENCODING g
    """)


def test_writes_keep_the_keys_ttl(diff: Differ) -> None:
    diff.many("""
        PFADD h a
        EXPIRE h 1000
        PFADD h b c
        TTL h
        PFCOUNT h
        TTL h
        PFMERGE h h
        TTL h
    """)


def test_pfselftest_passes(diff: Differ) -> None:
    diff("PFSELFTEST")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(
    st.lists(st.binary(max_size=12) | st.integers(0, 3000).map(lambda i: b"e%d" % i), max_size=120),
    min_size=1, max_size=12,
))
def test_random_batches_leave_the_same_bytes_and_counts(diff: Differ, batches: list[list[bytes]]) -> None:
    diff("DEL", "h", "other")
    diff("PFADD", "other", *[e + b"!" for e in batches[0]])
    for batch in batches:
        diff("PFADD", "h", *batch)
        diff("GET", "h")
        diff("PFCOUNT", "h")
        diff("GET", "h")
        diff("PFCOUNT", "h", "other")
    diff("PFMERGE", "other", "h")
    diff("GET", "other")

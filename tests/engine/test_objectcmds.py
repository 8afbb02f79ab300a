"""OBJECT ENCODING, REFCOUNT, IDLETIME, FREQ and HELP against a real redis-server, in
RESP2 and RESP3: string encodings, every container at its size limits, and the
error paths."""

from __future__ import annotations

import pytest

from .conftest import Differ


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request: pytest.FixtureRequest, diff: Differ) -> Differ:
    if request.param == 3:
        diff.resp3()
    return diff


def test_it_reports_string_encodings(d: Differ) -> None:
    d.many(f"""
        SET small 5
        SET big 12345
        SET max 9223372036854775807
        SET min -9223372036854775808
        SET huge 12345678901234567890
        SET lead 0123
        SET neg -5
        SET negzero -0
        SET empty ""
        SET short abc
        SET s44 {"x" * 44}
        SET s45 {"x" * 45}
    """)
    for key in ["small", "big", "max", "min", "huge", "lead", "neg", "negzero", "empty", "short", "s44", "s45"]:
        d("OBJECT", "ENCODING", key)
        d("OBJECT", "REFCOUNT", key)


def test_it_reports_container_encodings_at_the_size_limits(d: Differ) -> None:
    fields = [x for i in range(512) for x in (f"f{i}", "v")]
    d("HSET", "h512", *fields)
    d("HSET", "h513", *fields, "f512", "v")
    d("HSET", "hf64", "x" * 64, "v")
    d("HSET", "hf65", "x" * 65, "v")
    d("HSET", "hv65", "f", "x" * 65)
    d("SADD", "s512", *range(512))
    d("SADD", "s513", *range(513))
    d("SADD", "sbig", "9223372036854775807", "-9223372036854775808")
    d("SADD", "sover", "9223372036854775808")
    d("SADD", "slead", "01")
    d("SADD", "sword", "a")
    d("ZADD", "z128", *[x for i in range(128) for x in (i, f"m{i}")])
    d("ZADD", "z129", *[x for i in range(129) for x in (i, f"m{i}")])
    d("ZADD", "zm64", 1, "x" * 64)
    d("ZADD", "zm65", 1, "x" * 65)
    d("RPUSH", "l1", "a")
    d("RPUSH", "lbig", *range(1000))
    for key in ["h512", "h513", "hf64", "hf65", "hv65", "s512", "s513", "sbig", "sover", "slead", "sword",
                "z128", "z129", "zm64", "zm65", "l1", "lbig"]:
        d("OBJECT", "ENCODING", key)
        d("OBJECT", "REFCOUNT", key)
    # A sorted set grows out of its listpack for good; SORT converts one too.
    d("ZREM", "z129", "m0", "m1")
    d("OBJECT", "ENCODING", "z129")
    d("ZADD", "zn", 1, 3, 2, 1)
    d("OBJECT", "ENCODING", "zn")
    d("SORT", "zn")
    d("OBJECT", "ENCODING", "zn")


def test_it_answers_the_other_object_subcommands(d: Differ) -> None:
    d.many("""
        SET k v
        OBJECT IDLETIME k
        OBJECT IDLETIME nokey
        OBJECT FREQ k
        OBJECT FREQ nokey
        OBJECT REFCOUNT nokey
        OBJECT ENCODING nokey
        OBJECT HELP
        object help
        OBJECT HELP x
        OBJECT ENCODING
        OBJECT ENCODING a b
        OBJECT FREQ
        OBJECT NOSUCH k
        OBJECT
    """)

"""String commands answer exactly like Redis 7.0, in RESP2 and RESP3: every option
of SET/GETEX, counters, INCRBYFLOAT's long double output, and every error path,
compared byte for byte with a real redis-server. (GETRANGE, SETRANGE and LCS:
test_strings_ranges.py.)"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.engine.commands import load_all


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request, diff):
    if request.param == 3:
        diff.resp3()
    return diff


def needs(*names: str) -> None:
    """The commands of other families these tests lean on must exist."""
    registry = load_all()
    missing = [name for name in names if name.encode() not in registry]
    assert not missing, f"commands missing from the engine: {missing}"


def make_list(d, key: str = "alist") -> None:
    needs("rpush")
    d("RPUSH", key, "x")


def test_it_gets_and_sets_plain_strings(d):
    d.many("""
        GET k
        SET k v
        GET k
        SET k ""
        GET k
        SET k "with space"
        GET k
        SET "" empty-key
        GET ""
        STRLEN k
        STRLEN nokey
    """)
    d("SET", "bin", b"\x00\xff\r\n$-1\r\n")
    d("GET", "bin")
    d("STRLEN", "bin")


def test_it_refuses_strings_commands_on_other_types(d):
    make_list(d)
    d.many("""
        GET alist
        GETEX alist
        GETEX alist EX 10
        GETEX alist EX 0
        GETDEL alist
        GETSET alist v
        SET alist v GET
        SET alist v NX GET
        STRLEN alist
        APPEND alist x
        INCR alist
        DECRBY alist 5
        INCRBYFLOAT alist 1.5
        GETRANGE alist 0 -1
        SETRANGE alist 0 x
        SETRANGE alist 0 ""
        SETRANGE alist -1 ""
        GETRANGE alist a 1
        MGET alist nokey
        LCS alist nokey
        LCS nokey alist FOO
        SET alist v
        GET alist
    """)


def test_it_parses_set_options_like_redis(d):
    d.many("""
        SET k v NX
        SET k v NX
        SET k v XX
        SET k2 v XX
        SET k v nx
        SET k v Xx
        SET k v NX XX
        SET k v XX NX
        SET k v NX NX
        SET k v KEEPTTL
        SET k v KEEPTTL KEEPTTL
        SET k v EX 10 EX 20
        SET k v EX 10 PX 20
        SET k v PX 10 EXAT 20
        SET k v EXAT 10 PXAT 20
        SET k v EX 10 KEEPTTL
        SET k v KEEPTTL EX 10
        SET k v KEEPTTL PXAT 10
        SET k v EX
        SET k v PX
        SET k v EX abc
        SET k v EX 1.5
        SET k v EX abc NX XX
        SET k v PERSIST
        SET k v FOO
        SET k v GET GET
        SET k v get
        SET k v EX 0
        SET k v EX -1
        SET k v PX 0
        SET k v EXAT 0
        SET k v PXAT -5
        SET k v EX 9223372036854775
        SET k v EX 9223372036854776
        SET k v PX 9223372036854775807
        SET k v EX 9223372036854775808
        SET k v PXAT 9223372036854775807
        SET k v EXAT 9223372036854775
        GET k
        SET k v EX 10 NX
        SET k v NX EX 0
    """)


def test_it_treats_option_keywords_as_c_strings(d):
    # Redis compares options with strcasecmp: a NUL byte ends the keyword.
    d("SET", "k", "v", b"nx\x00tail")
    d("SET", "k", "v", b"NX\x00")
    d("SET", "k", "v2", b"keepttl\x00x")
    d("SET", "k", "v3", b"get\x00", b"ex\x00", "100")
    d("GETEX", "k", b"persist\x00")
    d("SET", "k", "v", b"n\x00x")


def test_it_returns_the_old_value_with_set_get(d):
    d.many("""
        SET k v GET
        SET k v2 GET
        SET k v3 NX GET
        GET k
        SET k v4 XX GET
        SET other v XX GET
        GET other
        SET k v5 GET EX 100
        SET k v6 GET EX 0
        GET k
    """)


def test_it_keeps_or_clears_the_ttl_like_redis(d):
    needs("ttl", "pexpiretime", "expiretime")
    d.many("""
        SET k v EX 100
        TTL k
        SET k v2 KEEPTTL
        TTL k
        SET k v3 KEEPTTL GET
        TTL k
        SET k v4
        TTL k
        SET k v PX 100000
        TTL k
        SET k v EXAT 33177600000
        EXPIRETIME k
        SET k v PXAT 33177600000123
        PEXPIRETIME k
        SETEX s 100 v
        TTL s
        PSETEX p 100000 v
        TTL p
        SET n 5 EX 100
        INCR n
        INCRBY n 10
        DECR n
        DECRBY n 3
        INCRBYFLOAT n 1.5
        APPEND n 0
        SETRANGE n 0 9
        TTL n
        GETSET n 1
        TTL n
        SET m 1 EX 100
        MSET m 2
        TTL m
    """)


def test_it_expires_keys_set_with_a_relative_or_past_expiry(d):
    d.many("""
        SET past v EXAT 1
        GET past
        SET past v PXAT 1 GET
        SET soon v PX 20
        SETEX sec 1 v
        PSETEX ms 20 v
        GET soon
    """)
    time.sleep(0.05)
    d.many("""
        GET soon
        GET ms
        GET sec
    """)


def test_it_treats_expired_keys_as_missing(d):
    d.many("""
        SET a 1 PX 1
        SET b 2 PX 1
        SET c 3 PX 1
        SET e 4 PX 1
        SET f 5 PX 1
        SET g 6 PX 1
        SET h 7 PX 1
        SET i 8 PX 1
        SET j 9 PX 1
        SET k 10 PX 1
        SET l 11 PX 1
        SET m 12 PX 1
    """)
    time.sleep(0.01)
    d.many("""
        GET a
        STRLEN b
        APPEND c x
        GET c
        INCR e
        INCRBYFLOAT f 1.5
        GETRANGE g 0 -1
        SETRANGE h 2 x
        GET h
        GETEX i EX 100
        GETDEL j
        MSETNX k 1 zz 2
        SET l v NX
        SET m v XX
        MGET a b c m
        GETSET a new
        LCS a b
    """)


def test_it_implements_setnx_setex_psetex_getset(d):
    d.many("""
        SETNX k v
        SETNX k v2
        GET k
        SETEX k 0 v
        SETEX k -5 v
        SETEX k abc v
        SETEX k 9223372036854776 v
        SETEX k 10 v
        GET k
        PSETEX k 0 v
        PSETEX k -1 v
        PSETEX k 9223372036854775807 v
        PSETEX k 1000 v2
        GET k
        GETSET k v3
        GETSET nokey v
        GET nokey
    """)


def test_it_implements_getex_options_in_redis_order(d):
    d.many("""
        GETEX nokey
        GETEX nokey EX 0
        GETEX nokey EX abc
        GETEX nokey EX 1 PX 2
        SET k v
        GETEX k
        GETEX k EX 100
        GETEX k PX 100000
        GETEX k EXAT 33177600000
        GETEX k PXAT 33177600000000
        GETEX k PERSIST
        GETEX k PERSIST
        GETEX k EX 0
        GETEX k EX -1
        GETEX k EX abc
        GETEX k EX 1 PX 1
        GETEX k PERSIST EX 1
        GETEX k EX 1 PERSIST
        GETEX k EX 1 EX 100
        GETEX k NX
        GETEX k XX
        GETEX k KEEPTTL
        GETEX k GET
        GETEX k EX
        GETEX k EX 9223372036854775
        GETEX k PX 9223372036854775807
        GETEX k PXAT 9223372036854775807
        GETEX k EXAT 1
        GET k
        SET k v
        GETEX k PXAT 1
        GET k
    """)


def test_it_reports_the_ttl_set_by_getex(d):
    needs("ttl", "pexpiretime")
    d.many("""
        SET k v
        GETEX k EX 100
        TTL k
        GETEX k PXAT 33177600000123
        PEXPIRETIME k
        GETEX k
        PEXPIRETIME k
        GETEX k PERSIST
        TTL k
    """)


def test_it_implements_getdel(d):
    d.many("""
        GETDEL k
        SET k v
        GETDEL k
        GETDEL k
        GET k
    """)


def test_it_implements_mget_mset_msetnx(d):
    d.many("""
        MSET a 1 b 2 c 3
        MGET a b c nokey
        MSET a 1 b
        MSET a
        MSET a 1 a 2
        GET a
        MSETNX a 1 d 4
        MGET d
        MSETNX d 4 e 5
        MGET d e
        MSETNX d 4 e
        MSETNX x 1 x 2
        GET x
        MGET
    """)
    make_list(d)
    d("MGET", "a", "alist", "nokey", "b")
    d("MSETNX", "alist", "1", "zz", "2")
    d("MSET", "alist", "now-a-string")
    d("GET", "alist")


def test_it_implements_integer_counters(d):
    d.many("""
        INCR n
        INCR n
        DECR n
        INCRBY n 10
        INCRBY n -20
        DECRBY n 5
        DECRBY n -5
        INCRBY n 0
        INCRBY n abc
        INCRBY n 1.5
        INCRBY n ""
        INCRBY n 9223372036854775808
        DECRBY n -9223372036854775808
        DECRBY n 9223372036854775807
        SET n 9223372036854775807
        INCR n
        INCRBY n 0
        DECR n
        SET n -9223372036854775808
        DECR n
        INCRBY n -1
        INCR n
        SET n " 1"
        INCR n
        SET n "1 "
        INCR n
        SET n 01
        INCR n
        SET n +1
        INCR n
        SET n -0
        INCR n
        SET n 1.0
        INCR n
        SET n 12345678901234567890
        INCR n
        SET n ""
        INCR n
        SET n -9223372036854775809
        DECR n
        DECR fresh
        DECRBY fresh2 -7
    """)


INCRBYFLOAT_CASES = [
    ("0.1", "0.2"), ("1.1", "2.2"), ("3.3", "-3.3"), ("10", "0.1"), ("5.0e3", "1e-20"), ("0", "1e-20"),
    ("1e308", "1e308"), ("1e400", "1e-400"), ("-0", "-0.0"), ("16", "3.0000000000000001"),
    ("0x10", "1"), ("0x1p3", ".5"), ("0X1P-2", "0x.8"), ("0x1.8p1", "5."), ("+1", "+.5e-3"),
    ("1e4932", "0"), ("1.18e4932", "1e4931"), ("0x1p-16445", "0"), ("1e-4950", "0"),
    ("123456789012345678901234567890", "1"), ("1", "1e-17"), ("1", "1.5e-17"), ("2.5e-17", "0"),
    ("0.00000000000000005", "0"), ("0.000000000000000015", "0"), ("-1e-20", "0"), ("-5", "2.5"),
    ("9007199254740993", "0"), ("18446744073709551615", "1"), ("1e20", "5000"), ("0.3", "0.6"),
]

INCRBYFLOAT_BAD = [
    "abc", "", " 1", "1 ", "\t1", "1\n", "nan", "NaN", "-nan", "nan(123)", "inf", "-inf", "Infinity",
    "1e", "1e+", "-.e1", ".", "0x", "0x1p", "1_0", "1,5", "1e4933", "1e-4952", "1e-5000",
    "0x1p16384", "0x1p-16446", "1" * 5119, "0" * 5120, "1\x00", "\x00", "+", "--1", "0x-1",
]


def test_it_adds_floats_in_long_double_precision(d):
    for current, increment in INCRBYFLOAT_CASES:
        d("SET", "f", current)
        d("INCRBYFLOAT", "f", increment)
        d("INCRBYFLOAT", "f", increment)
    d("GETDEL", "f")
    d("INCRBYFLOAT", "f", "0" * 5119)


def test_it_refuses_invalid_floats(d):
    for bad in INCRBYFLOAT_BAD:
        d("INCRBYFLOAT", "fresh", bad)
        d("SET", "f", bad)
        d("INCRBYFLOAT", "f", "1")
    d("GET", "fresh")
    d("SET", "f", "1e4932")
    d("INCRBYFLOAT", "f", "1e4932")
    d("SET", "f", "inf")
    d("INCRBYFLOAT", "f", "1")


_digits = st.text("0123456789", min_size=1, max_size=22)
_floats = st.one_of(
    st.builds(lambda s, a, b: f"{s}{a}.{b}", st.sampled_from(["", "-", "+"]), _digits, _digits),
    st.builds(lambda a, e: f"{a}e{e}", _digits, st.integers(-4960, 4940)),
    st.builds(lambda m, p: f"0x{m:x}p{p}", st.integers(0, 2**80), st.integers(-16500, 16400)),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(2**70), 2**70).map(str),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(current=_floats, increment=_floats)
def test_it_matches_incrbyfloat_for_any_number(diff, current, increment):
    diff("SET", "f", current)
    diff("INCRBYFLOAT", "f", increment)
    diff("INCRBYFLOAT", "f", increment)


def test_it_appends_and_measures(d):
    d.many("""
        APPEND a ""
        GET a
        STRLEN a
        APPEND a hello
        APPEND a ""
        APPEND a " world"
        GET a
        STRLEN a
        SET n 12
        APPEND n 34
        INCR n
    """)


def test_it_checks_arity_of_every_string_command(d):
    d.many("""
        GET
        GET a b
        SET k
        SETNX k
        SETEX k 10
        PSETEX k 10
        GETSET k
        GETEX
        GETDEL
        GETDEL a b
        MGET
        MSET
        MSET k
        MSETNX k
        APPEND k
        STRLEN
        INCR
        DECR a b
        INCRBY k
        DECRBY k
        INCRBYFLOAT k
        GETRANGE k 0
        SUBSTR k 0
        SETRANGE k 0
        LCS a
    """)


def test_it_runs_string_commands_inside_transactions(d):
    d.many("""
        MULTI
        SET k 10 EX 100
        INCRBYFLOAT k 0.5
        GETEX k PERSIST
        SET k v GET
        GETDEL k
        INCR k
        EXEC
    """)

"""GETRANGE, SUBSTR, SETRANGE and LCS answer exactly like Redis 7.0, in RESP2 and
RESP3: every index boundary, every LCS option and error, compared byte for byte
with a real redis-server."""

from __future__ import annotations

import random

import pytest


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request, diff):
    if request.param == 3:
        diff.resp3()
    return diff


def test_it_implements_setrange(d):
    d.many("""
        SETRANGE s 0 ""
        GET s
        SETRANGE s 5 ""
        SETRANGE s -1 x
        SETRANGE s abc x
        SETRANGE s 9223372036854775807 x
        SETRANGE s 9223372036854775808 x
        SETRANGE s 536870912 x
        SETRANGE s 536870911 xy
        SETRANGE s 3 abc
        GET s
        SET s hello
        SETRANGE s 0 ""
        SETRANGE s 536870912 ""
        SETRANGE s 536870912 x
        SETRANGE s 1 a
        SETRANGE s 4 "o world"
        SETRANGE s 14 "!"
        GET s
        STRLEN s
        SET n 12345
        SETRANGE n 1 x
        GET n
    """)


GETRANGE_INDEXES = [-100, -50, -6, -5, -3, -1, 0, 1, 3, 4, 5, 6, 100, -9223372036854775808, 9223372036854775807]


def test_it_implements_getrange_and_substr(d):
    d("SET", "s", "hello")
    d("SET", "e", "")
    for key in ("s", "e", "nokey"):
        for start in GETRANGE_INDEXES:
            for end in GETRANGE_INDEXES:
                d("GETRANGE", key, start, end)
    d.many("""
        SUBSTR s 1 3
        SUBSTR s -3 -1
        GETRANGE s a 1
        GETRANGE s 1 b
        GETRANGE nokey a 1
        GETRANGE s 1.5 2
        SET n 12345
        GETRANGE n 1 -2
    """)


def test_it_computes_lcs_with_every_option(d):
    d.many("""
        MSET a ohmytext b mynewtext
        LCS a b
        LCS a b LEN
        LCS a b IDX
        LCS a b IDX MINMATCHLEN 4
        LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN
        LCS a b IDX WITHMATCHLEN
        LCS a b idx withmatchlen minmatchlen 2
        LCS a b WITHMATCHLEN
        LCS a b MINMATCHLEN 2
        LCS a b MINMATCHLEN -5 IDX
        LCS a b MINMATCHLEN 1 MINMATCHLEN 100 IDX
        LCS a b LEN LEN
        LCS a b IDX IDX
        LCS a b LEN IDX
        LCS a b IDX LEN
        LCS a b MINMATCHLEN abc
        LCS a b MINMATCHLEN
        LCS a b FOO
        LCS a nokey
        LCS nokey a LEN
        LCS nokey nokey2 IDX
        LCS a nokey IDX WITHMATCHLEN
        LCS a a IDX WITHMATCHLEN
        SET e ""
        LCS e a IDX
        LCS a
    """)
    d("LCS", "a", "b", b"len\x00tail")


def test_it_refuses_lcs_tables_beyond_proto_max_bulk_len(d):
    d("SET", "x", "a" * 11600)
    d("SET", "y", "b" * 11600)
    d("LCS", "x", "y", "LEN")
    d("LCS", "x", "nokey")
    d("SET", "y", "b" * 2000)
    d("LCS", "x", "y", "IDX")


def test_it_matches_lcs_on_random_strings(d):
    rnd = random.Random(20240)
    for _ in range(60):
        a = bytes(rnd.choice(b"abcd"[: rnd.randint(1, 4)]) for _ in range(rnd.randint(0, 40)))
        b = bytes(rnd.choice(b"abcde"[: rnd.randint(1, 5)]) for _ in range(rnd.randint(0, 40)))
        d("MSET", "a", a, "b", b)
        d("LCS", "a", "b")
        d("LCS", "a", "b", "IDX", "WITHMATCHLEN")
        d("LCS", "a", "b", "IDX", "MINMATCHLEN", "2")


def test_lcs_of_long_strings_is_bounded_on_the_node(d):
    """LEN of a 2 MB string against a short one answers as Redis (work on the shorter
    side only); the string and IDX forms past the sandbox's bound are refused at once,
    instead of a walk of millions of Python steps and a row per byte of key1."""
    big = b"ab" * 1_000_000
    assert d("SET", "big", big) == b"+OK\r\n"
    assert d("SET", "small", "bab") == b"+OK\r\n"
    assert d("LCS", "big", "small", "LEN") == b":3\r\n"
    assert d("LCS", "small", "big", "LEN") == b":3\r\n"
    refused = b"-ERR LCS is limited here to 1000000 bytes of both strings together unless LEN is given"
    assert d.eng.call("LCS", "big", "small").startswith(refused)
    assert d.eng.call("LCS", "small", "big", "IDX").startswith(refused)

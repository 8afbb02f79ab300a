"""Bitmap commands answer exactly like Redis 7.0, in RESP2 and RESP3: bit offsets
and their limits, BYTE/BIT ranges, BITOP on uneven strings, BITFIELD's signed and
unsigned fields with every OVERFLOW mode, and the order in which errors win."""

from __future__ import annotations

import random

import pytest



@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request, diff):
    if request.param == 3:
        diff.resp3()
    return diff


def make_list(d, key: str = "alist") -> None:
    d("RPUSH", key, "x")


def test_it_sets_and_gets_bits(d):
    d.many("""
        SETBIT b 7 1
        SETBIT b 7 1
        SETBIT b 7 0
        SETBIT b 100 0
        STRLEN b
        GET b
        GETBIT b 7
        GETBIT b 100
        GETBIT b 99999
        GETBIT nokey 0
        SETBIT b 0 1
        SETBIT b 1 1
        GET b
        SET n 12
        GETBIT n 2
        GETBIT n 3
        SETBIT n 7 0
        GET n
        GETBIT nokey 4294967295
        GETBIT b 4294967295
    """)


def test_it_checks_bit_arguments_before_the_key(d):
    make_list(d)
    d.many("""
        SETBIT b 0 2
        SETBIT b 0 -1
        SETBIT b 0 abc
        SETBIT b 0 ""
        SETBIT b -1 1
        SETBIT b abc 1
        SETBIT b abc abc
        SETBIT b 4294967296 0
        SETBIT b 9223372036854775807 0
        SETBIT b #1 0
        SETBIT b 1.0 0
        GETBIT b -1
        GETBIT b 4294967296
        GETBIT nokey 4294967296
        GETBIT b abc
        SETBIT alist 0 1
        SETBIT alist 0 2
        SETBIT alist -1 2
        GETBIT alist 0
        GETBIT alist -1
        GET b
    """)


BITCOUNT_INDEXES = [-100, -17, -9, -8, -3, -1, 0, 1, 2, 7, 8, 15, 23, 24, 100]


def test_it_counts_bits_in_byte_and_bit_ranges(d):
    d("SET", "x", b"\xff\xf0\x00\x55")
    d("SET", "e", "")
    d.many("""
        BITCOUNT x
        BITCOUNT e
        BITCOUNT nokey
        SET fb foobar
        BITCOUNT fb
        BITCOUNT fb 1 1
        BITCOUNT fb 1 1 BYTE
        BITCOUNT fb 5 30 BIT
        BITCOUNT fb 5 30 bit
        BITCOUNT fb -2 -1 BIT
        BITCOUNT fb 0 -1 bit
        BITCOUNT fb -9223372036854775808 9223372036854775807 BIT
        BITCOUNT fb -9223372036854775808 9223372036854775807
    """)
    for key in ("x", "e"):
        for start in BITCOUNT_INDEXES:
            for end in BITCOUNT_INDEXES:
                d("BITCOUNT", key, start, end)
                d("BITCOUNT", key, start, end, "BIT")


def test_it_orders_bitcount_errors_like_redis(d):
    make_list(d)
    d("SET", "x", "foobar")
    d.many("""
        BITCOUNT x 0
        BITCOUNT x 0 1 2
        BITCOUNT x 0 1 FOO
        BITCOUNT x 0 1 BIT extra
        BITCOUNT x a b
        BITCOUNT x 0 a
        BITCOUNT x a 0 FOO
        BITCOUNT x 0 a FOO
        BITCOUNT x -1 -2 FOO
        BITCOUNT nokey 0 1 FOO
        BITCOUNT nokey 0
        BITCOUNT nokey a b
        BITCOUNT alist
        BITCOUNT alist 0
        BITCOUNT alist a b
        BITCOUNT
    """)
    d("BITCOUNT", "x", "0", "-1", b"bit\x00junk")


BITPOS_INDEXES = [-100, -9, -8, -2, -1, 0, 1, 3, 7, 8, 12, 15, 16, 23, 24, 100]


def test_it_finds_bit_positions(d):
    values = {
        "x": b"\xff\xf0\x00",
        "ff": b"\xff\xff",
        "zz": b"\x00\x00",
        "one": b"\x10",
        "e": b"",
    }
    for key, value in values.items():
        d("SET", key, value)
    for key in (*values, "nokey"):
        for bit in (0, 1):
            d("BITPOS", key, bit)
            for start in BITPOS_INDEXES:
                d("BITPOS", key, bit, start)
                for end in BITPOS_INDEXES[::3]:
                    d("BITPOS", key, bit, start, end)
                    d("BITPOS", key, bit, start, end, "BIT")
                    d("BITPOS", key, bit, start, end, "byte")


def test_it_orders_bitpos_errors_like_redis(d):
    make_list(d)
    d("SET", "x", b"\xff\xf0\x00")
    d.many("""
        BITPOS x 2
        BITPOS x -1
        BITPOS x abc
        BITPOS x 0 abc
        BITPOS x 0 0 abc
        BITPOS x 0 5 BIT
        BITPOS x 0 5 10 FOO
        BITPOS x 0 abc FOO
        BITPOS x 0 0 abc FOO
        BITPOS x 0 5 10 BYTE 1
        BITPOS nokey 2
        BITPOS nokey 1 0 abc
        BITPOS nokey 0 abc
        BITPOS nokey 1 0 1 FOO
        BITPOS nokey 1 0 1 BIT 3
        BITPOS alist 0
        BITPOS alist 2
        BITPOS alist 0 abc
        BITPOS x
        BITPOS x 1 9223372036854775807
        BITPOS x 0 -9223372036854775808 9223372036854775807 BIT
    """)


def test_it_combines_strings_with_bitop(d):
    d("SET", "a", b"\xff\xf0\x00")
    d("SET", "b", b"\x0f\x0f")
    d("SET", "c", b"\x55")
    d("SET", "e", "")
    d.many("""
        BITOP AND dest a b
        GET dest
        BITOP OR dest a b c
        GET dest
        BITOP XOR dest a b c
        GET dest
        BITOP and dest a nokey
        GET dest
        BITOP or dest nokey a
        GET dest
        BITOP NOT dest a
        GET dest
        BITOP NOT dest e
        GET dest
        BITOP NOT dest nokey
        GET dest
        BITOP AND dest nokey nokey2
        GET dest
        BITOP OR dest e e
        BITOP AND a a b
        GET a
        BITOP XOR dest dest c
        GET dest
    """)
    long_a = bytes(range(256)) * 3
    long_b = bytes(reversed(range(256))) * 2 + b"\x01"
    d("MSET", "la", long_a, "lb", long_b)
    for op in ("AND", "OR", "XOR"):
        d("BITOP", op, "dest", "la", "lb", "c")
        d("GET", "dest")
    d("BITOP", "NOT", "dest", "la")
    d("GET", "dest")


def test_it_refuses_bad_bitop_calls(d):
    make_list(d)
    d("SET", "a", "x")
    d.many("""
        BITOP FOO dest a
        BITOP NOT dest a a
        BITOP NOT dest nokey a
        BITOP AND dest a alist
        BITOP NOT dest alist
        BITOP AND alist a
        GET alist
        BITOP AND dest
        BITOP FOO dest
        BITOP
    """)
    d("BITOP", b"and\x00", "dest", "a")


def test_it_replaces_the_bitop_destination_and_its_ttl(d):
    d.many("""
        SET a x
        SET dest old EX 100
        BITOP OR dest a
        TTL dest
        SET dest old EX 100
        BITOP OR dest nokey
        TTL dest
        GET dest
    """)


def test_it_reads_and_writes_bitfields(d):
    d.many("""
        BITFIELD b
        BITFIELD b GET u8 0
        GET b
        BITFIELD b SET u8 0 255
        BITFIELD b SET u8 0 255
        BITFIELD b GET u8 0 GET i8 0 GET u4 4 GET i64 0 GET u63 1 GET i1 7
        BITFIELD b INCRBY u8 0 10
        BITFIELD b SET i5 3 -7 GET i5 3 GET u5 3
        BITFIELD b SET u8 #1 300 GET u8 #1 GET u8 8
        BITFIELD b SET i64 60 -9223372036854775808 GET i64 60
        BITFIELD b INCRBY i64 60 -1 GET i64 60
        BITFIELD b GET u8 #0 GET i16 #3
        GET b
        STRLEN b
        BITFIELD b SET u63 #1 -1 GET u63 #1
        BITFIELD nokey SET u1 0 1
        GET nokey
        BITFIELD b get u8 0 Set u8 0 1 incrBy u8 0 1
    """)


def test_it_applies_every_overflow_mode(d):
    d.many("""
        BITFIELD b OVERFLOW SAT INCRBY u8 0 1000 INCRBY i8 8 -1000
        BITFIELD b OVERFLOW FAIL INCRBY u8 0 1000
        BITFIELD b OVERFLOW FAIL INCRBY u8 100 1000
        STRLEN b
        BITFIELD b OVERFLOW FAIL SET u8 0 -1
        BITFIELD b OVERFLOW SAT SET u8 0 -1
        BITFIELD b OVERFLOW WRAP SET u8 0 -1 SET i8 0 200 SET u8 #1 300 GET u8 #1
        BITFIELD b OVERFLOW WRAP INCRBY u63 0 -1 INCRBY u63 0 1 INCRBY i1 100 1 INCRBY u1 101 3 SET i1 102 1 SET u1 103 5
        BITFIELD b OVERFLOW SAT INCRBY u63 0 -1 INCRBY u63 0 -9223372036854775808 SET u63 0 -9223372036854775808 INCRBY i1 100 -3
        BITFIELD b OVERFLOW SAT SET i8 200 -129 SET i8 200 128 INCRBY i8 200 -9223372036854775808
        BITFIELD b OVERFLOW WRAP SET i8 200 -129 SET i8 200 128 INCRBY i8 200 -9223372036854775808
        BITFIELD b INCRBY i64 300 -9223372036854775808 INCRBY i64 300 -9223372036854775808
        BITFIELD b OVERFLOW SAT INCRBY i64 300 -1 INCRBY i64 300 9223372036854775807 INCRBY i64 300 9223372036854775807
        BITFIELD b OVERFLOW FAIL INCRBY i64 300 1 OVERFLOW WRAP INCRBY i64 300 1 OVERFLOW SAT INCRBY i64 300 -1
        BITFIELD b OVERFLOW sat get u8 0 OVERFLOW fail INCRBY u2 0 5 overflow wrap INCRBY u2 0 5
        BITFIELD b GET u8 0 OVERFLOW FAIL
        BITFIELD n OVERFLOW FAIL INCRBY u2 0 100
        STRLEN n
        GET b
    """)


def test_it_refuses_bad_bitfield_arguments_in_order(d):
    make_list(d)
    d.many("""
        BITFIELD b GET u64 0
        BITFIELD b GET i65 0
        BITFIELD b GET i0 0
        BITFIELD b GET u0 0
        BITFIELD b GET x8 0
        BITFIELD b GET I8 0
        BITFIELD b GET i064 0
        BITFIELD b GET u+8 0
        BITFIELD b GET "" 0
        BITFIELD b GET u8 -1
        BITFIELD b GET u8 #-1
        BITFIELD b GET u8 4294967296
        BITFIELD b GET u8 4294967295
        BITFIELD b GET u8 #536870912
        BITFIELD b GET u8 #9223372036854775807
        BITFIELD b GET u8 #1152921504606846976
        BITFIELD b GET i64 #288230376151711745
        BITFIELD b GET u8 #00
        BITFIELD b GET u8 #
        BITFIELD b GET u8 ##1
        BITFIELD b GET u8 1#
        BITFIELD b GET u8 abc
        BITFIELD b SET u8 0 abc
        BITFIELD b SET u8 0
        BITFIELD b INCRBY u8 0
        BITFIELD b GET u8
        BITFIELD b FOO
        BITFIELD b OVERFLOW
        BITFIELD b OVERFLOW FOO GET u8 0
        BITFIELD b GET u8 0 OVERFLOW FOO
        BITFIELD b GET u8 abc OVERFLOW FOO
        BITFIELD b SET x8 0 1 GET u8 abc
        BITFIELD alist GET u8 0
        BITFIELD alist SET u8 0 1
        BITFIELD alist GET u8 abc
        BITFIELD alist OVERFLOW FAIL SET u8 0 1000
        GET b
        BITFIELD
    """)
    d("BITFIELD", "b", b"get\x00", "u8", "0")
    d("BITFIELD", "b", "GET", b"u8\x00x", "0")


def test_it_allows_only_get_in_bitfield_ro(d):
    make_list(d)
    d.many("""
        SET b hello
        BITFIELD_RO b GET u8 0 GET i4 4 GET u16 #2
        BITFIELD_RO b SET u8 0 1
        BITFIELD_RO b GET u8 0 INCRBY u8 0 1
        BITFIELD_RO b OVERFLOW SAT GET u8 0
        BITFIELD_RO b OVERFLOW FOO
        BITFIELD_RO b
        BITFIELD_RO nokey GET u8 0
        GET nokey
        BITFIELD_RO alist GET u8 0
        BITFIELD_RO alist SET u8 0 1
        BITFIELD_RO b GET u8 abc
        BITFIELD_RO
        GET b
    """)


def _random_command(rnd: random.Random) -> list:
    keys = ["a", "b", "c"]
    key = rnd.choice(keys)

    def num(lo: int = -20, hi: int = 40) -> str:
        return str(rnd.randint(lo, hi))

    def value() -> bytes:
        return bytes(rnd.choice([0, 0xFF, 0x0F, 0xF0, 0x55, 0x61, 1, 0x80]) for _ in range(rnd.randint(0, 6)))

    def ftype() -> str:
        return rnd.choice("iu") + str(rnd.randint(1, 64))

    def offset() -> str:
        return rnd.choice(["", "#"]) + num(0, 70)

    def fvalue() -> str:
        return str(rnd.randint(-(2**63), 2**63 - 1)) if rnd.random() < 0.3 else num(-300, 300)

    kind = rnd.randrange(10)
    if kind == 0:
        return ["SET", key, value()]
    if kind == 1:
        return ["BITPOS", key, rnd.choice("01")] + rnd.choice(
            [[], [num()], [num(), num()], [num(-60, 60), num(-60, 60), rnd.choice(["BIT", "BYTE"])]])
    if kind == 2:
        return ["BITCOUNT", key] + rnd.choice([[], [num(), num()], [num(-60, 60), num(-60, 60), "BIT"]])
    if kind == 3:
        return ["SETBIT", key, num(0, 60), rnd.choice("01")]
    if kind == 4:
        return ["GETBIT", key, num(0, 60)]
    if kind == 5:
        op = rnd.choice(["AND", "OR", "XOR", "NOT"])
        sources = 1 if op == "NOT" else rnd.randint(1, 3)
        return ["BITOP", op, rnd.choice(keys)] + [rnd.choice(keys + ["missing"]) for _ in range(sources)]
    if kind in (6, 7):
        cmd = ["BITFIELD", key]
        for _ in range(rnd.randint(1, 4)):
            sub = rnd.randrange(4)
            if sub == 0:
                cmd += ["GET", ftype(), offset()]
            elif sub == 1:
                cmd += ["SET", ftype(), offset(), fvalue()]
            elif sub == 2:
                cmd += ["INCRBY", ftype(), offset(), fvalue()]
            else:
                cmd += ["OVERFLOW", rnd.choice(["WRAP", "SAT", "FAIL"])]
        return cmd
    if kind == 8:
        return ["BITFIELD_RO", key, "GET", ftype(), offset()]
    return ["GET", key]


def test_it_matches_redis_on_a_random_bitmap_workload(d):
    rnd = random.Random(7001)
    for _ in range(700):
        d(*_random_command(rnd))


def test_it_checks_arity_of_every_bitmap_command(d):
    d.many("""
        SETBIT k 0
        GETBIT k
        BITCOUNT
        BITPOS k
        BITOP AND
        BITFIELD
        BITFIELD_RO
    """)

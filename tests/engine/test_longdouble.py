"""The long double emulation behind INCRBYFLOAT and HINCRBYFLOAT, without a server.

Known texts (checked against redis-server 7.0), what ``string2ld`` refuses, and a
property test against an independent oracle: exact ``Fraction`` arithmetic rounded
to 64 significant bits, printed with ``%.17f`` semantics.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.engine.longdouble import INF, ZERO, add, parse, to_human_string


def incr(current: str, increment: str) -> bytes | None:
    a, b = parse(current.encode()), parse(increment.encode())
    assert a is not None and b is not None
    total = add(a, b)
    return None if total is None else to_human_string(total)


@pytest.mark.parametrize(
    "current, increment, text",
    [
        ("0.1", "0.2", b"0.3"),
        ("10.5", "0.1", b"10.6"),  # a double would print 10.59999999999999964
        ("3.3", "-3.3", b"0"),
        ("-0", "-0.0", b"0"),
        ("1", "1e-17", b"1.00000000000000001"),
        ("2.5e-17", "0", b"0.00000000000000002"),  # the long double is just below 2.5e-17
        ("1.5e-17", "0", b"0.00000000000000002"),  # ... and this one just above 1.5e-17
        ("0x10", "1", b"17"),
        ("0x1.8p1", "5.", b"8"),
        ("+1", "+.5e-3", b"1.0005"),
        ("18446744073709551615", "1", b"18446744073709551616"),
        ("9007199254740993", "0", b"9007199254740993"),  # exact in 64 bits, not in a double
        ("123456789012345678901234567890", "1", b"123456789012345678899921813504"),  # 64 bits kept
    ],
)
def test_it_adds_and_prints_like_redis(current, increment, text):
    assert incr(current, increment) == text


@pytest.mark.parametrize(
    "arg",
    ["", " 1", "1 ", "\t1", "1\n", "nan", "-nan", "abc", "1e", "1e+", ".", "0x", "0x1p", "1_0", "1,5",
     "1e4933", "1e-4952", "1e-5000", "0x1p16384", "0x1p-16446", "1" * 5119, "0" * 5120, "1\x00", "--1"],
)
def test_it_refuses_what_string2ld_refuses(arg):
    assert parse(arg.encode()) is None


def test_it_prints_huge_values_in_full():
    text = incr("1e400", "0")  # beyond a double; the long double's exact integer value
    assert text is not None and len(text) == 401
    assert text.startswith(b"10000000000000000000281880683947586514586453433629")


def test_it_accepts_infinity_and_tiny_subnormals():
    for word in ("inf", "-inf", "Infinity", "+INF"):
        assert parse(word.encode()) is INF
    assert add(INF, ZERO) is None and add(ZERO, INF) is None
    assert parse(b"0x1p-16445") == (1, -16445)  # the smallest subnormal
    assert parse(b"1e-4950") is not None
    assert parse(b"0" * 5119) == ZERO


def test_it_overflows_to_none():
    big = parse(b"1.18e4932")
    assert big is not None and add(big, big) is None
    assert parse(b"1.19e4932") is None  # just above LDBL_MAX


# -- an independent oracle -------------------------------------------------------------

_PRECISION, _EMIN = 64, -16382


def _oracle_round(x: Fraction) -> Fraction | None:
    if x == 0:
        return Fraction(0)
    a = abs(x)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    quantum = Fraction(2) ** (max(e, _EMIN) - (_PRECISION - 1))
    r = round(a / quantum) * quantum
    if r >= Fraction(2) ** 16384:
        return None
    return r if x > 0 else -r


def _oracle_text(x: Fraction) -> bytes:
    whole, frac = divmod(round(abs(x) * 10**17), 10**17)
    tail = (b"%017d" % frac).rstrip(b"0")
    text = b"%d" % whole + (b"." + tail if tail else b"")
    return b"-" + text if x < 0 and text != b"0" else text


def _exact(value: tuple[int, int]) -> Fraction:
    return Fraction(value[0]) * Fraction(2) ** value[1]


_decimals = st.builds(
    lambda sign, whole, frac, exp: f"{sign}{whole}.{frac}e{exp}",
    st.sampled_from(["", "-", "+"]), st.integers(0, 10**20), st.integers(0, 10**20), st.integers(-60, 60),
)


@settings(max_examples=300, deadline=None)
@given(a=_decimals, b=_decimals)
def test_it_rounds_once_per_operation_like_an_exact_oracle(a, b):
    x, y = parse(a.encode()), parse(b.encode())
    assert x is not None and y is not None
    # parsing rounds the exact decimal value once
    assert _exact(x) == _oracle_round(Fraction(a))
    assert _exact(y) == _oracle_round(Fraction(b))
    total = add(x, y)
    expected = _oracle_round(_exact(x) + _exact(y))
    assert total is not None and expected is not None
    assert _exact(total) == expected
    assert to_human_string(total) == _oracle_text(expected)


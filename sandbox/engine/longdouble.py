"""Redis's ``long double`` arithmetic, emulated exactly: INCRBYFLOAT and HINCRBYFLOAT.

Redis parses their arguments with ``string2ld`` (``strtold`` over the whole
string), adds in the C ``long double`` — the x87 80-bit format on x86-64: a 64-bit
significand, ties to even, subnormals below 2**-16382, overflow from 2**16384 — and
prints the sum with ``ld2string`` in human mode (``%.17Lf``, trailing zeros and a
bare dot removed). A Python ``float`` would print ``0.1 + 0.2`` as
``0.30000000000000004`` where Redis prints ``0.3``, and would refuse ``1e400``,
which Redis accepts.

Representation and invariants:
* a finite value is a ``LongDouble``, ``(m, e)`` meaning ``m * 2**e`` with
  integer ``m`` (``|m| < 2**64``) and ``e``; every ``LongDouble`` this module returns
  is already rounded to the format, so it is exactly what the FPU would hold;
* ``INF`` stands for either infinity, which Redis accepts as an argument but which
  only ever leads to an error reply, so its sign is not kept;
* ``None`` means "Redis refuses this": unparsable text, or an overflow.

Exactness was checked against redis-server 7.0 on ~16,000 generated cases
(tests/engine/test_strings.py keeps a differential property test of it).
"""

from __future__ import annotations

import re
from typing import Final, Union

LongDouble = tuple[int, int]


class _Infinity:
    __slots__ = ()

    def __repr__(self) -> str:
        return "INF"


INF: Final = _Infinity()
ZERO: Final[LongDouble] = (0, 0)

_BITS = 64  # significand bits
_MIN_EXP = -16445  # exponent of the smallest subnormal's unit (2**-16445)
_LIMIT_BITS = 16384  # values from 2**16384 on overflow to inf
_MAX_CHARS = 5 * 1024  # MAX_LONG_DOUBLE_CHARS: longer arguments are refused

_DEC_RE = re.compile(rb"([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\Z")
_HEX_RE = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?\Z")
_INF_WORDS = {b"inf", b"+inf", b"-inf", b"infinity", b"+infinity", b"-infinity"}
_DIGIT_CHUNK = 4000  # below Python's int<->str digit limit (4300)
_BIG = 10**_DIGIT_CHUNK
_FRACTION_DIGITS = 10**17  # %.17Lf


def _shift_right_even(a: int, shift: int) -> int:
    """``a / 2**shift`` rounded to an integer, ties to even (``a >= 0``, ``shift > 0``):
    the rounding of both the FPU and glibc's printf."""
    q = a >> shift
    rest = a - (q << shift)
    half = 1 << (shift - 1)
    if rest > half or (rest == half and q & 1):
        q += 1
    return q


def _round(m: int, e: int) -> LongDouble | None:
    """``m * 2**e`` rounded to the nearest long double (ties to even); None on overflow."""
    if m == 0:
        return ZERO
    neg = m < 0
    a = -m if neg else m
    shift = a.bit_length() - _BITS
    if e + shift < _MIN_EXP:
        shift = _MIN_EXP - e  # subnormal: fewer significant bits
    if shift > 0:
        a, e = _shift_right_even(a, shift), e + shift
    if a.bit_length() + e > _LIMIT_BITS:
        return None
    return (-a if neg else a), e


def _round_ratio(n: int, d: int, e: int) -> LongDouble | None:
    """``(n / d) * 2**e`` rounded to a long double, for n, d > 0."""
    s = _BITS + 2 - (n.bit_length() - d.bit_length())
    q, r = divmod(n << s, d) if s >= 0 else divmod(n, d << -s)
    # q has at least 65 bits; a sticky bit below it keeps ties and "just above" apart.
    return _round((q << 1) | (1 if r else 0), e - s - 1)


def _exponent(digits: bytes | None) -> int:
    """An exponent argument, clamped far beyond any representable range."""
    if not digits:
        return 0
    sign = -1 if digits[:1] == b"-" else 1
    body = digits.lstrip(b"+-").lstrip(b"0")
    return sign * (int(body) if len(body) < 10 else 10**9) if body else 0


def _digits_to_int(digits: bytes) -> int:
    if len(digits) <= _DIGIT_CHUNK:
        return int(digits)
    n = 0
    for i in range(0, len(digits), _DIGIT_CHUNK):
        chunk = digits[i : i + _DIGIT_CHUNK]
        n = n * 10 ** len(chunk) + int(chunk)
    return n


def _int_to_digits(n: int) -> bytes:
    if n < _BIG:
        return b"%d" % n
    high, low = divmod(n, _BIG)
    return _int_to_digits(high) + b"%0*d" % (_DIGIT_CHUNK, low)


def parse(arg: bytes) -> Union[LongDouble, _Infinity, None]:
    """Redis's ``string2ld``: the value, ``INF``, or None where Redis refuses it
    (empty or >= 5 KiB, spaces, unparsed bytes, NaN, overflow, and a non-zero
    number that underflows to zero; tiny subnormal results are accepted)."""
    if not arg or len(arg) >= _MAX_CHARS:
        return None
    match = _DEC_RE.match(arg)
    if match is not None:
        sign, whole, frac, exp = match.groups()
        frac = frac or b""
        if not whole and not frac:
            return None
        digits = (whole + frac).lstrip(b"0")
        if not digits:
            return ZERO
        exp10 = _exponent(exp) - len(frac)
        magnitude = len(digits) + exp10  # value < 10**magnitude
        if magnitude - 1 >= 4933:  # >= 1e4933, beyond LDBL_MAX
            return None
        if magnitude <= -4951:  # < 1e-4951, rounds to zero
            return None
        mantissa = _digits_to_int(digits)
        if exp10 >= 0:
            value = _round(mantissa * 10**exp10, 0)
        else:
            value = _round_ratio(mantissa, 5**-exp10, exp10)
    else:
        match = _HEX_RE.match(arg)
        if match is None:
            return INF if arg.lower() in _INF_WORDS else None
        sign, whole, frac, exp = match.groups()
        frac = frac or b""
        if not whole and not frac:
            return None
        mantissa = int(whole + frac, 16)
        if not mantissa:
            return ZERO
        exp2 = _exponent(exp) - 4 * len(frac)
        bits = mantissa.bit_length() + exp2
        if bits > _LIMIT_BITS + 1 or bits < _MIN_EXP - 1:
            return None
        value = _round(mantissa, exp2)
    if value is None or value[0] == 0:
        return None  # ERANGE: overflow, or a non-zero number that rounds to zero
    return (-value[0], value[1]) if sign == b"-" else value


def add(x: Union[LongDouble, _Infinity], y: Union[LongDouble, _Infinity]) -> LongDouble | None:
    """``x + y`` rounded once, as the FPU adds; None when the sum is infinite."""
    if x is INF or y is INF:
        return None
    (xm, xe), (ym, ye) = x, y  # type: ignore[misc]
    e = xe if xe < ye else ye
    return _round((xm << (xe - e)) + (ym << (ye - e)), e)


def to_human_string(value: LongDouble) -> bytes:
    """``ld2string`` in human mode: ``%.17Lf`` (exact, ties to even), trailing zeros
    and a trailing dot removed, ``-0`` printed as ``0``."""
    m, e = value
    a = -m if m < 0 else m
    if e >= 0:
        text = _int_to_digits(a << e)
    else:
        whole, frac = divmod(_shift_right_even(a * _FRACTION_DIGITS, -e), _FRACTION_DIGITS)
        text = _int_to_digits(whole)
        tail = (b"%017d" % frac).rstrip(b"0")
        if tail:
            text += b"." + tail
    if m < 0 and text != b"0":
        text = b"-" + text
    return text

"""Argument parsing shared by command bodies, with Redis's exact strictness.

Redis parses integers with ``string2ll`` (no spaces, no '+', no leading zeros) and
doubles with ``strtod`` (hex and ``inf`` accepted; NaN, spaces, trailing bytes and
overflow rejected). Python's ``int()``/``float()`` accept more ("1_000", " 1",
"nan"), so every command goes through these.
"""

from __future__ import annotations

import math
import re

from .. import errors
from ..errors import RedisError
from ..resp import string2ll

_DEC_FLOAT = re.compile(rb"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)\Z")
_HEX_FLOAT = re.compile(rb"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?\Z")
_INF = {b"inf", b"+inf", b"infinity", b"+infinity"}
_NEG_INF = {b"-inf", b"-infinity"}


def parse_int(arg: bytes, error: RedisError = errors.NOT_INTEGER) -> int:
    """A signed 64-bit integer, or ``error``."""
    v = string2ll(arg)
    if v is None:
        raise error
    return v


def parse_nonneg_int(arg: bytes, error: RedisError = errors.NOT_INTEGER) -> int:
    v = parse_int(arg, error)
    if v < 0:
        raise errors.COUNT_NEGATIVE
    return v


def to_float(arg: bytes) -> float | None:
    """``strtod``-compatible parse; None where Redis would refuse the value."""
    if not arg or len(arg) > 5000:
        return None
    low = arg.lower()
    if low in _INF:
        return math.inf
    if low in _NEG_INF:
        return -math.inf
    if _DEC_FLOAT.match(arg):
        v = float(arg)
        if math.isinf(v):
            return None  # overflow (ERANGE)
        if v == 0.0 and re.search(rb"[1-9]", arg.split(b"e")[0].split(b"E")[0]):
            return None  # underflow to zero (ERANGE)
        return v
    if _HEX_FLOAT.match(arg):
        text = arg.decode()
        sign = -1.0 if text.startswith("-") else 1.0
        try:
            v = float.fromhex(text.lstrip("+-")) * sign
        except OverflowError:
            return None
        return None if math.isinf(v) else v
    return None


def parse_float(arg: bytes, error: RedisError = errors.NOT_FLOAT) -> float:
    v = to_float(arg)
    if v is None:
        raise error
    return v


def int_bytes(v: int) -> bytes:
    return b"%d" % v

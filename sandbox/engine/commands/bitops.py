"""Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.

A bitmap is a string: bit 0 is the most significant bit of the first byte, and
bits past the end read as 0. Writes that reach past the end grow the string with
zero bytes, up to ``proto-max-bulk-len``.

Invariants kept here, as Redis 7.0 keeps them:
* Bit offsets are checked before the key is looked up; BITCOUNT and BITPOS look the
  key up before parsing their range (a missing key answers 0 / -1 whatever follows).
* A write is signalled (and logged as its own argv) only when it changed the
  string: SETBIT of a bit to its current value, or BITFIELD SET/INCRBY producing
  the same field, is not a change unless the string had to grow.
* Every write keeps the key's TTL, except BITOP, which replaces its destination.
"""

from __future__ import annotations

from typing import Any

from .. import encodings, errors
from ..context import Ctx
from ..resp import string2ll
from . import command
from .keyspecs import READ, READ_WRITE
from .util import keyword, max_bulk_len, parse_int, string_range


_NOT_TABLE = bytes(255 - i for i in range(256))


def _bit_offset(ctx: Ctx, arg: bytes, bits: int = 0) -> int:
    """A bit offset (``#n`` means n * bits for BITFIELD); the string it reaches must
    stay under proto-max-bulk-len."""
    hashed = bits > 0 and arg[:1] == b"#"
    offset = string2ll(arg[1:] if hashed else arg)
    if offset is None:
        raise errors.BIT_OFFSET
    if hashed:
        offset = ((offset * bits + 2**63) % 2**64) - 2**63  # C's wrapping multiply
    if offset < 0 or (offset >> 3) >= max_bulk_len(ctx):
        raise errors.BIT_OFFSET
    return offset


def _grown(value: bytes | None, size: int) -> bytearray:
    """A mutable copy of ``value`` at least ``size`` bytes long (zero-padded).

    Allocated once at its final size: copying then extending held up to three
    copies of a string SETBIT grows to hundreds of MB.
    """
    if value is None or len(value) < size:
        buf = bytearray(size)
        if value:
            buf[: len(value)] = value
        return buf
    return bytearray(value)


def _setbit_growth(argv: list[bytes]) -> int:
    """The string SETBIT may create: every byte up to the one holding the bit."""
    offset = string2ll(argv[2])
    return 0 if offset is None or offset < 0 else (offset >> 3) + 1


def _bitfield_growth(argv: list[bytes]) -> int:
    """The string BITFIELD's SET/INCRBY may create: up to the byte of its furthest field."""
    furthest = 0
    for i in range(2, len(argv) - 2):
        if argv[i].lower() not in (b"set", b"incrby"):
            continue
        kind, offset = argv[i + 1], argv[i + 2]
        bits = string2ll(kind[1:]) if kind[:1] in (b"i", b"u", b"I", b"U") else None
        hashed = offset[:1] == b"#"
        n = string2ll(offset[1:] if hashed else offset)
        if bits is None or n is None or bits <= 0 or n < 0:
            continue  # the command refuses it
        end = (n * bits if hashed else n) + bits
        furthest = max(furthest, (end + 7) >> 3)
    return furthest


@command("setbit", 4, "write denyoom", keys=(1, 1, 1), acl="@bitmap", since="2.2.0", group="bitmap",
         grows=_setbit_growth,
         summary="Set or clear one bit of a string (growing it); returns the bit's previous value.",
         args="key offset value", key_flags=("RW access update",))
def setbit(ctx: Ctx, argv: list[bytes]) -> Any:
    key = argv[1]
    offset = _bit_offset(ctx, argv[2])
    on = string2ll(argv[3])
    if on is None or on & ~1:
        raise errors.BIT_VALUE
    value = ctx.lookup_typed(key, bytes)
    byte = offset >> 3
    shift = 7 - (offset & 7)
    grows = value is None or byte >= len(value)
    old = 0 if grows else (value[byte] >> shift) & 1  # type: ignore[index]
    if grows or old != on:
        buf = _grown(value, byte + 1)
        if on:
            buf[byte] |= 1 << shift
        else:
            buf[byte] &= ~(1 << shift) & 0xFF
        ctx.store(key, bytes(buf), keep_ttl=True)
    else:
        encodings.note_raw(ctx, key, value)  # type: ignore[arg-type]
    return old


@command("getbit", 3, "readonly fast", keys=(1, 1, 1), acl="@bitmap", since="2.2.0", group="bitmap",
         summary="Return one bit of a string (0 past its end).", args="key offset")
def getbit(ctx: Ctx, argv: list[bytes]) -> Any:
    offset = _bit_offset(ctx, argv[2])
    value = ctx.lookup_typed(argv[1], bytes)
    byte = offset >> 3
    if value is None or byte >= len(value):
        return 0
    return (value[byte] >> (7 - (offset & 7))) & 1


def _range_unit(arg: bytes) -> bool:
    """True for BIT, False for BYTE."""
    unit = keyword(arg)
    if unit == b"bit":
        return True
    if unit != b"byte":
        raise errors.SYNTAX
    return False


@command("bitcount", -2, "readonly", keys=(1, 1, 1), acl="@bitmap", since="2.6.0", group="bitmap",
         complexity="O(N)", summary="Count the set bits of a string, optionally within a byte or bit range.",
         args="key [start end [BYTE | BIT]]")
def bitcount(ctx: Ctx, argv: list[bytes]) -> Any:
    value = ctx.lookup_typed(argv[1], bytes)
    if value is None:
        return 0
    n = len(argv)
    if n == 2:
        return int.from_bytes(value, "big").bit_count()
    if n not in (4, 5):
        raise errors.SYNTAX
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    if start < 0 and end < 0 and start > end:
        return 0  # before the unit is parsed: "BITCOUNT k -1 -2 NOPE" answers 0
    isbit = n == 5 and _range_unit(argv[4])
    span = string_range(start, end, len(value) * 8 if isbit else len(value))
    if span is None:
        return 0
    start, end = span
    if not isbit:
        return int.from_bytes(value[start : end + 1], "big").bit_count()
    field = int.from_bytes(value[start >> 3 : (end >> 3) + 1], "big") >> (7 - (end & 7))
    return (field & ((1 << (end - start + 1)) - 1)).bit_count()


def _first_bit(chunk: bytes | bytearray, bit: int) -> int:
    """Position of the first ``bit`` in ``chunk``, or -1."""
    rest = chunk.lstrip(b"\x00" if bit else b"\xff")
    if not rest:
        return -1
    byte = rest[0] if bit else rest[0] ^ 0xFF
    return (len(chunk) - len(rest)) * 8 + 8 - byte.bit_length()


@command("bitpos", -3, "readonly", keys=(1, 1, 1), acl="@bitmap", since="2.8.7", group="bitmap",
         complexity="O(N)", summary="Position of the first bit set to 0 or 1, optionally within a byte or bit range.",
         args="key bit [start [end [BYTE | BIT]]]")
def bitpos(ctx: Ctx, argv: list[bytes]) -> Any:
    bit = parse_int(argv[2])
    if bit != 0 and bit != 1:
        raise errors.BIT_ARG
    value = ctx.lookup_typed(argv[1], bytes)
    if value is None:
        return -1 if bit else 0  # an infinite run of zeros
    n = len(argv)
    isbit = end_given = False
    if n == 3:
        start, end = 0, len(value) - 1
    elif n <= 6:
        start = parse_int(argv[3])
        if n == 6:
            isbit = _range_unit(argv[5])
        if n >= 5:
            end = parse_int(argv[4])
            end_given = True
        else:
            end = len(value) - 1
        span = string_range(start, end, len(value) * 8 if isbit else len(value))
        if span is None:
            return -1
        start, end = span
    else:
        raise errors.SYNTAX
    if start > end:
        return -1  # an empty string
    if isbit:
        first, last = start >> 3, end >> 3
        chunk = bytearray(value[first : last + 1])
        head = ~((1 << (8 - (start & 7))) - 1) & 0xFF  # bits before start
        tail = (1 << (7 - (end & 7))) - 1  # bits after end
        if bit:
            chunk[0] &= ~head & 0xFF
            chunk[-1] &= ~tail & 0xFF
        else:
            chunk[0] |= head
            chunk[-1] |= tail
        base = first
    else:
        chunk = value[start : end + 1]  # type: ignore[assignment]
        base = start
    pos = _first_bit(chunk, bit)
    if pos >= 0:
        return base * 8 + pos
    if bit or end_given:
        return -1
    return (base + len(chunk)) * 8  # looking for 0 with an open end: the first bit past the string


@command("bitop", -4, "write denyoom", keys=(2, -1, 1), acl="@bitmap", since="2.6.0", group="bitmap",
         complexity="O(N)", summary="Store the AND, OR, XOR of strings, or NOT of one, at a destination key.",
         args="AND | OR | XOR | NOT destkey key [key ...]", key_flags=("OW update", "RO access"))
def bitop(ctx: Ctx, argv: list[bytes]) -> Any:
    op = keyword(argv[1])
    if op not in (b"and", b"or", b"xor", b"not"):
        raise errors.SYNTAX
    if op == b"not" and len(argv) != 4:
        raise errors.BIT_BITOP_NOT
    dest = argv[2]
    sources = [ctx.lookup_typed(key, bytes) or b"" for key in argv[3:]]
    size = max(len(s) for s in sources)
    if not size:
        if ctx.lookup(dest) is not None:
            ctx.db.remove(dest)
            ctx.changed(dest)
        return 0
    if op == b"not":
        result = sources[0].translate(_NOT_TABLE)
    else:
        # A shorter (or missing) source reads as zero bytes past its end.
        ints = [int.from_bytes(s.ljust(size, b"\0"), "big") for s in sources]
        acc = ints[0]
        if op == b"and":
            for x in ints[1:]:
                acc &= x
        elif op == b"or":
            for x in ints[1:]:
                acc |= x
        else:
            for x in ints[1:]:
                acc ^= x
        result = acc.to_bytes(size, "big")
    ctx.store(dest, result)
    return size


# -- BITFIELD -------------------------------------------------------------------

_GET, _SET, _INCRBY = 0, 1, 2
_WRAP, _SAT, _FAIL = 0, 1, 2
_SUBCOMMANDS = {b"get": (_GET, 2), b"set": (_SET, 3), b"incrby": (_INCRBY, 3)}
_OVERFLOWS = {b"wrap": _WRAP, b"sat": _SAT, b"fail": _FAIL}


def _bitfield_type(arg: bytes) -> tuple[bool, int]:
    """``i<bits>`` (1..64) or ``u<bits>`` (1..63): (signed, bits)."""
    if b"\0" in arg:
        arg = arg[: arg.index(b"\0")]
    signed = arg[:1] == b"i"
    if not signed and arg[:1] != b"u":
        raise errors.BIT_BITFIELD_TYPE
    bits = string2ll(arg[1:])
    if bits is None or bits < 1 or bits > (64 if signed else 63):
        raise errors.BIT_BITFIELD_TYPE
    return signed, bits


def _read_field(buf: bytes | bytearray, offset: int, bits: int, signed: bool) -> int:
    first, last = offset >> 3, (offset + bits - 1) >> 3
    width = last - first + 1
    raw = int.from_bytes(buf[first : last + 1].ljust(width, b"\0"), "big")
    raw = (raw >> (width * 8 - (offset & 7) - bits)) & ((1 << bits) - 1)
    if signed and raw >> (bits - 1):
        raw -= 1 << bits
    return raw


def _write_field(buf: bytearray, offset: int, bits: int, value: int) -> None:
    first, last = offset >> 3, (offset + bits - 1) >> 3
    width = last - first + 1
    shift = width * 8 - (offset & 7) - bits
    mask = ((1 << bits) - 1) << shift
    cur = int.from_bytes(buf[first : last + 1], "big")
    cur = (cur & ~mask) | ((value << shift) & mask)
    buf[first : last + 1] = cur.to_bytes(width, "big")


def _apply(old: int, op: int, arg: int, signed: bool, bits: int, overflow: int) -> int | None:
    """The field's new value after SET/INCRBY, or None when OVERFLOW FAIL refuses it."""
    if signed:
        high = (1 << (bits - 1)) - 1
        low = -high - 1
        target = old + arg if op == _INCRBY else arg
    else:
        high, low = (1 << bits) - 1, 0
        # SET takes the argument as a uint64 (a negative one is a huge value).
        target = old + arg if op == _INCRBY else arg % 2**64
    if low <= target <= high:
        return target
    if overflow == _FAIL:
        return None
    if overflow == _SAT:
        return high if target > high else low
    wrapped = target % (1 << bits)
    if signed and wrapped > high:
        wrapped -= 1 << bits
    return wrapped


def _bitfield(ctx: Ctx, argv: list[bytes], readonly_command: bool) -> Any:
    key = argv[1]
    ops: list[tuple[int, bool, int, int, int, int]] = []  # (op, signed, bits, offset, arg, overflow)
    overflow = _WRAP
    writes = False
    highest = 0
    n = len(argv)
    j = 2
    while j < n:
        left = n - j - 1
        name = keyword(argv[j])
        sub = _SUBCOMMANDS.get(name)
        if sub is None or left < sub[1]:
            if name == b"overflow" and left >= 1:
                overflow = _OVERFLOWS.get(keyword(argv[j + 1]), -1)
                if overflow < 0:
                    raise errors.BIT_OVERFLOW_TYPE
                j += 2
                continue
            raise errors.SYNTAX
        op = sub[0]
        signed, bits = _bitfield_type(argv[j + 1])
        offset = _bit_offset(ctx, argv[j + 2], bits)
        arg = 0
        if op != _GET:
            writes = True
            highest = max(highest, offset + bits - 1)
            arg = parse_int(argv[j + 3])
        ops.append((op, signed, bits, offset, arg, overflow))
        j += 1 + sub[1]

    if not writes:
        value = ctx.lookup_typed(key, bytes) or b""
        return [_read_field(value, offset, bits, signed) for _op, signed, bits, offset, _a, _o in ops]
    if readonly_command:
        raise errors.BIT_BITFIELD_RO
    value = ctx.lookup_typed(key, bytes)
    size = (highest >> 3) + 1
    grows = value is None or len(value) < size
    buf = _grown(value, size)
    replies: list[int | None] = []
    changes = 0
    for op, signed, bits, offset, arg, how in ops:
        old = _read_field(buf, offset, bits, signed)
        if op == _GET:
            replies.append(old)
            continue
        new = _apply(old, op, arg, signed, bits, how)
        if new is None:
            replies.append(None)
            continue
        replies.append(new if op == _INCRBY else old)
        _write_field(buf, offset, bits, new)
        if grows or new != old:
            changes += 1
    if changes or grows:
        # Redis 7.0 creates or grows the string even when every write failed
        # (OVERFLOW FAIL) but then logs nothing, so a replica misses it; we log it.
        ctx.store(key, bytes(buf), keep_ttl=True)
        ctx.add_dirty(max(changes - 1, 0))
    return replies


def _bitfield_key_access(argv: list[bytes]) -> list[tuple[int, int]]:
    """BITFIELD with only GET (and OVERFLOW) reads; SET or INCRBY also write."""
    writes = any(a.lower() in (b"set", b"incrby") for a in argv[2:])
    return [(1, READ_WRITE if writes else READ)]


@command("bitfield", -2, "write denyoom", keys=(1, 1, 1), acl="@bitmap", since="3.2.0", group="bitmap",
         grows=_bitfield_growth, key_access=_bitfield_key_access,
         complexity="O(1) for each subcommand specified",
         summary="Read, set and increment integer fields of any width at any bit offset of a string.",
         args="key [GET encoding offset | [OVERFLOW WRAP | SAT | FAIL] SET encoding offset value | "
              "INCRBY encoding offset increment ...]", key_flags=("RW access update variable_flags",))
def bitfield(ctx: Ctx, argv: list[bytes]) -> Any:
    return _bitfield(ctx, argv, False)


@command("bitfield_ro", -2, "readonly fast", keys=(1, 1, 1), acl="@bitmap", since="6.0.0", group="bitmap",
         complexity="O(1) for each subcommand specified",
         summary="Read integer fields of a string (the GET-only BITFIELD, allowed on replicas).",
         args="key [GET encoding offset ...]")
def bitfield_ro(ctx: Ctx, argv: list[bytes]) -> Any:
    return _bitfield(ctx, argv, True)

"""The compact blobs inside RDB objects: listpacks (Redis 7.0's small lists, hashes,
sorted sets and stream nodes), intsets, and the ziplists of older payloads.

A listpack is ``total-bytes (u32 LE) | count (u16 LE, 65535 = unknown) | entries |
0xFF``; an entry is ``encoding+data | backlen``, and a string that reads as a
canonical 64-bit integer (``string2ll``) is stored as the smallest integer form.
An intset is ``width (u32 LE: 2, 4 or 8) | count (u32 LE) | sorted values``.

Invariants: ``listpack`` builds the bytes Redis 7.0 builds for the same elements
(``lpAppend``), so the blobs compare byte for byte; the readers return every
element as bytes (integers in their decimal form) and raise ``RdbError`` for any
blob whose declared sizes, counts or encodings disagree with its bytes — they never
read past the blob and never allocate from a declared size.
"""

from __future__ import annotations

from typing import Iterable

from .rdb import RdbError
from .resp import string2ll

_END = 0xFF
_NUMELE_UNKNOWN = 65535


# -- listpack -----------------------------------------------------------------------------


def _backlen(n: int) -> bytes:
    """The entry length, written to be read backwards (7 bits a byte)."""
    if n <= 127:
        return bytes((n,))
    if n < 16383:
        return bytes((n >> 7, (n & 127) | 128))
    if n < 2097151:
        return bytes((n >> 14, ((n >> 7) & 127) | 128, (n & 127) | 128))
    if n < 268435455:
        return bytes((n >> 21, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128, (n & 127) | 128))
    return bytes((n >> 28, ((n >> 21) & 127) | 128, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128,
                  (n & 127) | 128))


def lp_int(v: int) -> bytes:
    """An integer entry (encoding, data, backlen)."""
    if 0 <= v <= 127:
        enc = bytes((v,))
    elif -4096 <= v <= 4095:
        u = v & 0x1FFF
        enc = bytes((0xC0 | (u >> 8), u & 0xFF))
    elif -32768 <= v <= 32767:
        enc = b"\xf1" + v.to_bytes(2, "little", signed=True)
    elif -8388608 <= v <= 8388607:
        enc = b"\xf2" + v.to_bytes(3, "little", signed=True)
    elif -2147483648 <= v <= 2147483647:
        enc = b"\xf3" + v.to_bytes(4, "little", signed=True)
    else:
        enc = b"\xf4" + v.to_bytes(8, "little", signed=True)
    return enc + _backlen(len(enc))


def lp_entry(s: bytes) -> bytes:
    """A string entry; canonical integers become integer entries, as lpAppend does."""
    v = string2ll(s)
    if v is not None:
        return lp_int(v)
    n = len(s)
    if n < 64:
        enc = bytes((0x80 | n,)) + s
    elif n < 4096:
        enc = bytes((0xE0 | (n >> 8), n & 0xFF)) + s
    else:
        enc = b"\xf0" + n.to_bytes(4, "little") + s
    return enc + _backlen(len(enc))


def listpack(entries: list[bytes]) -> bytes:
    """A listpack holding ``entries`` (already encoded by ``lp_entry``/``lp_int``)."""
    body = b"".join(entries)
    count = len(entries)
    total = 6 + len(body) + 1
    return total.to_bytes(4, "little") + min(count, _NUMELE_UNKNOWN).to_bytes(2, "little") + body + b"\xff"


def listpack_of(values: Iterable[bytes]) -> bytes:
    return listpack([lp_entry(v) for v in values])


def read_listpack(blob: bytes) -> list[bytes]:
    """Every element of a listpack, strictly validated."""
    n = len(blob)
    if n < 7 or int.from_bytes(blob[0:4], "little") != n or blob[-1] != _END:
        raise RdbError("listpack header")
    declared = int.from_bytes(blob[4:6], "little")
    out: list[bytes] = []
    i, end = 6, n - 1
    while i < end:
        start = i
        b = blob[i]
        if b < 0x80:
            value: bytes = b"%d" % b
            i += 1
        elif b < 0xC0:
            size = b & 0x3F
            value = blob[i + 1:i + 1 + size]
            i += 1 + size
        elif b < 0xE0:
            if i + 2 > end:
                raise RdbError("listpack entry")
            u = ((b & 0x1F) << 8) | blob[i + 1]
            value = b"%d" % (u - 0x2000 if u >= 0x1000 else u)
            i += 2
        elif b < 0xF0:
            if i + 2 > end:
                raise RdbError("listpack entry")
            size = ((b & 0x0F) << 8) | blob[i + 1]
            value = blob[i + 2:i + 2 + size]
            i += 2 + size
        elif b == 0xF0:
            if i + 5 > end:
                raise RdbError("listpack entry")
            size = int.from_bytes(blob[i + 1:i + 5], "little")
            value = blob[i + 5:i + 5 + size]
            i += 5 + size
        elif 0xF1 <= b <= 0xF4:
            width = (2, 3, 4, 8)[b - 0xF1]
            value = b"%d" % int.from_bytes(blob[i + 1:i + 1 + width], "little", signed=True)
            i += 1 + width
        else:
            raise RdbError("listpack encoding")
        if i > end:
            raise RdbError("listpack entry overruns")
        back = _backlen(i - start)
        if blob[i:i + len(back)] != back:
            raise RdbError("listpack backlen")
        i += len(back)
        out.append(value)
    if i != end:
        raise RdbError("listpack tail")
    if declared != _NUMELE_UNKNOWN and declared != len(out):
        raise RdbError("listpack count")
    return out


# -- intset ---------------------------------------------------------------------------------


def intset(values: list[int]) -> bytes:
    """An intset of ``values`` (sorted ascending, distinct)."""
    lo, hi = (values[0], values[-1]) if values else (0, 0)
    width = 2 if -32768 <= lo and hi <= 32767 else 4 if -(2**31) <= lo and hi < 2**31 else 8
    body = b"".join(v.to_bytes(width, "little", signed=True) for v in values)
    return width.to_bytes(4, "little") + len(values).to_bytes(4, "little") + body


def read_intset(blob: bytes) -> list[bytes]:
    if len(blob) < 8:
        raise RdbError("intset header")
    width = int.from_bytes(blob[0:4], "little")
    count = int.from_bytes(blob[4:8], "little")
    if width not in (2, 4, 8) or 8 + width * count != len(blob):
        raise RdbError("intset size")
    values = [int.from_bytes(blob[8 + k * width:8 + (k + 1) * width], "little", signed=True) for k in range(count)]
    if any(a >= b for a, b in zip(values, values[1:])):
        raise RdbError("intset order")
    return [b"%d" % v for v in values]


# -- ziplist (payloads of Redis before 7.0) -------------------------------------------------


def read_ziplist(blob: bytes) -> list[bytes]:
    """Every element of a ziplist (``zlbytes | zltail | zllen | entries | 0xFF``)."""
    n = len(blob)
    if n < 11 or int.from_bytes(blob[0:4], "little") != n or blob[-1] != _END:
        raise RdbError("ziplist header")
    declared = int.from_bytes(blob[8:10], "little")
    out: list[bytes] = []
    i, end = 10, n - 1
    prev = 0
    while i < end:
        start = i
        if blob[i] < 254:
            prevlen = blob[i]
            i += 1
        else:
            if blob[i] != 254 or i + 5 > end:
                raise RdbError("ziplist prevlen")
            prevlen = int.from_bytes(blob[i + 1:i + 5], "little")
            i += 5
        if prevlen != prev or i >= end:
            raise RdbError("ziplist prevlen")
        b = blob[i]
        kind = b >> 6
        if kind == 0:
            size, i = b & 0x3F, i + 1
        elif kind == 1:
            size, i = ((b & 0x3F) << 8) | blob[i + 1], i + 2
        elif b == 0x80:
            size, i = int.from_bytes(blob[i + 1:i + 5], "big"), i + 5
        else:
            size = -1
        if size >= 0:
            value = blob[i:i + size]
            i += size
        else:
            i += 1
            widths = {0xC0: 2, 0xD0: 4, 0xE0: 8, 0xF0: 3, 0xFE: 1}
            if b in widths:
                w = widths[b]
                value = b"%d" % int.from_bytes(blob[i:i + w], "little", signed=True)
                i += w
            elif 0xF1 <= b <= 0xFD:
                value = b"%d" % ((b & 0x0F) - 1)
            else:
                raise RdbError("ziplist encoding")
        if i > end:
            raise RdbError("ziplist entry overruns")
        prev = i - start
        out.append(value)
    if declared != 65535 and declared != len(out):
        raise RdbError("ziplist count")
    return out

"""The reusable pieces of Redis's serialization format (RDB), as DUMP payloads use it.

A DUMP payload is ``object | rdb-version (2 bytes LE) | crc64 (8 bytes LE)``, the
CRC taken over everything before it (``wrap_payload`` / ``open_payload``). Inside
the object, lengths use RDB's variable-length encoding (``encode_length``) and
strings RDB's string encoding (``encode_string``): small canonical integers as
INT8/16/32, strings over 20 bytes LZF-compressed when that saves at least 4 bytes,
else length-prefixed. FUNCTION DUMP/RESTORE uses the same pieces.

Invariants:
* Strings up to ``LZF_EXACT_LIMIT`` bytes are encoded as Redis encodes them; longer
  ones are never compressed (CPU time on the event loop), so only their data, not
  their bytes, equals Redis's DUMP.
* ``lzf_compress`` makes the bytes Redis 7.0's bundled liblzf makes (HLOG 16,
  VERY_FAST, match references never at offset 0), so a string dumped here equals
  redis-server's DUMP of it byte for byte. Redis's hash table starts with stale
  stack contents, which in principle may add a match we don't find; its output
  stays valid LZF either way, and the decompressor reads both.
* Reading never trusts a declared length: a ``Reader`` refuses any length beyond
  the bytes it holds, and an LZF string may not declare more than its compressed
  size can expand to, nor more than ``max_len``. Every failure is ``RdbError``,
  which RESTORE reports as ``Bad data format``.
"""

from __future__ import annotations

import struct

from .resp import string2ll

RDB_VERSION = 10  # Redis 7.0's; payloads of this version or older are accepted

# Object types (the first byte of a DUMP payload).
TYPE_STRING = 0
TYPE_LIST = 1
TYPE_SET = 2
TYPE_ZSET = 3
TYPE_HASH = 4
TYPE_ZSET_2 = 5
TYPE_HASH_ZIPMAP = 9
TYPE_LIST_ZIPLIST = 10
TYPE_SET_INTSET = 11
TYPE_ZSET_ZIPLIST = 12
TYPE_HASH_ZIPLIST = 13
TYPE_LIST_QUICKLIST = 14
TYPE_STREAM_LISTPACKS = 15
TYPE_HASH_LISTPACK = 16
TYPE_ZSET_LISTPACK = 17
TYPE_LIST_QUICKLIST_2 = 18
TYPE_STREAM_LISTPACKS_2 = 19

_ENC_INT8, _ENC_INT16, _ENC_INT32, _ENC_LZF = 0, 1, 2, 3
# Pure-Python LZF costs about 0.8 s of CPU per MB of incompressible input, and a DUMP
# runs on the node's event loop: longer strings are written uncompressed (valid for
# any reader, but not Redis's bytes). Up to this size DUMP's bytes are Redis's.
LZF_EXACT_LIMIT = 128 * 1024
_LZF_MAX_RATIO = 88  # a 3-byte back reference expands to at most 264 bytes


class RdbError(Exception):
    """A payload that does not decode (RESTORE's ``Bad data format``)."""


# -- CRC64 (Jones polynomial, reflected, no final xor) ------------------------------------


def _crc64_table() -> list[int]:
    poly = 0x95AC9329AC4BC9B5  # 0xad93d23594c935a9 bit-reversed
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC64 = _crc64_table()


def crc64(data: bytes, crc: int = 0) -> int:
    table = _CRC64
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def wrap_payload(obj: bytes) -> bytes:
    """``obj`` followed by the RDB version and the CRC64 of both."""
    body = obj + RDB_VERSION.to_bytes(2, "little")
    return body + crc64(body).to_bytes(8, "little")


def open_payload(payload: bytes) -> bool:
    """Redis's verifyDumpPayload: long enough, a version we read, the right CRC."""
    if len(payload) < 10:
        return False
    if int.from_bytes(payload[-10:-8], "little") > RDB_VERSION:
        return False
    return crc64(payload[:-8]) == int.from_bytes(payload[-8:], "little")


# -- LZF ------------------------------------------------------------------------------------

_HMASK = 0xFFFF
_MAX_LIT = 32
_MAX_OFF = 1 << 13
_MAX_REF = (1 << 8) + (1 << 3)


def lzf_compress(src: bytes, out_len: int) -> bytes | None:
    """LZF-compress ``src`` into at most ``out_len`` bytes, or None when it does not
    fit. The parse follows liblzf 3.6 as Redis builds it, decision for decision
    (including its conservative "might not fit" exits), so the bytes are Redis's."""
    in_end = len(src)
    if not in_end or not out_len:
        return None
    out = bytearray(out_len + 8)
    htab: dict[int, int] = {}
    ip, op, lit = 0, 1, 0  # op - lit - 1 is the current literal run's control byte
    hval = (src[0] << 8) | src[1] if in_end > 1 else 0
    while ip < in_end - 2:
        hval = ((hval << 8) | src[ip + 2]) & 0xFFFFFFFF
        slot = ((hval >> 8) - hval * 5) & _HMASK
        ref = htab.get(slot)
        htab[slot] = ip
        if (ref is not None and 0 < ref and ip - ref - 1 < _MAX_OFF
                and src[ref + 2] == src[ip + 2] and src[ref] == src[ip] and src[ref + 1] == src[ip + 1]):
            off = ip - ref - 1
            maxlen = min(in_end - ip - 2, _MAX_REF)
            if op + 4 >= out_len and op - (0 if lit else 1) + 4 >= out_len:
                return None
            out[op - lit - 1] = (lit - 1) & 0xFF
            op -= 0 if lit else 1
            n = 2
            mismatch = False
            if maxlen > 16:  # liblzf compares 16 bytes unchecked here: it may pass maxlen by 2
                for _ in range(16):
                    n += 1
                    if src[ref + n] != src[ip + n]:
                        mismatch = True
                        break
            if not mismatch:
                while True:
                    n += 1
                    if not (n < maxlen and src[ref + n] == src[ip + n]):
                        break
            n -= 2
            ip += 1
            if n < 7:
                out[op] = (off >> 8) + (n << 5)
                op += 1
            else:
                out[op] = (off >> 8) + (7 << 5)
                out[op + 1] = n - 7
                op += 2
            out[op] = off & 0xFF
            op += 2  # the reference's last byte, then room for the next run's control byte
            lit = 0
            ip += n + 1
            if ip >= in_end - 2:
                break
            ip -= 2  # VERY_FAST: hash the match's last two positions only
            hval = (src[ip] << 8) | src[ip + 1]
            for _ in range(2):
                hval = ((hval << 8) | src[ip + 2]) & 0xFFFFFFFF
                htab[((hval >> 8) - hval * 5) & _HMASK] = ip
                ip += 1
        else:
            if op >= out_len:
                return None
            lit += 1
            out[op] = src[ip]
            op += 1
            ip += 1
            if lit == _MAX_LIT:
                out[op - lit - 1] = lit - 1
                lit = 0
                op += 1
    if op + 3 > out_len:
        return None
    while ip < in_end:
        lit += 1
        out[op] = src[ip]
        op += 1
        ip += 1
        if lit == _MAX_LIT:
            out[op - lit - 1] = lit - 1
            lit = 0
            op += 1
    out[op - lit - 1] = (lit - 1) & 0xFF
    op -= 0 if lit else 1
    return bytes(out[:op])


def lzf_decompress(src: bytes, out_len: int) -> bytes:
    """The ``out_len`` bytes ``src`` encodes; RdbError unless it encodes exactly that."""
    out = bytearray()
    i, n = 0, len(src)
    while i < n:
        ctrl = src[i]
        i += 1
        if ctrl < 32:  # literal run of ctrl + 1 bytes
            run = ctrl + 1
            if i + run > n or len(out) + run > out_len:
                raise RdbError("lzf literal overrun")
            out += src[i:i + run]
            i += run
            continue
        length = ctrl >> 5
        if length == 7:
            if i >= n:
                raise RdbError("lzf truncated")
            length += src[i]
            i += 1
        if i >= n:
            raise RdbError("lzf truncated")
        back = ((ctrl & 0x1F) << 8) + src[i] + 1
        i += 1
        length += 2
        start = len(out) - back
        if start < 0 or len(out) + length > out_len:
            raise RdbError("lzf reference out of range")
        if back >= length:
            out += out[start:start + length]
        else:  # an overlapping reference repeats the last ``back`` bytes
            for k in range(length):
                out.append(out[start + k])
    if len(out) != out_len:
        raise RdbError("lzf length mismatch")
    return bytes(out)


# -- lengths and strings --------------------------------------------------------------------


def encode_length(n: int) -> bytes:
    if n < 1 << 6:
        return bytes((n,))
    if n < 1 << 14:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + n.to_bytes(8, "big")


def encode_int(v: int) -> bytes | None:
    """The INT8/16/32 form of ``v``, or None when it needs more than 32 bits."""
    if -(1 << 7) <= v < 1 << 7:
        return bytes((0xC0 | _ENC_INT8,)) + v.to_bytes(1, "little", signed=True)
    if -(1 << 15) <= v < 1 << 15:
        return bytes((0xC0 | _ENC_INT16,)) + v.to_bytes(2, "little", signed=True)
    if -(1 << 31) <= v < 1 << 31:
        return bytes((0xC0 | _ENC_INT32,)) + v.to_bytes(4, "little", signed=True)
    return None


def encode_string(s: bytes, compress: bool = True) -> bytes:
    """Redis's rdbSaveRawString: an integer form for short canonical integers, LZF
    for strings over 20 bytes when it saves 4 bytes or more, else length + bytes."""
    n = len(s)
    if n <= 11:
        v = string2ll(s)
        if v is not None:
            enc = encode_int(v)
            if enc is not None:
                return enc
    if compress and 20 < n <= LZF_EXACT_LIMIT:
        packed = lzf_compress(s, n - 4)
        if packed is not None:
            return bytes((0xC0 | _ENC_LZF,)) + encode_length(len(packed)) + encode_length(n) + packed
    return encode_length(n) + s


class Reader:
    """A cursor over a payload that refuses to read past its end."""

    __slots__ = ("buf", "pos", "end", "max_len")

    def __init__(self, buf: bytes, max_len: int = 512 * 1024 * 1024, end: int | None = None) -> None:
        self.buf = buf
        self.pos = 0
        self.end = len(buf) if end is None else end
        self.max_len = max_len  # the largest string a read may produce (proto-max-bulk-len)

    def left(self) -> int:
        return self.end - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or n > self.end - self.pos:
            raise RdbError("truncated")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def byte(self) -> int:
        if self.pos >= self.end:
            raise RdbError("truncated")
        self.pos += 1
        return self.buf[self.pos - 1]

    def length_or_encoding(self) -> tuple[int, bool]:
        """(value, is_encoding): a length, or the special-encoding code of 11xxxxxx."""
        first = self.byte()
        kind = first >> 6
        if kind == 0:
            return first & 0x3F, False
        if kind == 1:
            return ((first & 0x3F) << 8) | self.byte(), False
        if kind == 3:
            return first & 0x3F, True
        if first == 0x80:
            return int.from_bytes(self.take(4), "big"), False
        if first == 0x81:
            return int.from_bytes(self.take(8), "big"), False
        raise RdbError("unknown length encoding")

    def length(self) -> int:
        n, encoded = self.length_or_encoding()
        if encoded:
            raise RdbError("encoded value where a length belongs")
        return n

    def count(self, per_item: int = 1) -> int:
        """A length that counts items of at least ``per_item`` bytes each: one that
        could not fit in the rest of the payload is refused before any loop runs."""
        n = self.length()
        if n * per_item > self.left():
            raise RdbError("count beyond the payload")
        return n

    def string(self) -> bytes:
        n, encoded = self.length_or_encoding()
        if not encoded:
            return self.take(n)
        if n == _ENC_INT8:
            return b"%d" % int.from_bytes(self.take(1), "little", signed=True)
        if n == _ENC_INT16:
            return b"%d" % int.from_bytes(self.take(2), "little", signed=True)
        if n == _ENC_INT32:
            return b"%d" % int.from_bytes(self.take(4), "little", signed=True)
        if n == _ENC_LZF:
            clen = self.length()
            ulen = self.length()
            if clen > self.left() or ulen > self.max_len or ulen > clen * _LZF_MAX_RATIO + _MAX_LIT:
                raise RdbError("lzf lengths beyond the payload")
            return lzf_decompress(self.take(clen), ulen)
        raise RdbError("unknown string encoding")

    def u64_le(self) -> int:
        return int.from_bytes(self.take(8), "little")

    def binary_double(self) -> float:
        return struct.unpack("<d", self.take(8))[0]

    def text_double(self) -> float:
        """The old ZSET's score: a length byte (253 nan, 254 inf, 255 -inf), then text."""
        n = self.byte()
        if n == 253:
            return float("nan")
        if n == 254:
            return float("inf")
        if n == 255:
            return float("-inf")
        try:
            return float(self.take(n))
        except ValueError:
            raise RdbError("bad double") from None

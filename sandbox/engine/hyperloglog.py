"""HyperLogLog values in Redis 7.0's own representation: pure functions, no I/O.

An HLL is an ordinary string value, so its bytes are what GET shows, what a snapshot
keeps and what another Redis reads; they must equal redis-server's bit for bit.

Layout (the design Redis documents at the top of its ``hyperloglog.c``):

* a 16-byte header: ``b"HYLL"``, one encoding byte (0 dense, 1 sparse), three
  unused bytes, then the cached cardinality as 8 bytes little endian. The top bit
  of the last byte set means "the cache is stale": a write sets only that bit, so
  the other bytes keep the old count (and GET shows them);
* dense: 16384 registers of 6 bits, packed from the low bit of each byte up
  (4 registers in 3 bytes), 12304 bytes in all;
* sparse: run-length opcodes — ZERO ``00xxxxxx`` (1..64 zero registers), XZERO
  ``01xxxxxx yyyyyyyy`` (1..16384 zero registers), VAL ``1vvvvvxx`` (value 1..32
  repeated 1..4 times). A new HLL is sparse: one XZERO of 16384, ``7f ff``.

An element lands in register ``h & 16383`` of MurmurHash64A(element, 0xadc83b19)
with value 1 + the number of trailing zeros of the other 50 bits (a 51st bit set
bounds it at 51). A sparse HLL becomes dense when a register needs more than 32 or
an update would make it longer than ``hll-sparse-max-bytes``; never the reverse.

Invariants kept here, as Redis 7.0 keeps them, because the bytes depend on them:
* a sparse update splits exactly the opcode covering the register and then merges
  equal adjacent VAL opcodes, scanning at most five opcodes from the one before it;
* the count is Ertl's estimator with Redis's float steps (``tau``/``sigma``, then
  ``llroundl``), computed from a 64-bin histogram of register values (values 52..63
  of a hand-made dense HLL are counted in no bin the estimator reads, as in Redis);
* a sparse HLL whose opcodes don't cover exactly 16384 registers is corrupted
  (``None`` / -1 from the functions below); a dense one is valid at its exact size.

Mutating functions take a ``bytearray`` of the whole value and patch it in place
(a register is two bytes at most), so PFADD costs the hash and a few byte writes,
not a re-encoding of 12 KB.
"""

from __future__ import annotations

import math
import struct
from typing import Callable

HEADER = 16
MAGIC = b"HYLL"
DENSE, SPARSE = 0, 1
P = 14
Q = 64 - P
REGISTERS = 1 << P
DENSE_BYTES = REGISTERS * 6 // 8
DENSE_SIZE = HEADER + DENSE_BYTES
SEED = 0xADC83B19
VAL_MAX_VALUE = 32
VAL_MAX_LEN = 4
ZERO_MAX_LEN = 64
XZERO_MAX_LEN = 16384
ALPHA_INF = 0.721347520444481703680  # 1 / (2 ln 2), the estimator's constant

_M = 0xC6A4A7935BD1E995
_MASK = (1 << 64) - 1
_STALE = 0x80  # the top bit of the header's last byte


# ---------------------------------------------------------------------------
# Hashing


def murmur64a(data: bytes, seed: int = SEED) -> int:
    """MurmurHash64A (Austin Appleby's 64-bit hash for 64-bit machines), reading
    8-byte words little endian as Redis does on every platform."""
    n = len(data)
    h = (seed ^ (n * _M)) & _MASK
    words = n >> 3
    if words:
        for k in struct.unpack_from(f"<{words}Q", data):
            k = (k * _M) & _MASK
            k ^= k >> 47
            h ^= (k * _M) & _MASK
            h = (h * _M) & _MASK
    if n & 7:
        h ^= int.from_bytes(data[words << 3:], "little")
        h = (h * _M) & _MASK
    h ^= h >> 47
    h = (h * _M) & _MASK
    return h ^ (h >> 47)


def pattern(element: bytes) -> tuple[int, int]:
    """(register index, value) an element proposes."""
    h = murmur64a(element)
    rest = (h >> P) | (1 << Q)
    return h & (REGISTERS - 1), (rest & -rest).bit_length()


# ---------------------------------------------------------------------------
# Header


def new_sparse() -> bytearray:
    """An empty HLL as PFADD creates it: sparse, one XZERO of 16384, cached count 0."""
    out = bytearray(HEADER)
    out[0:4] = MAGIC
    out[4] = SPARSE
    op = XZERO_MAX_LEN - 1
    out += bytes((0x40 | op >> 8, op & 0xFF))
    return out


def is_hll(value: bytes) -> bool:
    """The shape check Redis makes before touching a string as an HLL."""
    if len(value) < HEADER or value[:4] != MAGIC or value[4] > SPARSE:
        return False
    return value[4] != DENSE or len(value) == DENSE_SIZE


def cached_count(value: bytes) -> int | None:
    """The cached cardinality, or None when a write made it stale."""
    if value[15] & _STALE:
        return None
    return int.from_bytes(value[8:16], "little")


def store_count(buf: bytearray, card: int) -> None:
    buf[8:16] = (card & _MASK).to_bytes(8, "little")


def invalidate(buf: bytearray) -> None:
    buf[15] |= _STALE


# ---------------------------------------------------------------------------
# Dense registers


def dense_get(buf: bytes | bytearray, index: int) -> int:
    bit = index * 6
    pos = HEADER + (bit >> 3)
    shift = bit & 7
    lo = buf[pos] >> shift
    if shift > 2:  # the register runs into the next byte
        lo |= buf[pos + 1] << (8 - shift)
    return lo & 63


def dense_set(buf: bytearray, index: int, value: int) -> bool:
    """Raise register ``index`` to ``value``; True if it changed."""
    bit = index * 6
    pos = HEADER + (bit >> 3)
    shift = bit & 7
    b0 = buf[pos]
    if shift > 2:
        b1 = buf[pos + 1]
        old = ((b0 >> shift) | (b1 << (8 - shift))) & 63
        if value <= old:
            return False
        buf[pos] = (b0 & ~(63 << shift) & 0xFF) | ((value << shift) & 0xFF)
        buf[pos + 1] = (b1 & ~(63 >> (8 - shift)) & 0xFF) | (value >> (8 - shift))
        return True
    old = (b0 >> shift) & 63
    if value <= old:
        return False
    buf[pos] = (b0 & ~(63 << shift) & 0xFF) | (value << shift)
    return True


def _table(fn: Callable[[int], int]) -> bytes:
    return bytes(fn(b) & 0xFF for b in range(256))


# Byte maps for unpacking 3 bytes into 4 registers and back, so whole arrays move
# through bytes.translate and big-int ORs instead of a Python loop per register.
_LOW6 = _table(lambda b: b & 63)
_HIGH2 = _table(lambda b: b >> 6)
_LOW4_UP2 = _table(lambda b: (b & 15) << 2)
_LOW2_UP4 = _table(lambda b: (b & 3) << 4)
_LOW2_UP6 = _table(lambda b: (b & 3) << 6)
_SHR2 = _table(lambda b: b >> 2)
_UP4 = _table(lambda b: b << 4)
_SHR4 = _table(lambda b: b >> 4)
_UP2 = _table(lambda b: b << 2)


def _or(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "little") | int.from_bytes(b, "little")).to_bytes(len(a), "little")


def unpack_dense(data: bytes | bytearray) -> bytes:
    """16384 register values (one byte each) from the 12288 packed bytes."""
    data = bytes(data)
    b0, b1, b2 = data[0::3], data[1::3], data[2::3]
    out = bytearray(REGISTERS)
    out[0::4] = b0.translate(_LOW6)
    out[1::4] = _or(b0.translate(_HIGH2), b1.translate(_LOW4_UP2))
    out[2::4] = _or(b1.translate(_SHR4), b2.translate(_LOW2_UP4))
    out[3::4] = b2.translate(_SHR2)
    return bytes(out)


def pack_dense(registers: bytes) -> bytes:
    """The 12288 packed bytes of 16384 register values (each at most 63)."""
    r0, r1, r2, r3 = registers[0::4], registers[1::4], registers[2::4], registers[3::4]
    out = bytearray(DENSE_BYTES)
    out[0::3] = _or(r0, r1.translate(_LOW2_UP6))
    out[1::3] = _or(r1.translate(_SHR2), r2.translate(_UP4))
    out[2::3] = _or(r2.translate(_SHR4), r3.translate(_UP2))
    return bytes(out)


# ---------------------------------------------------------------------------
# Sparse opcodes


def _val(value: int, run: int) -> int:
    return 0x80 | (value - 1) << 2 | (run - 1)


def _zeros(run: int) -> bytes:
    """A run of zero registers as one ZERO or XZERO opcode."""
    if run > ZERO_MAX_LEN:
        return bytes((0x40 | (run - 1) >> 8, (run - 1) & 0xFF))
    return bytes((run - 1,))


def _opcode(buf: bytes | bytearray, pos: int, end: int) -> tuple[int, int, int]:
    """(kind, run, value) of the opcode at ``pos``; kind 0 ZERO, 1 XZERO, 2 VAL.
    A truncated XZERO reads its missing byte as 0, like the C string's terminator."""
    op = buf[pos]
    if op & 0x80:
        return 2, (op & 3) + 1, ((op >> 2) & 31) + 1
    if op & 0x40:
        low = buf[pos + 1] if pos + 1 < end else 0
        return 1, ((op & 0x3F) << 8 | low) + 1, 0
    return 0, (op & 0x3F) + 1, 0


def sparse_registers(value: bytes | bytearray) -> bytes | None:
    """The 16384 registers of a sparse HLL, or None if its opcodes are corrupted."""
    out = bytearray(REGISTERS)
    pos, end, idx = HEADER, len(value), 0
    while pos < end:
        kind, run, val = _opcode(value, pos, end)
        if kind == 2:
            if idx + run > REGISTERS:
                return None
            out[idx:idx + run] = bytes((val,)) * run
            pos += 1
        else:
            pos += 2 if kind == 1 else 1
        idx += run
    return bytes(out) if idx == REGISTERS else None


def registers(value: bytes | bytearray) -> bytes | None:
    """Register values of a valid-shaped HLL (None: corrupted sparse opcodes)."""
    if value[4] == DENSE:
        return unpack_dense(value[HEADER:DENSE_SIZE])
    return sparse_registers(value)


def to_dense(buf: bytearray) -> bool:
    """Rewrite a sparse HLL as dense in place (the header, cached count included,
    is kept); False, unchanged, if the sparse opcodes are corrupted."""
    if buf[4] == DENSE:
        return True
    regs = sparse_registers(buf)
    if regs is None:
        return False
    buf[HEADER:] = pack_dense(regs)
    buf[4] = DENSE
    return True


def sparse_set(buf: bytearray, index: int, value: int, max_bytes: int, hint: list[int] | None = None) -> int:
    """Raise register ``index`` of a sparse HLL to ``value``, exactly as Redis edits
    its opcodes: 1 if it changed (the HLL may now be dense), 0 if not, -1 if the
    opcodes are corrupted.

    ``hint`` ([position, first register] of an opcode, initially ``[HEADER, 0]``)
    lets a caller raising registers in increasing order (PFMERGE) skip the opcodes
    it already passed: the call leaves it on the opcode two before the edited one,
    which no edit of this call touches and which lies before the next register's."""
    if value > VAL_MAX_VALUE:
        return _promote(buf, index, value)
    end = len(buf)
    pos, first = (hint[0], hint[1]) if hint else (HEADER, 0)
    prev = pprev = -1
    prev_first = pprev_first = 0
    kind = run = old = 0
    while pos < end:
        kind, run, old = _opcode(buf, pos, end)
        if index < first + run:
            break
        pprev, pprev_first = prev, prev_first
        prev, prev_first = pos, first
        pos += 2 if kind == 1 else 1
        first += run
    else:
        return -1
    if hint is not None:
        if prev < 0 and pos != HEADER:  # the hinted opcode itself: its predecessor is unknown
            hint[0], hint[1] = HEADER, 0
            return sparse_set(buf, index, value, max_bytes, hint)
        if pprev >= 0:
            hint[0], hint[1] = pprev, pprev_first
    if kind == 2:
        if old >= value:
            return 0
        if run == 1:
            buf[pos] = _val(value, 1)
            return _merge_from(buf, prev)
    elif kind == 0 and run == 1:
        buf[pos] = _val(value, 1)
        return _merge_from(buf, prev)
    # Split the covering opcode into (before, our register, after).
    last = first + run - 1
    seq = bytearray()
    if kind == 2:
        if index != first:
            seq.append(_val(old, index - first))
        seq.append(_val(value, 1))
        if index != last:
            seq.append(_val(old, last - index))
    else:
        if index != first:
            seq += _zeros(index - first)
        seq.append(_val(value, 1))
        if index != last:
            seq += _zeros(last - index)
    oldlen = 2 if kind == 1 else 1
    if len(seq) > oldlen and end + len(seq) - oldlen > max_bytes:
        return _promote(buf, index, value)
    buf[pos:pos + oldlen] = seq
    return _merge_from(buf, prev)


def _merge_from(buf: bytearray, prev: int) -> int:
    """Merge equal adjacent VAL opcodes, looking at five opcodes from ``prev`` (the
    opcode before the edited one, or the first); then mark the count stale."""
    pos = prev if prev >= 0 else HEADER
    end = len(buf)
    scan = 5
    while pos < end and scan:
        scan -= 1
        op = buf[pos]
        if not op & 0x80:
            pos += 2 if op & 0x40 else 1
            continue
        if pos + 1 < end and buf[pos + 1] & 0x80:
            nxt = buf[pos + 1]
            run = (op & 3) + (nxt & 3) + 2
            if (op >> 2) == (nxt >> 2) and run <= VAL_MAX_LEN:
                buf[pos + 1] = (nxt & ~3) | (run - 1)
                del buf[pos]
                end -= 1
                continue  # the merged opcode may merge with the next one too
        pos += 1
    invalidate(buf)
    return 1


def _promote(buf: bytearray, index: int, value: int) -> int:
    if not to_dense(buf):
        return -1
    dense_set(buf, index, value)
    return 1


# ---------------------------------------------------------------------------
# Adding and counting


def add(buf: bytearray, element: bytes, max_bytes: int) -> int:
    """PFADD of one element: 1 changed, 0 not, -1 corrupted."""
    index, value = pattern(element)
    if buf[4] == DENSE:
        return 1 if dense_set(buf, index, value) else 0
    return sparse_set(buf, index, value, max_bytes)


def histogram(value: bytes | bytearray) -> list[int] | None:
    """How many registers hold each value 0..63 (None: corrupted sparse opcodes).
    A sparse HLL is walked without bounds checks on the way, as Redis counts it:
    only the total must come to 16384."""
    if value[4] == DENSE:
        return register_histogram(unpack_dense(value[HEADER:DENSE_SIZE]))
    histo = [0] * 64
    pos, end, idx = HEADER, len(value), 0
    while pos < end:
        kind, run, val = _opcode(value, pos, end)
        histo[val] += run
        idx += run
        pos += 2 if kind == 1 else 1
    return histo if idx == REGISTERS else None


def register_histogram(regs: bytes) -> list[int]:
    histo = [0] * 64
    left = len(regs)
    for v in range(64):
        if not left:
            break
        n = regs.count(v)
        histo[v] = n
        left -= n
    return histo


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        before = z
        z += x * y
        y += y
        if before == z:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1 - x
    while True:
        x = math.sqrt(x)
        before = z
        y *= 0.5
        z -= math.pow(1 - x, 2) * y
        if before == z:
            return z / 3


def estimate(histo: list[int]) -> int:
    """Ertl's improved estimator ("New cardinality estimation algorithms for
    HyperLogLog sketches", 2017) with Redis's exact order of float operations."""
    m = float(REGISTERS)
    z = m * _tau((m - histo[Q + 1]) / m)
    for j in range(Q, 0, -1):
        z += histo[j]
        z *= 0.5
    z += m * _sigma(histo[0] / m)
    if z == 0.0:
        return 1 << 63  # llroundl(inf) on x86-64: LLONG_MIN, read back unsigned
    e = ALPHA_INF * m * m / z
    if not e < 2.0**63:
        return 1 << 63
    whole = math.floor(e)
    return int(whole) + (1 if e - whole >= 0.5 else 0)  # llroundl: halves away from zero


def count(value: bytes | bytearray) -> int | None:
    histo = histogram(value)
    return None if histo is None else estimate(histo)


def max_registers(a: bytes, b: bytes) -> bytes:
    """Register-wise maximum of two 16384-byte register arrays (values < 128),
    lane by lane in one big integer: a lane's top bit survives a - b iff a >= b."""
    n = len(a)
    high = int.from_bytes(b"\x80" * n, "little")
    x = int.from_bytes(a, "little")
    y = int.from_bytes(b, "little")
    ge = (((x | high) - y) & high) >> 7
    mask = ge * 0xFF
    return ((x & mask) | (y & ~mask & ((1 << (8 * n)) - 1))).to_bytes(n, "little")


def decode_sparse(value: bytes | bytearray) -> bytes:
    """PFDEBUG DECODE's text: ``z:N`` ZERO, ``Z:N`` XZERO, ``v:value,run`` VAL."""
    parts = []
    pos, end = HEADER, len(value)
    while pos < end:
        kind, run, val = _opcode(value, pos, end)
        if kind == 2:
            parts.append(b"v:%d,%d" % (val, run))
            pos += 1
        elif kind == 1:
            parts.append(b"Z:%d" % run)
            pos += 2
        else:
            parts.append(b"z:%d" % run)
            pos += 1
    return b" ".join(parts)

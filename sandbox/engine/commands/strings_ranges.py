"""String commands on parts of a string: GETRANGE, SUBSTR, SETRANGE and LCS.

Invariants, as Redis 7.0 keeps them:
* Offsets are normalised like Redis's string ranges (``util.string_range``: a
  negative end clamps to 0), after GETRANGE's own "two negatives in the wrong
  order are empty" test.
* SETRANGE zero-pads a short or missing string, keeps the TTL, refuses to grow past
  ``proto-max-bulk-len``, and with an empty chunk writes nothing (not even a
  missing key).
* LCS walks its table back from the end exactly as Redis does, so that among
  equally long answers it picks the same one and reports the same ranges.
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..context import Ctx
from ..resp import Map, string2ll
from . import command
from .util import keyword, max_bulk_len, parse_int, string_range


# ---------------------------------------------------------------------------
# Ranges


@command("getrange", 4, "readonly", keys=(1, 1, 1), acl="@string", since="2.4.0", group="string",
         complexity="O(N) where N is the length of the returned string.",
         summary="Return the bytes between two offsets (inclusive; negative counts from the end).",
         args="key start end")
def getrange(ctx: Ctx, argv: list[bytes]) -> Any:
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    value = ctx.lookup_typed(argv[1], bytes)
    if value is None or (start < 0 and end < 0 and start > end):
        return b""
    span = string_range(start, end, len(value))
    return b"" if span is None else value[span[0] : span[1] + 1]


@command("substr", 4, "readonly", keys=(1, 1, 1), acl="@string", group="string",
         complexity="O(N) where N is the length of the returned string.",
         summary="Return the bytes between two offsets (deprecated: GETRANGE).", args="key start end")
def substr(ctx: Ctx, argv: list[bytes]) -> Any:
    return getrange(ctx, argv)


def _setrange_growth(argv: list[bytes]) -> int:
    """The string SETRANGE may create: zero-padded up to the offset, then the chunk."""
    offset = string2ll(argv[2])
    if offset is None or offset < 0 or not argv[3]:
        return 0  # refused, or writes nothing
    return offset + len(argv[3])


@command("setrange", 4, "write denyoom", keys=(1, 1, 1), acl="@string", since="2.2.0", group="string",
         grows=_setrange_growth,
         complexity="O(1), not counting the time taken to copy the new string in place.",
         summary="Overwrite part of a string from an offset, zero-padding as needed; returns the new length.",
         args="key offset value")
def setrange(ctx: Ctx, argv: list[bytes]) -> Any:
    key, chunk = argv[1], argv[3]
    offset = parse_int(argv[2])
    if offset < 0:
        raise errors.OFFSET_OUT_OF_RANGE
    value = ctx.lookup_typed(key, bytes)
    if not chunk:
        return 0 if value is None else len(value)
    end = offset + len(chunk)
    if end > max_bulk_len(ctx):
        raise errors.STRING_TOO_LONG
    if value is None:
        ctx.store(key, bytes(offset) + chunk)
        return end
    if len(value) < offset:
        value = value + bytes(offset - len(value)) + chunk
    else:
        value = value[:offset] + chunk + value[end:]
    ctx.store(key, value, keep_ttl=True)
    return len(value)


# ---------------------------------------------------------------------------
# LCS


# The sandbox's bounds on LCS's string and IDX forms (LEN has none beyond Redis's):
# bytes of both strings together (the walk back), bytes of rows kept (one int per
# byte of key1, each as wide as key2).
LCS_WALK_LIMIT = 1_000_000
LCS_TABLE_LIMIT = 32 << 20


def _lcs_rows(a: bytes, b: bytes, keep: bool = True) -> list[int]:
    """Bit-parallel LCS table (Allison-Dix / Hyyrö): ``rows[i]`` encodes the LCS of
    ``a[:i]`` with every prefix of ``b``: LCS(i, j) is the number of zero bits among
    the low ``j`` bits of ``rows[i]``. O(len(a) * len(b) / word) instead of a full
    table of Python ints."""
    m = len(b)
    full = (1 << m) - 1
    masks: dict[int, int] = {}
    if m:
        for c in set(b):
            table = bytes(49 if x == c else 48 for x in range(256))  # '1' where b has c
            masks[c] = int(b.translate(table)[::-1], 2)
    rows = [full]
    v = full
    get = masks.get
    for c in a:
        u = v & get(c, 0)
        v = ((v + u) | (v - u)) & full
        if keep:
            rows.append(v)
    if not keep:
        rows.append(v)
    return rows


@command("lcs", -3, "readonly", keys=(1, 2, 1), acl="@string", since="7.0.0", group="string",
         complexity="O(N*M) where N and M are the lengths of s1 and s2, respectively",
         summary="Longest common subsequence of two strings: the string, its length, or the matching ranges.",
         args="key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]")
def lcs(ctx: Ctx, argv: list[bytes]) -> Any:
    a = ctx.lookup(argv[1])
    b = ctx.lookup(argv[2])
    if (a is not None and type(a) is not bytes) or (b is not None and type(b) is not bytes):
        raise errors.STRING_LCS_TYPES
    a = a or b""
    b = b or b""
    getlen = getidx = withmatchlen = False
    minmatchlen = 0
    j = 3
    while j < len(argv):
        opt = keyword(argv[j])
        if opt == b"idx":
            getidx = True
        elif opt == b"len":
            getlen = True
        elif opt == b"withmatchlen":
            withmatchlen = True
        elif opt == b"minmatchlen" and j + 1 < len(argv):
            minmatchlen = max(parse_int(argv[j + 1]), 0)
            j += 1
        else:
            raise errors.SYNTAX
        j += 1
    if getlen and getidx:
        raise errors.STRING_LCS_LEN_AND_IDX
    alen, blen = len(a), len(b)
    if alen >= 2**32 - 2 or blen >= 2**32 - 2:
        raise errors.STRING_LCS_TOO_LONG
    if (alen + 1) * (blen + 1) * 4 > max_bulk_len(ctx):
        raise errors.STRING_LCS_MEMORY

    if getlen:
        # Only the length: one bit vector over the longer string, stepped along the
        # shorter one, so the work is Redis's table size / 64 and nothing is kept.
        short, long_ = (a, b) if alen <= blen else (b, a)
        return len(long_) - _lcs_rows(short, long_, keep=False)[-1].bit_count()
    if alen + blen > LCS_WALK_LIMIT or (alen + 1) * (40 + blen // 8) > LCS_TABLE_LIMIT:
        # The string and IDX forms keep a row per byte of key1 and walk back through
        # them in Python: past these bounds that holds a node for seconds or more
        # memory than the node has, which Redis's own table limit does not foresee.
        raise errors.STRING_LCS_SANDBOX_LIMIT
    rows = _lcs_rows(a, b)
    total = blen - rows[alen].bit_count()

    def score(i: int, j: int) -> int:
        return j - (rows[i] & ((1 << j) - 1)).bit_count()

    # Walk back from the end exactly as Redis does, so ties pick the same path.
    out = bytearray(total)
    idx = total
    matches: list[Any] = []
    astart = alen  # alen = "no range open"
    aend = bstart = bend = 0
    i, j = alen, blen
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            out[idx - 1] = a[i - 1]
            if astart == alen:
                astart = aend = i - 1
                bstart = bend = j - 1
            elif astart == i and bstart == j:
                astart -= 1
                bstart -= 1
            else:
                emit = True
            if astart == 0 or bstart == 0:
                emit = True
            idx -= 1
            i -= 1
            j -= 1
        else:
            if score(i - 1, j) > score(i, j - 1):
                i -= 1
            else:
                j -= 1
            if astart != alen:
                emit = True
        if emit:
            length = aend - astart + 1
            if getidx and (minmatchlen == 0 or length >= minmatchlen):
                match = [[astart, aend], [bstart, bend]]
                if withmatchlen:
                    match.append(length)
                matches.append(match)
            astart = alen
    if getidx:
        return Map([(b"matches", matches), (b"len", total)])
    return bytes(out)

"""Where a ZRANGEBYSCORE/ZRANGEBYLEX-style range falls in a sorted set.

``ScoreRange`` and ``LexRange`` parse ``min``/``max`` exactly as Redis 7.0's
``zslParseRange``/``zslParseLexRange`` do (errors included); their methods and the
walks below turn a range into ranks of ``ZSet.ordered``, by bisection (O(log n)),
never by a sort or a scan of the whole set.

Invariants: a ``ScoreRange`` compares scores as doubles (``(`` makes a bound
exclusive: "> min" is ">= the next double"); a ``LexRange`` compares members as
raw bytes, ``-``/``+`` being the smallest/largest string. Where Redis walks a
listpack linearly and the walk's result differs from a bisection (lex ranges on
mixed scores), the listpack branch walks the same way.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable

from .. import errors
from ..datatypes import ZSet

_INF = math.inf


_STRTOD_DEC = re.compile(rb"[ \t\n\v\f\r]*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_STRTOD_HEX = re.compile(rb"[ \t\n\v\f\r]*([+-]?)(0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?)\Z")
_STRTOD_INF = re.compile(rb"[ \t\n\v\f\r]*([+-]?)inf(?:inity)?\Z", re.IGNORECASE)


def range_float(text: bytes) -> float | None:
    """A range bound as ``zslParseRange`` reads it: bare ``strtod`` with only the end
    of the string and NaN checked. So, unlike ZADD's scores, leading whitespace, an
    empty string (0), overflow (±inf) and underflow (0) are all accepted."""
    text = text.split(b"\0", 1)[0]  # C stops at a NUL
    if not text:
        return 0.0
    if _STRTOD_DEC.match(text):
        return float(text)  # Python's float() strips the same whitespace
    m = _STRTOD_INF.match(text)
    if m:
        return -_INF if m.group(1) == b"-" else _INF
    m = _STRTOD_HEX.match(text)
    if m:
        try:
            v = float.fromhex(m.group(2).decode())
        except OverflowError:
            v = _INF
        return -v if m.group(1) == b"-" else v
    return None


class ScoreRange:
    """``min``/``max`` of ZRANGEBYSCORE and friends; ``(`` makes a bound exclusive."""

    __slots__ = ("min", "max", "minex", "maxex")

    def __init__(self, lo: bytes, hi: bytes) -> None:
        self.minex = lo[:1] == b"("
        self.maxex = hi[:1] == b"("
        a = range_float(lo[1:] if self.minex else lo)
        b = range_float(hi[1:] if self.maxex else hi)
        if a is None or b is None:
            raise errors.MIN_MAX_NOT_FLOAT
        self.min, self.max = a, b

    def bounds(self, zs: ZSet) -> tuple[int, int]:
        """Ranks ``[lo, hi)`` of the members whose score is in the range."""
        ordered = zs.ordered
        n = len(ordered)
        lo, hi = self.min, self.max
        if self.minex:
            if lo == _INF:
                return n, n
            lo = math.nextafter(lo, _INF)  # "> min" is ">= the next double"
        start = ordered.bisect_left((lo, b""))
        if not self.maxex:
            if hi == _INF:
                return start, n
            hi = math.nextafter(hi, _INF)
        end = ordered.bisect_left((hi, b""))
        return start, max(start, end)


class LexRange:
    """``min``/``max`` of ZRANGEBYLEX and friends: ``[x`` inclusive, ``(x`` exclusive,
    ``-`` and ``+`` the smallest and largest possible strings."""

    __slots__ = ("min", "max", "minex", "maxex")
    MINSTRING = -1
    MAXSTRING = 1

    def __init__(self, lo: bytes, hi: bytes) -> None:
        self.min, self.minex = self._item(lo)
        self.max, self.maxex = self._item(hi)

    @staticmethod
    def _item(item: bytes) -> tuple[bytes | int, bool]:
        c = item[:1]
        if c == b"+" or c == b"-":
            if len(item) > 1 and item[1] != 0:  # C sees "+\0..." as "+"
                raise errors.MIN_MAX_NOT_VALID_STRING
            return (LexRange.MAXSTRING if c == b"+" else LexRange.MINSTRING), True
        if c == b"(":
            return item[1:], True
        if c == b"[":
            return item[1:], False
        raise errors.MIN_MAX_NOT_VALID_STRING

    def gte_min(self, member: bytes) -> bool:
        lo = self.min
        if type(lo) is int:
            return lo == LexRange.MINSTRING
        return member > lo if self.minex else member >= lo

    def lte_max(self, member: bytes) -> bool:
        hi = self.max
        if type(hi) is int:
            return hi == LexRange.MAXSTRING
        return member < hi if self.maxex else member <= hi

    def is_empty(self) -> bool:
        """``sdscmplex(min, max) > 0``, or equal bounds with one excluded."""
        lo, hi = self.min, self.max
        if lo == hi:
            cmp = 0
        elif lo == LexRange.MINSTRING or hi == LexRange.MAXSTRING:
            cmp = -1
        elif lo == LexRange.MAXSTRING or hi == LexRange.MINSTRING:
            cmp = 1
        else:
            cmp = 1 if lo > hi else -1  # type: ignore[operator]
        return cmp > 0 or (cmp == 0 and (self.minex or self.maxex))

    def first(self, zs: ZSet) -> int | None:
        """Rank of the first member in the range (``zzlFirstInLexRange``)."""
        if not self._may_hold(zs):
            return None
        ordered = zs.ordered
        if zs.listpack:  # Redis walks a listpack from its head
            for i, (_s, m) in enumerate(ordered):
                if self.gte_min(m):
                    return i if self.lte_max(m) else None
            return None
        i = first_index(ordered, 0, len(ordered), self.gte_min)
        return i if i < len(ordered) and self.lte_max(ordered[i][1]) else None

    def last(self, zs: ZSet) -> int | None:
        """Rank of the last member in the range (``zzlLastInLexRange``)."""
        if not self._may_hold(zs):
            return None
        ordered = zs.ordered
        if zs.listpack:
            for i in range(len(ordered) - 1, -1, -1):
                m = ordered[i][1]
                if self.lte_max(m):
                    return i if self.gte_min(m) else None
            return None
        i = first_index(ordered, 0, len(ordered), lambda m: not self.lte_max(m)) - 1
        return i if i >= 0 and self.gte_min(ordered[i][1]) else None

    def _may_hold(self, zs: ZSet) -> bool:
        ordered = zs.ordered
        return (
            bool(ordered) and not self.is_empty()
            and self.gte_min(ordered[-1][1]) and self.lte_max(ordered[0][1])
        )


def first_index(ordered: Any, lo: int, hi: int, pred: Callable[[bytes], bool]) -> int:
    """First rank in ``[lo, hi)`` whose member satisfies ``pred`` (False...True), else ``hi``."""
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(ordered[mid][1]):
            hi = mid
        else:
            lo = mid + 1
    return lo


def lex_forward(zs: ZSet, rng: LexRange, offset: int = 0, limit: int = -1) -> list[tuple[float, bytes]]:
    """Redis's forward lex walk: from the first member in range, skip ``offset``
    unchecked, then take up to ``limit`` (negative: all) while still ``<= max``."""
    first = rng.first(zs)
    if first is None or offset < 0:
        return []
    out = []
    for item in zs.ordered.islice(first + offset):
        if limit == 0 or not rng.lte_max(item[1]):
            break
        out.append(item)
        limit -= 1
    return out


def lex_reverse(zs: ZSet, rng: LexRange, offset: int = 0, limit: int = -1) -> list[tuple[float, bytes]]:
    last = rng.last(zs)
    if last is None or offset < 0 or offset > last:
        return []
    out = []
    for item in zs.ordered.islice(0, last - offset + 1, reverse=True):
        if limit == 0 or not rng.gte_min(item[1]):
            break
        out.append(item)
        limit -= 1
    return out


def score_slice(zs: ZSet, rng: ScoreRange, reverse: bool, offset: int = 0, limit: int = -1) -> list[tuple[float, bytes]]:
    """The members of a score range, with ZRANGEBYSCORE's LIMIT semantics (a
    negative offset gives nothing, a negative count everything)."""
    lo, hi = rng.bounds(zs)
    if offset < 0 or lo + offset >= hi:
        return []
    if not reverse:
        start = lo + offset
        stop = hi if limit < 0 else min(hi, start + limit)
        return list(zs.ordered.islice(start, stop))
    top = hi - offset  # exclusive
    bottom = lo if limit < 0 else max(lo, top - limit)
    return list(zs.ordered.islice(bottom, top, reverse=True))

"""Sorted-set commands: ZADD and its reads, ranges (by rank, score and lex), removals,
pops, ZRANDMEMBER and ZSCAN. The set algebra (ZUNION/ZINTER/ZDIFF...) lives in
``zsets_algebra``, which this module loads.

Every value is a ``datatypes.ZSet``: a dict member -> score beside a SortedList of
``(score, member)``. Ranks and ranges are bisections and slices of that list
(O(log n) plus the size of the reply), never a sort per call. Members compare as
raw bytes (memcmp), so equal scores order by member bytes, as in Redis.

Where Redis 7.0's replies depend on a set's encoding (a listpack stores -0 as 0;
a listpack answers ZSCAN in one call; a listpack searches lex ranges linearly),
``ZSet.listpack`` tracks Redis's encoding and the code follows the same branch.

Effects: everything propagates as its own argv (all deterministic given the same
data), except ZMPOP, which Redis rewrites as ZPOPMIN/ZPOPMAX key count.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Iterable

from .. import errors
from ..context import Ctx
from ..datatypes import ZSet
from ..errors import RedisError
from ..keyspace import ScanIndex
from ..resp import NULL_ARRAY, format_double
from . import collscan, command
from .util import (
    numkeys_keys, parse_float, parse_int, parse_mpop, parse_nonneg_int, parse_random_count, rank_range,
    store_or_delete, to_float,
)

E_XX_NX = RedisError("ERR XX and NX options at the same time are not compatible")
E_GT_LT_NX = RedisError("ERR GT, LT, and/or NX options at the same time are not compatible")
E_INCR_PAIR = RedisError("ERR INCR option supports a single increment-element pair")
E_NAN = RedisError("ERR resulting score is not a number (NaN)")
E_LIMIT_NEEDS_BY = RedisError(
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
)
E_WITHSCORES_BYLEX = RedisError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
_INF = math.inf

_SG = dict(acl="@sortedset", group="sorted-set")


# -- parsing ------------------------------------------------------------------------------

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
        i = _first_index(ordered, 0, len(ordered), self.gte_min)
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
        i = _first_index(ordered, 0, len(ordered), lambda m: not self.lte_max(m)) - 1
        return i if i >= 0 and self.gte_min(ordered[i][1]) else None

    def _may_hold(self, zs: ZSet) -> bool:
        ordered = zs.ordered
        return (
            bool(ordered) and not self.is_empty()
            and self.gte_min(ordered[-1][1]) and self.lte_max(ordered[0][1])
        )


def _first_index(ordered: Any, lo: int, hi: int, pred: Callable[[bytes], bool]) -> int:
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


# -- replies ------------------------------------------------------------------------------


def scored_reply(items: Iterable[tuple[float, bytes]], proto: int) -> list:
    """Members with scores: RESP2 a flat array, RESP3 ``[member, double]`` pairs."""
    if proto == 2:
        out: list = []
        for score, member in items:
            out.append(member)
            out.append(score)
        return out
    return [[member, score] for score, member in items]


def members_reply(items: Iterable[tuple[float, bytes]]) -> list:
    return [member for _score, member in items]


def drop_if_empty(ctx: Ctx, key: bytes, zs: ZSet) -> None:
    """After a removal: mark the key changed and delete it once its last member is gone."""
    ctx.changed(key)
    if not zs:
        ctx.db.remove(key)


# -- ZADD / ZINCRBY -------------------------------------------------------------------------

_NX, _XX, _GT, _LT, _CH, _INCR = 1, 2, 4, 8, 16, 32
_ZADD_FLAGS = {b"nx": _NX, b"xx": _XX, b"gt": _GT, b"lt": _LT, b"ch": _CH, b"incr": _INCR}


@command("zadd", -4, "write denyoom fast", keys=(1, 1, 1), since="1.2.0", **_SG,
         complexity="O(log(N)) for each item added, where N is the number of elements in the sorted set.",
         summary="Add members with scores, or update their scores; NX/XX/GT/LT choose which, CH and INCR change the reply.",
         args="key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]")
def zadd(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) == 4:  # the plain "ZADD key score member": no options to look for
        score = to_float(argv[2])
        if score is not None:
            key, member = argv[1], argv[3]
            zs = ctx.lookup_typed(key, ZSet)
            if zs is None:
                zs = ZSet()
                zs.add(member, score)
                ctx.db.put(key, zs)
                ctx.changed(key)
                return 1
            old = zs.scores.get(member)
            if old == score:
                return 0
            zs.add(member, score)
            ctx.changed(key)
            return 1 if old is None else 0
    return _zadd(ctx, argv, 0)


@command("zincrby", 4, "write denyoom fast", keys=(1, 1, 1), since="1.2.0", **_SG,
         complexity="O(log(N)) where N is the number of elements in the sorted set.",
         summary="Add an increment to a member's score (a missing member starts at 0); returns the new score.",
         args="key increment member")
def zincrby(ctx: Ctx, argv: list[bytes]) -> Any:
    return _zadd(ctx, argv, _INCR)


def _zadd(ctx: Ctx, argv: list[bytes], flags: int) -> Any:
    """``zaddGenericCommand``: options, their conflicts, then every pair in order."""
    i, n = 2, len(argv)
    while i < n:
        flag = _ZADD_FLAGS.get(argv[i].lower())
        if flag is None:
            break
        flags |= flag
        i += 1
    nx, xx, gt, lt, incr = flags & _NX, flags & _XX, flags & _GT, flags & _LT, flags & _INCR
    elements = n - i
    if elements == 0 or elements % 2:
        raise errors.SYNTAX
    if nx and xx:
        raise E_XX_NX
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise E_GT_LT_NX
    if incr and elements > 2:
        raise E_INCR_PAIR
    pairs = [(parse_float(argv[j]), argv[j + 1]) for j in range(i, n, 2)]

    key = argv[1]
    zs = ctx.lookup_typed(key, ZSet)
    created = zs is None
    if zs is None:
        if xx:
            return None if incr else 0
        zs = ZSet()
    scores = zs.scores
    added = updated = processed = 0
    result = 0.0
    for score, member in pairs:
        cur = scores.get(member)
        if cur is not None:
            if nx:
                continue
            if incr:
                score += cur
                if score != score:
                    raise E_NAN
            if (lt and score >= cur) or (gt and score <= cur):
                continue
            processed += 1
            result = score
            if score != cur:
                zs.add(member, score)
                updated += 1
        elif not xx:
            zs.add(member, score)
            added += 1
            processed += 1
            result = score
    if created and zs:
        ctx.db.put(key, zs)
    if added or updated:
        ctx.changed(key)
    if incr:
        return result if processed else None
    return added + updated if flags & _CH else added


# -- single-member reads ---------------------------------------------------------------------


@command("zscore", 3, "readonly fast", keys=(1, 1, 1), since="1.2.0", **_SG,
         summary="The score of a member, or nil.", args="key member")
def zscore(ctx: Ctx, argv: list[bytes]) -> Any:
    zs = ctx.lookup_typed(argv[1], ZSet)
    return None if zs is None else zs.scores.get(argv[2])


@command("zmscore", -3, "readonly fast", keys=(1, 1, 1), since="6.2.0", **_SG,
         complexity="O(N) where N is the number of members being requested.",
         summary="The scores of several members (nil for each missing one).", args="key member [member ...]")
def zmscore(ctx: Ctx, argv: list[bytes]) -> Any:
    zs = ctx.lookup_typed(argv[1], ZSet)
    if zs is None:
        return [None] * (len(argv) - 2)
    get = zs.scores.get
    return [get(m) for m in argv[2:]]


@command("zcard", 2, "readonly fast", keys=(1, 1, 1), since="1.2.0", **_SG,
         summary="The number of members.", args="key")
def zcard(ctx: Ctx, argv: list[bytes]) -> Any:
    zs = ctx.lookup_typed(argv[1], ZSet)
    return 0 if zs is None else len(zs)


@command("zrank", 3, "readonly fast", keys=(1, 1, 1), since="2.0.0", **_SG,
         complexity="O(log(N))", summary="A member's rank, lowest score first (0-based), or nil.",
         args="key member")
def zrank(ctx: Ctx, argv: list[bytes]) -> Any:
    zs = ctx.lookup_typed(argv[1], ZSet)
    return None if zs is None else zs.rank(argv[2])


@command("zrevrank", 3, "readonly fast", keys=(1, 1, 1), since="2.0.0", **_SG,
         complexity="O(log(N))", summary="A member's rank, highest score first (0-based), or nil.",
         args="key member")
def zrevrank(ctx: Ctx, argv: list[bytes]) -> Any:
    zs = ctx.lookup_typed(argv[1], ZSet)
    if zs is None:
        return None
    rank = zs.rank(argv[2])
    return None if rank is None else len(zs) - 1 - rank


@command("zrem", -3, "write fast", keys=(1, 1, 1), since="1.2.0", **_SG,
         complexity="O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.",
         summary="Remove members; returns how many were there.", args="key member [member ...]")
def zrem(ctx: Ctx, argv: list[bytes]) -> Any:
    key = argv[1]
    zs = ctx.lookup_typed(key, ZSet)
    if zs is None:
        return 0
    deleted = 0
    for member in argv[2:]:
        if zs.remove(member):
            deleted += 1
            if not zs:
                break
    if deleted:
        drop_if_empty(ctx, key, zs)
    return deleted


# -- counting ---------------------------------------------------------------------------------


@command("zcount", 4, "readonly fast", keys=(1, 1, 1), since="2.0.0", **_SG,
         complexity="O(log(N)) with N being the number of elements in the sorted set.",
         summary="How many members have a score in [min, max] (\"(\" excludes a bound).", args="key min max")
def zcount(ctx: Ctx, argv: list[bytes]) -> Any:
    rng = ScoreRange(argv[2], argv[3])
    zs = ctx.lookup_typed(argv[1], ZSet)
    if zs is None:
        return 0
    lo, hi = rng.bounds(zs)
    return hi - lo


@command("zlexcount", 4, "readonly fast", keys=(1, 1, 1), since="2.8.9", **_SG,
         complexity="O(log(N)) with N being the number of elements in the sorted set.",
         summary="How many members are between two strings (for members of equal score).", args="key min max")
def zlexcount(ctx: Ctx, argv: list[bytes]) -> Any:
    rng = LexRange(argv[2], argv[3])
    zs = ctx.lookup_typed(argv[1], ZSet)
    if zs is None:
        return 0
    first = rng.first(zs)
    if first is None:
        return 0
    if zs.listpack:
        return len(lex_forward(zs, rng))
    last = rng.last(zs)
    return 0 if last is None else last - first + 1


# -- ranges -------------------------------------------------------------------------------------

_RANK, _SCORE, _LEX = 0, 1, 2


def zrange_generic(ctx: Ctx, argv: list[bytes], src_idx: int, store: bool,
                   by: int | None, rev: bool | None) -> tuple[list[tuple[float, bytes]], bool, bool]:
    """``zrangeGenericCommand``: parse options, the range, then read it.

    ``by``/``rev`` are fixed by the legacy commands and None where ZRANGE's options
    choose them. Returns (items in reply order, withscores, rank range known upfront)."""
    withscores = False
    offset, limit = 0, -1
    n = len(argv)
    j = src_idx + 3
    while j < n:
        opt = argv[j].lower()
        left = n - j - 1
        if not store and opt == b"withscores":
            withscores = True
        elif opt == b"limit" and left >= 2:
            offset = parse_int(argv[j + 1])
            limit = parse_int(argv[j + 2])
            j += 2
        elif rev is None and opt == b"rev":
            rev = True
        elif by is None and opt == b"bylex":
            by = _LEX
        elif by is None and opt == b"byscore":
            by = _SCORE
        else:
            raise errors.SYNTAX
        j += 1
    rev = bool(rev)
    by = by or _RANK
    if limit != -1 and by == _RANK:  # Redis tests the count only
        raise E_LIMIT_NEEDS_BY
    if withscores and by == _LEX:
        raise E_WITHSCORES_BYLEX
    lo_arg, hi_arg = argv[src_idx + 1], argv[src_idx + 2]
    if rev and by != _RANK:
        lo_arg, hi_arg = hi_arg, lo_arg  # given as max, min
    if by == _RANK:
        start, end = parse_int(lo_arg), parse_int(hi_arg)
    elif by == _SCORE:
        srange = ScoreRange(lo_arg, hi_arg)
    else:
        lrange = LexRange(lo_arg, hi_arg)

    zs = ctx.lookup_typed(argv[src_idx], ZSet)
    if zs is None:
        return [], withscores, False
    if by == _RANK:
        size = len(zs)
        bounds = rank_range(start, end, size)
        if bounds is None:
            return [], withscores, True
        start, end = bounds
        if rev:
            items = list(zs.ordered.islice(size - 1 - end, size - start, reverse=True))
        else:
            items = list(zs.ordered.islice(start, end + 1))
        return items, withscores, True
    if by == _SCORE:
        return score_slice(zs, srange, rev, offset, limit), withscores, False
    if rev:
        return lex_reverse(zs, lrange, offset, limit), withscores, False
    return lex_forward(zs, lrange, offset, limit), withscores, False


def _range_reply(ctx: Ctx, argv: list[bytes], by: int | None, rev: bool | None) -> list:
    items, withscores, _ = zrange_generic(ctx, argv, 1, False, by, rev)
    return scored_reply(items, ctx.client.proto) if withscores else members_reply(items)


_RANGE_SUMMARY = "Members by rank, score (BYSCORE) or lex (BYLEX) range, optionally reversed, limited and with scores."


@command("zrange", -4, "readonly", keys=(1, 1, 1), since="1.2.0", **_SG,
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
         summary=_RANGE_SUMMARY,
         args="key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]")
def zrange(ctx: Ctx, argv: list[bytes]) -> Any:
    return _range_reply(ctx, argv, None, None)


@command("zrangestore", -5, "write denyoom", keys=(1, 2, 1), since="6.2.0", **_SG,
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.",
         summary="Store a ZRANGE result (by rank, score or lex) in another key; returns its size.",
         args="dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]")
def zrangestore(ctx: Ctx, argv: list[bytes]) -> Any:
    items, _, rank_known = zrange_generic(ctx, argv, 2, True, None, None)
    dst = ZSet()
    # Redis sizes the result upfront only for rank ranges: a big one starts as a
    # skiplist, anything else as a listpack converted on the way (which decides
    # whether -0 scores keep their sign).
    if rank_known and len(items) > ZSet.MAX_LISTPACK_ENTRIES:
        dst.listpack = False
    for score, member in items:
        dst.add(member, score)
    return store_or_delete(ctx, argv[1], dst)


@command("zrevrange", -4, "readonly", keys=(1, 1, 1), since="1.2.0", **_SG,
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
         summary="Members by rank, highest score first.", args="key start stop [WITHSCORES]")
def zrevrange(ctx: Ctx, argv: list[bytes]) -> Any:
    return _range_reply(ctx, argv, _RANK, True)


@command("zrangebyscore", -4, "readonly", keys=(1, 1, 1), since="1.0.5", **_SG,
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.",
         summary="Members with a score in [min, max], lowest first.",
         args="key min max [WITHSCORES] [LIMIT offset count]")
def zrangebyscore(ctx: Ctx, argv: list[bytes]) -> Any:
    return _range_reply(ctx, argv, _SCORE, False)


@command("zrevrangebyscore", -4, "readonly", keys=(1, 1, 1), since="2.2.0", **_SG,
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.",
         summary="Members with a score in [min, max], highest first (arguments are max, min).",
         args="key max min [WITHSCORES] [LIMIT offset count]")
def zrevrangebyscore(ctx: Ctx, argv: list[bytes]) -> Any:
    return _range_reply(ctx, argv, _SCORE, True)


@command("zrangebylex", -4, "readonly", keys=(1, 1, 1), since="2.8.9", **_SG,
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.",
         summary="Members between two strings (for members of equal score), in order.",
         args="key min max [LIMIT offset count]")
def zrangebylex(ctx: Ctx, argv: list[bytes]) -> Any:
    return _range_reply(ctx, argv, _LEX, False)


@command("zrevrangebylex", -4, "readonly", keys=(1, 1, 1), since="2.8.9", **_SG,
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.",
         summary="Members between two strings (for members of equal score), in reverse order (arguments are max, min).",
         args="key max min [LIMIT offset count]")
def zrevrangebylex(ctx: Ctx, argv: list[bytes]) -> Any:
    return _range_reply(ctx, argv, _LEX, True)


# -- range removals ---------------------------------------------------------------------------


def _remove_span(ctx: Ctx, key: bytes, zs: ZSet, start: int, stop: int) -> int:
    if start >= stop:
        return 0
    zs.remove_range(start, stop)
    drop_if_empty(ctx, key, zs)
    return stop - start


@command("zremrangebyrank", 4, "write", keys=(1, 1, 1), since="2.0.0", **_SG,
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
         summary="Remove the members in a rank range; returns how many.", args="key start stop")
def zremrangebyrank(ctx: Ctx, argv: list[bytes]) -> Any:
    start, end = parse_int(argv[2]), parse_int(argv[3])
    key = argv[1]
    zs = ctx.lookup_typed(key, ZSet)
    if zs is None:
        return 0
    bounds = rank_range(start, end, len(zs))
    if bounds is None:
        return 0
    return _remove_span(ctx, key, zs, bounds[0], bounds[1] + 1)


@command("zremrangebyscore", 4, "write", keys=(1, 1, 1), since="1.2.0", **_SG,
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
         summary="Remove the members with a score in [min, max]; returns how many.", args="key min max")
def zremrangebyscore(ctx: Ctx, argv: list[bytes]) -> Any:
    rng = ScoreRange(argv[2], argv[3])
    key = argv[1]
    zs = ctx.lookup_typed(key, ZSet)
    if zs is None:
        return 0
    lo, hi = rng.bounds(zs)
    return _remove_span(ctx, key, zs, lo, hi)


@command("zremrangebylex", 4, "write", keys=(1, 1, 1), since="2.8.9", **_SG,
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
         summary="Remove the members between two strings (for members of equal score); returns how many.",
         args="key min max")
def zremrangebylex(ctx: Ctx, argv: list[bytes]) -> Any:
    rng = LexRange(argv[2], argv[3])
    key = argv[1]
    zs = ctx.lookup_typed(key, ZSet)
    if zs is None:
        return 0
    if zs.listpack:
        first = rng.first(zs)
    else:  # zslDeleteRangeByLex skips the "could the range hold anything" checks
        first = _first_index(zs.ordered, 0, len(zs), rng.gte_min)
    if first is None:
        return 0
    count = 0
    for _score, member in zs.ordered.islice(first):
        if not rng.lte_max(member):
            break
        count += 1
    return _remove_span(ctx, key, zs, first, first + count)


# -- pops -------------------------------------------------------------------------------------


def pop_members(ctx: Ctx, key: bytes, zs: ZSet, count: int, from_max: bool) -> list[tuple[float, bytes]]:
    """Remove up to ``count`` members from one end; returned in pop order."""
    size = len(zs)
    count = min(count, size)
    if from_max:
        items = zs.remove_range(size - count, size)
        items.reverse()
    else:
        items = zs.remove_range(0, count)
    drop_if_empty(ctx, key, zs)
    return items


def _zpop(ctx: Ctx, argv: list[bytes], from_max: bool) -> Any:
    if len(argv) > 3:
        raise errors.SYNTAX
    count = parse_nonneg_int(argv[2], errors.COUNT_NEGATIVE) if len(argv) == 3 else -1
    key = argv[1]
    zs = ctx.lookup_typed(key, ZSet)
    if zs is None or count == 0:
        return []
    items = pop_members(ctx, key, zs, 1 if count == -1 else count, from_max)
    # RESP3 nests [member, score] pairs only when a count was given.
    return scored_reply(items, 2 if count == -1 else ctx.client.proto)


@command("zpopmin", -2, "write fast", keys=(1, 1, 1), since="5.0.0", **_SG,
         complexity="O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
         summary="Remove and return the members with the lowest scores.", args="key [count]")
def zpopmin(ctx: Ctx, argv: list[bytes]) -> Any:
    return _zpop(ctx, argv, False)


@command("zpopmax", -2, "write fast", keys=(1, 1, 1), since="5.0.0", **_SG,
         complexity="O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
         summary="Remove and return the members with the highest scores.", args="key [count]")
def zpopmax(ctx: Ctx, argv: list[bytes]) -> Any:
    return _zpop(ctx, argv, True)


_ENDS = {b"min": False, b"max": True}  # True: from the highest scores


@command("zmpop", -4, "write", getkeys=numkeys_keys(2), since="7.0.0", **_SG,
         complexity="O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
         summary="Pop the lowest (MIN) or highest (MAX) members from the first non-empty of several sorted sets.",
         args="numkeys key [key ...] <MIN | MAX> [COUNT count]")
def zmpop(ctx: Ctx, argv: list[bytes]) -> Any:
    keys, from_max, count = parse_mpop(argv, _ENDS)
    for key in keys:
        zs = ctx.lookup_typed(key, ZSet)
        if zs is None:
            continue
        items = pop_members(ctx, key, zs, count, from_max)
        ctx.propagate([b"ZPOPMAX" if from_max else b"ZPOPMIN", key, b"%d" % count])
        return [key, [[member, score] for score, member in items]]
    return NULL_ARRAY


# -- random members and scanning ----------------------------------------------------------------


@command("zrandmember", -2, "readonly", keys=(1, 1, 1), since="6.2.0", **_SG,
         complexity="O(N) where N is the number of elements returned",
         summary="Random members: count > 0 distinct ones, count < 0 possibly repeated; optionally with scores.",
         args="key [count [WITHSCORES]]")
def zrandmember(ctx: Ctx, argv: list[bytes]) -> Any:
    rand = ctx.server.rng
    if len(argv) == 2:
        zs = ctx.lookup_typed(argv[1], ZSet)
        if zs is None:
            return None
        return zs.ordered[rand.randrange(len(zs))][1]
    count, withscores = parse_random_count(argv, b"withscores")
    zs = ctx.lookup_typed(argv[1], ZSet)
    if zs is None or count == 0:
        return []
    ordered, size = zs.ordered, len(zs)
    if count < 0:
        items: list = [ordered[rand.randrange(size)] for _ in range(-count)]
    elif count >= size:  # the whole set, walked from the top as Redis's zui iterator does
        items = list(reversed(ordered))
    else:
        items = [ordered[i] for i in rand.sample(range(size), count)]
    return scored_reply(items, ctx.client.proto) if withscores else members_reply(items)


@command("zscan", -3, "readonly", keys=(1, 1, 1), since="2.8.0", **_SG,
         complexity="O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
         summary="Iterate members and scores with a cursor, optionally filtered by a glob pattern.",
         args="key cursor [MATCH pattern] [COUNT count]")
def zscan(ctx: Ctx, argv: list[bytes]) -> Any:
    cursor = collscan.parse_cursor(argv[2])
    zs = ctx.lookup_typed(argv[1], ZSet)
    if zs is None:
        return [b"0", []]
    pattern, count, _ = collscan.parse_options(argv, 3)
    scores = zs.scores
    if zs.listpack:  # Redis returns a whole listpack at once, in order
        members = collscan.matching((m for _s, m in zs.ordered), pattern)
        cursor = 0
    else:
        index = zs.scan_index
        if index is None or index.count != len(scores):
            index = zs.scan_index = ScanIndex(iter(scores))
        found: list[bytes] = []
        cursor = index.scan(cursor, count, found.append)
        members = collscan.matching(found, pattern)
    fmt = listpack_score if zs.listpack else format_double
    out: list[bytes] = []
    for m in members:
        out.append(m)
        out.append(fmt(scores[m]))
    return [b"%d" % cursor, out]


_2_62 = float(2**62)


def listpack_score(score: float) -> bytes:
    """A score as a listpack holds it (``d2string``): integral values within
    +-2**62 as integers (1e17 -> "100000000000000000"), others like %.17g."""
    if -_2_62 <= score <= _2_62 and score == int(score):
        return b"%d" % int(score)
    return format_double(score)


from . import zsets_algebra  # noqa: E402,F401  (registers ZUNION/ZINTER/ZDIFF...)

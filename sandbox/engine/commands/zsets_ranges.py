"""Sorted-set ranges: ZRANGE (by rank, BYSCORE, BYLEX, REV, LIMIT, WITHSCORES), its
legacy forms (ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX,
ZREVRANGEBYLEX), ZRANGESTORE, ZCOUNT, ZLEXCOUNT and ZREMRANGEBYRANK/SCORE/LEX.

Every command parses its options and its range before it looks the key up (so a
syntax error wins over WRONGTYPE, as in Redis's ``zrangeGenericCommand``), then
locates the range with ``zsets_bounds`` and reads or removes one slice of the
set's ``ordered`` list. Rank indexes are normalised like LRANGE's
(``util.rank_range``).

Effects: all deterministic on identical data, so each propagates as its own argv.
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..context import Ctx
from ..datatypes import ZSet
from . import command
from .util import parse_int, rank_range, store_or_delete
from .zsets import SORTED_SET, drop_if_empty, members_reply, scored_reply
from .zsets_bounds import LexRange, ScoreRange, first_index, lex_forward, lex_reverse, score_slice


# Redis's COMMAND DOCS complexity texts, which differ only in what M counts.
_LOG_N = "O(log(N)) with N being the number of elements in the sorted set."
_LOG_N_M = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements {}."


# -- counting ---------------------------------------------------------------------------------


@command("zcount", 4, "readonly fast", keys=(1, 1, 1), since="2.0.0", **SORTED_SET,
         complexity=_LOG_N,
         summary="How many members have a score in [min, max] (\"(\" excludes a bound).", args="key min max")
def zcount(ctx: Ctx, argv: list[bytes]) -> Any:
    rng = ScoreRange(argv[2], argv[3])
    zs = ctx.lookup_typed(argv[1], ZSet)
    if zs is None:
        return 0
    lo, hi = rng.bounds(zs)
    return hi - lo


@command("zlexcount", 4, "readonly fast", keys=(1, 1, 1), since="2.8.9", **SORTED_SET,
         complexity=_LOG_N,
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
        raise errors.ZSET_LIMIT_NEEDS_BY
    if withscores and by == _LEX:
        raise errors.ZSET_WITHSCORES_BYLEX
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


@command("zrange", -4, "readonly", keys=(1, 1, 1), since="1.2.0", **SORTED_SET,
         complexity=_LOG_N_M.format("returned"),
         summary=_RANGE_SUMMARY,
         args="key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]")
def zrange(ctx: Ctx, argv: list[bytes]) -> Any:
    return _range_reply(ctx, argv, None, None)


@command("zrangestore", -5, "write denyoom", keys=(1, 2, 1), since="6.2.0", **SORTED_SET,
         complexity=_LOG_N_M.format("stored into the destination key"),
         summary="Store a ZRANGE result (by rank, score or lex) in another key; returns its size.",
         args="dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]", key_flags=("OW update", "RO access"))
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


@command("zrevrange", -4, "readonly", keys=(1, 1, 1), since="1.2.0", **SORTED_SET,
         complexity=_LOG_N_M.format("returned"),
         summary="Members by rank, highest score first.", args="key start stop [WITHSCORES]")
def zrevrange(ctx: Ctx, argv: list[bytes]) -> Any:
    return _range_reply(ctx, argv, _RANK, True)


@command("zrangebyscore", -4, "readonly", keys=(1, 1, 1), since="1.0.5", **SORTED_SET,
         complexity=_LOG_N_M.format("being returned"),
         summary="Members with a score in [min, max], lowest first.",
         args="key min max [WITHSCORES] [LIMIT offset count]")
def zrangebyscore(ctx: Ctx, argv: list[bytes]) -> Any:
    return _range_reply(ctx, argv, _SCORE, False)


@command("zrevrangebyscore", -4, "readonly", keys=(1, 1, 1), since="2.2.0", **SORTED_SET,
         complexity=_LOG_N_M.format("being returned"),
         summary="Members with a score in [min, max], highest first (arguments are max, min).",
         args="key max min [WITHSCORES] [LIMIT offset count]")
def zrevrangebyscore(ctx: Ctx, argv: list[bytes]) -> Any:
    return _range_reply(ctx, argv, _SCORE, True)


@command("zrangebylex", -4, "readonly", keys=(1, 1, 1), since="2.8.9", **SORTED_SET,
         complexity=_LOG_N_M.format("being returned"),
         summary="Members between two strings (for members of equal score), in order.",
         args="key min max [LIMIT offset count]")
def zrangebylex(ctx: Ctx, argv: list[bytes]) -> Any:
    return _range_reply(ctx, argv, _LEX, False)


@command("zrevrangebylex", -4, "readonly", keys=(1, 1, 1), since="2.8.9", **SORTED_SET,
         complexity=_LOG_N_M.format("being returned"),
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


@command("zremrangebyrank", 4, "write", keys=(1, 1, 1), since="2.0.0", **SORTED_SET,
         complexity=_LOG_N_M.format("removed by the operation"),
         summary="Remove the members in a rank range; returns how many.", args="key start stop",
         key_flags=("RW delete",))
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


@command("zremrangebyscore", 4, "write", keys=(1, 1, 1), since="1.2.0", **SORTED_SET,
         complexity=_LOG_N_M.format("removed by the operation"),
         summary="Remove the members with a score in [min, max]; returns how many.", args="key min max",
         key_flags=("RW delete",))
def zremrangebyscore(ctx: Ctx, argv: list[bytes]) -> Any:
    rng = ScoreRange(argv[2], argv[3])
    key = argv[1]
    zs = ctx.lookup_typed(key, ZSet)
    if zs is None:
        return 0
    lo, hi = rng.bounds(zs)
    return _remove_span(ctx, key, zs, lo, hi)


@command("zremrangebylex", 4, "write", keys=(1, 1, 1), since="2.8.9", **SORTED_SET,
         complexity=_LOG_N_M.format("removed by the operation"),
         summary="Remove the members between two strings (for members of equal score); returns how many.",
         args="key min max", key_flags=("RW delete",))
def zremrangebylex(ctx: Ctx, argv: list[bytes]) -> Any:
    rng = LexRange(argv[2], argv[3])
    key = argv[1]
    zs = ctx.lookup_typed(key, ZSet)
    if zs is None:
        return 0
    if zs.listpack:
        first = rng.first(zs)
    else:  # zslDeleteRangeByLex skips the "could the range hold anything" checks
        first = first_index(zs.ordered, 0, len(zs), rng.gte_min)
    if first is None:
        return 0
    count = 0
    for _score, member in zs.ordered.islice(first):
        if not rng.lte_max(member):
            break
        count += 1
    return _remove_span(ctx, key, zs, first, first + count)

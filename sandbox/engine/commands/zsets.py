"""Sorted-set commands on members: ZADD, ZINCRBY, the single-member reads (ZSCORE,
ZMSCORE, ZCARD, ZRANK, ZREVRANK), ZREM, the pops (ZPOPMIN, ZPOPMAX, ZMPOP),
ZRANDMEMBER and ZSCAN; and the reply shapes the other sorted-set modules share.
Ranges (by rank, score and lex; counts and removals) live in ``zsets_ranges``, the
set algebra (ZUNION/ZINTER/ZDIFF...) in ``zsets_algebra``.

Every value is a ``datatypes.ZSet``: a dict member -> score beside a SortedList of
``(score, member)``. Ranks are bisections of that list (O(log n)), never a sort per
call. Members compare as raw bytes (memcmp), so equal scores order by member
bytes, as in Redis.

Where Redis 7.0's replies depend on a set's encoding (a listpack stores -0 as 0;
a listpack answers ZSCAN in one call), ``ZSet.listpack`` tracks Redis's encoding
and the code follows the same branch.

Effects: everything propagates as its own argv (all deterministic given the same
data), except ZMPOP, which Redis rewrites as ZPOPMIN/ZPOPMAX key count.
"""

from __future__ import annotations

from typing import Any, Iterable

from .. import errors
from ..context import Ctx
from ..datatypes import ZSet
from ..encodings import after_write, zset_grew
from ..keyspace import ScanIndex
from ..resp import NULL_ARRAY, format_double
from . import collscan, command
from .util import (
    BULK_FLOOR, first_existing, numkeys_keys, parse_float, parse_mpop, parse_nonneg_int, parse_random_count,
    repeated_picks, to_float,
)


SORTED_SET = dict(acl="@sortedset", group="sorted-set")  # every sorted-set command's ACL category and group


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


@command("zadd", -4, "write denyoom fast", keys=(1, 1, 1), since="1.2.0", **SORTED_SET,
         complexity="O(log(N)) for each item added, where N is the number of elements in the sorted set.",
         summary="Add members with scores, or update their scores; NX/XX/GT/LT choose which, CH and INCR change the reply.",
         args="key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]")
def zadd(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) == 4:  # the plain "ZADD key score member": no options to look for
        arg = argv[2]
        # to_float's plain-digits fast path, inlined: ZADD is a benchmarked command
        score = float(arg) if arg.isdigit() and len(arg) < 300 else to_float(arg)
        if score is not None:
            key, member = argv[1], argv[3]
            zs = ctx.lookup_typed(key, ZSet)
            if zs is None:
                zs = ZSet()
                zs.add(member, score)
                zset_grew(ctx, zs, member)
                ctx.db.put(key, zs)
                ctx.changed(key)
                return 1
            old = zs.scores.get(member)
            if old == score:
                return 0
            zs.add(member, score)
            if old is None and zs.listpack:  # a new member: a lower CONFIG threshold may convert it
                limits = ctx.db.limits
                if len(zs.scores) > limits[3] or len(member) > limits[4]:
                    zs.listpack = False
            ctx.changed(key)
            return 1 if old is None else 0
    reply = _zadd(ctx, argv, 0)
    if ctx.dirty_keys:  # options or several members: the whole check, as for any write
        after_write(ctx.server, "zadd", argv, ctx)
    return reply


@command("zincrby", 4, "write denyoom fast", keys=(1, 1, 1), since="1.2.0", **SORTED_SET,
         complexity="O(log(N)) where N is the number of elements in the sorted set.",
         summary="Add an increment to a member's score (a missing member starts at 0); returns the new score.",
         args="key increment member", key_flags=("RW access update",))
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
        raise errors.ZSET_XX_NX
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise errors.ZSET_GT_LT_NX
    if incr and elements > 2:
        raise errors.ZSET_INCR_PAIR
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
                    raise errors.ZSET_NAN
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


@command("zscore", 3, "readonly fast", keys=(1, 1, 1), since="1.2.0", **SORTED_SET,
         summary="The score of a member, or nil.", args="key member")
def zscore(ctx: Ctx, argv: list[bytes]) -> Any:
    zs = ctx.lookup_typed(argv[1], ZSet)
    return None if zs is None else zs.scores.get(argv[2])


@command("zmscore", -3, "readonly fast", keys=(1, 1, 1), since="6.2.0", **SORTED_SET,
         complexity="O(N) where N is the number of members being requested.",
         summary="The scores of several members (nil for each missing one).", args="key member [member ...]")
def zmscore(ctx: Ctx, argv: list[bytes]) -> Any:
    zs = ctx.lookup_typed(argv[1], ZSet)
    if zs is None:
        return [None] * (len(argv) - 2)
    get = zs.scores.get
    return [get(m) for m in argv[2:]]


@command("zcard", 2, "readonly fast", keys=(1, 1, 1), since="1.2.0", **SORTED_SET,
         summary="The number of members.", args="key", key_flags=("RO",))
def zcard(ctx: Ctx, argv: list[bytes]) -> Any:
    zs = ctx.lookup_typed(argv[1], ZSet)
    return 0 if zs is None else len(zs)


@command("zrank", 3, "readonly fast", keys=(1, 1, 1), since="2.0.0", **SORTED_SET,
         complexity="O(log(N))", summary="A member's rank, lowest score first (0-based), or nil.",
         args="key member")
def zrank(ctx: Ctx, argv: list[bytes]) -> Any:
    zs = ctx.lookup_typed(argv[1], ZSet)
    return None if zs is None else zs.rank(argv[2])


@command("zrevrank", 3, "readonly fast", keys=(1, 1, 1), since="2.0.0", **SORTED_SET,
         complexity="O(log(N))", summary="A member's rank, highest score first (0-based), or nil.",
         args="key member")
def zrevrank(ctx: Ctx, argv: list[bytes]) -> Any:
    zs = ctx.lookup_typed(argv[1], ZSet)
    if zs is None:
        return None
    rank = zs.rank(argv[2])
    return None if rank is None else len(zs) - 1 - rank


@command("zrem", -3, "write fast", keys=(1, 1, 1), since="1.2.0", **SORTED_SET,
         complexity="O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.",
         summary="Remove members; returns how many were there.", args="key member [member ...]",
         key_flags=("RW delete",))
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


@command("zpopmin", -2, "write fast", keys=(1, 1, 1), since="5.0.0", **SORTED_SET,
         complexity="O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
         summary="Remove and return the members with the lowest scores.", args="key [count]",
         key_flags=("RW access delete",))
def zpopmin(ctx: Ctx, argv: list[bytes]) -> Any:
    return _zpop(ctx, argv, False)


@command("zpopmax", -2, "write fast", keys=(1, 1, 1), since="5.0.0", **SORTED_SET,
         complexity="O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
         summary="Remove and return the members with the highest scores.", args="key [count]",
         key_flags=("RW access delete",))
def zpopmax(ctx: Ctx, argv: list[bytes]) -> Any:
    return _zpop(ctx, argv, True)


_ENDS = {b"min": False, b"max": True}  # True: from the highest scores


@command("zmpop", -4, "write", getkeys=numkeys_keys(2), since="7.0.0", **SORTED_SET,
         complexity="O(K) + O(M*log(N)): K keys named, N members of the set popped from, M members popped.",
         summary="Pop the lowest (MIN) or highest (MAX) members from the first non-empty of several sorted sets.",
         args="numkeys key [key ...] <MIN | MAX> [COUNT count]", key_flags=("RW access delete",))
def zmpop(ctx: Ctx, argv: list[bytes]) -> Any:
    keys, from_max, count = parse_mpop(argv, _ENDS)
    found = first_existing(ctx, keys, ZSet)
    if found is None:
        return NULL_ARRAY
    key, zs = found
    items = pop_members(ctx, key, zs, count, from_max)
    ctx.propagate([b"ZPOPMAX" if from_max else b"ZPOPMIN", key, b"%d" % count])
    return [key, [[member, score] for score, member in items]]


# -- random members and scanning ----------------------------------------------------------------


@command("zrandmember", -2, "readonly", keys=(1, 1, 1), since="6.2.0", **SORTED_SET,
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
        # A score encodes to at least as many bytes as an empty bulk string.
        per_pick = BULK_FLOOR * (2 if withscores else 1)

        def weigh(batch: list[tuple[float, bytes]]) -> int:
            return sum(len(member) for _score, member in batch) + per_pick * len(batch)

        items: list = repeated_picks(ctx, ordered, -count, per_pick, weigh)
    elif count >= size:  # the whole set, walked from the top as Redis's zui iterator does
        items = list(reversed(ordered))
    else:
        items = [ordered[i] for i in rand.sample(range(size), count)]
    return scored_reply(items, ctx.client.proto) if withscores else members_reply(items)


@command("zscan", -3, "readonly", keys=(1, 1, 1), since="2.8.0", **SORTED_SET,
         complexity="O(1) per call; O(N) to iterate a whole collection of N elements until the cursor is 0 again.",
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

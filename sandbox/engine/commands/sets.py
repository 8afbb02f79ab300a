"""Set commands: SADD, SREM, SPOP, SRANDMEMBER, SMOVE, the algebra (SINTER, SUNION,
SDIFF and their STORE forms, SINTERCARD) and SSCAN.

A set is a plain ``set`` of bytes; a key never holds an empty one.

Reply order. Redis 7.0 keeps a set of at most 512 members (set-max-intset-entries)
that are all canonical 64-bit integers as an *intset*, sorted numerically, and
everything else as a hashtable (arbitrary order; 7.0 has no listpack sets). ``ordered`` reproduces the
intset order exactly whenever a set qualifies, so SMEMBERS/SSCAN/SINTER/SUNION of
small integer sets match Redis byte for byte; otherwise the order is unspecified,
as in Redis. (A Redis set that once grew past the limit stays a hashtable even
after shrinking; we sort it again — both orders are valid answers.)

Effects: SPOP is random, so it propagates as ``SREM key member`` per popped member,
or ``DEL key`` when it took the whole set (what Redis 7.0 sends to replicas and the
AOF). Everything else is deterministic and propagates as itself.
"""

from __future__ import annotations

from typing import Any, Iterable

from .. import errors
from ..context import Ctx
from ..encodings import set_grew
from ..resp import SetReply
from . import collscan, command
from .util import (
    BULK_FLOOR, config_limit, numkeys_keys, parse_nonneg_int, parse_random_count, repeated_picks, store_or_delete,
    to_int,
)

_INTSET_MAX = ("set-max-intset-entries", 512)  # Redis 7.0's default; a CONFIG parameter wins
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def intset_order(members: Iterable[bytes]) -> list[bytes] | None:
    """The members sorted as an intset holds them, or None unless every member is
    a canonical 64-bit integer (what Redis keeps in an intset)."""
    keyed = []
    for m in members:
        if len(m) > 20:
            return None
        try:
            v = int(m)
        except ValueError:
            return None
        # int() accepts " 1", "+1", "01", "1_0": only the canonical spelling is an intset member
        if b"%d" % v != m or not _INT64_MIN <= v <= _INT64_MAX:
            return None
        keyed.append((v, m))
    keyed.sort()
    return [m for _v, m in keyed]


def is_intset(ctx: Ctx, members: set) -> bool:
    """Whether Redis 7.0 would hold this set as an intset (OBJECT ENCODING)."""
    return len(members) <= config_limit(ctx, *_INTSET_MAX) and intset_order(members) is not None


def ordered(ctx: Ctx, members: set) -> Iterable[bytes]:
    """The members in Redis's iteration order where it is deterministic (intset):
    a sorted list, or the set itself when Redis's order is arbitrary."""
    if len(members) > config_limit(ctx, *_INTSET_MAX):
        return members
    order = intset_order(members)
    return members if order is None else order


# -- single-set writes ----------------------------------------------------------------


@command("sadd", -3, "write denyoom fast", keys=(1, 1, 1), acl="@set", group="set",
         complexity="O(1) for each element added",
         summary="Add members to a set; returns how many were not already there.", args="key member [member ...]",
         key_flags=("RW insert",))
def sadd(ctx: Ctx, argv: list[bytes]) -> Any:
    key = argv[1]
    s = ctx.lookup_typed(key, set)
    if s is None:
        s = set(argv[2:])
        ctx.db.put(key, s)
        set_grew(ctx, s, argv[2:])
        ctx.changed(key)
        return len(s)
    if len(argv) == 3:  # the usual single member
        member = argv[2]
        if member in s:
            return 0
        s.add(member)
        # only a member that may not be a canonical int, or the length, can convert an intset
        if not member.isdigit() or member[0] == 48 or len(member) > 18 or len(s) > ctx.db.limits[2]:
            set_grew(ctx, s, argv[2:])
        ctx.changed(key)
        return 1
    before = len(s)
    s.update(argv[2:])
    added = len(s) - before
    if added:
        set_grew(ctx, s, argv[2:])
        ctx.changed(key)
    return added


@command("srem", -3, "write fast", keys=(1, 1, 1), acl="@set", group="set",
         complexity="O(N) where N is the number of members to be removed",
         summary="Remove members from a set; returns how many were there.", args="key member [member ...]",
         key_flags=("RW delete",))
def srem(ctx: Ctx, argv: list[bytes]) -> Any:
    key = argv[1]
    s = ctx.lookup_typed(key, set)
    if s is None:
        return 0
    before = len(s)
    s.difference_update(argv[2:])
    removed = before - len(s)
    if removed:
        if not s:
            ctx.db.remove(key)
        ctx.changed(key)
    return removed


@command("spop", -2, "write fast", keys=(1, 1, 1), acl="@set", group="set",
         complexity="Without the count argument O(1), otherwise O(N) where N is the value of the passed count",
         summary="Remove and return random members of a set.", args="key [count]", key_flags=("RW access delete",))
def spop(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise errors.SYNTAX
    if len(argv) == 3:
        return _spop_count(ctx, argv)
    key = argv[1]
    s = ctx.lookup_typed(key, set)
    if s is None:
        return None
    member = _random_member(ctx, s)
    s.discard(member)
    if not s:
        ctx.db.remove(key)
    ctx.changed(key)
    ctx.propagate([b"SREM", key, member])
    return member


def _spop_count(ctx: Ctx, argv: list[bytes]) -> Any:
    count = parse_nonneg_int(argv[2], errors.COUNT_NEGATIVE)
    key = argv[1]
    s = ctx.lookup_typed(key, set)
    if s is None or count == 0:
        return SetReply()
    if count >= len(s):
        members = list(ordered(ctx, s))  # Redis replies through a fresh (intset-first) union
        ctx.db.remove(key)
        ctx.changed(key)
        ctx.propagate([b"DEL", key])
        return SetReply(members)
    popped = ctx.server.rng.sample(list(s), count)
    s.difference_update(popped)
    ctx.changed(key)
    for member in popped:
        ctx.propagate([b"SREM", key, member])
    return SetReply(popped)


def _random_member(ctx: Ctx, s: set) -> bytes:
    # A Python set can't be indexed: walking to a random position is O(N).
    i = ctx.server.rng.randrange(len(s))
    for member in s:
        if not i:
            return member
        i -= 1
    raise AssertionError("unreachable")


@command("smove", 4, "write fast", keys=(1, 2, 1), acl="@set", group="set",
         summary="Move a member from one set to another; 1 if it was moved, 0 if it wasn't in the source.",
         args="source destination member", key_flags=("RW access delete", "RW insert"))
def smove(ctx: Ctx, argv: list[bytes]) -> Any:
    source, destination, member = argv[1], argv[2], argv[3]
    # Redis looks both keys up (expiring them) before checking either type.
    if ctx.lookup(source) is None:
        ctx.lookup(destination)
        return 0
    src = ctx.lookup_typed(source, set)
    dst = ctx.lookup_typed(destination, set)
    if src is dst:
        return 1 if member in src else 0
    if member not in src:
        return 0
    src.discard(member)
    if not src:
        ctx.db.remove(source)
    ctx.changed(source)
    if dst is None:
        dst = set()
        ctx.db.put(destination, dst)
    if member not in dst:
        dst.add(member)
        ctx.changed(destination)
    return 1


# -- single-set reads -----------------------------------------------------------------


@command("smembers", 2, "readonly", keys=(1, 1, 1), acl="@set", group="set",
         complexity="O(N) where N is the set cardinality",
         summary="Every member of a set (a set in RESP3).", args="key")
def smembers(ctx: Ctx, argv: list[bytes]) -> Any:
    s = ctx.lookup_typed(argv[1], set)
    return SetReply() if s is None else SetReply(ordered(ctx, s))


@command("sismember", 3, "readonly fast", keys=(1, 1, 1), acl="@set", group="set",
         summary="1 if the member is in the set, else 0.", args="key member", key_flags=("RO",))
def sismember(ctx: Ctx, argv: list[bytes]) -> Any:
    s = ctx.lookup_typed(argv[1], set)
    return 1 if s is not None and argv[2] in s else 0


@command("smismember", -3, "readonly fast", keys=(1, 1, 1), acl="@set", since="6.2.0", group="set",
         complexity="O(N) where N is the number of elements being checked for membership",
         summary="For each member, 1 if it is in the set, else 0.", args="key member [member ...]")
def smismember(ctx: Ctx, argv: list[bytes]) -> Any:
    s = ctx.lookup_typed(argv[1], set)
    if s is None:
        return [0] * (len(argv) - 2)
    return [1 if m in s else 0 for m in argv[2:]]


@command("scard", 2, "readonly fast", keys=(1, 1, 1), acl="@set", group="set",
         summary="The number of members of a set.", args="key", key_flags=("RO",))
def scard(ctx: Ctx, argv: list[bytes]) -> Any:
    s = ctx.lookup_typed(argv[1], set)
    return 0 if s is None else len(s)


def _weigh_members(batch: list[bytes]) -> int:
    return sum(map(len, batch)) + BULK_FLOOR * len(batch)


@command("srandmember", -2, "readonly", keys=(1, 1, 1), acl="@set", group="set",
         complexity="Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count",
         summary="Random members of a set: distinct ones for a positive count, possibly repeated for a negative count.",
         args="key [count]")
def srandmember(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise errors.SYNTAX
    if len(argv) == 2:
        s = ctx.lookup_typed(argv[1], set)
        return None if s is None else _random_member(ctx, s)
    count, _ = parse_random_count(argv)
    s = ctx.lookup_typed(argv[1], set)
    if s is None or count == 0:
        return []
    rng = ctx.server.rng
    if count < 0:
        return repeated_picks(ctx, list(s), -count, BULK_FLOOR, _weigh_members)
    if count == 1:
        return [_random_member(ctx, s)]
    if count >= len(s):
        return list(ordered(ctx, s))
    return rng.sample(list(s), count)


@command("sscan", -3, "readonly", keys=(1, 1, 1), acl="@set", since="2.8.0", group="set",
         complexity="O(1) for every call. O(N) for a complete iteration",
         summary="Iterate the members of a set with a cursor.", args="key cursor [MATCH pattern] [COUNT count]")
def sscan(ctx: Ctx, argv: list[bytes]) -> Any:
    cursor = collscan.parse_cursor(argv[2])
    s = ctx.lookup_typed(argv[1], set)
    if s is None:
        return collscan.reply(0, [])
    pattern, count, _ = collscan.parse_options(argv, 3)
    members = ordered(ctx, s)
    if type(members) is list:  # an intset: Redis returns it whole
        return collscan.reply(0, collscan.matching(members, pattern))
    cursor, window = collscan.threshold_scan(s, cursor, count)
    return collscan.reply(cursor, collscan.matching(window, pattern))


# -- algebra --------------------------------------------------------------------------


def _sets(ctx: Ctx, keys: list[bytes]) -> list[set | None]:
    """Every key's set (None if missing); WRONGTYPE at the first non-set, as Redis."""
    return [ctx.lookup_typed(k, set) for k in keys]


def _intersection(ctx: Ctx, sets: list[set | None], limit: int = 0) -> list[bytes]:
    """Members common to all sets, in the smallest set's order (Redis walks it)."""
    if not sets or any(s is None for s in sets):
        return []
    by_size = sorted(sets, key=len)  # stable, like the qsort Redis uses
    first, rest = by_size[0], by_size[1:]
    out: list[bytes] = []
    for m in ordered(ctx, first):  # type: ignore[arg-type]
        for other in rest:
            if m not in other:  # type: ignore[operator]
                break
        else:
            out.append(m)
            if limit and len(out) >= limit:
                break
    return out


def _union(sets: list[set | None]) -> set:
    out: set = set()
    for s in sets:
        if s:
            out |= s
    return out


def _difference(sets: list[set | None]) -> set:
    first = sets[0]
    if not first or any(s is first for s in sets[1:]):
        return set()  # SDIFF a a ... is empty
    out = set(first)
    for s in sets[1:]:
        if s:
            out -= s
            if not out:
                break
    return out


@command("sinter", -2, "readonly", keys=(1, -1, 1), acl="@set", group="set",
         complexity="O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets",
         summary="The members common to all given sets (missing keys are empty sets).", args="key [key ...]")
def sinter(ctx: Ctx, argv: list[bytes]) -> Any:
    return SetReply(_intersection(ctx, _sets(ctx, argv[1:])))


@command("sinterstore", -3, "write denyoom", keys=(1, -1, 1), acl="@set", group="set",
         complexity="O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets",
         summary="Store the intersection of sets in a key; returns its size.", args="destination key [key ...]",
         key_flags=("RW update", "RO access"))
def sinterstore(ctx: Ctx, argv: list[bytes]) -> Any:
    return store_or_delete(ctx, argv[1], set(_intersection(ctx, _sets(ctx, argv[2:]))))


@command("sintercard", -3, "readonly movablekeys", acl="@set", getkeys=numkeys_keys(2), since="7.0.0",
         group="set", complexity="O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets",
         summary="The size of the intersection of sets, counting at most LIMIT members.",
         args="numkeys key [key ...] [LIMIT limit]")
def sintercard(ctx: Ctx, argv: list[bytes]) -> Any:
    numkeys = to_int(argv[1])
    if numkeys is None or numkeys <= 0:
        raise errors.NUMKEYS_NOT_POSITIVE
    if numkeys > len(argv) - 2:
        raise errors.SET_TOO_MANY_KEYS
    limit = 0
    i = 2 + numkeys
    while i < len(argv):
        if argv[i].lower() == b"limit" and i + 1 < len(argv):
            limit = parse_nonneg_int(argv[i + 1], errors.LIMIT_NEGATIVE)
            i += 2
        else:
            raise errors.SYNTAX
    return len(_intersection(ctx, _sets(ctx, argv[2 : 2 + numkeys]), limit))


@command("sunion", -2, "readonly", keys=(1, -1, 1), acl="@set", group="set",
         complexity="O(N) where N is the total number of elements in all given sets",
         summary="The members of any of the given sets.", args="key [key ...]")
def sunion(ctx: Ctx, argv: list[bytes]) -> Any:
    return SetReply(ordered(ctx, _union(_sets(ctx, argv[1:]))))


@command("sunionstore", -3, "write denyoom", keys=(1, -1, 1), acl="@set", group="set",
         complexity="O(N) where N is the total number of elements in all given sets",
         summary="Store the union of sets in a key; returns its size.", args="destination key [key ...]",
         key_flags=("OW update", "RO access"))
def sunionstore(ctx: Ctx, argv: list[bytes]) -> Any:
    return store_or_delete(ctx, argv[1], _union(_sets(ctx, argv[2:])))


@command("sdiff", -2, "readonly", keys=(1, -1, 1), acl="@set", group="set",
         complexity="O(N) where N is the total number of elements in all given sets",
         summary="The members of the first set that are in none of the others.", args="key [key ...]")
def sdiff(ctx: Ctx, argv: list[bytes]) -> Any:
    return SetReply(ordered(ctx, _difference(_sets(ctx, argv[1:]))))


@command("sdiffstore", -3, "write denyoom", keys=(1, -1, 1), acl="@set", group="set",
         complexity="O(N) where N is the total number of elements in all given sets",
         summary="Store the difference of sets in a key; returns its size.", args="destination key [key ...]",
         key_flags=("OW update", "RO access"))
def sdiffstore(ctx: Ctx, argv: list[bytes]) -> Any:
    return store_or_delete(ctx, argv[1], _difference(_sets(ctx, argv[2:])))

"""Hash commands: HSET, HGET, HDEL, HINCRBY[FLOAT], HRANDFIELD, HSCAN, ...

A hash is a plain ``dict`` of field -> value (bytes). Invariants:
* a key never holds an empty dict: the command that removes the last field
  removes the key;
* insertion order is the order Redis's listpack encoding keeps (new fields at the
  end, updates in place, deletions close the gap), so replies of a *small* hash
  (what Redis stores as a listpack: <= 512 fields, every field and value <= 64
  bytes with Redis 7.0's compiled-in defaults) come out in exactly Redis's order. Big hashes are hashtables in Redis,
  whose order is arbitrary: clients (and our tests) must not rely on it.

HINCRBYFLOAT computes in Redis's ``long double`` (``longdouble``), so its text
matches Redis digit for digit (10.5 + 0.1 is "10.6", 1e400 is accepted); its
effect is ``HSET key field <result>``.
"""

from __future__ import annotations

from typing import Any

from .. import errors, longdouble
from ..context import Ctx
from ..encodings import hash_grew
from ..resp import OK, Map
from . import collscan, command
from .util import (
    BULK_FLOOR, LLONG_MAX, LLONG_MIN, config_limit, parse_int, parse_random_count, repeated_picks, to_int,
)

# Redis 7.0's compiled-in defaults (redis.conf's example says 128 entries, but a
# server started without it uses 512); a CONFIG parameter of the same name wins.
_LISTPACK_MAX_ENTRIES = ("hash-max-listpack-entries", 512)
_LISTPACK_MAX_VALUE = ("hash-max-listpack-value", 64)


def is_listpack(ctx: Ctx, h: dict) -> bool:
    """Would Redis keep this hash as a listpack (ordered, scanned in one call)?"""
    if len(h) > config_limit(ctx, *_LISTPACK_MAX_ENTRIES):
        return False
    longest = config_limit(ctx, *_LISTPACK_MAX_VALUE)
    for field, value in h.items():
        if len(field) > longest or len(value) > longest:
            return False
    return True


def _create(ctx: Ctx, key: bytes) -> dict:
    h: dict = {}
    ctx.db.put(key, h)
    return h


# -- writes ---------------------------------------------------------------------


@command("hset", -4, "write denyoom fast", keys=(1, 1, 1), acl="@hash", since="2.0.0", group="hash",
         complexity="O(1) for each field/value pair added",
         summary="Set one or more fields of a hash; returns how many fields are new.",
         args="key field value [field value ...]")
def hset(ctx: Ctx, argv: list[bytes]) -> Any:
    n = len(argv)
    if n & 1:
        raise errors.wrong_arity("hset")
    key = argv[1]
    h = ctx.lookup_typed(key, dict)
    if h is None:
        h = _create(ctx, key)
    before = len(h)
    if n == 4:
        h[argv[2]] = argv[3]
        limits = ctx.db.limits  # a listpack that outgrows them converts for good
        if len(h) > limits[0] or len(argv[2]) + len(argv[3]) > limits[1]:
            hash_grew(ctx, h, argv)
    else:
        h.update(zip(argv[2::2], argv[3::2]))
        hash_grew(ctx, h, argv)
    ctx.changed(key)  # Redis counts HSET as a write even when no value changes
    return len(h) - before


@command("hmset", -4, "write denyoom fast", keys=(1, 1, 1), acl="@hash", since="2.0.0", group="hash",
         complexity="O(N) where N is the number of fields being set",
         summary="Set one or more fields of a hash (deprecated form of HSET); returns OK.",
         args="key field value [field value ...]")
def hmset(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) & 1:
        raise errors.wrong_arity("hmset")
    hset(ctx, argv)
    return OK


@command("hsetnx", 4, "write denyoom fast", keys=(1, 1, 1), acl="@hash", since="2.0.0", group="hash",
         summary="Set a hash field only if it does not exist yet; 1 if set, 0 if it existed.",
         args="key field value", key_flags=("RW insert",))
def hsetnx(ctx: Ctx, argv: list[bytes]) -> Any:
    key = argv[1]
    h = ctx.lookup_typed(key, dict)
    if h is None:
        h = _create(ctx, key)
    elif argv[2] in h:
        return 0
    h[argv[2]] = argv[3]
    ctx.changed(key)
    return 1


@command("hdel", -3, "write fast", keys=(1, 1, 1), acl="@hash", since="2.0.0", group="hash",
         complexity="O(N) where N is the number of fields to be removed",
         summary="Remove fields from a hash; returns how many existed.", args="key field [field ...]",
         key_flags=("RW delete",))
def hdel(ctx: Ctx, argv: list[bytes]) -> Any:
    key = argv[1]
    h = ctx.lookup_typed(key, dict)
    if h is None:
        return 0
    deleted = 0
    for field in argv[2:]:
        if h.pop(field, None) is not None:
            deleted += 1
            if not h:
                break  # Redis stops once the hash is gone
    if deleted:
        ctx.changed(key)
        if not h:
            ctx.db.remove(key)
    return deleted


@command("hincrby", 4, "write denyoom fast", keys=(1, 1, 1), acl="@hash", since="2.0.0", group="hash",
         summary="Add an integer to a hash field (missing counts as 0); returns the new value.",
         args="key field increment", key_flags=("RW access update",))
def hincrby(ctx: Ctx, argv: list[bytes]) -> Any:
    incr = parse_int(argv[3])
    key, field = argv[1], argv[2]
    h = ctx.lookup_typed(key, dict)
    value = 0
    if h is not None:
        current = h.get(field)
        if current is not None:
            value = to_int(current)
            if value is None:
                raise errors.NOT_INT_HASH
    result = value + incr
    if not LLONG_MIN <= result <= LLONG_MAX:
        raise errors.OVERFLOW
    if h is None:
        h = _create(ctx, key)
    h[field] = b"%d" % result
    ctx.changed(key)
    return result


@command("hincrbyfloat", 4, "write denyoom fast", keys=(1, 1, 1), acl="@hash", since="2.6.0", group="hash",
         summary="Add a floating point number to a hash field; returns the new value as text.",
         args="key field increment", key_flags=("RW access update",))
def hincrbyfloat(ctx: Ctx, argv: list[bytes]) -> Any:
    incr = longdouble.parse(argv[3])
    if incr is None:
        raise errors.NOT_FLOAT
    if incr is longdouble.INF:
        raise errors.HASH_NAN_OR_INF_VALUE
    key, field = argv[1], argv[2]
    h = ctx.lookup_typed(key, dict)
    value = longdouble.ZERO
    if h is not None:
        current = h.get(field)
        if current is not None:
            value = longdouble.parse(current)
            if value is None:
                raise errors.NOT_FLOAT_HASH
    result = longdouble.add(value, incr)  # None for a stored "inf" too
    if result is None:
        raise errors.NAN_OR_INF
    text = longdouble.to_human_string(result)
    if h is None:
        h = _create(ctx, key)
    h[field] = text
    ctx.changed(key)
    ctx.propagate([b"HSET", key, field, text])  # replicas must not redo the float math
    return text


# -- reads ----------------------------------------------------------------------


@command("hget", 3, "readonly fast", keys=(1, 1, 1), acl="@hash", since="2.0.0", group="hash",
         summary="The value of a hash field, or nil.", args="key field")
def hget(ctx: Ctx, argv: list[bytes]) -> Any:
    h = ctx.lookup_typed(argv[1], dict)
    return None if h is None else h.get(argv[2])


@command("hmget", -3, "readonly fast", keys=(1, 1, 1), acl="@hash", since="2.0.0", group="hash",
         complexity="O(N) where N is the number of fields being requested",
         summary="The values of several hash fields (nil for missing ones).", args="key field [field ...]")
def hmget(ctx: Ctx, argv: list[bytes]) -> Any:
    h = ctx.lookup_typed(argv[1], dict)
    if h is None:
        return [None] * (len(argv) - 2)
    get = h.get
    return [get(f) for f in argv[2:]]


@command("hgetall", 2, "readonly", keys=(1, 1, 1), acl="@hash", since="2.0.0", group="hash",
         complexity="O(N) where N is the size of the hash",
         summary="Every field and value of a hash (a map in RESP3).", args="key")
def hgetall(ctx: Ctx, argv: list[bytes]) -> Any:
    h = ctx.lookup_typed(argv[1], dict)
    return Map(h.items()) if h is not None else Map()


@command("hkeys", 2, "readonly", keys=(1, 1, 1), acl="@hash", since="2.0.0", group="hash",
         complexity="O(N) where N is the size of the hash", summary="Every field name of a hash.", args="key")
def hkeys(ctx: Ctx, argv: list[bytes]) -> Any:
    h = ctx.lookup_typed(argv[1], dict)
    return list(h) if h is not None else []


@command("hvals", 2, "readonly", keys=(1, 1, 1), acl="@hash", since="2.0.0", group="hash",
         complexity="O(N) where N is the size of the hash", summary="Every value of a hash.", args="key")
def hvals(ctx: Ctx, argv: list[bytes]) -> Any:
    h = ctx.lookup_typed(argv[1], dict)
    return list(h.values()) if h is not None else []


@command("hexists", 3, "readonly fast", keys=(1, 1, 1), acl="@hash", since="2.0.0", group="hash",
         summary="1 if the hash has the field, else 0.", args="key field", key_flags=("RO",))
def hexists(ctx: Ctx, argv: list[bytes]) -> Any:
    h = ctx.lookup_typed(argv[1], dict)
    return 1 if h is not None and argv[2] in h else 0


@command("hlen", 2, "readonly fast", keys=(1, 1, 1), acl="@hash", since="2.0.0", group="hash",
         summary="The number of fields in a hash.", args="key", key_flags=("RO",))
def hlen(ctx: Ctx, argv: list[bytes]) -> Any:
    h = ctx.lookup_typed(argv[1], dict)
    return len(h) if h is not None else 0


@command("hstrlen", 3, "readonly fast", keys=(1, 1, 1), acl="@hash", since="3.2.0", group="hash",
         summary="The length in bytes of a hash field's value (0 if missing).", args="key field", key_flags=("RO",))
def hstrlen(ctx: Ctx, argv: list[bytes]) -> Any:
    h = ctx.lookup_typed(argv[1], dict)
    if h is None:
        return 0
    value = h.get(argv[2])
    return 0 if value is None else len(value)


@command("hrandfield", -2, "readonly", keys=(1, 1, 1), acl="@hash", since="6.2.0", group="hash",
         complexity="O(N) where N is the number of fields returned",
         summary="Random fields of a hash: distinct ones for a positive count, possibly repeated for a negative count.",
         args="key [count [WITHVALUES]]")
def hrandfield(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) == 2:
        h = ctx.lookup_typed(argv[1], dict)
        if h is None:
            return None
        return _nth_field(h, ctx.server.rng.randrange(len(h)))
    count, withvalues = parse_random_count(argv, b"withvalues")
    h = ctx.lookup_typed(argv[1], dict)
    if h is None or count == 0:
        return []
    rng = ctx.server.rng
    if count < 0:
        if withvalues:
            def weigh(batch: list[bytes]) -> int:
                return sum(len(f) + len(h[f]) for f in batch) + 2 * BULK_FLOOR * len(batch)
        else:
            def weigh(batch: list[bytes]) -> int:
                return sum(map(len, batch)) + BULK_FLOOR * len(batch)
        picked = repeated_picks(ctx, list(h), -count, BULK_FLOOR * (2 if withvalues else 1), weigh)
    elif count == 1:
        picked = [_nth_field(h, rng.randrange(len(h)))]
    elif count >= len(h):
        picked = list(h)  # the whole hash, in its own order (deterministic for small hashes)
    else:
        picked = rng.sample(list(h), count)
    if not withvalues:
        return picked
    if ctx.client.proto == 3:
        return [[f, h[f]] for f in picked]
    out: list[bytes] = []
    for f in picked:
        out.append(f)
        out.append(h[f])
    return out


def _nth_field(h: dict, index: int) -> bytes:
    for i, field in enumerate(h):
        if i == index:
            return field
    raise IndexError(index)


@command("hscan", -3, "readonly", keys=(1, 1, 1), acl="@hash", since="2.8.0", group="hash",
         complexity="O(1) for every call. O(N) for a complete iteration",
         summary="Iterate the fields and values of a hash with a cursor.",
         args="key cursor [MATCH pattern] [COUNT count]")
def hscan(ctx: Ctx, argv: list[bytes]) -> Any:
    cursor = collscan.parse_cursor(argv[2])
    h = ctx.lookup_typed(argv[1], dict)
    if h is None:
        return collscan.reply(0, [])
    pattern, count, _ = collscan.parse_options(argv, 3)
    if is_listpack(ctx, h):
        cursor, fields = 0, collscan.matching(h, pattern)
    else:
        cursor, fields = collscan.threshold_scan(h, cursor, count)
        fields = collscan.matching(fields, pattern)
    out: list[bytes] = []
    for f in fields:
        out.append(f)
        out.append(h[f])
    return collscan.reply(cursor, out)

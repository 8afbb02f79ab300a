"""String commands on whole values: GET/SET and their variants (SETNX, SETEX,
PSETEX, GETSET, GETEX, GETDEL, MGET, MSET, MSETNX), APPEND, STRLEN and the counters
(INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT). Parts of strings (GETRANGE, SETRANGE,
LCS) live in ``strings_ranges``, bits in ``bitops``.

Values are immutable ``bytes``: every write stores a new object through the
context, so a reader never sees a half-written string.

Invariants kept here, as Redis 7.0 keeps them:
* A write that keeps the value's TTL says so (``keep_ttl=True``): INCR*, APPEND
  and SET KEEPTTL keep it; SET, GETSET and MSET clear it.
* Effects are deterministic: relative expiries are logged as absolute
  ``SET key value PXAT <ms>`` / ``PEXPIREAT`` (``expire.expire_at``), INCRBYFLOAT as ``SET key value
  KEEPTTL``, GETDEL as ``DEL``, GETSET as ``SET``; SET ... GET is logged without GET.
* INCRBYFLOAT computes in Redis's ``long double`` (``longdouble``), so its text
  matches Redis digit for digit.
* Option keywords compare like Redis's C strings: case-insensitive and only up to
  the first NUL byte (``keyword``).
"""

from __future__ import annotations

from typing import Any

from .. import errors, longdouble
from ..context import Ctx
from ..resp import OK
from . import command
from .keyspecs import READ_WRITE, WRITE
from .expire import expire_at
from .util import LLONG_MAX, LLONG_MIN, keyword, max_bulk_len, parse_int, to_int


# ---------------------------------------------------------------------------
# SET and GET families

# Option flags of SET/GETEX (parseExtendedStringArgumentsOrReply).
_NX, _XX, _GET, _KEEPTTL, _PERSIST = 1, 2, 4, 8, 16
_EX, _PX, _EXAT, _PXAT = 32, 64, 128, 256
_EXPIRY = _EX | _PX | _EXAT | _PXAT
_EXPIRY_OPTIONS = {b"ex": _EX, b"px": _PX, b"exat": _EXAT, b"pxat": _PXAT}


def _parse_options(argv: list[bytes], start: int, for_set: bool) -> tuple[int, bytes | None]:
    """SET (``for_set``) or GETEX options: ``(flags, expiry argument)``.

    One kind of expiry at most (repeating the same one is allowed, the last wins);
    NX excludes XX, KEEPTTL excludes expiries, PERSIST (GETEX) excludes both.
    """
    flags = 0
    expiry: bytes | None = None
    n = len(argv)
    j = start
    while j < n:
        opt = keyword(argv[j])
        kind = _EXPIRY_OPTIONS.get(opt)
        if kind is not None:
            if j + 1 >= n or flags & (_KEEPTTL | _PERSIST | (_EXPIRY & ~kind)):
                raise errors.SYNTAX
            flags |= kind
            j += 1
            expiry = argv[j]
        elif for_set and opt == b"nx" and not flags & _XX:
            flags |= _NX
        elif for_set and opt == b"xx" and not flags & _NX:
            flags |= _XX
        elif for_set and opt == b"get":
            flags |= _GET
        elif for_set and opt == b"keepttl" and not flags & _EXPIRY:
            flags |= _KEEPTTL
        elif not for_set and opt == b"persist" and not flags & _EXPIRY:
            flags |= _PERSIST
        else:
            raise errors.SYNTAX
        j += 1
    return flags, expiry


def _expire_at_ms(ctx: Ctx, flags: int, arg: bytes, name: str) -> int:
    """The absolute expiry (ms) an EX/PX/EXAT/PXAT argument stands for."""
    when = parse_int(arg)
    seconds = flags & (_EX | _EXAT)
    if when <= 0 or (seconds and when > LLONG_MAX // 1000):
        raise errors.invalid_expire(name)
    if seconds:
        when *= 1000
    if flags & (_EX | _PX):
        when += ctx.now_ms
        if when > LLONG_MAX:  # Redis's signed addition wraps negative here
            raise errors.invalid_expire(name)
    return when


def _set_generic(
    ctx: Ctx, argv: list[bytes], key: bytes, value: bytes, flags: int, expiry: bytes | None,
    name: str, ok_reply: Any = OK, abort_reply: Any = None,
) -> Any:
    """setGenericCommand: SET with options, SETNX, SETEX, PSETEX."""
    when = None if expiry is None else _expire_at_ms(ctx, flags, expiry, name)
    old = None
    if flags & _GET:
        old = ctx.lookup_typed(key, bytes)
        found = old is not None
    else:
        found = ctx.lookup(key) is not None
    if (flags & _NX and found) or (flags & _XX and not found):
        return old if flags & _GET else abort_reply
    ctx.store(key, value, keep_ttl=bool(flags & _KEEPTTL))
    if when is not None:
        ctx.db.set_expire(key, when)
        ctx.propagate([b"SET", key, value, b"PXAT", b"%d" % when])
    elif flags & _GET:
        ctx.propagate(argv[:3] + [a for a in argv[3:] if keyword(a) != b"get"])
    return old if flags & _GET else ok_reply


@command("get", 2, "readonly fast", keys=(1, 1, 1), acl="@string", group="string",
         summary="Return the string stored at a key, or nil.", args="key")
def get(ctx: Ctx, argv: list[bytes]) -> Any:
    return ctx.lookup_typed(argv[1], bytes)


def _set_key_access(argv: list[bytes]) -> list[tuple[int, int]]:
    """SET writes its key, and reads it too only with GET."""
    get = any(a.lower() == b"get" for a in argv[3:])
    return [(1, READ_WRITE if get else WRITE)]


@command("set", -3, "write denyoom", keys=(1, 1, 1), acl="@string", group="string", key_access=_set_key_access,
         summary="Store a string at a key, optionally only if it exists or not, with an expiry, returning the old value.",
         args="key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | "
              "PXAT unix-time-milliseconds | KEEPTTL]", key_flags=("RW access update variable_flags",))
def set_(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) == 3:  # the plain SET: ctx.store's two steps, without its extra call
        key = argv[1]
        db = ctx.db
        if db.expires:
            ctx.lookup(key)  # an expired key is deleted (and logged) before it is replaced, as in Redis
        db.put(key, argv[2])
        ctx.changed(key)
        return OK
    flags, expiry = _parse_options(argv, 3, True)
    return _set_generic(ctx, argv, argv[1], argv[2], flags, expiry, "set")


@command("setnx", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string", group="string",
         summary="Store a string only if the key does not exist; 1 if stored, 0 if not.", args="key value",
         key_flags=("OW insert",))
def setnx(ctx: Ctx, argv: list[bytes]) -> Any:
    return _set_generic(ctx, argv, argv[1], argv[2], _NX, None, "setnx", 1, 0)


@command("setex", 4, "write denyoom", keys=(1, 1, 1), acl="@string", since="2.0.0", group="string",
         summary="Store a string that expires after the given number of seconds.", args="key seconds value",
         key_flags=("OW update",))
def setex(ctx: Ctx, argv: list[bytes]) -> Any:
    return _set_generic(ctx, argv, argv[1], argv[3], _EX, argv[2], "setex")


@command("psetex", 4, "write denyoom", keys=(1, 1, 1), acl="@string", since="2.6.0", group="string",
         summary="Store a string that expires after the given number of milliseconds.", args="key milliseconds value",
         key_flags=("OW update",))
def psetex(ctx: Ctx, argv: list[bytes]) -> Any:
    return _set_generic(ctx, argv, argv[1], argv[3], _PX, argv[2], "psetex")


@command("getset", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string", group="string",
         summary="Store a string and return the previous one (deprecated: SET ... GET).", args="key value",
         key_flags=("RW access update",))
def getset(ctx: Ctx, argv: list[bytes]) -> Any:
    key, value = argv[1], argv[2]
    old = ctx.lookup_typed(key, bytes)
    ctx.store(key, value)
    ctx.propagate([b"SET", key, value])
    return old


@command("getex", -2, "write fast", keys=(1, 1, 1), acl="@string", since="6.2.0", group="string",
         summary="Return a string and set or remove its expiry.",
         args="key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]",
         key_flags=("RW access update",))
def getex(ctx: Ctx, argv: list[bytes]) -> Any:
    key = argv[1]
    flags, expiry = _parse_options(argv, 2, False) if len(argv) > 2 else (0, None)
    value = ctx.lookup_typed(key, bytes)
    if value is None:
        return None
    if expiry is not None:
        # EXAT/PXAT already past deletes the key now (EX/PX are always in the future).
        expire_at(ctx, key, _expire_at_ms(ctx, flags, expiry, "getex"))
    elif flags & _PERSIST and ctx.db.persist(key):
        ctx.changed(key)
        ctx.propagate([b"PERSIST", key])
    return value


@command("getdel", 2, "write fast", keys=(1, 1, 1), acl="@string", since="6.2.0", group="string",
         summary="Return a string and delete its key.", args="key", key_flags=("RW access delete",))
def getdel(ctx: Ctx, argv: list[bytes]) -> Any:
    key = argv[1]
    value = ctx.lookup_typed(key, bytes)
    if value is not None:
        ctx.db.remove(key)
        ctx.changed(key)
        ctx.propagate([b"DEL", key])
    return value


@command("mget", -2, "readonly fast", keys=(1, -1, 1), acl="@string", group="string",
         complexity="O(N) where N is the number of keys to retrieve.",
         summary="Return the strings at several keys; nil for a missing key or another type.", args="key [key ...]")
def mget(ctx: Ctx, argv: list[bytes]) -> Any:
    lookup = ctx.lookup
    out = []
    for key in argv[1:]:
        value = lookup(key)
        out.append(value if type(value) is bytes else None)
    return out


@command("mset", -3, "write denyoom", keys=(1, -1, 2), acl="@string", since="1.0.1", group="string",
         complexity="O(N) where N is the number of keys to set.",
         summary="Store several strings at once.", args="key value [key value ...]", key_flags=("OW update",))
def mset(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) % 2 == 0:
        raise errors.wrong_arity("mset")
    expires = ctx.db.expires
    for i in range(1, len(argv), 2):
        if expires:
            ctx.lookup(argv[i])
        ctx.store(argv[i], argv[i + 1])
    return OK


@command("msetnx", -3, "write denyoom", keys=(1, -1, 2), acl="@string", since="1.0.1", group="string",
         complexity="O(N) where N is the number of keys to set.",
         summary="Store several strings only if none of the keys exists; 1 if stored, 0 if not.",
         args="key value [key value ...]", key_flags=("OW insert",))
def msetnx(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) % 2 == 0:
        raise errors.wrong_arity("msetnx")
    for i in range(1, len(argv), 2):
        if ctx.lookup(argv[i]) is not None:
            return 0
    for i in range(1, len(argv), 2):
        ctx.store(argv[i], argv[i + 1])
    return 1


@command("append", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string", since="2.0.0", group="string",
         summary="Append bytes to a string (creating it); returns the new length.", args="key value",
         key_flags=("RW insert",))
def append(ctx: Ctx, argv: list[bytes]) -> Any:
    key, tail = argv[1], argv[2]
    value = ctx.lookup_typed(key, bytes)
    if value is None:
        ctx.store(key, tail)
        return len(tail)
    if len(value) + len(tail) > max_bulk_len(ctx):
        raise errors.STRING_TOO_LONG
    value += tail
    ctx.store(key, value, keep_ttl=True)
    return len(value)


@command("strlen", 2, "readonly fast", keys=(1, 1, 1), acl="@string", since="2.2.0", group="string",
         summary="Length in bytes of the string at a key (0 if missing).", args="key", key_flags=("RO",))
def strlen(ctx: Ctx, argv: list[bytes]) -> Any:
    value = ctx.lookup_typed(argv[1], bytes)
    return 0 if value is None else len(value)


# ---------------------------------------------------------------------------
# Integer counters


def _incr_by(ctx: Ctx, key: bytes, delta: int) -> int:
    value = ctx.lookup_typed(key, bytes)
    if value is None:
        current = 0
    else:
        current = to_int(value)
        if current is None:
            raise errors.NOT_INTEGER
    result = current + delta
    if result > LLONG_MAX or result < LLONG_MIN:
        raise errors.OVERFLOW
    ctx.db.put(key, b"%d" % result, True)  # keeps the TTL
    ctx.changed(key)
    return result


@command("incr", 2, "write denyoom fast", keys=(1, 1, 1), acl="@string", group="string",
         summary="Add 1 to the integer at a key (0 if missing); returns the new value.", args="key",
         key_flags=("RW access update",))
def incr(ctx: Ctx, argv: list[bytes]) -> Any:
    return _incr_by(ctx, argv[1], 1)


@command("decr", 2, "write denyoom fast", keys=(1, 1, 1), acl="@string", group="string",
         summary="Subtract 1 from the integer at a key (0 if missing); returns the new value.", args="key",
         key_flags=("RW access update",))
def decr(ctx: Ctx, argv: list[bytes]) -> Any:
    return _incr_by(ctx, argv[1], -1)


@command("incrby", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string", group="string",
         summary="Add an integer to the integer at a key; returns the new value.", args="key increment",
         key_flags=("RW access update",))
def incrby(ctx: Ctx, argv: list[bytes]) -> Any:
    return _incr_by(ctx, argv[1], parse_int(argv[2]))


@command("decrby", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string", group="string",
         summary="Subtract an integer from the integer at a key; returns the new value.", args="key decrement",
         key_flags=("RW access update",))
def decrby(ctx: Ctx, argv: list[bytes]) -> Any:
    delta = parse_int(argv[2])
    if delta == LLONG_MIN:
        raise errors.STRING_DECR_OVERFLOW
    return _incr_by(ctx, argv[1], -delta)


# ---------------------------------------------------------------------------
# INCRBYFLOAT


@command("incrbyfloat", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string", since="2.6.0", group="string",
         summary="Add a decimal number to the number at a key; returns the new value.", args="key increment",
         key_flags=("RW access update",))
def incrbyfloat(ctx: Ctx, argv: list[bytes]) -> Any:
    key = argv[1]
    value = ctx.lookup_typed(key, bytes)
    current = longdouble.ZERO if value is None else longdouble.parse(value)
    if current is None:
        raise errors.NOT_FLOAT
    increment = longdouble.parse(argv[2])
    if increment is None:
        raise errors.NOT_FLOAT
    total = longdouble.add(current, increment)
    if total is None:
        raise errors.NAN_OR_INF
    text = longdouble.to_human_string(total)
    ctx.store(key, text, keep_ttl=True)
    # Replicas store the printed value: no float arithmetic to disagree on.
    ctx.propagate([b"SET", key, text, b"KEEPTTL"])
    return text

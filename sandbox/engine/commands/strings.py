"""String commands: GET/SET and their variants, counters, ranges and LCS.

Values are immutable ``bytes``: every write stores a new object through the
context, so a reader never sees a half-written string.

Invariants kept here, as Redis 7.0 keeps them:
* A write that keeps the value's TTL says so (``keep_ttl=True``): INCR*, APPEND,
  SETRANGE and SET KEEPTTL keep it; SET, GETSET and MSET clear it.
* Effects are deterministic: relative expiries are logged as absolute
  ``SET key value PXAT <ms>`` / ``PEXPIREAT``, INCRBYFLOAT as ``SET key value
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
from ..errors import RedisError
from ..resp import OK, Map
from . import command
from .util import LLONG_MAX, LLONG_MIN, keyword, max_bulk_len, parse_int, string_range, to_int

_E_DECR_OVERFLOW = RedisError("ERR decrement would overflow")
_E_LCS_TYPES = RedisError("ERR The specified keys must contain string values")
_E_LCS_LEN_AND_IDX = RedisError("ERR If you want both the length and indexes, please just use IDX.")
_E_LCS_TOO_LONG = RedisError("ERR String too long for LCS")
_E_LCS_MEMORY = RedisError("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")


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


@command("set", -3, "write denyoom", keys=(1, 1, 1), acl="@string", group="string",
         summary="Store a string at a key, optionally only if it exists or not, with an expiry, returning the old value.",
         args="key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | "
              "PXAT unix-time-milliseconds | KEEPTTL]")
def set_(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) == 3:
        key = argv[1]
        if ctx.db.expires:
            ctx.lookup(key)  # an expired key is deleted (and logged) before it is replaced, as in Redis
        ctx.store(key, argv[2])
        return OK
    flags, expiry = _parse_options(argv, 3, True)
    return _set_generic(ctx, argv, argv[1], argv[2], flags, expiry, "set")


@command("setnx", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string", group="string",
         summary="Store a string only if the key does not exist; 1 if stored, 0 if not.", args="key value")
def setnx(ctx: Ctx, argv: list[bytes]) -> Any:
    return _set_generic(ctx, argv, argv[1], argv[2], _NX, None, "setnx", 1, 0)


@command("setex", 4, "write denyoom", keys=(1, 1, 1), acl="@string", since="2.0.0", group="string",
         summary="Store a string that expires after the given number of seconds.", args="key seconds value")
def setex(ctx: Ctx, argv: list[bytes]) -> Any:
    return _set_generic(ctx, argv, argv[1], argv[3], _EX, argv[2], "setex")


@command("psetex", 4, "write denyoom", keys=(1, 1, 1), acl="@string", since="2.6.0", group="string",
         summary="Store a string that expires after the given number of milliseconds.", args="key milliseconds value")
def psetex(ctx: Ctx, argv: list[bytes]) -> Any:
    return _set_generic(ctx, argv, argv[1], argv[3], _PX, argv[2], "psetex")


@command("getset", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string", group="string",
         summary="Store a string and return the previous one (deprecated: SET ... GET).", args="key value")
def getset(ctx: Ctx, argv: list[bytes]) -> Any:
    key, value = argv[1], argv[2]
    old = ctx.lookup_typed(key, bytes)
    ctx.store(key, value)
    ctx.propagate([b"SET", key, value])
    return old


@command("getex", -2, "write fast", keys=(1, 1, 1), acl="@string", since="6.2.0", group="string",
         summary="Return a string and set or remove its expiry.",
         args="key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]")
def getex(ctx: Ctx, argv: list[bytes]) -> Any:
    key = argv[1]
    flags, expiry = _parse_options(argv, 2, False) if len(argv) > 2 else (0, None)
    value = ctx.lookup_typed(key, bytes)
    if value is None:
        return None
    if expiry is not None:
        when = _expire_at_ms(ctx, flags, expiry, "getex")
        if flags & (_EXAT | _PXAT) and when <= ctx.now_ms and ctx.server.expires_locally:
            # An absolute time already past deletes the key now (replicas wait for the DEL).
            ctx.db.remove(key)
            ctx.changed(key)
            ctx.propagate([b"DEL", key])
        else:
            ctx.db.set_expire(key, when)
            ctx.changed(key)
            ctx.propagate([b"PEXPIREAT", key, b"%d" % when])
    elif flags & _PERSIST and ctx.db.persist(key):
        ctx.changed(key)
        ctx.propagate([b"PERSIST", key])
    return value


@command("getdel", 2, "write fast", keys=(1, 1, 1), acl="@string", since="6.2.0", group="string",
         summary="Return a string and delete its key.", args="key")
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
         summary="Store several strings at once.", args="key value [key value ...]")
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
         args="key value [key value ...]")
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
         summary="Append bytes to a string (creating it); returns the new length.", args="key value")
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
         summary="Length in bytes of the string at a key (0 if missing).", args="key")
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
    ctx.store(key, b"%d" % result, keep_ttl=True)
    return result


@command("incr", 2, "write denyoom fast", keys=(1, 1, 1), acl="@string", group="string",
         summary="Add 1 to the integer at a key (0 if missing); returns the new value.", args="key")
def incr(ctx: Ctx, argv: list[bytes]) -> Any:
    return _incr_by(ctx, argv[1], 1)


@command("decr", 2, "write denyoom fast", keys=(1, 1, 1), acl="@string", group="string",
         summary="Subtract 1 from the integer at a key (0 if missing); returns the new value.", args="key")
def decr(ctx: Ctx, argv: list[bytes]) -> Any:
    return _incr_by(ctx, argv[1], -1)


@command("incrby", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string", group="string",
         summary="Add an integer to the integer at a key; returns the new value.", args="key increment")
def incrby(ctx: Ctx, argv: list[bytes]) -> Any:
    return _incr_by(ctx, argv[1], parse_int(argv[2]))


@command("decrby", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string", group="string",
         summary="Subtract an integer from the integer at a key; returns the new value.", args="key decrement")
def decrby(ctx: Ctx, argv: list[bytes]) -> Any:
    delta = parse_int(argv[2])
    if delta == LLONG_MIN:
        raise _E_DECR_OVERFLOW
    return _incr_by(ctx, argv[1], -delta)


# ---------------------------------------------------------------------------
# INCRBYFLOAT


@command("incrbyfloat", 3, "write denyoom fast", keys=(1, 1, 1), acl="@string", since="2.6.0", group="string",
         summary="Add a decimal number to the number at a key; returns the new value.", args="key increment")
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


@command("setrange", 4, "write denyoom", keys=(1, 1, 1), acl="@string", since="2.2.0", group="string",
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


def _lcs_rows(a: bytes, b: bytes) -> list[int]:
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
        raise _E_LCS_TYPES
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
        raise _E_LCS_LEN_AND_IDX
    alen, blen = len(a), len(b)
    if alen >= 2**32 - 2 or blen >= 2**32 - 2:
        raise _E_LCS_TOO_LONG
    if (alen + 1) * (blen + 1) * 4 > max_bulk_len(ctx):
        raise _E_LCS_MEMORY

    rows = _lcs_rows(a, b)
    total = blen - rows[alen].bit_count()
    if getlen:
        return total

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

"""Generic key commands: DEL, UNLINK, EXISTS, TYPE, TOUCH, RENAME, RENAMENX, COPY,
MOVE, RANDOMKEY, KEYS, SCAN, the EXPIRE and TTL families, PERSIST and OBJECT.

Invariants:
* Every read goes through ``Ctx.lookup``, so a logically expired key is never seen
  and its deletion reaches the log as ``DEL`` before the command's own effect.
* Expiry is stored as an absolute Unix time in ms; the EXPIRE family is logged as
  ``PEXPIREAT key <ms>`` (the outcome, without NX/XX/GT/LT, which were already
  decided here), and an expiry time already in the past as ``DEL key``.
* RENAME, COPY and MOVE carry the source's absolute expiry time to the new key,
  so their own argv replays to the same state.
* SCAN walks ``Database.scan_index()``'s reverse-binary cursor: a key present for a
  whole iteration is returned at least once, whatever is added or removed meanwhile.
  Its cursor and options are parsed by ``collscan``, like HSCAN/SSCAN/ZSCAN's.
* OBJECT ENCODING is derived from the value's current shape with Redis 7.0's
  default thresholds; Redis never converts back to the compact encoding, so a
  container that grew and then shrank is reported compact here (see ``encoding_of``).
  No per-key access time is kept (it would cost every lookup), so OBJECT IDLETIME
  answers 0.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from .. import errors, glob
from ..context import Ctx
from ..datatypes import ZSet, copy_value
from ..errors import RedisError
from ..keyspace import Database
from ..resp import OK, Status, string2ll
from . import collscan, command, container
from .util import parse_int

LLONG_MAX = 2**63 - 1
_SEC_LIMIT = LLONG_MAX // 1000  # C's LLONG_MAX / 1000 (and -LLONG_MIN / 1000, truncated)
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1

E_INT_RANGE = RedisError("ERR value is out of range, value must between -2147483648 and 2147483647")
E_DB_RANGE = RedisError("ERR DB index is out of range")
E_COPY_CLUSTER = RedisError("ERR Copying to another database is not allowed in cluster mode")
E_MOVE_CLUSTER = RedisError("ERR MOVE is not allowed in cluster mode")
E_NX_XX_GT_LT = RedisError("ERR NX and XX, GT or LT options at the same time are not compatible")
E_GT_LT = RedisError("ERR GT and LT options at the same time are not compatible")
E_FREQ_NOT_LFU = RedisError(
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when "
    "switching between policies at runtime LRU and LFU data will take some time to adjust."
)
E_IDLE_LFU = RedisError(
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
    "switching between policies at runtime LRU and LFU data will take some time to adjust."
)


# -- deleting and testing keys ----------------------------------------------------------
@command("del", -2, "write", keys=(1, -1, 1), acl="@keyspace", complexity="O(N)",
         summary="Delete the given keys; returns how many existed.", args="key [key ...]")
def del_(ctx: Ctx, argv: list[bytes]) -> Any:
    removed = 0
    for key in argv[1:]:
        if ctx.delete(key):
            removed += 1
    return removed


@command("unlink", -2, "write fast", keys=(1, -1, 1), acl="@keyspace", since="4.0.0", complexity="O(1)",
         summary="Delete the given keys (memory reclaimed at once here); returns how many existed.",
         args="key [key ...]")
def unlink(ctx: Ctx, argv: list[bytes]) -> Any:
    return del_(ctx, argv)


@command("exists", -2, "readonly fast", keys=(1, -1, 1), acl="@keyspace", complexity="O(N)",
         summary="Count how many of the given keys exist (a repeated key counts each time).",
         args="key [key ...]")
def exists(ctx: Ctx, argv: list[bytes]) -> Any:
    lookup = ctx.lookup
    return sum(1 for key in argv[1:] if lookup(key) is not None)


@command("touch", -2, "readonly fast", keys=(1, -1, 1), acl="@keyspace", since="3.2.1", complexity="O(N)",
         summary="Count how many of the given keys exist, as an access to each.", args="key [key ...]")
def touch(ctx: Ctx, argv: list[bytes]) -> Any:
    return exists(ctx, argv)


@command("type", 2, "readonly fast", keys=(1, 1, 1), acl="@keyspace",
         summary="The type of the value at key (string, list, set, zset, hash) or none.", args="key")
def type_(ctx: Ctx, argv: list[bytes]) -> Any:
    return Status(ctx.type_of(ctx.lookup(argv[1])))


# -- renaming, copying, moving ---------------------------------------------------------------
def _rename(ctx: Ctx, argv: list[bytes], nx: bool) -> Any:
    src, dst = argv[1], argv[2]
    value = ctx.lookup(src)
    if value is None:
        raise errors.NO_SUCH_KEY
    if src == dst:
        return 0 if nx else OK
    db = ctx.db
    when = db.expires.get(src)
    if ctx.lookup(dst) is not None and nx:
        return 0
    db.remove(src)
    db.put(dst, value)  # replaces dst and its TTL, if it had one
    if when is not None:
        db.set_expire(dst, when)
    ctx.changed(src)
    ctx.changed(dst)
    return 1 if nx else OK


@command("rename", 3, "write", keys=(1, 2, 1), acl="@keyspace",
         summary="Rename a key (with its TTL), replacing the destination.", args="key newkey")
def rename(ctx: Ctx, argv: list[bytes]) -> Any:
    return _rename(ctx, argv, nx=False)


@command("renamenx", 3, "write fast", keys=(1, 2, 1), acl="@keyspace",
         summary="Rename a key only if the new name is free; 1 if renamed.", args="key newkey")
def renamenx(ctx: Ctx, argv: list[bytes]) -> Any:
    return _rename(ctx, argv, nx=True)


def _db_index(ctx: Ctx, arg: bytes) -> int:
    """A database number as COPY/MOVE parse it (``getIntFromObjectOrReply`` + ``selectDb``)."""
    index = parse_int(arg)
    if not _INT_MIN <= index <= _INT_MAX:
        raise E_INT_RANGE
    # In cluster mode Redis still has its configured databases; only db 0 is used.
    count = ctx.server.config.databases if ctx.server.config.cluster_enabled else len(ctx.server.keyspace)
    if not 0 <= index < count:
        raise E_DB_RANGE
    return index


def _lookup_in(ctx: Ctx, key: bytes, db: Database) -> Any:
    """``ctx.lookup`` in another database. An empty ``Database`` is falsy and Ctx
    would then fall back to the client's own database, so that case is answered here."""
    if db is not ctx.db and not db.data:
        return None
    return ctx.lookup(key, db)


@command("copy", -3, "write denyoom", keys=(1, 2, 1), acl="@keyspace", since="6.2.0", complexity="O(N)",
         summary="Copy a key's value (and TTL) to another key, optionally in another database.",
         args="source destination [DB destination-db] [REPLACE]")
def copy(ctx: Ctx, argv: list[bytes]) -> Any:
    src_id = dst_id = ctx.db.id
    replace = False
    j = 3
    while j < len(argv):
        opt = argv[j].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"db" and j + 1 < len(argv):
            dst_id = _db_index(ctx, argv[j + 1])
            j += 1
        else:
            raise errors.SYNTAX
        j += 1
    if ctx.server.config.cluster_enabled and (src_id != 0 or dst_id != 0):
        raise E_COPY_CLUSTER
    src, dst = argv[1], argv[2]
    if src_id == dst_id and src == dst:
        raise errors.SAME_OBJECT
    value = ctx.lookup(src)
    if value is None:
        return 0
    when = ctx.db.expires.get(src)
    dst_db = ctx.server.keyspace.dbs[dst_id]
    if _lookup_in(ctx, dst, dst_db) is not None and not replace:
        return 0
    dst_db.put(dst, copy_value(value))
    if when is not None:
        dst_db.set_expire(dst, when)
    ctx.changed(dst, dst_db)
    return 1


@command("move", 3, "write fast", keys=(1, 1, 1), acl="@keyspace",
         summary="Move a key (with its TTL) to another database unless it exists there.", args="key db")
def move(ctx: Ctx, argv: list[bytes]) -> Any:
    if ctx.server.config.cluster_enabled:
        raise E_MOVE_CLUSTER
    dst_db = ctx.server.keyspace.dbs[_db_index(ctx, argv[2])]
    src_db = ctx.db
    if dst_db is src_db:
        raise errors.SAME_OBJECT
    key = argv[1]
    value = ctx.lookup(key)
    if value is None:
        return 0
    when = src_db.expires.get(key)
    if _lookup_in(ctx, key, dst_db) is not None:
        return 0
    dst_db.put(key, value)
    if when is not None:
        dst_db.set_expire(key, when)
    src_db.remove(key)
    ctx.changed(key, src_db)
    ctx.changed(key, dst_db)
    return 1


# -- enumerating keys ------------------------------------------------------------------------
@command("randomkey", 1, "readonly", acl="@keyspace",
         summary="A random key of the current database, or nil when it is empty.")
def randomkey(ctx: Ctx, argv: list[bytes]) -> Any:
    db = ctx.db
    if not db.data:
        return None
    index = db.scan_index()
    rng = ctx.server.rng
    all_volatile = len(db.data) == len(db.expires)
    tries = 100
    while True:
        key = index.random_key(rng)
        if key is None:
            return None
        if key in db.expires:
            # A replica does not delete expired keys: when every key may be expired,
            # give up after some tries rather than loop forever (as Redis does).
            if all_volatile and not ctx.server.expires_locally:
                tries -= 1
                if tries == 0:
                    return key
            if ctx.lookup(key) is None:
                continue
        return key


@command("keys", 2, "readonly", acl="@keyspace @dangerous", complexity="O(N)",
         summary="Every key matching a glob-style pattern (blocks the node while it walks them all).",
         args="pattern")
def keys(ctx: Ctx, argv: list[bytes]) -> Any:
    pattern = argv[1]
    db = ctx.db
    expires, now = db.expires, ctx.now_ms
    match_all = pattern == b"*"
    out = []
    for key in db.data:
        if match_all or glob.match(pattern, key):
            # Like Redis, KEYS skips expired keys without deleting them.
            when = expires.get(key) if expires else None
            if when is None or when > now:
                out.append(key)
    return out


@command("scan", -2, "readonly", acl="@keyspace", since="2.8.0", complexity="O(1) per call, O(N) per iteration",
         summary="Iterate the keys with a cursor; every key present for the whole iteration is returned.",
         args="cursor [MATCH pattern] [COUNT count] [TYPE type]")
def scan(ctx: Ctx, argv: list[bytes]) -> Any:
    cursor = collscan.parse_cursor(argv[1])
    pattern, count, typename = collscan.parse_options(argv, 2, with_type=True)
    found: list[bytes] = []
    next_cursor = ctx.db.scan_index().scan(cursor, count, found.append)
    # Filter after the walk: expiring a key below changes the index being walked.
    out = []
    for key in found:
        if pattern is not None and not glob.match(pattern, key):
            continue
        value = ctx.lookup(key)
        if value is None:
            continue
        if typename is not None and ctx.type_of(value) != typename:
            continue
        out.append(key)
    return collscan.reply(next_cursor, out)


# -- expiry ------------------------------------------------------------------------------------
_NX, _XX, _GT, _LT = 1, 2, 4, 8
_EXPIRE_FLAGS = {b"nx": _NX, b"xx": _XX, b"gt": _GT, b"lt": _LT}


def _expire_flags(argv: list[bytes]) -> int:
    flags = 0
    for opt in argv[3:]:
        bit = _EXPIRE_FLAGS.get(opt.lower())
        if bit is None:
            raise RedisError(b"ERR Unsupported option " + opt.split(b"\0", 1)[0])
        flags |= bit
    if flags & _NX and flags & (_XX | _GT | _LT):
        raise E_NX_XX_GT_LT
    if flags & _GT and flags & _LT:
        raise E_GT_LT
    return flags


def _expire(ctx: Ctx, argv: list[bytes], name: str, relative: bool, seconds: bool) -> Any:
    flags = _expire_flags(argv)
    when = parse_int(argv[2])
    if seconds:
        if when > _SEC_LIMIT or when < -_SEC_LIMIT:
            raise errors.invalid_expire(name)
        when *= 1000
    if relative:
        if when > LLONG_MAX - ctx.now_ms:
            raise errors.invalid_expire(name)
        when += ctx.now_ms
    key = argv[1]
    if ctx.lookup(key) is None:
        return 0
    if flags:
        current = ctx.db.expires.get(key)
        if flags & _NX and current is not None:
            return 0
        if flags & _XX and current is None:
            return 0
        if flags & _GT and (current is None or when <= current):  # no TTL counts as infinite
            return 0
        if flags & _LT and current is not None and when >= current:
            return 0
    if when <= ctx.now_ms and ctx.server.expires_locally:
        ctx.db.remove(key)
        ctx.changed(key)
        ctx.propagate([b"DEL", key])
        return 1
    ctx.set_expire(key, when)
    ctx.propagate([b"PEXPIREAT", key, b"%d" % when])
    return 1


_EXPIRE_ARGS = "key {} [NX | XX | GT | LT]"


@command("expire", -3, "write fast", keys=(1, 1, 1), acl="@keyspace",
         summary="Set a key's time to live in seconds.", args=_EXPIRE_ARGS.format("seconds"))
def expire(ctx: Ctx, argv: list[bytes]) -> Any:
    return _expire(ctx, argv, "expire", relative=True, seconds=True)


@command("pexpire", -3, "write fast", keys=(1, 1, 1), acl="@keyspace", since="2.6.0",
         summary="Set a key's time to live in milliseconds.", args=_EXPIRE_ARGS.format("milliseconds"))
def pexpire(ctx: Ctx, argv: list[bytes]) -> Any:
    return _expire(ctx, argv, "pexpire", relative=True, seconds=False)


@command("expireat", -3, "write fast", keys=(1, 1, 1), acl="@keyspace", since="1.2.0",
         summary="Make a key expire at a Unix time in seconds.", args=_EXPIRE_ARGS.format("unix-time-seconds"))
def expireat(ctx: Ctx, argv: list[bytes]) -> Any:
    return _expire(ctx, argv, "expireat", relative=False, seconds=True)


@command("pexpireat", -3, "write fast", keys=(1, 1, 1), acl="@keyspace", since="2.6.0",
         summary="Make a key expire at a Unix time in milliseconds.",
         args=_EXPIRE_ARGS.format("unix-time-milliseconds"))
def pexpireat(ctx: Ctx, argv: list[bytes]) -> Any:
    return _expire(ctx, argv, "pexpireat", relative=False, seconds=False)


def _ttl(ctx: Ctx, key: bytes, ms: bool, absolute: bool) -> int:
    if ctx.lookup(key) is None:
        return -2
    when = ctx.db.expires.get(key)
    if when is None:
        return -1
    ttl = when if absolute else when - ctx.now_ms
    if ttl < 0:
        ttl = 0
    return ttl if ms else (ttl + 500) // 1000


@command("ttl", 2, "readonly fast", keys=(1, 1, 1), acl="@keyspace",
         summary="Seconds left before the key expires (-1: no expiry, -2: no key).", args="key")
def ttl(ctx: Ctx, argv: list[bytes]) -> Any:
    return _ttl(ctx, argv[1], ms=False, absolute=False)


@command("pttl", 2, "readonly fast", keys=(1, 1, 1), acl="@keyspace", since="2.6.0",
         summary="Milliseconds left before the key expires (-1: no expiry, -2: no key).", args="key")
def pttl(ctx: Ctx, argv: list[bytes]) -> Any:
    return _ttl(ctx, argv[1], ms=True, absolute=False)


@command("expiretime", 2, "readonly fast", keys=(1, 1, 1), acl="@keyspace", since="7.0.0",
         summary="The Unix time in seconds at which the key expires (-1: no expiry, -2: no key).", args="key")
def expiretime(ctx: Ctx, argv: list[bytes]) -> Any:
    return _ttl(ctx, argv[1], ms=False, absolute=True)


@command("pexpiretime", 2, "readonly fast", keys=(1, 1, 1), acl="@keyspace", since="7.0.0",
         summary="The Unix time in ms at which the key expires (-1: no expiry, -2: no key).", args="key")
def pexpiretime(ctx: Ctx, argv: list[bytes]) -> Any:
    return _ttl(ctx, argv[1], ms=True, absolute=True)


@command("persist", 2, "write fast", keys=(1, 1, 1), acl="@keyspace", since="2.2.0",
         summary="Remove a key's expiry; 1 if it had one.", args="key")
def persist(ctx: Ctx, argv: list[bytes]) -> Any:
    key = argv[1]
    if ctx.lookup(key) is None or not ctx.db.persist(key):
        return 0
    ctx.changed(key)
    return 1


# -- OBJECT ----------------------------------------------------------------------------------------
# Redis 7.0's defaults (CONFIG names); a CONFIG family that adds them takes precedence.
_DEFAULT_LIMITS = {
    "hash-max-listpack-entries": 512,
    "hash-max-listpack-value": 64,
    "set-max-intset-entries": 512,
    "zset-max-listpack-entries": 128,
    "zset-max-listpack-value": 64,
}
_SHARED_INTEGERS = 10000  # OBJ_SHARED_INTEGERS: 0..9999 are shared objects
_SHARED_REFCOUNT = 2**31 - 1  # OBJ_SHARED_REFCOUNT (INT_MAX)
_EMBSTR_LIMIT = 44  # OBJ_ENCODING_EMBSTR_SIZE_LIMIT


def _limit(ctx: Ctx, name: str) -> int:
    param = ctx.server.params.params.get(name)
    if param is not None:
        try:
            return int(param.value)
        except ValueError:
            pass
    return _DEFAULT_LIMITS[name]


def _string_as_long(value: bytes) -> int | None:
    """What ``tryObjectEncoding`` would store as an integer (len <= 20, string2l)."""
    if len(value) > 20:
        return None
    return string2ll(value)


def encoding_of(ctx: Ctx, value: Any) -> bytes:
    """The encoding Redis 7.0 reports for a value of this shape.

    Approximations (Redis's choice depends on history we don't keep): strings are
    judged by content as SET stores them (APPEND/SETRANGE would make ``raw``); a
    hash, set or sorted set that outgrew its compact encoding and shrank back is
    still ``hashtable``/``skiplist`` in Redis but compact here. In 7.0 a list is
    always a ``quicklist`` and a set is ``intset`` or ``hashtable`` (no listpack).
    """
    t = type(value)
    if t is bytes:
        if _string_as_long(value) is not None:
            return b"int"
        return b"embstr" if len(value) <= _EMBSTR_LIMIT else b"raw"
    if t is deque:
        return b"quicklist"
    if t is dict:
        limit = _limit(ctx, "hash-max-listpack-value")
        if len(value) <= _limit(ctx, "hash-max-listpack-entries") and all(
            len(f) <= limit and len(v) <= limit for f, v in value.items()
        ):
            return b"listpack"
        return b"hashtable"
    if t is set:
        if len(value) <= _limit(ctx, "set-max-intset-entries") and is_intset(value):
            return b"intset"
        return b"hashtable"
    if t is ZSet:
        listpack = getattr(value, "listpack", None)  # the zset family tracks the real encoding
        if listpack is not None:
            return b"listpack" if listpack else b"skiplist"
        limit = _limit(ctx, "zset-max-listpack-value")
        if len(value) <= _limit(ctx, "zset-max-listpack-entries") and all(len(m) <= limit for m in value.scores):
            return b"listpack"
        return b"skiplist"
    return getattr(value, "object_encoding", b"unknown")


def is_intset(members: set) -> bool:
    """Whether every member is a canonical 64-bit integer (Redis keeps such a set as an intset)."""
    return all(string2ll(m) is not None for m in members)


def _shared_integers_allowed(ctx: Ctx) -> bool:
    policy = ctx.server.params.get("maxmemory-policy")
    return not ctx.server.config_maxmemory() or not ("lru" in policy or "lfu" in policy)


container("object", summary="Inspect the internals of a key's value.", since="2.2.3", group="generic", acl="@slow")


@command("object|encoding", 3, "readonly", keys=(2, 2, 1), acl="@keyspace", since="2.2.3",
         summary="The internal encoding of the value at key.", args="key")
def object_encoding(ctx: Ctx, argv: list[bytes]) -> Any:
    value = ctx.lookup(argv[2])
    return None if value is None else encoding_of(ctx, value)


@command("object|refcount", 3, "readonly", keys=(2, 2, 1), acl="@keyspace", since="2.2.3",
         summary="How many references the value at key has (shared small integers report INT_MAX).", args="key")
def object_refcount(ctx: Ctx, argv: list[bytes]) -> Any:
    value = ctx.lookup(argv[2])
    if value is None:
        return None
    if type(value) is bytes:
        n = _string_as_long(value)
        if n is not None and 0 <= n < _SHARED_INTEGERS and _shared_integers_allowed(ctx):
            return _SHARED_REFCOUNT
    return 1


@command("object|idletime", 3, "readonly", keys=(2, 2, 1), acl="@keyspace", since="2.2.3",
         summary="Seconds since the key was last accessed (not tracked here: always 0).", args="key")
def object_idletime(ctx: Ctx, argv: list[bytes]) -> Any:
    value = ctx.lookup(argv[2])
    if value is None:
        return None
    if "lfu" in ctx.server.params.get("maxmemory-policy"):
        raise E_IDLE_LFU
    return 0


@command("object|freq", 3, "readonly", keys=(2, 2, 1), acl="@keyspace", since="4.0.0",
         summary="The logarithmic access frequency of the key (LFU eviction policies only).", args="key")
def object_freq(ctx: Ctx, argv: list[bytes]) -> Any:
    value = ctx.lookup(argv[2])
    if value is None:
        return None
    if "lfu" not in ctx.server.params.get("maxmemory-policy"):
        raise E_FREQ_NOT_LFU
    return 5  # LFU_INIT_VAL: the counter of a key that has not been read since it was written


_OBJECT_HELP = [
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
]


@command("object|help", 2, "loading stale", acl="@keyspace", since="6.2.0",
         summary="Describe the OBJECT subcommands.")
def object_help(ctx: Ctx, argv: list[bytes]) -> Any:
    return [Status(line.encode()) for line in _OBJECT_HELP]

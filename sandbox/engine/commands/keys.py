"""Generic key commands: DEL, UNLINK, EXISTS, TOUCH, TYPE, RENAME, RENAMENX, COPY,
MOVE, RANDOMKEY, KEYS and SCAN. (Expiry lives in ``expire``, OBJECT in ``objectcmds``.)

Invariants:
* Every read goes through ``Ctx.lookup``, so a logically expired key is never seen
  and its deletion reaches the log as ``DEL`` before the command's own effect.
* RENAME, COPY and MOVE carry the source's absolute expiry time to the new key,
  so their own argv replays to the same state.
* SCAN walks ``Database.scan_index()``'s reverse-binary cursor: a key present for a
  whole iteration is returned at least once, whatever is added or removed meanwhile.
  Its cursor and options are parsed by ``collscan``, like HSCAN/SSCAN/ZSCAN's.
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..context import Ctx
from ..datatypes import copy_value
from ..keyspace import Database
from ..resp import OK, Status
from . import collscan, command
from .util import parse_int

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


# -- deleting and testing keys ----------------------------------------------------------
@command("del", -2, "write", keys=(1, -1, 1), acl="@keyspace", complexity="O(N)",
         summary="Delete the given keys; returns how many existed.", args="key [key ...]", key_flags=("RM delete",))
def del_(ctx: Ctx, argv: list[bytes]) -> Any:
    removed = 0
    for key in argv[1:]:
        if ctx.delete(key):
            removed += 1
    return removed


@command("unlink", -2, "write fast", keys=(1, -1, 1), acl="@keyspace", since="4.0.0", complexity="O(1)",
         summary="Delete the given keys (memory reclaimed at once here); returns how many existed.",
         args="key [key ...]", key_flags=("RM delete",))
def unlink(ctx: Ctx, argv: list[bytes]) -> Any:
    return del_(ctx, argv)


@command("exists", -2, "readonly fast", keys=(1, -1, 1), acl="@keyspace", complexity="O(N)",
         summary="Count how many of the given keys exist (a repeated key counts each time).",
         args="key [key ...]", key_flags=("RO",))
def exists(ctx: Ctx, argv: list[bytes]) -> Any:
    lookup = ctx.lookup
    return sum(1 for key in argv[1:] if lookup(key) is not None)


@command("touch", -2, "readonly fast", keys=(1, -1, 1), acl="@keyspace", since="3.2.1", complexity="O(N)",
         summary="Count how many of the given keys exist, as an access to each.", args="key [key ...]",
         key_flags=("RO",))
def touch(ctx: Ctx, argv: list[bytes]) -> Any:
    return exists(ctx, argv)


@command("type", 2, "readonly fast", keys=(1, 1, 1), acl="@keyspace",
         summary="The type of the value at key (string, list, set, zset, hash) or none.", args="key", key_flags=("RO",))
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
    raw_small = db.raw_small.get(src) if db.raw_small else None
    db.remove(src)
    db.put(dst, value)  # replaces dst and its TTL, if it had one
    if raw_small is not None:
        db.raw_small[dst] = raw_small  # the same (raw) object moves, as in Redis
    if when is not None:
        db.set_expire(dst, when)
    ctx.changed(src)
    ctx.changed(dst)
    return 1 if nx else OK


@command("rename", 3, "write", keys=(1, 2, 1), acl="@keyspace",
         summary="Rename a key (with its TTL), replacing the destination.", args="key newkey",
         key_flags=("RW access delete", "OW update"))
def rename(ctx: Ctx, argv: list[bytes]) -> Any:
    return _rename(ctx, argv, nx=False)


@command("renamenx", 3, "write fast", keys=(1, 2, 1), acl="@keyspace",
         summary="Rename a key only if the new name is free; 1 if renamed.", args="key newkey",
         key_flags=("RW access delete", "OW insert"))
def renamenx(ctx: Ctx, argv: list[bytes]) -> Any:
    return _rename(ctx, argv, nx=True)


def _db_index(ctx: Ctx, arg: bytes) -> int:
    """A database number as COPY/MOVE parse it (``getIntFromObjectOrReply`` + ``selectDb``)."""
    index = parse_int(arg)
    if not _INT_MIN <= index <= _INT_MAX:
        raise errors.KEYS_INT_RANGE
    # In cluster mode Redis still has its configured databases; only db 0 is used.
    count = ctx.server.config.databases if ctx.server.config.cluster_enabled else len(ctx.server.keyspace)
    if not 0 <= index < count:
        raise errors.DB_INDEX_OUT_OF_RANGE
    return index


def _lookup_in(ctx: Ctx, key: bytes, db: Database) -> Any:
    """``ctx.lookup`` in another database. An empty ``Database`` is falsy and Ctx
    would then fall back to the client's own database, so that case is answered here."""
    if db is not ctx.db and not db.data:
        return None
    return ctx.lookup(key, db)


@command("copy", -3, "write denyoom", keys=(1, 2, 1), acl="@keyspace", since="6.2.0", complexity="O(N)",
         summary="Copy a key's value (and TTL) to another key, optionally in another database.",
         args="source destination [DB destination-db] [REPLACE]", key_flags=("RO access", "OW update"))
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
        raise errors.KEYS_COPY_CLUSTER
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
         summary="Move a key (with its TTL) to another database unless it exists there.", args="key db",
         key_flags=("RW access update",))
def move(ctx: Ctx, argv: list[bytes]) -> Any:
    if ctx.server.config.cluster_enabled:
        raise errors.KEYS_MOVE_CLUSTER
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
    db = ctx.db
    matched = collscan.matching(db.data, None if argv[1] == b"*" else argv[1])
    expires, now = db.expires, ctx.now_ms
    if not expires:
        return matched
    # Like Redis, KEYS skips expired keys without deleting them.
    return [key for key in matched if expires.get(key, now + 1) > now]


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
    for key in collscan.matching(found, pattern):
        value = ctx.lookup(key)
        if value is None:
            continue
        if typename is not None and ctx.type_of(value) != typename:
            continue
        out.append(key)
    return collscan.reply(next_cursor, out)

"""The internal encoding Redis 7.0 would give a value: what OBJECT ENCODING answers
and what DUMP (rdb.py) may ask.

Redis decides an encoding when a value is written and, for containers, never goes
back to the compact one (a hash that outgrew its listpack stays a hashtable after
deletes). This module keeps that history where the value alone can't tell:

* A conversion is remembered in ``Keyspace.encodings`` (``id(value) -> (value,
  encoding)``) when a write makes it: a container that crossed its threshold, a
  string Redis stores as ``raw`` (APPEND to an existing string, SETRANGE, SETBIT,
  BITFIELD, BITOP) or never as ``int`` (INCRBYFLOAT). The keyspace drops an entry
  when its value leaves it.
* Invariant: every container that outgrew its compact encoding is recorded, so a
  write that only shrinks a value, or doesn't touch it, has nothing to note.
* The hot writes (``NOTED_IN_PLACE``) note a conversion in their own path, where the
  value grows, in O(1): HSET (``hash_grew``), SADD (``set_grew``), ZADD
  (``zset_grew``); the others don't change an encoding's history (strings Redis
  decides afresh on every write, lists, TTLs, deletions). For every other write the
  dispatcher runs ``after_write`` over the keys it changed.
* ``encoding_of`` answers from that record, else from the value and the CONFIG
  thresholds (``hash-max-listpack-*``, ``zset-max-listpack-*``,
  ``set-max-intset-entries``), as Redis decides for a freshly written value.

Redis 7.0 layout: strings int/embstr/raw; lists always quicklist; sets
intset/hashtable; hashes listpack/hashtable; sorted sets listpack/skiplist (the
``ZSet`` tracks this itself, and also converts at its built-in 128/64; here a lower
CONFIG threshold converts it); streams stream.

A one-byte string is one shared object in CPython, so a raw one (SETBIT on a
missing key at offset < 8) can't be recorded by object: it is recorded by key in
``Database.raw_small``, which any other store to the key clears.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from .datatypes import ZSet
from .resp import string2ll

if TYPE_CHECKING:
    from .context import Ctx
    from .server import Server

EMBSTR_SIZE_LIMIT = 44  # OBJ_ENCODING_EMBSTR_SIZE_LIMIT

# Commands whose result Redis keeps as a raw string, whatever it contains.
# HyperLogLogs too: Redis builds them as sds strings and unshares them before a write.
_RAW_WRITERS = frozenset({"append", "setrange", "setbit", "bitfield", "bitop", "pfadd", "pfmerge", "pfcount", "pfdebug"})


def limit(server: "Server", name: str) -> int:
    """An encoding threshold (validated by CONFIG SET, so it parses)."""
    return server.params.params[name].parsed()  # type: ignore[return-value]  # cached int


def string_encoding(value: bytes) -> bytes:
    """tryObjectEncoding's choice for a freshly written string."""
    if len(value) <= 20 and string2ll(value) is not None:
        return b"int"
    return b"embstr" if len(value) <= EMBSTR_SIZE_LIMIT else b"raw"


def hash_fits_listpack(server: "Server", h: dict) -> bool:
    if len(h) > limit(server, "hash-max-listpack-entries"):
        return False
    longest = limit(server, "hash-max-listpack-value")
    return all(len(f) <= longest and len(v) <= longest for f, v in h.items())


def set_fits_intset(server: "Server", s: set) -> bool:
    if len(s) > limit(server, "set-max-intset-entries"):
        return False
    return all(string2ll(m) is not None for m in s)


def zset_fits_listpack(server: "Server", z: ZSet) -> bool:
    if len(z) > limit(server, "zset-max-listpack-entries"):
        return False
    longest = limit(server, "zset-max-listpack-value")
    return all(len(m) <= longest for m in z.scores)


def encoding_of(server: "Server", value: Any) -> bytes:
    """The encoding Redis 7.0 reports for ``value`` as it is now."""
    recorded = server.keyspace.encodings.get(id(value))
    if recorded is not None and recorded[0] is value:
        return recorded[1]
    t = type(value)
    if t is bytes:
        return string_encoding(value)
    if t is deque:
        return b"quicklist"
    if t is dict:
        return b"listpack" if hash_fits_listpack(server, value) else b"hashtable"
    if t is set:
        return b"intset" if set_fits_intset(server, value) else b"hashtable"
    if t is ZSet:
        return b"listpack" if value.listpack else b"skiplist"
    return getattr(value, "object_encoding", b"unknown")


_LIMIT_NAMES = ("hash-max-listpack-entries", "hash-max-listpack-value", "set-max-intset-entries",
                "zset-max-listpack-entries", "zset-max-listpack-value")


def refresh_limits(server: "Server") -> None:
    """Cache the thresholds the write paths read (CONFIG SET calls this)."""
    server.keyspace.set_limits(tuple(limit(server, name) for name in _LIMIT_NAMES))


NOTED_IN_PLACE = frozenset({
    "hset", "hmset", "sadd", "zadd",
    "set", "setnx", "setex", "psetex", "mset", "msetnx", "getset", "getdel", "getex", "incr", "decr", "incrby",
    "decrby", "lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "lset", "linsert", "lrem", "ltrim", "lmove",
    "rpoplpush", "lmpop", "del", "unlink", "expire", "pexpire", "expireat", "pexpireat", "persist",
})


def hash_grew(ctx: "Ctx", h: dict, argv: list[bytes]) -> None:
    """HSET/HMSET stored ``argv``'s pairs and one of them, or the hash's length, is past
    the smaller threshold: a listpack that no longer fits is a hashtable for good."""
    recorded = ctx.db.encodings
    if id(h) in recorded:
        return
    entries, longest = ctx.db.limits[0], ctx.db.limits[1]
    if len(h) > entries or max(map(len, argv[2:])) > longest:
        recorded[id(h)] = (h, b"hashtable")


def set_grew(ctx: "Ctx", s: set, members: list[bytes]) -> None:
    """SADD added ``members`` (one of them maybe not an integer, or the set past
    set-max-intset-entries): an intset that took one is a hashtable for good."""
    recorded = ctx.db.encodings
    if id(s) in recorded:
        return
    if len(s) > ctx.db.limits[2] or any(string2ll(m) is None for m in members):
        recorded[id(s)] = (s, b"hashtable")


def zset_grew(ctx: "Ctx", z: ZSet, member: bytes) -> None:
    """ZADD added ``member`` to a listpack ``z``: a CONFIG threshold lower than the
    ZSet's own converts it (the ZSet keeps its encoding itself)."""
    limits = ctx.db.limits
    if len(z.scores) > limits[3] or len(member) > limits[4]:
        z.listpack = False


def after_write(server: "Server", name: str, argv: list[bytes], ctx: "Ctx") -> None:
    """Record the conversions the write ``name`` made to the keys it changed."""
    keyspace = server.keyspace
    dbs, recorded = keyspace.dbs, keyspace.encodings
    for db_id, key in ctx.dirty_keys:
        value = dbs[db_id].data.get(key)
        t = type(value)
        if t is bytes:
            if name in _RAW_WRITERS:
                # APPEND to a missing key stores its argument as SET would
                if not (name == "append" and value is argv[-1]):
                    if len(value) > 1:
                        _record(server, value, b"raw")
                    else:
                        dbs[db_id].raw_small[key] = value
            elif name == "incrbyfloat":
                _record(server, value, b"embstr" if len(value) <= EMBSTR_SIZE_LIMIT else b"raw")
        elif t is dict:
            if id(value) in recorded:
                continue
            entries, longest = keyspace.limits[0], keyspace.limits[1]
            if len(value) > entries:
                _record(server, value, b"hashtable")
            elif name[0] == "h":  # the hash commands: only their arguments are new
                if max(map(len, argv[2:]), default=0) > longest or len(value.get(argv[2], b"")) > longest:
                    _record(server, value, b"hashtable")
            elif not hash_fits_listpack(server, value):
                _record(server, value, b"hashtable")
        elif (t is set or t is ZSet) and id(value) not in recorded:
            _container_written(server, name, argv, value)


def _container_written(server: "Server", name: str, argv: list[bytes], value: Any) -> None:
    limits = server.keyspace.limits
    if type(value) is set:
        if len(value) > limits[2]:
            _record(server, value, b"hashtable")
        elif name in ("sadd", "smove"):
            if any(string2ll(m) is None for m in argv[2 if name == "sadd" else 3:]):
                _record(server, value, b"hashtable")
        elif name not in ("srem", "spop") and not set_fits_intset(server, value):
            _record(server, value, b"hashtable")
    elif value.listpack:
        if len(value) > limits[3]:
            fits = False
        elif name[0] == "z" and not name.endswith("store"):  # only the arguments are new
            fits = max(map(len, argv[2:]), default=0) <= limits[4]
        else:
            fits = zset_fits_listpack(server, value)
        if not fits:
            value.listpack = False  # the ZSet keeps its own encoding: convert it for good


def note_raw(ctx: "Ctx", key: bytes, value: bytes) -> None:
    """A raw writer that left the value as it was (SETBIT of a bit already set):
    Redis has unshared the string all the same, so it reports raw from now on."""
    if len(value) > 1:
        _record(ctx.server, value, b"raw")
    else:
        ctx.db.raw_small[key] = value


def _record(server: "Server", value: Any, encoding: bytes) -> None:
    server.keyspace.encodings[id(value)] = (value, encoding)

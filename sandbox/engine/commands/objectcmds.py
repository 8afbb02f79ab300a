"""OBJECT ENCODING, REFCOUNT, IDLETIME, FREQ and HELP: what Redis 7.0 would report
about a key's internals.

Invariants:
* ENCODING is derived from the value's current shape with Redis 7.0's default
  thresholds (or the CONFIG parameters of the same names), asking each family's own
  test (``hashes.is_listpack``, ``sets.is_intset``; a ``ZSet`` tracks its encoding).
  Redis never converts back to the compact encoding, so a container that grew and
  then shrank is reported compact here.
* No per-key access time is kept (it would cost every lookup), so IDLETIME answers
  0 and FREQ the counter of a key never read since it was written.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from .. import errors
from ..context import Ctx
from ..datatypes import ZSet
from ..resp import Status, string2ll
from . import command, container
from .hashes import is_listpack
from .sets import is_intset


_SHARED_INTEGERS = 10000  # OBJ_SHARED_INTEGERS: 0..9999 are shared objects
_SHARED_REFCOUNT = 2**31 - 1  # OBJ_SHARED_REFCOUNT (INT_MAX)
_EMBSTR_LIMIT = 44  # OBJ_ENCODING_EMBSTR_SIZE_LIMIT


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
        return b"listpack" if is_listpack(ctx, value) else b"hashtable"
    if t is set:
        return b"intset" if is_intset(ctx, value) else b"hashtable"
    if t is ZSet:
        return b"listpack" if value.listpack else b"skiplist"
    return getattr(value, "object_encoding", b"unknown")


def _shared_integers_allowed(ctx: Ctx) -> bool:
    policy = ctx.server.params.get("maxmemory-policy")
    return not ctx.server.config_maxmemory() or not ("lru" in policy or "lfu" in policy)


container("object", summary="Inspect the internals of a key's value.", since="2.2.3", group="generic", acl="@slow")


@command("object|encoding", 3, "readonly", keys=(2, 2, 1), acl="@keyspace", since="2.2.3",
         summary="The internal encoding of the value at key.", args="key", key_flags=("RO",))
def object_encoding(ctx: Ctx, argv: list[bytes]) -> Any:
    value = ctx.lookup(argv[2])
    return None if value is None else encoding_of(ctx, value)


@command("object|refcount", 3, "readonly", keys=(2, 2, 1), acl="@keyspace", since="2.2.3",
         summary="How many references the value at key has (shared small integers report INT_MAX).", args="key",
         key_flags=("RO",))
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
         summary="Seconds since the key was last accessed (not tracked here: always 0).", args="key", key_flags=("RO",))
def object_idletime(ctx: Ctx, argv: list[bytes]) -> Any:
    value = ctx.lookup(argv[2])
    if value is None:
        return None
    if "lfu" in ctx.server.params.get("maxmemory-policy"):
        raise errors.OBJECT_IDLE_LFU
    return 0


@command("object|freq", 3, "readonly", keys=(2, 2, 1), acl="@keyspace", since="4.0.0",
         summary="The logarithmic access frequency of the key (LFU eviction policies only).", args="key",
         key_flags=("RO",))
def object_freq(ctx: Ctx, argv: list[bytes]) -> Any:
    value = ctx.lookup(argv[2])
    if value is None:
        return None
    if "lfu" not in ctx.server.params.get("maxmemory-policy"):
        raise errors.OBJECT_FREQ_NOT_LFU
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

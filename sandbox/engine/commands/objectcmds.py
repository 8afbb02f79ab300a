"""OBJECT ENCODING, REFCOUNT, IDLETIME, FREQ and HELP: what Redis 7.0 would report
about a key's internals.

Invariants:
* ENCODING is decided in one place, ``encodings.encoding_of`` (DUMP asks it too):
  Redis 7.0's thresholds, the CONFIG parameters of the same names, and the one-way
  conversions a value went through.
* IDLETIME and FREQ read the key's eviction metadata (eviction.py) without touching
  it, as Redis looks keys up for OBJECT with LOOKUP_NOTOUCH; IDLETIME is refused
  under an LFU policy and FREQ under any other, with Redis's errors.
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..context import Ctx
from ..encodings import encoding_of as _encoding_of
from ..eviction import idle_seconds, lfu_counter
from ..resp import Status, string2ll
from . import command, container


_SHARED_INTEGERS = 10000  # OBJ_SHARED_INTEGERS: 0..9999 are shared objects
_SHARED_REFCOUNT = 2**31 - 1  # OBJ_SHARED_REFCOUNT (INT_MAX)


def _string_as_long(value: bytes) -> int | None:
    """What ``tryObjectEncoding`` would store as an integer (len <= 20, string2l)."""
    if len(value) > 20:
        return None
    return string2ll(value)


def encoding_of(ctx: Ctx, value: Any) -> bytes:
    """The encoding Redis 7.0 reports for ``value`` (encodings.py decides)."""
    return _encoding_of(ctx.server, value)


def _lookup_untouched(ctx: Ctx, key: bytes) -> Any:
    """The value at ``key``, leaving its access time or LFU counter as it was."""
    before = ctx.db.access.get(key)
    value = ctx.lookup(key)
    if value is not None:
        if before is None:
            ctx.db.access.pop(key, None)
        else:
            ctx.db.access[key] = before
    return value


def _shared_integers_allowed(ctx: Ctx) -> bool:
    policy = ctx.server.params.get("maxmemory-policy")
    return not ctx.server.config_maxmemory() or not ("lru" in policy or "lfu" in policy)


container("object", summary="Inspect the internals of a key's value.", since="2.2.3", group="generic", acl="@slow")


@command("object|encoding", 3, "readonly", keys=(2, 2, 1), acl="@keyspace", since="2.2.3",
         summary="The internal encoding of the value at key.", args="key", key_flags=("RO",))
def object_encoding(ctx: Ctx, argv: list[bytes]) -> Any:
    value = _lookup_untouched(ctx, argv[2])
    if value is None:
        return None
    if ctx.db.raw_small and ctx.db.raw_small.get(argv[2]) is value:
        return b"raw"  # a one-byte string a raw writer made (keyspace.Database.raw_small)
    return encoding_of(ctx, value)


@command("object|refcount", 3, "readonly", keys=(2, 2, 1), acl="@keyspace", since="2.2.3",
         summary="How many references the value at key has (shared small integers report INT_MAX).", args="key",
         key_flags=("RO",))
def object_refcount(ctx: Ctx, argv: list[bytes]) -> Any:
    value = _lookup_untouched(ctx, argv[2])
    if value is None:
        return None
    if type(value) is bytes:
        n = _string_as_long(value)
        if n is not None and 0 <= n < _SHARED_INTEGERS and _shared_integers_allowed(ctx):
            return _SHARED_REFCOUNT
    return 1


@command("object|idletime", 3, "readonly", keys=(2, 2, 1), acl="@keyspace", since="2.2.3",
         summary="Seconds since the key was last read or written.", args="key", key_flags=("RO",))
def object_idletime(ctx: Ctx, argv: list[bytes]) -> Any:
    value = _lookup_untouched(ctx, argv[2])
    if value is None:
        return None
    if ctx.server.lfu:
        raise errors.OBJECT_IDLE_LFU
    return idle_seconds(ctx.db, argv[2], ctx.now_ms)


@command("object|freq", 3, "readonly", keys=(2, 2, 1), acl="@keyspace", since="4.0.0",
         summary="The logarithmic access frequency of the key (LFU eviction policies only).", args="key",
         key_flags=("RO",))
def object_freq(ctx: Ctx, argv: list[bytes]) -> Any:
    value = _lookup_untouched(ctx, argv[2])
    if value is None:
        return None
    if not ctx.server.lfu:
        raise errors.OBJECT_FREQ_NOT_LFU
    return lfu_counter(ctx.server, ctx.db.access.get(argv[2]), ctx.now_ms / 1000)


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

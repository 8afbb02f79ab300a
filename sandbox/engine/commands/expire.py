"""Key expiry: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL, EXPIRETIME,
PEXPIRETIME and PERSIST, and ``expire_at``, which GETEX shares.

Invariants:
* Expiry is stored as an absolute Unix time in ms (``Database.expires``) and every
  computation uses the command's own time, ``ctx.now_ms``.
* The EXPIRE family is logged as ``PEXPIREAT key <ms>`` (the outcome, without
  NX/XX/GT/LT, which were already decided here), and an expiry time already in the
  past deletes the key and is logged as ``DEL key`` — except on a replica, which
  waits for its primary's DEL (Redis's ``checkAlreadyExpired``).
* A missing key answers 0 (EXPIRE*, PERSIST) or -2 (TTL family); a key without a
  TTL answers -1 to the TTL family.
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..context import Ctx
from . import command
from .util import LLONG_MAX, parse_int

_SEC_LIMIT = LLONG_MAX // 1000  # C's LLONG_MAX / 1000 (and -LLONG_MIN / 1000, truncated)


def expire_at(ctx: Ctx, key: bytes, when: int) -> None:
    """Give the existing ``key`` the absolute expiry ``when`` (ms) and log it, or
    delete it now if that time has passed (on a node that expires keys itself)."""
    if when <= ctx.now_ms and ctx.server.expires_locally:
        ctx.db.remove(key)
        ctx.changed(key)
        ctx.propagate([b"DEL", key])
    else:
        ctx.set_expire(key, when)
        ctx.propagate([b"PEXPIREAT", key, b"%d" % when])


_NX, _XX, _GT, _LT = 1, 2, 4, 8
_EXPIRE_FLAGS = {b"nx": _NX, b"xx": _XX, b"gt": _GT, b"lt": _LT}


def _expire_flags(argv: list[bytes]) -> int:
    flags = 0
    for opt in argv[3:]:
        bit = _EXPIRE_FLAGS.get(opt.lower())
        if bit is None:
            raise errors.expire_unsupported_option(opt.split(b"\0", 1)[0])
        flags |= bit
    if flags & _NX and flags & (_XX | _GT | _LT):
        raise errors.EXPIRE_NX_XX_GT_LT
    if flags & _GT and flags & _LT:
        raise errors.EXPIRE_GT_LT
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
    expire_at(ctx, key, when)
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

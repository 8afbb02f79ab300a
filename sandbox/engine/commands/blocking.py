"""Blocking pops: BLPOP, BRPOP, BRPOPLPUSH, BLMOVE, BLMPOP (lists) and BZPOPMIN,
BZPOPMAX, BZMPOP (sorted sets), as Redis 7.0 serves them.

Each command first parses its arguments in Redis's order (the timeout first for
BLPOP/BZPOP*/BLMOVE, last for the MPOP forms), then looks at its keys in order:
the first one holding a value of its type is served at once (another type among
them: WRONGTYPE, as the non-blocking pops answer). When none can serve it, the
client blocks in ``blocking.KeyBlocked`` — except where nothing may block (inside
MULTI/EXEC, a script's client: ``Client.deny_blocking``), where it answers the
null its non-blocking form would (the null array; a nil bulk for BLMOVE and
BRPOPLPUSH).

The timeout is seconds as a ``long double``, turned into milliseconds as Redis's C
does it (``(long long)ceill(seconds * 1000.0)``): 0.0001 is 1 ms, -0.0005 rounds up to
0, which is forever; anything at or past 2**63 ms (inf, 1e16) converts to LLONG_MIN
and is refused as negative.

Serving is one body per command, ``serve(ctx, key)``, shared by the immediate path
and a woken client. It answers ``NOT_READY`` (changing nothing) when the key holds
no value of its type, and propagates the non-blocking command it amounts to —
what Redis 7.0 sends replicas: BLPOP as ``LPOP key``, BLMOVE as ``LMOVE src dst
from to``, BRPOPLPUSH as ``RPOPLPUSH``, BLMPOP as ``LPOP key n`` (n popped),
BZPOPMIN as ``ZPOPMIN key``, BZMPOP as ``ZPOPMIN key count``. The timeout, a
CLIENT UNBLOCK and a woken client's reply all go through the registry.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import deque
from typing import Any, Callable

from .. import errors
from .. import longdouble
from ..blocking import NOT_READY, KeyBlocked
from ..context import Ctx
from ..datatypes import ZSet
from ..resp import NULL_ARRAY
from . import REGISTRY, Command, command
from .lists import _move, _take, _where
from .util import numkeys_keys, parse_mpop
from .zsets import SORTED_SET, pop_members

Serve = Callable[[Ctx, bytes], Any]

_LLONG_MAX = 2**63 - 1


def parse_timeout(arg: bytes) -> int:
    """Seconds (a long double) -> milliseconds, 0 for forever, as Redis 7.0's
    ``getTimeoutFromObjectOrReply`` computes them."""
    value = longdouble.parse(arg)
    if value is None:
        raise errors.TIMEOUT_NOT_FLOAT
    if value is longdouble.INF:
        raise errors.TIMEOUT_NEGATIVE  # (long long)inf is LLONG_MIN on x86-64
    m, e = value
    # seconds * 1000.0 in the long double format, then rounded up (ceill).
    product = longdouble._round(m * 1000, e)
    if product is None:
        raise errors.TIMEOUT_NEGATIVE
    pm, pe = product
    ms = pm << pe if pe >= 0 else -((-pm) >> -pe)
    if ms > _LLONG_MAX or ms < 0:
        raise errors.TIMEOUT_NEGATIVE  # out of long long range converts to LLONG_MIN
    return ms


def _block(ctx: Ctx, argv: list[bytes], keys: list[bytes], timeout_ms: int, serve: Serve, null: Any) -> Any:
    """Nothing to serve now: park the client, or answer ``null`` where it may not block."""
    if ctx.server.running_exec or ctx.client.deny_blocking:
        return null
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return null  # an in-process server without an event loop can't wait
    blocked_cmd = REGISTRY[argv[0].lower()]

    def wake(key: bytes) -> tuple[Command, list[bytes]]:
        # The woken client runs the same entry with a body that serves it from ``key``.
        return dataclasses.replace(blocked_cmd, handler=lambda wctx, _argv: serve(wctx, key)), argv

    registry = KeyBlocked.of(ctx.server, loop)
    return registry.park(ctx.client, ctx.db.id, keys, timeout_ms, blocked_cmd, argv, wake)


def _serve_first(ctx: Ctx, argv: list[bytes], keys: list[bytes], tp: type, timeout_ms: int, serve: Serve,
                 null: Any = NULL_ARRAY) -> Any:
    """Serve from the first of ``keys`` holding a ``tp`` (WRONGTYPE at another type
    met before it), else block."""
    for key in keys:
        if ctx.lookup_typed(key, tp) is not None:
            return serve(ctx, key)
    return _block(ctx, argv, keys, timeout_ms, serve, null)


# -- lists ---------------------------------------------------------------------------------------


def _list_pop(head: bool) -> Serve:
    name = b"LPOP" if head else b"RPOP"

    def serve(ctx: Ctx, key: bytes) -> Any:
        dq = ctx.lookup(key)
        if type(dq) is not deque:
            return NOT_READY
        value = dq.popleft() if head else dq.pop()
        if not dq:
            ctx.db.remove(key)
        ctx.changed(key)
        ctx.propagate([name, key])
        return [key, value]

    return serve


_BLPOP_SERVE = _list_pop(True)
_BRPOP_SERVE = _list_pop(False)
_LISTS = dict(acl="@list", group="list", key_flags=("RW access delete",))


@command("blpop", -3, "write noscript blocking", keys=(1, -2, 1), since="2.0.0", **_LISTS,
         complexity="O(N) where N is the number of provided keys.",
         summary="Pop the first element of the first non-empty list, or block until one of them gets one.",
         args="key [key ...] timeout")
def blpop(ctx: Ctx, argv: list[bytes]) -> Any:
    timeout = parse_timeout(argv[-1])
    return _serve_first(ctx, argv, argv[1:-1], deque, timeout, _BLPOP_SERVE)


@command("brpop", -3, "write noscript blocking", keys=(1, -2, 1), since="2.0.0", **_LISTS,
         complexity="O(N) where N is the number of provided keys.",
         summary="Pop the last element of the first non-empty list, or block until one of them gets one.",
         args="key [key ...] timeout")
def brpop(ctx: Ctx, argv: list[bytes]) -> Any:
    timeout = parse_timeout(argv[-1])
    return _serve_first(ctx, argv, argv[1:-1], deque, timeout, _BRPOP_SERVE)


def _list_move(destination: bytes, from_head: bool, to_head: bool, effect: list[bytes]) -> Serve:
    def serve(ctx: Ctx, source: bytes) -> Any:
        if type(ctx.lookup(source)) is not deque:
            return NOT_READY
        value = _move(ctx, source, destination, from_head, to_head)  # WRONGTYPE before popping
        ctx.propagate(effect)
        return value

    return serve


def _blmove(ctx: Ctx, argv: list[bytes], source: bytes, destination: bytes, from_head: bool, to_head: bool,
            timeout: int, words: tuple[bytes, bytes] | None) -> Any:
    def effect(served_later: bool) -> list[bytes]:
        if words is None:
            return [b"RPOPLPUSH", source, destination]
        # Served at once, Redis rewrites the client's own argv; a woken client's
        # LMOVE is built from its lower-case words.
        ends = (b"left" if from_head else b"right", b"left" if to_head else b"right") if served_later else words
        return [b"LMOVE", source, destination, *ends]

    if ctx.lookup_typed(source, deque) is not None:
        return _list_move(destination, from_head, to_head, effect(False))(ctx, source)
    return _block(ctx, argv, [source], timeout, _list_move(destination, from_head, to_head, effect(True)), None)


@command("brpoplpush", 4, "write denyoom noscript blocking", keys=(1, 2, 1), since="2.2.0", acl="@list",
         group="list", key_flags=("RW access delete", "RW insert"),
         summary="Pop the last element of a list and push it at the head of another, or block until there is one "
                 "(deprecated form of BLMOVE).",
         args="source destination timeout")
def brpoplpush(ctx: Ctx, argv: list[bytes]) -> Any:
    timeout = parse_timeout(argv[3])
    return _blmove(ctx, argv, argv[1], argv[2], False, True, timeout, None)


@command("blmove", 6, "write denyoom noscript blocking", keys=(1, 2, 1), since="6.2.0", acl="@list",
         group="list", key_flags=("RW access delete", "RW insert"),
         summary="Pop an element from one end of a list and push it at one end of another, or block until there "
                 "is one.",
         args="source destination LEFT|RIGHT LEFT|RIGHT timeout")
def blmove(ctx: Ctx, argv: list[bytes]) -> Any:
    from_head = _where(argv[3])
    to_head = _where(argv[4])
    timeout = parse_timeout(argv[5])
    return _blmove(ctx, argv, argv[1], argv[2], from_head, to_head, timeout, (argv[3], argv[4]))


def _list_mpop(head: bool, count: int) -> Serve:
    def serve(ctx: Ctx, key: bytes) -> Any:
        dq = ctx.lookup(key)
        if type(dq) is not deque:
            return NOT_READY
        out = _take(ctx, key, dq, count, head)
        ctx.propagate([b"LPOP" if head else b"RPOP", key, b"%d" % len(out)])
        return [key, out]

    return serve


@command("blmpop", -5, "write blocking movablekeys", getkeys=numkeys_keys(3), since="7.0.0", **_LISTS,
         complexity="O(N+M) where N is the number of provided keys and M is the number of elements returned.",
         summary="Pop up to COUNT elements from the first non-empty list, or block until one of them gets some; "
                 "returns [key, elements].",
         args="timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]")
def blmpop(ctx: Ctx, argv: list[bytes]) -> Any:
    keys, head, count = parse_mpop(argv[1:], {b"left": True, b"right": False})
    timeout = parse_timeout(argv[1])
    return _serve_first(ctx, argv, keys, deque, timeout, _list_mpop(head, count))


# -- sorted sets ---------------------------------------------------------------------------------


def _zset_pop(from_max: bool) -> Serve:
    name = b"ZPOPMAX" if from_max else b"ZPOPMIN"

    def serve(ctx: Ctx, key: bytes) -> Any:
        zs = ctx.lookup(key)
        if type(zs) is not ZSet:
            return NOT_READY
        ((score, member),) = pop_members(ctx, key, zs, 1, from_max)
        ctx.propagate([name, key])
        return [key, member, score]

    return serve


_BZPOPMIN_SERVE = _zset_pop(False)
_BZPOPMAX_SERVE = _zset_pop(True)
_ZSETS = dict(SORTED_SET, key_flags=("RW access delete",))


@command("bzpopmin", -3, "write noscript blocking fast", keys=(1, -2, 1), since="5.0.0", **_ZSETS,
         complexity="O(log(N)) with N being the number of elements in the sorted set.",
         summary="Pop the member with the lowest score from the first non-empty sorted set, or block until one "
                 "of them gets one; returns [key, member, score].",
         args="key [key ...] timeout")
def bzpopmin(ctx: Ctx, argv: list[bytes]) -> Any:
    timeout = parse_timeout(argv[-1])
    return _serve_first(ctx, argv, argv[1:-1], ZSet, timeout, _BZPOPMIN_SERVE)


@command("bzpopmax", -3, "write noscript blocking fast", keys=(1, -2, 1), since="5.0.0", **_ZSETS,
         complexity="O(log(N)) with N being the number of elements in the sorted set.",
         summary="Pop the member with the highest score from the first non-empty sorted set, or block until one "
                 "of them gets one; returns [key, member, score].",
         args="key [key ...] timeout")
def bzpopmax(ctx: Ctx, argv: list[bytes]) -> Any:
    timeout = parse_timeout(argv[-1])
    return _serve_first(ctx, argv, argv[1:-1], ZSet, timeout, _BZPOPMAX_SERVE)


def _zset_mpop(from_max: bool, count: int) -> Serve:
    def serve(ctx: Ctx, key: bytes) -> Any:
        zs = ctx.lookup(key)
        if type(zs) is not ZSet:
            return NOT_READY
        items = pop_members(ctx, key, zs, count, from_max)
        ctx.propagate([b"ZPOPMAX" if from_max else b"ZPOPMIN", key, b"%d" % count])
        return [key, [[member, score] for score, member in items]]

    return serve


@command("bzmpop", -5, "write blocking movablekeys", getkeys=numkeys_keys(3), since="7.0.0", **_ZSETS,
         complexity="O(K) + O(M*log(N)): K keys named, N members of the set popped from, M members popped.",
         summary="Pop the lowest (MIN) or highest (MAX) members from the first non-empty sorted set, or block "
                 "until one of them gets some.",
         args="timeout numkeys key [key ...] <MIN | MAX> [COUNT count]")
def bzmpop(ctx: Ctx, argv: list[bytes]) -> Any:
    keys, from_max, count = parse_mpop(argv[1:], {b"min": False, b"max": True})
    timeout = parse_timeout(argv[1])
    return _serve_first(ctx, argv, keys, ZSet, timeout, _zset_mpop(from_max, count))

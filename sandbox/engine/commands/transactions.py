"""Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.

Queueing and the EXECABORT/WATCH rules are enforced by the dispatcher
(``Server.execute``); EXEC runs the queue through ``Server.exec_transaction`` so
that a transaction's effects reach the log as one unit.
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..context import Ctx
from ..resp import OK
from . import command


@command("multi", 1, "noscript loading stale fast allow_busy", acl="@transaction", group="transactions",
         summary="Start a transaction: later commands are queued until EXEC.")
def multi(ctx: Ctx, argv: list[bytes]) -> Any:
    if ctx.client.multi is not None:
        raise errors.MULTI_NESTED
    ctx.client.multi = []
    ctx.client.multi_error = False
    return OK


@command("exec", 1, "noscript loading stale skip_slowlog", acl="@transaction", group="transactions",
         summary="Run every queued command atomically; nil if a watched key changed.")
def exec_(ctx: Ctx, argv: list[bytes]) -> Any:
    client = ctx.client
    if client.multi is None:
        raise errors.EXEC_WITHOUT_MULTI
    cluster = ctx.server.cluster
    if cluster is not None and client.multi:
        refusal = cluster.check_transaction(client.multi)
        if refusal is not None:
            client.multi = None
            client.multi_error = False
            ctx.server.unwatch_all(client)
            raise refusal
    return ctx.server.exec_transaction(client)


@command("discard", 1, "noscript loading stale fast allow_busy", acl="@transaction", group="transactions",
         summary="Drop the queued commands and leave the transaction.")
def discard(ctx: Ctx, argv: list[bytes]) -> Any:
    client = ctx.client
    if client.multi is None:
        raise errors.DISCARD_WITHOUT_MULTI
    client.multi = None
    client.multi_error = False
    ctx.server.unwatch_all(client)
    return OK


@command("watch", -2, "noscript loading stale fast allow_busy", keys=(1, -1, 1), acl="@transaction",
         since="2.2.0", group="transactions",
         summary="Make the next EXEC fail if any of these keys changes first.", args="key [key ...]", key_flags=("RO",))
def watch(ctx: Ctx, argv: list[bytes]) -> Any:
    if ctx.client.multi is not None:
        raise errors.WATCH_IN_MULTI
    for key in argv[1:]:
        ctx.server.watch(ctx.client, ctx.client.db, key)
    return OK


@command("unwatch", 1, "noscript loading stale fast allow_busy", acl="@transaction", since="2.2.0",
         group="transactions", summary="Forget every watched key of this connection.")
def unwatch(ctx: Ctx, argv: list[bytes]) -> Any:
    ctx.server.unwatch_all(ctx.client)
    return OK

"""Server commands: FLUSHDB, FLUSHALL, DBSIZE (more to come: INFO, CONFIG, COMMAND, ...)."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..context import Ctx
from ..resp import OK
from . import command


def _flush_mode(argv: list[bytes]) -> None:
    if len(argv) > 2 or (len(argv) == 2 and argv[1].lower() not in (b"async", b"sync")):
        raise errors.SYNTAX


@command("flushdb", -1, "write", acl="@keyspace @dangerous", group="server",
         summary="Remove every key of the current database.", args="[ASYNC | SYNC]")
def flushdb(ctx: Ctx, argv: list[bytes]) -> Any:
    _flush_mode(argv)
    ctx.server.touch_watched_db(ctx.db.id)
    ctx.add_dirty(max(len(ctx.db), 1))
    ctx.db.clear()
    ctx.propagate([b"FLUSHDB"])
    return OK


@command("flushall", -1, "write", acl="@keyspace @dangerous", group="server",
         summary="Remove every key of every database.", args="[ASYNC | SYNC]")
def flushall(ctx: Ctx, argv: list[bytes]) -> Any:
    _flush_mode(argv)
    for db in ctx.server.keyspace.dbs:
        ctx.server.touch_watched_db(db.id)
        ctx.add_dirty(len(db))
        db.clear()
    ctx.add_dirty(1)
    ctx.propagate([b"FLUSHALL"])
    return OK


@command("dbsize", 1, "readonly fast", acl="@keyspace", group="server",
         summary="Number of keys in the current database.")
def dbsize(ctx: Ctx, argv: list[bytes]) -> Any:
    return len(ctx.db)

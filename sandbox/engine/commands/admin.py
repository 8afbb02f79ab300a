"""Server administration: TIME, LASTSAVE, SHUTDOWN, SLOWLOG, and the refused
SAVE/BGSAVE/BGREWRITEAOF/DEBUG/MONITOR.

Invariants:
* Snapshots are taken off-node from the transaction log in this engine (as in
  MemoryDB), so SAVE/BGSAVE answer an error instead of forking.
* The slowlog lives in ``server.telemetry`` (latency.py records slow commands).
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..context import Ctx
from ..errors import RedisError
from ..resp import OK, string2ll
from . import command, container
from .server import admin_state
from .util import help_reply


# ---------------------------------------------------------------------------
# TIME, LASTSAVE, SAVE/BGSAVE, SHUTDOWN, DEBUG, MONITOR


@command("time", 1, "loading stale fast", group="server", since="2.6.0",
         summary="The node's clock: unix seconds and the microseconds within that second.")
def time_(ctx: Ctx, argv: list[bytes]) -> Any:
    usec = int(ctx.server.clock() * 1_000_000)
    return [b"%d" % (usec // 1_000_000), b"%d" % (usec % 1_000_000)]


@command("lastsave", 1, "loading stale fast", acl="@admin @dangerous", since="1.0.0", group="server",
         summary="Unix time of the last successful snapshot (the node's start: snapshots are taken off-node).")
def lastsave(ctx: Ctx, argv: list[bytes]) -> Any:
    return admin_state(ctx.server).lastsave


def _no_snapshots(name: str) -> RedisError:
    return errors.no_snapshots(name)


@command("save", 1, "admin noscript no_async_loading no_multi", group="server",
         summary="Refused: snapshots are taken off-node from the transaction log in this engine.")
def save(ctx: Ctx, argv: list[bytes]) -> Any:
    raise _no_snapshots("SAVE")


@command("bgsave", -1, "admin noscript no_async_loading", group="server",
         summary="Refused: snapshots are taken off-node from the transaction log in this engine.",
         args="[SCHEDULE]")
def bgsave(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) > 2 or (len(argv) == 2 and argv[1].lower() != b"schedule"):
        raise errors.SYNTAX
    raise _no_snapshots("BGSAVE")


@command("bgrewriteaof", 1, "admin noscript no_async_loading", group="server",
         summary="Refused: the node has no append-only file; its durability is the transaction log.")
def bgrewriteaof(ctx: Ctx, argv: list[bytes]) -> Any:
    raise errors.BGREWRITEAOF_UNAVAILABLE


@command("shutdown", -1, "admin noscript loading stale no_multi allow_busy", group="server",
         complexity="O(N) when saving, where N is the total number of keys in all databases",
         summary="Stop the node: close every connection and the listening socket.",
         args="[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]")
def shutdown(ctx: Ctx, argv: list[bytes]) -> Any:
    opts = set()
    for arg in argv[1:]:
        opt = arg.lower()
        if opt not in (b"nosave", b"save", b"now", b"force", b"abort"):
            raise errors.SYNTAX
        opts.add(opt)
    if {b"nosave", b"save"} <= opts or (b"abort" in opts and len(argv) > 2):
        raise errors.SYNTAX
    if b"abort" in opts:
        raise errors.SHUTDOWN_NOT_IN_PROGRESS
    server = ctx.server
    server.log_event("User requested shutdown...")
    server.request_shutdown()  # the process that owns the node stops it, or the node itself
    # Like Redis, no reply: the connection just closes.
    ctx.client.kill()
    return OK


@command("debug", -2, "admin noscript loading stale", group="server",
         summary="Refused: DEBUG is not available on this engine.", args="subcommand [argument [argument ...]]")
def debug(ctx: Ctx, argv: list[bytes]) -> Any:
    raise errors.DEBUG_UNSUPPORTED


@command("monitor", 1, "admin noscript loading stale", group="server", since="1.0.0",
         summary="Refused: this engine doesn't stream the commands it processes.")
def monitor(ctx: Ctx, argv: list[bytes]) -> Any:
    raise errors.MONITOR_UNSUPPORTED


# ---------------------------------------------------------------------------
# SLOWLOG

container("slowlog", "Read or reset the log of slow commands.", "2.2.12", "server")

_SLOWLOG_HELP = [
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
]


@command("slowlog|get", -2, "admin loading stale", group="server", since="2.2.12",
         complexity="O(N) where N is the number of entries returned",
         summary="The most recent slow-command entries (10 by default, -1 for all).", args="[count]")
def slowlog_get(ctx: Ctx, argv: list[bytes]) -> Any:
    count = 10
    if len(argv) > 3:
        raise errors.subcommand_syntax_error(argv, "slowlog")
    if len(argv) == 3:
        n = string2ll(argv[2])
        if n is None or n < -1:
            raise errors.SLOWLOG_COUNT
        count = n
    entries = list(ctx.server.telemetry.slowlog)
    return entries if count == -1 else entries[:count]


@command("slowlog|len", 2, "admin loading stale", group="server", since="2.2.12",
         summary="Number of entries in the slow-command log.")
def slowlog_len(ctx: Ctx, argv: list[bytes]) -> Any:
    return len(ctx.server.telemetry.slowlog)


@command("slowlog|reset", 2, "admin loading stale", group="server", since="2.2.12",
         complexity="O(N) where N is the number of entries in the slowlog",
         summary="Empty the slow-command log.")
def slowlog_reset(ctx: Ctx, argv: list[bytes]) -> Any:
    ctx.server.telemetry.slowlog.clear()
    return OK


@command("slowlog|help", 2, "loading stale", group="server", since="6.2.0", summary="Show the SLOWLOG subcommands.")
def slowlog_help(ctx: Ctx, argv: list[bytes]) -> Any:
    return help_reply(_SLOWLOG_HELP)

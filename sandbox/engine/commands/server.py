"""Server administration, the keyspace-wide part: FLUSHDB/FLUSHALL/DBSIZE/SWAPDB, and
the node's bookkeeping the other administration modules share (``AdminState``).
The rest has modules of its own, registered in this order after this one (COMMAND
lists commands in registration order): info.py (INFO), config_cmds.py (CONFIG),
admin.py (TIME, LASTSAVE, SHUTDOWN, SLOWLOG and the refused SAVE/BGSAVE/
BGREWRITEAOF/DEBUG/MONITOR), memory.py (MEMORY).

Invariants:
* Node-wide bookkeeping that the core doesn't keep (peak memory, the
  ops/sec sample) lives in ``AdminState``, one per ``Server``,
  created on first use; the other administration modules read it from here.
"""


from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import errors
from ..context import Ctx
from ..errors import RedisError
from ..resp import OK, string2ll
from . import command

if TYPE_CHECKING:
    from ..server import Server


LLONG_MAX = 2**63 - 1
ULLONG_MAX = 2**64 - 1
INT_MAX = 2**31 - 1


@dataclass
class AdminState:
    """Per-node bookkeeping for the commands of this module."""

    lastsave: int = field(default_factory=lambda: int(time.time()))
    dirty_at_save: int = 0
    peak_memory: int = 0
    ops_sample: tuple[float, int] = (0.0, 0)
    ops_per_sec: int = 0


_STATES: "weakref.WeakKeyDictionary[Server, AdminState]" = weakref.WeakKeyDictionary()


def admin_state(server: "Server") -> AdminState:
    state = _STATES.get(server)
    if state is None:
        state = _STATES[server] = AdminState(lastsave=int(server.start_time))
    return state


# ---------------------------------------------------------------------------
# FLUSHDB / FLUSHALL / DBSIZE / SWAPDB


def _flush_mode(argv: list[bytes]) -> None:
    if len(argv) > 2 or (len(argv) == 2 and argv[1].lower() not in (b"async", b"sync")):
        raise errors.SYNTAX


@command("flushdb", -1, "write", acl="@keyspace @dangerous", group="server", complexity="O(N) where N is the number of keys in the selected database",
         summary="Remove every key of the current database.", args="[ASYNC | SYNC]")
def flushdb(ctx: Ctx, argv: list[bytes]) -> Any:
    _flush_mode(argv)
    ctx.server.touch_watched_db(ctx.db.id)
    ctx.add_dirty(max(len(ctx.db), 1))
    ctx.db.clear()
    ctx.propagate([b"FLUSHDB"])
    return OK


@command("flushall", -1, "write", acl="@keyspace @dangerous", group="server", complexity="O(N) where N is the total number of keys in all databases",
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


def _db_index(arg: bytes, error: RedisError, count: int) -> int:
    index = string2ll(arg)
    if index is None or not -(2**31) <= index <= INT_MAX:
        raise error
    if not 0 <= index < count:
        raise errors.DB_INDEX_OUT_OF_RANGE
    return index


@command("swapdb", 3, "write fast", acl="@keyspace @dangerous", since="4.0.0", group="server",
         complexity="O(N) where N is the count of clients watching or blocking on keys from both databases.",
         summary="Exchange the contents of two databases (clients keep their database number).",
         args="index1 index2")
def swapdb(ctx: Ctx, argv: list[bytes]) -> Any:
    server = ctx.server
    if server.config.cluster_enabled:
        raise errors.SWAPDB_IN_CLUSTER
    count = len(server.keyspace)
    a = _db_index(argv[1], errors.SWAPDB_FIRST_INDEX, count)
    b = _db_index(argv[2], errors.SWAPDB_SECOND_INDEX, count)
    if a != b:
        server.keyspace.swap(a, b)
        server.touch_watched_db(a)
        server.touch_watched_db(b)
    ctx.add_dirty(1)
    ctx.propagate([b"SWAPDB", b"%d" % a, b"%d" % b])
    return OK

"""Cache-mode replication (the ElastiCache comparison): Redis's asynchronous
primary -> replica stream, with its replication ids, offsets, backlog and PSYNC.

* A **primary** acknowledges a write as soon as it is applied in memory. The
  write's effects enter the *replication stream*: ``ReplicationLog.append`` (the
  node's ``EffectLog``) encodes them as RESP commands and ``feed``s them. The stream
  is buffered for the current event-loop tick and flushed once per tick: one backlog
  chunk and one socket write per replica, however many writes the tick ran.
* A **replica** connects to its primary (``replication_replica.PrimaryLink``), sends
  ``PSYNC replid offset`` and applies what it receives. It refuses writes from
  normal clients and never expires keys itself (it waits for the primary's DEL). The
  stream it applies goes into its own backlog unchanged, so the bytes at a given
  offset are the same on every node of one history (PSYNC2): after a promotion the
  other replicas continue from the new primary's backlog instead of copying the
  whole dataset again, and a replica can itself serve replicas.
* ``--replication-delay-ms`` delays every byte a node sends to its replicas (a
  cross-zone link): each chunk leaves ``delay`` after it was produced, in order.

Offsets are Redis's: the stream's first byte has offset 1 and ``offset`` counts the
bytes this node produced or applied; a replica asks for ``offset + 1``.

Invariants:
* After ``flush()``, ``backlog.end == offset``: the backlog holds the newest bytes of
  this node's stream, at their offsets.
* A replica's offset only advances at command boundaries outside MULTI/EXEC, and a
  transaction is applied in one synchronous step: whatever moment a link or a
  primary dies, no replica holds part of a transaction.
* Nothing waits for a replica before a write is acknowledged. Acknowledged writes
  that had not reached the replica that gets promoted are lost: that loss is real.
  ``WAIT`` only reports how many replicas acknowledged an offset.

``Replication`` is the node's role in cache mode (``roles.NodeRole``): the server
takes its effect log, READONLY and expiry from it, and asks it for INFO
replication, ROLE and WAIT. Promotion and demotion change the same object.

This module holds a node's state and role changes. The primary's side (backlog,
PSYNC decision, the link to each replica) is in ``replication_primary``; the
replica's side (its connection to the primary, the full-sync dataset) in
``replication_replica``.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .client import Client, Pending
from . import errors
from .errors import RedisError
from .replication_primary import Backlog, ReplicaLink, can_continue
from .resp import encode_command

if TYPE_CHECKING:
    from .replication_replica import PrimaryLink
    from .server import Server

Emit = Callable[[dict[str, Any]], None]

DEFAULT_BACKLOG_SIZE = 1024 * 1024  # bytes of stream kept for partial resyncs (Redis's default)
PING_PERIOD_S = 1.0  # a primary with replicas PINGs them this often (in the stream, like Redis)
CRON_PERIOD_S = 0.1
NO_REPLID = "0" * 40

_PING = encode_command([b"PING"])


def new_replid() -> str:
    return os.urandom(20).hex()


class ReplicationLog:
    """The primary's ``EffectLog``: a write's effects become stream bytes at once and
    the client is answered without waiting (``append`` returns None)."""

    def __init__(self, repl: "Replication") -> None:
        self.repl = repl
        self.db = -1  # database the stream has selected; -1 forces a SELECT

    def append(self, db: int, effects: list[list[bytes]], keys: list[tuple[int, bytes]]) -> None:
        if db != self.db:
            data = encode_command((b"SELECT", b"%d" % db))
            self.db = db
        else:
            data = b""
        for argv in effects:
            data += encode_command(argv)
            if argv[0] == b"SELECT":  # MOVE/COPY ... DB switch and come back
                self.db = int(argv[1])
        self.repl.feed(data)
        return None


@dataclass
class Waiter:
    """A client blocked in WAIT: until ``numreplicas`` replicas acked ``target``."""

    client: Client
    target: int
    numreplicas: int
    pending: Pending
    timer: asyncio.TimerHandle | None = None


@dataclass
class SyncStats:
    full: int = 0
    partial_ok: int = 0
    partial_err: int = 0


class Replication:
    """A node's replication state and its role (primary or replica)."""

    def __init__(
        self,
        server: "Server",
        emit: Emit | None = None,
        backlog_size: int = DEFAULT_BACKLOG_SIZE,  # bytes of stream kept for partial resyncs
        delay_ms: int = 0,  # one-way delay on every link to our replicas, ms
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.server = server
        self.emit: Emit = emit or (lambda event: None)
        self.backlog_size = backlog_size
        self.delay_ms = delay_ms
        self.clock = clock
        self.replid = new_replid()
        self.replid2 = NO_REPLID
        self.second_offset = -1
        self.offset = 0
        self.synced = False  # this node's history came from a primary at least once
        self.backlog = Backlog(backlog_size, 0)
        self.log = ReplicationLog(self)
        self.links: dict[int, ReplicaLink] = {}  # by the replica connection's client id
        self.waiters: list[Waiter] = []
        self.stats = SyncStats()
        self.primary: tuple[str, int] | None = None  # set on a replica
        self.link: "PrimaryLink | None" = None
        self._pending: list[bytes] = []
        self._flush_scheduled = False
        self._last_ping = clock()
        self._loop = asyncio.get_running_loop()
        self._cron = self._loop.create_task(self._run_cron())
        self.refusal: RedisError | None = None  # cache mode never refuses keyed commands
        server.set_role(self)
        self._mode_changed()

    @property
    def role(self) -> str:
        return "replica" if self.primary is not None else "primary"

    # -- the node's role (roles.NodeRole) ----------------------------------------------------
    @property
    def read_only(self) -> bool:
        return self.primary is not None

    @property
    def expires_locally(self) -> bool:
        return self.primary is None

    def effect_log(self) -> "ReplicationLog | None":
        return self.log if self.primary is None else None

    def replication(self) -> "Replication":
        return self

    def replica_ack(self, client: Client, offset: int) -> None:
        self.ack(client, offset)

    def sync_counts(self) -> tuple[int, int, int]:
        return self.stats.full, self.stats.partial_ok, self.stats.partial_err

    def wait_refusal(self) -> RedisError | None:
        return errors.REPL_WAIT_ON_REPLICA if self.primary is not None else None

    # -- the stream ------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Append bytes to this node's stream (its own writes, or what it applied)."""
        self.offset += len(data)
        self._pending.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        """Move the tick's stream bytes into the backlog and out to every replica."""
        self._flush_scheduled = False
        if not self._pending:
            return
        pending = self._pending
        chunk = pending[0] if len(pending) == 1 else b"".join(pending)
        self._pending = []
        self.backlog.add(chunk)
        for link in list(self.links.values()):
            link.stream(chunk)

    # -- the primary's side of PSYNC ---------------------------------------------------------
    def psync(self, client: Client, replid: str, wanted: int) -> None:
        """Answer a replica's PSYNC: continue from the backlog or send the whole dataset."""
        from .replication_replica import capture, encode_snapshot

        self.flush()
        link = ReplicaLink(self, client, client.repl_listening_port, self.delay_ms / 1000)
        client.is_replica = True  # CLIENT LIST/KILL TYPE replica
        self.links[client.id] = link
        if can_continue(replid, wanted, my_replid=self.replid, my_replid2=self.replid2,
                        second_offset=self.second_offset, backlog=self.backlog):
            self.stats.partial_ok += 1
            missing = self.backlog.since(wanted)
            size = sum(len(c) for c in missing)

            def start_partial() -> None:
                link.send(b"+CONTINUE %s\r\n" % self.replid.encode())
                link.send(b"".join(missing))
                link.go_online()

            self._loop.call_soon(start_partial)  # after the replies already due on this connection
            self.emit({"event": "replica_connected", "replica": link.name, "full": False,
                       "offset": wanted - 1, "bytes": size})
            return
        if replid != "?":
            self.stats.partial_err += 1
        self.stats.full += 1
        offset = self.offset
        stream_db = self.log.db if self.role == "primary" else self.server._master_client().db
        snapshot = capture(self.server)
        link.state = "send_bulk"

        async def send_full() -> None:
            link.send(b"+FULLRESYNC %s %d\r\n" % (self.replid.encode(), offset))
            chunks = []
            async for chunk in encode_snapshot(snapshot, stream_db):
                if link.closed:
                    return
                chunks.append(chunk)
            total = sum(len(c) for c in chunks)
            link.send(b"$%d\r\n" % total)
            for chunk in chunks:
                link.send(chunk)
            link.go_online()
            self.emit({"event": "replica_synced", "replica": link.name, "offset": offset, "bytes": total})

        self._loop.call_soon(lambda: self._loop.create_task(send_full()))
        self.emit({"event": "replica_connected", "replica": link.name, "full": True, "offset": offset})

    def ack(self, client: Client, offset: int) -> None:
        link = self.links.get(client.id)
        if link is None:
            return
        link.ack_at = self.clock()
        if offset > link.ack_offset:
            link.ack_offset = offset
            if self.waiters:
                self._check_waiters()

    def link_closed(self, link: ReplicaLink, reason: str) -> None:
        if self.links.get(link.client.id) is link:
            del self.links[link.client.id]
            self.emit({"event": "replica_disconnected", "replica": link.name, "reason": reason,
                       "acked": link.ack_offset})

    def drop_replicas(self, reason: str) -> None:
        """Disconnect our replicas: they reconnect and PSYNC against our new history."""
        for link in list(self.links.values()):
            link.close(reason)

    # -- WAIT ------------------------------------------------------------------------------
    def acked(self, target: int) -> int:
        return sum(1 for link in self.links.values() if link.state == "online" and link.ack_offset >= target)

    def wait(self, client: Client, numreplicas: int, timeout_ms: int, in_exec: bool) -> Any:
        """WAIT: how many replicas acknowledged this node's stream up to now; blocks
        the calling connection only, until enough did or the timeout passed.

        The target is the node's offset when WAIT runs, which covers the caller's
        last write (Redis tracks each client's own last write offset; the engine's
        EffectLog isn't told which client wrote, so a concurrent writer can make the
        target a little later than Redis's)."""
        self.flush()
        target = self.offset
        count = self.acked(target)
        if count >= numreplicas or in_exec:
            return count
        pending = Pending(self._loop.create_future(), count)
        waiter = Waiter(client, target, numreplicas, pending)
        if timeout_ms > 0:
            waiter.timer = self._loop.call_later(timeout_ms / 1000, self._wake, waiter)
        self.waiters.append(waiter)
        return pending

    def _wake(self, waiter: Waiter, error: RedisError | None = None) -> None:
        if waiter in self.waiters:
            self.waiters.remove(waiter)
        if waiter.timer is not None:
            waiter.timer.cancel()
        fut = waiter.pending.future
        if fut.done():
            return
        if error is not None:
            fut.set_exception(error)
            return
        waiter.pending.reply = self.acked(waiter.target)
        fut.set_result(None)

    def _check_waiters(self) -> None:
        for waiter in list(self.waiters):
            if self.acked(waiter.target) >= waiter.numreplicas:
                self._wake(waiter)

    # -- roles ----------------------------------------------------------------------------
    def _mode_changed(self) -> None:
        # ``self.primary`` already says which role this is; the server takes its answers.
        self.log.db = -1
        self.server.role_changed()

    def promote(self) -> None:
        """REPLICAOF NO ONE: keep the data and the offset, start a new history whose
        previous id is the old one, so the old primary's other replicas can PSYNC
        from here (Redis 4+'s shiftReplicationId)."""
        if self.primary is None:
            return
        old = self.primary
        self._stop_link()
        self.flush()
        self.primary = None
        self.replid2, self.second_offset = self.replid, self.offset + 1
        self.replid = new_replid()
        self._mode_changed()
        self.drop_replicas("new replication id")
        self.emit({"event": "role_changed", "role": "primary", "offset": self.offset,
                   "previous_primary": f"{old[0]}:{old[1]}"})

    def follow(self, host: str, port: int, announce: bool = True) -> bool:
        """REPLICAOF host port: become (or stay) a replica of that node. False when
        this node already follows it. ``announce=False`` at start: no role change."""
        from .replication_replica import PrimaryLink

        if self.primary == (host, port):
            return False
        was_primary = self.primary is None
        self._stop_link()
        self.flush()
        self.primary = (host, port)
        self._mode_changed()
        if not was_primary:
            # Already read-only, so the role change unblocked nobody; Redis's
            # replicationSetMaster unblocks every blocked client on each new primary.
            self.server.blocked.node_changed(False, True, None)
        for waiter in list(self.waiters):
            self._wake(waiter, errors.UNBLOCKED_DEMOTED)
        self.drop_replicas("primary changed")
        self.link = PrimaryLink(self, host, port)
        if was_primary and announce:
            self.emit({"event": "role_changed", "role": "replica", "primary": f"{host}:{port}", "offset": self.offset})
        return True

    def _stop_link(self) -> None:
        if self.link is not None:
            self.link.stop()
            self.link = None

    # -- a replica's stream -------------------------------------------------------------------
    def load_full_sync(self, replid: str, offset: int, payload: bytes) -> int:
        """Replace the dataset with the primary's at ``offset``; take its history."""
        server = self.server
        for db in server.keyspace.dbs:
            if db.data:
                server.touch_watched_db(db.id)
            db.clear()
        server.apply_stream(payload)
        self._pending = []
        self.replid, self.replid2, self.second_offset = replid, NO_REPLID, -1
        self.offset = offset
        self.synced = True
        self.backlog = Backlog(self.backlog_size, offset)
        self.drop_replicas("full resync")
        return sum(len(db) for db in server.keyspace.dbs)

    def forget_history(self) -> None:
        """Our copy can't be trusted (a stream we failed to apply): the next sync is full."""
        self._pending = []
        self.replid, self.replid2, self.second_offset = new_replid(), NO_REPLID, -1
        self.offset = 0
        self.synced = False
        self.backlog = Backlog(self.backlog_size, 0)
        self.drop_replicas("history discarded")

    def continue_sync(self, replid: str) -> None:
        """``+CONTINUE replid``: our primary's history goes on under ``replid``."""
        if replid and replid != self.replid:
            self.replid2, self.second_offset = self.replid, self.offset + 1
            self.replid = replid
            self.drop_replicas("new replication id")

    def apply(self, unit: bytes) -> None:
        """Apply complete commands/transactions from the primary and pass them on."""
        self.server.apply_stream(unit)
        self.feed(unit)

    # -- housekeeping -------------------------------------------------------------------------
    async def _run_cron(self) -> None:
        while True:
            await asyncio.sleep(CRON_PERIOD_S)
            self.cron()

    def cron(self) -> None:
        for link in list(self.links.values()):
            if link.transport.is_closing() or link.client.protocol is None:
                link.close("connection closed")
        now = self.clock()
        if self.primary is None and self.links and now - self._last_ping >= PING_PERIOD_S:
            self._last_ping = now
            self.feed(_PING)  # keeps the replicas' master_last_io_seconds_ago meaningful
        for waiter in list(self.waiters):
            if waiter.client.protocol is None:  # the caller hung up
                self._wake(waiter)

    def close(self) -> None:
        self._cron.cancel()
        self._stop_link()
        self.drop_replicas("shutdown")
        for waiter in list(self.waiters):
            self._wake(waiter)

    # -- INFO / ROLE ----------------------------------------------------------------------------
    def info_fields(self) -> list[tuple[str, Any]]:
        """INFO replication, in Redis 7.0's order and field names."""
        self.flush()
        now = self.clock()
        fields: list[tuple[str, Any]] = [("role", "master" if self.primary is None else "slave")]
        if self.primary is not None:
            link = self.link
            up = link is not None and link.status == "up"
            fields += [
                ("master_host", self.primary[0]),
                ("master_port", self.primary[1]),
                ("master_link_status", "up" if up else "down"),
                ("master_last_io_seconds_ago", int(now - link.last_io) if up and link else -1),
                ("master_sync_in_progress", int(link is not None and link.status == "sync")),
                ("slave_read_repl_offset", link.read_offset if link else self.offset),
                ("slave_repl_offset", self.offset),
            ]
            if not up:
                down_since = link.down_since if link is not None else now
                fields.append(("master_link_down_since_seconds", int(now - down_since)))
            fields += [("slave_priority", 100), ("slave_read_only", 1), ("replica_announced", 1)]
        fields.append(("connected_slaves", len(self.links)))
        for i, link in enumerate(self.links.values()):
            lag = int(now - link.ack_at)
            fields.append((f"slave{i}", f"ip={link.ip},port={link.port},state={link.state},"
                                        f"offset={link.ack_offset},lag={lag}"))
        fields += [
            ("master_failover_state", "no-failover"),
            ("master_replid", self.replid),
            ("master_replid2", self.replid2),
            ("master_repl_offset", self.offset),
            ("second_repl_offset", self.second_offset),
            ("repl_backlog_active", 1),
            ("repl_backlog_size", self.backlog.size),
            ("repl_backlog_first_byte_offset", self.backlog.first),
            ("repl_backlog_histlen", self.backlog.histlen),
        ]
        return fields

    def role_reply(self) -> list[Any]:
        """ROLE, as Redis 7.0 answers it."""
        if self.primary is None:
            self.flush()
            return [b"master", self.offset,
                    [[link.ip.encode(), b"%d" % link.port, b"%d" % link.ack_offset] for link in self.links.values()]]
        link = self.link
        state = {"up": b"connected", "sync": b"sync", "handshake": b"handshake"}.get(
            link.status if link else "", b"connect")
        return [b"slave", self.primary[0].encode(), self.primary[1], state, self.offset if link and link.status == "up" else -1]

"""Durable mode: a data node whose writes are made durable by the shard's journal.

Who leads the shard is decided by ``leadership.ShardLeadership``, a pure machine
that the seeded simulator runs too (its rules: campaigning after silence, only when
caught up; the conditional leader append; leases counted from when an append was
sent; fencing). This module is that machine's I/O: journal reads and appends,
timers, replies held until commit, the node's refusals. Roles (``DurableNode.role``):

* **replica** — tails the shard's committed stream from the journal (never from
  the primary), applies data entries in order and serves reads after READONLY;
  every entry applied and every timer tick goes to the machine, which says when to
  claim the shard (a conditional ``leader`` append after the entry applied).
* **primary** — executes writes, hands their effects to ``durable_log.PrimaryLog``
  which appends them to the stream, and holds each reply until the journal has committed it and
  the machine released it. A read of a key with uncommitted writes is held too
  (``Server.tracker``). Idle primaries append ``lease`` entries when the machine
  asks. When an append fails its condition, the machine fences the node: it fails
  its pending replies (never acknowledged) and exits, to come back as a replica
  rebuilt from the journal. If it cannot renew, it stops serving once its lease ends.

``DurableNode`` is the server's role (``roles.NodeRole``): the server takes its
effect log (``PrimaryLog`` once primary), READONLY, expiry and refusal from it,
and asks it for INFO replication (the journal's fields), ROLE and WAIT (refused:
durability here is the journal's commit, not a replica count).

Every node starts as a replica restored from the newest snapshot of its shard that
loads and verifies (older ones next, then an empty keyspace and the whole stream),
and replays the stream from the snapshot's entry on, with the running checksum the
snapshot carries. A replica that falls behind the journal's trim point (``JREAD``
answers ``-TRIMMED``) reloads the newest snapshot that covers it.

The durability setting (``NodeConfig.durability``, ``durability_buffer.py``):
``sync`` is the above; with ``async`` a primary acknowledges a write once applied,
``PrimaryLog`` appends it afterwards, and while the buffer's oldest write is older
than its limit the node refuses writes (``cluster.write_refusal``, reads go on).
INFO replication shows the setting and the buffer's age and size.

Invariant (sync): a client never sees a write the journal has not committed, so no
acknowledged write is lost when any data node dies. (async): a replica never sees
one either; what a dying primary loses is what it acknowledged after its last
committed entry, at most the buffer limit's worth.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import time
import zlib
from typing import Any, Callable, NoReturn

from . import leadership as lead
from . import snapshot
from .config import NodeConfig
from . import errors
from .errors import RedisError
from .durability_buffer import BufferConfig
from .durable_log import ENTRY_TIME, PrimaryLog
from .journal_state import encode_leader
from .journal_client import JournalClient
from .client import Client
from .respclient import RespError
from .roles import lone_primary_fields
from .server import Server

Emit = Callable[[dict[str, Any]], None]


def stream_name(shard: int) -> str:
    return f"shard-{shard}"


def _now_ms() -> float:
    """The leadership machine's clock: monotonic, in ms."""
    return time.monotonic() * 1000


class DurableNode:
    """A durable data node's role: its journal I/O around the leadership machine."""

    def __init__(self, server: Server, cfg: NodeConfig, emit: Emit) -> None:
        self.server = server
        self.cfg = cfg
        self.emit = emit
        self.stream = stream_name(cfg.shard)
        zone_index = {"az-a": 0, "az-b": 1, "az-c": 2}.get(cfg.zone, 0)
        self.journal = JournalClient(cfg.journal, prefer=zone_index, secret=cfg.journal_secret)
        self.reader = JournalClient(cfg.journal, prefer=zone_index, secret=cfg.journal_secret)
        config = lead.LeadershipConfig(cfg.engine.node_id, cfg.lease_ms, cfg.renew_every_ms, cfg.campaign_after_ms,
                                       prefer_primary=cfg.prefer_primary)
        # The claim token is the machine's one random choice: unpredictable across restarts.
        self.leadership = lead.ShardLeadership(config, random.SystemRandom(), _now_ms())
        self.crc = 0  # running crc32 of data entries applied/appended
        self.last_entry_ms = 0  # primary wall time of the newest applied data entry
        self.fenced = False
        self._fence_with: tuple[list[asyncio.Future[Any]], RedisError] = ([], errors.NO_LONGER_PRIMARY)
        self.max_inflight = 64
        self.log: PrimaryLog | None = None
        self.buffer_config = BufferConfig(cfg.durability, cfg.durability_buffer_limit_ms)
        self.buffer_full = False  # async: writes refused, the buffer is over its limit
        self.disk_refusal: RedisError | None = None  # writes refused, the journal's disk quota is used up
        self._buffer_timer: asyncio.TimerHandle | None = None
        self._buffer_timer_at: float | None = None
        self.restoring: dict[str, Any] | None = None  # the snapshot being caught up from, until `restored`
        # The server's view of this role (roles.NodeRole): a replica until the machine
        # makes it primary; ``refusal`` while the lease is lapsed or once fenced.
        self.read_only = True
        self.expires_locally = False
        self.refusal: RedisError | None = None
        self.replid = secrets.token_hex(20)  # INFO's master_replid: this node has no cache history
        server.set_role(self)

    # -- the leadership machine ----------------------------------------------------------
    @property
    def role(self) -> str:
        return "replica" if self.leadership.role in (lead.Role.REPLICA, lead.Role.CANDIDATE) else "primary"

    @property
    def applied(self) -> int:
        """Last entry id applied to this node's keyspace (or appended by it)."""
        return self.leadership.applied

    @property
    def journal_tail(self) -> int:
        return self.leadership.journal_tail

    @property
    def leader(self) -> str | None:
        return self.leadership.leader

    def step(self, event: lead.Event) -> list[lead.Action]:
        """Feed the machine; carry out its actions now, except a claim (async: the
        caller awaits ``campaign``), which is returned."""
        later: list[lead.Action] = []
        for action in self.leadership.step(event, _now_ms()):
            if isinstance(action, lead.AppendLeader):
                later.append(action)
            elif isinstance(action, lead.AppendLease):
                conn = self.journal.conn
                if self.log is not None and conn is not None and conn.is_open:  # else asked again next tick
                    self.log.renew(action)
            elif isinstance(action, lead.BecomePrimary):
                self.become_primary(action.entry_id)
            elif isinstance(action, lead.Acknowledge):
                if self.log is not None:
                    self.log.release(action.entry_id)
            elif isinstance(action, lead.StopServing):
                if self.refusal is None:
                    self._refuse(errors.LEASE_EXPIRED)
                    self.emit({"event": "lease_lost"})
            elif isinstance(action, lead.ResumeServing):
                if self.refusal is errors.LEASE_EXPIRED:
                    self._refuse(None)
                    self.emit({"event": "lease_renewed"})
            elif isinstance(action, lead.Fence):
                futures, error = self._fence_with
                self.fence(action.reason, futures, error)
        return later

    # -- replica ---------------------------------------------------------------------------
    async def run(self) -> None:
        self.restore()
        # The journal may still be starting next to us: keep trying for a while.
        deadline = time.monotonic() + 10
        while True:
            try:
                await self.journal.connection()
                break
            except ConnectionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
        await self.set_restore_target()
        leader = await self.reader.call(b"JLEADER", self.stream)
        self.step(lead.LeaderAsked(leader[0].decode() if leader else None))
        self.emit({"event": "journal_connected", "leader": self.leader})
        while not self.fenced:
            if self.role == "replica":
                await self.tail_once()
                for claim in self.step(lead.Tick()):
                    assert isinstance(claim, lead.AppendLeader)
                    await self.campaign(claim)
            else:
                await self.primary_tick()

    async def tail_once(self) -> None:
        block = max(self.cfg.renew_every_ms // 2, 20)
        try:
            entries = await self.reader.call(b"JREAD", self.stream, self.applied, 500, block, deadline_s=2.0)
        except RespError as exc:
            if exc.code == "TRIMMED":
                await self.reload_after_trim(exc.text)
                return
            self.emit({"event": "journal_unavailable", "error": str(exc)})
            await asyncio.sleep(0.1)
            return
        except ConnectionError as exc:
            self.emit({"event": "journal_unavailable", "error": str(exc)})
            await asyncio.sleep(0.1)
            return
        for raw_id, kind, data in entries:
            self.apply_entry(int(raw_id), kind, data)
        if not entries:
            self.step(lead.CaughtUp())
        if self.restoring is not None and self.applied >= self.restoring["target"]:
            done, self.restoring = self.restoring, None
            self.emit({"event": "restored", "from_snapshot": done["from_snapshot"], "upto": done["upto"],
                       "replayed": self.applied - done["upto"], "ms": round((time.monotonic() - done["t0"]) * 1000),
                       "reason": done["reason"]})

    # -- restore from snapshots ------------------------------------------------------------
    def restore(self, min_upto: int = 0, reason: str = "start") -> bool:
        """Replace the keyspace with the newest usable snapshot's (or an empty one when
        there is none and ``min_upto`` is 0) and continue the stream after it.
        False, with the keyspace unchanged, when no snapshot covers ``min_upto``."""
        t0 = time.monotonic()
        directory = snapshot.shard_dir(self.cfg.snapshot_dir, self.cfg.shard) if self.cfg.snapshot_dir else ""

        def rejected(path: str, why: str) -> None:
            self.emit({"event": "snapshot_rejected", "path": path, "reason": why})

        fresh = Server(self.server.config)
        snap = snapshot.load_latest(directory, fresh, min_upto, rejected) if directory else None
        if snap is None and min_upto > 0:
            return False
        for mine, loaded in zip(self.server.keyspace.dbs, fresh.keyspace.dbs):
            if mine.data:
                self.server.touch_watched_db(mine.id)
            mine.swap_contents(loaded)
        self.server.scripts.functions = fresh.scripts.functions  # the snapshot's libraries, like its keys
        upto, crc = (snap.meta.upto_id, snap.meta.crc) if snap else (0, 0)
        self.crc = crc
        self.step(lead.Restored(upto))
        self.restoring = {"from_snapshot": os.path.basename(snap.path) if snap else None, "upto": upto,
                          "target": upto, "t0": t0, "reason": reason}
        self.emit({"event": "snapshot_loaded", "from_snapshot": self.restoring["from_snapshot"], "upto": upto,
                   "keys": snap.meta.keys if snap else 0, "ms": round((time.monotonic() - t0) * 1000),
                   "reason": reason})
        return True

    async def set_restore_target(self) -> None:
        """``restored`` is reported once the node has applied the tail seen now."""
        if self.restoring is None:
            return
        try:
            tail = int(await self.reader.call(b"JTAIL", self.stream, deadline_s=2.0))
        except (ConnectionError, RespError):
            tail = self.applied
        self.restoring["target"] = max(tail, self.applied)
        self.step(lead.TailSeen(tail))

    async def reload_after_trim(self, error: str) -> None:
        """``-TRIMMED <upto> <snapshot>``: the entries this node needs next are gone;
        start again from a snapshot that covers them."""
        parts = error.split()
        upto = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else self.applied + 1
        self.emit({"event": "journal_trimmed", "applied": self.applied, "trimmed_upto": upto,
                   "snapshot": parts[2] if len(parts) > 2 else None})
        if self.restore(min_upto=upto, reason="trimmed"):
            await self.set_restore_target()
            return
        self.emit({"event": "restore_failed", "needed_upto": upto,
                   "reason": "no snapshot that loads covers the trimmed entries"})
        await asyncio.sleep(1.0)

    def apply_entry(self, entry_id: int, kind: bytes, data: bytes) -> None:
        if entry_id != self.applied + 1:
            raise RuntimeError(f"journal gap: applied {self.applied}, got {entry_id}")
        node, claim = json.loads(data) if kind == b"leader" else (None, "")
        if kind == b"data":
            self.server.apply_stream(data[ENTRY_TIME.size :])
            self.crc = zlib.crc32(data, self.crc)
            self.last_entry_ms = ENTRY_TIME.unpack_from(data)[0]
        elif kind == b"leader":
            self.emit({"event": "leader_seen", "leader": node, "entry": entry_id})
        elif kind == b"checksum":
            upto, crc = json.loads(data)
            if upto == entry_id - 1 and crc != self.crc:
                raise RuntimeError(f"running checksum mismatch at entry {upto}: stream corrupted")
        self.step(lead.EntryApplied(entry_id, kind.decode(), node, claim))

    async def campaign(self, claim: lead.AppendLeader) -> None:
        self.emit({"event": "failover_started", "after": claim.after, "leader_was": self.leader})
        try:
            new_id = await self.journal.call(
                b"JAPPEND", self.stream, claim.after, b"leader", encode_leader(claim.node, claim.claim), deadline_s=2.0
            )
        except RespError as err:
            self.emit({"event": "campaign_lost", "reason": err.text})
            self.step(lead.ClaimLost(err.text))
            return
        except ConnectionError as exc:
            self.emit({"event": "journal_unavailable", "error": str(exc)})
            self.step(lead.ClaimLost(str(exc), definite=False))
            return
        self.step(lead.ClaimWon(int(new_id)))

    def become_primary(self, leader_entry: int) -> None:
        self.log = PrimaryLog(self, leader_entry)
        server = self.server
        self.read_only = False
        self.expires_locally = True
        self._refuse(None)  # the server takes the effect log and the rest with it
        if server.cluster is not None:
            server.cluster.promote(self.cfg.engine.node_id)
        self.emit({"event": "role_changed", "role": "primary", "entry": leader_entry})

    # -- primary ---------------------------------------------------------------------------
    async def primary_tick(self) -> None:
        # Twice per renewal period: the machine asks for a lease entry once a whole
        # period passed without an append, and notices a lapsed lease sooner.
        await asyncio.sleep(self.cfg.renew_every_ms / 2000)
        if self.fenced or self.log is None:
            return
        self.step(lead.Tick())
        if self.buffer_config.setting == "async":
            self.log.check_stalled()
            self.buffer_changed()
        if self.journal.conn is None or not self.journal.conn.is_open:
            try:
                await self.journal.connection()
            except ConnectionError:
                return
        self.check_disk()

    def check_disk(self) -> None:
        """Ask the journal how much of the disk quota is used; at or over it, writes
        to this primary are refused (reads go on) until a snapshot trims the log."""
        conn = self.journal.conn
        if conn is None or not conn.is_open or self.server.cluster is None:
            return
        conn.send(b"JDISK").add_done_callback(self._disk_use)

    def _disk_use(self, reply: "asyncio.Future[Any]") -> None:
        if reply.cancelled() or reply.exception() is not None or self.fenced or self.server.cluster is None:
            return
        try:
            used, cap = int(reply.result()[0]), int(reply.result()[1])
        except (TypeError, ValueError, IndexError):
            return  # a journal without JDISK
        over = cap > 0 and used >= cap
        if over:
            if self.disk_refusal is None:
                self.emit({"event": "disk_quota_reached", "used_bytes": used, "cap_bytes": cap})
            self.disk_refusal = errors.disk_quota(used, cap)
        elif self.disk_refusal is not None:
            self.disk_refusal = None
            self.emit({"event": "disk_quota_cleared", "used_bytes": used, "cap_bytes": cap})
        self._set_write_refusal()

    # -- the async durability buffer ----------------------------------------------------------
    def buffer_changed(self) -> None:
        """The buffer grew, shrank or aged: refuse or admit writes as it says, and
        wake up when its oldest write will reach the limit."""
        log = self.log
        if log is None or not log.buffer.is_async or self.fenced:
            return
        buffer, now = log.buffer, _now_ms()
        full = not buffer.admits(now)
        if full != self.buffer_full:
            self.buffer_full = full
            self.emit({"event": "durability_buffer_full" if full else "durability_buffer_drained",
                       "age_ms": round(buffer.age_ms(now)), "writes": buffer.count, "bytes": buffer.pending_bytes})
            self._set_write_refusal()
        when = None if full else buffer.full_at()
        if when != self._buffer_timer_at:
            if self._buffer_timer is not None:
                self._buffer_timer.cancel()
            self._buffer_timer, self._buffer_timer_at = None, when
            if when is not None:
                delay_s = max(when - now, 0.0) / 1000 + 0.001  # just past the limit: then it is over
                self._buffer_timer = asyncio.get_running_loop().call_later(delay_s, self._buffer_timer_fired)

    def _buffer_timer_fired(self) -> None:
        self._buffer_timer = self._buffer_timer_at = None
        self.buffer_changed()

    def _set_write_refusal(self) -> None:
        if self.server.cluster is not None:
            self.server.cluster.write_refusal = errors.DURABILITY_BUFFER_FULL if self.buffer_full else self.disk_refusal

    def refused(self, reason: str, futures: list[asyncio.Future[Any]],
                error: RedisError = errors.NO_LONGER_PRIMARY) -> None:
        """The journal refused an append (another node leads, or this node can no
        longer log its writes): the machine fences the node, failing ``futures``."""
        already = self.fenced
        self._fence_with = (futures, error)
        self.step(lead.Refused(reason))
        self._fence_with = ([], errors.NO_LONGER_PRIMARY)
        if already:
            self.fence(reason, futures, error)  # the machine fenced us before: fail what is still pending

    def fence(self, reason: str, futures: list[asyncio.Future[Any]],
              error: RedisError = errors.NO_LONGER_PRIMARY) -> None:
        if not self.fenced:
            self.fenced = True
            self._refuse(error)
            self.emit({"event": "fenced", "reason": reason})
        pending = list(futures)
        if self.log is not None:
            pending += self.log._all_pending()
            self.log.futures = []
        pending += list(self.server.tracker.values())
        for fut in pending:
            if not fut.done():
                fut.set_exception(error)

    # -- the node's role (roles.NodeRole) ------------------------------------------------------
    def _refuse(self, error: RedisError | None) -> None:
        self.refusal = error
        self.server.role_changed()

    def effect_log(self) -> PrimaryLog | None:
        return self.log

    def info_fields(self) -> list[tuple[str, Any]]:
        """INFO replication: a lone primary's fields with the journal's in place or after them."""
        lag_entries = max(self.journal_tail - self.applied, 0)
        lag_ms = 0 if lag_entries == 0 or not self.last_entry_ms else max(int(time.time() * 1000) - self.last_entry_ms, 0)
        own = dict([
            ("role", "master" if self.role == "primary" else "slave"),
            ("durability", "journal"),
            ("journal_stream", self.stream),
            ("journal_applied", self.applied),
            ("journal_tail", self.journal_tail),
            ("journal_lag_entries", lag_entries),
            ("journal_lag_ms", lag_ms),
            ("journal_leader", self.leader or ""),
            ("lease_valid", int(self.leadership.lease_valid(_now_ms()))),
        ])
        buffer = self.log.buffer if self.log is not None else None
        own.update([
            ("durability_writes", self.buffer_config.setting),
            ("durability_buffer_limit_ms", int(self.buffer_config.limit_ms)),
            ("durability_buffer_age_ms", int(buffer.age_ms(_now_ms())) if buffer else 0),
            ("durability_buffer_writes", buffer.count if buffer else 0),
            ("durability_buffer_bytes", buffer.pending_bytes if buffer else 0),
            ("durability_buffer_full", int(self.buffer_full)),
        ])
        fields = [(k, own.pop(k, v)) for k, v in lone_primary_fields("master", self.replid)]
        return fields + list(own.items())

    def sync_counts(self) -> tuple[int, int, int]:
        return 0, 0, 0

    def role_reply(self) -> list[Any]:
        if self.read_only:
            return [b"slave", b"", 0, b"connected", -1]  # a replica follows the journal, not a primary
        return [b"master", 0, []]

    def wait_refusal(self) -> RedisError | None:
        return errors.REPL_WAIT_DURABLE

    def wait(self, client: Client, numreplicas: int, timeout_ms: int, in_exec: bool) -> NoReturn:
        raise errors.REPL_WAIT_DURABLE

    def replica_ack(self, client: Client, offset: int) -> None:
        return None  # nobody replicates from a durable node: replicas read the journal

    def replication(self) -> NoReturn:
        raise errors.REPLICATION_IN_DURABLE_MODE

    def close(self) -> None:
        return None  # the role loop ends with the process; pending replies were never acknowledged


async def run_durable_node(cfg: NodeConfig, emit: Emit) -> None:
    """Start the listener, then run the node's role loop until it is fenced or stopped."""
    server = Server(cfg.engine)
    port = await server.start()
    node = DurableNode(server, cfg, emit)
    emit({"event": "ready", "host": cfg.engine.bind, "port": port, "pid": os.getpid(), "node": cfg.engine.node_id,
          "role": "replica", "mode": "durable"})
    try:
        await node.run()
    finally:
        await server.stop()
    if node.fenced:
        raise SystemExit(3)

"""Durable mode: a data node whose writes are made durable by the shard's journal.

Roles (``DurableNode.role``):

* **replica** — tails the shard's committed stream from the journal (never from
  the primary), applies data entries in order and serves reads after READONLY.
  It records when it last saw the primary's activity (a lease or data entry). After
  ``campaign_after_ms`` (strictly longer than the lease) of silence, and only when
  it has applied the latest entry, it conditionally appends a ``leader`` entry after
  that entry: the journal lets exactly one such append succeed.
* **primary** — executes writes, hands their effects to ``PrimaryLog`` which appends
  them to the stream, and holds each reply until the journal has committed it. A
  read of a key with uncommitted writes is held too (``Server.tracker``). Every
  successful append renews the lease; idle primaries append ``lease`` entries.
  When an append fails its condition, another node has taken over: the node is
  *fenced* — it fails its pending replies (never acknowledged) and exits, to come
  back as a replica rebuilt from the journal. If it cannot renew, it stops serving
  once its lease ends.

Every node starts as a replica restored from the newest snapshot of its shard that
loads and verifies (older ones next, then an empty keyspace and the whole stream),
and replays the stream from the snapshot's entry on, with the running checksum the
snapshot carries. A replica that falls behind the journal's trim point (``JREAD``
answers ``-TRIMMED``) reloads the newest snapshot that covers it.

Invariant: a client never sees a write the journal has not committed, so no
acknowledged write is lost when any data node dies.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import time
import zlib
from typing import Any, Callable

from . import snapshot
from .config import NodeConfig
from . import errors
from .errors import RedisError
from .journal_state import MAX_ENTRY_BYTES, encode_lease, encode_leader
from .respclient import RespConnection, RespError, connect
from .server import Server, encode_effects

Emit = Callable[[dict[str, Any]], None]
_TS = struct.Struct(">Q")  # data entries start with the primary's wall time in ms (replica lag in ms)

LEASE_EXPIRED = RedisError("CLUSTERDOWN The primary's lease expired; a new primary is being elected")
FENCED = RedisError("CLUSTERDOWN Write not committed: this node is no longer the primary")
JOURNAL_DOWN = RedisError("CLUSTERDOWN The journal has no quorum; the write was not acknowledged")


def stream_name(shard: int) -> str:
    return f"shard-{shard}"


class JournalClient:
    """Talks to the journal group, following ``-NOTLEADER host:port`` hints. With a
    ``secret`` every connection logs in (``AUTH <secret>``) before it is used; a
    replica that refuses it counts as unreachable, its reason in the error text."""

    def __init__(self, addrs: tuple[tuple[str, int], ...], prefer: int = 0, secret: str = "") -> None:
        self.addrs = list(addrs)
        self.prefer = prefer % len(addrs) if addrs else 0
        self.auth: tuple[str, ...] = (secret,) if secret else ()
        self.conn: RespConnection | None = None
        self.leader_hint: tuple[str, int] | None = None

    async def _connect_any(self) -> RespConnection:
        candidates = ([self.leader_hint] if self.leader_hint else []) + self.addrs[self.prefer :] + self.addrs[: self.prefer]
        last: Exception | None = None
        for host, port in candidates:
            try:
                return await self.open(host, port, timeout=0.5)
            except (OSError, asyncio.TimeoutError) as exc:
                last = exc
        raise ConnectionError(f"no journal replica reachable: {last}")

    async def open(self, host: str, port: int, timeout: float) -> RespConnection:
        """A new connection to one replica, logged in when there is a secret."""
        return await connect(host, port, timeout=timeout, auth=self.auth)

    async def connection(self) -> RespConnection:
        if self.conn is None or not self.conn.is_open:
            self.conn = await self._connect_any()
        return self.conn

    async def leader_connection(self, deadline: float) -> RespConnection:
        """A connection to the journal's current Raft leader (asking each replica
        JROLE), waiting out an election until ``deadline`` (monotonic seconds)."""
        while time.monotonic() < deadline:
            if self.conn is not None and self.conn.is_open:
                try:
                    role = await asyncio.wait_for(self.conn.send(b"JROLE"), 0.5)
                    if role[1] == b"leader":
                        return self.conn
                except (RespError, ConnectionError, asyncio.TimeoutError):
                    pass
                self.drop()
            for host, port in self.addrs:
                try:
                    conn = await self.open(host, port, timeout=0.3)
                    role = await asyncio.wait_for(conn.send(b"JROLE"), 0.5)
                except (OSError, RespError, ConnectionError, asyncio.TimeoutError):
                    continue
                if role[1] == b"leader":
                    self.conn = conn
                    return conn
                conn.close()
            await asyncio.sleep(0.05)
        raise ConnectionError("the journal has no leader")

    def drop(self, hint: str | None = None) -> None:
        if hint and hint != "?" and ":" in hint:
            host, port = hint.rsplit(":", 1)
            self.leader_hint = (host, int(port))
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    async def call(self, *args: Any, deadline_s: float = 5.0) -> Any:
        """A request retried on NOTLEADER and connection loss until ``deadline_s``."""
        end = time.monotonic() + deadline_s
        delay = 0.02
        while True:
            try:
                conn = await self.connection()
                return await asyncio.wait_for(conn.send(*args), max(end - time.monotonic(), 0.05))
            except RespError as err:
                if err.code != "NOTLEADER":
                    raise
                self.drop(err.text.split(" ", 1)[1] if " " in err.text else None)
            except (ConnectionError, OSError, asyncio.TimeoutError):
                self.drop()
            if time.monotonic() > end:
                raise ConnectionError("journal unavailable")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)


class PrimaryLog:
    """The primary's ``EffectLog``: batches the effects of one event-loop tick into
    one conditional append and resolves each write's future when it commits.

    Appends are pipelined; each names the id the previous one will get. When the
    journal connection breaks or an append times out, the outcome of what was in
    flight is unknown, so nothing new is sent until ``_recover`` has read the stream
    back: an entry found at its id with our bytes committed; a missing one is sent
    again; another writer's entry there means this node was fenced. If the journal
    stays unreachable past ``JOURNAL_WAIT_S`` the node gives up its role: pending
    replies fail (never acknowledged) and it restarts as a replica.
    """

    JOURNAL_WAIT_S = 3.0

    def __init__(self, node: "DurableNode", tail: int) -> None:
        self.node = node
        self.tail = tail  # id the last sent append will get
        self.confirmed = tail  # last id the journal confirmed to us
        self.pieces: list[bytes] = []
        self.futures: list[asyncio.Future[Any]] = []
        self.scheduled = False
        # expected id -> (kind, data, futures, sent_at), in id order
        self.inflight: dict[int, tuple[bytes, bytes, list[asyncio.Future[Any]], float]] = {}
        self.recovering = False
        self.last_data_sent = 0.0  # monotonic time of the latest data append sent
        self.crc = node.crc
        self.entries_since_checksum = 0

    def append(self, db: int, effects: list[list[bytes]], keys: list[tuple[int, bytes]]) -> "asyncio.Future[Any]":
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self.pieces.append(encode_effects(db, effects))
        self.futures.append(fut)
        tracker = self.node.server.tracker
        for k in keys:
            tracker[k] = fut
        if not self.scheduled:
            self.scheduled = True
            loop.call_soon(self.flush)
        return fut

    def flush(self) -> None:
        self.scheduled = False
        if not self.pieces or self.node.fenced or self.recovering:
            return
        if len(self.inflight) >= self.node.max_inflight:
            self.scheduled = True
            asyncio.get_running_loop().call_later(0.0005, self.flush)
            return
        # One entry holds at most MAX_ENTRY_BYTES: a tick's writes beyond it go in the
        # next entries. A single write larger than that was applied here but can never
        # be logged, so this node steps down; nothing pending was acknowledged.
        count, size = 0, 0
        for piece in self.pieces:
            if count and size + len(piece) > MAX_ENTRY_BYTES:
                break
            count, size = count + 1, size + len(piece)
        if size > MAX_ENTRY_BYTES:
            self.node.fence(f"a write's effects of {size} bytes exceed a journal entry ({MAX_ENTRY_BYTES})",
                            self._all_pending(), error=errors.JOURNAL_ENTRY_TOO_LARGE)
            return
        data = _TS.pack(int(time.time() * 1000)) + b"".join(self.pieces[:count])
        futures = self.futures[:count]
        self.pieces, self.futures = self.pieces[count:], self.futures[count:]
        if self.pieces and not self.scheduled:
            self.scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)
        self.crc = zlib.crc32(data, self.crc)
        self._send(b"data", data, futures)
        self.last_data_sent = time.monotonic()
        self.entries_since_checksum += 1
        if self.entries_since_checksum >= 100:
            self.entries_since_checksum = 0
            marker = json.dumps([self.tail, self.crc]).encode()  # running checksum through entry `tail`
            self._send(b"checksum", marker, [])

    def renew(self) -> None:
        """Append a lease entry unless a data append sent within the last renewal
        period will renew the lease anyway (its commit extends the lease from when it
        was sent, and replicas count it as the primary's activity): a busy primary
        writes no lease entries."""
        if self.recovering:
            return
        if time.monotonic() - self.last_data_sent < self.node.cfg.renew_every_ms / 1000:
            return
        self._send(b"lease", encode_lease(self.node.cfg.engine.node_id, self.node.cfg.lease_ms), [])

    def _send(self, kind: bytes, data: bytes, futures: list[asyncio.Future[Any]]) -> None:
        self.tail += 1
        expected = self.tail
        self.inflight[expected] = (kind, data, futures, time.monotonic())
        self._transmit(expected)

    def _transmit(self, expected: int) -> None:
        kind, data, _futures, sent_at = self.inflight[expected]
        conn = self.node.journal.conn
        if conn is None or not conn.is_open:
            reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            reply.set_exception(ConnectionError("journal connection lost"))
        else:
            reply = conn.send(b"JAPPEND", self.node.stream, expected - 1, kind, data)
        reply.add_done_callback(lambda f: self._done(f, expected))

    def _done(self, reply: "asyncio.Future[Any]", expected: int) -> None:
        if expected not in self.inflight or self.node.fenced:
            return
        exc = reply.exception()
        if exc is None and reply.result() == expected:
            self._committed(expected)
            return
        if isinstance(exc, RespError) and exc.code in ("CONDFAIL", "FENCED"):
            self.node.fence(f"append after {expected - 1} refused: {exc.text}", self._all_pending())
            return
        if isinstance(exc, RespError) and exc.code in ("QUOTA", "TOOBIG"):
            # Applied here, refused by the journal: this keyspace is ahead of the log
            # for good, so the node steps down and comes back from the journal.
            error = errors.JOURNAL_ENTRY_TOO_LARGE
            if exc.code == "QUOTA":
                used, cap = (int(n) for n in exc.text.split()[1:3])
                error = errors.disk_quota(used, cap)
            self.node.fence(f"append after {expected - 1} refused: {exc.text}", self._all_pending(), error=error)
            return
        # Connection lost, TIMEOUT, NOTLEADER: the outcome of what is in flight is unknown.
        if not self.recovering:
            self.recovering = True
            asyncio.get_running_loop().create_task(self._recover(str(exc or reply.result())))

    def _committed(self, entry_id: int) -> None:
        _kind, _data, futures, sent_at = self.inflight.pop(entry_id)
        self.confirmed = max(self.confirmed, entry_id)
        self.node.renewed(sent_at, entry_id)
        for fut in futures:
            if not fut.done():
                fut.set_result(None)
        tracker = self.node.server.tracker
        if tracker and futures:
            done = set(map(id, futures))
            for k in [k for k, f in tracker.items() if id(f) in done]:
                del tracker[k]

    def _all_pending(self) -> list[asyncio.Future[Any]]:
        out = [f for _k, _d, futures, _t in self.inflight.values() for f in futures]
        self.inflight.clear()
        return out + self.futures

    async def _recover(self, reason: str) -> None:
        node = self.node
        node.emit({"event": "journal_unavailable", "error": reason, "inflight": len(self.inflight)})
        deadline = time.monotonic() + self.JOURNAL_WAIT_S
        while not node.fenced:
            if time.monotonic() > deadline:
                node.fence(f"journal unreachable for {self.JOURNAL_WAIT_S:.0f}s: {reason}", self._all_pending(),
                           error=JOURNAL_DOWN)
                return
            try:
                node.journal.drop()
                entries = await node.journal.call(b"JREAD", node.stream, self.confirmed, 10_000, 0, deadline_s=1.0)
            except (ConnectionError, RespError):
                await asyncio.sleep(0.1)
                continue
            found = {int(i): (k, d) for i, k, d in entries}
            for expected in sorted(self.inflight):
                kind, data, _f, _t = self.inflight[expected]
                if expected in found:
                    if found[expected] == (kind, data):
                        self._committed(expected)
                    else:
                        node.fence(f"entry {expected} was written by another node", self._all_pending())
                        return
            # What is left never reached the journal: send it again, in order, to the leader.
            try:
                await node.journal.leader_connection(deadline)
            except ConnectionError:
                continue
            self.recovering = False
            for expected in sorted(self.inflight):
                self._transmit(expected)
            node.emit({"event": "journal_recovered", "resent": len(self.inflight)})
            self.flush()
            return


class DurableNode:
    def __init__(self, server: Server, cfg: NodeConfig, emit: Emit) -> None:
        self.server = server
        self.cfg = cfg
        self.emit = emit
        self.stream = stream_name(cfg.shard)
        zone_index = {"az-a": 0, "az-b": 1, "az-c": 2}.get(cfg.zone, 0)
        self.journal = JournalClient(cfg.journal, prefer=zone_index, secret=cfg.journal_secret)
        self.reader = JournalClient(cfg.journal, prefer=zone_index, secret=cfg.journal_secret)
        self.role = "replica"
        self.applied = 0  # last entry id applied to this node's keyspace
        self.journal_tail = 0  # last tail id seen
        self.crc = 0  # running crc32 of data entries applied/appended
        self.leader: str | None = None
        self.last_activity = time.monotonic()  # when this replica last saw the primary active
        self.last_entry_ms = 0  # primary wall time of the newest applied data entry
        self.lease_until = 0.0
        self.fenced = False
        self.max_inflight = 64
        self.log: PrimaryLog | None = None
        self.restoring: dict[str, Any] | None = None  # the snapshot being caught up from, until `restored`
        server.read_only = True
        server.expires_locally = False
        server.tracker = {}
        server.repl_info = self.info_fields

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
        lead = await self.reader.call(b"JLEADER", self.stream)
        self.leader = lead[0].decode() if lead else None
        self.emit({"event": "journal_connected", "leader": self.leader})
        while not self.fenced:
            if self.role == "replica":
                await self.tail_once()
                if self.should_campaign():
                    await self.campaign()
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
            self.journal_tail = self.applied
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
        upto, crc = (snap.meta.upto_id, snap.meta.crc) if snap else (0, 0)
        self.applied = upto
        self.journal_tail = max(self.journal_tail, upto)
        self.crc = crc
        # What this node knew of the primary's liveness is as old as its data: it
        # must catch up and then wait a whole campaign period before it may campaign.
        self.last_activity = time.monotonic()
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
        self.journal_tail = max(self.journal_tail, tail)

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
        if kind == b"data":
            self.server.apply_stream(data[_TS.size :])
            self.crc = zlib.crc32(data, self.crc)
            self.last_entry_ms = _TS.unpack_from(data)[0]
            self.last_activity = time.monotonic()
        elif kind == b"lease":
            self.last_activity = time.monotonic()
        elif kind == b"leader":
            node, _claim = json.loads(data)
            self.leader = node
            self.last_activity = time.monotonic()
            self.emit({"event": "leader_seen", "leader": node, "entry": entry_id})
        elif kind == b"checksum":
            upto, crc = json.loads(data)
            if upto == entry_id - 1 and crc != self.crc:
                raise RuntimeError(f"running checksum mismatch at entry {upto}: stream corrupted")
        self.applied = entry_id
        self.journal_tail = max(self.journal_tail, entry_id)

    def should_campaign(self) -> bool:
        if self.applied < self.journal_tail:
            return False
        silence = (time.monotonic() - self.last_activity) * 1000
        if self.leader is None:
            # A new shard: nobody to wait for. The preferred node goes first; others
            # wait a little so the preferred one usually wins the race.
            return self.cfg.prefer_primary or silence > 300
        return silence > self.cfg.campaign_after_ms

    async def campaign(self) -> None:
        claim = os.urandom(8).hex()
        self.emit({"event": "failover_started", "after": self.applied, "leader_was": self.leader})
        started = time.monotonic()
        try:
            new_id = await self.journal.call(
                b"JAPPEND", self.stream, self.applied, b"leader", encode_leader(self.cfg.engine.node_id, claim), deadline_s=2.0
            )
        except RespError as err:
            self.emit({"event": "campaign_lost", "reason": err.text})
            self.last_activity = time.monotonic()
            return
        except ConnectionError as exc:
            self.emit({"event": "journal_unavailable", "error": str(exc)})
            return
        self.become_primary(int(new_id), started)

    def become_primary(self, leader_entry: int, started: float) -> None:
        self.applied = self.journal_tail = leader_entry
        self.leader = self.cfg.engine.node_id
        self.role = "primary"
        self.lease_until = started + self.cfg.lease_ms / 1000
        self.log = PrimaryLog(self, leader_entry)
        server = self.server
        server.read_only = False
        server.expires_locally = True
        server.refusal = None
        server.log = self.log
        if server.cluster is not None:
            server.cluster.promote(self.cfg.engine.node_id)
        self.emit({"event": "role_changed", "role": "primary", "entry": leader_entry})

    # -- primary ---------------------------------------------------------------------------
    async def primary_tick(self) -> None:
        await asyncio.sleep(self.cfg.renew_every_ms / 1000)
        if self.fenced or self.log is None:
            return
        now = time.monotonic()
        if now > self.lease_until:
            if self.server.refusal is None:
                self.server.refusal = LEASE_EXPIRED
                self.emit({"event": "lease_lost"})
        if self.journal.conn is None or not self.journal.conn.is_open:
            try:
                await self.journal.connection()
            except ConnectionError:
                return
        self.log.renew()
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
        cluster = self.server.cluster
        over = cap > 0 and used >= cap
        if over:
            if cluster.write_refusal is None:
                self.emit({"event": "disk_quota_reached", "used_bytes": used, "cap_bytes": cap})
            cluster.write_refusal = errors.disk_quota(used, cap)
        elif cluster.write_refusal is not None:
            cluster.write_refusal = None
            self.emit({"event": "disk_quota_cleared", "used_bytes": used, "cap_bytes": cap})

    def renewed(self, sent_at: float, entry_id: int) -> None:
        self.lease_until = max(self.lease_until, sent_at + self.cfg.lease_ms / 1000)
        self.applied = self.journal_tail = max(self.applied, entry_id)
        if self.server.refusal is LEASE_EXPIRED:
            self.server.refusal = None
            self.emit({"event": "lease_renewed"})

    def fence(self, reason: str, futures: list[asyncio.Future[Any]], error: RedisError = FENCED) -> None:
        if not self.fenced:
            self.fenced = True
            self.server.refusal = error
            self.emit({"event": "fenced", "reason": reason})
        pending = list(futures)
        if self.log is not None:
            pending += self.log._all_pending()
            self.log.futures = []
        pending += list(self.server.tracker.values())
        for fut in pending:
            if not fut.done():
                fut.set_exception(error)

    def info_fields(self) -> list[tuple[str, Any]]:
        lag_entries = max(self.journal_tail - self.applied, 0)
        lag_ms = 0 if lag_entries == 0 or not self.last_entry_ms else max(int(time.time() * 1000) - self.last_entry_ms, 0)
        return [
            ("role", "master" if self.role == "primary" else "slave"),
            ("durability", "journal"),
            ("journal_stream", self.stream),
            ("journal_applied", self.applied),
            ("journal_tail", self.journal_tail),
            ("journal_lag_entries", lag_entries),
            ("journal_lag_ms", lag_ms),
            ("journal_leader", self.leader or ""),
            ("lease_valid", int(self.role == "primary" and time.monotonic() < self.lease_until)),
        ]


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

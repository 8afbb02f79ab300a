"""Simulated data nodes: a shard's primary and replicas, driven only by the journal.

A *primary* appends its writes (``data``), lease renewals (``lease``) and running
checksums (``checksum``) to its shard's stream, one conditional append at a time,
each naming the tail it knows. It acknowledges a write only once the journal
committed it and only while its lease is valid; its lease lasts ``lease_ms`` from
when it *sent* the renewal that succeeded (conservative: commit comes later).

A *replica* tails the committed stream from any journal replica. When the stream
has not moved for longer than the lease (plus a random extra), it appends a
``leader`` entry after the latest id it applied; exactly one racer wins, and the
old primary's next append fails (it is fenced) while its lease runs out.

A request without a reply is retried with the same ``after_id``, so a retry can
never apply twice. When the outcome is unclear (``CondFail`` at the id the write
would have taken, e.g. after a duplicate), the node reads that entry to learn
whether it was its own.

The *snapshotter* (one per shard) is a replica that never campaigns: at each
``checksum`` entry it verifies the running checksum of what it replayed, and every
few markers stores a snapshot and asks the journal to trim the entries it covers.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sandbox.engine.journal_state import (
    AppendCommand,
    Appended,
    CondFail,
    EntryKind,
    Fenced,
    Rejected,
    StreamEntry,
    TrimCommand,
    Trimmed,
    decode_leader,
    encode_lease,
    encode_leader,
)

from .world import Dropped, JAppend, JRead, JReadReply, JReply, NotLeader, SnapshotImage

if TYPE_CHECKING:
    from .world import World

READ_BATCH = 32  # entries per stream read


@dataclass
class _Op:
    """The one journal write a data node has in flight."""

    cmd: AppendCommand | TrimCommand
    first_sent: int  # ms: the lease of a lease/leader entry counts from here
    last_sent: int
    req_ids: set[int] = field(default_factory=set)
    resolving: int | None = None  # req id of the read that decides an unclear outcome


class DataNode:
    def __init__(self, world: World, name: str, shard: str, az: str, snapshotter: bool = False) -> None:
        self.world = world
        self.name = name
        self.shard = shard
        self.az = az
        self.snapshotter = snapshotter
        self.alive = False
        self.incarnation = 0
        self.seq = 0  # data writes ever issued (survives restarts: payloads stay unique)
        self.claims = 0  # leadership claims ever issued
        self.start()

    def start(self) -> None:
        w = self.world
        self.incarnation += 1
        self.alive = True
        self.role = "replica"  # a new or restarted node always starts as a replica
        self.lease_expiry = 0
        self.next_lease_at = 0
        self.known_tail = 0  # id of the last stream entry applied to `dataset`
        self.tail_changed_at = w.now
        self.dataset: list[bytes] = []  # the node's "keyspace": data payloads in order
        self.crc = 0  # running crc32 over `dataset`
        self.since_checksum = 0
        self.checksums = 0
        self.op: _Op | None = None
        self.read_req: int | None = None
        self.read_sent = 0
        self.target = w.rng.choice(w.config.replicas)
        self._draw_takeover_wait()
        self._schedule_poll()

    def crash(self) -> None:
        self.alive = False
        self.incarnation += 1
        self.world.log(f"{self.name} CRASHED")

    def holds_lease(self) -> bool:
        return self.alive and self.role == "primary" and self.world.now < self.lease_expiry

    def _draw_takeover_wait(self) -> None:
        lo, hi = self.world.config.takeover_extra_ms
        self.takeover_wait = self.world.config.lease_ms + self.world.rng.randint(lo, hi)

    # -- the wake-up loop --------------------------------------------------------------

    def _schedule_poll(self) -> None:
        poll = self.world.config.poll_ms
        inc = self.incarnation
        self.world.after(poll + self.world.rng.randint(0, poll // 2), lambda: self._poll(inc))

    def _poll(self, inc: int) -> None:
        if inc != self.incarnation:
            return
        self.work()
        self._schedule_poll()

    def work(self) -> None:
        w, now = self.world, self.world.now
        if self.role == "primary" and now >= self.lease_expiry:
            self._step_down("lease expired without renewal")
        if self.op is not None:
            if now - self.op.last_sent >= w.config.request_timeout_ms:
                self._retry(rotate=True)
        elif self.role == "primary":
            self._primary_work()
        else:
            self._replica_work()

    def _primary_work(self) -> None:
        w = self.world
        if w.quiesced:
            return
        if w.now >= self.next_lease_at:
            self._issue(EntryKind.LEASE, encode_lease(self.name, w.config.lease_ms))
        elif self.since_checksum >= w.config.checksum_every:
            self._issue(EntryKind.CHECKSUM, self.crc.to_bytes(4, "big"))
        elif w.rng.random() < w.config.write_probability:
            self.seq += 1
            self._issue(EntryKind.DATA, f"{self.shard}/{self.name}#{self.seq}".encode())

    def _replica_work(self) -> None:
        w = self.world
        if self.read_req is None or w.now - self.read_sent >= w.config.request_timeout_ms:
            self._read()
        if not self.snapshotter and not w.quiesced and w.now - self.tail_changed_at > self.takeover_wait:
            self.campaign()

    def campaign(self) -> None:
        """Claim leadership: a leader entry after the latest id this node has applied."""
        if self.op is None and self.role == "replica":
            self.world.log(f"{self.name} campaigns for shard {self.shard} after id {self.known_tail}")
            self.claims += 1
            self._issue(EntryKind.LEADER, encode_leader(self.name, f"{self.incarnation}.{self.claims}"))

    def _step_down(self, why: str) -> None:
        self.role = "replica"
        self.lease_expiry = 0
        self.tail_changed_at = self.world.now
        self._draw_takeover_wait()
        self.world.log(f"{self.name} stops being primary of shard {self.shard}: {why}")

    # -- journal writes --------------------------------------------------------------------

    def _issue(self, kind: EntryKind, data: bytes) -> None:
        self._start_op(AppendCommand(self.shard, self.known_tail, kind, data))

    def _start_op(self, cmd: AppendCommand | TrimCommand) -> None:
        now = self.world.now
        self.op = _Op(cmd, first_sent=now, last_sent=now - 1)
        self._retry(rotate=False)

    def _retry(self, rotate: bool) -> None:
        w, op = self.world, self.op
        assert op is not None
        if rotate:
            self.target = w.rng.choice([r for r in w.config.replicas if r != self.target])
        op.last_sent = w.now
        req = w.next_req()
        if op.resolving is not None:
            op.resolving = req
            assert isinstance(op.cmd, AppendCommand)
            w.net.send(self.name, self.target, JRead(req, self.shard, op.cmd.after_id, 1))
        else:
            op.req_ids.add(req)
            w.net.send(self.name, self.target, JAppend(req, op.cmd))

    def _on_reply(self, reply: JReply) -> None:
        op, w = self.op, self.world
        if op is None or reply.req_id not in op.req_ids or op.resolving is not None:
            return
        r = reply.result
        if isinstance(r, NotLeader):
            if r.leader is not None and r.leader != self.target:
                self.target = r.leader
                self._retry(rotate=False)
            else:  # no leader known: back off, the timeout path retries elsewhere
                op.last_sent = w.now - w.config.request_timeout_ms + 20
        elif isinstance(r, Dropped):
            self._retry(rotate=False)  # definitely not applied: the same request is safe
        elif isinstance(r, Appended):
            self._succeeded(r.id)
        elif isinstance(r, Trimmed):
            self.op = None
        elif isinstance(r, CondFail):
            assert isinstance(op.cmd, AppendCommand)
            if r.tail_id > op.cmd.after_id:
                op.resolving = -1  # maybe ours (a duplicate or a retry won): read and see
                self._retry(rotate=False)
            else:
                w.checker.fail(f"{self.name}: journal tail {r.tail_id} is behind what we applied ({op.cmd.after_id})")
        elif isinstance(r, Fenced):
            self._failed(f"fenced: shard leader is {r.leader}")
        elif isinstance(r, Rejected):
            w.checker.fail(f"{self.name}: journal rejected {op.cmd}: {r.reason}")

    def _resolve(self, reply: JReadReply) -> None:
        op = self.op
        assert op is not None and isinstance(op.cmd, AppendCommand)
        if reply.trimmed is not None:
            self._failed("outcome unknown: entry already trimmed")
        elif reply.entries and reply.entries[0].id == op.cmd.after_id + 1:
            e = reply.entries[0]
            if e.kind is op.cmd.kind and e.data == op.cmd.data:
                self._succeeded(e.id)
            else:
                self._failed(f"id {e.id} went to another writer")
        else:  # a stale journal replica: ask another one soon
            op.last_sent = self.world.now - self.world.config.request_timeout_ms + 20

    def _succeeded(self, entry_id: int) -> None:
        w, op = self.world, self.op
        assert op is not None and isinstance(op.cmd, AppendCommand)
        self.op = None
        kind, data = op.cmd.kind, op.cmd.data
        self.known_tail = entry_id
        self.tail_changed_at = w.now
        if kind is EntryKind.DATA:
            self._apply_data(data)
            self.since_checksum += 1
            if self.holds_lease():
                w.checker.on_ack(self, entry_id, data)
        elif kind is EntryKind.LEASE and self.role == "primary":
            self.lease_expiry = max(self.lease_expiry, op.first_sent + w.config.lease_ms)
            self.next_lease_at = op.first_sent + w.config.renew_every_ms
        elif kind is EntryKind.LEADER:
            if w.now >= op.first_sent + w.config.lease_ms:
                self._failed("won leadership, but the lease it would start had already run out")
                return
            self.role = "primary"
            self.lease_expiry = op.first_sent + w.config.lease_ms
            self.next_lease_at = op.first_sent + w.config.renew_every_ms
            w.log(f"{self.name} is primary of shard {self.shard} (leader entry {entry_id})")
            w.checker.on_primary(self)
        elif kind is EntryKind.CHECKSUM:
            self.since_checksum = 0

    def _failed(self, why: str) -> None:
        self.op = None
        if self.role == "primary":
            self._step_down(why)
        else:
            self.tail_changed_at = self.world.now
            self._draw_takeover_wait()
            self.world.log(f"{self.name} lost the race for shard {self.shard}: {why}")

    # -- reading the stream -------------------------------------------------------------------

    def _read(self) -> None:
        w = self.world
        self.read_req = w.next_req()
        self.read_sent = w.now
        target = w.rng.choice(w.config.replicas)
        w.net.send(self.name, target, JRead(self.read_req, self.shard, self.known_tail, READ_BATCH))

    def receive(self, src: str, message: object) -> None:
        if isinstance(message, JReply):
            self._on_reply(message)
        elif isinstance(message, JReadReply):
            if self.op is not None and message.req_id == self.op.resolving:
                self._resolve(message)
            elif message.req_id == self.read_req:
                self.read_req = None
                if self.op is None and self.role == "replica":
                    self._on_entries(message)
                    if len(message.entries) >= READ_BATCH:
                        self._read()  # more to catch up on: do not wait for the next wake-up

    def _on_entries(self, reply: JReadReply) -> None:
        w = self.world
        if reply.trimmed is not None:
            upto, snapshot_id = reply.trimmed
            image = w.snapshots[(self.shard, snapshot_id)]
            self.dataset, self.crc, self.known_tail = list(image.dataset), image.crc, image.upto_id
            self.tail_changed_at = w.now
            w.log(f"{self.name} restored snapshot {snapshot_id}")
            return
        for e in reply.entries:
            if e.id != self.known_tail + 1:
                break
            self._apply_entry(e)
        if reply.entries:
            self.tail_changed_at = w.now

    def _apply_entry(self, e: StreamEntry) -> None:
        self.known_tail = e.id
        if e.kind is EntryKind.DATA:
            self._apply_data(e.data)
        elif e.kind is EntryKind.LEADER and decode_leader(e.data) == self.name:
            self.world.log(f"{self.name} sees its own leader entry {e.id} but never learned it won: stays replica")
        elif e.kind is EntryKind.CHECKSUM and self.snapshotter:
            self._verify_and_snapshot(e)

    def _apply_data(self, data: bytes) -> None:
        self.dataset.append(data)
        self.crc = zlib.crc32(data, self.crc)

    def _verify_and_snapshot(self, e: StreamEntry) -> None:
        w = self.world
        expected = int.from_bytes(e.data, "big")
        if expected != self.crc:
            w.checker.fail(f"shard {self.shard}: checksum at id {e.id} is {expected:#x}, replay gives {self.crc:#x}")
        self.checksums += 1
        if self.checksums % w.config.trim_every == 0 and self.op is None:
            snapshot_id = f"{self.shard}@{e.id}"
            w.snapshots[(self.shard, snapshot_id)] = SnapshotImage(self.shard, snapshot_id, e.id, tuple(self.dataset), self.crc)
            w.log(f"{self.name} verified snapshot {snapshot_id}; trimming")
            w.checker.stats["snapshots"] += 1
            self._start_op(TrimCommand(self.shard, e.id, snapshot_id))

"""Simulated data nodes: the simulated I/O around the real ``ShardLeadership``.

Who may lead a shard, when to campaign, how long a lease lasts, when a reply may be
released and when a node is fenced are decided by ``sandbox.engine.leadership``
(the code durable.py runs). This module is only its shell, the simulator's stand-in
for durable.py's I/O: it feeds the machine what the (faulty) network and journal
say, and carries out its actions.

* Journal writes: one conditional append in flight at a time, each naming the tail
  the node applied. A request without a reply is retried with the same ``after_id``,
  so a retry can never apply twice. When the outcome is unclear (``CondFail`` at
  the id the write would have taken, e.g. after a duplicate), the node reads that
  entry to learn whether it was its own (its bytes, claim token included).
* Reads: a replica tails the committed stream from any journal replica; at start
  it asks one replica who leads the shard and where its tail is (durable.py's
  ``JLEADER`` and ``JTAIL``).
* A primary issues client writes only while the machine says it serves and the
  durability buffer (``sandbox.engine.durability_buffer``, the code PrimaryLog runs)
  admits them. With ``sync`` a write is acknowledged (``Invariants.on_ack``) only when
  the leadership machine releases it. With ``async`` the buffer releases it at once
  (``Invariants.on_released``): it joins the node's dataset and the ``unsent`` queue,
  which the node appends one entry at a time, in order, even while it does not serve
  (a lapsed lease) and while quiesced; a crash or fence loses what is still queued.
* ``Fence`` makes the node exit; it restarts a little later, as a replica with an
  empty keyspace (a real node restarts from a snapshot; here it replays the stream).

The *snapshotter* (one per shard) is a reader with no leadership machine: at each
``checksum`` entry it verifies the running checksum of what it replayed, and every
few markers stores a snapshot and asks the journal to trim the entries it covers.
"""

from __future__ import annotations

import json
import random
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sandbox.engine import leadership as lead
from sandbox.engine.durability_buffer import BufferConfig, DurabilityBuffer
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
    encode_lease,
    encode_leader,
)

from .world import Dropped, JAppend, JLeader, JLeaderReply, JRead, JReadReply, JReply, NotLeader, SnapshotImage

if TYPE_CHECKING:
    from .world import World

READ_BATCH = 32  # entries per stream read
RESTART_AFTER_FENCE_MS = (50, 500)  # ms before a fenced node is running again (inclusive range)


@dataclass
class _Op:
    """The one journal write a data node has in flight."""

    cmd: AppendCommand | TrimCommand
    first_sent: int  # ms: the lease of an append counts from here
    last_sent: int
    req_ids: set[int] = field(default_factory=set)
    resolving: int | None = None  # req id of the read that decides an unclear outcome


class DataNode:
    # The leadership machine's class: the planted-bug tests put a faulty one here.
    machine_class: type[lead.ShardLeadership] = lead.ShardLeadership
    # The durability buffer's class: the planted-bug tests put a faulty one here too.
    buffer_class: type[DurabilityBuffer] = DurabilityBuffer

    def __init__(self, world: World, name: str, shard: str, az: str, snapshotter: bool = False,
                 prefer_primary: bool = False) -> None:
        self.world = world
        self.name = name
        self.shard = shard
        self.az = az
        self.snapshotter = snapshotter
        self.prefer_primary = prefer_primary
        self.alive = False
        self.incarnation = 0
        self.seq = 0  # data writes ever issued (survives restarts: payloads stay unique)
        self.start()

    def start(self) -> None:
        w = self.world
        self.incarnation += 1
        self.alive = True
        self.machine: lead.ShardLeadership | None = None
        if not self.snapshotter:
            cfg = w.config
            config = lead.LeadershipConfig(
                self.name, cfg.lease_ms, cfg.renew_every_ms, cfg.campaign_after(), cfg.first_campaign_after_ms,
                self.prefer_primary)
            self.machine = self.machine_class(config, random.Random(w.rng.getrandbits(64)), w.now)
        self.known_tail = 0  # id of the last stream entry applied to `dataset`
        self.dataset: list[bytes] = []  # the node's "keyspace": data payloads in order
        self.crc = 0  # running crc32 over `dataset`
        self.since_checksum = 0
        self.checksums = 0
        self.op: _Op | None = None
        self.held: dict[int, bytes] = {}  # entry id -> data payload whose reply waits for the machine
        self.buffer = self.buffer_class(BufferConfig(w.config.durability, w.config.buffer_limit_ms))
        self.unsent: deque[tuple[int, bytes]] = deque()  # async: (seq, payload) released, not yet committed
        self.sync_seq: dict[bytes, int] = {}  # sync: payload -> its buffer seq, until committed
        self.read_req: int | None = None
        self.read_sent = 0
        self.ask_req: int | None = None  # the JLEADER/JTAIL question at start
        self.ask_sent = 0
        self.asked = self.snapshotter
        self.target = w.rng.choice(w.config.replicas)
        self._schedule_poll()

    def crash(self) -> None:
        self.alive = False
        self.incarnation += 1
        self.world.log(f"{self.name} CRASHED")

    @property
    def role(self) -> str:
        return self.machine.role.value if self.machine is not None else "replica"

    def holds_lease(self) -> bool:
        """Serves under what it believes is a valid lease (what the invariant checks)."""
        return self.alive and self.machine is not None and self.machine.serving

    # -- the machine -------------------------------------------------------------------

    def step(self, event: lead.Event) -> None:
        assert self.machine is not None
        for action in self.machine.step(event, self.world.now):
            self._do(action)

    def _do(self, action: lead.Action) -> None:
        w = self.world
        if isinstance(action, lead.AppendLeader):
            if self.op is not None or w.quiesced:
                self.step(lead.ClaimLost("no new journal writes now", definite=True))
                return
            w.log(f"{self.name} campaigns for shard {self.shard} after id {action.after}")
            self._start_op(AppendCommand(self.shard, action.after, EntryKind.LEADER,
                                         encode_leader(action.node, action.claim)))
        elif isinstance(action, lead.AppendLease):
            if self.op is None and not w.quiesced:
                self._issue(EntryKind.LEASE, encode_lease(action.node, int(action.lease_ms)))
                self.step(lead.AppendSent("lease"))
        elif isinstance(action, lead.BecomePrimary):
            self.known_tail = action.entry_id
            w.log(f"{self.name} is primary of shard {self.shard} (leader entry {action.entry_id})")
            w.checker.on_primary(self)
        elif isinstance(action, lead.Acknowledge):
            payload = self.held.pop(action.entry_id, None)
            if payload is not None:
                w.checker.on_ack(self, action.entry_id, payload)
        elif isinstance(action, lead.StopServing):
            w.log(f"{self.name} stops serving shard {self.shard}: its lease ended")
        elif isinstance(action, lead.ResumeServing):
            w.log(f"{self.name} serves shard {self.shard} again: lease renewed")
        elif isinstance(action, lead.Fence):
            w.log(f"{self.name} is FENCED ({action.reason}): fails its pending replies and exits")
            self.crash()
            inc = self.incarnation
            w.after(w.rng.randint(*RESTART_AFTER_FENCE_MS), lambda: self.start() if inc == self.incarnation else None)

    # -- the wake-up loop --------------------------------------------------------------

    def _schedule_poll(self) -> None:
        poll = self.world.config.poll_ms
        inc = self.incarnation
        self.world.after(poll + self.world.rng.randint(0, poll // 2), lambda: self._poll(inc))

    def _poll(self, inc: int) -> None:
        if inc != self.incarnation:
            return
        self.work()
        if inc == self.incarnation:
            self._schedule_poll()

    def work(self) -> None:
        w, now = self.world, self.world.now
        if self.op is not None and now - self.op.last_sent >= w.config.request_timeout_ms:
            self._retry(rotate=True)
        if not self.asked and (self.ask_req is None or now - self.ask_sent >= w.config.request_timeout_ms):
            self._ask()
        if self.machine is not None:
            inc = self.incarnation
            self.step(lead.Tick())
            if inc != self.incarnation:
                return  # fenced: the process exited
        if self.op is not None:
            if self.role == "primary" and w.config.durability == "async":
                self._accept_while_appending()
            return
        if self.role == "primary":
            self._primary_work()
        elif self.read_req is None or now - self.read_sent >= w.config.request_timeout_ms:
            self._read()

    def _primary_work(self) -> None:
        w = self.world
        if self.unsent and (w.quiesced or self.machine is None or not self.machine.serving):
            self._append_unsent()  # the background appender persists what was acknowledged
            return
        if w.quiesced or self.machine is None or not self.machine.serving:
            return
        if self.since_checksum >= w.config.checksum_every:
            self._issue(EntryKind.CHECKSUM, self.crc.to_bytes(4, "big"))
        elif self.unsent:
            self._append_unsent()
        elif w.rng.random() < w.config.write_probability:
            self._client_write()

    def _accept_while_appending(self) -> None:
        """async: clients write on while an append is in flight (they do not wait for it)."""
        w = self.world
        if not w.quiesced and self.machine is not None and self.machine.serving:
            if w.rng.random() < w.config.write_probability:
                self._client_write()

    def _client_write(self) -> None:
        w = self.world
        if not self.buffer.admits(w.now):
            return  # refused: the async buffer is over its limit
        self.seq += 1
        payload = f"{self.shard}/{self.name}#{self.seq}".encode()
        accepted = self.buffer.accept(w.now, len(payload))
        if accepted.release_now:
            self.dataset.append(payload)  # the running checksum covers committed entries only: at commit
            self.unsent.append((accepted.seq, payload))
            w.checker.on_released(self, payload)
            if self.op is None:
                self._append_unsent()
            return
        self.sync_seq[payload] = accepted.seq
        self._issue(EntryKind.DATA, payload)
        self.step(lead.AppendSent("data"))

    def _append_unsent(self) -> None:
        self._issue(EntryKind.DATA, self.unsent[0][1])
        self.step(lead.AppendSent("data"))

    def campaign(self) -> None:
        """Claim leadership now (a planned failover; scenario files use it)."""
        if self.machine is not None:
            self.step(lead.CampaignNow())

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
        op = self.op
        assert op is not None and isinstance(op.cmd, AppendCommand)
        self.op = None
        kind, data = op.cmd.kind, op.cmd.data
        if kind is EntryKind.LEADER:
            self.step(lead.ClaimWon(entry_id))
            return
        self.known_tail = entry_id
        if kind is EntryKind.DATA and self.unsent and self.unsent[0][1] == data:
            self.buffer.persisted(self.unsent.popleft()[0])  # async: already applied and acknowledged
            self.crc = zlib.crc32(data, self.crc)
            self.since_checksum += 1
        elif kind is EntryKind.DATA:
            self._apply_data(data)
            self.since_checksum += 1
            self.held[entry_id] = data
            self.buffer.persisted(self.sync_seq.pop(data, 0))
        elif kind is EntryKind.CHECKSUM:
            self.since_checksum = 0
        if self.machine is not None:
            self.step(lead.Committed(entry_id, op.first_sent))
        self.held.pop(entry_id, None)

    def _failed(self, why: str) -> None:
        op = self.op
        assert op is not None
        self.op = None
        if self.machine is None or not isinstance(op.cmd, AppendCommand):
            return
        if op.cmd.kind is EntryKind.LEADER:
            self.world.log(f"{self.name} lost the race for shard {self.shard}: {why}")
            self.step(lead.ClaimLost(why))
            return
        if op.cmd.kind is EntryKind.DATA:
            self.held[op.cmd.after_id + 1] = op.cmd.data  # what a faulty machine might release
        self.step(lead.Refused(why, op.cmd.after_id + 1))
        self.held.pop(op.cmd.after_id + 1, None)

    # -- reading the stream -------------------------------------------------------------------

    def _ask(self) -> None:
        w = self.world
        self.ask_req = w.next_req()
        self.ask_sent = w.now
        w.net.send(self.name, w.rng.choice(w.config.replicas), JLeader(self.ask_req, self.shard))

    def _read(self) -> None:
        w = self.world
        self.read_req = w.next_req()
        self.read_sent = w.now
        target = w.rng.choice(w.config.replicas)
        w.net.send(self.name, target, JRead(self.read_req, self.shard, self.known_tail, READ_BATCH))

    def receive(self, src: str, message: object) -> None:
        if isinstance(message, JReply):
            self._on_reply(message)
        elif isinstance(message, JLeaderReply):
            if message.req_id == self.ask_req and not self.asked:
                self.asked = True
                if self.machine is not None:
                    self.step(lead.TailSeen(message.tail))
                    self.step(lead.LeaderAsked(message.leader))
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
            w.log(f"{self.name} restored snapshot {snapshot_id}")
            if self.machine is not None:
                self.step(lead.Restored(image.upto_id))
                self.step(lead.TailSeen(reply.tail))  # durable.py asks JTAIL after a reload
            return
        inc = self.incarnation
        for e in reply.entries:
            if e.id != self.known_tail + 1 or inc != self.incarnation or self.role != "replica":
                break
            self._apply_entry(e)
        if not reply.entries and self.machine is not None:
            self.step(lead.CaughtUp())

    def _apply_entry(self, e: StreamEntry) -> None:
        self.known_tail = e.id
        if e.kind is EntryKind.DATA:
            self._apply_data(e.data)
        elif e.kind is EntryKind.CHECKSUM and self.snapshotter:
            self._verify_and_snapshot(e)
        if self.machine is not None:
            node, claim = json.loads(e.data) if e.kind is EntryKind.LEADER else (None, "")
            self.step(lead.EntryApplied(e.id, e.kind.value, node, claim))

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

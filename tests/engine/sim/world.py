"""The simulated world: virtual clock, network, disks, and the journal replica runtime.

Invariants of the simulation itself (not of the system under test):

* Everything random comes from ``World.rng`` (seeded); events at the same virtual
  time run in the order they were scheduled. So a seed replays exactly.
* The network and disks are in faults.py.
* ``JournalReplica`` is the runtime around the real ``RaftNode`` and
  ``JournalState``: it honours the Raft runtime contract (a Send leaves only after
  every earlier Persist is fsynced, ``persisted`` is reported after the fsync) with
  group commit, and restarts from the disk image through ``records.scan``. A
  corrupt image (``CorruptLogError``) is handled as journal_server does: kept aside,
  replaced by a log holding only ``HardState(recovering=True)``, and the node starts
  recovering from its peers.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, Union

from sandbox.engine.journal_state import (
    AppendCommand,
    JournalState,
    Result,
    StreamEntry,
    TrimCommand,
    TrimmedError,
    encode_command,
)
from sandbox.engine.raft import (
    Action,
    AppendRequest,
    Apply,
    Entry,
    HardState,
    NotLeaderError,
    Persist,
    PersistentState,
    Proposed,
    RaftConfig,
    RaftNode,
    Recovered,
    RestoreSnapshot,
    Role,
    RoleChanged,
    Send,
)
from sandbox.engine.raft_messages import decode_message, encode_message, persist_records
from sandbox.engine.records import CorruptLogError, encode_header, encode_record, scan

from .faults import Network, SimDisk
from .invariants import Invariants

if TYPE_CHECKING:
    from .datanodes import DataNode


@dataclass(frozen=True)
class SimConfig:
    replicas: tuple[str, ...] = ("az-a", "az-b", "az-c")  # journal replica names, one per AZ
    raft: RaftConfig = RaftConfig(
        election_timeout_min_ms=150, election_timeout_max_ms=300, heartbeat_interval_ms=40, max_append_entries=16
    )
    net_delay_ms: tuple[int, int] = (1, 8)  # ms, one-way delivery delay range (inclusive)
    fsync_ms: tuple[int, int] = (1, 6)  # ms, how long an fsync takes (inclusive range)
    compact_threshold: int = 48  # entries, 1..: applied entries beyond the snapshot before compacting
    lease_ms: int = 500  # ms, > 0: how long a primary's lease lasts after it sent the renewal
    renew_every_ms: int = 120  # ms, <= lease_ms / 2: how often an idle primary renews
    campaign_after_ms: int = 0  # ms, > lease_ms: silence before a replica campaigns; 0 = 1.5 x lease_ms
    first_campaign_after_ms: int = 300  # ms: silence before a replica claims a shard that never had a leader
    poll_ms: int = 30  # ms, how often a data node wakes up (reads, timeouts, writes)
    request_timeout_ms: int = 200  # ms, a journal request with no reply is retried after this
    write_probability: float = 0.4  # 0..1, chance an idle primary issues a client write per wake-up
    checksum_every: int = 6  # data writes between checksum markers, >= 1
    trim_every: int = 2  # checksum markers between snapshot+trim, >= 1
    torn_probability: float = 0.5  # 0..1, chance a crash leaves a torn (partial) unsynced write
    trace_lines: int = 400  # lines of event trace kept for a failure report
    durability: str = "sync"  # data primaries: "sync" or "async" (sandbox.engine.durability_buffer)
    buffer_limit_ms: int = 250  # ms, async: buffer age over which a primary accepts no write (< lease_ms, so
    # a partitioned primary reaches the limit before its lease lapses)

    def campaign_after(self) -> int:
        """durable's default too (``--campaign-after-ms``): one and a half leases."""
        return self.campaign_after_ms or self.lease_ms * 3 // 2


# -- the client protocol between data nodes and journal replicas --------------------------


@dataclass(frozen=True)
class JAppend:
    req_id: int
    cmd: AppendCommand | TrimCommand


@dataclass(frozen=True)
class JRead:
    req_id: int
    shard: str
    after_id: int
    limit: int


@dataclass(frozen=True)
class JLeader:
    """Who leads the shard and where its tail is (durable.py's JLEADER and JTAIL)."""

    req_id: int
    shard: str


@dataclass(frozen=True)
class JLeaderReply:
    req_id: int
    leader: str | None
    tail: int


@dataclass(frozen=True)
class NotLeader:
    leader: str | None


@dataclass(frozen=True)
class Dropped:
    """The proposal's log slot holds another entry: it definitely did not happen."""


@dataclass(frozen=True)
class JReply:
    req_id: int
    result: Union[Result, NotLeader, Dropped]


@dataclass(frozen=True)
class JReadReply:
    req_id: int
    entries: tuple[StreamEntry, ...]
    trimmed: tuple[int, str] | None  # set instead of entries when the range was trimmed
    tail: int = 0  # the stream's tail on the replica that answered


@dataclass(frozen=True)
class RaftBytes:
    data: bytes  # an encoded Raft message, as a TCP transport would carry it


@dataclass(frozen=True)
class SnapshotImage:
    """A verified data snapshot in the simulated object store ("S3")."""

    shard: str
    snapshot_id: str
    upto_id: int
    dataset: tuple[bytes, ...]
    crc: int


class Endpoint(Protocol):
    alive: bool

    def receive(self, src: str, message: object) -> None: ...


# -- the world ---------------------------------------------------------------------------


class World:
    def __init__(self, seed: int, config: SimConfig = SimConfig(), verbose: bool = False) -> None:
        self.seed = seed
        self.config = config
        self.rng = random.Random(seed)
        self.verbose = verbose
        self.now = 0
        self._events: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = 0
        self._req = 0
        self.trace: deque[str] = deque(maxlen=config.trace_lines)
        self.net = Network(self)
        self.endpoints: dict[str, Endpoint] = {}
        self.replicas: dict[str, JournalReplica] = {}
        self.datanodes: dict[str, DataNode] = {}
        self.shard_nodes: dict[str, list[DataNode]] = {}
        self.snapshots: dict[tuple[str, str], SnapshotImage] = {}
        self.quiesced = False  # data nodes stop issuing new journal writes
        self.leader_sends_early = False  # leaders replicate before their own fsync (Raft §10.2.1)
        self.checker = Invariants(self)
        for name in config.replicas:
            self.replicas[name] = self.endpoints[name] = JournalReplica(self, name)  # type: ignore[assignment]

    def log(self, text: str) -> None:
        line = f"{self.now:>7}ms {text}"
        self.trace.append(line)
        if self.verbose:
            print(line)

    def next_req(self) -> int:
        self._req += 1
        return self._req

    def at(self, time: int, fn: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._events, (time, self._seq, fn))

    def after(self, delay: int, fn: Callable[[], None]) -> None:
        self.at(self.now + delay, fn)

    def run_until(self, time: int) -> None:
        events = self._events
        while events and events[0][0] <= time:
            when, _, fn = heapq.heappop(events)
            self.now = when
            fn()
            self.checker.after_step()
        self.now = max(self.now, time)

    def run_for(self, ms: int) -> None:
        self.run_until(self.now + ms)

    def add_datanode(self, node: DataNode) -> None:
        self.datanodes[node.name] = node
        self.endpoints[node.name] = node
        self.shard_nodes.setdefault(node.shard, []).append(node)

    def leaders(self) -> list[JournalReplica]:
        return [r for r in self.replicas.values() if r.alive and r.node.role is Role.LEADER]


# -- a journal replica: the runtime around RaftNode + JournalState -------------------------------


class JournalReplica:
    def __init__(self, world: World, name: str) -> None:
        self.world = world
        self.name = name
        self.az = name
        self.disk = SimDisk()
        self.alive = False
        self.incarnation = 0
        self.fsync_ms = world.config.fsync_ms
        self.torn_recoveries = 0
        self.corrupt_starts = 0  # starts that found the log corrupt and began recovering
        self.quarantined: list[bytes] = []  # corrupt images set aside (journal_server keeps the file)
        self.crash_on_write: int | None = None  # fault: crash after the next write, restart N ms later
        self.start()

    @property
    def lost_state(self) -> bool:
        """Its log was corrupted and it has not recovered yet (running or not)."""
        return self.node.recovering or self._corrupt_pending

    def corrupt(self) -> str | None:
        """Fault: damage a record in the middle of this (down) replica's fsynced log."""
        assert not self.alive
        note = self.disk.corrupt_middle(self.world.rng)
        if note is not None:
            self._corrupt_pending = True
            self.world.log(f"{self.name} DISK CORRUPTED while down: {note}")
        return note

    def start(self) -> None:
        w = self.world
        self.incarnation += 1
        self.alive = True
        self._corrupt_pending = False
        try:
            result = scan(self.disk.synced, path=f"sim://{self.name}")
        except CorruptLogError as exc:
            self.corrupt_starts += 1
            w.checker.stats["corrupt_logs"] += 1
            self.quarantined.append(self.disk.synced)
            w.log(f"{self.name} found its log corrupt ({exc}): set aside, recovering from its peers")
            records = persist_records(Persist(hard_state=HardState(recovering=True)))
            self.disk.synced = encode_header() + b"".join(encode_record(r) for r in records)
            result = scan(self.disk.synced)
        if result.torn is not None and not result.fresh:
            self.torn_recoveries += 1
            w.log(f"{self.name} recovery truncated a torn tail: {result.torn}")
        self.disk.synced = encode_header() if result.fresh else self.disk.synced[: result.valid_end]
        self.mirror = PersistentState.from_records(result.records)
        self.node = RaftNode(self.name, list(w.config.replicas), w.config.raft, random.Random(w.rng.getrandbits(64)), self.mirror)
        snap = self.mirror.snapshot
        self.state = JournalState.restore(snap.data) if snap else JournalState()
        self.write_gen = self.synced_gen = 0
        self.fsync_busy = False
        self.outbox: deque[tuple[int, Send]] = deque()
        self.pending: dict[int, tuple[int, str, int]] = {}  # raft index -> (term, client, req id)
        self.tick_at: int | None = None
        w.checker.on_start(self)
        recovering = " RECOVERING" if self.node.recovering else ""
        w.log(f"{self.name} started{recovering} (term {self.node.term}, log {self.node.log.base_index}..{self.node.log.last_index})")
        self._schedule_tick()

    def crash(self, force_torn: bool = False) -> None:
        w = self.world
        self.alive = False
        self.incarnation += 1
        note = self.disk.crash(w.rng, w.config.torn_probability, force_torn)
        w.log(f"{self.name} CRASHED ({note})")

    def _crash_mid_write(self, restart_after: int) -> Callable[[], None]:
        inc = self.incarnation

        def crash() -> None:  # runs right after the write, before its fsync can finish
            if inc == self.incarnation:
                self.crash(force_torn=self.world.rng.random() < 0.7)
                self.world.after(restart_after, lambda: None if self.alive else self.start())

        return crash

    # -- the runtime loop --------------------------------------------------------------

    def _schedule_tick(self) -> None:
        due = max(self.node.next_tick_due(), self.world.now + 1) + self.world.rng.randint(0, 2)
        if self.tick_at is None or due < self.tick_at:
            self.tick_at = due
            inc = self.incarnation
            self.world.at(due, lambda: self._on_tick(inc, due))

    def _on_tick(self, inc: int, due: int) -> None:
        if inc != self.incarnation or due != self.tick_at:
            return
        self.tick_at = None
        self.handle(self.node.tick(self.world.now))

    def handle(self, actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, Send):
                self.world.checker.on_send(self, a.message)
                early = self.world.leader_sends_early and isinstance(a.message, AppendRequest)
                if self.write_gen > self.synced_gen and not early:
                    self.outbox.append((self.write_gen, a))  # not before the fsync
                else:
                    self._transmit(a)
            elif isinstance(a, Persist):
                self.mirror.apply(a)
                if a.snapshot is not None:
                    self.disk.rewrite(self.mirror.to_records())
                else:
                    self.disk.append(persist_records(a))
                self.write_gen += 1
                if self.crash_on_write is not None:
                    self.world.after(0, self._crash_mid_write(self.crash_on_write))
                    self.crash_on_write = None
            elif isinstance(a, Apply):
                self._apply(a.entries)
            elif isinstance(a, RestoreSnapshot):
                self.state = JournalState.restore(a.snapshot.data)
                self.world.checker.on_restore(self, a.snapshot)
                self.world.checker.stats["installs"] += 1
                for index in [i for i in self.pending if i <= a.snapshot.index]:
                    del self.pending[index]  # outcome unknown here; the client will time out
            elif isinstance(a, RoleChanged):
                self.world.log(f"{self.name} is {a.role.value} in term {a.term} (leader {a.leader})")
                self.world.checker.on_role(self, a)
            elif isinstance(a, Recovered):
                self.world.log(f"{self.name} RECOVERED its log: commit {a.index}, term {a.term}; votes again")
                self.world.checker.on_recovered(self, a)
        if self.node.applied - self.node.log.base_index >= self.world.config.compact_threshold:
            self.world.checker.stats["compactions"] += 1
            self.handle(self.node.compact(self.node.applied, self.state.snapshot()))
        self._maybe_fsync()
        self._schedule_tick()

    def _transmit(self, send: Send) -> None:
        self.world.net.send(self.name, send.to, RaftBytes(encode_message(send.message)))

    def _maybe_fsync(self) -> None:
        if self.write_gen <= self.synced_gen or self.fsync_busy:
            return
        self.fsync_busy = True  # group commit: this fsync covers every write so far
        gen, mark = self.write_gen, self.disk.mark()
        index, term, inc = self.mirror.last_index, self.mirror.last_term, self.incarnation
        self.world.after(self.world.rng.randint(*self.fsync_ms), lambda: self._fsync_done(inc, gen, mark, index, term))

    def _fsync_done(self, inc: int, gen: int, mark: int, index: int, term: int) -> None:
        if inc != self.incarnation:
            return
        self.disk.sync(mark)
        self.synced_gen = gen
        self.fsync_busy = False
        while self.outbox and self.outbox[0][0] <= gen:
            self._transmit(self.outbox.popleft()[1])
        self.handle(self.node.persisted(index, term))

    def _apply(self, entries: tuple[Entry, ...]) -> None:
        for e in entries:
            self.world.checker.on_apply(self, e)
            result = None if e.noop else self.state.apply(e.payload)
            waiting = self.pending.pop(e.index, None)
            if waiting is not None:
                term, client, req_id = waiting
                reply: Result | Dropped = result if (e.term == term and result is not None) else Dropped()
                self.world.net.send(self.name, client, JReply(req_id, reply))

    # -- messages from peers and clients ----------------------------------------------------

    def receive(self, src: str, message: object) -> None:
        now = self.world.now
        if isinstance(message, RaftBytes):
            self.handle(self.node.step(decode_message(message.data), now))
        elif isinstance(message, JAppend):
            self.propose(encode_command(message.cmd), src, message.req_id)
        elif isinstance(message, JRead):
            tail = self.state.tail(message.shard)
            try:
                entries = tuple(self.state.read(message.shard, message.after_id, message.limit))
                reply = JReadReply(message.req_id, entries, None, tail)
            except TrimmedError as exc:
                reply = JReadReply(message.req_id, (), (exc.upto_id, exc.snapshot_id), tail)
            self.world.net.send(self.name, src, reply)
        elif isinstance(message, JLeader):
            lead = self.state.leader(message.shard)
            answer = JLeaderReply(message.req_id, lead.node if lead else None, self.state.tail(message.shard))
            self.world.net.send(self.name, src, answer)

    def propose(self, payload: bytes, client: str, req_id: int) -> None:
        try:
            actions = self.node.propose(payload, self.world.now)
        except NotLeaderError as exc:
            self.world.net.send(self.name, client, JReply(req_id, NotLeader(exc.leader)))
            return
        for a in actions:
            if isinstance(a, Proposed):
                self.pending[a.index] = (a.term, client, req_id)
        self.handle(actions)

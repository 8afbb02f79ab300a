"""Safety and convergence checks for the simulated journal.

Checked as events happen (so a violation is caught at the step that caused it):

* at most one Raft leader per term;
* leader completeness: a new leader's log (or its snapshot) holds every entry any
  replica has applied -- the property a replica that lost its log and voted anyway
  would break;
* a replica recovering a lost log never grants a vote or pre-vote, and when it
  finishes, its log holds every entry that had been applied anywhere when it
  (re)started recovering;
* state machine safety: every replica applies index i with the same (term, payload),
  in index order, each exactly once per incarnation -- committed prefixes never
  diverge;
* at most one data primary per shard holds a valid lease at any virtual instant;
* no two different writes were acknowledged with the same (shard, id).

Checked at the end, after healing everything and letting the cluster settle:

* replicas converge: one leader, none still recovering a lost log, same commit and
  applied index, byte-identical journal state, identical Raft logs;
* every acknowledged append is in every replica's history (trimmed prefix restored
  from its snapshot) exactly once, at its acknowledged id;
* every live data node's dataset is a prefix of the shard's committed history;
* writes released before their commit (``async`` durability): none in ``sync``; in
  ``async`` the ones missing from the history are, per incarnation of the node that
  released them, a suffix of what it released (everything before them committed, so
  none the journal committed is lost), released by an incarnation that then crashed
  or was fenced, and all within ``buffer_limit_ms`` of the first of them (the buffer
  admits no write once its oldest is older than that). None appears twice.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from sandbox.engine.journal_state import EntryKind
from sandbox.engine.raft import Entry, Message, Recovered, Role, RoleChanged, Snapshot, VoteResponse

if TYPE_CHECKING:
    from .datanodes import DataNode
    from .world import JournalReplica, World


class SimFailure(AssertionError):
    """An invariant was violated; the message names the seed and how to replay it."""


class Invariants:
    def __init__(self, world: World) -> None:
        self.world = world
        self.leaders: dict[int, str] = {}  # term -> the replica that led it
        self.committed: dict[int, tuple[int, bytes]] = {}  # raft index -> (term, payload)
        self.applied: dict[str, int] = {}  # replica -> last index applied this incarnation
        self.acked: dict[tuple[str, int], bytes] = {}  # (shard, id) -> payload acknowledged
        self.primaries: dict[str, list[tuple[int, str]]] = {}  # shard -> (time, node) history
        self.recovery_floor: dict[str, int] = {}  # recovering replica -> highest index applied when it started
        self.stats: Counter[str] = Counter()
        # Writes released before their commit, in order: (node, incarnation, payload, virtual ms).
        self.released: list[tuple[str, int, bytes, int]] = []

    def fail(self, reason: str) -> None:
        raise SimFailure(reason)

    # -- raft ------------------------------------------------------------------------

    def on_role(self, replica: JournalReplica, change: RoleChanged) -> None:
        if change.role is Role.LEADER:
            self.stats["elections"] += 1
            first = self.leaders.setdefault(change.term, replica.name)
            if first != replica.name:
                self.fail(f"two leaders in term {change.term}: {first} and {replica.name}")
            log = replica.node.log
            for index, (term, _) in self.committed.items():
                if index > log.base_index and log.term_at(index) != term:
                    self.fail(
                        f"{replica.name} leads term {change.term} without committed entry {index}/{term} "
                        f"(its log: {log.base_index}..{log.last_index}, term there {log.term_at(index)})"
                    )

    def on_send(self, replica: JournalReplica, message: Message) -> None:
        if isinstance(message, VoteResponse) and message.granted and replica.node.recovering:
            kind = "pre-vote" if message.pre_vote else "vote"
            self.fail(f"{replica.name} is recovering a lost log but granted a {kind} in term {message.term}")

    def on_recovered(self, replica: JournalReplica, done: Recovered) -> None:
        self.stats["recoveries"] += 1
        log, floor = replica.node.log, self.recovery_floor.pop(replica.name, 0)
        if done.index < floor:
            self.fail(f"{replica.name} finished recovering at commit {done.index}, before entry {floor} applied elsewhere")
        for index, (term, _) in self.committed.items():
            if log.base_index < index <= floor and log.term_at(index) != term:
                self.fail(f"{replica.name} finished recovering without committed entry {index}/{term}")

    def on_start(self, replica: JournalReplica) -> None:
        self.applied[replica.name] = replica.node.applied
        if replica.node.recovering:
            self.recovery_floor[replica.name] = max(self.committed, default=0)
        snap = replica.node.log.snapshot
        if snap is not None:
            self._check_snapshot(replica, snap)

    def on_restore(self, replica: JournalReplica, snap: Snapshot) -> None:
        self._check_snapshot(replica, snap)
        self.applied[replica.name] = snap.index

    def _check_snapshot(self, replica: JournalReplica, snap: Snapshot) -> None:
        known = self.committed.get(snap.index)
        if known is None or known[0] != snap.term:
            self.fail(f"{replica.name} has a snapshot at {snap.index}/{snap.term} that does not match the committed log")

    def on_apply(self, replica: JournalReplica, entry: Entry) -> None:
        expected = self.applied[replica.name] + 1
        if entry.index != expected:
            self.fail(f"{replica.name} applied index {entry.index}, expected {expected}")
        self.applied[replica.name] = entry.index
        seen = self.committed.setdefault(entry.index, (entry.term, entry.payload))
        if seen != (entry.term, entry.payload):
            self.fail(f"{replica.name} applied {entry.index}/{entry.term} but {entry.index}/{seen[0]} was applied elsewhere")
        self.stats["applied"] += 1

    # -- data nodes --------------------------------------------------------------------

    def on_ack(self, node: DataNode, entry_id: int, payload: bytes) -> None:
        key = (node.shard, entry_id)
        first = self.acked.setdefault(key, payload)
        if first != payload:
            self.fail(f"shard {node.shard} id {entry_id} acknowledged twice: {first!r} and {payload!r}")
        self.stats["acked"] += 1

    def on_released(self, node: DataNode, payload: bytes) -> None:
        self.released.append((node.name, node.incarnation, payload, self.world.now))
        self.stats["acked"] += 1

    def on_primary(self, node: DataNode) -> None:
        self.primaries.setdefault(node.shard, []).append((self.world.now, node.name))
        self.stats["failovers"] += 1

    def after_step(self) -> None:
        for shard, nodes in self.world.shard_nodes.items():
            if sum([n.holds_lease() for n in nodes]) > 1:
                holders = [n.name for n in nodes if n.holds_lease()]
                self.fail(f"shard {shard}: {holders} all hold a valid lease at {self.world.now}ms")

    # -- the end state ---------------------------------------------------------------------

    def converged(self) -> str | None:
        """Why the cluster has not settled yet, or None once it has."""
        w = self.world
        dead = [r.name for r in w.replicas.values() if not r.alive]
        if dead:
            return f"replicas down: {dead}"
        leaders = w.leaders()
        if len(leaders) != 1:
            return f"{len(leaders)} leaders"
        recovering = [r.name for r in w.replicas.values() if r.node.recovering]
        if recovering:
            return f"replicas still recovering a lost log: {recovering}"
        top = leaders[0].node
        if top.commit != top.log.last_index:
            return f"leader commit {top.commit} < last {top.log.last_index}"
        lagging = [r.name for r in w.replicas.values() if r.node.applied != top.log.last_index]
        if lagging:
            return f"replicas not caught up: {lagging}"
        busy = [n.name for n in w.datanodes.values() if n.alive and (n.op is not None or n.unsent)]
        if busy:
            return f"data nodes with unresolved journal requests: {busy}"
        return None

    def final(self) -> None:
        w = self.world
        why = self.converged()
        if why is not None:
            self.fail(f"did not converge after healing: {why}")
        replicas = list(w.replicas.values())
        images = {r.state.snapshot() for r in replicas}
        if len(images) != 1:
            self.fail("journal states differ between replicas")
        base = max(r.node.log.base_index for r in replicas)
        logs = {tuple(r.node.log.entries_from(base + 1)) for r in replicas}
        if len(logs) != 1:
            self.fail("raft logs differ between replicas")
        for r in replicas:
            for shard in set(r.state.shards()) | {s for s, _ in self.acked}:
                self._check_history(r, shard)
        self._check_released(replicas[0])

    def _check_released(self, replica: JournalReplica) -> None:
        w = self.world
        durability, limit = w.config.durability, w.config.buffer_limit_ms
        kept: Counter[bytes] = Counter()
        for shard in {w.datanodes[name].shard for name, _i, _p, _t in self.released}:
            kept.update(self.history(replica, shard)[0])
        runs: dict[tuple[str, int], list[tuple[bytes, int]]] = {}
        for name, inc, payload, at in self.released:
            runs.setdefault((name, inc), []).append((payload, at))
        for (name, inc), run in runs.items():
            node = w.datanodes[name]
            twice = [p for p, _ in run if kept[p] > 1]
            if twice:
                self.fail(f"{name}: released writes committed twice: {twice[:3]}")
            lost = [i for i, (p, _) in enumerate(run) if kept[p] == 0]
            if not lost:
                continue
            self.stats["async_lost"] += len(lost)
            first, last = run[lost[0]], run[lost[-1]]
            if durability != "async":
                self.fail(f"{name}: {len(lost)} writes released before their commit were lost ({durability}): "
                          f"{first[0]!r}...")
            if node.alive and node.incarnation == inc:
                self.fail(f"{name}: released {first[0]!r} and lost it without crashing")
            if lost != list(range(lost[0], len(run))):
                kept_after = next(run[i][0] for i in range(lost[0], len(run)) if i not in lost)
                self.fail(f"{name}: lost {first[0]!r} but the journal committed the later {kept_after!r}")
            if last[1] - first[1] > limit:
                self.fail(f"{name}: lost writes released over {last[1] - first[1]} ms "
                          f"({first[0]!r} at {first[1]}, {last[0]!r} at {last[1]}), over the {limit} ms buffer")

    def history(self, replica: JournalReplica, shard: str) -> tuple[list[bytes], dict[int, bytes]]:
        """(every data payload in order, {id: payload} of entries still in the stream)."""
        upto, snapshot_id = replica.state.trimmed(shard)
        payloads: list[bytes] = []
        if upto:
            image = self.world.snapshots.get((shard, snapshot_id))
            if image is None or image.upto_id != upto:
                self.fail(f"{replica.name}: shard {shard} trimmed to {upto} by unknown snapshot {snapshot_id!r}")
            payloads.extend(image.dataset)  # type: ignore[union-attr]
        live: dict[int, bytes] = {}
        for e in replica.state.read(shard, upto, 1 << 30):
            if e.kind is EntryKind.DATA:
                payloads.append(e.data)
                live[e.id] = e.data
        return payloads, live

    def _check_history(self, replica: JournalReplica, shard: str) -> None:
        payloads, live = self.history(replica, shard)
        counts = Counter(payloads)
        upto, _ = replica.state.trimmed(shard)
        for (s, entry_id), payload in self.acked.items():
            if s != shard:
                continue
            if counts[payload] != 1:
                self.fail(f"{replica.name}: acknowledged {payload!r} (shard {shard} id {entry_id}) present {counts[payload]} times")
            if entry_id > upto and live.get(entry_id) != payload:
                self.fail(f"{replica.name}: shard {shard} id {entry_id} is {live.get(entry_id)!r}, acknowledged {payload!r}")
        for node in self.world.shard_nodes.get(shard, []):
            if node.alive and node.dataset != payloads[: len(node.dataset)]:
                self.fail(f"data node {node.name}'s dataset is not a prefix of shard {shard}'s history")

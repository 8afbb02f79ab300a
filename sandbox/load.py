"""The write load and its ledger: the same stream of writes to every cluster, every
acknowledged write recorded, then checked one by one after a crash.

A write is *acknowledged* when the cluster answered it without an error; only then
does it enter the ledger. After a failover ``verify`` reads every acknowledged write
back from the new primaries: a SET key must hold its value, a ZADD member must be
in the leaderboard, an INCR counter must not have gone back below a value it once
acknowledged, and the entry an XADD was acknowledged with (the ID that cluster
returned) must still be in its stream with its fields. What is missing is *lost* —
in durable mode that must be nothing; in cache mode it is what the replica had not
received yet.

The stream of writes (``write_for(n)``) is a pure function of the write number, so
both clusters get exactly the same writes:

* set  — ``SET load:w:<n> v<n>``: a unique key per write, spread over every slot;
* incr — ``INCR load:ctr:<n mod 8>``: eight counters; the reply is the new value;
* zadd — ``ZADD load:leaderboard <n> p<n>``: one growing sorted set;
* xadd — ``XADD load:events:<n mod 4> * n <n>``: four growing streams. Each cluster
  assigns its own IDs, so each ledger keeps the ID its cluster returned. An entry
  counts as kept only with its own fields: after a failover a new primary may hand
  a lost entry's ID to a later write.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import math
import time
from array import array
from collections import deque
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable

from sandbox.cluster_client import ClusterClient
from sandbox.resp import ErrorReply, LinkDown, Reply

COUNTERS = 8
STREAMS = 4
LEADERBOARD = "load:leaderboard"
WRITE_TIMEOUT_S = 5.0
MAX_IN_FLIGHT = 5000  # per cluster; beyond it a tick skips writes instead of piling up
TICK_S = 0.01
LOST_KEYS_SHOWN = 50
VERIFY_BATCH = 500
OUTAGE_HORIZON_MS = 30_000  # an outage is looked for this long after a crash


@dataclass(frozen=True)
class Write:
    n: int
    kind: str  # set | incr | zadd | xadd
    key: str
    args: tuple[str | int, ...]


def write_for(n: int, kind: str) -> Write:
    if kind == "set":
        key = f"load:w:{n}"
        return Write(n, kind, key, ("SET", key, f"v{n}"))
    if kind == "incr":
        key = f"load:ctr:{n % COUNTERS}"
        return Write(n, kind, key, ("INCR", key))
    if kind == "zadd":
        return Write(n, kind, LEADERBOARD, ("ZADD", LEADERBOARD, n, f"p{n}"))
    if kind == "xadd":
        key = f"load:events:{n % STREAMS}"
        return Write(n, kind, key, ("XADD", key, "*", "n", n))
    raise ValueError(kind)


def _stream_id(entry_id: bytes) -> tuple[int, int]:
    ms, _, seq = entry_id.partition(b"-")
    return int(ms), int(seq or 0)


def schedule(mix: dict[str, int]) -> list[str]:
    """The kinds of 100 consecutive writes, spread evenly (smooth weighted round robin)."""
    total = sum(mix.values())
    current = {kind: 0 for kind in mix}
    order = []
    for _ in range(100):
        for kind, weight in mix.items():
            current[kind] += weight
        best = max(current, key=lambda k: current[k])
        current[best] -= total
        order.append(best)
    return order


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


@dataclass
class Ledger:
    """Every acknowledged write of one cluster, with when it was acknowledged."""

    cluster: str
    sets: list[tuple[int, float]] = field(default_factory=list)  # (n, ack wall ms)
    zadds: list[tuple[int, float]] = field(default_factory=list)
    # stream key -> [(the entry ID this cluster returned, n, ack wall ms)]
    xadds: dict[str, list[tuple[bytes, int, float]]] = field(default_factory=dict)
    # counter key -> [(acknowledged value, ack wall ms)], in acknowledgement order
    counters: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    latencies_ms: array = field(default_factory=lambda: array("d"))
    ack_ms: array = field(default_factory=lambda: array("d"))
    errors: int = 0  # writes not acknowledged, for any reason
    # ... of which the cluster refused with CLUSTERDOWN (no quorum, a lapsed lease, the
    # async lane's full durability buffer): refused, so never lost.
    rejected: int = 0
    rejections: dict[str, int] = field(default_factory=dict)  # the refusal's text -> how many
    last_error: str = ""
    last_acked_n: int = -1
    # shard -> numbers of the writes acknowledged there, in acknowledgement order
    by_shard: dict[int, list[int]] = field(default_factory=dict)

    @property
    def acknowledged(self) -> int:
        return len(self.ack_ms)

    def record(
        self, write: Write, reply: Reply, ack_wall_ms: float, latency_ms: float, shard: int = 0
    ) -> None:
        if write.kind == "set":
            self.sets.append((write.n, ack_wall_ms))
        elif write.kind == "zadd":
            self.zadds.append((write.n, ack_wall_ms))
        elif write.kind == "xadd":
            self.xadds.setdefault(write.key, []).append((reply, write.n, ack_wall_ms))  # type: ignore[arg-type]
        else:
            self.counters.setdefault(write.key, []).append((int(reply), ack_wall_ms))  # type: ignore[arg-type]
        self.latencies_ms.append(latency_ms)
        self.ack_ms.append(ack_wall_ms)
        self.last_acked_n = max(self.last_acked_n, write.n)
        self.by_shard.setdefault(shard, []).append(write.n)

    def acked_after(self, shard: int, n: float) -> int:
        """How many writes acknowledged on ``shard`` have a number above ``n``."""
        numbers = self.by_shard.get(shard, [])
        count = 0
        for number in reversed(numbers):  # recent ones are at the end
            if number <= n:
                break
            count += 1
        return count

    def last_on(self, shard: int) -> int:
        numbers = self.by_shard.get(shard)
        return numbers[-1] if numbers else -1

    def fail(self, text: str) -> None:
        self.errors += 1
        self.last_error = text

    def reject(self, text: str) -> None:
        self.fail(text)
        self.rejected += 1
        if text in self.rejections or len(self.rejections) < 8:  # a few distinct texts, not one per write
            self.rejections[text] = self.rejections.get(text, 0) + 1

    def acked_between(self, start_ms: float, end_ms: float) -> int:
        """How many writes were acknowledged from ``start_ms`` to ``end_ms`` (wall ms)."""
        acks = self.ack_ms
        count = 0
        for i in range(len(acks) - 1, -1, -1):  # recent ones are at the end
            if acks[i] < start_ms:
                break
            count += acks[i] <= end_ms
        return count

    def progress(self) -> dict[str, Any]:
        recent = sorted(self.latencies_ms[-2000:])
        return {
            "acknowledged": self.acknowledged,
            "errors": self.errors,
            "rejected": self.rejected,
            "last_error": self.last_error,
            "p50_ms": _round(percentile(recent, 0.5)),
            "p99_ms": _round(percentile(recent, 0.99)),
        }

    # -- the verdict ---------------------------------------------------------------------
    async def verify(self, client: ClusterClient, crash_ms: float | None) -> dict[str, Any]:
        """Read every acknowledged write back; count kept and lost."""
        lost: list[tuple[str, float]] = []  # (what, ack wall ms)
        lost_by_kind = {"set": 0, "incr": 0, "zadd": 0, "xadd": 0}
        for start in range(0, len(self.sets), VERIFY_BATCH):
            batch = self.sets[start : start + VERIFY_BATCH]
            replies = await asyncio.gather(
                *(client.route(f"load:w:{n}", "GET", f"load:w:{n}") for n, _ in batch)
            )
            for (n, acked), reply in zip(batch, replies):
                _raise_if_down(reply)
                if reply != f"v{n}".encode():
                    lost.append((f"load:w:{n}", acked))
                    lost_by_kind["set"] += 1
        for start in range(0, len(self.zadds), VERIFY_BATCH):
            batch = self.zadds[start : start + VERIFY_BATCH]
            reply = await client.route(LEADERBOARD, "ZMSCORE", LEADERBOARD, *(f"p{n}" for n, _ in batch))
            _raise_if_down(reply)
            scores = reply if isinstance(reply, list) else [None] * len(batch)
            for (n, acked), score in zip(batch, scores):
                if score is None:
                    lost.append((f"{LEADERBOARD} p{n}", acked))
                    lost_by_kind["zadd"] += 1
        for key, acked_entries in self.xadds.items():
            for what, acked in await _lost_stream_entries(client, key, acked_entries):
                lost.append((what, acked))
                lost_by_kind["xadd"] += 1
        for key, entries in self.counters.items():
            reply = await client.route(key, "GET", key)
            _raise_if_down(reply)
            current = int(reply) if isinstance(reply, bytes) else 0
            lost_acks = _lost_counter_acks(entries, current)
            lost += [(f"{key} (+1)", acked) for acked in lost_acks]
            lost_by_kind["incr"] += len(lost_acks)
        lost.sort(key=lambda item: item[1])
        acknowledged = self.acknowledged
        result: dict[str, Any] = {
            "acknowledged": acknowledged,
            "kept": acknowledged - len(lost),
            "lost": len(lost),
            "lost_by_kind": lost_by_kind,
            "lost_keys": [what for what, _ in lost[:LOST_KEYS_SHOWN]],
            "errors": self.errors,
            "rejected": self.rejected,
            "loss_window_ms": None,
        }
        if lost:
            first, last = lost[0][1], lost[-1][1]
            # How far back before the crash acknowledged writes were lost: the data
            # the replica had not received when the primary died.
            end = crash_ms if crash_ms is not None else last
            result["loss_window_ms"] = round(max(end, last) - first, 1)
            result["first_lost_ack_ms"] = first
            result["last_lost_ack_ms"] = last
        return result


def _lost_counter_acks(entries: list[tuple[int, float]], current: int) -> list[float]:
    """Ack times of the INCRs a counter no longer includes.

    Walking back from the newest: an acknowledged value is kept if it is at most
    the counter's value now and at most every later restart point — a reply not
    above the one before it shows the counter restarted from an older value after
    a lost stretch, so everything acknowledged before it above that value is gone.
    """
    lost: list[float] = []
    limit = current
    for i in range(len(entries) - 1, -1, -1):
        value, acked = entries[i]
        if value > limit:
            lost.append(acked)
        if i > 0 and value <= entries[i - 1][0]:
            limit = min(limit, value - 1)
    lost.reverse()
    return lost


async def _lost_stream_entries(
    client: ClusterClient, key: str, acked_entries: list[tuple[bytes, int, float]]
) -> list[tuple[str, float]]:
    """The acknowledged entries of one stream that are gone, or there with other
    fields: read back a batch at a time, each batch with one XRANGE over its IDs."""
    lost: list[tuple[str, float]] = []
    ordered = sorted(acked_entries, key=lambda e: _stream_id(e[0]))
    for start in range(0, len(ordered), VERIFY_BATCH):
        batch = ordered[start : start + VERIFY_BATCH]
        reply = await client.route(key, "XRANGE", key, batch[0][0], batch[-1][0])
        _raise_if_down(reply)
        found: dict[bytes, Any] = {}
        if isinstance(reply, list):
            found = {entry[0]: entry[1] for entry in reply if isinstance(entry, list) and len(entry) == 2}
        for entry_id, n, acked in batch:
            if found.get(entry_id) != [b"n", str(n).encode()]:
                lost.append((f"{key} {entry_id.decode()}", acked))
    return lost


def _raise_if_down(reply: Reply) -> None:
    if isinstance(reply, ErrorReply) and reply.code in ("CLUSTERDOWN", "LOADING", "NOAUTH"):
        raise LinkDown(f"cannot verify yet: {reply}")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


class WriteLoad:
    """Sends ``rate`` writes per second, each to every cluster, and records the acks."""

    def __init__(
        self,
        clients: dict[str, ClusterClient],
        rate: int,
        mix: dict[str, int],
        *,
        max_seconds: float,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.clients = clients
        self.rate = rate
        self.mix = {k: v for k, v in mix.items() if v > 0}
        self.order = schedule(self.mix)
        self.max_seconds = max_seconds
        self.wall = wall
        self.monotonic = monotonic
        self.ledgers = {name: Ledger(name) for name in clients}
        self.in_flight = {name: 0 for name in clients}
        self.issued = 0
        self.started_ms = wall() * 1000
        self.stopped_ms: float | None = None
        self.stopping = False
        self._paused = asyncio.Event()
        self._paused.set()  # set = running
        self._idle = {name: asyncio.Event() for name in clients}
        for event in self._idle.values():
            event.set()
        self.task: asyncio.Task[None] | None = None
        # (cluster, shard) -> samples of (last write number acknowledged on the shard,
        # its primary's stream position then), for the journal lane: which
        # acknowledged writes each replica has applied.
        self.marks: dict[tuple[str, int], deque[tuple[int, int]]] = {}

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def start(self) -> None:
        self.task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        self.stopping = True
        self._paused.set()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self._drain(WRITE_TIMEOUT_S)

    @contextlib.asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """No new writes while the body runs (the verdict reads a still ledger)."""
        self._paused.clear()
        try:
            await self._drain(WRITE_TIMEOUT_S)
            yield
        finally:
            self._paused.set()

    async def _drain(self, timeout: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(e.wait() for e in self._idle.values())), timeout
            )

    async def _run(self) -> None:
        began = self.monotonic()
        paused_for = 0.0
        try:
            while not self.stopping:
                if not self._paused.is_set():
                    waited = self.monotonic()
                    await self._paused.wait()
                    paused_for += self.monotonic() - waited
                elapsed = self.monotonic() - began - paused_for
                if elapsed >= self.max_seconds:
                    break
                due = int(elapsed * self.rate) - self.issued
                for _ in range(min(due, max(1, self.rate // 10))):
                    self._issue()
                if due > self.rate // 10:
                    self.issued += due - self.rate // 10  # fell behind: skip, never burst
                await asyncio.sleep(TICK_S)
        finally:
            self.stopped_ms = self.wall() * 1000

    def _issue(self) -> None:
        n = self.issued
        self.issued += 1
        write = write_for(n, self.order[n % len(self.order)])
        for name in self.clients:
            if self.in_flight[name] >= MAX_IN_FLIGHT:
                self.ledgers[name].fail("too many writes in flight")
                continue
            self.in_flight[name] += 1
            self._idle[name].clear()
            asyncio.ensure_future(self._send(name, write))

    async def _send(self, name: str, write: Write) -> None:
        ledger = self.ledgers[name]
        sent = self.monotonic()
        try:
            reply = await asyncio.wait_for(
                self.clients[name].route(write.key, *write.args), WRITE_TIMEOUT_S
            )
        except (LinkDown, asyncio.TimeoutError, OSError) as exc:
            ledger.fail(str(exc) or "timed out")
        else:
            if isinstance(reply, ErrorReply) and reply.code == "CLUSTERDOWN":
                ledger.reject(str(reply))
            elif isinstance(reply, ErrorReply):
                ledger.fail(str(reply))
            else:
                shard = self.clients[name].shard_of(write.key)
                ledger.record(write, reply, self.wall() * 1000, (self.monotonic() - sent) * 1000, shard)
        finally:
            self.in_flight[name] -= 1
            if self.in_flight[name] == 0:
                self._idle[name].set()

    # -- what the page shows -------------------------------------------------------------
    def progress(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "rate": self.rate,
            "mix": self.mix,
            "issued": self.issued,
            "started_ms": self.started_ms,
            "clusters": {name: ledger.progress() for name, ledger in self.ledgers.items()},
        }

    def mark(self, cluster: str, shard: int, position: int) -> None:
        marks = self.marks.setdefault((cluster, shard), deque(maxlen=3000))
        marks.append((self.ledgers[cluster].last_on(shard), position))

    def applied_through(self, cluster: str, shard: int, position: int) -> float:
        """The write number a replica at ``position`` of the shard's stream has applied
        through, interpolated between the two primary samples around it."""
        marks = self.marks.get((cluster, shard))
        if not marks:
            return -1
        positions = [p for _, p in marks]
        index = bisect.bisect_right(positions, position) - 1
        if index < 0:
            return -1
        n, at = marks[index]
        if index + 1 < len(marks):
            next_n, next_at = marks[index + 1]
            if next_at > at:
                return n + (next_n - n) * (position - at) / (next_at - at)
        return n

    def charts(self, markers: dict[str, Any]) -> dict[str, Any]:
        """Downsampled series for the latency histogram and the throughput chart."""
        out: dict[str, Any] = {"start_ms": self.started_ms, "markers": markers, "clusters": {}}
        for name, ledger in self.ledgers.items():
            ordered = sorted(ledger.latencies_ms)
            step = max(1, len(ledger.latencies_ms) // 3000)
            bucket_ms = 250
            counts: dict[int, int] = {}
            for ack in ledger.ack_ms:
                index = int((ack - self.started_ms) // bucket_ms)
                counts[index] = counts.get(index, 0) + 1
            last = max(counts) if counts else -1
            out["clusters"][name] = {
                "latency_ms": [round(v, 3) for v in ledger.latencies_ms[::step]],
                "p50_ms": _round(percentile(ordered, 0.5)),
                "p99_ms": _round(percentile(ordered, 0.99)),
                "throughput": {
                    "t_s": [round(i * bucket_ms / 1000, 2) for i in range(last + 1)],
                    "writes_per_s": [counts.get(i, 0) * (1000 // bucket_ms) for i in range(last + 1)],
                },
            }
        return out

    def outage_ms(self, cluster: str, crash_ms: float) -> float | None:
        """The longest time without any acknowledgement, from the crash on (writes in
        flight when the primary died still finish just after the crash instant)."""
        acks = sorted(self.ledgers[cluster].ack_ms)
        start = bisect.bisect_right(acks, crash_ms)
        if start == 0 or start >= len(acks):
            return None
        end = bisect.bisect_right(acks, crash_ms + OUTAGE_HORIZON_MS, lo=start)
        gaps = [acks[i] - acks[i - 1] for i in range(start, max(end, start + 1))]
        return round(max(gaps), 1)

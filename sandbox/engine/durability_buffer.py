"""The durability setting of a durable primary, as a pure machine: when a write's
reply may be released, and whether a new write may be accepted at all.

ElastiCache for Valkey's durability option (AWS, "Durability options",
"Durability.Consistency", "Durability.FailureScenarios") has two settings, and
MemoryDB is the first of them:

* ``sync`` — a write's reply is released only once the shard's journal committed
  its entry (and the leadership machine released it, ``leadership.Acknowledge``).
  No acknowledged write is lost by a failover. A read of a key with an uncommitted
  write waits for that commit (``Server.tracker``).
* ``async`` — a write's reply is released as soon as the primary applied it; a
  background appender sends its effects to the journal afterwards, in the order
  they were applied. The *durability buffer* is what was accepted but is not yet
  persisted: its size (writes, bytes) and its age (of the oldest such write). While
  that age is over ``limit_ms`` (10 000 ms as AWS documents; a teaching sandbox may
  run less) the primary accepts no write — they get ``errors.DURABILITY_BUFFER_FULL``,
  a ``CLUSTERDOWN`` error, as the docs say — and reads go on; once the log caught up
  it accepts writes again. A read on the primary sees its own unpersisted writes
  (read-your-writes from memory: nothing is held).

Choices where the AWS pages are silent, stated here once:

* Replicas, in both settings, apply only what the journal committed (they tail the
  log, never the primary), so a replica read never sees a write a failover could
  lose; a single replica is sequentially consistent ("Durability.Consistency").
* WAIT is refused in both settings, as in MemoryDB: durability is the journal's
  commit, not a count of replicas.
* Failover, in both settings, is a replica taking over from the log: in ``async``
  whatever was acknowledged but not yet committed is lost with the old primary
  (up to ``limit_ms`` of acknowledged writes, "Durability.FailureScenarios").
* The leader lease and fencing hold in both settings: a primary whose lease lapsed
  or that was fenced accepts nothing. So a primary whose lease is shorter than the
  buffer limit stops serving (the lease's error) before the buffer fills when the
  log is down: run ``async`` with ``lease_ms`` above ``limit_ms`` to see the buffer
  limit itself.
* An ``async`` primary that cannot reach the log keeps its buffer and keeps trying
  (a ``sync`` one gives up after ``PrimaryLog.JOURNAL_WAIT_S``: it holds nothing a
  client was told is done); only a refused conditional append ends it.

Invariants (the simulator checks them, ``tests/engine/sim``): in ``sync`` no reply
is released before its commit; in ``async`` no write is accepted while the oldest
unpersisted write is older than ``limit_ms``, so the writes a crash can lose are the
ones acknowledged after the journal's last committed entry of that node, and they
span at most ``limit_ms``. Time is passed in (ms); nothing here reads a clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

SETTINGS = ("sync", "async")
DEFAULT_LIMIT_MS = 10_000  # AWS: writes are rejected once the oldest unpersisted write is older than 10 s


@dataclass(frozen=True)
class BufferConfig:
    setting: str = "sync"  # "sync" or "async"
    limit_ms: float = DEFAULT_LIMIT_MS  # ms, > 0: async only, the buffer's age over which writes are refused

    def __post_init__(self) -> None:
        if self.setting not in SETTINGS:
            raise ValueError(f"durability must be one of {SETTINGS}, not {self.setting!r}")
        if not self.limit_ms > 0:
            raise ValueError(f"durability buffer limit {self.limit_ms} ms must be > 0")


@dataclass(frozen=True)
class Accepted:
    """A write was applied: ``seq`` names it; ``release_now`` says whether its reply
    may go to the client at once (async) or must wait for its commit (sync)."""

    seq: int
    release_now: bool


class DurabilityBuffer:
    """One primary's accepted-but-unpersisted writes, in the order they were applied."""

    def __init__(self, config: BufferConfig) -> None:
        self.config = config
        self.next_seq = 0
        self.persisted_seq = 0  # every write with seq <= this one is in the journal
        self._pending: deque[tuple[int, float, int]] = deque()  # (seq, accepted at ms, bytes)
        self.pending_bytes = 0

    @property
    def is_async(self) -> bool:
        return self.config.setting == "async"

    def age_ms(self, now: float) -> float:
        """Age of the oldest write not yet persisted (0 when there is none)."""
        return max(now - self._pending[0][1], 0.0) if self._pending else 0.0

    @property
    def count(self) -> int:
        return len(self._pending)

    def admits(self, now: float) -> bool:
        """Whether a new write may be accepted now. Only the async buffer's age
        refuses one: a sync write holds its own reply, so it never needs refusing."""
        return not self.is_async or self.age_ms(now) <= self.config.limit_ms

    def full_at(self) -> float | None:
        """When (ms) the buffer will stop admitting if nothing is persisted before,
        or None when time alone cannot change that (sync, or nothing pending)."""
        if not self.is_async or not self._pending:
            return None
        return self._pending[0][1] + self.config.limit_ms

    def accept(self, now: float, size: int) -> Accepted:
        """A write was applied at ``now`` with effects of ``size`` bytes."""
        self.next_seq += 1
        self._pending.append((self.next_seq, now, size))
        self.pending_bytes += size
        return Accepted(self.next_seq, release_now=self.is_async)

    def persisted(self, upto_seq: int) -> None:
        """The journal committed every write up to ``upto_seq`` (entries commit in
        order, so one number says it)."""
        self.persisted_seq = max(self.persisted_seq, upto_seq)
        while self._pending and self._pending[0][0] <= self.persisted_seq:
            self.pending_bytes -= self._pending.popleft()[2]

    def dropped(self) -> None:
        """The writes will never be persisted by this node (it was fenced or steps
        down): nothing is pending any more."""
        self._pending.clear()
        self.pending_bytes = 0

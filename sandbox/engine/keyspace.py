"""The keyspace: numbered databases holding keys, their values and expiry times.

A ``Database`` is storage only — no protocol, no propagation. Expiry on access and
the hand-off of deletions to the log are done by the command context
(``context.Ctx``), which knows the time of the command and where effects go.

Invariants:
* ``expires`` only holds keys that are in ``data``.
* ``_heap`` holds ``(when_ms, key)`` for every entry of ``expires`` (plus stale
  pairs, dropped when popped or when the heap is rebuilt).
* ``_scan`` (built on first SCAN/RANDOMKEY, then maintained) holds every key once.
* ``access`` holds, for keys that were read or written, their eviction metadata
  (eviction.py: a time in ms for LRU, Redis's packed LFU word for LFU); it never
  holds a key that is not in ``data``. ``hits``/``misses`` count read lookups
  (INFO keyspace_hits/misses, summed over the databases).
* ``encodings`` (shared by a node's databases) maps ``id(value)`` to
  ``(value, encoding)`` for values whose Redis encoding can't be read from their
  content (encodings.py); an entry goes when its value leaves the keyspace.
"""

from __future__ import annotations

import heapq
import random
from typing import Any, Callable, Iterator

from .slots import key_slot

_HASH_MASK = (1 << 64) - 1


def _rev64(v: int) -> int:
    return int(f"{v:064b}"[::-1], 2)


class ScanIndex:
    """Keys bucketed by hash in a power-of-two table, scanned with Redis's
    reverse-binary cursor: every key present for a whole scan is returned at least
    once, even when the table grows or shrinks between calls."""

    __slots__ = ("buckets", "mask", "count")

    def __init__(self, keys: Iterator[bytes] | None = None) -> None:
        self.mask = 3
        self.buckets: list[list[bytes]] = [[] for _ in range(4)]
        self.count = 0
        for k in keys or ():
            self.add(k)

    def add(self, key: bytes) -> None:
        self.buckets[hash(key) & self.mask].append(key)
        self.count += 1
        if self.count > len(self.buckets):
            self._resize(len(self.buckets) * 4)

    def remove(self, key: bytes) -> None:
        self.buckets[hash(key) & self.mask].remove(key)
        self.count -= 1
        if len(self.buckets) > 4 and self.count < len(self.buckets) // 8:
            self._resize(len(self.buckets) // 4)

    def _resize(self, size: int) -> None:
        old = self.buckets
        self.mask = size - 1
        self.buckets = [[] for _ in range(size)]
        for bucket in old:
            for k in bucket:
                self.buckets[hash(k) & self.mask].append(k)

    def scan(self, cursor: int, count: int, emit: Callable[[bytes], None]) -> int:
        """Emit keys of at least ``count`` buckets' worth; return the next cursor (0 = done)."""
        mask = self.mask
        visited_empty = 0
        emitted = 0
        v = cursor & _HASH_MASK
        while True:
            bucket = self.buckets[v & mask]
            for k in bucket:
                emit(k)
            emitted += len(bucket)
            if not bucket:
                visited_empty += 1
            # Increment the reversed cursor (Redis dictScan).
            v |= ~mask & _HASH_MASK
            v = _rev64(v)
            v = (v + 1) & _HASH_MASK
            v = _rev64(v)
            if v == 0 or emitted >= count or visited_empty >= count * 10:
                return v

    def random_key(self, rng: random.Random) -> bytes | None:
        if not self.count:
            return None
        while True:
            bucket = self.buckets[rng.getrandbits(64) & self.mask]
            if bucket:
                return rng.choice(bucket)


class Database:
    """One numbered database."""

    __slots__ = ("id", "data", "expires", "_heap", "_scan", "slots", "access", "hits", "misses", "encodings", "limits",
                 "raw_small")

    def __init__(self, db_id: int, encodings: dict[int, tuple[Any, bytes]] | None = None) -> None:
        self.id = db_id
        self.access: dict[bytes, int] = {}
        self.hits = 0
        self.misses = 0
        self.encodings: dict[int, tuple[Any, bytes]] = {} if encodings is None else encodings
        # One-byte strings a raw writer made, by key: CPython shares one object per
        # byte, so ``encodings`` (by object) can't tell them from the same byte SET wrote.
        self.raw_small: dict[bytes, bytes] = {}
        # The node's encoding thresholds as ints (Keyspace.set_limits), read where a value grows.
        self.limits: tuple[int, ...] = DEFAULT_LIMITS
        self.data: dict[bytes, Any] = {}
        self.expires: dict[bytes, int] = {}
        self._heap: list[tuple[int, bytes]] = []
        self._scan: ScanIndex | None = None
        # Cluster mode only: slot -> keys in it (CLUSTER COUNTKEYSINSLOT/GETKEYSINSLOT).
        self.slots: dict[int, set[bytes]] | None = None

    def enable_slot_index(self) -> None:
        self.slots = {}
        for key in self.data:
            self.slots.setdefault(key_slot(key), set()).add(key)

    def __len__(self) -> int:
        return len(self.data)

    # -- writes ---------------------------------------------------------------
    def put(self, key: bytes, value: Any, keep_ttl: bool = False) -> None:
        """Store ``value``; the key's TTL is cleared unless ``keep_ttl``."""
        data = self.data
        if self.raw_small:
            self.raw_small.pop(key, None)
        if self.encodings:
            old = data.get(key)
            if old is not value and old is not None:
                self.encodings.pop(id(old), None)
        if key not in data:
            if self._scan is not None:
                self._scan.add(key)
            if self.slots is not None:
                self.slots.setdefault(key_slot(key), set()).add(key)
        elif not keep_ttl and key in self.expires:
            del self.expires[key]
        data[key] = value

    def remove(self, key: bytes) -> bool:
        value = self.data.pop(key, _MISSING)
        if value is _MISSING:
            return False
        if self.encodings:
            self.encodings.pop(id(value), None)
        if self.raw_small:
            self.raw_small.pop(key, None)
        self.access.pop(key, None)
        self.expires.pop(key, None)
        if self._scan is not None:
            self._scan.remove(key)
        if self.slots is not None:
            members = self.slots[key_slot(key)]
            members.discard(key)
            if not members:
                del self.slots[key_slot(key)]
        return True

    def set_expire(self, key: bytes, when_ms: int) -> None:
        self.expires[key] = when_ms
        heapq.heappush(self._heap, (when_ms, key))
        if len(self._heap) > 2 * len(self.expires) + 1024:
            self._heap = [(w, k) for k, w in self.expires.items()]
            heapq.heapify(self._heap)

    def persist(self, key: bytes) -> bool:
        return self.expires.pop(key, None) is not None

    def clear(self) -> None:
        if self.encodings:
            for value in self.data.values():
                self.encodings.pop(id(value), None)
        self.access.clear()
        self.raw_small.clear()
        self.data.clear()
        self.expires.clear()
        self._heap.clear()
        self._scan = None
        if self.slots is not None:
            self.slots = {}

    def swap_contents(self, other: "Database") -> None:
        for attr in ("data", "expires", "_heap", "_scan", "slots", "access", "raw_small"):
            a, b = getattr(self, attr), getattr(other, attr)
            setattr(self, attr, b)
            setattr(other, attr, a)

    # -- reads ------------------------------------------------------------------
    def expire_at(self, key: bytes) -> int | None:
        return self.expires.get(key)

    def is_expired(self, key: bytes, now_ms: int) -> bool:
        when = self.expires.get(key)
        return when is not None and when <= now_ms

    def scan_index(self) -> ScanIndex:
        if self._scan is None:
            self._scan = ScanIndex(iter(self.data))
        return self._scan

    def random_volatile(self, rng: random.Random) -> bytes | None:
        """A random key with a TTL (a pick from the heap; a stale pair gives None)."""
        if not self._heap:
            return None
        when, key = self._heap[rng.randrange(len(self._heap))]
        return key if self.expires.get(key) == when else None

    def due_expiries(self, now_ms: int, limit: int) -> list[bytes]:
        """Up to ``limit`` keys whose expiry time has passed, earliest first."""
        heap, expires, out = self._heap, self.expires, []
        while heap and heap[0][0] <= now_ms and len(out) < limit:
            when, key = heapq.heappop(heap)
            if expires.get(key) == when:
                out.append(key)
        return out


_MISSING = object()
# hash-max-listpack-entries, hash-max-listpack-value, set-max-intset-entries,
# zset-max-listpack-entries, zset-max-listpack-value (encodings.py names them).
DEFAULT_LIMITS = (512, 64, 512, 128, 64)


class Keyspace:
    """All databases of a node."""

    __slots__ = ("dbs", "encodings", "limits")

    def __init__(self, count: int) -> None:
        self.encodings: dict[int, tuple[Any, bytes]] = {}
        # The encoding thresholds as ints (encodings.refresh_limits), also on each database.
        self.limits: tuple[int, ...] = DEFAULT_LIMITS
        self.dbs = [Database(i, self.encodings) for i in range(count)]

    def set_limits(self, limits: tuple[int, ...]) -> None:
        self.limits = limits
        for db in self.dbs:
            db.limits = limits

    def __getitem__(self, index: int) -> Database:
        return self.dbs[index]

    def __len__(self) -> int:
        return len(self.dbs)

    def swap(self, a: int, b: int) -> None:
        self.dbs[a].swap_contents(self.dbs[b])

"""maxmemory-policy: which keys go when a write would pass ``maxmemory``, and the
per-key access metadata the LRU and LFU policies rank them by.

Redis 7.0's rules, kept here:
* ``noeviction`` evicts nothing (the write gets OOM); ``allkeys-*`` may evict any
  key, ``volatile-*`` only keys with a TTL, so a key without one is never evicted
  under them.
* Candidates are sampled, ``maxmemory-samples`` per database, into a pool of the 16
  best seen so far (Redis's eviction pool); the best is evicted. LRU ranks by idle
  time, LFU by a low counter, ``volatile-ttl`` by the nearest expiry; the random
  policies take a random key, visiting the databases in turn.
* The LFU counter is Redis's: 8 bits, incremented with probability
  ``1 / ((counter - 5) * lfu-log-factor + 1)``, decremented by one per
  ``lfu-decay-time`` minutes since its last access (the upper 16 bits of the word
  are that time, in minutes). New keys start at ``LFU_INIT_VAL`` (5).
* An evicted key leaves as a ``DEL`` effect in the node's log, before the write
  that needed the room, so replicas and the journal lose the same keys.

Memory is the process RSS (``Server.used_memory``), which doesn't shrink when a key
is freed: Python keeps the memory and reuses it. So the evictor keeps a *credit*:
the estimated bytes (``MEMORY USAGE``'s estimate) evicted and not yet reused.
Admitted writes spend it; an RSS that falls spends it too. A write is admitted when
``RSS - credit + its size <= maxmemory``; otherwise keys are evicted until the
estimate covers the excess. Each eviction removes a key, and at most
``MAX_EVICTIONS_PER_CALL`` go per command, so eviction always stops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .keyspace import Database
    from .server import Server

LFU_INIT_VAL = 5
POOL_SIZE = 16  # EVPOOL_SIZE
MAX_EVICTIONS_PER_CALL = 10_000  # like Redis's time limit: then the command runs anyway
POLICIES = (
    "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru",
    "allkeys-lfu", "allkeys-random", "noeviction",
)


# -- LFU counter ---------------------------------------------------------------------------


def lfu_minutes(now_s: float) -> int:
    """LFUGetTimeInMinutes: the access time kept in the word's upper 16 bits."""
    return int(now_s // 60) & 65535


def lfu_counter(server: "Server", word: int | None, now_s: float) -> int:
    """LFUDecrAndReturn: the counter after the decay its idle minutes imply."""
    if word is None:
        return LFU_INIT_VAL
    ldt, counter = word >> 8, word & 255
    now = lfu_minutes(now_s)
    elapsed = now - ldt if now >= ldt else 65535 - ldt + now
    period = server.params.get_int("lfu-decay-time")
    periods = elapsed // period if period else 0
    return 0 if periods > counter else counter - periods


def lfu_touch(server: "Server", db: "Database", key: bytes) -> None:
    """updateLFU: decay, then the logarithmic increment; stamp the minute."""
    now_s = server.clock()
    counter = lfu_counter(server, db.access.get(key), now_s)
    if counter < 255:
        base = max(counter - LFU_INIT_VAL, 0)
        if server.rng.random() < 1.0 / (base * server.params.get_int("lfu-log-factor") + 1):
            counter += 1
    db.access[key] = (lfu_minutes(now_s) << 8) | counter


def written(server: "Server", db: "Database", key: bytes, now_ms: int) -> None:
    """A write touched ``key`` (``Ctx.changed`` calls this under LFU, and stores the
    time itself under LRU): a new key gets its first metadata (LRU: now; LFU: the
    initial counter); under LRU any write is an access."""
    if not server.lfu:
        db.access[key] = now_ms
    elif key not in db.access:
        db.access[key] = (lfu_minutes(now_ms / 1000) << 8) | LFU_INIT_VAL


def idle_seconds(db: "Database", key: bytes, now_ms: int) -> int:
    """OBJECT IDLETIME: seconds since the key was last read or written."""
    when = db.access.get(key)
    return 0 if when is None else max(now_ms - when, 0) // 1000


# -- the evictor -----------------------------------------------------------------------------


class Evictor:
    """The node's eviction state: the candidate pool and the freed-bytes credit."""

    def __init__(self, server: "Server") -> None:
        self.server = server
        self.pool: list[tuple[float, int, bytes]] = []  # (score, db, key), best last
        self.credit = 0
        self.last_used = 0
        self.next_db = 0

    def policy_changed(self) -> bool:
        """CONFIG SET maxmemory-policy: LRU times and LFU words mean different
        things, so switching between them starts the metadata afresh. Returns
        whether the policy is now LFU (the server keeps that flag)."""
        server = self.server
        lfu = "lfu" in server.params.get("maxmemory-policy")
        if lfu != server.lfu:
            for db in server.keyspace.dbs:
                db.access.clear()
        self.pool.clear()
        return lfu

    def admit(self, used: int, size: int) -> bool:
        """Make room for a write of ``size`` bytes; False when it must get OOM."""
        server = self.server
        if used < self.last_used:
            self.credit = max(self.credit - (self.last_used - used), 0)
        self.last_used = used
        over = used - self.credit + size - server.maxmemory
        if over > 0:
            if server.params.get("maxmemory-policy") == "noeviction":
                return False
            freed, finished = self.evict(over)
            self.credit += freed
            if freed < over and finished:
                return False
        self.credit = max(self.credit - size, 0)
        return True

    def evict(self, need: int) -> tuple[int, bool]:
        """Evict until the estimate of freed bytes reaches ``need``: (freed, whether
        the search ended for lack of candidates rather than the per-call cap)."""
        from .commands.memory import value_size

        freed = 0
        for _ in range(MAX_EVICTIONS_PER_CALL):
            if freed >= need:
                return freed, True
            found = self._pick()
            if found is None:
                return freed, True
            db, key = found
            freed += value_size(key, db.data[key], 5) + 64  # + the dict entries holding it
            self._delete(db, key)
        return freed, False

    def _pick(self) -> "tuple[Database, bytes] | None":
        server = self.server
        policy = server.params.get("maxmemory-policy")
        volatile = policy.startswith("volatile-")
        if policy.endswith("-random"):
            return self._random(volatile)
        samples = server.params.get_int("maxmemory-samples")
        now_ms = int(server.clock() * 1000)
        pool = self.pool
        known = {(d, k) for _s, d, k in pool}
        for db in server.keyspace.dbs:
            for key in _sample(db, volatile, samples, server):
                if (db.id, key) not in known:
                    known.add((db.id, key))
                    pool.append((self._score(policy, db, key, now_ms), db.id, key))
        pool.sort(key=lambda entry: entry[0])
        del pool[:-POOL_SIZE]
        while pool:
            _score, db_id, key = pool.pop()
            db = server.keyspace.dbs[db_id]
            if key in db.data and (not volatile or key in db.expires):
                return db, key
        return None

    def _score(self, policy: str, db: "Database", key: bytes, now_ms: int) -> float:
        """Higher is evicted first (Redis's ``idle``)."""
        if policy.endswith("-lru"):
            when = db.access.get(key)
            return 0 if when is None else now_ms - when
        if policy.endswith("-lfu"):
            return 255 - lfu_counter(self.server, db.access.get(key), now_ms / 1000)
        return -db.expires[key]  # volatile-ttl: the nearest expiry first

    def _random(self, volatile: bool) -> "tuple[Database, bytes] | None":
        dbs = self.server.keyspace.dbs
        rng = self.server.rng
        for i in range(len(dbs)):
            db = dbs[(self.next_db + i) % len(dbs)]
            keys = _sample(db, volatile, 1, self.server)
            if keys:
                self.next_db = (self.next_db + i + 1) % len(dbs)
                return db, keys[rng.randrange(len(keys))]
        return None

    def _delete(self, db: "Database", key: bytes) -> None:
        server = self.server
        db.remove(key)
        server.stats.evicted_keys += 1
        if server.watched:
            server.touch_watched([(db.id, key)])
        if server.log is not None:
            server.log.append(db.id, [[b"DEL", key]], [(db.id, key)])


def _sample(db: "Database", volatile: bool, count: int, server: "Server") -> list[bytes]:
    """Up to ``count`` keys of ``db`` (only keys with a TTL when ``volatile``): all of
    them when there are no more than that, else a random pick (dictGetSomeKeys)."""
    pool: Any = db.expires if volatile else db.data
    if len(pool) <= count:
        return list(pool)
    rng = server.rng
    if volatile:
        picked = []
        for _ in range(count * 3):
            key = db.random_volatile(rng)
            if key is not None:
                picked.append(key)
                if len(picked) == count:
                    break
        # The heap keeps pairs of deleted keys until it is rebuilt: when the picks
        # kept landing on those, take the sample from the TTL table itself.
        return picked or rng.sample(list(db.expires), count)
    index = db.scan_index()
    return [k for k in (index.random_key(rng) for _ in range(count)) if k is not None]

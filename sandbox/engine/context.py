"""The command context: what a command body sees of the node while it runs.

``Ctx`` is the only way a command touches the keyspace. It applies lazy expiry at
the command's own timestamp, checks value types (``WRONGTYPE`` lives here, once),
and records what the command changed:

* ``changed(key)`` — the key was modified (WATCH, the durable tracker and the
  keyspace dirty counter all read this); ``changed_quietly(key)`` — modified in a
  way Redis doesn't show WATCH (a stream's consumer-group bookkeeping, XSETID):
  tracked and counted the same, WATCH stays valid;
* the command's *effects* — the deterministic writes to hand to the log or to
  replicas. By default a write's effect is its own argv. A command whose argv is
  not deterministic replaces it with ``propagate`` (SPOP → SREM, EXPIRE →
  PEXPIREAT, INCRBYFLOAT → SET ... KEEPTTL). Lazy expiry adds ``DEL`` effects with
  ``also_propagate`` before the command's own.

A lookup that finds a key also refreshes its eviction metadata (``db.access``: the
command's time for LRU, one dict store; the logarithmic counter for LFU,
eviction.py); so does ``changed`` for a key that still exists after the write (a new
key gets its first metadata there). A lookup by a command that doesn't write counts
as INFO's keyspace hit or miss, as Redis counts ``lookupKeyRead`` and not
``lookupKeyWrite``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import errors
from .datatypes import TYPE_NAMES
from .eviction import lfu_touch, written
from .keyspace import Database

if TYPE_CHECKING:
    from .client import Client
    from .server import Server


class Ctx:
    __slots__ = ("server", "client", "db", "now_ms", "dirty_keys", "effects", "replaced", "dirty", "quiet",
                 "reading", "lfu")

    def __init__(self, server: "Server", client: "Client", now_ms: int, reading: bool = True) -> None:
        self.server = server
        self.reading = reading  # a read-only command: its lookups count as hits/misses
        self.lfu = server.lfu  # the policy is LFU: a lookup bumps the counter, not the time
        self.client = client
        self.db: Database = server.keyspace.dbs[client.db]
        self.now_ms = now_ms
        self.dirty_keys: list[tuple[int, bytes]] = []
        self.effects: list[list[bytes]] | None = None
        self.replaced = False
        self.dirty = 0  # Redis's server.dirty increment for this command
        self.quiet: list[tuple[int, bytes]] | None = None  # dirty_keys WATCH must not see

    # -- reads -----------------------------------------------------------------
    def lookup(self, key: bytes, db: Database | None = None) -> Any:
        """The live value at ``key`` or None (expired keys are removed here)."""
        db = self.db if db is None else db
        value = db.data.get(key)
        if value is None:
            if self.reading:
                db.misses += 1
            return None
        if db.expires and key in db.expires and db.expires[key] <= self.now_ms:
            if self.server.expires_locally:
                self._expire(db, key)
            elif self.client.is_master:
                # A replica applies its primary's stream as it was: the primary
                # decides expiry and sends DEL, so the key still exists here.
                return value
            if self.reading:
                db.misses += 1
            return None
        if self.reading:
            db.hits += 1
        if self.lfu:
            lfu_touch(self.server, db, key)
        else:
            db.access[key] = self.now_ms
        return value

    def lookup_typed(self, key: bytes, tp: type, db: Database | None = None) -> Any:
        """Like ``lookup`` but raises WRONGTYPE unless the value is a ``tp``."""
        d = self.db if db is None else db
        value = d.data.get(key)
        if value is None:
            if self.reading:
                d.misses += 1
            return None
        if d.expires and key in d.expires:
            value = self.lookup(key, d)  # the rare path: expiry decides
            if value is None:
                return None
        else:
            if self.reading:
                d.hits += 1
            if self.lfu:
                lfu_touch(self.server, d, key)
            else:
                d.access[key] = self.now_ms
        if type(value) is not tp:
            raise errors.WRONGTYPE
        return value

    def exists(self, key: bytes, db: Database | None = None) -> bool:
        return self.lookup(key, db) is not None

    def ttl_ms(self, key: bytes, db: Database | None = None) -> int | None:
        """Remaining ms, or None without expiry (call after a successful lookup)."""
        when = (self.db if db is None else db).expires.get(key)
        return None if when is None else max(when - self.now_ms, 0)

    # -- writes ----------------------------------------------------------------
    def store(self, key: bytes, value: Any, keep_ttl: bool = False, db: Database | None = None) -> None:
        db = self.db if db is None else db
        db.put(key, value, keep_ttl)
        self.changed(key, db)

    def delete(self, key: bytes, db: Database | None = None) -> bool:
        db = self.db if db is None else db
        if self.lookup(key, db) is None:
            return False
        db.remove(key)
        self.changed(key, db)
        return True

    def delete_if_empty(self, key: bytes, value: Any, db: Database | None = None) -> None:
        """Containers never stay empty: drop the key once its last element is gone."""
        if not value:
            (self.db if db is None else db).remove(key)

    def set_expire(self, key: bytes, when_ms: int, db: Database | None = None) -> None:
        db = self.db if db is None else db
        db.set_expire(key, when_ms)
        self.changed(key, db)

    def changed(self, key: bytes, db: Database | None = None) -> None:
        db = self.db if db is None else db
        self.dirty_keys.append((db.id, key))
        self.dirty += 1
        if key in db.data:  # a write is an access; a key the write removed keeps no metadata
            if self.lfu:
                written(self.server, db, key, self.now_ms)
            else:
                db.access[key] = self.now_ms

    def changed_quietly(self, key: bytes, db: Database | None = None) -> None:
        """Like ``changed`` (logged, held for the durable tracker, counted), but WATCH
        doesn't see it: Redis's dirty++ without signalModifiedKey."""
        db = self.db if db is None else db
        k = (db.id, key)
        self.dirty_keys.append(k)
        self.dirty += 1
        if key in db.data:
            if self.lfu:
                written(self.server, db, key, self.now_ms)
            else:
                db.access[key] = self.now_ms
        if self.quiet is None:
            self.quiet = []
        self.quiet.append(k)

    def watch_keys(self) -> list[tuple[int, bytes]]:
        """The dirty keys WATCH sees: each quiet change removes one occurrence, so a
        key also changed the ordinary way stays."""
        keys = list(self.dirty_keys)
        for k in self.quiet or ():
            keys.remove(k)
        return keys

    def touched(self, key: bytes, db: Database | None = None) -> None:
        """Invalidate WATCHes on ``key`` without counting a change (Redis's
        signalModifiedKey without dirty++: e.g. an LTRIM that removed nothing)."""
        self.server.touch_watched([((self.db if db is None else db).id, key)])

    def add_dirty(self, n: int) -> None:
        """Count modifications that are not tied to one key (FLUSHDB)."""
        self.dirty += n

    # -- effects ---------------------------------------------------------------
    def propagate(self, argv: list[bytes]) -> None:
        """Replace the default effect (the command's argv) with ``argv``; may be
        called several times to emit several effects."""
        if not self.replaced:
            self.replaced = True
            if self.effects is None:
                self.effects = []
        self.effects.append(argv)  # type: ignore[union-attr]

    def also_propagate(self, argv: list[bytes]) -> None:
        """Add an effect before the command's own (lazy-expiry deletions)."""
        if self.effects is None:
            self.effects = []
        self.effects.append(argv)

    def _expire(self, db: Database, key: bytes) -> None:
        db.remove(key)
        self.server.stats.expired_keys += 1
        self.dirty_keys.append((db.id, key))
        if db is self.db:
            self.also_propagate([b"DEL", key])
        else:
            self.also_propagate_db(db, [b"DEL", key])

    def also_propagate_db(self, db: Database, argv: list[bytes]) -> None:
        """An effect in another database than the client's (MOVE, COPY ... DB)."""
        if self.effects is None:
            self.effects = []
        self.effects.append([b"SELECT", b"%d" % db.id])
        self.effects.append(argv)
        self.effects.append([b"SELECT", b"%d" % self.db.id])

    def type_of(self, value: Any) -> bytes:
        return TYPE_NAMES.get(type(value), b"none")

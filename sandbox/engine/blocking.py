"""Clients blocked on keys until a list or a sorted set there has something to pop
(BLPOP, BRPOP, BRPOPLPUSH, BLMOVE, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP): the
registry this family enrols in ``server.blocked`` (under ``"keys"``), which CLIENT
UNBLOCK and a demotion ask.

Redis 7.0's ``handleClientsBlockedOnKeys`` is the model:

* A parked client watches its keys the way WATCH does: a ``_KeyWatch`` stands
  among ``server.watched`` for each key someone is blocked on, so every change
  to the key (a push, a MULTI/EXEC, RENAME, SORT ... STORE, a replicated write)
  marks it ready. Ready keys are looked at once the command (or the whole EXEC)
  that changed them has finished: the dispatcher calls ``server.blocked.serve_ready``
  after each command, and ``loop.call_soon`` covers a change made outside one.
* Keys are served in the order they became ready; on each key, its clients in the
  order they blocked, while it holds a value of the type they pop. Serving a
  client that pushes (BLMOVE) makes the destination ready in the same round.
  A key that got a value and lost it before the round wakes nobody; a key of
  another type keeps its clients blocked (Redis 7.0 serves only a list's or a
  sorted set's own clients).
* A served client runs through ``Server.call`` like any command (``Waiter.wake``
  builds it): its effects are the non-blocking command it amounts to (LPOP, LMOVE,
  ZPOPMIN key count, ...), and on a durable node its reply waits for the journal.
* The timeout, CLIENT UNBLOCK TIMEOUT: the null array; CLIENT UNBLOCK ERROR:
  ``-UNBLOCKED client unblocked via CLIENT UNBLOCK``. A node that stops being
  primary answers every blocked client ``-UNBLOCKED force unblock ...`` and closes
  it (Redis's ``disconnectAllBlockedClients``). Once a second, a client that
  disconnected is forgotten and, in cluster mode, one whose slot moved away gets
  the redirection (Redis's ``clusterRedirectBlockedClientIfNeeded``).

Invariant: a waiter is in ``by_key`` under each of its keys until it is answered,
and a key is watched exactly while some waiter is blocked on it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from . import errors
from .client import Pending
from .errors import RedisError
from .resp import NULL_ARRAY

if TYPE_CHECKING:
    from .client import Client
    from .commands import Command
    from .server import Server

NOT_READY = object()  # a wake body's answer when the key can't serve its client yet
_SWEEP_S = 1.0
_NEVER_S = 10**9  # a timeout this far away is no timeout worth a timer

DbKey = tuple[int, bytes]


class _KeyWatch:
    """Stands among a key's WATCHing clients: being marked dirty means the key changed."""

    __slots__ = ("registry", "dbkey")

    def __init__(self, registry: "KeyBlocked", dbkey: DbKey) -> None:
        self.registry = registry
        self.dbkey = dbkey

    @property
    def watch_dirty(self) -> bool:
        return False

    @watch_dirty.setter
    def watch_dirty(self, value: bool) -> None:
        if value:
            self.registry.key_changed(self.dbkey)


@dataclass(eq=False)
class Waiter:
    client: "Client"
    pending: Pending  # the blocked command's held reply
    keys: list[DbKey]
    # key -> (command, argv) that serves the client from that key; its body answers
    # NOT_READY (changing nothing) when the key can't serve it yet.
    wake: Callable[[bytes], tuple["Command", list[bytes]]]
    blocked_cmd: "Command"  # the command as the client sent it (for cluster routing)
    argv: list[bytes]
    timer: asyncio.TimerHandle | None = None
    done: bool = field(default=False)


class KeyBlocked:
    """This server's clients blocked in list and sorted-set pops (a ``roles.BlockedFamily``)."""

    NAME = "keys"

    def __init__(self, server: "Server", loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.loop = loop
        self.by_key: dict[DbKey, list[Waiter]] = {}
        self.watches: dict[DbKey, _KeyWatch] = {}
        self.ready: list[DbKey] = []
        self.scheduled = False
        self.sweeping = False
        self.serving = False

    @classmethod
    def of(cls, server: "Server", loop: asyncio.AbstractEventLoop) -> "KeyBlocked":
        """The server's registry, made on first use (again when the event loop changed)."""
        registry = server.blocked.get(cls.NAME)
        if not isinstance(registry, cls) or registry.loop is not loop:
            registry = server.blocked.enrol(cls.NAME, cls(server, loop))
        return registry

    # -- parking -----------------------------------------------------------------------
    def park(self, client: "Client", db: int, keys: list[bytes], timeout_ms: int, cmd: "Command",
             argv: list[bytes], wake: Callable[[bytes], tuple["Command", list[bytes]]]) -> Pending:
        """Block ``client`` on ``keys`` (0 ms: forever); the reply is held in the Pending returned."""
        waiter = Waiter(client, Pending(self.loop.create_future(), None), [], wake, cmd, argv)
        for key in keys:
            dbkey = (db, key)
            if dbkey in waiter.keys:
                continue  # a key named twice blocks once
            waiter.keys.append(dbkey)
            self.by_key.setdefault(dbkey, []).append(waiter)
            if dbkey not in self.watches:
                watch = self.watches[dbkey] = _KeyWatch(self, dbkey)
                self.server.watched.setdefault(dbkey, set()).add(watch)  # type: ignore[arg-type]
        client.blocked = True
        if timeout_ms and timeout_ms / 1000 < _NEVER_S:
            waiter.timer = self.loop.call_later(timeout_ms / 1000, self._timed_out, waiter)
        if not self.sweeping:
            self.sweeping = True
            self.loop.call_later(_SWEEP_S, self._sweep)
        return waiter.pending

    def _forget(self, waiter: Waiter) -> None:
        waiter.done = True
        waiter.client.blocked = False
        if waiter.timer is not None:
            waiter.timer.cancel()
            waiter.timer = None
        for dbkey in waiter.keys:
            waiters = self.by_key.get(dbkey)
            if waiters is None or waiter not in waiters:
                continue
            waiters.remove(waiter)
            if waiters:
                continue
            del self.by_key[dbkey]
            watch = self.watches.pop(dbkey, None)
            watchers = self.server.watched.get(dbkey)
            if watch is not None and watchers is not None:
                watchers.discard(watch)  # type: ignore[arg-type]
                if not watchers:
                    del self.server.watched[dbkey]

    def _finish(self, waiter: Waiter, reply: Any) -> None:
        """Answer a parked client with ``reply`` (a value, an error or a Pending)."""
        self._forget(waiter)
        outer = waiter.pending
        if outer.future.done():
            return
        if type(reply) is not Pending:
            outer.reply = reply
            outer.future.set_result(None)
            return
        inner = reply

        def settle(fut: "asyncio.Future[Any]") -> None:
            # The served pop's reply waited for the journal: pass on its outcome.
            if outer.future.done():
                return
            exc = None if fut.cancelled() else fut.exception()
            outer.reply = exc if isinstance(exc, RedisError) else inner.reply
            outer.future.set_result(None)

        inner.future.add_done_callback(settle)

    def _timed_out(self, waiter: Waiter) -> None:
        waiter.timer = None
        if not waiter.done:
            self._finish(waiter, NULL_ARRAY)

    def _alive(self, waiter: Waiter) -> bool:
        # A connection that closed has left the server's clients (in-process clients never had a socket).
        client = waiter.client
        return self.server.clients.get(client.id) is client and not client.killed

    def waiters(self) -> list[Waiter]:
        """Every parked client once, in the order they blocked on their first key."""
        seen: dict[int, Waiter] = {}
        for waiters in self.by_key.values():
            for waiter in waiters:
                seen.setdefault(id(waiter), waiter)
        return list(seen.values())

    def _sweep(self) -> None:
        cluster = self.server.cluster
        for waiter in self.waiters():
            if waiter.done:
                continue
            if not self._alive(waiter):
                self._forget(waiter)
            elif cluster is not None:
                refusal = cluster.check(waiter.client, waiter.blocked_cmd, waiter.argv)
                if refusal is not None:
                    self._finish(waiter, refusal)
        if self.by_key:
            self.loop.call_later(_SWEEP_S, self._sweep)
        else:
            self.sweeping = False

    # -- roles.BlockedFamily -------------------------------------------------------------
    def unblock_client(self, client_id: int, error: bool) -> bool:
        for waiter in self.waiters():
            if waiter.client.id == client_id and not waiter.done:
                self._finish(waiter, errors.CLIENT_UNBLOCKED if error else NULL_ARRAY)
                return True
        return False

    def unblock_all(self, error: RedisError) -> None:
        """The node stopped being a primary: every parked client gets ``error`` and is closed."""
        for waiter in self.waiters():
            if not waiter.done:
                waiter.client.close_after_reply = True
                self._finish(waiter, error)

    def key_changed(self, dbkey: DbKey) -> None:
        if dbkey not in self.by_key:
            return
        if dbkey not in self.ready:
            self.ready.append(dbkey)
        self.server.blocked.wake_soon(self)
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self._scheduled)

    # -- serving -------------------------------------------------------------------------
    def _scheduled(self) -> None:
        self.scheduled = False
        self.serve_ready()

    def serve_ready(self) -> None:
        """Serve the ready keys, in the order they became ready (keys made ready
        meanwhile, by a BLMOVE's push, join the end of the round)."""
        if self.serving:
            return  # a served command's own write: the running round takes its keys
        self.serving = True
        try:
            while self.ready:
                dbkey = self.ready.pop(0)
                for waiter in list(self.by_key.get(dbkey, ())):
                    if waiter.done:
                        continue
                    if not self._alive(waiter):
                        self._forget(waiter)
                        continue
                    self._try(waiter, dbkey[1])
        finally:
            self.serving = False

    def _try(self, waiter: Waiter, key: bytes) -> None:
        server = self.server
        if server.refusal is not None:
            self._finish(waiter, server.refusal)
            return
        cmd, argv = waiter.wake(key)
        reply = server.call(waiter.client, cmd, argv)
        if (reply.reply if type(reply) is Pending else reply) is NOT_READY:
            return
        self._finish(waiter, reply)


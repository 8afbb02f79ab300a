"""XREAD and XREADGROUP, with BLOCK.

Serving follows Redis 7.0's ``xreadCommand``: each stream is served at once when it
has entries after the requested ID (for a group with ``>``: after the group's last
delivered ID; with any other ID, the consumer's own pending history is served, and
an explicit ``18446744073709551615-18446744073709551615`` reads like ``>``, as in
Redis). XREADGROUP's effects are the PEL it built (``stream_groups`` documents the
forms): one ``XCLAIM ... FORCE JUSTID`` per delivery time and count, then ``XGROUP
SETID ... ENTRIESREAD`` when the group moved; NOACK logs only the SETID and the
consumer's seen-time.

BLOCK. When nothing can be served and BLOCK was given, the command's reply is held
with the dispatcher's ``Pending`` (as WAIT and durable writes are) and the client is
parked in ``Blocked``, the registry this family enrols in the server's
``server.blocked`` (under ``"streams"``, which CLIENT UNBLOCK asks):

* A parked client watches its keys the way WATCH does: the registry puts a
  ``_KeyWatch`` among ``server.watched``, so every change to the key — a command's
  write, expiry, FLUSHDB, SWAPDB, a replicated write — marks it, exactly as it
  would invalidate a WATCH. Marked keys are looked at once the current batch of
  commands is done (``loop.call_soon``), in the order they were marked, their
  clients in the order they blocked (Redis serves them after each command; a
  client that pipelines a write and its undoing in one batch can differ).
* Serving a woken client runs through ``Server.call`` like any command, so a woken
  XREADGROUP logs its effects and, on a durable node, its reply still waits for
  the journal (and for any uncommitted write to the key).
* A parked client looks at a marked key again only where Redis would signal it:
  after an XADD or XGROUP DESTROY there (``Stream.signals``), or when the key's
  value was replaced or removed — not after XGROUP SETID, XSETID or XDEL.
* XREAD (ids resolved when it blocked; ``$`` is the last ID then) is then served
  once the stream's last ID is past its ID; it ignores deletion and type changes.
  XREADGROUP answers ``-UNBLOCKED the stream key no longer exists`` when the key
  is gone or no longer a stream, ``-NOGROUP ...`` when its group was destroyed,
  and is served once the stream's last ID is past the group's last delivered ID.
  Either gets an empty entry list if what came was deleted in the meantime (as
  Redis), at most COUNT entries (1000 when it gave none), from the first key that
  could serve it.
* The timeout answers the null array; CLIENT UNBLOCK answers it or
  ``-UNBLOCKED client unblocked via CLIENT UNBLOCK``. Inside MULTI/EXEC, BLOCK
  does not block (Redis answers at once there too). A client that disconnects is
  forgotten at the next sweep (every second while anyone is blocked).
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .. import errors
from ..client import Pending
from ..context import Ctx
from ..errors import RedisError
from ..resp import NULL_ARRAY, Map
from ..streamtype import MAX_ID, ZERO_ID, Group, Stream, StreamID, format_id, incr_id, parse_plain_id
from . import REGISTRY
from .stream_groups import nogroup, propagate_claims, seen_effect, setid_effect
from .streams import cstr, entry_reply, stream_command
from .util import keyword, parse_int, to_int

if TYPE_CHECKING:
    from ..client import Client
    from ..server import Server


BLOCKED_DEFAULT_COUNT = 1000  # a woken client without COUNT gets at most this many entries
_SWEEP_S = 1.0
_NEVER_S = 10**9  # a timeout this far away is no timeout worth a timer


@dataclass
class ReadArgs:
    block_ms: int = -1  # -1: no BLOCK; 0: forever
    count: int = 0  # 0: no limit
    streams_at: int = 0
    nstreams: int = 0
    group: bytes | None = None
    consumer: bytes | None = None
    noack: bool = False


def parse_read(argv: list[bytes], xreadgroup: bool) -> ReadArgs:
    a = ReadArgs()
    n = len(argv)
    i = 1
    while i < n:
        more = n - i - 1
        opt = keyword(argv[i])
        if opt == b"block" and more:
            i += 1
            ms = to_int(argv[i])
            if ms is None:
                raise errors.TIMEOUT_NOT_INTEGER
            if ms < 0:
                raise errors.TIMEOUT_NEGATIVE
            a.block_ms = ms
        elif opt == b"count" and more:
            i += 1
            a.count = max(parse_int(argv[i]), 0)
        elif opt == b"streams" and more:
            a.streams_at = i + 1
            rest = n - a.streams_at
            if rest % 2:
                raise errors.XREAD_UNBALANCED
            a.nstreams = rest // 2
            break
        elif opt == b"group" and more >= 2:
            if not xreadgroup:
                raise errors.XREAD_GROUP_ON_XREAD
            a.group, a.consumer = argv[i + 1], argv[i + 2]
            i += 2
        elif opt == b"noack":
            if not xreadgroup:
                raise errors.XREAD_NOACK_ON_XREAD
            a.noack = True
        else:
            raise errors.SYNTAX
        i += 1
    if not a.streams_at:
        raise errors.SYNTAX
    if xreadgroup and a.group is None:
        raise errors.XREAD_MISSING_GROUP
    return a


def _keys_after(word: bytes, startfrom: int) -> Callable[[list[bytes]], list[int]]:
    """COMMAND GETKEYS (and cluster routing) for XREAD/XREADGROUP, as Redis 7.0 finds
    them through the key spec: the first half of what follows the first ``word``
    at or after ``startfrom`` (the last argument is never taken for it)."""

    def getkeys(argv: list[bytes]) -> list[int]:
        n = len(argv)
        for i in range(startfrom, n - 1):
            if keyword(argv[i]) == word:
                first = i + 1
                return list(range(first, first + (n - first) // 2))
        return []

    return getkeys


def resolve_ids(ctx: Ctx, argv: list[bytes], a: ReadArgs) -> tuple[list[StreamID], list[Group | None]]:
    """Each stream's ID (``$`` and ``>`` resolved: ``>`` is MAX_ID) and group, with
    Redis's per-key checks in its order."""
    ids: list[StreamID] = []
    groups: list[Group | None] = []
    for k in range(a.nstreams):
        key = argv[a.streams_at + k]
        arg = argv[a.streams_at + a.nstreams + k]
        s = ctx.lookup_typed(key, Stream)
        g = None
        if a.group is not None:
            g = s.groups.get(a.group) if s is not None else None
            if g is None:
                raise nogroup(key, a.group, b" in XREADGROUP with GROUP option")
        groups.append(g)
        text = cstr(arg)
        if text == b"$":
            if a.group is not None:
                raise errors.XREAD_DOLLAR_ON_GROUP
            ids.append(s.last_id if s is not None else ZERO_ID)
        elif text == b">":
            if a.group is None:
                raise errors.XREAD_GT_ON_XREAD
            ids.append(MAX_ID)
        else:
            ids.append(parse_plain_id(arg, strict=True))
    return ids, groups


# -- serving ------------------------------------------------------------------------------------


def serve_entries(ctx: Ctx, key: bytes, s: Stream, after: StreamID, count: int, group: Group | None,
                  consumer_name: bytes | None, noack: bool) -> list[Any]:
    """Entries after ``after`` (at most ``count``, 0 = all); for a group, deliver
    them: move the group, record the PEL, log the effects."""
    start = incr_id(after)
    out: list[Any] = []
    if start is None:
        return out
    if group is None:
        for sid, flat in s.range(start, MAX_ID):
            out.append(entry_reply(sid, flat))
            if len(out) == count:
                break
        return out
    now = ctx.now_ms
    consumer, _ = group.consumer(consumer_name, now)  # type: ignore[arg-type]
    before = (group.last_id, group.entries_read)
    delivered: list[StreamID] = []
    for sid, flat in s.range(start, MAX_ID):
        if sid > group.last_id:
            s.delivered(group, sid)
        out.append(entry_reply(sid, flat))
        if not noack:
            group.assign(sid, consumer, now, 1)
            delivered.append(sid)
        if len(out) == count:
            break
    ctx.changed_quietly(key)
    if delivered:
        propagate_claims(ctx, key, group, consumer, delivered)
    else:
        ctx.propagate(seen_effect(key, group, consumer))
    if (group.last_id, group.entries_read) != before:
        ctx.propagate(setid_effect(key, group))
    return out


def serve_history(ctx: Ctx, key: bytes, s: Stream, after: StreamID, count: int, group: Group,
                  consumer_name: bytes) -> list[Any]:
    """The consumer's own pending entries after ``after``; a deleted entry comes as
    [id, nil]. Those still in the stream count as delivered again."""
    now = ctx.now_ms
    consumer, _ = group.consumer(consumer_name, now)
    start = incr_id(after) or ZERO_ID
    out: list[Any] = []
    again: list[StreamID] = []
    for sid in consumer.pel.irange(start):
        if count and len(out) >= count:
            break
        flat = s.entries.get(sid)
        if flat is None:
            out.append([format_id(sid), NULL_ARRAY])
            continue
        nack = consumer.pel[sid]
        nack.delivery_time = now
        nack.delivery_count += 1
        out.append(entry_reply(sid, flat))
        again.append(sid)
    ctx.changed_quietly(key)
    if again:
        propagate_claims(ctx, key, group, consumer, again)
    else:
        ctx.propagate(seen_effect(key, group, consumer))
    return out


def keyed_reply(ctx: Ctx, served: list[tuple[bytes, list[Any]]]) -> Any:
    """XREAD's reply: a map of key -> entries in RESP3, [[key, entries], ...] in RESP2."""
    if ctx.client.proto == 3:
        return Map(served)
    return [[key, entries] for key, entries in served]


def read_now(ctx: Ctx, argv: list[bytes], a: ReadArgs, ids: list[StreamID], groups: list[Group | None]) -> Any:
    """Serve what can be served at once; None when nothing could be."""
    served: list[tuple[bytes, list[Any]]] = []
    for k in range(a.nstreams):
        key = argv[a.streams_at + k]
        s = ctx.lookup_typed(key, Stream)
        if s is None:
            continue
        gt, g = ids[k], groups[k]
        if g is not None:
            if gt != MAX_ID:
                served.append((key, serve_history(ctx, key, s, gt, a.count, g, a.consumer)))  # type: ignore[arg-type]
                continue
            if len(s) and s.last_entry_id() > g.last_id:
                served.append((key, serve_entries(ctx, key, s, g.last_id, a.count, g, a.consumer, a.noack)))
        elif len(s) and s.last_entry_id() > gt:
            served.append((key, serve_entries(ctx, key, s, gt, a.count, None, None, False)))
    return keyed_reply(ctx, served) if served else None


def _read(ctx: Ctx, argv: list[bytes], xreadgroup: bool) -> Any:
    a = parse_read(argv, xreadgroup)
    ids, groups = resolve_ids(ctx, argv, a)
    reply = read_now(ctx, argv, a, ids, groups)
    if reply is not None:
        return reply
    if a.block_ms < 0 or ctx.server.running_exec:
        return NULL_ARRAY  # no BLOCK, or inside EXEC where nothing may block
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return NULL_ARRAY  # an in-process server without an event loop can't wait
    return Blocked.of(ctx.server, loop).park(ctx, argv, a, ids)


@stream_command("xread", -4, "readonly blocking", getkeys=_keys_after(b"streams", 1),
                complexity="O(N) per stream for the N entries returned (O(1) with a fixed COUNT); a blocked read "
                           "makes each XADD to its stream O(M) for the M readers it serves.",
                summary="Read entries after given IDs from one or more streams ($: only new ones), optionally "
                        "blocking until some arrive.",
                args="[COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]", key_keyword=("STREAMS", 1))
def xread(ctx: Ctx, argv: list[bytes]) -> Any:
    return _read(ctx, argv, xreadgroup=False)


@stream_command("xreadgroup", -7, "write blocking", getkeys=_keys_after(b"streams", 4),
                complexity="O(M) per stream for the M entries returned (O(1) with a fixed COUNT); a blocked read "
                           "makes each XADD to its stream O(N) for the N readers it serves.",
                summary="Read entries as a consumer of a group: > delivers new ones (recorded as pending unless "
                        "NOACK), another ID re-reads the consumer's pending history.",
                args="GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] "
                     "id [id ...]", key_flags=("RO access",), key_keyword=("STREAMS", 4))
def xreadgroup(ctx: Ctx, argv: list[bytes]) -> Any:
    return _read(ctx, argv, xreadgroup=True)


# -- blocking ------------------------------------------------------------------------------------


class _KeyWatch:
    """Stands among a key's WATCHing clients: being marked dirty means the key changed."""

    __slots__ = ("registry", "dbkey")

    def __init__(self, registry: "Blocked", dbkey: tuple[int, bytes]) -> None:
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
    pending: Pending
    argv: list[bytes]
    args: ReadArgs
    ids: dict[bytes, StreamID]  # key -> the ID its entries must follow (MAX_ID: a group's >)
    db: int
    timer: asyncio.TimerHandle | None = None
    keys: list[tuple[int, bytes]] = field(default_factory=list)
    seen: dict[bytes, tuple[Any, int]] = field(default_factory=dict)  # key -> _signal() when last looked


class Blocked:
    """This server's clients blocked in XREAD/XREADGROUP, by key (a ``roles.BlockedFamily``)."""

    NAME = "streams"  # its name among the server's blocked-client registries

    def __init__(self, server: "Server", loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.loop = loop
        self.by_key: dict[tuple[int, bytes], list[Waiter]] = {}
        self.watches: dict[tuple[int, bytes], _KeyWatch] = {}
        self.ready: list[tuple[int, bytes]] = []
        self.scheduled = False
        self.sweeping = False

    @classmethod
    def of(cls, server: "Server", loop: asyncio.AbstractEventLoop) -> "Blocked":
        """The server's registry, made on first use (again when the event loop changed)."""
        registry = server.blocked.get(cls.NAME)
        if not isinstance(registry, cls) or registry.loop is not loop:
            registry = server.blocked.enrol(cls.NAME, cls(server, loop))
        return registry

    # -- parking -----------------------------------------------------------------------
    def park(self, ctx: Ctx, argv: list[bytes], a: ReadArgs, ids: list[StreamID]) -> Pending:
        keys = argv[a.streams_at : a.streams_at + a.nstreams]
        waiter = Waiter(ctx.client, Pending(self.loop.create_future(), NULL_ARRAY), argv, a,
                        {}, ctx.db.id)
        for key, sid in zip(keys, ids):
            if key in waiter.ids:
                continue  # a key named twice blocks once, on its first ID
            waiter.ids[key] = sid
            waiter.seen[key] = _signal(ctx.lookup(key))
            dbkey = (ctx.db.id, key)
            waiter.keys.append(dbkey)
            self.by_key.setdefault(dbkey, []).append(waiter)
            self._watch(dbkey)
        ctx.client.blocked = True
        if a.block_ms > 0 and a.block_ms / 1000 < _NEVER_S:
            waiter.timer = self.loop.call_later(a.block_ms / 1000, self._finish, waiter, NULL_ARRAY)
        if not self.sweeping:
            self.sweeping = True
            self.loop.call_later(_SWEEP_S, self._sweep)
        return waiter.pending

    def _watch(self, dbkey: tuple[int, bytes]) -> None:
        if dbkey not in self.watches:
            watch = self.watches[dbkey] = _KeyWatch(self, dbkey)
            self.server.watched.setdefault(dbkey, set()).add(watch)  # type: ignore[arg-type]

    def _unwatch(self, dbkey: tuple[int, bytes]) -> None:
        watch = self.watches.pop(dbkey, None)
        watchers = self.server.watched.get(dbkey)
        if watch is not None and watchers is not None:
            watchers.discard(watch)  # type: ignore[arg-type]
            if not watchers:
                del self.server.watched[dbkey]

    def _forget(self, waiter: Waiter) -> None:
        waiter.client.blocked = False
        if waiter.timer is not None:
            waiter.timer.cancel()
            waiter.timer = None
        for dbkey in waiter.keys:
            waiters = self.by_key.get(dbkey)
            if waiters is not None and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self.by_key[dbkey]
                    self._unwatch(dbkey)

    def _finish(self, waiter: Waiter, reply: Any) -> None:
        """Answer a parked client with ``reply`` (a value, an error or a Pending)."""
        self._forget(waiter)
        outer = waiter.pending
        if outer.future.done():
            return
        if type(reply) is Pending:
            inner = reply

            def settle(fut: "asyncio.Future[Any]") -> None:
                if outer.future.done():
                    return
                exc = None if fut.cancelled() else fut.exception()
                outer.reply = exc if isinstance(exc, RedisError) else inner.reply
                outer.future.set_result(None)

            inner.future.add_done_callback(settle)
            return
        outer.reply = reply
        outer.future.set_result(None)

    def _alive(self, waiter: Waiter) -> bool:
        client = waiter.client
        return self.server.clients.get(client.id) is client and client.protocol is not None

    def _sweep(self) -> None:
        for waiters in list(self.by_key.values()):
            for waiter in list(waiters):
                if not self._alive(waiter):
                    self._forget(waiter)
        if self.by_key:
            self.loop.call_later(_SWEEP_S, self._sweep)
        else:
            self.sweeping = False

    def unblock_client(self, client_id: int, error: bool) -> bool:
        for waiters in self.by_key.values():
            for waiter in waiters:
                if waiter.client.id == client_id:
                    self._finish(waiter, errors.XREAD_UNBLOCKED if error else NULL_ARRAY)
                    return True
        return False

    def unblock_all(self, error: RedisError) -> None:
        """The node stopped being a primary: Redis answers every blocked read and closes it."""
        for waiters in list(self.by_key.values()):
            for waiter in list(waiters):
                if not waiter.pending.future.done():
                    waiter.client.close_after_reply = True
                    self._finish(waiter, error)

    # -- waking --------------------------------------------------------------------------
    def key_changed(self, dbkey: tuple[int, bytes]) -> None:
        if dbkey not in self.ready:
            self.ready.append(dbkey)
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self._serve_ready)

    def _serve_ready(self) -> None:
        self.scheduled = False
        while self.ready:
            dbkey = self.ready.pop(0)
            for waiter in list(self.by_key.get(dbkey, ())):
                if waiter.pending.future.done() or not self._alive(waiter):
                    self._forget(waiter)
                    continue
                self._try(waiter, dbkey[1])

    def _try(self, waiter: Waiter, key: bytes) -> None:
        """Serve ``waiter`` from ``key`` if it can be; it stays parked otherwise."""
        server = self.server
        a = waiter.args
        if server.refusal is not None:
            self._finish(waiter, server.refusal)
            return
        if a.group is not None and server.read_only:
            self._finish(waiter, errors.READONLY)
            return
        name = b"xreadgroup" if a.group is not None else b"xread"
        body = _wake_body(waiter, key)
        argv = _served_argv(waiter, key)
        cmd = dataclasses.replace(REGISTRY[name], handler=body)
        reply = server.call(waiter.client, cmd, argv)
        inner = reply.reply if type(reply) is Pending else reply
        if inner is _NOT_READY:
            return
        self._finish(waiter, reply)


_NOT_READY = object()


def _served_argv(waiter: Waiter, key: bytes) -> list[bytes]:
    """The read a woken client amounts to (its keys are what a durable node's read
    hold looks at)."""
    a = waiter.args
    head = [b"XREADGROUP", b"GROUP", a.group, a.consumer] if a.group is not None else [b"XREAD"]
    return [*head, b"COUNT", b"%d" % (a.count or BLOCKED_DEFAULT_COUNT), b"STREAMS", key,
            b">" if a.group is not None else format_id(waiter.ids[key])]  # type: ignore[list-item]


def _signal(value: Any) -> tuple[Any, int]:
    """What a blocked client last saw of its key: the value object and, for a
    stream, its signal count."""
    return value, value.signals if type(value) is Stream else 0


def _wake_body(waiter: Waiter, key: bytes) -> Callable[[Ctx, list[bytes]], Any]:
    """The served read, as Redis 7.0 serves a client blocked on ``key`` when the key
    is signalled: it looks again only after an XADD or XGROUP DESTROY there, or
    when the key's value was replaced or removed (not after XGROUP SETID, XSETID,
    XDEL...). Then an XREAD is served once the stream's last ID passed its ID, an
    XREADGROUP once it passed the group's — with an empty entry list if what came
    was deleted since."""
    a = waiter.args
    count = a.count or BLOCKED_DEFAULT_COUNT

    def body(ctx: Ctx, argv: list[bytes]) -> Any:
        value = ctx.lookup(key)
        seen = waiter.seen.get(key)
        now = _signal(value)
        if seen is not None and seen[0] is now[0] and seen[1] == now[1]:
            return _NOT_READY
        waiter.seen[key] = now
        s = value if type(value) is Stream else None
        if a.group is None:
            gt = waiter.ids[key]
            if s is None or s.last_id <= gt:
                return _NOT_READY
            return keyed_reply(ctx, [(key, serve_entries(ctx, key, s, gt, count, None, None, False))])
        if s is None:
            raise errors.XREAD_KEY_GONE
        g = s.groups.get(a.group)
        if g is None:
            raise errors.XREAD_GROUP_GONE
        if s.last_id <= g.last_id:
            return _NOT_READY
        return keyed_reply(ctx, [(key, serve_entries(ctx, key, s, g.last_id, count, g, a.consumer, a.noack))])

    return body


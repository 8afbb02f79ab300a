"""A data node: the keyspace, its clients, and the dispatcher between them.

The dispatcher (``Server.execute``) is the single place that enforces, in Redis
7.0's order: unknown command, arity, authentication, MULTI queueing rules, ACL
permissions (commands, keys, channels; again at EXEC), slot ownership (cluster),
OOM for ``denyoom`` commands (counting the write's own size: ``write_size``),
READONLY on replicas and the pub/sub context. A connection whose user may run
everything (``User.unrestricted``, the default user) skips the ACL check after one
attribute read. A reply that would pass the client's output limit is not sent: the
client is closed (``OutputLimitReached``), as Redis closes it.

``Server.call`` runs a command body and hands a write's effects to ``self.log``;
when the log returns a future (durable mode), the reply is held in a ``Pending``
until the journal has committed it.

``EffectLog`` is where a write's effects go; the node's role (``roles.NodeRole``,
``self.role``) says which: a standalone node has none, cache mode streams effects
to replicas, durable mode appends them to the shard's journal stream. The role is
the node's only seam to replication and durability: the fields the dispatcher reads
on every command (``log``, ``read_only``, ``expires_locally``, ``refusal``) are
copied from it by ``role_changed``, and INFO replication, ROLE, WAIT, REPLICAOF and
shutdown go through it. Blocked clients live in ``self.blocked``, one registry per
family of blocking commands. No other module sets attributes on a ``Server``.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any, Callable, Iterator, Protocol

from . import __version__, encodings, errors
from .acl import DENIED_CHANNEL, DENIED_CMD, DENIED_KEY
from .acl_users import AclUsers
from .active_expiry import active_expire_cycle
from .client import Client, ClientProtocol, OutputLimitReached, Pending
from .cluster import ClusterState
from .commands import Command, load_all
from .config import EngineConfig, RuntimeParams
from .context import Ctx
from .errors import NOPERM_CHANNEL, NOPERM_CMD, NOPERM_KEY, RedisError
from .eviction import Evictor
from .keyspace import Keyspace
from .latency import Telemetry
from .pubsub import PubSub
from .resp import NULL_ARRAY, QUEUED, RequestParser, encode_command
from .roles import BlockedClients, NodeRole, RoleFactory, StandaloneRole
from .scripting_run import ScriptRunner

_ALWAYS_ALLOWED_IN_MULTI = {b"exec", b"discard", b"multi", b"watch", b"quit", b"reset"}
_EXEC_DENIALS = {
    DENIED_CMD: "no permission to execute the command or subcommand",
    DENIED_KEY: "no permission to touch the specified keys",
    DENIED_CHANNEL: "no permission to access one of the channels used as arguments",
}


def encode_effects(db: int, effects: list[list[bytes]]) -> bytes:
    """Effects as a RESP command stream that starts by selecting their database."""
    return encode_command([b"SELECT", b"%d" % db]) + b"".join(encode_command(argv) for argv in effects)


class EffectLog(Protocol):
    """Where a write's effects go once it executed."""

    def append(self, db: int, effects: list[list[bytes]], keys: list[tuple[int, bytes]]) -> "asyncio.Future[Any] | None":
        """Record the effects; a returned future delays the client's reply until it completes."""


@dataclass
class Stats:
    total_connections_received: int = 0
    total_commands_processed: int = 0
    rejected_connections: int = 0
    expired_keys: int = 0
    evicted_keys: int = 0
    # Active expiry cycles that stopped because their budget was spent (Redis's name).
    expired_time_cap_reached_count: int = 0
    # CPU time of the expiry loop's thread spent in active expiry cycles, microseconds:
    # the total (INFO's expire_cycle_cpu_milliseconds) and the longest single cycle.
    expire_cycle_cpu_us: int = 0
    expire_cycle_cpu_max_us: int = 0
    keyspace_hits: int = 0
    keyspace_misses: int = 0
    total_net_input_bytes: int = 0
    total_net_output_bytes: int = 0
    total_error_replies: int = 0


class Server:
    def __init__(self, config: EngineConfig, clock: Callable[[], float] = time.time, *,
                 role: RoleFactory = StandaloneRole, on_shutdown: Callable[[], None] | None = None) -> None:
        self.config = config
        self.clock = clock
        self.commands: dict[bytes, Command] = load_all()
        self._spellings = {**{name.upper(): cmd for name, cmd in self.commands.items()}, **self.commands}
        self.keyspace = Keyspace(1 if config.cluster_enabled else config.databases)
        self.params = RuntimeParams(config, config.port)
        # maxmemory is read by every denyoom command: kept as an int, refreshed on CONFIG SET.
        self.maxmemory = self.params.get_int("maxmemory")
        self.params.params["maxmemory"].on_change = self._maxmemory_changed
        # The users (acl_users.AclUsers); requirepass is the default user's password.
        self.acl = AclUsers(config.requirepass, config.aclfile)
        self.params.params["requirepass"].on_change = self._requirepass_changed
        self.pubsub = PubSub()
        self.stats = Stats()
        # maxmemory-policy (eviction.py); ``lfu`` is read by every key lookup.
        self.lfu = False
        self.evictor = Evictor(self)
        self.params.params["maxmemory-policy"].on_change = self._policy_changed
        self.telemetry = Telemetry(self)  # commandstats, errorstats, slowlog, LATENCY
        self.clients: dict[int, Client] = {}
        self._next_client_id = 1
        self.watched: dict[tuple[int, bytes], set[Client]] = {}
        self.dirty = 0
        self.rng = random.Random()
        self.run_id = os.urandom(20).hex()
        self.node_id = config.node_id or os.urandom(20).hex()
        self.start_time = time.time()
        self.port = config.port
        # Durable mode: (db, key) -> future of the latest uncommitted write to it. A read
        # of such a key is answered only once that write has committed.
        self.tracker: dict[tuple[int, bytes], asyncio.Future[Any]] = {}
        # The role's current answers, read by the dispatcher on every command (copied
        # by role_changed): where effects go; when set, the error every command that
        # touches keys gets (a primary whose lease ended, a fenced node); whether this
        # node expires keys (a replica waits for the primary's DEL); whether normal
        # clients may write.
        self.log: EffectLog | None = None
        self.refusal: RedisError | None = None
        self.expires_locally = True
        self.read_only = False
        self.blocked = BlockedClients()
        self.role: NodeRole = role(self)
        self.role_changed()
        # The process that owns the node stops it on SHUTDOWN (else the node stops itself).
        self._on_shutdown = on_shutdown
        self._master: Client | None = None  # the client that applies a primary's stream
        self.cluster: ClusterState | None = None
        if config.cluster_enabled:
            self.cluster = ClusterState(self.node_id)
            self.keyspace.dbs[0].enable_slot_index()
        self._batch: list[list[bytes]] | None = None  # effects of a running EXEC
        self._batch_keys: list[tuple[int, bytes]] = []
        self._batch_db = 0
        self.scripts = ScriptRunner(self)  # EVAL/FCALL in execution (busy scripts)
        self._tcp: asyncio.AbstractServer | None = None
        self._cron_task: asyncio.Task[None] | None = None
        self._mem_checked_at = 0.0
        self._mem_cached = 0
        self.events: list[str] = []

    # -- role ------------------------------------------------------------------------
    def set_role(self, role: NodeRole) -> None:
        """Hand the node to ``role`` (cache replication, durable mode)."""
        self.role = role
        self.role_changed()

    def role_changed(self) -> None:
        """The role's answers changed (promoted, demoted, lease lost, fenced): take them."""
        role = self.role
        was_read_only = self.read_only
        self.log = role.effect_log()
        self.read_only = role.read_only
        self.expires_locally = role.expires_locally
        self.refusal = role.refusal
        self.blocked.node_changed(was_read_only, self.read_only, self.refusal)

    @contextmanager
    def expiry_paused(self) -> Iterator[None]:
        """Keys whose TTL passed stay while loading a copy of someone else's data."""
        saved, self.expires_locally = self.expires_locally, False
        try:
            yield
        finally:
            self.expires_locally = saved

    @property
    def running_exec(self) -> bool:
        """Inside EXEC, where nothing may block."""
        return self._batch is not None

    def request_shutdown(self) -> None:
        """SHUTDOWN: the owning process stops the node, or it stops itself."""
        if self._on_shutdown is not None:
            self._on_shutdown()
            return
        try:
            asyncio.get_running_loop().create_task(self.stop())
        except RuntimeError:
            raise errors.SHUTDOWN_FAILED from None

    # -- clients ---------------------------------------------------------------------
    def new_client(self, addr: str, laddr: str) -> Client:
        client = Client(self, self._next_client_id, addr, laddr)
        self._next_client_id += 1
        self.clients[client.id] = client
        self.stats.total_connections_received += 1
        return client

    def remove_client(self, client: Client) -> None:
        self.clients.pop(client.id, None)
        self.pubsub.drop_client(client)
        self.unwatch_all(client)

    def close_for_output_limit(self, client: Client) -> None:
        """Close a client whose reply passed its output-buffer limit (logged like Redis)."""
        if client.killed:
            return
        from .commands.client_cmds import client_info_line

        self.log_event(
            f"Client {client_info_line(client, self.clock())} scheduled to be closed ASAP "
            "for overcoming of output buffer limits."
        )
        client.kill()

    def log_event(self, message: str) -> None:
        self.events.append(message)
        del self.events[:-100]
        print(message, file=sys.stderr, flush=True)

    def auth_required(self) -> bool:
        """Whether a connection that hasn't logged in must: the default user has a
        password or is off (evaluated at every command, as Redis does)."""
        return self.acl.default_needs_auth()

    def _policy_changed(self) -> None:
        self.lfu = self.evictor.policy_changed()

    def _requirepass_changed(self) -> None:
        self.acl.set_default_password(self.params.get("requirepass"))

    # -- WATCH -----------------------------------------------------------------------
    def watch(self, client: Client, db: int, key: bytes) -> None:
        k = (db, key)
        if k not in client.watched:
            client.watched.add(k)
            self.watched.setdefault(k, set()).add(client)

    def unwatch_all(self, client: Client) -> None:
        for k in client.watched:
            clients = self.watched.get(k)
            if clients is not None:
                clients.discard(client)
                if not clients:
                    del self.watched[k]
        client.watched.clear()
        client.watch_dirty = False

    def touch_watched(self, keys: list[tuple[int, bytes]]) -> None:
        watched = self.watched
        for k in keys:
            clients = watched.get(k)
            if clients:
                for c in clients:
                    c.watch_dirty = True

    def touch_watched_db(self, db: int) -> None:
        """FLUSHDB/FLUSHALL/SWAPDB: every watcher of a key in ``db`` is invalidated."""
        for (d, _key), clients in self.watched.items():
            if d == db:
                for c in clients:
                    c.watch_dirty = True

    # -- dispatch --------------------------------------------------------------------
    def lookup_command(self, argv: list[bytes]) -> Command | RedisError:
        """Resolve ``argv`` to a command or subcommand and check its arity."""
        # Names spelled in lower or upper case, as clients send them, skip the .lower().
        cmd = self._spellings.get(argv[0]) or self.commands.get(argv[0].lower())
        if cmd is None:
            return errors.unknown_command(argv)
        if cmd.subcommands:
            if len(argv) < 2:
                if cmd.handler is None:
                    return errors.wrong_arity(cmd.name)
            else:
                sub = cmd.subcommands.get(argv[1].lower())
                if sub is None:
                    if cmd.handler is None:
                        return errors.unknown_subcommand(argv, cmd.name)
                else:
                    cmd = sub
        arity = cmd.arity
        if (arity > 0 and len(argv) != arity) or len(argv) < -arity:
            return errors.wrong_arity(cmd.name)
        return cmd

    def execute(self, client: Client, argv: list[bytes]) -> Any:
        """Check and run one command from ``client``; the reply or a ``Pending``."""
        self.stats.total_commands_processed += 1
        now = self.clock()
        client.last_interaction = now
        cmd = self.lookup_command(argv)
        if type(cmd) is not Command:
            if client.multi is not None:
                client.multi_error = True
            return self.telemetry.rejected(argv, cmd)
        client.last_command = cmd.name_bytes
        if not client.authenticated and not cmd.no_auth and self.auth_required():
            if client.multi is not None:
                client.multi_error = True
            return self.telemetry.rejected(argv, errors.NOAUTH)
        if self.refusal is not None and (cmd.first_key or cmd.getkeys) and not client.is_master:
            return self.telemetry.rejected(argv, self.refusal)
        if client.multi is not None and "no_multi" in cmd.flags and argv[0].lower() not in _ALWAYS_ALLOWED_IN_MULTI:
            client.multi_error = True
            return self.telemetry.rejected(argv, errors.NOT_ALLOWED_IN_MULTI)
        user = client.user
        if not user.unrestricted and cmd.name not in user.runs_anywhere:
            denied = user.check(cmd, argv)
            if denied is not None:
                if client.multi is not None:
                    client.multi_error = True
                return self.telemetry.rejected(argv, self.acl_denied(client, cmd, argv, denied))
        if self.cluster is not None:
            refusal = self.cluster.check(client, cmd, argv)
            if refusal is not None:
                if client.multi is not None:
                    client.multi_error = True
                return self.telemetry.rejected(argv, refusal)
        if cmd.denyoom and self.maxmemory and not client.no_evict:
            if not self.evictor.admit(self.used_memory(), self.write_size(cmd, argv)):
                if client.multi is not None:
                    client.multi_error = True
                return self.telemetry.rejected(argv, errors.OOM)
        if cmd.write and self.read_only and not client.multi:
            return self.telemetry.rejected(argv, errors.READONLY)
        if client.proto == 2 and client.in_pubsub and not cmd.pubsub_ok:
            return self.telemetry.rejected(argv, errors.pubsub_context(cmd.name))
        if self.scripts.busy and "allow_busy" not in cmd.flags:
            if client.multi is not None:
                client.multi_error = True
            return self.scripts.busy_error()
        if client.multi is not None and argv[0].lower() not in _ALWAYS_ALLOWED_IN_MULTI:
            client.multi.append((cmd, argv))
            return QUEUED
        reply = self.call(client, cmd, argv, now)
        if self.blocked.due:  # keys this command (or EXEC) made ready serve their blocked clients now
            self.blocked.serve_ready()
        return reply

    def call(self, client: Client, cmd: Command, argv: list[bytes], now: float | None = None) -> Any:
        """Run a command body; hand its effects to the log; hold the reply if needed."""
        ctx = Ctx(self, client, int((self.clock() if now is None else now) * 1000), not cmd.write)
        started = perf_counter_ns()
        try:
            reply = cmd.handler(ctx, argv)  # type: ignore[misc]
        except RedisError as err:
            self.telemetry.error(err)
            self.telemetry.stat(cmd.name).failed += 1
            reply = err
        except OutputLimitReached:
            # Nothing of the reply is sent; like Redis, the rest of an EXEC still runs.
            self.close_for_output_limit(client)
            reply = None
        except (MemoryError, RecursionError, OverflowError, ValueError, TypeError, KeyError, IndexError) as exc:
            # A bug or a resource limit in one command must not take the node (or
            # even the connection) down: answer an error and keep the message.
            self.log_event(f"internal error in {cmd.name}: {type(exc).__name__}: {exc}")
            reply = errors.internal_error(cmd.name, type(exc).__name__)
            self.telemetry.error(reply)
            self.telemetry.stat(cmd.name).failed += 1
        elapsed = perf_counter_ns() - started
        telemetry = self.telemetry  # commandstats: one increment unless the call took a whole µs
        stat = telemetry.commands.get(cmd.name) or telemetry.stat(cmd.name)
        stat.calls += 1
        if elapsed >= telemetry.floor_ns:
            telemetry.timed(stat, client, cmd, argv, elapsed)
        if ctx.dirty_keys or ctx.effects:
            future = self._after_write(client, cmd, argv, ctx)
            if future is not None and type(reply) is not Pending:
                return Pending(future, reply)
        elif ctx.dirty:
            self.dirty += ctx.dirty
        if self.tracker and (cmd.first_key or cmd.getkeys) and type(reply) is not Pending:
            return self._hold_read(client, cmd, argv, reply)
        return reply

    def _hold_read(self, client: Client, cmd: Command, argv: list[bytes], reply: Any) -> Any:
        """A read of a key with an uncommitted write waits for that write's commit."""
        tracker = self.tracker
        waits = [tracker[(client.db, k)] for k in cmd.keys(argv) if (client.db, k) in tracker]
        if not waits:
            return reply
        if len(waits) == 1:
            return Pending(waits[0], reply)
        return Pending(asyncio.ensure_future(asyncio.gather(*waits)), reply)

    def _after_write(self, client: Client, cmd: Command, argv: list[bytes], ctx: Ctx) -> "asyncio.Future[Any] | None":
        self.dirty += ctx.dirty
        if ctx.dirty_keys:
            if cmd.name not in encodings.NOTED_IN_PLACE:  # the hot writes note conversions themselves
                encodings.after_write(self, cmd.name, argv, ctx)
            if self.watched:
                self.touch_watched(ctx.dirty_keys if ctx.quiet is None else ctx.watch_keys())
        effects = ctx.effects
        if effects is None:
            effects = [argv] if cmd.write and ctx.dirty else []
        elif not ctx.replaced and cmd.write and ctx.dirty:
            effects.append(argv)
        if not effects:
            return None
        if self._batch is not None:
            if ctx.db.id != self._batch_db:
                # A SELECT inside MULTI: later effects belong to another database.
                self._batch.append([b"SELECT", b"%d" % ctx.db.id])
                self._batch_db = ctx.db.id
            self._batch.extend(effects)
            self._batch_keys.extend(ctx.dirty_keys)
            return None
        if self.log is None:
            return None
        return self.log.append(ctx.db.id, effects, ctx.dirty_keys)

    def exec_transaction(self, client: Client) -> Any:
        """EXEC: run the queued commands as one unit whose effects are logged once."""
        queued = client.multi or []
        client.multi = None
        if client.multi_error:
            client.multi_error = False
            self.unwatch_all(client)
            return errors.EXECABORT
        if client.watch_dirty:
            self.unwatch_all(client)
            return NULL_ARRAY
        self.unwatch_all(client)
        start_db = client.db
        self.begin_batch(start_db)
        replies: list[Any] = []
        try:
            for cmd, argv in queued:
                if cmd.write and self.read_only:
                    replies.append(errors.READONLY)
                    continue
                user = client.user
                if not user.unrestricted and cmd.name not in user.runs_anywhere:
                    # The rules may have changed since the command was queued.
                    denied = user.check(cmd, argv)
                    if denied is not None:
                        self.acl_denied(client, cmd, argv, denied, b"multi")
                        replies.append(errors.acl_changed_before_exec(_EXEC_DENIALS[denied[0]]))
                        continue
                replies.append(self.call(client, cmd, argv))
        finally:
            future = self.end_batch(start_db)
        if future is not None:
            return Pending(future, replies)
        return replies

    def begin_batch(self, db: int) -> None:
        """Collect the effects of the next commands as one unit (EXEC, a script)."""
        self._batch, self._batch_keys, self._batch_db = [], [], db

    def batch_size(self) -> int:
        return 0 if self._batch is None else len(self._batch)

    def end_batch(self, db: int) -> "asyncio.Future[Any] | None":
        """Log the collected effects as ``MULTI ... EXEC``; the log's future, if any."""
        batch, keys = self._batch, self._batch_keys
        self._batch, self._batch_keys = None, []
        if batch and self.log is not None:
            return self.log.append(db, [[b"MULTI"], *batch, [b"EXEC"]], keys)
        return None

    def acl_denied(self, client: Client, cmd: Command, argv: list[bytes], denied: tuple[int, int],
                   context: bytes = b"") -> RedisError:
        """Log a denial (ACL LOG) and return the NOPERM error for it."""
        from .commands.client_cmds import client_info_line

        reason, index = denied
        obj = cmd.name_bytes if reason == DENIED_CMD else argv[index]
        context = context or (b"multi" if client.multi is not None else b"toplevel")
        now = self.clock()
        info = client_info_line(client, now, argv).encode()
        self.acl.log_denial(reason, context, obj, client.user.name, info, int(now * 1000))
        if reason == DENIED_CMD:
            return RedisError(NOPERM_CMD.format(cmd.name))
        return NOPERM_KEY if reason == DENIED_KEY else NOPERM_CHANNEL

    # -- replication stream ------------------------------------------------------------
    def apply_stream(self, payload: bytes) -> int:
        """Apply effects received from the journal or a primary; returns commands applied.

        The payload is a RESP command stream (``SELECT db`` then commands, as
        ``encode_effects`` writes it). It runs as the primary's own client would:
        no auth, slot or READONLY checks, and nothing is logged again.
        """
        self.scripts.finish_now()  # the stream applies after a running script, as in Redis
        client = self._master_client()
        saved_log, self.log = self.log, None
        parser = RequestParser(max_bulk_len=2**62)
        parser.feed(payload)
        applied = 0
        try:
            while (argv := parser.next_command()) is not None:
                name = argv[0].lower()
                if name in (b"multi", b"exec"):
                    continue
                cmd = self.lookup_command(argv)
                if type(cmd) is not Command:
                    raise RuntimeError(f"replication stream has a bad command: {argv!r}: {cmd}")
                self.call(client, cmd, argv)
                applied += 1
        finally:
            self.log = saved_log
        return applied

    def _master_client(self) -> Client:
        client = self._master
        if client is None:
            client = Client(self, 0, "journal:0", "local:0")
            client.authenticated = True
            client.is_master = True
            client.name = b"journal"
            self._master = client
        return client

    # -- memory ------------------------------------------------------------------------
    def config_maxmemory(self) -> int:
        return self.maxmemory

    def _maxmemory_changed(self) -> None:
        self.maxmemory = self.params.get_int("maxmemory")

    def write_size(self, cmd: Command, argv: list[bytes]) -> int:
        """The bytes a denyoom write may add, known before it runs: its arguments, plus
        the growth its offset implies (SETRANGE, SETBIT, BITFIELD).

        Redis checks maxmemory only before a write, so one huge write still passes
        while the node is under the limit; a sandbox node must not, so the write's
        own size counts. A growth past proto-max-bulk-len is not counted: the command
        refuses it itself, with Redis's error, before allocating anything.
        """
        size = sum(map(len, argv))
        if cmd.grows is not None:
            growth = cmd.grows(argv)
            if growth <= self.params.get_int("proto-max-bulk-len"):
                size += growth
        return size

    def used_memory(self) -> int:
        """Resident memory of this process, in bytes (sampled at most every 10 ms).

        Python can't cheaply count its dataset like zmalloc does, so ``maxmemory``
        bounds the whole process: the honest number for a host that runs many nodes.
        """
        now = time.monotonic()
        if now - self._mem_checked_at > 0.01:
            self._mem_checked_at = now
            try:
                with open("/proc/self/statm", "rb") as f:
                    self._mem_cached = int(f.read().split()[1]) * resource.getpagesize()
            except OSError:
                self._mem_cached = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return self._mem_cached

    # -- background work ------------------------------------------------------------
    def active_expire_cycle(self) -> int:
        if self.scripts.busy:
            return 0  # a script past the threshold still owns the keyspace
        return active_expire_cycle(self)

    async def _cron(self) -> None:
        while True:
            await asyncio.sleep(1 / self.params.get_int("hz"))
            self.active_expire_cycle()

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self._tcp = await loop.create_server(
            lambda: ClientProtocol(self), self.config.bind, self.config.port, reuse_address=True, backlog=511
        )
        self.port = self._tcp.sockets[0].getsockname()[1]
        self.params.params["port"].value = str(self.port)
        self._cron_task = loop.create_task(self._cron())
        return self.port

    async def stop(self) -> None:
        self.role.close()
        if self._cron_task is not None:
            self._cron_task.cancel()
        if self._tcp is not None:
            self._tcp.close()
        for client in list(self.clients.values()):
            client.kill()
        if self._tcp is not None:
            await self._tcp.wait_closed()

    def info_version(self) -> str:
        return __version__

"""The host journal: one process per zone for the whole host, one Raft group per
durable cluster in it (multi-Raft, as TiKV and CockroachDB host their regions and
ranges).

A ``ZoneHost`` runs this zone's replica of every group (journal_host_group.py).
What a dedicated journal process (journal_server.py) pays per cluster is paid once
per host here:

* **one flush pass per event-loop turn** for all groups: every group that wrote to
  its log in the turn is fsynced in one pass (a file per group: see the note in
  journal_host_group.py), then their waiting messages leave and their Raft nodes
  learn what is durable;
* **one link per ordered zone pair** (journal_host_links.py) carrying, per turn,
  one binary frame with every group's messages (journal_host_wire.py);
* **timers by next deadline**: a group's Raft clock is a ``call_at`` at its node's
  next deadline (rounded up to ``timer_slack_ms`` so groups due together fire in
  one turn and share a frame); no fixed tick, and a group with nothing due is
  not woken.

Ports (all may be 0; ``<zone>.json`` in the discovery directory publishes them):

* client port -- the journal's RESP2 commands (journal_commands.py), after
  ``AUTH <group> <secret>`` or ``AUTH <secret>`` (the group whose secret it is:
  every cluster's data nodes and snapshotter keep speaking the dedicated
  journal's protocol). The connection is then bound to that group and addresses
  nothing else. A wrong group or secret answers ``-WRONGPASS``; the
  ``MAX_AUTH_FAILURES``-th ends the connection; before AUTH only AUTH is
  answered, with redis-server's pre-AUTH size limits. A group that is down in
  this zone (a fault) refuses the connection, as a killed process would.
* raft port -- the other zones' links, proven with the host secret.
* control port -- the supervisor's (journal_host_control.py), after ``AUTH
  <host secret>``: create/drop groups, and the per-group faults.

Invariants (per group, those of journal_server.py):
* An append is acknowledged only once committed: a majority of zones fsynced it.
* A Raft message leaves only after every log write made before it is fsynced.
* A sandbox's secret reaches its own group only; the host secret, which no sandbox
  holds, is the only way to the raft and control ports.
* A fault on one group (kill, pause) touches no other group's state or timers.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import shutil
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from . import errors
from .errors import ProtocolError, RedisError
from .journal_auth import check_secret
from .journal_commands import MAX_AUTH_FAILURES, Session
from .journal_host_group import HostedGroup, valid_group_id
from .journal_host_links import ZoneLink, ZoneListener
from .journal_host_wire import encode_message
from .journal_peers import publish_address
from .journal_server import MAX_CLIENT_BULK, JournalConfig, _answered, _print_event
from .raft import Message, RaftConfig
from .resp import OK, RequestParser, encode

ZONES = ("az-a", "az-b", "az-c")
SECRET_FILE = "secret"


@dataclass(frozen=True)
class HostConfig:
    zone: str  # this process's zone, one of `zones`; each group's replica here has this node id
    data_dir: str  # this zone's groups live under <data_dir>/groups/<group>/ (created if missing)
    discovery_dir: str  # shared by the zone processes: each publishes <zone>.json (host, ports, pid)
    secret: bytes = field(repr=False)  # the host's own secret (>= 16 chars): zone links and control port
    zones: tuple[str, ...] = ZONES  # every zone process of the host (every group has a replica in each)
    host: str = "127.0.0.1"  # address to listen on and to publish
    raft_port: int = 0  # TCP port for the other zones' links; 0 picks a free one
    client_port: int = 0  # TCP port for data nodes and snapshotters (RESP2); 0 picks a free one
    control_port: int = 0  # TCP port for the supervisor's commands; 0 picks a free one
    raft: RaftConfig = field(default_factory=RaftConfig)  # every group's timeouts (ms)
    timer_slack_ms: int = 10  # ms, 0..50: group deadlines round up to this grid (0 = exact)
    compact_threshold: int = 20000  # entries, >= 1: per group, as JournalConfig's
    append_timeout_ms: int = 5000  # ms, > 0: as JournalConfig's
    seed: int | None = None  # seeds every group's election RNG (with its id); None: random


def _now_ms() -> int:
    return int(time.monotonic() * 1000)


def _digest(secret: bytes) -> bytes:
    return hashlib.sha256(secret).digest()


class ZoneHost:
    """This zone's replicas of every group, their shared flush pass, links and timers."""

    def __init__(self, config: HostConfig, on_event: Callable[[dict[str, Any]], None] | None = None,
                 on_ready: Callable[[dict[str, Any]], None] | None = None) -> None:
        check_secret(config.secret.decode(), "HostConfig.secret")
        if config.zone not in config.zones:
            raise ValueError(f"zone {config.zone!r} is not one of {config.zones}")
        self.config = config
        self.on_event = on_event or _print_event
        self.on_ready = on_ready
        self.groups_dir = os.path.join(config.data_dir, "groups")
        os.makedirs(self.groups_dir, exist_ok=True)
        os.makedirs(config.discovery_dir, exist_ok=True)
        self.secrets: dict[str, bytes] = {}  # every group registered here, hosted or down
        self.by_digest: dict[bytes, str] = {}  # sha256(secret) -> group, for AUTH <secret>
        self.groups: dict[str, HostedGroup] = {}  # the groups whose replica runs here now
        self.links: dict[str, ZoneLink] = {}
        self.listener = ZoneListener(config.zone, config.zones, config.secret, self._deliver)
        self._dirty: dict[HostedGroup, None] = {}  # groups with log writes not yet fsynced
        self._flush_scheduled = False
        self.flush_passes = 0  # passes that fsynced at least one group
        self.fsyncs = 0  # group logs fsynced, over every pass
        self.wakeups = 0  # group timers fired
        self.loop: asyncio.AbstractEventLoop | None = None
        self.client_port = self.raft_port = self.control_port = 0
        for group in sorted(os.listdir(self.groups_dir)):
            try:
                with open(os.path.join(self.groups_dir, group, SECRET_FILE), "rb") as f:
                    secret = f.read().strip()
            except OSError:
                continue  # a creation that a crash interrupted before the secret was durable
            self._register(group, secret)
            self._open(group)

    # -- the registry -----------------------------------------------------------------------

    def _register(self, group: str, secret: bytes) -> None:
        self.secrets[group] = secret
        self.by_digest[_digest(secret)] = group

    def _group_config(self, group: str) -> JournalConfig:
        c = self.config
        seed = None if c.seed is None else c.seed ^ int.from_bytes(_digest(group.encode())[:8], "big")
        return JournalConfig(c.zone, c.zones, os.path.join(self.groups_dir, group), c.discovery_dir, host=c.host,
                             raft=c.raft, compact_threshold=c.compact_threshold,
                             append_timeout_ms=c.append_timeout_ms, seed=seed, secret=self.secrets[group])

    def _open(self, group: str) -> HostedGroup:
        g = HostedGroup(self, group, self._group_config(group), self.on_event)
        self.groups[group] = g
        if self.loop is not None:
            self.arm(g)
        return g

    def create_group(self, group: str, secret: bytes) -> RedisError | None:
        """Register and start a group (idempotent with the same secret): None, or the refusal."""
        if not valid_group_id(group):
            return errors.JOURNAL_BAD_GROUP_ID
        try:
            check_secret(secret.decode("utf-8", "replace"), f"group {group}")
        except ValueError as exc:
            return errors.journal_bad_argument(str(exc))
        if group in self.secrets:
            return None if hmac.compare_digest(self.secrets[group], secret) else errors.JOURNAL_GROUP_EXISTS
        if _digest(secret) in self.by_digest:
            return errors.JOURNAL_SECRET_IN_USE  # AUTH <secret> must name one group only
        directory = os.path.join(self.groups_dir, group)
        os.makedirs(directory, exist_ok=True)
        tmp = os.path.join(directory, "." + SECRET_FILE)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, secret)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, os.path.join(directory, SECRET_FILE))  # the group exists once this is durable
        for path in (directory, self.groups_dir):
            dfd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        self._register(group, secret)
        self._open(group)
        self.on_event({"event": "group_created", "zone": self.config.zone, "group": group})
        return None

    def drop_group(self, group: str) -> RedisError | None:
        """Stop a group and delete its files here (the cluster is gone)."""
        if group not in self.secrets:
            return errors.JOURNAL_NO_GROUP
        g = self.groups.pop(group, None)
        if g is not None:
            g.stop()
            self._dirty.pop(g, None)
        self.by_digest.pop(_digest(self.secrets.pop(group)), None)
        shutil.rmtree(os.path.join(self.groups_dir, group), ignore_errors=True)
        return None

    def kill_group(self, group: str) -> RedisError | None:
        """This zone's replica of one group dies as a SIGKILLed journal process would:
        memory gone (unsynced messages, pending appends, connections), its file as
        written; down until ``start_group``. No other group notices."""
        g = self.groups.pop(group, None)
        if g is None:
            return errors.JOURNAL_NO_GROUP if group not in self.secrets else None
        g.stop()
        self._dirty.pop(g, None)
        self.on_event({"event": "group_killed", "zone": self.config.zone, "group": group})
        return None

    def start_group(self, group: str) -> RedisError | None:
        """Restart a killed replica: it recovers from its own log, then from its peers."""
        if group not in self.secrets:
            return errors.JOURNAL_NO_GROUP
        if group not in self.groups:
            self._open(group)
        return None

    def pause_group(self, group: str, paused: bool) -> RedisError | None:
        g = self.groups.get(group)
        if g is None:
            return errors.JOURNAL_NO_GROUP
        if paused:
            g.pause()
        else:
            g.resume()
        return None

    # -- the runtime shared by every group --------------------------------------------------

    def mark_dirty(self, g: HostedGroup) -> None:
        self._dirty[g] = None
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """The turn's one flush pass: fsync every group that wrote, then let each
        one's waiting messages go and tell its Raft node what is durable.

        A file per group: one fsync per group that wrote in the turn. A shared
        group-tagged file would make that one fsync, at the price of a per-group
        trim that rewrites everybody's log; measured on this machine an fsync of a
        small append is ~0.1 ms, so the pass over the few groups active in one
        turn is not where the time goes (not yet measured side by side with a
        shared file: the per-file form was kept for its per-group trim)."""
        self._flush_scheduled = False
        dirty, self._dirty = list(self._dirty), {}
        done = [(g, r) for g in dirty if (r := g.sync()) is not None]
        if done:
            self.flush_passes += 1
            self.fsyncs += len(done)
        for g, (outbox, index, term) in done:
            g.synced(outbox, index, term)

    def arm(self, g: HostedGroup) -> None:
        """Make sure g's timer fires no later than its node's next deadline."""
        if g.paused or g.stopped or self.loop is None:
            return
        due = g.node.next_tick_due()
        slack = self.config.timer_slack_ms
        if slack > 1:
            due = -(-due // slack) * slack
        if g.timer is not None:
            if g.timer_due_ms <= due:
                return  # it fires no later; the tick then re-arms at the real deadline
            g.timer.cancel()
        g.timer_due_ms = due
        g.timer = self.loop.call_at(self.loop.time() + max(due - _now_ms(), 0) / 1000, self._fire, g)

    def _fire(self, g: HostedGroup) -> None:
        self.wakeups += 1
        g.tick(_now_ms())

    def send(self, zone: str, group: str, message: Message) -> None:
        link = self.links.get(zone)
        if link is not None:
            link.queue(group, encode_message(message))

    def _deliver(self, group: str, message: Message) -> None:
        g = self.groups.get(group)
        if g is not None:  # a group down here (or dropped) reads nothing, like a dead process
            g.deliver(message, _now_ms())

    # -- the client port ----------------------------------------------------------------------

    def _login(self, args: list[bytes]) -> tuple[Any, HostedGroup | None, bool]:
        """AUTH [group] secret: (reply, the group it binds, whether to close the connection)."""
        if len(args) == 2:
            group = self.by_digest.get(_digest(args[1]))
        elif len(args) == 3:
            group = args[1].decode("ascii", "replace")
        else:
            return errors.wrong_arity("auth"), None, False
        secret = self.secrets.get(group) if group is not None else None
        if secret is None or not hmac.compare_digest(secret, args[-1]):
            return errors.JOURNAL_WRONGPASS, None, False
        g = self.groups.get(group) if group is not None else None
        if g is None:
            return None, None, True  # its replica is down here: as if the port refused us
        return OK, g, False

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # As journal_server's: commands run concurrently, replies go back in order.
        replies: asyncio.Queue[asyncio.Future[Any] | None] = asyncio.Queue()

        async def write_replies() -> None:
            try:
                while (fut := await replies.get()) is not None:
                    writer.write(encode(await fut))
                    if replies.empty():
                        await writer.drain()
            except (ConnectionError, asyncio.CancelledError):
                writer.close()

        replier = asyncio.create_task(write_replies())
        parser = RequestParser(MAX_CLIENT_BULK)
        session = Session(authenticated=False)
        group: HostedGroup | None = None
        try:
            while session.failures < MAX_AUTH_FAILURES:
                data = await reader.read(65536)
                if not data or (group is not None and group.stopped):
                    break
                parser.feed(data)
                while session.failures < MAX_AUTH_FAILURES and (args := session.next_command(parser)) is not None:
                    if group is not None:
                        replies.put_nowait(asyncio.ensure_future(self._run(group, args)))
                        continue
                    if args[0].upper() != b"AUTH":
                        replies.put_nowait(_answered(errors.NOAUTH))
                        continue
                    reply, group, close = self._login(args)
                    if close:
                        raise ConnectionError("the group is down in this zone")
                    if group is None:
                        session.failures += int(reply is errors.JOURNAL_WRONGPASS)
                        replies.put_nowait(_answered(reply))
                    else:
                        session.authenticated = True
                        group.clients.add(writer)
                        replies.put_nowait(asyncio.ensure_future(self._run(group, [])))  # paused: even AUTH waits
            replies.put_nowait(None)
            await replier
        except (ConnectionError, ValueError, ProtocolError, asyncio.CancelledError):
            pass
        finally:
            replier.cancel()
            if group is not None:
                group.clients.discard(writer)
            writer.close()

    async def _run(self, group: HostedGroup, args: list[bytes]) -> Any:
        if group.paused:
            await group.resumed.wait()  # a paused process answers once it runs again
        if group.stopped:
            raise ConnectionError("the group's replica died")
        return await group.commands.run(args) if args else OK

    # -- lifecycle -------------------------------------------------------------------------------

    async def serve(self) -> None:
        from .journal_host_control import ControlPort

        c = self.config
        self.loop = asyncio.get_running_loop()
        control = ControlPort(self)
        raft_srv = await asyncio.start_server(self.listener.on_connection, c.host, c.raft_port)
        client_srv = await asyncio.start_server(self._on_client, c.host, c.client_port)
        control_srv = await asyncio.start_server(control.on_connection, c.host, c.control_port)
        self.raft_port = raft_srv.sockets[0].getsockname()[1]
        self.client_port = client_srv.sockets[0].getsockname()[1]
        self.control_port = control_srv.sockets[0].getsockname()[1]
        address = {"node_id": c.zone, "host": c.host, "raft_port": self.raft_port, "client_port": self.client_port,
                   "control_port": self.control_port, "pid": os.getpid()}
        publish_address(c.discovery_dir, address)
        self.links = {z: ZoneLink(c.zone, z, c.secret, c.discovery_dir) for z in c.zones if z != c.zone}
        for g in self.groups.values():
            self.arm(g)
        if self.on_ready is not None:
            self.on_ready(address)
        tasks = [asyncio.create_task(link.run()) for link in self.links.values()]
        try:
            async with raft_srv, client_srv, control_srv:
                await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            for g in self.groups.values():
                g.stop()

    def stats(self) -> dict[str, int]:
        return {"groups": len(self.groups), "flush_passes": self.flush_passes, "fsyncs": self.fsyncs,
                "wakeups": self.wakeups, "frames_sent": sum(link.frames_sent for link in self.links.values())}


async def run_zone_host(config: HostConfig, on_ready: Callable[[dict[str, Any]], None] | None = None,
                        on_event: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Run this zone's host journal until cancelled."""
    await ZoneHost(config, on_event, on_ready).serve()

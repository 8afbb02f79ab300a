"""The journal process: one replica of the multi-AZ transaction log.

Hosts the same ``RaftNode`` and ``JournalState`` the simulator drives, with its Raft
log in a ``records.py`` file (group commit: every input handled in one event-loop
turn is written, then fsynced once), peers reached over TCP on loopback carrying
``encode_message`` frames (``u32 length | message``), and a client port speaking
RESP2:

    JAPPEND shard after_id kind payload   -> :id | -CONDFAIL <tail> | -FENCED <leader>
                                             | -NOTLEADER <host:port|?> | -TIMEOUT ...
                                             | -TOOBIG ... (over MAX_ENTRY_BYTES)
    JREAD shard after_id count block_ms   -> *[[id, kind, payload], ...] | -TRIMMED <upto> <snapshot>
    JTAIL shard                           -> :tail
    JTRIM shard upto_id [snapshot_id]     -> +OK
    JDISK                                 -> *[used_bytes, cap_bytes, log_bytes]  (cap 0 = none)
    JLEADER shard                         -> *[node, epoch, entry_id] | nil
    JROLE                                 -> *[node_id, role, term, leader|nil, commit, recovering]
    PING                                  -> +PONG
    AUTH secret                           -> +OK | -WRONGPASS ...

Authentication (``JournalConfig.secret``, from ``--auth-file``; journal_auth.py):
with a secret, a client connection must send ``AUTH <secret>`` first. Until it
has, every other command -- PING too, as redis-server does: an unauthenticated
connection learns nothing but that the port is open -- answers ``-NOAUTH
Authentication required.``, and a command larger than redis-server allows before
AUTH (more than 10 arguments, or one over 16 KiB) ends the connection, so a
stranger cannot make the replica buffer megabytes. A wrong secret answers
``-WRONGPASS``; the ``MAX_AUTH_FAILURES``-th ends the connection. A peer link
starts with the challenge-response of journal_auth.py before any Raft message,
and then carries only messages from the replica it proved to be. Without a
secret nothing of this applies (AUTH is an unknown command, as before).

Replicas find each other through a discovery directory: each writes
``<node_id>.json`` (host, ports, pid) once it listens, so every port can be 0.

A log file that is corrupt in the middle (``CorruptLogError``: a bad record followed
by valid ones -- a torn tail is simply cut off) is not trusted and not guessed at:
the replica links it aside as ``<node_id>.journal.corrupt-<UTC timestamp>`` (kept
for inspection), atomically replaces it with a log that holds only
``HardState(recovering=True)``, reports ``{"event": "journal_log_corrupt", "file",
"offset", "reason", "moved_to"}`` (JSON on stdout, and a line on stderr), and runs
its Raft node in the recovering state (raft_recovery.py): no votes,
no campaigns, until it holds everything it could have lost; then it reports
``{"event": "journal_recovered", "term", "index"}``. JROLE's last field says
whether it is still recovering. A file of another format version is refused.

This module is the process and its per-replica state driver (the runtime contract
of raft.py: Raft's actions carried out, group commit, applying committed entries to
``JournalState``) and the client connections; what each command means is in
journal_commands.py, the links between replicas in journal_peers.py.

Invariants:

* An append is acknowledged only after it is applied on this (leader) replica,
  i.e. committed: a majority of zones fsynced it.
* A Raft message leaves only after every log write made before it is fsynced
  (the runtime contract in raft.py); ``persisted`` is reported after each fsync.
* Reads serve this replica's applied state: committed entries only, maybe stale.
* With a secret, no command of a client and no Raft message of a peer is acted on
  before that connection has proven the secret.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from . import journal_auth
from .errors import ProtocolError
from .journal_commands import MAX_AUTH_FAILURES, JournalCommands, Session
from .journal_peers import PeerLink, PeerListener, publish_address
from .journal_state import (
    AppendCommand,
    MAX_ENTRY_BYTES,
    JournalState,
    Result,
    TrimCommand,
    Trimmed,
    encode_command,
)
from .raft import (
    Action,
    Apply,
    HardState,
    Persist,
    PersistentState,
    Proposed,
    RaftConfig,
    RaftNode,
    Recovered,
    RestoreSnapshot,
    Role,
    RoleChanged,
    Send,
)
from .raft_messages import encode_message, persist_records
from .records import (
    CorruptLogError,
    FsyncPolicy,
    RecordFile,
    RecordFileConfig,
    RecoveryReport,
    UnsupportedFormatError,
)
from .resp import RequestParser, encode

# A client's command carries at most one entry's data (MAX_ENTRY_BYTES) plus its
# shard name and numbers.
MAX_CLIENT_BULK = MAX_ENTRY_BYTES + 64 * 1024


@dataclass(frozen=True)
class JournalConfig:
    node_id: str  # this replica's name, e.g. "az-a"; unique in the group
    peers: tuple[str, ...]  # every replica's node_id, this one included (3 for three zones)
    data_dir: str  # directory for this replica's log file (created if missing)
    discovery_dir: str  # shared directory where replicas publish their addresses
    host: str = "127.0.0.1"  # address to listen on and to publish (loopback by default)
    raft_port: int = 0  # TCP port for peer traffic; 0 picks a free one
    client_port: int = 0  # TCP port for RESP clients; 0 picks a free one
    raft: RaftConfig = field(default_factory=RaftConfig)  # timeouts etc. (ms)
    tick_ms: int = 50  # ms, 1..1000: how often the Raft clock is advanced
    compact_threshold: int = 20000  # entries, >= 1: applied entries beyond the snapshot before compacting
    append_timeout_ms: int = 5000  # ms, > 0: how long JAPPEND waits for the commit before -TIMEOUT
    seed: int | None = None  # seeds the election-timeout RNG; None: random
    secret: bytes = field(default=b"", repr=False)  # the group's shared secret; b"": no authentication
    disk_quota_bytes: int = 0  # bytes, >= 0: cap on this replica's log file plus snapshot_dir; 0 = none
    snapshot_dir: str = ""  # the cluster's snapshots, counted in the quota ("" = not counted)


def _now_ms() -> int:
    return int(time.monotonic() * 1000)


def _fsync_dir(path: str) -> None:
    fd = os.open(os.path.dirname(os.path.abspath(path)) or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _print_event(event: dict[str, Any]) -> None:
    """Default event sink: one JSON line on stdout (what the supervisor reads)."""
    try:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass


def quarantine_corrupt_log(path: str, now: float | None = None) -> str:
    """Keep a corrupt log for inspection and put a recovering-only log in its place.

    The file is hard-linked (copied if links are unsupported) to
    ``<path>.corrupt-<UTC timestamp>``, then a new log holding just
    ``HardState(recovering=True)`` is written, fsynced and renamed over `path`. At
    every instant `path` is either the corrupt file (a crash here just repeats the
    detection) or the recovering one -- never missing, which would look like a
    brand-new replica allowed to vote. Returns the name the bad file was kept under.
    """
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    aside, n = f"{path}.corrupt-{stamp}", 1
    while os.path.exists(aside):
        n += 1
        aside = f"{path}.corrupt-{stamp}-{n}"
    try:
        os.link(path, aside)
    except OSError:
        shutil.copyfile(path, aside)
        with open(aside, "rb") as f:
            os.fsync(f.fileno())
    _fsync_dir(path)
    tmp = path + ".recovering"
    if os.path.exists(tmp):
        os.unlink(tmp)  # left by a crash during an earlier attempt
    fresh, _ = RecordFile.open(tmp, RecordFileConfig(fsync=FsyncPolicy.ALWAYS))
    fresh.append_many(persist_records(Persist(hard_state=HardState(recovering=True))))
    fresh.close()
    os.replace(tmp, path)
    _fsync_dir(path)
    return aside


class JournalServer:
    def __init__(self, config: JournalConfig, on_event: Callable[[dict[str, Any]], None] | None = None,
                 on_ready: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.config = config
        self.on_ready = on_ready  # gets the address once the replica listens
        self.on_event = on_event or _print_event
        os.makedirs(config.data_dir, exist_ok=True)
        os.makedirs(config.discovery_dir, exist_ok=True)
        path = os.path.join(config.data_dir, f"{config.node_id}.journal")
        self.corruption: dict[str, Any] | None = None  # what the start-up found, if the log was corrupt
        self.file, self.recovery, self.mirror = self._open_log(path)
        seed = config.seed if config.seed is not None else int.from_bytes(os.urandom(8), "big")
        self.node = RaftNode(config.node_id, config.peers, config.raft, random.Random(seed), self.mirror)
        snap = self.mirror.snapshot
        self.state = JournalState.restore(snap.data) if snap else JournalState()
        self.pending: dict[int, tuple[int, asyncio.Future[Result | None]]] = {}
        self.outbox: list[Send] = []  # Sends waiting for the next fsync
        self.dirty = False  # log writes not yet covered by an fsync
        self.flush_scheduled = False
        self.applied = asyncio.Event()
        self.links: dict[str, PeerLink] = {}
        self.listener = PeerListener(config.node_id, config.peers, config.secret,
                                     lambda message: self.handle(self.node.step(message, _now_ms())))
        self.commands = JournalCommands(self)
        self.raft_port = self.client_port = 0
        self._recovery_started = time.monotonic() if self.node.recovering else None
        self.compact_due = False  # a trim freed entries: rewrite the log now (disk quota)

    def _open_log(self, path: str) -> tuple[RecordFile, RecoveryReport, PersistentState]:
        """Open the Raft log; a corrupt one is set aside and replaced by a recovering one."""
        config = RecordFileConfig(fsync=FsyncPolicy.GROUP)
        try:
            file, report = RecordFile.open(path, config)
        except UnsupportedFormatError:
            raise  # another version's file, not damage: an operator must decide
        except CorruptLogError as exc:
            return self._recover_from(path, exc)
        try:
            return file, report, PersistentState.from_records(file.records())
        except CorruptLogError as exc:  # a record changed between the scan and the read
            file.close()
            return self._recover_from(path, exc)

    def _recover_from(self, path: str, exc: CorruptLogError) -> tuple[RecordFile, RecoveryReport, PersistentState]:
        moved_to = quarantine_corrupt_log(path)
        self.corruption = {"event": "journal_log_corrupt", "node_id": self.config.node_id, "file": exc.path,
                           "offset": exc.offset, "reason": exc.reason, "moved_to": moved_to}
        print(f"journal {self.config.node_id}: {exc}; the file was kept as {moved_to}; this replica will not vote "
              f"until it has recovered the log from the other zones", file=sys.stderr, flush=True)
        self.on_event(dict(self.corruption))
        file, report = RecordFile.open(path, RecordFileConfig(fsync=FsyncPolicy.GROUP))
        mirror = PersistentState.from_records(file.records())
        assert mirror.hard_state.recovering and not mirror.entries
        return file, report, mirror

    # -- the runtime (same contract as the simulator's JournalReplica) ---------------------

    def handle(self, actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, Send):
                if self.dirty:
                    self.outbox.append(a)  # not before the next fsync
                else:
                    self._transmit(a)
            elif isinstance(a, Persist):
                self.mirror.apply(a)
                try:
                    if a.snapshot is not None:
                        self.file.rewrite(self.mirror.to_records())  # fsyncs; earlier writes included
                    else:
                        self.file.append_many(persist_records(a))
                except OSError as exc:
                    self._disk_failed("write", exc)
                self.dirty = True
            elif isinstance(a, Apply):
                self._apply(a)
            elif isinstance(a, RestoreSnapshot):
                self.state = JournalState.restore(a.snapshot.data)
                for index in [i for i in self.pending if i <= a.snapshot.index]:
                    self._resolve(index, None)
            elif isinstance(a, RoleChanged):
                if a.role is Role.LEADER:
                    self.on_event({"event": "journal_leader", "node_id": self.config.node_id, "term": a.term})
            elif isinstance(a, Recovered):
                took = time.monotonic() - self._recovery_started if self._recovery_started else 0.0
                print(f"journal {self.config.node_id}: recovered the log up to entry {a.index} in term {a.term} "
                      f"({took:.2f}s); voting again", file=sys.stderr, flush=True)
                self.on_event({"event": "journal_recovered", "node_id": self.config.node_id, "term": a.term,
                               "index": a.index, "duration_ms": round(took * 1000)})
        if self.node.applied - self.node.log.base_index >= self.config.compact_threshold or (
                self.compact_due and self.node.applied > self.node.log.base_index):
            self.compact_due = False
            self.handle(self.node.compact(self.node.applied, self.state.snapshot()))
        if self.dirty and not self.flush_scheduled:
            self.flush_scheduled = True  # group commit: one fsync after this event-loop turn
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Group commit: one fsync covers every log write since the last one (all the
        proposals and appends of the event-loop turns in between); then the sends that
        waited for it go out and Raft learns what is durable (the runtime contract in
        raft.py).

        The fsync runs on the event loop. A worker thread was tried: each hand-off
        costs two thread wake-ups, and on this project's machine (fsync ~0.1 ms) that
        cost more than the overlap saved -- with the fsync inline a durable cluster
        used 13-23% less CPU at 25-100 writes/s and served 7,900-12,400 SET/s to
        redis-benchmark -c 50 against 5,200-9,100 with the thread (four runs each). What arrives during
        an fsync waits in the socket buffers and is covered by the next one.
        """
        self.flush_scheduled = False
        if not self.dirty:
            return
        self.dirty = False
        outbox, self.outbox = self.outbox, []
        index, term = self.mirror.last_index, self.mirror.last_term
        try:
            os.fsync(self.file.fileno())
        except OSError as exc:
            self._disk_failed("fsync", exc)
        for send in outbox:
            self._transmit(send)
        self.handle(self.node.persisted(index, term))

    def _disk_failed(self, what: str, exc: OSError) -> None:
        """The log could not be written or made durable: stop at once. After a failed
        fsync the kernel may have dropped the unwritten pages, so nothing since the
        last good one can be trusted and a retry could falsely succeed; and an
        exception here would only be logged by the event loop while Raft carried on.
        The restarted replica recovers from its log and its peers."""
        print(f"journal {self.config.node_id}: {what} failed ({exc}); stopping", file=sys.stderr, flush=True)
        os._exit(1)

    def _apply(self, a: Apply) -> None:
        for e in a.entries:
            result = None if e.noop else self.state.apply(e.payload)
            if isinstance(result, Trimmed) and self.config.disk_quota_bytes:
                # Trimmed entries stay in the file until the next compaction; with a
                # quota the space must come back now, or writes would stay refused.
                self.compact_due = True
            waiting = self.pending.get(e.index)
            if waiting is not None:
                self._resolve(e.index, result if waiting[0] == e.term else None)
        self.applied.set()
        self.applied = asyncio.Event()

    def _resolve(self, index: int, result: Result | None) -> None:
        _, fut = self.pending.pop(index)
        if not fut.done():
            fut.set_result(result)

    def _transmit(self, send: Send) -> None:
        link = self.links.get(send.to)
        if link is not None:
            link.send(encode_message(send.message))

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.config.tick_ms / 1000)
            self.handle(self.node.tick(_now_ms()))

    def propose(self, cmd: AppendCommand | TrimCommand) -> "asyncio.Future[Result | None]":
        """Hand a command to Raft (NotLeaderError unless this replica leads). The future
        gets its result once applied here, None if its log slot went to another
        leader's entry (it did not happen)."""
        actions = self.node.propose(encode_command(cmd), _now_ms())
        fut: asyncio.Future[Result | None] = asyncio.get_running_loop().create_future()
        for a in actions:
            if isinstance(a, Proposed):
                self.pending[a.index] = (a.term, fut)
        self.handle(actions)
        return fut

    # -- clients -------------------------------------------------------------------------

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Commands run concurrently (a primary pipelines its appends: each names the
        # id the previous one will get) and their replies go back in request order.
        # Tasks start in creation order, so proposals reach Raft in arrival order.
        # Requests are read by the engine's RequestParser (resp.py), replies written by
        # its encoder; a malformed or (before AUTH) oversized request ends the connection.
        replies: asyncio.Queue[asyncio.Future[Any] | None] = asyncio.Queue()

        async def write_replies() -> None:
            while (fut := await replies.get()) is not None:
                writer.write(encode(await fut))
                if replies.empty():
                    await writer.drain()

        replier = asyncio.create_task(write_replies())
        parser = RequestParser(MAX_CLIENT_BULK)
        session = Session(authenticated=not self.config.secret)
        try:
            while session.failures < MAX_AUTH_FAILURES:
                data = await reader.read(65536)
                if not data:
                    break
                parser.feed(data)
                while session.failures < MAX_AUTH_FAILURES and (args := session.next_command(parser)) is not None:
                    refusal = self.commands.gate(session, args)
                    if refusal is None:
                        replies.put_nowait(asyncio.ensure_future(self.commands.run(args)))
                    else:
                        replies.put_nowait(_answered(refusal))
            replies.put_nowait(None)  # and a connection that kept guessing is closed below
            await replier
        except (ConnectionError, ValueError, ProtocolError, asyncio.CancelledError):
            pass
        finally:
            replier.cancel()
            writer.close()

    # -- lifecycle -------------------------------------------------------------------------

    async def serve(self) -> None:
        c = self.config
        raft_srv = await asyncio.start_server(self.listener.on_connection, c.host, c.raft_port)
        client_srv = await asyncio.start_server(self._on_client, c.host, c.client_port)
        self.raft_port = raft_srv.sockets[0].getsockname()[1]
        self.client_port = client_srv.sockets[0].getsockname()[1]
        address = {"node_id": c.node_id, "host": c.host, "raft_port": self.raft_port,
                   "client_port": self.client_port, "pid": os.getpid()}
        publish_address(c.discovery_dir, address)
        if self.on_ready is not None:
            self.on_ready(address)
        self.links = {p: PeerLink(c.node_id, p, c.secret, c.discovery_dir) for p in c.peers if p != c.node_id}
        tasks = [asyncio.create_task(link.run()) for link in self.links.values()]
        tasks.append(asyncio.create_task(self._ticker()))
        try:
            async with raft_srv, client_srv:
                await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            self.file.close()


def _answered(value: Any) -> "asyncio.Future[Any]":
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    fut.set_result(value)
    return fut


async def run_journal(
    config: JournalConfig,
    on_ready: Callable[[dict[str, Any]], None] | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Run one journal replica until cancelled; ``on_ready`` gets its address once it
    listens; ``on_event`` gets events such as ``journal_log_corrupt`` (default: a JSON
    line on stdout)."""
    await JournalServer(config, on_event, on_ready).serve()


def secret_from_file(path: str) -> bytes:
    """``--auth-file``: the secret it holds (journal_auth.load_secret), or b"" without one."""
    return journal_auth.load_secret(path) if path else b""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.engine.journal_server")
    parser.add_argument("--id", required=True, help="this replica's node id, e.g. az-a")
    parser.add_argument("--peers", required=True, help="comma-separated node ids of all replicas")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--discovery-dir", required=True)
    parser.add_argument("--raft-port", type=int, default=0)
    parser.add_argument("--client-port", type=int, default=0)
    parser.add_argument("--auth-file", default="", help="file holding the group's shared secret (0600)")
    args = parser.parse_args(argv)
    try:
        secret = secret_from_file(args.auth_file)
    except (OSError, ValueError) as exc:
        print(f"journal {args.id}: {exc}", file=sys.stderr)
        return 1
    config = JournalConfig(args.id, tuple(args.peers.split(",")), args.data_dir, args.discovery_dir,
                           raft_port=args.raft_port, client_port=args.client_port, secret=secret)

    async def run() -> None:
        task = asyncio.create_task(run_journal(config))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass

    print(json.dumps({"event": "starting", "node_id": args.id, "pid": os.getpid()}), flush=True)
    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())

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
its Raft node in the recovering state (raft.py, "Recovering a lost log"): no votes,
no campaigns, until it holds everything it could have lost; then it reports
``{"event": "journal_recovered", "term", "index"}``. JROLE's last field says
whether it is still recovering. A file of another format version is refused.

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
import hmac
import json
import os
import random
import shutil
import signal
import struct
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from . import errors, journal_auth
from .errors import ProtocolError, RedisError
from .journal_auth import HandshakeError
from .journal_state import (
    AppendCommand,
    Appended,
    CondFail,
    EntryKind,
    Fenced,
    MAX_ENTRY_BYTES,
    JournalState,
    Rejected,
    Result,
    TrimCommand,
    Trimmed,
    TrimmedError,
    encode_command,
)
from .raft import (
    Action,
    Apply,
    HardState,
    NotLeaderError,
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
from .raft_messages import decode_message, encode_message, persist_records
from .records import (
    MAX_PAYLOAD,
    CorruptLogError,
    FsyncPolicy,
    RecordFile,
    RecordFileConfig,
    RecoveryReport,
    UnsupportedFormatError,
)
from .resp import OK, PONG, RequestParser, encode

_FRAME = struct.Struct(">I")
# A client's command carries at most one entry's data (MAX_ENTRY_BYTES) plus its
# shard name and numbers; a peer frame carries whole entries or a compaction snapshot,
# as large as its u32 length field allows.
MAX_CLIENT_BULK = MAX_ENTRY_BYTES + 64 * 1024
MAX_FRAME = MAX_PAYLOAD
MAX_AUTH_FAILURES = 3  # wrong secrets on one connection before it is closed
HANDSHAKE_TIMEOUT_S = 2.0  # a peer connection must complete the handshake within this
REFUSAL_REPORT_INTERVAL_S = 60.0  # at most one stderr line per interval about refused peers


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


def _tree_bytes(root: str) -> int:
    """Bytes of the regular files under ``root`` (0 when it is missing)."""
    total = 0
    for directory, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.stat(os.path.join(directory, name)).st_size
            except OSError:
                pass  # removed while we looked (a retention pass)
    return total


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
    def __init__(self, config: JournalConfig, on_event: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.config = config
        self.on_ready: Callable[[dict[str, Any]], None] | None = None
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
        self.links: dict[str, _PeerLink] = {}
        self.raft_port = self.client_port = 0
        self.refused_peers = 0  # peer connections closed for want of a proof (reported on stderr)
        self._refusals_reported_at = 0.0
        self._recovery_started = time.monotonic() if self.node.recovering else None
        self.compact_due = False  # a trim freed entries: rewrite the log now (disk quota)
        self._snapshots_bytes = (0.0, 0)  # (monotonic time measured, bytes)

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

    # -- peers -------------------------------------------------------------------------

    def address_of(self, node_id: str) -> dict[str, Any] | None:
        try:
            with open(os.path.join(self.config.discovery_dir, f"{node_id}.json")) as f:
                return json.load(f)  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return None

    async def _on_peer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            peer = await self._admit_peer(reader, writer) if self.config.secret else None
            while True:
                message = decode_message(await _read_frame(reader, MAX_FRAME))
                if peer is not None and message.frm != peer:
                    break  # a proven replica speaks for itself only
                self.handle(self.node.step(message, _now_ms()))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _admit_peer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
        """The acceptor's half of the handshake (journal_auth.py): the proven peer's
        name. A connection that does not prove the secret in time is refused."""
        frame, nonce = journal_auth.hello()
        try:
            writer.write(_FRAME.pack(len(frame)) + frame)
            proof = await asyncio.wait_for(_read_frame(reader, journal_auth.HANDSHAKE_MAX_BYTES), HANDSHAKE_TIMEOUT_S)
            peer, answer = journal_auth.accept(self.config.secret, nonce, proof, self.config.node_id, self.config.peers)
        except (HandshakeError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError, ConnectionError) as exc:
            self._refused_peer(exc)
            raise ConnectionError("peer handshake failed") from None
        writer.write(_FRAME.pack(len(answer)) + answer)
        await writer.drain()
        return peer

    def _refused_peer(self, exc: Exception) -> None:
        """Count a refused peer connection; say so on stderr, at most once a minute
        (a local process could open connections in a loop)."""
        self.refused_peers += 1
        now = time.monotonic()
        if now - self._refusals_reported_at >= REFUSAL_REPORT_INTERVAL_S:
            self._refusals_reported_at = now
            reason = str(exc) or type(exc).__name__
            print(f"journal {self.config.node_id}: refused a peer connection that did not prove the journal "
                  f"secret ({reason}); {self.refused_peers} refused so far", file=sys.stderr, flush=True)

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
        session = _Session(authenticated=not self.config.secret)
        try:
            while session.failures < MAX_AUTH_FAILURES:
                data = await reader.read(65536)
                if not data:
                    break
                parser.feed(data)
                while session.failures < MAX_AUTH_FAILURES and (args := session.next_command(parser)) is not None:
                    refusal = self._gate(session, args)
                    if refusal is None:
                        replies.put_nowait(asyncio.ensure_future(self._command(args)))
                    else:
                        replies.put_nowait(_answered(refusal))
            replies.put_nowait(None)  # and a connection that kept guessing is closed below
            await replier
        except (ConnectionError, ValueError, ProtocolError, asyncio.CancelledError):
            pass
        finally:
            replier.cancel()
            writer.close()

    def _gate(self, session: "_Session", args: list[bytes]) -> Any:
        """AUTH, and what a connection may not run before it: the reply to send
        instead of running ``args``, or None to run them."""
        secret = self.config.secret
        if not secret:
            return None  # no authentication: AUTH is an unknown command, as before
        if args[0].upper() == b"AUTH":
            if len(args) != 2:
                return errors.wrong_arity("auth")
            if hmac.compare_digest(args[1], secret):
                session.authenticated = True
                return OK
            session.failures += 1
            return errors.JOURNAL_WRONGPASS
        return None if session.authenticated else errors.NOAUTH

    def _not_leader(self) -> RedisError:
        addr = self.address_of(self.node.leader_id) if self.node.leader_id else None
        hint = f"{addr['host']}:{addr['client_port']}" if addr else "?"
        return errors.journal_not_leader(hint)

    async def _command(self, args: list[bytes]) -> Any:
        name = args[0].upper()
        try:
            if name == b"PING":
                return PONG
            if name == b"JAPPEND" and len(args) == 5:
                kind = EntryKind(args[3].decode())
                if len(args[4]) > MAX_ENTRY_BYTES:
                    return errors.journal_too_big(MAX_ENTRY_BYTES)
                if kind is EntryKind.DATA and self.over_hard_quota():
                    used, cap, _log = self.disk_use()
                    return errors.journal_quota(used, cap)
                return await self._propose(AppendCommand(args[1].decode(), int(args[2]), kind, args[4]))
            if name == b"JTRIM" and len(args) in (3, 4):
                snapshot_id = args[3].decode() if len(args) == 4 else ""
                return await self._propose(TrimCommand(args[1].decode(), int(args[2]), snapshot_id))
            if name == b"JREAD" and len(args) == 5:
                return await self._read(args[1].decode(), int(args[2]), int(args[3]), int(args[4]))
            if name == b"JDISK" and len(args) == 1:
                return list(self.disk_use())
            if name == b"JTAIL" and len(args) == 2:
                return self.state.tail(args[1].decode())
            if name == b"JLEADER" and len(args) == 2:
                lead = self.state.leader(args[1].decode())
                return [lead.node, lead.epoch, lead.entry_id] if lead else None
            if name == b"JROLE" and len(args) == 1:
                n = self.node
                return [n.id, n.role.value, n.term, n.leader_id, n.commit, int(n.recovering)]
        except (ValueError, UnicodeDecodeError) as exc:
            return errors.journal_bad_argument(str(exc))
        return errors.journal_unknown_command(name)

    # -- the disk quota ------------------------------------------------------------------

    def disk_use(self) -> tuple[int, int, int]:
        """(bytes used, the quota, bytes of the log file): this replica's log plus the
        cluster's snapshots (measured at most every half second)."""
        log = self.file.size
        measured_at, snapshots = self._snapshots_bytes
        if self.config.snapshot_dir and time.monotonic() - measured_at > 0.5:
            snapshots = _tree_bytes(self.config.snapshot_dir)
            self._snapshots_bytes = (time.monotonic(), snapshots)
        return log + snapshots, self.config.disk_quota_bytes, log

    def over_hard_quota(self) -> bool:
        """Primaries stop taking writes at the quota itself (they poll JDISK); this
        replica refuses data appends only half a quota later, a backstop for writes
        made between two polls. Leases, leadership claims, checksums and trims are
        never refused: they keep the cluster serving and are how the log shrinks."""
        cap = self.config.disk_quota_bytes
        return cap > 0 and self.disk_use()[0] >= cap + cap // 2

    async def _propose(self, cmd: AppendCommand | TrimCommand) -> Any:
        try:
            actions = self.node.propose(encode_command(cmd), _now_ms())
        except NotLeaderError:
            return self._not_leader()
        fut: asyncio.Future[Result | None] = asyncio.get_running_loop().create_future()
        for a in actions:
            if isinstance(a, Proposed):
                self.pending[a.index] = (a.term, fut)
        self.handle(actions)
        try:
            result = await asyncio.wait_for(asyncio.shield(fut), self.config.append_timeout_ms / 1000)
        except asyncio.TimeoutError:
            return errors.JOURNAL_TIMEOUT
        if result is None:  # its log slot went to another leader's entry: it did not happen
            return self._not_leader()
        if isinstance(result, Appended):
            return result.id
        if isinstance(result, CondFail):
            return errors.journal_condfail(result.tail_id)
        if isinstance(result, Fenced):
            return errors.journal_fenced(result.leader, result.epoch)
        if isinstance(result, Trimmed):
            return OK
        assert isinstance(result, Rejected)
        return errors.journal_bad_argument(result.reason)

    async def _read(self, shard: str, after_id: int, count: int, block_ms: int) -> Any:
        deadline = time.monotonic() + block_ms / 1000
        while True:
            try:
                entries = self.state.read(shard, after_id, max(count, 1))
            except TrimmedError as exc:
                return errors.journal_trimmed(exc.upto_id, exc.snapshot_id)
            remaining = deadline - time.monotonic()
            if entries or remaining <= 0:
                return [[e.id, e.kind.value, e.data] for e in entries]
            try:
                await asyncio.wait_for(self.applied.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    # -- lifecycle -------------------------------------------------------------------------

    async def serve(self) -> None:
        c = self.config
        raft_srv = await asyncio.start_server(self._on_peer, c.host, c.raft_port)
        client_srv = await asyncio.start_server(self._on_client, c.host, c.client_port)
        self.raft_port = raft_srv.sockets[0].getsockname()[1]
        self.client_port = client_srv.sockets[0].getsockname()[1]
        address = {"node_id": c.node_id, "host": c.host, "raft_port": self.raft_port,
                   "client_port": self.client_port, "pid": os.getpid()}
        tmp = os.path.join(c.discovery_dir, f".{c.node_id}.json.tmp")
        with open(tmp, "w") as f:
            json.dump(address, f)
        os.replace(tmp, os.path.join(c.discovery_dir, f"{c.node_id}.json"))
        if self.on_ready is not None:
            self.on_ready(address)
        self.links = {p: _PeerLink(self, p) for p in c.peers if p != c.node_id}
        tasks = [asyncio.create_task(link.run()) for link in self.links.values()]
        tasks.append(asyncio.create_task(self._ticker()))
        try:
            async with raft_srv, client_srv:
                await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            self.file.close()


@dataclass
class _Session:
    """One client connection's authentication state."""

    authenticated: bool
    failures: int = 0  # wrong secrets sent

    def next_command(self, parser: RequestParser) -> list[bytes] | None:
        """The next request; before AUTH with redis-server's limits (10 arguments, 16 KiB)."""
        parser.auth_required = not self.authenticated
        return parser.next_command()


def _answered(value: Any) -> "asyncio.Future[Any]":
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    fut.set_result(value)
    return fut


async def _read_frame(reader: asyncio.StreamReader, limit: int) -> bytes:
    """One ``u32 length | payload`` frame; ValueError if it is longer than ``limit``."""
    size = _FRAME.unpack(await reader.readexactly(_FRAME.size))[0]
    if size > limit:
        raise ValueError(f"a {size}-byte frame (at most {limit} here)")
    return await reader.readexactly(size)


class _PeerLink:
    """Outgoing frames to one peer; reconnects forever, drops frames while it is down."""

    def __init__(self, server: JournalServer, peer: str) -> None:
        self.server, self.peer = server, peer
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=4096)

    def send(self, frame: bytes) -> None:
        if not self.queue.full():  # Raft tolerates loss; never block the event loop
            self.queue.put_nowait(frame)

    def _drop_queued(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()

    async def _prove(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """The connector's half of the handshake (journal_auth.py); False when the
        listener does not complete it, i.e. is not a replica of this group."""
        secret, me = self.server.config.secret, self.server.config.node_id
        limit = journal_auth.HANDSHAKE_MAX_BYTES
        try:
            hello = await asyncio.wait_for(_read_frame(reader, limit), HANDSHAKE_TIMEOUT_S)
            proof, server_nonce, client_nonce = journal_auth.prove(secret, hello, me, self.peer)
            writer.write(_FRAME.pack(len(proof)) + proof)
            answer = await asyncio.wait_for(_read_frame(reader, limit), HANDSHAKE_TIMEOUT_S)
            journal_auth.check_accept(secret, answer, server_nonce, client_nonce, me, self.peer)
        except (HandshakeError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError, OSError):
            return False
        return True

    async def run(self) -> None:
        while True:
            addr = self.server.address_of(self.peer)
            if addr is None:
                await asyncio.sleep(0.05)
                continue
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(addr["host"], addr["raft_port"]), 1.0)
            except (OSError, asyncio.TimeoutError):
                self._drop_queued()  # stale by the time the peer is back; Raft resends what matters
                await asyncio.sleep(0.05)
                continue
            if self.server.config.secret and not await self._prove(reader, writer):
                writer.close()
                self._drop_queued()
                await asyncio.sleep(0.2)
                continue
            try:
                while True:
                    frame = await self.queue.get()
                    if writer.is_closing():
                        break  # reset while we waited; uvloop raises RuntimeError on a write to it
                    writer.write(_FRAME.pack(len(frame)) + frame)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            writer.close()
            await asyncio.sleep(0.02)


async def run_journal(
    config: JournalConfig,
    on_ready: Callable[[dict[str, Any]], None] | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Run one journal replica until cancelled; ``on_ready`` gets its address once it
    listens; ``on_event`` gets events such as ``journal_log_corrupt`` (default: a JSON
    line on stdout)."""
    server = JournalServer(config, on_event)
    server.on_ready = on_ready
    await server.serve()


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

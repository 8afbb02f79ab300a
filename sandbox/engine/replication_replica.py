"""The replica's side of cache-mode replication, and the full-sync dataset format.

``PrimaryLink`` is a replica's connection to its primary, reconnecting until told
to stop: handshake (``PING``, ``REPLCONF listening-port``, ``REPLCONF capa psync2``,
``PSYNC replid offset+1``), then either ``+FULLRESYNC replid offset`` followed by
``$<len>\\r\\n`` and the dataset, or ``+CONTINUE replid`` followed by the missing
stream bytes; then the stream as it happens. It acknowledges its applied offset
with ``REPLCONF ACK <offset>`` after every batch it applies and every 100 ms.

With a password (``masterauth``, else the node's own ``requirepass``) the handshake
starts with ``AUTH`` — as ``masteruser`` when one is configured (an ACL user that may
run PSYNC and REPLCONF), else as the default user.

The dataset is a RESP command stream that first replaces the function libraries
(``FUNCTION FLUSH``, then each library as ``FUNCTION LOAD REPLACE <code>``, as a
format-3 snapshot carries them: a replica's old libraries go, as an RDB load
replaces them in Redis) and then rebuilds every key with its TTL
(``SET``/``RPUSH``/``HSET``/``SADD``/``ZADD``, a stream's ``Stream.rebuild_commands``,
then ``PEXPIREAT``), made without
fork: ``capture`` takes a point-in-time copy in one synchronous step (strings are
immutable and shared, containers are copied), and ``encode_snapshot`` encodes it
in slices so the primary keeps serving clients meanwhile. It starts with
``SELECT 0`` and ends by selecting the database the stream is in at that offset
(Redis's ``repl-stream-db``), so the stream can follow without a SELECT of its own.

Invariant: ``StreamApplier`` hands over only whole commands and whole MULTI ... EXEC
blocks; bytes of an unfinished transaction stay buffered and are dropped with the
connection (the replica asks for them again by offset).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator

from .datatypes import ZSet, copy_value
from .streamtype import Stream
from .resp import RequestParser, encode_command

if TYPE_CHECKING:
    from .replication import Replication
    from .server import Server

ACK_PERIOD_S = 0.1
HANDSHAKE_TIMEOUT_S = 5.0
REPL_TIMEOUT_S = 60.0  # no byte from the primary for this long = link down (Redis's repl-timeout)
RETRY_MIN_S, RETRY_MAX_S = 0.05, 1.0
_ELEMENTS_PER_COMMAND = 512
_KEYS_PER_SLICE = 2000

@dataclass
class Captured:
    """A point-in-time copy of what a full sync sends."""

    libraries: list[bytes]  # each library's code, in load order
    dbs: list[tuple[int, list[tuple[bytes, Any, int | None]]]]  # (db id, [(key, value, expire_at ms)])


class SyncError(Exception):
    """The primary refused or broke the handshake."""


# -- the dataset ---------------------------------------------------------------------------
def capture(server: "Server") -> Captured:
    """The function libraries and every database's keys, values and expiry times as of now."""
    out = Captured([lib.code for lib in server.scripts.functions.libraries.values()], [])
    for db in server.keyspace.dbs:
        if not db.data:
            continue
        expires = db.expires
        items = [(k, v if type(v) is bytes else copy_value(v), expires.get(k)) for k, v in db.data.items()]
        out.dbs.append((db.id, items))
    return out


def key_commands(key: bytes, value: Any, expire_at: int | None) -> list[list[bytes]]:
    """Commands that rebuild one key exactly."""
    t = type(value)
    if t is bytes:
        cmds = [[b"SET", key, value]]
    elif t is Stream:
        cmds = value.rebuild_commands(key)
    else:
        if t is deque:
            head, flat = b"RPUSH", list(value)
        elif t is dict:
            head, flat = b"HSET", [x for pair in value.items() for x in pair]
        elif t is set:
            head, flat = b"SADD", list(value)
        elif t is ZSet:
            head, flat = b"ZADD", [x for score, member in value for x in (repr(score).encode(), member)]
        else:
            raise TypeError(f"cannot replicate a value of type {t.__name__}")
        step = _ELEMENTS_PER_COMMAND * (1 if t is deque or t is set else 2)
        cmds = [[head, key, *flat[i : i + step]] for i in range(0, len(flat), step)]
    if expire_at is not None:
        cmds.append([b"PEXPIREAT", key, b"%d" % expire_at])
    return cmds


async def encode_snapshot(captured: Captured, stream_db: int) -> AsyncIterator[bytes]:
    """The captured dataset as RESP commands, a slice of keys at a time."""
    yield encode_command([b"SELECT", b"0"])
    yield b"".join([encode_command([b"FUNCTION", b"FLUSH"]),
                    *(encode_command([b"FUNCTION", b"LOAD", b"REPLACE", code]) for code in captured.libraries)])
    for db_id, items in captured.dbs:
        yield encode_command([b"SELECT", b"%d" % db_id])
        for start in range(0, len(items), _KEYS_PER_SLICE):
            parts = [
                encode_command(argv)
                for key, value, expire_at in items[start : start + _KEYS_PER_SLICE]
                for argv in key_commands(key, value, expire_at)
            ]
            yield b"".join(parts)
            await asyncio.sleep(0)
    yield encode_command([b"SELECT", b"%d" % max(stream_db, 0)])


# -- the stream ----------------------------------------------------------------------------
class StreamApplier:
    """Cuts the incoming stream into units a replica may apply: a command, or a whole
    MULTI ... EXEC."""

    def __init__(self) -> None:
        self.parser = RequestParser(max_bulk_len=2**62)
        self.buf = bytearray()  # bytes received and not yet handed over
        self.in_multi = False

    def feed(self, data: bytes) -> bytes:
        """Take received bytes; return the complete units now available (maybe b"")."""
        self.buf += data
        parser = self.parser
        parser.feed(data)
        boundary = 0
        while (argv := parser.next_command()) is not None:
            name = argv[0]
            if len(name) == 5 and name.lower() == b"multi":
                self.in_multi = True
                continue
            if len(name) == 4 and name.lower() == b"exec":
                self.in_multi = False
            if not self.in_multi:
                boundary = len(self.buf) - parser.buffered()
        if not boundary:
            return b""
        unit = bytes(self.buf[:boundary])
        del self.buf[:boundary]
        return unit


def masterauth(server: "Server") -> str:
    """The password a replica gives its primary: ``masterauth`` if configured, else
    the node's own ``requirepass`` (the nodes of one shard share it)."""
    return server.config.masterauth or server.config.extra.get("masterauth") or server.params.get("requirepass")


def auth_command(server: "Server") -> list[bytes] | None:
    """The AUTH a replica starts its handshake with, or None."""
    password = masterauth(server)
    if not password:
        return None
    user = server.config.masteruser
    return [b"AUTH", user.encode(), password.encode()] if user else [b"AUTH", password.encode()]


class PrimaryLink:
    """A replica's connection to its primary (one task, reconnecting with backoff)."""

    def __init__(self, repl: "Replication", host: str, port: int) -> None:
        self.repl = repl
        self.host, self.port = host, port
        self.status = "connecting"  # connecting | handshake | sync | up | down
        self.last_io = time.monotonic()
        self.down_since = time.monotonic()
        self.read_offset = repl.offset
        self._writer: asyncio.StreamWriter | None = None
        self._acked = -1
        self._reported_down = False
        self._task = asyncio.get_running_loop().create_task(self._run())

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        self._task.cancel()
        if self._writer is not None:
            self._writer.transport.abort()
            self._writer = None

    async def _run(self) -> None:
        delay = RETRY_MIN_S
        while True:
            started = time.monotonic()
            try:
                await self._session()
            except (OSError, EOFError, asyncio.IncompleteReadError, asyncio.TimeoutError, SyncError, ValueError) as exc:
                self._went_down(exc)
            except Exception as exc:  # a stream this node can't apply: say so, resync from scratch
                self._went_down(exc)
                self.repl.emit({"event": "stream_error", "primary": self.name, "error": repr(exc)})
                self.repl.forget_history()
            finally:
                if self._writer is not None:
                    self._writer.transport.abort()
                    self._writer = None
            delay = RETRY_MIN_S if time.monotonic() - started > 2 else min(delay * 2, RETRY_MAX_S)
            await asyncio.sleep(delay)

    def _went_down(self, exc: BaseException) -> None:
        if self.status == "up" or not self._reported_down:
            self.down_since = time.monotonic()
            self._reported_down = True
            self.repl.emit({"event": "link_down", "primary": self.name, "error": str(exc) or type(exc).__name__})
        self.status = "down"

    async def _session(self) -> None:
        repl = self.repl
        self.status = "connecting"
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), HANDSHAKE_TIMEOUT_S)
        self._writer = writer
        self.status = "handshake"
        wanted = repl.offset + 1
        # A node that never synced nor wrote anything has no history to continue.
        replid = repl.replid if repl.offset or repl.synced else "?"
        handshake = [
            [b"PING"],
            [b"REPLCONF", b"listening-port", b"%d" % repl.server.port],
            [b"REPLCONF", b"capa", b"psync2"],
            [b"PSYNC", replid.encode(), b"%d" % (wanted if replid != "?" else -1)],
        ]
        expected = [b"+PONG", b"+OK", b"+OK"]
        auth = auth_command(repl.server)
        if auth is not None:
            handshake.insert(0, auth)
            expected.insert(0, b"+OK")
        writer.write(b"".join(encode_command(argv) for argv in handshake))
        for expected_reply in expected:
            line = await self._line(reader)
            if not line.startswith(expected_reply):
                raise SyncError(f"primary answered {line.decode(errors='replace')!r} during the handshake")
        line = await self._line(reader)
        self.status = "sync"
        if line.startswith(b"+FULLRESYNC"):
            _, new_id, offset = line.split()
            header = await self._line(reader)
            if not header.startswith(b"$"):
                raise SyncError(f"expected the dataset, got {header[:40]!r}")
            payload = await reader.readexactly(int(header[1:]))
            keys = repl.load_full_sync(new_id.decode(), int(offset), payload)
            event = {"event": "sync_done", "full": True, "offset": repl.offset, "bytes": len(payload), "keys": keys}
        elif line.startswith(b"+CONTINUE"):
            parts = line.split()
            repl.continue_sync(parts[1].decode() if len(parts) > 1 else "")
            # The primary now sends what we miss from this offset on (its replica_connected
            # event and INFO say how many bytes that was).
            event = {"event": "sync_done", "full": False, "offset": repl.offset}
        else:
            raise SyncError(f"PSYNC refused: {line.decode(errors='replace')}")
        self.read_offset = repl.offset
        self.status = "up"
        self._reported_down = False
        self.last_io = time.monotonic()
        self._acked = -1
        self._ack()
        repl.emit(event)
        ack_task = asyncio.get_running_loop().create_task(self._ack_every())
        applier = StreamApplier()
        try:
            while True:
                data = await reader.read(1 << 18)
                if not data:
                    raise EOFError("connection closed by the primary")
                self.last_io = time.monotonic()
                self.read_offset += len(data)
                unit = applier.feed(data)
                if unit:
                    repl.apply(unit)
                    self._ack()
        finally:
            ack_task.cancel()

    async def _line(self, reader: asyncio.StreamReader) -> bytes:
        line = await asyncio.wait_for(reader.readline(), HANDSHAKE_TIMEOUT_S)
        if not line.endswith(b"\r\n"):
            raise EOFError("connection closed by the primary during the handshake")
        return line[:-2]

    def _ack(self) -> None:
        offset = self.repl.offset
        writer = self._writer
        if writer is not None and offset != self._acked and not writer.transport.is_closing():
            self._acked = offset
            writer.write(encode_command([b"REPLCONF", b"ACK", b"%d" % offset]))

    async def _ack_every(self) -> None:
        while True:
            await asyncio.sleep(ACK_PERIOD_S)
            if time.monotonic() - self.last_io > REPL_TIMEOUT_S and self._writer is not None:
                self._writer.transport.abort()  # the read loop then fails and we reconnect
                return
            self._acked = -1  # periodic ACKs are sent even when nothing changed (liveness)
            self._ack()

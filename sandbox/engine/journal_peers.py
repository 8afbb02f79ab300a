"""The journal's peer network: Raft messages between the replicas of one group.

Each replica publishes its address in the shared discovery directory
(``<node_id>.json``: host, ports, pid), so every port can be 0. A ``PeerLink``
carries this replica's outgoing messages to one peer, reconnecting forever; the
``PeerListener`` accepts the other replicas' connections and hands each message to
the Raft node. Frames are ``u32 length | encode_message(...)``.

With a secret (journal_auth.py) the connector proves itself before any Raft
message, and the listener acts only on messages of the replica that was proven.

Invariants:
* Nothing here blocks the event loop on a slow peer: a full queue drops frames, and
  a link that is down drops what was queued (Raft tolerates loss and resends).
* With a secret, no message of a peer is acted on before that connection proved it,
  and a proven replica speaks for itself only.
* A refused connection costs one stderr line per ``REFUSAL_REPORT_INTERVAL_S`` at
  most (a local process could open connections in a loop).
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import sys
import time
from typing import Any, Callable

from . import journal_auth
from .journal_auth import HandshakeError
from .raft import Message
from .raft_messages import decode_message
from .records import MAX_PAYLOAD

FRAME = struct.Struct(">I")
# A peer frame carries whole entries or a compaction snapshot, as large as its
# u32 length field allows.
MAX_FRAME = MAX_PAYLOAD
HANDSHAKE_TIMEOUT_S = 2.0  # a peer connection must complete the handshake within this
REFUSAL_REPORT_INTERVAL_S = 60.0  # at most one stderr line per interval about refused peers


def address_of(discovery_dir: str, node_id: str) -> dict[str, Any] | None:
    """A replica's published address, or None while it has not published one."""
    try:
        with open(os.path.join(discovery_dir, f"{node_id}.json")) as f:
            return json.load(f)  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def publish_address(discovery_dir: str, address: dict[str, Any]) -> None:
    """Write ``<node_id>.json`` atomically (readers never see half of it)."""
    node_id = address["node_id"]
    tmp = os.path.join(discovery_dir, f".{node_id}.json.tmp")
    with open(tmp, "w") as f:
        json.dump(address, f)
    os.replace(tmp, os.path.join(discovery_dir, f"{node_id}.json"))


async def read_frame(reader: asyncio.StreamReader, limit: int) -> bytes:
    """One ``u32 length | payload`` frame; ValueError if it is longer than ``limit``."""
    size = FRAME.unpack(await reader.readexactly(FRAME.size))[0]
    if size > limit:
        raise ValueError(f"a {size}-byte frame (at most {limit} here)")
    return await reader.readexactly(size)


class PeerListener:
    """The accepting side: every connection from a peer, its handshake, its messages."""

    def __init__(self, node_id: str, peers: tuple[str, ...], secret: bytes, deliver: Callable[[Message], None]) -> None:
        self.node_id, self.peers, self.secret = node_id, peers, secret
        self.deliver = deliver  # hands one message to the Raft node
        self.refused_peers = 0  # peer connections closed for want of a proof (reported on stderr)
        self._refusals_reported_at = 0.0

    async def on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            peer = await self._admit_peer(reader, writer) if self.secret else None
            while True:
                message = decode_message(await read_frame(reader, MAX_FRAME))
                if peer is not None and message.frm != peer:
                    break  # a proven replica speaks for itself only
                self.deliver(message)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _admit_peer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
        """The acceptor's half of the handshake (journal_auth.py): the proven peer's
        name. A connection that does not prove the secret in time is refused."""
        frame, nonce = journal_auth.hello()
        try:
            writer.write(FRAME.pack(len(frame)) + frame)
            proof = await asyncio.wait_for(read_frame(reader, journal_auth.HANDSHAKE_MAX_BYTES), HANDSHAKE_TIMEOUT_S)
            peer, answer = journal_auth.accept(self.secret, nonce, proof, self.node_id, self.peers)
        except (HandshakeError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError, ConnectionError) as exc:
            self._refused_peer(exc)
            raise ConnectionError("peer handshake failed") from None
        writer.write(FRAME.pack(len(answer)) + answer)
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
            print(f"journal {self.node_id}: refused a peer connection that did not prove the journal "
                  f"secret ({reason}); {self.refused_peers} refused so far", file=sys.stderr, flush=True)


class PeerLink:
    """Outgoing frames to one peer; reconnects forever, drops frames while it is down."""

    def __init__(self, node_id: str, peer: str, secret: bytes, discovery_dir: str) -> None:
        self.node_id, self.peer, self.secret, self.discovery_dir = node_id, peer, secret, discovery_dir
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
        secret, me = self.secret, self.node_id
        limit = journal_auth.HANDSHAKE_MAX_BYTES
        try:
            hello = await asyncio.wait_for(read_frame(reader, limit), HANDSHAKE_TIMEOUT_S)
            proof, server_nonce, client_nonce = journal_auth.prove(secret, hello, me, self.peer)
            writer.write(FRAME.pack(len(proof)) + proof)
            answer = await asyncio.wait_for(read_frame(reader, limit), HANDSHAKE_TIMEOUT_S)
            journal_auth.check_accept(secret, answer, server_nonce, client_nonce, me, self.peer)
        except (HandshakeError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError, OSError):
            return False
        return True

    async def run(self) -> None:
        while True:
            addr = address_of(self.discovery_dir, self.peer)
            if addr is None:
                await asyncio.sleep(0.05)
                continue
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(addr["host"], addr["raft_port"]), 1.0)
            except (OSError, asyncio.TimeoutError):
                self._drop_queued()  # stale by the time the peer is back; Raft resends what matters
                await asyncio.sleep(0.05)
                continue
            if self.secret and not await self._prove(reader, writer):
                writer.close()
                self._drop_queued()
                await asyncio.sleep(0.2)
                continue
            try:
                while True:
                    frame = await self.queue.get()
                    if writer.is_closing():
                        break  # reset while we waited; uvloop raises RuntimeError on a write to it
                    writer.write(FRAME.pack(len(frame)) + frame)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            writer.close()
            await asyncio.sleep(0.02)

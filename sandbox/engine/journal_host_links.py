"""Links between the zone processes of the host journal: one per ordered zone pair.

A ``ZoneLink`` carries this zone's messages, of every group, to one other zone; a
``ZoneListener`` accepts the other zones' links. Both run the challenge-response of
journal_auth.py with the HOST secret (the zone processes' own, which no sandbox
holds) before anything else, so only another zone process of this host can speak
for any group. What one turn sends one zone leaves as one frame
(journal_host_wire.py): ``queue`` collects, a single ``call_soon`` writes.

Invariants:
* Nothing blocks the event loop: frames are written without waiting for drain;
  while the link is down, or its socket buffer holds more than
  ``MAX_BUFFERED_BYTES``, frames are dropped (Raft resends what matters).
* A proven zone speaks for itself only: a message whose sender is not the zone
  that proved itself closes the link.
"""

from __future__ import annotations

import asyncio
from typing import Callable

from . import journal_auth
from .journal_auth import HandshakeError
from .journal_host_wire import decode_batch, decode_message, encode_batch
from .journal_peers import FRAME, HANDSHAKE_TIMEOUT_S, MAX_FRAME, address_of, read_frame
from .raft import Message

MAX_BUFFERED_BYTES = 64 * 1024 * 1024  # a peer that reads nothing cannot make us hold more


class ZoneLink:
    """Outgoing: this zone's batched messages to one other zone; reconnects forever."""

    def __init__(self, zone: str, peer: str, secret: bytes, discovery_dir: str) -> None:
        self.zone, self.peer, self.secret, self.discovery_dir = zone, peer, secret, discovery_dir
        self.batch: list[tuple[str, bytes]] = []
        self.writer: asyncio.StreamWriter | None = None
        self._flush_scheduled = False
        self.frames_sent = 0  # frames written (each carries a turn's messages of every group)

    def queue(self, group: str, message: bytes) -> None:
        self.batch.append((group, message))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        batch, self.batch = self.batch, []
        writer = self.writer
        if not batch or writer is None or writer.is_closing():
            return
        if writer.transport.get_write_buffer_size() > MAX_BUFFERED_BYTES:
            return
        body = encode_batch(batch)
        writer.write(FRAME.pack(len(body)) + body)
        self.frames_sent += 1

    async def _prove(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        limit = journal_auth.HANDSHAKE_MAX_BYTES
        try:
            hello = await asyncio.wait_for(read_frame(reader, limit), HANDSHAKE_TIMEOUT_S)
            proof, server_nonce, client_nonce = journal_auth.prove(self.secret, hello, self.zone, self.peer)
            writer.write(FRAME.pack(len(proof)) + proof)
            answer = await asyncio.wait_for(read_frame(reader, limit), HANDSHAKE_TIMEOUT_S)
            journal_auth.check_accept(self.secret, answer, server_nonce, client_nonce, self.zone, self.peer)
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
                await asyncio.sleep(0.05)
                continue
            if not await self._prove(reader, writer):
                writer.close()
                await asyncio.sleep(0.2)
                continue
            self.writer = writer
            try:
                await reader.read()  # the acceptor never writes after the handshake: EOF = gone
            except (ConnectionError, OSError):
                pass
            self.writer = None
            writer.close()
            await asyncio.sleep(0.02)


class ZoneListener:
    """Incoming: the other zones' links; each message goes to ``deliver(group, message)``."""

    def __init__(self, zone: str, zones: tuple[str, ...], secret: bytes,
                 deliver: Callable[[str, Message], None]) -> None:
        self.zone, self.zones, self.secret, self.deliver = zone, zones, secret, deliver
        self.refused = 0  # connections closed for want of a proof

    async def on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            peer = await self._admit(reader, writer)
            while True:
                for group, raw in decode_batch(await read_frame(reader, MAX_FRAME)):
                    message = decode_message(raw)
                    if message.frm != peer:
                        return  # a proven zone speaks for itself only
                    self.deliver(group, message)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _admit(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
        frame, nonce = journal_auth.hello()
        try:
            writer.write(FRAME.pack(len(frame)) + frame)
            proof = await asyncio.wait_for(read_frame(reader, journal_auth.HANDSHAKE_MAX_BYTES), HANDSHAKE_TIMEOUT_S)
            peer, answer = journal_auth.accept(self.secret, nonce, proof, self.zone, self.zones)
        except (HandshakeError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError, ConnectionError):
            self.refused += 1
            raise ConnectionError("zone handshake failed") from None
        writer.write(FRAME.pack(len(answer)) + answer)
        await writer.drain()
        return peer

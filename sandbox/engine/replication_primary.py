"""The primary's side of cache-mode replication: the backlog, the PSYNC decision,
and the link to each replica.

``Backlog`` and ``can_continue`` are plain code without I/O. ``ReplicaLink`` is an
ordered, optionally delayed byte pipe to one replica's connection: with a
replication delay every chunk leaves ``delay`` after it was produced, behind
everything queued before it (a cross-zone link, the window in which an
acknowledged write exists only on the primary).

Invariant: bytes reach a replica in stream order, the PSYNC reply first.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

from .client import Client

if TYPE_CHECKING:
    from .replication import Replication

REPLICA_OUTPUT_LIMIT = 256 * 1024 * 1024  # bytes queued for one replica before it is dropped


class Backlog:
    """The newest bytes of the stream (at least ``size`` once that many were
    produced), as chunks, with the offset of the first byte held."""

    def __init__(self, size: int, offset: int) -> None:
        self.size = max(size, 1)
        self.chunks: deque[bytes] = deque()
        self.first = offset + 1  # offset of the oldest byte held (next byte if empty)
        self.histlen = 0

    @property
    def end(self) -> int:
        """Offset of the newest byte held (``first - 1`` when empty)."""
        return self.first + self.histlen - 1

    def add(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        self.histlen += len(chunk)
        # Drop whole chunks while what remains still holds ``size`` bytes.
        while self.histlen - len(self.chunks[0]) >= self.size:
            old = self.chunks.popleft()
            self.first += len(old)
            self.histlen -= len(old)

    def covers(self, wanted: int) -> bool:
        """Whether the stream from offset ``wanted`` on is all here."""
        return self.first <= wanted <= self.first + self.histlen

    def since(self, wanted: int) -> list[bytes]:
        """The bytes from offset ``wanted`` to the end (``covers(wanted)`` must hold)."""
        skip = wanted - self.first
        out: list[bytes] = []
        for chunk in self.chunks:
            if skip >= len(chunk):
                skip -= len(chunk)
                continue
            out.append(chunk[skip:] if skip else chunk)
            skip = 0
        return out


def can_continue(
    replid: str, wanted: int, *, my_replid: str, my_replid2: str, second_offset: int, backlog: Backlog
) -> bool:
    """Redis's masterTryPartialResynchronization test: the replica's history is ours
    (same id, or our previous id up to where we left it) and the backlog still holds
    everything from ``wanted`` on."""
    if replid != my_replid and (replid != my_replid2 or wanted > second_offset):
        return False
    return backlog.covers(wanted)


class ReplicaLink:
    """The primary's end of one replica: an ordered, optionally delayed byte pipe to
    the replica's connection, and what the replica acknowledged.

    States (Redis's names): ``wait_bgsave`` (the PSYNC reply is not written yet), ``send_bulk`` (the
    dataset is being prepared and sent), ``online`` (streaming). Stream chunks that
    arrive before ``online`` are held and sent right after, in order.
    """

    def __init__(self, repl: "Replication", client: Client, listening_port: int, delay_s: float) -> None:
        self.repl = repl
        self.client = client
        assert client.protocol is not None and client.protocol.transport is not None
        self.transport = client.protocol.transport
        self.ip = client.addr.rsplit(":", 1)[0]
        self.port = listening_port
        self.delay_s = delay_s
        self.state = "wait_bgsave"
        self.held: list[bytes] = []
        self.queue: deque[tuple[float, bytes]] = deque()  # (due loop time, bytes) on a delayed link
        self.queued = 0
        self.timer: asyncio.TimerHandle | None = None
        self.ack_offset = 0
        self.ack_at = repl.clock()
        self.closed = False
        self.loop = asyncio.get_running_loop()

    @property
    def name(self) -> str:
        return f"{self.ip}:{self.port}"

    def send(self, data: bytes) -> None:
        """Put bytes on the link: now, or ``delay`` from now behind everything queued."""
        if self.closed or not data:
            return
        if not self.delay_s:
            self._write(data)
            return
        due = self.loop.time() + self.delay_s
        self.queue.append((due, data))
        self.queued += len(data)
        if self.timer is None:
            self.timer = self.loop.call_at(due, self._drain)
        if self.queued > REPLICA_OUTPUT_LIMIT:
            self.close("output buffer limit reached")

    def _drain(self) -> None:
        self.timer = None
        now = self.loop.time()
        out = []
        queue = self.queue
        while queue and queue[0][0] <= now:
            data = queue.popleft()[1]
            self.queued -= len(data)
            out.append(data)
        if out:
            self._write(out[0] if len(out) == 1 else b"".join(out))
        if queue and not self.closed:
            self.timer = self.loop.call_at(queue[0][0], self._drain)

    def _write(self, data: bytes) -> None:
        transport = self.transport
        if transport.is_closing():
            self.close("connection closed")
            return
        transport.write(data)
        if transport.get_write_buffer_size() > REPLICA_OUTPUT_LIMIT:
            self.close("output buffer limit reached")

    def stream(self, chunk: bytes) -> None:
        if self.state == "online":
            self.send(chunk)
        else:
            self.held.append(chunk)

    def go_online(self) -> None:
        self.state = "online"
        held, self.held = self.held, []
        if held:
            self.send(b"".join(held))

    def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
        self.queue.clear()
        self.held = []
        if not self.transport.is_closing():
            self.client.kill()
        self.repl.link_closed(self, reason)

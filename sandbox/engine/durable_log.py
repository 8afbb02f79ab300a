"""The durable primary's effect log (``PrimaryLog``): its writes' effects, batched
per event-loop tick into conditional appends to the shard's journal stream. With
``sync`` durability each write's reply is held until the journal committed its
entry and the leadership machine released it; with ``async`` the reply goes at
once and the appends follow in the background, in order, while
``durability_buffer.DurabilityBuffer`` (the pure machine that decides when a reply
may go and whether a write may be accepted) tracks what is not yet persisted.

Invariants:
* Every append names the entry id it must get (``JAPPEND stream after kind data``):
  an append that would land anywhere else is refused, so two primaries can never
  both write entry n. A refusal fences this node (``DurableNode.refused``).
* A sync reply is released only after its entry committed; when the outcome of an append
  is unknown (connection lost, timeout), nothing new is sent until the stream was
  read back and every in-flight entry is known to be committed, absent (sent again,
  in order) or someone else's (fenced).
* A data entry is the primary's wall time in ms (``ENTRY_TIME``, for replica lag)
  followed by the effects as a RESP command stream; every 100 data entries a
  ``checksum`` entry carries the running crc32 through the entry before it.
"""

from __future__ import annotations

import asyncio
import json
import struct
import time
import zlib
from typing import TYPE_CHECKING, Any

from . import errors
from . import leadership as lead
from .durability_buffer import DurabilityBuffer
from .journal_state import MAX_ENTRY_BYTES, encode_lease
from .respclient import RespError
from .server import encode_effects

if TYPE_CHECKING:
    from .durable import DurableNode

ENTRY_TIME = struct.Struct(">Q")  # data entries start with the primary's wall time in ms (replica lag in ms)


class PrimaryLog:
    """The primary's ``EffectLog``: batches the effects of one event-loop tick into
    one conditional append and resolves each write's future when it commits.

    Appends are pipelined; each names the id the previous one will get. When the
    journal connection breaks or an append times out, the outcome of what was in
    flight is unknown, so nothing new is sent until ``_recover`` has read the stream
    back: an entry found at its id with our bytes committed; a missing one is sent
    again; another writer's entry there means this node was fenced. If the journal
    stays unreachable past ``JOURNAL_WAIT_S`` the node gives up its role: pending
    replies fail (never acknowledged) and it restarts as a replica.
    """

    JOURNAL_WAIT_S = 3.0
    # async: an append with no answer for this long (a paused journal leader keeps its
    # socket open and never answers) is treated as of unknown outcome.
    STALL_S = 1.0

    def __init__(self, node: "DurableNode", tail: int) -> None:
        self.node = node
        self.tail = tail  # id the last sent append will get
        self.confirmed = tail  # last id the journal confirmed to us
        self.pieces: list[bytes] = []
        self.futures: list[asyncio.Future[Any] | None] = []  # None: an async write, already acknowledged
        self.seqs: list[int] = []  # the buffer's seq of each piece
        self.buffer = DurabilityBuffer(node.buffer_config)
        self.entry_seq: dict[int, int] = {}  # expected id -> last buffer seq its data entry holds
        self.scheduled = False
        # expected id -> (kind, data, futures, sent_at), in id order
        self.inflight: dict[int, tuple[bytes, bytes, list[asyncio.Future[Any]], float]] = {}
        self.held: dict[int, list[asyncio.Future[Any]]] = {}  # committed, until the machine releases them
        self.recovering = False
        self.progress_at = time.monotonic()  # last transmit or commit: an answer is due STALL_S after it
        self.crc = node.crc
        self.entries_since_checksum = 0

    def append(self, db: int, effects: list[list[bytes]], keys: list[tuple[int, bytes]]) -> "asyncio.Future[Any]":
        loop = asyncio.get_running_loop()
        piece = encode_effects(db, effects)
        accepted = self.buffer.accept(time.monotonic() * 1000, len(piece))
        self.pieces.append(piece)
        self.seqs.append(accepted.seq)
        fut: asyncio.Future[Any] | None = None
        if not accepted.release_now:
            fut = loop.create_future()
            tracker = self.node.server.tracker
            for k in keys:
                tracker[k] = fut
        self.futures.append(fut)
        if not self.scheduled:
            self.scheduled = True
            loop.call_soon(self.flush)
        self.node.buffer_changed()
        return fut

    def flush(self) -> None:
        self.scheduled = False
        if not self.pieces or self.node.fenced or self.recovering:
            return
        if len(self.inflight) >= self.node.max_inflight:
            self.scheduled = True
            asyncio.get_running_loop().call_later(0.0005, self.flush)
            return
        # One entry holds at most MAX_ENTRY_BYTES: a tick's writes beyond it go in the
        # next entries. A single write larger than that was applied here but can never
        # be logged, so this node steps down; nothing pending was acknowledged.
        count, size = 0, 0
        for piece in self.pieces:
            if count and size + len(piece) > MAX_ENTRY_BYTES:
                break
            count, size = count + 1, size + len(piece)
        if size > MAX_ENTRY_BYTES:
            self.node.refused(f"a write's effects of {size} bytes exceed a journal entry ({MAX_ENTRY_BYTES})",
                              self._all_pending(), error=errors.JOURNAL_ENTRY_TOO_LARGE)
            return
        data = ENTRY_TIME.pack(int(time.time() * 1000)) + b"".join(self.pieces[:count])
        futures = [f for f in self.futures[:count] if f is not None]
        last_seq = self.seqs[count - 1]
        self.pieces, self.futures, self.seqs = self.pieces[count:], self.futures[count:], self.seqs[count:]
        if self.pieces and not self.scheduled:
            self.scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)
        self.crc = zlib.crc32(data, self.crc)
        self._send(b"data", data, futures)
        self.entry_seq[self.tail] = last_seq
        self.node.step(lead.AppendSent("data"))
        self.entries_since_checksum += 1
        if self.entries_since_checksum >= 100:
            self.entries_since_checksum = 0
            marker = json.dumps([self.tail, self.crc]).encode()  # running checksum through entry `tail`
            self._send(b"checksum", marker, [])

    def renew(self, lease: lead.AppendLease) -> None:
        """Append the lease entry the machine asked for (it asks only when no append
        was sent for a renewal period: a busy primary writes no lease entries)."""
        if self.recovering:
            return
        self._send(b"lease", encode_lease(lease.node, int(lease.lease_ms)), [])
        self.node.step(lead.AppendSent("lease"))

    def _send(self, kind: bytes, data: bytes, futures: list[asyncio.Future[Any]]) -> None:
        self.tail += 1
        expected = self.tail
        self.inflight[expected] = (kind, data, futures, time.monotonic())
        self._transmit(expected)

    def _transmit(self, expected: int) -> None:
        kind, data, _futures, sent_at = self.inflight[expected]
        self.progress_at = time.monotonic()
        conn = self.node.journal.conn
        if conn is None or not conn.is_open:
            reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            reply.set_exception(ConnectionError("journal connection lost"))
        else:
            reply = conn.send(b"JAPPEND", self.node.stream, expected - 1, kind, data)
        reply.add_done_callback(lambda f: self._done(f, expected))

    def _done(self, reply: "asyncio.Future[Any]", expected: int) -> None:
        if expected not in self.inflight or self.node.fenced:
            return
        exc = reply.exception()
        if exc is None and reply.result() == expected:
            self._committed(expected)
            return
        if isinstance(exc, RespError) and exc.code == "CONDFAIL" and self.buffer.is_async and not self.recovering:
            # A resend after a stall may meet its own first copy, committed late: read
            # the stream back (_recover) before deciding, rather than lose the buffer.
            self.recovering = True
            asyncio.get_running_loop().create_task(self._recover(exc.text))
            return
        if isinstance(exc, RespError) and exc.code in ("CONDFAIL", "FENCED"):
            self.node.refused(f"append after {expected - 1} refused: {exc.text}", self._all_pending())
            return
        if isinstance(exc, RespError) and exc.code in ("QUOTA", "TOOBIG"):
            # Applied here, refused by the journal: this keyspace is ahead of the log
            # for good, so the node steps down and comes back from the journal.
            error = errors.JOURNAL_ENTRY_TOO_LARGE
            if exc.code == "QUOTA":
                used, cap = (int(n) for n in exc.text.split()[1:3])
                error = errors.disk_quota(used, cap)
            self.node.refused(f"append after {expected - 1} refused: {exc.text}", self._all_pending(), error=error)
            return
        # Connection lost, TIMEOUT, NOTLEADER: the outcome of what is in flight is unknown.
        if not self.recovering:
            self.recovering = True
            asyncio.get_running_loop().create_task(self._recover(str(exc or reply.result())))

    def _committed(self, entry_id: int) -> None:
        _kind, _data, futures, sent_at = self.inflight.pop(entry_id)
        self.progress_at = time.monotonic()
        self.confirmed = max(self.confirmed, entry_id)
        self.held[entry_id] = futures
        if entry_id in self.entry_seq:
            self.buffer.persisted(self.entry_seq.pop(entry_id))
            self.node.buffer_changed()
        self.node.step(lead.Committed(entry_id, sent_at * 1000))

    def release(self, entry_id: int) -> None:
        """The machine let the replies of committed entry ``entry_id`` go."""
        futures = self.held.pop(entry_id, [])
        for fut in futures:
            if not fut.done():
                fut.set_result(None)
        tracker = self.node.server.tracker
        if tracker and futures:
            done = set(map(id, futures))
            for k in [k for k, f in tracker.items() if id(f) in done]:
                del tracker[k]

    def _all_pending(self) -> list[asyncio.Future[Any]]:
        out = [f for _k, _d, futures, _t in self.inflight.values() for f in futures]
        out += [f for futures in self.held.values() for f in futures]
        self.inflight.clear()
        self.held.clear()
        if self.buffer.is_async and self.buffer.count:
            self.node.emit({"event": "durability_buffer_lost", "writes": self.buffer.count,
                            "bytes": self.buffer.pending_bytes,
                            "age_ms": round(self.buffer.age_ms(time.monotonic() * 1000))})
        self.buffer.dropped()  # this node will never persist them: they are lost with it
        return out + [f for f in self.futures if f is not None]

    def check_stalled(self) -> None:
        """async: start recovering when the oldest append got no answer for STALL_S."""
        if self.recovering or not self.inflight or self.node.fenced:
            return
        if time.monotonic() - self.progress_at > self.STALL_S:
            self.recovering = True
            asyncio.get_running_loop().create_task(self._recover(f"no answer for {self.STALL_S:.0f}s"))

    async def _recover(self, reason: str) -> None:
        node = self.node
        node.emit({"event": "journal_unavailable", "error": reason, "inflight": len(self.inflight)})
        deadline = time.monotonic() + self.JOURNAL_WAIT_S
        patient = self.buffer.is_async  # keeps its buffer and tries on (durability_buffer's docstring)
        while not node.fenced:
            if patient:
                deadline = max(deadline, time.monotonic() + 1.0)
            elif time.monotonic() > deadline:
                node.refused(f"journal unreachable for {self.JOURNAL_WAIT_S:.0f}s: {reason}", self._all_pending(),
                             error=errors.JOURNAL_NO_QUORUM)
                return
            try:
                node.journal.drop()
                entries = await node.journal.call(b"JREAD", node.stream, self.confirmed, 10_000, 0, deadline_s=1.0)
            except (ConnectionError, RespError):
                await asyncio.sleep(0.1)
                continue
            found = {int(i): (k, d) for i, k, d in entries}
            for expected in sorted(self.inflight):
                kind, data, _f, _t = self.inflight[expected]
                if expected in found:
                    if found[expected] == (kind, data):
                        self._committed(expected)
                    else:
                        node.refused(f"entry {expected} was written by another node", self._all_pending())
                        return
            # What is left never reached the journal: send it again, in order, to the leader.
            try:
                await node.journal.leader_connection(deadline)
            except ConnectionError:
                continue
            self.recovering = False
            for expected in sorted(self.inflight):
                self._transmit(expected)
            node.emit({"event": "journal_recovered", "resent": len(self.inflight)})
            self.flush()
            return

"""Parking: a running sandbox that no page of its learner has shown for
``limits.park_after_seconds`` gives its processes back and keeps its data; it
resumes when its learner comes back (a page opens, or any message asks for it).

* Parking stops every process of every lane (durable, async, cache) without
  deleting anything: the durable lanes keep their journals and snapshots, so a
  start over the same directory brings back every acknowledged write. A cache-mode
  cluster keeps nothing on disk (that is the lesson), so before its nodes stop the
  site reads every key of every cache primary (SCAN, DUMP, PTTL) and each primary's
  function libraries (FUNCTION DUMP) into one file beside the data (``KEPT``); the
  resumed cluster gets them back with RESTORE, and the page says that a real cache
  would have come back empty.
* A resume goes through the lifecycle's fair queue like any start, under the same
  running cap; a parked sandbox holds no slot, no process and no port.
* The event log goes on: ``sandbox_parked`` and ``sandbox_resumed`` are events of the
  sandbox like any other, numbered in the same log.

The cache file is ``MAGIC`` then records ``length | crc32 | payload`` (big-endian
u32s); a payload is ``b"K" pttl:i64 keylen:u32 key dump`` (pttl 0: no expiry) or
``b"F" shard:u16 payload`` (a FUNCTION DUMP). A torn or corrupt file restores
nothing and says so, rather than half a dataset.

Invariants: only ``Lifecycle`` calls this module, and parks or resumes a sandbox only
under the same rules as a stop or a start (its ``in_flight`` count, its lock); a
RESTORE never replaces a key the learner wrote after the resume (no REPLACE).
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
import zlib
from typing import TYPE_CHECKING, Any

from sandbox import store
from sandbox.live import LiveSandbox
from sandbox.models import Sandbox
from sandbox.resp import ErrorReply, LinkDown
from sandbox.store import when

if TYPE_CHECKING:
    from sandbox.service.lifecycle import Lifecycle

log = logging.getLogger(__name__)

KEPT = "cache_at_parking"
MAGIC = b"MEMORYDB-LAB PARKED CACHE 1\n"
SCAN_COUNT = 1000
BATCH = 500  # DUMPs (or RESTOREs) in flight on one link at a time
DUMP_TIMEOUT_S = 30.0
CACHE_NOTE = (
    "the cache lane was restored from a snapshot the site took when it parked your sandbox; "
    "a real ElastiCache cache-mode cluster whose nodes stopped would have come back empty"
)


class CacheFileError(ValueError):
    """The file kept at parking is torn or not one of ours."""


# ------------------------------------------------------------------------------------------
# The cache lane's file
# ------------------------------------------------------------------------------------------


def _record(payload: bytes) -> bytes:
    return struct.pack(">II", len(payload), zlib.crc32(payload)) + payload


def encode_cache(keys: list[tuple[bytes, int, bytes]], functions: dict[int, bytes]) -> bytes:
    """``keys``: (key, pttl or 0, DUMP payload); ``functions``: shard -> FUNCTION DUMP."""
    parts = [MAGIC]
    for shard, payload in sorted(functions.items()):
        parts.append(_record(b"F" + struct.pack(">H", shard) + payload))
    for key, pttl, dump in keys:
        parts.append(_record(b"K" + struct.pack(">qI", pttl, len(key)) + key + dump))
    return b"".join(parts)


def decode_cache(data: bytes) -> tuple[list[tuple[bytes, int, bytes]], dict[int, bytes]]:
    if not data.startswith(MAGIC):
        raise CacheFileError("not a parked cache file")
    keys: list[tuple[bytes, int, bytes]] = []
    functions: dict[int, bytes] = {}
    at = len(MAGIC)
    while at < len(data):
        if at + 8 > len(data):
            raise CacheFileError("torn record header")
        length, crc = struct.unpack_from(">II", data, at)
        payload = data[at + 8 : at + 8 + length]
        if len(payload) != length or zlib.crc32(payload) != crc:
            raise CacheFileError("torn or corrupt record")
        at += 8 + length
        if payload[:1] == b"F":
            (shard,) = struct.unpack_from(">H", payload, 1)
            functions[shard] = payload[3:]
        elif payload[:1] == b"K":
            pttl, key_len = struct.unpack_from(">qI", payload, 1)
            keys.append((payload[13 : 13 + key_len], pttl, payload[13 + key_len :]))
        else:
            raise CacheFileError("unknown record")
    return keys, functions


async def dump_cache(live: LiveSandbox) -> tuple[bytes, int]:
    """Every key of every serving cache primary, with its TTL, and their libraries."""
    client = live.clients.probe.get("cache")
    if client is None:
        return encode_cache([], {}), 0
    keys: list[tuple[bytes, int, bytes]] = []
    functions: dict[int, bytes] = {}
    for shard, primary in live.topology("cache").serving_primaries().items():
        address = primary.address
        library = await client.call(address, "FUNCTION", "DUMP")
        if isinstance(library, bytes):
            functions[shard] = library
        cursor: bytes = b"0"
        while True:
            reply = await client.call(address, "SCAN", cursor, "COUNT", SCAN_COUNT)
            if isinstance(reply, ErrorReply):
                raise CacheFileError(f"SCAN failed: {reply}")
            cursor, names = reply[0], list(reply[1])
            for start in range(0, len(names), BATCH):
                batch = names[start : start + BATCH]
                dumps = await asyncio.gather(*(client.call(address, "DUMP", k) for k in batch))
                ttls = await asyncio.gather(*(client.call(address, "PTTL", k) for k in batch))
                for key, dump, ttl in zip(batch, dumps, ttls):
                    if isinstance(dump, bytes) and isinstance(ttl, int) and ttl != -2:
                        keys.append((key, max(ttl, 0), dump))
            if cursor in (b"0", 0, "0"):
                break
    return encode_cache(keys, functions), len(keys)


async def restore_cache(live: LiveSandbox, data: bytes) -> int:
    """Put the kept keys back on the resumed cache cluster; the number restored."""
    keys, functions = decode_cache(data)
    client = live.clients.probe["cache"]
    primaries = live.topology("cache").serving_primaries()
    for shard, payload in functions.items():
        if shard in primaries:
            await client.call(primaries[shard].address, "FUNCTION", "RESTORE", payload, "REPLACE")
    restored = 0
    for start in range(0, len(keys), BATCH):
        batch = keys[start : start + BATCH]
        # No REPLACE: a key the learner wrote since the resume is newer than the snapshot.
        replies = await asyncio.gather(*(client.route(k, "RESTORE", k, ttl, dump) for k, ttl, dump in batch))
        restored += sum(1 for reply in replies if not isinstance(reply, ErrorReply))
    return restored


# ------------------------------------------------------------------------------------------
# Parking and resuming, on the lifecycle's behalf
# ------------------------------------------------------------------------------------------


class Parking:
    def __init__(self, lifecycle: "Lifecycle") -> None:
        self.lifecycle = lifecycle
        self.asked: dict[str, float] = {}  # uuid -> perf_counter when its resume was asked

    def due(self, now: float) -> list[LiveSandbox]:
        """Running sandboxes no page has shown for the parking time, and that run
        nothing the learner would miss (a write load, a crash awaiting its verdict)."""
        after = self.lifecycle.limits.park_after_seconds
        if after <= 0:
            return []
        return [
            live for live in self.lifecycle.live.values()
            if live.is_running and live.unwatched_since is not None and now - live.unwatched_since >= after
            and not live.lab.load_running and not live.lab.crash_pending
            and live.uuid not in self.lifecycle.in_flight
        ]  # fmt: skip

    async def park(self, live: LiveSandbox) -> bool:
        lifecycle = self.lifecycle
        lifecycle._busy(live.uuid, +1)
        try:
            async with live.books.lock:
                if lifecycle.live.get(live.owner.key) is not live or not live.is_running:
                    return False
                try:
                    kept, keys = await asyncio.wait_for(dump_cache(live), DUMP_TIMEOUT_S)
                    note = f"{keys} cache key(s) kept in a snapshot taken now"
                except (LinkDown, OSError, asyncio.TimeoutError, CacheFileError) as exc:
                    kept, keys = b"", None
                    note = f"the cache lane could not be read ({type(exc).__name__}); it will come back empty"
                await lifecycle.backend.keep(live.uuid, KEPT, kept)
                await lifecycle.teardown(live, delete_data=False)
                live.parked(lifecycle.clock())
                lifecycle.sessions.attach(live)  # a sender again: teardown cancelled the last one
                lifecycle.sessions.record(live, {
                    "event": "sandbox_parked", "cache_keys": keys,
                    "reason": f"No page of yours showed it for a while: its processes stopped, its data is kept "
                              f"({note}); it resumes when you come back.",
                })  # fmt: skip
                await store.save_row(
                    live.row_id, state=Sandbox.State.PARKED, stopped_at=when(lifecycle.clock()),
                    event_seq=live.log.last_seq, last_activity=when(live.last_activity),
                    endpoints={}, credentials={}, runtime={},
                )  # fmt: skip
                lifecycle.sessions.send(live, {"type": "state", "sandbox": lifecycle.summary(live)})
                return True
        finally:
            lifecycle._busy(live.uuid, -1)
            lifecycle._admit()

    def resume(self, live: LiveSandbox) -> None:
        """Its learner is back: queue it for a slot (no-op unless it is parked)."""
        if not live.is_parked:
            return
        self.asked[live.uuid] = time.perf_counter()
        live.resuming()
        self.lifecycle._enqueue(live)

    async def resumed(self, live: LiveSandbox) -> None:
        """Called by the start of a parked sandbox once it runs: the cache lane's keys
        back, and the event that closes the parked/resumed pair."""
        if live.parked_at is None:
            return
        event: dict[str, Any] = {"event": "sandbox_resumed", "parked_s": round(self.lifecycle.clock() - live.parked_at)}
        live.parked_at = None
        kept = await self.lifecycle.backend.kept(live.uuid, KEPT)
        if "cache" in live.lanes:
            try:
                event["cache_keys"] = await restore_cache(live, kept) if kept else 0
                event["reason"] = f"Your data is back: the durable lanes from their journals; {CACHE_NOTE}."
            except (LinkDown, OSError, asyncio.TimeoutError, CacheFileError) as exc:
                log.warning("sandbox %s: cache not restored: %s", live.uuid, exc)
                event["reason"] = "The durable lanes came back from their journals; the cache lane came back empty."
        asked = self.asked.pop(live.uuid, None)
        if asked is not None:
            event["resume_ms"] = round((time.perf_counter() - asked) * 1000)
        self.lifecycle.sessions.record(live, event)

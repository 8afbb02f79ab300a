"""The off-node snapshotter: MemoryDB's snapshots without a fork on any data node.

For one shard's stream ``shard-{i}`` a run:

1. fixes its target, the stream's tail (``JTAIL``) when the run starts;
2. restores the newest snapshot that loads and verifies into an in-process
   ``Server`` with no listener (or starts empty);
3. reads committed entries with ``JREAD`` from the snapshot's ``upto_id`` to the
   target, applies data entries as a replica would (``Server.apply_stream``, after
   the 8-byte timestamp) and carries the running checksum
   (``crc = zlib.crc32(data, crc)`` over whole data entries); every ``checksum``
   entry it passes must agree, or the run fails and publishes nothing;
4. writes the snapshot to a ``.tmp-*`` file, fsyncs it, reads it back into a fresh
   ``Server`` and compares the dataset digests;
5. publishes it (rename, fsync of the directory), keeps the newest ``keep``
   snapshots that verify, and only then trims the journal — up to the *older*
   kept snapshot, so that if the newest one is lost or damaged, a node can still
   start from the older one and replay the stream after it.

Runs are triggered every ``interval_s``, when a shard's tail is ``threshold_entries``
past its newest snapshot, when the journal's log file reaches a quarter of its disk
quota (``JDISK``; at the quota primaries refuse writes, so the log is trimmed well
before: each run trims up to the run before it), and by ``request()`` (SIGUSR1:
every shard, now). One
shard is snapshotted at a time, so memory holds at most one shard (twice, while
verifying).

Invariants: a published snapshot was verified end to end; the journal never
trims entries that the oldest kept snapshot does not cover; the process may be
SIGKILLed at any moment (a crash leaves only ``.tmp-*`` files, removed at start).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

from . import snapshot
from .config import EngineConfig
from .durable import JournalClient, stream_name
from .respclient import RespError
from .roles import CopyRole
from .server import Server
from .snapshot import CorruptSnapshotError, SnapshotMeta

Emit = Callable[[dict[str, Any]], None]
_TS_SIZE = 8  # data entries start with the primary's wall time (8 bytes, ms)


@dataclass(frozen=True)
class SnapshotterConfig:
    journal: tuple[tuple[str, int], ...]  # client addresses of the journal replicas
    shards: int  # streams shard-0 .. shard-(shards-1), 1..16
    directory: str  # snapshots go to <directory>/shard-<i>/ (shared with the data nodes)
    interval_s: float = 60.0  # seconds between scheduled runs; 0 = no schedule
    threshold_entries: int = 5000  # entries past the newest snapshot that trigger a run; 0 = off
    poll_s: float = 0.5  # seconds between JTAIL polls for the threshold, 0.05..10
    keep: int = 2  # verified snapshots kept per shard, >= 2 (the trim point is the oldest kept)
    read_batch: int = 1000  # entries per JREAD, 1..10000
    stall_s: float = 15.0  # a replay that makes no progress this long fails, seconds
    retry_after_s: float = 5.0  # automatic runs of a shard wait this long after a failure, seconds
    journal_secret: str = field(default="", repr=False)  # the journal's shared secret ("" = none)


class SnapshotFailed(Exception):
    """A run that must not publish; the message says why."""


class Snapshotter:
    def __init__(self, cfg: SnapshotterConfig, emit: Emit) -> None:
        if cfg.keep < 2:
            raise ValueError("keep must be >= 2: the journal is trimmed to the older kept snapshot")
        self.cfg = cfg
        self.emit = emit
        self.journal = JournalClient(cfg.journal, secret=cfg.journal_secret)
        self.wake = asyncio.Event()
        self.on_demand = False
        self.last_upto = [0] * cfg.shards  # upto_id of each shard's newest published snapshot
        self.trimmed = [0] * cfg.shards  # highest trim this process asked for
        self.failed_at = [0.0] * cfg.shards  # monotonic time of the last failed run (0 = none)
        self.journal_down = False
        self.stopping = False  # set by stop(); ends run() even if a cancellation got lost
        self.disk_run_at = 0.0  # monotonic time of the latest run the disk quota triggered

    def engine_config(self) -> EngineConfig:
        return EngineConfig(port=0, cluster_enabled=True)

    def shard_dir(self, shard: int) -> str:
        return snapshot.shard_dir(self.cfg.directory, shard)

    # -- start-up and triggers ----------------------------------------------------------------
    def prepare(self) -> list[dict[str, Any]]:
        """Create the directories and remove what an interrupted run left behind;
        the events to report once ready."""
        events = []
        for shard in range(self.cfg.shards):
            directory = self.shard_dir(shard)
            os.makedirs(directory, exist_ok=True)
            removed = snapshot.remove_temp_files(directory)
            if removed:
                events.append({"event": "temp_removed", "shard": shard, "stream": stream_name(shard), "files": removed})
            newest = snapshot.published(directory)
            self.last_upto[shard] = (snapshot.name_upto(newest[0]) or 0) if newest else 0
        return events

    def stop(self) -> None:
        """End ``run()`` after the current step. The caller cancels the task too; this
        flag makes the stop stick when a cancellation is swallowed (Python 3.11's
        ``wait_for`` returns the inner result when both finish together, and the
        journal client retries the ConnectionError that a stopping journal causes)."""
        self.stopping = True
        self.wake.set()

    def request(self) -> None:
        """Snapshot every shard as soon as possible (SIGUSR1)."""
        self.on_demand = True
        self.wake.set()

    async def run(self) -> None:
        cfg = self.cfg
        next_scheduled = time.monotonic() + cfg.interval_s if cfg.interval_s > 0 else float("inf")
        while not self.stopping:
            try:
                await asyncio.wait_for(self.wake.wait(), cfg.poll_s)
            except asyncio.TimeoutError:
                pass
            self.wake.clear()
            if self.stopping:
                return
            now = time.monotonic()
            if self.on_demand:
                self.on_demand = False
                for shard in range(cfg.shards):
                    if not self.stopping:
                        await self.snapshot_shard(shard, "on_demand")
                continue
            scheduled = now >= next_scheduled
            if scheduled:
                next_scheduled = now + cfg.interval_s
            disk = await self.disk_pressure(now)
            if not scheduled and not disk and cfg.threshold_entries <= 0:
                continue
            for shard in range(cfg.shards):
                if self.stopping:
                    return
                if self.failed_at[shard] and now - self.failed_at[shard] < cfg.retry_after_s:
                    continue
                tail = await self.tail(shard)
                if tail is None or tail <= self.last_upto[shard]:
                    continue
                if scheduled or disk:
                    await self.snapshot_shard(shard, "interval" if scheduled else "disk")
                elif cfg.threshold_entries > 0 and tail - self.last_upto[shard] >= cfg.threshold_entries:
                    await self.snapshot_shard(shard, "threshold")
                if self.on_demand:
                    break  # the rest go in the on-demand pass

    async def tail(self, shard: int) -> int | None:
        try:
            tail = int(await self.journal.call(b"JTAIL", stream_name(shard), deadline_s=2.0))
        except (ConnectionError, RespError) as exc:
            if not self.journal_down:
                self.journal_down = True
                self.emit({"event": "journal_unavailable", "error": str(exc)})
            return None
        self.journal_down = False
        return tail

    async def disk_pressure(self, now: float) -> bool:
        """The journal's log file is at a quarter of its disk quota or more (at most one
        such run a second: each one trims only up to the run before it)."""
        if now - self.disk_run_at < 1.0:
            return False
        try:
            _used, cap, log = (int(n) for n in await self.journal.call(b"JDISK", deadline_s=2.0))
        except (ConnectionError, RespError, TypeError, ValueError):
            return False
        if cap > 0 and log >= cap // 4:
            self.disk_run_at = now
            return True
        return False

    async def follow_leader(self) -> None:
        """Point the journal client at the Raft leader. Its state holds every
        acknowledged append, so a run's target covers every write acknowledged before
        the run started; a follower may be a few entries behind."""
        for host, port in self.cfg.journal:
            try:
                conn = await self.journal.open(host, port, timeout=0.5)
            except (OSError, asyncio.TimeoutError):
                continue
            try:
                role = await asyncio.wait_for(conn.send(b"JROLE"), 1.0)
            except (ConnectionError, RespError, asyncio.TimeoutError):
                continue
            finally:
                conn.close()
            if isinstance(role, list) and len(role) > 1 and role[1] == b"leader":
                self.journal.drop(f"{host}:{port}")  # reconnects there first
                return

    # -- one run ----------------------------------------------------------------------------
    async def snapshot_shard(self, shard: int, reason: str) -> bool:
        stream = stream_name(shard)
        tmp: str | None = None
        started = time.monotonic()
        try:
            await self.follow_leader()
            target = await self.tail(shard)
            if target is None:
                raise SnapshotFailed("journal unavailable")
            server = Server(self.engine_config(), role=CopyRole)  # like a replica: expiry arrives as the primary's DEL
            base = snapshot.load_latest(self.shard_dir(shard), server, rejected=self._rejected(shard))
            upto, crc = (base.meta.upto_id, base.meta.crc) if base else (0, 0)
            base_name = os.path.basename(base.path) if base else None
            if target <= upto:
                self.last_upto[shard] = upto
                self.emit({"event": "snapshot_skipped", "shard": shard, "stream": stream, "upto": upto,
                           "reason": "no entries since the newest snapshot"})
                return False
            self.emit({"event": "snapshot_started", "shard": shard, "stream": stream, "from": base_name,
                       "from_upto": upto, "target": target, "reason": reason})
            crc, checksums = await self.replay(shard, server, upto, crc, target)
            created_ms = int(time.time() * 1000)
            name = snapshot.snapshot_name(target, created_ms)
            directory = self.shard_dir(shard)
            tmp = os.path.join(directory, snapshot.TEMP_PREFIX + name)
            meta = SnapshotMeta(snapshot.FORMAT, shard, target, crc, created_ms, snapshot.key_count(server),
                                f"snapshotter: {base_name or 'empty'} + entries {upto + 1}..{target} of {stream}",
                                snapshot.dataset_digest(server))
            self.emit({"event": "snapshot_writing", "shard": shard, "stream": stream, "path": tmp})
            size = snapshot.write(tmp, meta, snapshot.dump(server))
            del server
            await asyncio.sleep(0)
            self.check_written(tmp, meta)
            final = os.path.join(directory, name)
            snapshot.publish(tmp, final)
            tmp = None
        except (SnapshotFailed, CorruptSnapshotError, RuntimeError, OSError, ValueError, TypeError) as exc:
            self.failed_at[shard] = time.monotonic()
            self.emit({"event": "snapshot_failed", "shard": shard, "stream": stream, "reason": str(exc)})
            return False
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
        self.failed_at[shard] = 0.0
        self.last_upto[shard] = target
        kept = self.retain(shard)  # before the event: whoever hears it sees the directory as it stays
        self.emit({"event": "snapshot_written", "shard": shard, "stream": stream, "upto": target,
                   "keys": meta.keys, "bytes": size, "ms": round((time.monotonic() - started) * 1000),
                   "path": final, "from": base_name, "replayed": target - upto, "checksums": checksums,
                   "reason": reason})
        if len(kept) >= 2:
            await self.trim(shard, *kept[-1])
        return True

    async def replay(self, shard: int, server: Server, upto: int, crc: int, target: int) -> tuple[int, int]:
        """Apply entries upto+1 .. target; the running crc and how many checksum entries matched."""
        stream = stream_name(shard)
        applied, checksums = upto, 0
        progress_at = time.monotonic()
        while applied < target:
            try:
                entries = await self.journal.call(b"JREAD", stream, applied, min(self.cfg.read_batch, target - applied),
                                                  100, deadline_s=5.0)
            except RespError as err:
                if err.code == "TRIMMED":
                    raise SnapshotFailed(f"the journal no longer holds entry {applied + 1} ({err.text}); "
                                         "no kept snapshot covers the trimmed entries") from None
                raise SnapshotFailed(f"JREAD failed: {err.text}") from None
            except ConnectionError as exc:
                raise SnapshotFailed(f"journal unavailable: {exc}") from None
            for raw_id, kind, data in entries:
                entry_id = int(raw_id)
                if entry_id > target:
                    break
                if entry_id != applied + 1:
                    raise SnapshotFailed(f"journal gap: expected entry {applied + 1}, got {entry_id}")
                if kind == b"data":
                    server.apply_stream(data[_TS_SIZE:])
                    crc = zlib.crc32(data, crc)
                elif kind == b"checksum":
                    marker_upto, marker_crc = json.loads(data)  # [entry id, crc through it]
                    if marker_upto == entry_id - 1:
                        if marker_crc != crc:
                            raise SnapshotFailed(
                                f"running checksum mismatch at entry {marker_upto}: the log says {marker_crc}, "
                                f"the replay computed {crc}; not publishing")
                        checksums += 1
                applied = entry_id
            if entries:
                progress_at = time.monotonic()
            elif time.monotonic() - progress_at > self.cfg.stall_s:
                raise SnapshotFailed(f"replay stalled at entry {applied} of {target}")
        return crc, checksums

    def check_written(self, path: str, meta: SnapshotMeta) -> None:
        """Read the file back into a fresh server: same metadata, same dataset."""
        fresh = Server(self.engine_config(), role=CopyRole)
        got = snapshot.load(path, fresh)  # raises unless the loaded digest equals meta.dataset
        if got.meta != meta:
            raise CorruptSnapshotError(path, "metadata read back differs from what was written")

    def _rejected(self, shard: int) -> Callable[[str, str], None]:
        def report(path: str, reason: str) -> None:
            self.emit({"event": "snapshot_rejected", "shard": shard, "stream": stream_name(shard), "path": path,
                       "reason": reason})

        return report

    # -- retention and trimming ----------------------------------------------------------------
    def retain(self, shard: int) -> list[tuple[str, SnapshotMeta]]:
        """Keep the newest ``keep`` snapshots that verify; set damaged ones aside
        (``.corrupt``) and delete the rest. The kept ones, newest first."""
        kept: list[tuple[str, SnapshotMeta]] = []
        for path in snapshot.published(self.shard_dir(shard)):
            if len(kept) >= self.cfg.keep:
                os.unlink(path)
                continue
            try:
                kept.append((path, snapshot.verify(path)))
            except CorruptSnapshotError as exc:
                os.replace(path, path + ".corrupt")
                self.emit({"event": "snapshot_rejected", "shard": shard, "stream": stream_name(shard),
                           "path": path, "reason": exc.reason, "moved_to": path + ".corrupt"})
        oldest = kept[-1][1].upto_id if kept else 0
        directory = self.shard_dir(shard)
        for name in os.listdir(directory):
            upto = snapshot.name_upto(name.removesuffix(".corrupt"))
            if name.endswith(".corrupt") and upto is not None and upto < oldest:
                os.unlink(os.path.join(directory, name))
        snapshot.fsync_dir(directory)
        return kept

    async def trim(self, shard: int, path: str, oldest: SnapshotMeta) -> None:
        if oldest.upto_id <= self.trimmed[shard]:
            return
        stream = stream_name(shard)
        name = os.path.basename(path)
        try:
            await self.journal.call(b"JTRIM", stream, oldest.upto_id, name, deadline_s=5.0)
        except (ConnectionError, RespError) as exc:
            self.emit({"event": "trim_failed", "shard": shard, "stream": stream, "upto": oldest.upto_id,
                       "reason": str(exc)})
            return
        self.trimmed[shard] = oldest.upto_id
        self.emit({"event": "trimmed", "shard": shard, "stream": stream, "upto": oldest.upto_id, "snapshot": name})


async def run_snapshotter(cfg: SnapshotterConfig, emit: Emit, on_ready: Callable[[Snapshotter], None]) -> None:
    """Prepare the directories, report ready (``on_ready``), then run until cancelled."""
    snapshotter = Snapshotter(cfg, emit)
    events = snapshotter.prepare()
    on_ready(snapshotter)
    for event in events:
        emit(event)
    await snapshotter.run()

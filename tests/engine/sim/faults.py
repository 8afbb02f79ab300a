"""The simulator's fault-injecting network and disk.

Invariants of the simulation (not of the system under test):

* ``Network`` may drop, delay (reorder), duplicate and partition, but never alters
  or invents a message, and draws every decision from the world's seeded RNG.
* ``SimDisk`` keeps only what was fsynced across a crash, plus possibly a prefix of
  the unsynced writes, the last of them possibly torn (cut short, garbage at the
  end) -- what a real disk may do. A rewrite (temp file + rename) survives whole or
  not at all. Fsynced data is never lost or damaged *silently* (no "disk that
  lies"); the one fault that damages it is ``corrupt_middle``: a flipped byte in a
  record that has valid records after it, done while the replica is down, which the
  replica's CRC check on restart is guaranteed to see (the fault checks that
  ``records.scan`` raises ``CorruptLogError``, else it does nothing).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sandbox.engine.records import CorruptLogError, encode_header, encode_record, scan

if TYPE_CHECKING:
    from .world import World


class Network:
    """Drops, delays, duplicates and reorders messages; partitions endpoints into groups."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.delay_ms = world.config.net_delay_ms
        self.drop_p = 0.0  # chance a message is lost
        self.dup_p = 0.0  # chance a message is delivered twice
        self.slow_p = 0.0  # chance a message takes a long extra delay (reordering)
        self._group: dict[str, int] = {}

    def partition(self, groups: list[list[str]]) -> None:
        """Endpoints in different groups cannot talk; endpoints in no group reach everyone."""
        self._group = {name: i for i, group in enumerate(groups) for name in group}
        self.world.log("partition " + " | ".join(" ".join(g) for g in groups))

    def heal(self) -> None:
        if self._group:
            self.world.log("heal")
        self._group = {}

    def blocked(self, a: str, b: str) -> bool:
        ga, gb = self._group.get(a), self._group.get(b)
        return ga is not None and gb is not None and ga != gb

    def send(self, src: str, dst: str, message: object) -> None:
        rng = self.world.rng
        if self.blocked(src, dst) or (self.drop_p and rng.random() < self.drop_p):
            return
        copies = 2 if self.dup_p and rng.random() < self.dup_p else 1
        for _ in range(copies):
            delay = rng.randint(*self.delay_ms)
            if self.slow_p and rng.random() < self.slow_p:
                delay += rng.randint(20, 300)
            self.world.after(delay, lambda: self._deliver(src, dst, message))

    def _deliver(self, src: str, dst: str, message: object) -> None:
        if self.blocked(src, dst):
            return
        endpoint = self.world.endpoints.get(dst)
        if endpoint is not None and endpoint.alive:
            endpoint.receive(src, message)


@dataclass
class SimDisk:
    """A record file's byte image: fsynced bytes survive a crash, the rest may not."""

    synced: bytes = b""
    pending: list[tuple[str, bytes]] = field(default_factory=list)  # ("append"|"rewrite", bytes)

    def append(self, records: list[bytes]) -> None:
        if records:
            self.pending.append(("append", b"".join(encode_record(r) for r in records)))

    def rewrite(self, records: list[bytes]) -> None:
        self.pending.append(("rewrite", encode_header() + b"".join(encode_record(r) for r in records)))

    def mark(self) -> int:
        return len(self.pending)

    def sync(self, mark: int) -> None:
        """An fsync that started when `mark` writes were pending has finished."""
        for kind, data in self.pending[:mark]:
            self.synced = data if kind == "rewrite" else self.synced + data
        del self.pending[:mark]

    def crash(self, rng: random.Random, torn_probability: float, force_torn: bool = False) -> str:
        """Lose unsynced writes, except a random prefix the OS happened to write back."""
        image = self.synced
        n = len(self.pending)
        keep = rng.randint(0, n - 1 if force_torn and n else n)
        for kind, data in self.pending[:keep]:
            image = data if kind == "rewrite" else image + data
        note = f"kept {keep} of {len(self.pending)} unsynced writes"
        rest = self.pending[keep:]
        if rest and rest[0][0] == "append" and len(rest[0][1]) > 1 and (force_torn or rng.random() < torn_probability):
            data = rest[0][1]
            cut = rng.randint(1, len(data) - 1)
            part = bytearray(data[:cut])
            if rng.random() < 0.5:  # the sectors at the end never made it: garbage
                for i in range(max(0, cut - rng.randint(1, 16)), cut):
                    part[i] = rng.randrange(256)
            image += bytes(part)
            note += f", tore the next one after {cut} of {len(data)} bytes"
        self.synced = image
        self.pending = []
        return note

    def corrupt_middle(self, rng: random.Random) -> str | None:
        """Flip a byte of a fsynced record that is followed by valid records (the
        replica must be down). Returns a description, or None if the image has no such
        record (fewer than two), leaving it unchanged."""
        assert not self.pending, "corrupt only a replica that is down"
        try:
            result = scan(self.synced)
        except CorruptLogError:
            return None  # already corrupt (a recovering replica's new log is never)
        if len(result.offsets) < 2:
            return None
        k = rng.randrange(len(result.offsets) - 1)
        start, end = result.offsets[k], result.offsets[k + 1]
        at = rng.randrange(start, end)  # length, crc or payload: each is caught
        image = bytearray(self.synced)
        image[at] ^= rng.randrange(1, 256)
        try:
            scan(bytes(image))
        except CorruptLogError:
            self.synced = bytes(image)
            return f"flipped byte {at} in record {k} of {len(result.offsets)} (bytes {start}..{end})"
        return None  # never expected: a damaged record that still scans would be a lying disk

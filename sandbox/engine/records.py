"""Append-only durable file of checksummed records (the journal's disk format).

Layout::

    header  = MAGIC (8 bytes) | u16 format version | u16 flags (0)
    record  = u32 length | u32 crc32(payload) | payload     (big-endian, length >= 1)

Invariants:

* A record is *durable* once ``sync()`` (or an append under ``FsyncPolicy.ALWAYS``)
  has returned; nothing in this module reports success for bytes not yet fsynced
  when the caller asked for durability.
* On open, a torn tail -- a partial record header or payload, or a CRC mismatch in
  the LAST record, i.e. an append that a crash interrupted -- is cut off and
  reported in ``RecoveryReport``. A CRC mismatch followed by any further valid
  record cannot come from a torn append: it is corruption and raises
  ``CorruptLogError`` naming the file and byte offset; the journal then recovers
  that replica from its peers instead of guessing (raft_recovery.py). A
  header with another format version raises ``UnsupportedFormatError``
  (a ``CorruptLogError``): the file is not damaged and must not be rebuilt.
* Payloads are never empty, so a run of zero bytes (what many file systems leave
  after a crash that extended the file) is never mistaken for a valid record.
* ``rewrite`` replaces the whole file atomically (temp file, fsync, rename, fsync of
  the directory): after a crash the file holds either the old or the new records.

The framing functions (``encode_record``, ``scan``) are pure so that the
deterministic simulator can run the same recovery code on a simulated disk image.
"""

from __future__ import annotations

import enum
import os
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MAGIC = b"MDBJRNL\x00"
FORMAT_VERSION = 1
_HEADER = struct.Struct(">8sHH")
_RECORD = struct.Struct(">II")
HEADER_SIZE = _HEADER.size  # 12 bytes
RECORD_OVERHEAD = _RECORD.size  # 8 bytes
# The length field's own limit. A journal entry holds one write's effects (a value
# of up to proto-max-bulk-len, 512 MB) and the journal's compaction record holds every
# entry not yet trimmed, so no smaller bound is safe; a garbage length past the end of
# the file is still found (a partial payload) and so is one within it (its crc).
MAX_PAYLOAD = 0xFFFFFFFF


class CorruptLogError(Exception):
    """A record in the middle of the file fails its checksum (not a torn tail)."""

    def __init__(self, path: str, offset: int, reason: str) -> None:
        super().__init__(f"{path}: corrupt record at byte offset {offset}: {reason}")
        self.path = path
        self.offset = offset
        self.reason = reason


class UnsupportedFormatError(CorruptLogError):
    """The header names a format version this code cannot read: written by another
    version, not damaged -- so callers must not treat it as lost and rebuild it."""


class FsyncPolicy(enum.Enum):
    ALWAYS = "always"  # every append is fsynced before it returns
    GROUP = "group"  # appends are buffered; the caller batches them and calls sync() once


@dataclass(frozen=True)
class RecordFileConfig:
    fsync: FsyncPolicy = FsyncPolicy.GROUP  # when appends become durable (see FsyncPolicy)
    create: bool = True  # create the file (with a header) if it does not exist


@dataclass(frozen=True)
class TornTail:
    offset: int  # byte offset where the torn record starts (the file is cut here)
    dropped_bytes: int  # how many bytes were cut off, >= 1
    reason: str  # human-readable: "partial header", "partial payload", "crc mismatch"


@dataclass(frozen=True)
class ScanResult:
    records: list[bytes]  # payloads of the valid records, in order
    offsets: list[int]  # byte offset of each valid record's header
    valid_end: int  # byte offset just past the last valid record
    torn: TornTail | None  # what recovery cut off, if anything
    fresh: bool  # the image had no complete header (new or torn at creation)


@dataclass(frozen=True)
class RecoveryReport:
    path: str  # the file that was opened
    records: int  # valid records found
    torn: TornTail | None  # the torn tail that was truncated, or None


def encode_header() -> bytes:
    return _HEADER.pack(MAGIC, FORMAT_VERSION, 0)


def encode_record(payload: bytes) -> bytes:
    if not payload:
        raise ValueError("record payload must not be empty")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"record payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return _RECORD.pack(len(payload), zlib.crc32(payload)) + payload


def _record_at(data: bytes, offset: int) -> tuple[bytes | None, int, str]:
    """Parse one record at `offset`: (payload or None if invalid, end offset, why)."""
    size = len(data)
    if offset + RECORD_OVERHEAD > size:
        return None, size, "partial header"
    length, crc = _RECORD.unpack_from(data, offset)
    if length == 0 or length > MAX_PAYLOAD:
        return None, size, "bad length"
    end = offset + RECORD_OVERHEAD + length
    if end > size:
        return None, size, "partial payload"
    payload = bytes(data[offset + RECORD_OVERHEAD : end])
    if zlib.crc32(payload) != crc:
        return None, end, "crc mismatch"
    return payload, end, ""


def _valid_record_after(data: bytes, start: int) -> int | None:
    """Offset of any complete valid record starting at or after `start`, else None.

    Used only on the error path: it decides whether a bad record is the torn end of
    the file or a hole in the middle of it. Scanning every offset (not just following
    length fields) also catches a corrupted length field that hides later records.
    """
    for offset in range(start, len(data) - RECORD_OVERHEAD):
        payload, _, _ = _record_at(data, offset)
        if payload is not None:
            return offset
    return None


def scan(data: bytes, path: str = "<memory>") -> ScanResult:
    """Parse a whole file image, classifying a bad tail as torn or corrupt."""
    if len(data) < HEADER_SIZE:
        if encode_header().startswith(bytes(data)):
            torn = TornTail(0, len(data), "partial file header") if data else None
            return ScanResult([], [], 0, torn, fresh=True)
        raise CorruptLogError(path, 0, "not a journal record file (bad magic)")
    magic, version, _flags = _HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise CorruptLogError(path, 0, "not a journal record file (bad magic)")
    if version != FORMAT_VERSION:
        raise UnsupportedFormatError(path, 0, f"unsupported format version {version}")
    records: list[bytes] = []
    offsets: list[int] = []
    offset = HEADER_SIZE
    while offset < len(data):
        payload, end, why = _record_at(data, offset)
        if payload is None:
            later = _valid_record_after(data, offset + 1)
            if later is not None:
                raise CorruptLogError(path, offset, f"{why}, followed by a valid record at {later}")
            torn = TornTail(offset, len(data) - offset, why)
            return ScanResult(records, offsets, offset, torn, fresh=False)
        records.append(payload)
        offsets.append(offset)
        offset = end
    return ScanResult(records, offsets, offset, None, fresh=False)


def _fsync_dir(path: str) -> None:
    fd = os.open(os.path.dirname(os.path.abspath(path)) or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class RecordFile:
    """An open record file. Not thread-safe; one writer per file."""

    def __init__(self, path: str, fd: int, offsets: list[int], end: int, config: RecordFileConfig) -> None:
        self.path = path
        self._fd = fd
        self._offsets = offsets  # header offset of every record, for truncation
        self._end = end  # byte offset where the next record goes
        self._config = config
        self._dirty = False  # appended or truncated since the last fsync

    @classmethod
    def open(cls, path: str, config: RecordFileConfig = RecordFileConfig()) -> tuple[RecordFile, RecoveryReport]:
        """Open (or create) `path`, truncating a torn tail. Raises CorruptLogError."""
        flags = os.O_RDWR | (os.O_CREAT if config.create else 0)
        fd = os.open(path, flags, 0o600)
        try:
            with open(fd, "rb", closefd=False) as f:
                data = f.read()
            result = scan(data, path)
            if result.fresh:
                os.ftruncate(fd, 0)
                os.pwrite(fd, encode_header(), 0)
                os.fsync(fd)
                _fsync_dir(path)
                end = HEADER_SIZE
            else:
                end = result.valid_end
                if result.torn is not None:
                    os.ftruncate(fd, end)
                    os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        report = RecoveryReport(path, len(result.records), result.torn)
        return cls(path, fd, list(result.offsets), end, config), report

    def __len__(self) -> int:
        return len(self._offsets)

    @property
    def size(self) -> int:
        """Bytes in the file, header included."""
        return self._end

    def append(self, payload: bytes) -> int:
        """Append one record; returns its record number (0-based)."""
        self.append_many([payload])
        return len(self._offsets) - 1

    def append_many(self, payloads: Iterable[bytes]) -> None:
        """Append records with one write (and one fsync under ALWAYS)."""
        chunks: list[bytes] = []
        offset = self._end
        new_offsets: list[int] = []
        for payload in payloads:
            frame = encode_record(payload)
            new_offsets.append(offset)
            offset += len(frame)
            chunks.append(frame)
        if not chunks:
            return
        blob = b"".join(chunks)
        written = os.pwrite(self._fd, blob, self._end)
        if written != len(blob):
            raise OSError(f"{self.path}: short write ({written} of {len(blob)} bytes)")
        self._offsets.extend(new_offsets)
        self._end = offset
        self._dirty = True
        if self._config.fsync is FsyncPolicy.ALWAYS:
            self.sync()

    def fileno(self) -> int:
        """The descriptor, for a caller that fsyncs it in another thread (its writes
        stay in this thread; ``sync`` is then not used)."""
        return self._fd

    def sync(self) -> None:
        """Make every append and truncation so far durable (the group commit point)."""
        if self._dirty:
            os.fsync(self._fd)
            self._dirty = False

    def truncate_after(self, record_no: int) -> None:
        """Drop every record after record `record_no` (-1 drops all); durable on return."""
        if record_no < -1 or record_no >= len(self._offsets):
            raise IndexError(f"record {record_no} out of range (have {len(self._offsets)})")
        keep = record_no + 1
        if keep == len(self._offsets):
            return
        self._end = self._offsets[keep]
        del self._offsets[keep:]
        os.ftruncate(self._fd, self._end)
        self._dirty = True
        self.sync()  # a truncation must never be undone by a crash after we report it

    def __iter__(self) -> Iterator[bytes]:
        return self.records()

    def records(self, start: int = 0) -> Iterator[bytes]:
        """Yield payloads from record number `start` on, as written (synced or not)."""
        for i in range(start, len(self._offsets)):
            offset = self._offsets[i]
            head = os.pread(self._fd, RECORD_OVERHEAD, offset)
            length, crc = _RECORD.unpack(head)
            payload = os.pread(self._fd, length, offset + RECORD_OVERHEAD)
            if len(payload) != length or zlib.crc32(payload) != crc:
                raise CorruptLogError(self.path, offset, "record changed under us")
            yield payload

    def rewrite(self, payloads: Iterable[bytes]) -> None:
        """Atomically replace the file's records (compaction); durable on return."""
        tmp = self.path + ".rewrite"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            offsets: list[int] = []
            chunks = [encode_header()]
            offset = HEADER_SIZE
            for payload in payloads:
                frame = encode_record(payload)
                offsets.append(offset)
                offset += len(frame)
                chunks.append(frame)
            blob = b"".join(chunks)
            if os.pwrite(fd, blob, 0) != len(blob):
                raise OSError(f"{tmp}: short write")
            os.fsync(fd)
            os.replace(tmp, self.path)
            _fsync_dir(self.path)
        except BaseException:
            os.close(fd)
            raise
        os.close(self._fd)
        self._fd = fd
        self._offsets = offsets
        self._end = offset
        self._dirty = False

    def close(self) -> None:
        if self._fd >= 0:
            self.sync()
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> RecordFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Snapshot files: one shard's whole keyspace as of a journal entry.

A snapshot is a ``records.py`` record file (versioned header, then
``length | crc32 | payload`` records). Each payload starts with a one-byte tag:

* ``M`` + JSON metadata, first: ``format``, ``shard``, ``upto_id`` (the last journal
  entry the data includes), ``crc`` (the stream's running checksum through
  ``upto_id``), ``created_ms``, ``keys``, ``source`` (how it was made) and
  ``dataset`` (``dataset_digest`` of the keyspace it holds);
* ``C`` + a chunk of the RESP command stream that rebuilds every key with its TTL
  (``replication_replica.key_commands``: SET/RPUSH/HSET/SADD/ZADD, a stream's
  XADD/XGROUP/XCLAIM/XSETID, then an absolute PEXPIREAT). Chunks end on command
  boundaries, so each one applies on its own. From format 3 the first chunk holds
  the node's function libraries as ``FUNCTION LOAD REPLACE <code>`` (there is one
  only when a library exists): the journal entries that loaded them are trimmed
  once a snapshot covers them, so without it FCALL would find nothing after a
  restore;
* ``P`` + a piece of a chunk too large for one record (format 2): a chunk of more
  than ``PIECE_BYTES`` -- one key whose value is as large as proto-max-bulk-len
  (512 MB) allows -- is written as ``P`` records followed by one ``C`` record holding
  its last piece; a reader joins them back into the one chunk. (Format 1 wrote
  such a chunk as one record, which the 64 MB record limit of the time refused, so
  one large value made every snapshot fail.) Format 1 files (no ``P`` records) are
  still read;
* ``T`` + JSON trailer, last: the number of chunks, their total size and the sha256
  of every earlier payload (length-prefixed, in order).

Files are named ``snap-<upto_id:016d>-<created_ms>.mdbsnap`` in ``<dir>/shard-<i>/``,
so names sort oldest to newest. Writers build ``.tmp-*`` files and ``publish`` them
by an atomic rename followed by an fsync of the directory.

Invariants:

* ``read`` returns a snapshot only when every record is intact, the metadata comes
  first, the trailer last and its digest matches: a torn, truncated or corrupted
  file raises ``CorruptSnapshotError`` naming the file and the reason, never a
  partial keyspace.
* ``load`` applies a snapshot to a server only after ``read`` accepted it, and then
  checks that the keyspace it built has the digest the writer recorded.
* A published name never refers to a partial file: a crash leaves at most a
  ``.tmp-*`` file, which no reader lists.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .datatypes import ZSet
from .streamtype import Stream
from .records import HEADER_SIZE, CorruptLogError, FsyncPolicy, RecordFile, RecordFileConfig, encode_header, scan
from .replication_replica import key_commands
from .resp import encode_command
from .slots import key_slot

if TYPE_CHECKING:
    from .server import Server

# 3: function libraries in the first chunk; 2: a chunk may be split over P records;
# 1: every chunk in one C record. Older formats hold no libraries and still load.
FORMAT = 3
READABLE_FORMATS = (1, 2, 3)
PIECE_BYTES = 16 * 1024 * 1024  # the largest piece of a chunk in one record: readers never hold a huge record twice
SUFFIX = ".mdbsnap"
TEMP_PREFIX = ".tmp-"
CHUNK_BYTES = 256 * 1024  # a chunk closes at the first command boundary past this size
_NAME = re.compile(r"^snap-(\d{16})-(\d+)\.mdbsnap$")
_LEN = struct.Struct(">Q")
_META_FIELDS = ("format", "shard", "upto_id", "crc", "created_ms", "keys", "source", "dataset")


class CorruptSnapshotError(Exception):
    """A snapshot file that must not be used, and why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"snapshot {path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class SnapshotMeta:
    format: int  # FORMAT of the writer
    shard: int  # shard index the data belongs to
    upto_id: int  # last journal entry included; replay continues from upto_id + 1
    crc: int  # running crc32 of the stream's data entries through upto_id
    created_ms: int  # wall time the file was written, ms
    keys: int  # keys in the snapshot, all databases
    source: str  # how it was made (for people)
    dataset: str  # dataset_digest() of the keyspace the snapshot holds


@dataclass(frozen=True)
class Snapshot:
    path: str
    meta: SnapshotMeta
    chunks: list[bytes]  # RESP command streams, in order
    size: int  # bytes of the file


# -- names and directories ------------------------------------------------------------


def shard_dir(root: str, shard: int) -> str:
    return os.path.join(root, f"shard-{shard}")


def snapshot_name(upto_id: int, created_ms: int) -> str:
    return f"snap-{upto_id:016d}-{created_ms}{SUFFIX}"


def name_upto(name: str) -> int | None:
    """The ``upto_id`` a published file's name claims, or None for other files."""
    m = _NAME.match(os.path.basename(name))
    return int(m.group(1)) if m else None


def published(directory: str) -> list[str]:
    """Paths of the published snapshots in ``directory``, newest first."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = [(int(m.group(1)), int(m.group(2)), n) for n in names if (m := _NAME.match(n))]
    return [os.path.join(directory, n) for _, _, n in sorted(found, reverse=True)]


def remove_temp_files(directory: str) -> list[str]:
    """Delete what an interrupted writer left (only the snapshotter may call this)."""
    removed = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return removed
    for n in names:
        if n.startswith(TEMP_PREFIX):
            os.unlink(os.path.join(directory, n))
            removed.append(n)
    return removed


def fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp_path: str, final_path: str) -> None:
    """Make a written, fsynced temp file visible under its final name, atomically."""
    os.replace(tmp_path, final_path)
    fsync_dir(os.path.dirname(os.path.abspath(final_path)))


# -- the dataset --------------------------------------------------------------------------


def dataset_digest(server: "Server") -> str:
    """sha256 of the keyspace in a canonical order (keys, members and fields sorted),
    so that two servers holding the same data agree whatever order built it. A
    stream counts its entries, counters, groups, consumers and PELs, not the node
    layout its history left (``Stream.canonical``). Function libraries count too,
    by name, only when there are some: a node without libraries digests as before."""
    h = hashlib.sha256()

    def put(part: bytes) -> None:
        h.update(_LEN.pack(len(part)))
        h.update(part)

    libraries = server.scripts.functions.libraries
    for name in sorted(libraries):
        put(b"function-library")
        put(libraries[name].code)

    for db in server.keyspace.dbs:
        expires = db.expires
        for key in sorted(db.data):
            value = db.data[key]
            when = expires.get(key)
            put(b"%d" % db.id)
            put(key)
            put(b"-" if when is None else b"%d" % when)
            t = type(value)
            if t is bytes:
                put(b"string")
                put(value)
            elif t is deque:
                put(b"list")
                for item in value:
                    put(item)
            elif t is dict:
                put(b"hash")
                for field in sorted(value):
                    put(field)
                    put(value[field])
            elif t is set:
                put(b"set")
                for member in sorted(value):
                    put(member)
            elif t is ZSet:
                put(b"zset")
                for score, member in value:
                    put(repr(score + 0.0).encode())  # + 0.0: -0.0 and 0.0 are one score
                    put(member)
            elif t is Stream:
                put(b"stream")
                for part in value.canonical():
                    put(part)
            else:
                raise TypeError(f"no canonical form for a value of type {t.__name__}")
    return h.hexdigest()


def key_count(server: "Server") -> int:
    return sum(len(db.data) for db in server.keyspace.dbs)


def dump(server: "Server", keep: Callable[[bytes], bool] | None = None) -> Iterator[bytes]:
    """The function libraries, then the keyspace, as RESP command chunks (a chunk of
    keys starts by selecting its database). ``keep`` filters keys, never libraries:
    in a cluster every shard holds every library, as in Redis."""
    libraries = [encode_command([b"FUNCTION", b"LOAD", b"REPLACE", lib.code])
                 for lib in server.scripts.functions.libraries.values()]
    if libraries:
        yield b"".join(libraries)
    for db in server.keyspace.dbs:
        if not db.data:
            continue
        select = encode_command([b"SELECT", b"%d" % db.id])
        parts, size = [select], len(select)
        expires = db.expires
        for key, value in db.data.items():
            if keep is not None and not keep(key):
                continue
            for argv in key_commands(key, value, expires.get(key)):
                cmd = encode_command(argv)
                parts.append(cmd)
                size += len(cmd)
                if size >= CHUNK_BYTES:  # commands apply one by one: a big key may span chunks
                    yield b"".join(parts)
                    parts, size = [select], len(select)
        if len(parts) > 1:
            yield b"".join(parts)


# -- writing --------------------------------------------------------------------------------


def write(path: str, meta: SnapshotMeta, chunks: Iterable[bytes]) -> int:
    """Write a complete snapshot file at ``path`` (a temp name) and fsync it; its size."""
    if os.path.exists(path):
        raise FileExistsError(path)
    digest = hashlib.sha256()
    count = total = 0

    def account(payload: bytes) -> bytes:
        digest.update(_LEN.pack(len(payload)))
        digest.update(payload)
        return payload

    f, _ = RecordFile.open(path, RecordFileConfig(fsync=FsyncPolicy.GROUP))
    try:
        f.append(account(b"M" + json.dumps(asdict(meta), sort_keys=True).encode()))
        for chunk in chunks:
            view = memoryview(chunk)
            while len(view) > PIECE_BYTES:
                f.append(account(b"P" + view[:PIECE_BYTES]))
                view = view[PIECE_BYTES:]
            f.append(account(b"C" + view))
            count += 1
            total += len(chunk)
        trailer = {"chunks": count, "bytes": total, "sha256": digest.hexdigest()}
        f.append(b"T" + json.dumps(trailer, sort_keys=True).encode())
        f.sync()
        return f.size
    finally:
        f.close()


# -- reading --------------------------------------------------------------------------------


def _meta(path: str, payload: bytes) -> SnapshotMeta:
    try:
        fields = json.loads(payload[1:])
    except ValueError as exc:
        raise CorruptSnapshotError(path, f"metadata is not JSON: {exc}") from None
    if not isinstance(fields, dict) or set(fields) != set(_META_FIELDS):
        raise CorruptSnapshotError(path, f"metadata fields are not {', '.join(_META_FIELDS)}")
    if fields["format"] not in READABLE_FORMATS:
        raise CorruptSnapshotError(path, f"unsupported snapshot format {fields['format']!r}")
    ints = ("shard", "upto_id", "crc", "created_ms", "keys")
    if not all(isinstance(fields[k], int) and fields[k] >= 0 for k in ints):
        raise CorruptSnapshotError(path, "metadata numbers must be non-negative integers")
    return SnapshotMeta(**fields)


def _chunks(path: str, records: list[bytes], split: bool) -> list[bytes]:
    """The data chunks of the records between metadata and trailer: each ``C`` record
    ends one, joined to the ``P`` pieces before it (format 2 only)."""
    body: list[bytes] = []
    pieces: list[bytes] = []
    for record in records:
        tag = record[:1]
        if tag == b"P" and split:
            pieces.append(record[1:])
        elif tag == b"C":
            body.append(b"".join(pieces + [record[1:]]) if pieces else record[1:])
            pieces = []
        else:
            raise CorruptSnapshotError(path, "a record between metadata and trailer is not a data chunk")
    if pieces:
        raise CorruptSnapshotError(path, "a split chunk has no final record")
    return body


def read(path: str) -> Snapshot:
    """The whole snapshot, checked end to end; CorruptSnapshotError otherwise."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise CorruptSnapshotError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        result = scan(data, path)
    except CorruptLogError as exc:
        raise CorruptSnapshotError(path, f"corrupt record at byte {exc.offset}: {exc.reason}") from None
    if result.fresh:
        raise CorruptSnapshotError(path, f"truncated: {len(data)} bytes, no complete header")
    if data[:HEADER_SIZE] != encode_header():  # scan() ignores the flags; nothing here may differ
        raise CorruptSnapshotError(path, "unexpected file header flags")
    if result.torn is not None:
        torn = result.torn
        raise CorruptSnapshotError(path, f"torn or truncated at byte {torn.offset} ({torn.reason})")
    records = result.records
    if len(records) < 2 or records[0][:1] != b"M":
        raise CorruptSnapshotError(path, "truncated: metadata or trailer record missing")
    if records[-1][:1] != b"T":
        raise CorruptSnapshotError(path, "truncated: the last record is not the trailer")
    meta = _meta(path, records[0])
    body = _chunks(path, records[1:-1], split=meta.format >= 2)
    try:
        trailer = json.loads(records[-1][1:])
        want_chunks, want_bytes, want_sha = trailer["chunks"], trailer["bytes"], trailer["sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptSnapshotError(path, f"unreadable trailer: {exc}") from None
    digest = hashlib.sha256()
    for payload in records[:-1]:
        digest.update(_LEN.pack(len(payload)))
        digest.update(payload)
    if len(body) != want_chunks or sum(map(len, body)) != want_bytes:
        raise CorruptSnapshotError(path, f"trailer expects {want_chunks} chunks / {want_bytes} bytes")
    if digest.hexdigest() != want_sha:
        raise CorruptSnapshotError(path, "sha256 of the records does not match the trailer")
    claimed = name_upto(path)
    if claimed is not None and claimed != meta.upto_id:
        raise CorruptSnapshotError(path, f"named for entry {claimed} but holds entry {meta.upto_id}")
    return Snapshot(path, meta, body, len(data))


def verify(path: str) -> SnapshotMeta:
    """The metadata of an intact snapshot file; CorruptSnapshotError otherwise."""
    return read(path).meta


def load(path: str, server: "Server") -> Snapshot:
    """Replace ``server``'s keyspace with the snapshot's; CorruptSnapshotError (and an
    empty keyspace) if the file is bad or the data it builds is not what was written.
    The returned ``Snapshot`` no longer holds the chunks: the server does."""
    snap = read(path)
    clear(server)
    # Keys whose TTL passed are data like any other until the primary's DEL arrives.
    try:
        with server.expiry_paused():
            for chunk in snap.chunks:
                server.apply_stream(chunk)
            digest = dataset_digest(server)
    except (RuntimeError, TypeError, ValueError) as exc:
        clear(server)
        raise CorruptSnapshotError(path, f"does not apply: {exc}") from None
    if digest != snap.meta.dataset:
        clear(server)
        raise CorruptSnapshotError(path, "the loaded dataset's digest differs from the one written")
    return Snapshot(snap.path, snap.meta, [], snap.size)


def clear(server: "Server") -> None:
    if server.scripts.functions.libraries:
        server.scripts.functions.flush()
    for db in server.keyspace.dbs:
        if db.data:
            server.touch_watched_db(db.id)
        db.clear()


def load_latest(directory: str, server: "Server", min_upto: int = 0,
                rejected: Callable[[str, str], None] | None = None) -> Snapshot | None:
    """Load the newest snapshot in ``directory`` that is intact and covers ``min_upto``,
    falling back to older ones; None (and an empty keyspace) when none is usable.
    ``rejected(path, reason)`` hears about every file passed over."""
    for path in published(directory):
        upto = name_upto(path)
        if upto is not None and upto < min_upto:
            if rejected is not None:
                rejected(path, f"covers entries up to {upto} only; {min_upto} needed")
            continue
        try:
            return load(path, server)
        except CorruptSnapshotError as exc:
            if rejected is not None:
                rejected(path, exc.reason)
    clear(server)
    return None


def rebase(source: str, root: str, ranges: list[tuple[int, int]], engine_config: Any, now_ms: int) -> list[SnapshotMeta]:
    """Seed a new cluster: write, for each shard ``i`` owning slots ``ranges[i]``, a
    snapshot at entry 0 of its (empty) stream holding the source's keys in those
    slots. The running checksum restarts at 0 with the new streams."""
    from .roles import CopyRole
    from .server import Server

    src = Server(engine_config, role=CopyRole)  # keeps keys whose TTL passed: the data is copied as it was
    snap = load(source, src)
    metas = []
    for shard, (lo, hi) in enumerate(ranges):
        directory = shard_dir(root, shard)
        os.makedirs(directory, exist_ok=True)
        if published(directory):
            raise FileExistsError(f"{directory} already holds snapshots; a new cluster needs an empty one")
        part = Server(engine_config, role=CopyRole)
        for chunk in dump(src, lambda k: lo <= key_slot(k) <= hi):
            part.apply_stream(chunk)
        meta = SnapshotMeta(FORMAT, shard, 0, 0, now_ms, key_count(part),
                            f"rebased from {os.path.basename(source)} (shard {snap.meta.shard}, "
                            f"entry {snap.meta.upto_id}), slots {lo}-{hi}", dataset_digest(part))
        name = snapshot_name(0, now_ms)
        tmp = os.path.join(directory, TEMP_PREFIX + name)
        write(tmp, meta, dump(part))
        publish(tmp, os.path.join(directory, name))
        metas.append(meta)
    return metas

"""The journal's replicated state machine: one ordered stream of entries per shard.

The Raft log carries commands (``encode_command``); every journal replica applies the
committed ones, in log order, to its ``JournalState``. Since everything in it was
committed, a read of a ``JournalState`` never shows an entry that can be lost.

Commands:

* ``AppendCommand(shard, after_id, kind, data)`` -- a *conditional append*: it
  succeeds only if ``after_id`` is the shard's current tail id, and then the entry
  gets id ``after_id + 1`` (ids are per-shard, start at 1; 0 = empty stream).
  Kinds: ``data`` (a primary's write effects, opaque), ``lease`` (a primary renews
  its lease: node id + duration; only the shard's current leader may), ``leader`` (a
  replica claims leadership, naming itself; conditional on the latest entry it has
  applied, so exactly one racer wins and a stale primary is fenced), ``checksum``
  (a running checksum marker, opaque here, for snapshot verification).
* ``TrimCommand(shard, upto_id, snapshot_id)`` -- drop entries ``<= upto_id`` once a
  verified snapshot covers them.

Invariants:

* Deterministic: the same commands in the same order give byte-identical
  ``snapshot()`` output on every replica; a malformed command is rejected the same
  way everywhere instead of raising.
* Per shard, ids are contiguous and increasing; a failed append changes nothing and
  says the real tail (``CondFail(tail_id)``).
* Leadership (node, epoch) only changes through a ``leader`` entry and survives trims.
"""

from __future__ import annotations

import base64
import enum
import json
import struct
from dataclasses import dataclass, field
from typing import Union


# The largest entry data a journal accepts: one write's effects, e.g. a SET whose
# value is as large as a node's proto-max-bulk-len (512 MB) lets it be, with room to
# spare. A primary never sends more in one entry (durable.PrimaryLog).
MAX_ENTRY_BYTES = 1024 * 1024 * 1024


class EntryKind(enum.Enum):
    DATA = "data"
    LEASE = "lease"
    LEADER = "leader"
    CHECKSUM = "checksum"


_KIND_CODES = {EntryKind.DATA: 1, EntryKind.LEASE: 2, EntryKind.LEADER: 3, EntryKind.CHECKSUM: 4}
_KINDS_BY_CODE = {v: k for k, v in _KIND_CODES.items()}


@dataclass(frozen=True)
class StreamEntry:
    id: int  # per-shard, contiguous from 1
    kind: EntryKind
    data: bytes


@dataclass(frozen=True)
class AppendCommand:
    shard: str
    after_id: int  # must equal the shard's tail for the append to succeed
    kind: EntryKind
    data: bytes


@dataclass(frozen=True)
class TrimCommand:
    shard: str
    upto_id: int  # entries with id <= upto_id are dropped
    snapshot_id: str  # the verified snapshot that covers them


Command = Union[AppendCommand, TrimCommand]

# -- results --------------------------------------------------------------------------


@dataclass(frozen=True)
class Appended:
    id: int


@dataclass(frozen=True)
class CondFail:
    tail_id: int  # the shard's real tail: the caller was not caught up


@dataclass(frozen=True)
class Fenced:
    leader: str | None  # the shard's current leader; the writer of the lease is not it
    epoch: int


@dataclass(frozen=True)
class Trimmed:
    upto_id: int  # entries up to here are now gone


@dataclass(frozen=True)
class Rejected:
    reason: str


Result = Union[Appended, CondFail, Fenced, Trimmed, Rejected]


@dataclass(frozen=True)
class Leadership:
    node: str  # the primary named by the latest leader entry
    epoch: int  # how many leader entries the shard has had: its "term of leadership"
    entry_id: int  # id of that leader entry


class TrimmedError(Exception):
    """A read asked for entries that a snapshot has replaced."""

    def __init__(self, shard: str, upto_id: int, snapshot_id: str) -> None:
        super().__init__(f"shard {shard!r}: entries up to {upto_id} trimmed (snapshot {snapshot_id})")
        self.upto_id = upto_id
        self.snapshot_id = snapshot_id


# -- command and entry-data encodings ------------------------------------------------------

_APPEND = struct.Struct(">BQH")
_TRIM = struct.Struct(">QHH")


def encode_command(cmd: Command) -> bytes:
    shard = cmd.shard.encode()
    if isinstance(cmd, AppendCommand):
        return b"A" + _APPEND.pack(_KIND_CODES[cmd.kind], cmd.after_id, len(shard)) + shard + cmd.data
    sid = cmd.snapshot_id.encode()
    return b"T" + _TRIM.pack(cmd.upto_id, len(shard), len(sid)) + shard + sid


def decode_command(payload: bytes) -> Command:
    """Inverse of encode_command; raises ValueError on anything malformed."""
    try:
        tag, body = payload[:1], payload[1:]
        if tag == b"A":
            code, after_id, n = _APPEND.unpack_from(body)
            start = _APPEND.size
            shard = body[start : start + n].decode()
            if len(body) < start + n:
                raise ValueError("truncated shard name")
            return AppendCommand(shard, after_id, _KINDS_BY_CODE[code], bytes(body[start + n :]))
        if tag == b"T":
            upto, n, m = _TRIM.unpack_from(body)
            start = _TRIM.size
            if len(body) != start + n + m:
                raise ValueError("bad trim length")
            return TrimCommand(body[start : start + n].decode(), upto, body[start + n :].decode())
    except (struct.error, KeyError, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed journal command: {exc}") from exc
    raise ValueError(f"unknown journal command tag {tag!r}")


def encode_lease(node: str, duration_ms: int) -> bytes:
    return json.dumps([node, duration_ms], separators=(",", ":")).encode()


def decode_lease(data: bytes) -> tuple[str, int]:
    try:
        node, duration_ms = json.loads(data)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"lease data is not [node, duration_ms]: {exc}") from exc
    if not isinstance(node, str) or not isinstance(duration_ms, int) or duration_ms <= 0:
        raise ValueError("lease data must be [node, positive duration_ms]")
    return node, duration_ms


def encode_leader(node: str, claim: str = "") -> bytes:
    """A leadership entry's data: the new primary and a token unique to this claim.

    The token lets a claimant whose request timed out tell its own entry from an
    identical-looking one written by an earlier incarnation of the same node.
    """
    return json.dumps([node, claim], separators=(",", ":")).encode()


def decode_leader(data: bytes) -> str:
    try:
        node, claim = json.loads(data)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"leader data is not [node, claim token]: {exc}") from exc
    if not isinstance(node, str) or not node or not isinstance(claim, str):
        raise ValueError("leader entry must be [node, claim token]")
    return node


# -- the state machine ----------------------------------------------------------------


@dataclass
class _Shard:
    entries: list[StreamEntry] = field(default_factory=list)  # ids trimmed_upto+1 .. tail
    trimmed_upto: int = 0
    snapshot_id: str = ""
    leadership: Leadership | None = None
    last_lease: tuple[str, int, int] | None = None  # (node, duration_ms, entry id)

    @property
    def tail(self) -> int:
        return self.entries[-1].id if self.entries else self.trimmed_upto


class JournalState:
    def __init__(self) -> None:
        self._shards: dict[str, _Shard] = {}

    def apply(self, payload: bytes) -> Result:
        """Apply one committed command. Never raises on bad input: it is rejected."""
        try:
            cmd = decode_command(payload)
        except ValueError as exc:
            return Rejected(str(exc))
        shard = self._shards.setdefault(cmd.shard, _Shard())
        if isinstance(cmd, TrimCommand):
            return self._trim(shard, cmd)
        if cmd.after_id != shard.tail:
            return CondFail(shard.tail)
        new_id = shard.tail + 1
        if cmd.kind is EntryKind.LEASE:
            try:
                node, duration_ms = decode_lease(cmd.data)
            except ValueError as exc:
                return Rejected(f"bad lease entry: {exc}")
            lead = shard.leadership
            if lead is None or lead.node != node:
                return Fenced(lead.node if lead else None, lead.epoch if lead else 0)
            shard.last_lease = (node, duration_ms, new_id)
        elif cmd.kind is EntryKind.LEADER:
            try:
                node = decode_leader(cmd.data)
            except ValueError as exc:
                return Rejected(f"bad leader entry: {exc}")
            epoch = shard.leadership.epoch + 1 if shard.leadership else 1
            shard.leadership = Leadership(node, epoch, new_id)
        shard.entries.append(StreamEntry(new_id, cmd.kind, cmd.data))
        return Appended(new_id)

    def _trim(self, shard: _Shard, cmd: TrimCommand) -> Result:
        if cmd.upto_id > shard.tail:
            return Rejected(f"cannot trim to {cmd.upto_id}: tail is {shard.tail}")
        if cmd.upto_id > shard.trimmed_upto:
            del shard.entries[: cmd.upto_id - shard.trimmed_upto]
            shard.trimmed_upto = cmd.upto_id
            shard.snapshot_id = cmd.snapshot_id
        return Trimmed(shard.trimmed_upto)

    # -- reads --------------------------------------------------------------------------

    def shards(self) -> list[str]:
        return sorted(self._shards)

    def tail(self, shard: str) -> int:
        s = self._shards.get(shard)
        return s.tail if s else 0

    def read(self, shard: str, after_id: int, limit: int = 1000) -> list[StreamEntry]:
        """Entries with id > after_id, oldest first; TrimmedError if some are gone."""
        s = self._shards.get(shard)
        if s is None:
            return []
        if after_id < s.trimmed_upto:
            raise TrimmedError(shard, s.trimmed_upto, s.snapshot_id)
        start = after_id - s.trimmed_upto
        return s.entries[start : start + limit]

    def leader(self, shard: str) -> Leadership | None:
        s = self._shards.get(shard)
        return s.leadership if s else None

    def last_lease(self, shard: str) -> tuple[str, int, int] | None:
        """(node, duration_ms, entry id) of the shard's latest lease renewal."""
        s = self._shards.get(shard)
        return s.last_lease if s else None

    def trimmed(self, shard: str) -> tuple[int, str]:
        """(upto_id, snapshot_id) of the latest trim; (0, "") if never trimmed."""
        s = self._shards.get(shard)
        return (s.trimmed_upto, s.snapshot_id) if s else (0, "")

    # -- snapshot / restore (Raft InstallSnapshot carries these bytes) ----------------------

    def snapshot(self) -> bytes:
        body = {}
        for name in sorted(self._shards):
            s = self._shards[name]
            lead = s.leadership
            body[name] = {
                "entries": [[e.id, e.kind.value, base64.b64encode(e.data).decode()] for e in s.entries],
                "trimmed": [s.trimmed_upto, s.snapshot_id],
                "leader": [lead.node, lead.epoch, lead.entry_id] if lead else None,
                "lease": list(s.last_lease) if s.last_lease else None,
            }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def restore(cls, data: bytes) -> JournalState:
        state = cls()
        for name, body in json.loads(data).items():
            s = _Shard()
            s.entries = [StreamEntry(i, EntryKind(k), base64.b64decode(d)) for i, k, d in body["entries"]]
            s.trimmed_upto, s.snapshot_id = body["trimmed"]
            if body["leader"]:
                s.leadership = Leadership(*body["leader"])
            if body["lease"]:
                node, duration_ms, entry_id = body["lease"]
                s.last_lease = (node, duration_ms, entry_id)
            state._shards[name] = s
        return state

"""Raft's value types and their wire and disk encodings (split out of raft.py).

Everything that crosses the boundary of ``RaftNode`` lives here: log entries, hard
state, snapshots, the messages nodes exchange, the actions a node asks its runtime
to perform, and ``PersistentState`` -- what a runtime has made durable, rebuilt from
disk records on restart.

Invariants:

* Every type is an immutable value (frozen dataclass); payloads are opaque bytes.
* ``decode_message(encode_message(m)) == m`` for every message, and the encoding is
  plain JSON (bytes in base64) so a TCP transport or a log line can carry it.
* Disk records are self-describing (one tag byte) and replaying them in order with
  ``PersistentState.from_records`` yields exactly the state that the ``Persist``
  actions described: snapshot, then truncation, then entries, then hard state.
  A hard-state record is ``[term, voted_for]``, or ``[term, voted_for, true]`` while
  the node is recovering a lost log, so files written before recovery existed read
  back unchanged.
"""

from __future__ import annotations

import base64
import enum
import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Union


@dataclass(frozen=True)
class Entry:
    index: int  # position in the Raft log, >= 1
    term: int  # term of the leader that created it, >= 1
    payload: bytes = b""  # opaque state-machine command; empty for a no-op
    noop: bool = False  # the entry a new leader appends to commit its predecessors' entries


@dataclass(frozen=True)
class HardState:
    term: int = 0  # latest term this node has seen, >= 0
    voted_for: str | None = None  # candidate voted for in `term`, if any
    recovering: bool = False  # the log was lost (corrupt): no votes until caught up (raft_recovery.py)


@dataclass(frozen=True)
class Snapshot:
    index: int  # last log index the snapshot covers, >= 1
    term: int  # term of that entry
    data: bytes  # opaque bytes produced by the state machine


# -- messages -------------------------------------------------------------------------


@dataclass(frozen=True)
class VoteRequest:
    frm: str
    term: int  # for a pre-vote: the term the sender would campaign in (its term + 1)
    last_index: int
    last_term: int
    pre_vote: bool = False


@dataclass(frozen=True)
class VoteResponse:
    frm: str
    term: int
    granted: bool
    pre_vote: bool = False


@dataclass(frozen=True)
class AppendRequest:
    frm: str
    term: int
    prev_index: int
    prev_term: int
    entries: tuple[Entry, ...]
    commit: int


@dataclass(frozen=True)
class AppendResponse:
    frm: str
    term: int
    success: bool
    match_index: int = 0  # on success: the follower's log matches the leader's up to here
    reject_index: int = 0  # on failure: the prev_index that did not match
    hint_index: int = 0  # on failure: the leader should retry from hint_index + 1


@dataclass(frozen=True)
class SnapshotRequest:
    """InstallSnapshot: the follower needs entries the leader has already trimmed."""

    frm: str
    term: int
    snapshot: Snapshot


@dataclass(frozen=True)
class RecoveryRequest:
    """A recovering node (its log and term/vote were lost) asks a peer what it knows."""

    frm: str
    nonce: int  # drawn by each incarnation of the recovering node; replies must echo it


@dataclass(frozen=True)
class RecoveryResponse:
    """A healthy node's answer: its term, whether it leads that term, its last index.

    Carries no term for the generic rules in ``RaftNode.step``: it never changes the
    receiver's term by itself (see the recovery design in raft_recovery.py).
    """

    frm: str
    term: int  # the responder's current term (durable before this reply is sent)
    nonce: int  # echoed from the request
    leader: bool  # the responder is the leader of `term`
    last_index: int  # the responder's last log index when it answered


Message = Union[
    VoteRequest, VoteResponse, AppendRequest, AppendResponse, SnapshotRequest, RecoveryRequest, RecoveryResponse
]

# -- actions (RaftNode outputs) -------------------------------------------------------


class Role(enum.Enum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre-candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


@dataclass(frozen=True)
class Send:
    """Transmit `message` to `to` -- only once every earlier Persist is durable."""

    to: str
    message: Message


@dataclass(frozen=True)
class Persist:
    """Write to stable storage, in this order: snapshot, truncation, entries, hard state.

    The runtime must fsync it before transmitting any later ``Send`` and then report
    ``RaftNode.persisted(last_index, last_term)``.
    """

    hard_state: HardState | None = None
    entries: tuple[Entry, ...] = ()
    truncate_from: int | None = None  # drop every entry with index >= this first
    snapshot: Snapshot | None = None  # replaces every entry with index <= snapshot.index


@dataclass(frozen=True)
class Apply:
    """Committed entries, in log order, each delivered exactly once per incarnation."""

    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class RestoreSnapshot:
    """Replace the state machine with the snapshot (a follower that fell behind)."""

    snapshot: Snapshot


@dataclass(frozen=True)
class RoleChanged:
    role: Role
    term: int
    leader: str | None


@dataclass(frozen=True)
class Proposed:
    """A proposal was appended at (index, term); it succeeded iff that pair is applied."""

    index: int
    term: int


@dataclass(frozen=True)
class Recovered:
    """A recovering node holds every entry it could have lost and may vote again."""

    term: int  # the term it recovered in (it has recorded a vote for that term's leader)
    index: int  # its commit index: at least the leader's last index when it was asked


Action = Union[Send, Persist, Apply, RestoreSnapshot, RoleChanged, Proposed, Recovered]

# -- wire encoding --------------------------------------------------------------------

_MESSAGE_TYPES: dict[str, type] = {
    t.__name__: t
    for t in (VoteRequest, VoteResponse, AppendRequest, AppendResponse, SnapshotRequest, RecoveryRequest, RecoveryResponse)
}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def encode_message(message: Message) -> bytes:
    body: dict[str, Any] = {"type": type(message).__name__}
    for name, value in vars(message).items():
        if name == "entries":
            body[name] = [[e.index, e.term, _b64(e.payload), e.noop] for e in value]
        elif name == "snapshot":
            body[name] = [value.index, value.term, _b64(value.data)]
        else:
            body[name] = value
    return json.dumps(body, separators=(",", ":")).encode()


def decode_message(data: bytes) -> Message:
    """Inverse of encode_message; raises ValueError on anything malformed."""
    try:
        body = json.loads(data)
        cls = _MESSAGE_TYPES[body.pop("type")]
        if "entries" in body:
            body["entries"] = tuple(Entry(int(i), int(t), _unb64(p), bool(n)) for i, t, p, n in body["entries"])
        if "snapshot" in body:
            i, t, d = body["snapshot"]
            body["snapshot"] = Snapshot(int(i), int(t), _unb64(d))
        return cls(**body)  # type: ignore[no-any-return]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed raft message: {exc}") from exc


# -- disk encoding --------------------------------------------------------------------

_ENTRY = struct.Struct(">QQB")
_SNAP = struct.Struct(">QQ")
_TRUNC = struct.Struct(">Q")


def persist_records(p: Persist) -> list[bytes]:
    """The disk records (payloads for records.py) that describe one Persist action."""
    out: list[bytes] = []
    if p.snapshot is not None:
        out.append(b"S" + _SNAP.pack(p.snapshot.index, p.snapshot.term) + p.snapshot.data)
    if p.truncate_from is not None:
        out.append(b"T" + _TRUNC.pack(p.truncate_from))
    for e in p.entries:
        out.append(b"E" + _ENTRY.pack(e.index, e.term, 1 if e.noop else 0) + e.payload)
    if p.hard_state is not None:
        hs = p.hard_state
        fields: list[Any] = [hs.term, hs.voted_for] + ([True] if hs.recovering else [])
        out.append(b"H" + json.dumps(fields).encode())
    return out


@dataclass
class PersistentState:
    """What is on stable storage: the input RaftNode is rebuilt from after a restart."""

    hard_state: HardState = HardState()
    snapshot: Snapshot | None = None
    entries: list[Entry] = field(default_factory=list)  # contiguous, after the snapshot

    @property
    def first_index(self) -> int:
        return (self.snapshot.index if self.snapshot else 0) + 1

    @property
    def last_index(self) -> int:
        return self.entries[-1].index if self.entries else self.first_index - 1

    @property
    def last_term(self) -> int:
        if self.entries:
            return self.entries[-1].term
        return self.snapshot.term if self.snapshot else 0

    def apply(self, p: Persist) -> None:
        if p.snapshot is not None:
            self.snapshot = p.snapshot
            self.entries = [e for e in self.entries if e.index > p.snapshot.index]
        if p.truncate_from is not None:
            self.entries = [e for e in self.entries if e.index < p.truncate_from]
        for e in p.entries:
            if e.index != self.last_index + 1:
                raise ValueError(f"entry {e.index} does not follow the stored log (last {self.last_index})")
            self.entries.append(e)
        if p.hard_state is not None:
            self.hard_state = p.hard_state

    def to_records(self) -> list[bytes]:
        """The compact record list for a rewrite (compaction) of the log file."""
        return persist_records(Persist(self.hard_state, tuple(self.entries), None, self.snapshot))

    @classmethod
    def from_records(cls, records: Iterable[bytes]) -> PersistentState:
        state = cls()
        for rec in records:
            tag, body = rec[:1], rec[1:]
            if tag == b"E":
                index, term, noop = _ENTRY.unpack_from(body)
                entry = Entry(index, term, bytes(body[_ENTRY.size :]), bool(noop))
                state.apply(Persist(entries=(entry,)))
            elif tag == b"H":
                term, voted_for, *rest = json.loads(body)  # [term, voted_for(, recovering)]
                state.apply(Persist(hard_state=HardState(int(term), voted_for, bool(rest and rest[0]))))
            elif tag == b"T":
                state.apply(Persist(truncate_from=_TRUNC.unpack(body)[0]))
            elif tag == b"S":
                index, term = _SNAP.unpack_from(body)
                state.apply(Persist(snapshot=Snapshot(index, term, bytes(body[_SNAP.size :]))))
            else:
                raise ValueError(f"unknown raft disk record tag {tag!r}")
        return state

"""The host journal's wire format: Raft messages in binary, batched per zone link.

A zone process hosts one Raft group per durable cluster (journal_host.py). What
one zone sends another during an event-loop turn, for every group, leaves as ONE
frame on the link between the two zone processes::

    frame   = u32 length | batch
    batch   = item*
    item    = u8 len(group) | group (ASCII) | u32 len(message) | message
    message = u8 type | fields (big-endian; strings u8 length + UTF-8; a
              voted-for/None-able string never appears in a message)

The JSON+base64 encoding of raft_messages.encode_message stays for the dedicated
journal process (its peers speak it); this one costs no base64 and no JSON parse
per message, and one syscall per turn per link however many groups spoke.

Invariants:
* ``decode_message(encode_message(m)) == m`` for every message type, and
  ``decode_batch(encode_batch(items)) == items``.
* A malformed batch or message raises ValueError (the link is then closed: a
  proven zone process never sends one, so it is a bug or an attack, not a loss).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from .raft_messages import (
    AppendRequest,
    AppendResponse,
    Entry,
    Message,
    RecoveryRequest,
    RecoveryResponse,
    Snapshot,
    SnapshotRequest,
    VoteRequest,
    VoteResponse,
)

_U8 = struct.Struct(">B")
_U32 = struct.Struct(">I")
_VOTE_REQ = struct.Struct(">QQQB")  # term, last_index, last_term, pre_vote
_VOTE_RESP = struct.Struct(">QBB")  # term, granted, pre_vote
_APPEND_REQ = struct.Struct(">QQQQI")  # term, prev_index, prev_term, commit, entry count
_ENTRY = struct.Struct(">QQBI")  # index, term, noop, payload length
_APPEND_RESP = struct.Struct(">QBQQQ")  # term, success, match, reject, hint
_SNAP_REQ = struct.Struct(">QQQI")  # term, snapshot index, snapshot term, data length
_RECOVERY_REQ = struct.Struct(">Q")  # nonce
_RECOVERY_RESP = struct.Struct(">QQBQ")  # term, nonce, leader, last_index

_TYPES: dict[type, int] = {VoteRequest: 1, VoteResponse: 2, AppendRequest: 3, AppendResponse: 4,
                           SnapshotRequest: 5, RecoveryRequest: 6, RecoveryResponse: 7}


def _name(text: str) -> bytes:
    raw = text.encode()
    if len(raw) > 255:
        raise ValueError(f"a name of {len(raw)} bytes (at most 255)")
    return _U8.pack(len(raw)) + raw


def encode_message(m: Message) -> bytes:
    head = _U8.pack(_TYPES[type(m)]) + _name(m.frm)
    if isinstance(m, VoteRequest):
        return head + _VOTE_REQ.pack(m.term, m.last_index, m.last_term, m.pre_vote)
    if isinstance(m, VoteResponse):
        return head + _VOTE_RESP.pack(m.term, m.granted, m.pre_vote)
    if isinstance(m, AppendRequest):
        parts = [head, _APPEND_REQ.pack(m.term, m.prev_index, m.prev_term, m.commit, len(m.entries))]
        for e in m.entries:
            parts += (_ENTRY.pack(e.index, e.term, e.noop, len(e.payload)), e.payload)
        return b"".join(parts)
    if isinstance(m, AppendResponse):
        return head + _APPEND_RESP.pack(m.term, m.success, m.match_index, m.reject_index, m.hint_index)
    if isinstance(m, SnapshotRequest):
        s = m.snapshot
        return head + _SNAP_REQ.pack(m.term, s.index, s.term, len(s.data)) + s.data
    if isinstance(m, RecoveryRequest):
        return head + _RECOVERY_REQ.pack(m.nonce)
    assert isinstance(m, RecoveryResponse)
    return head + _RECOVERY_RESP.pack(m.term, m.nonce, m.leader, m.last_index)


def decode_message(data: bytes | memoryview) -> Message:
    """Inverse of encode_message; ValueError on anything malformed."""
    view = memoryview(data)
    try:
        kind = view[0]
        n = view[1]
        frm = bytes(view[2 : 2 + n]).decode()
        if len(frm.encode()) != n:
            raise ValueError("truncated sender")
        pos = 2 + n
        if kind == 1:
            term, last_index, last_term, pre = _VOTE_REQ.unpack_from(view, pos)
            msg: Message = VoteRequest(frm, term, last_index, last_term, bool(pre))
            pos += _VOTE_REQ.size
        elif kind == 2:
            term, granted, pre = _VOTE_RESP.unpack_from(view, pos)
            msg, pos = VoteResponse(frm, term, bool(granted), bool(pre)), pos + _VOTE_RESP.size
        elif kind == 3:
            term, prev_index, prev_term, commit, count = _APPEND_REQ.unpack_from(view, pos)
            pos += _APPEND_REQ.size
            entries = []
            for _ in range(count):
                index, eterm, noop, size = _ENTRY.unpack_from(view, pos)
                pos += _ENTRY.size
                if pos + size > len(view):
                    raise ValueError("truncated entry")
                entries.append(Entry(index, eterm, bytes(view[pos : pos + size]), bool(noop)))
                pos += size
            msg = AppendRequest(frm, term, prev_index, prev_term, tuple(entries), commit)
        elif kind == 4:
            term, ok, match, reject, hint = _APPEND_RESP.unpack_from(view, pos)
            msg, pos = AppendResponse(frm, term, bool(ok), match, reject, hint), pos + _APPEND_RESP.size
        elif kind == 5:
            term, index, sterm, size = _SNAP_REQ.unpack_from(view, pos)
            pos += _SNAP_REQ.size
            if pos + size > len(view):
                raise ValueError("truncated snapshot")
            msg = SnapshotRequest(frm, term, Snapshot(index, sterm, bytes(view[pos : pos + size])))
            pos += size
        elif kind == 6:
            (nonce,) = _RECOVERY_REQ.unpack_from(view, pos)
            msg, pos = RecoveryRequest(frm, nonce), pos + _RECOVERY_REQ.size
        elif kind == 7:
            term, nonce, leader, last_index = _RECOVERY_RESP.unpack_from(view, pos)
            msg, pos = RecoveryResponse(frm, term, nonce, bool(leader), last_index), pos + _RECOVERY_RESP.size
        else:
            raise ValueError(f"unknown message type {kind}")
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed raft message: {exc}") from None
    if pos != len(view):
        raise ValueError(f"malformed raft message: {len(view) - pos} trailing bytes")
    return msg


def encode_batch(items: Iterable[tuple[str, bytes]]) -> bytes:
    """The body of one link frame: every (group, encoded message) of a turn."""
    parts: list[bytes] = []
    for group, message in items:
        parts += (_name(group), _U32.pack(len(message)), message)
    return b"".join(parts)


def decode_batch(body: bytes) -> list[tuple[str, memoryview]]:
    """(group, message bytes) pairs, in order; ValueError if the batch is malformed."""
    view, pos, out = memoryview(body), 0, []
    try:
        while pos < len(view):
            n = view[pos]
            group = bytes(view[pos + 1 : pos + 1 + n]).decode("ascii")
            pos += 1 + n
            (size,) = _U32.unpack_from(view, pos)
            pos += _U32.size
            if len(group) != n or pos + size > len(view):
                raise ValueError("truncated item")
            out.append((group, view[pos : pos + size]))
            pos += size
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed batch: {exc}") from None
    return out

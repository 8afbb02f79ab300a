"""A stream as an RDB object (Redis 7.0's STREAM_LISTPACKS_2), both ways.

Layout: the node count, then per node its master ID (16 bytes, big-endian ms|seq,
as an RDB string) and its listpack; the entry count, last ID, first ID, max
deleted ID and entries-added; then the groups in name order, each with its last
ID, entries-read (-1 written as 2**64-1), its PEL (raw 16-byte IDs, delivery time
as 8 bytes LE, delivery count) and its consumers in name order (name, seen-time,
the IDs they own). STREAM_LISTPACKS (Redis 6) lacks the counters and entries-read:
they are derived as Redis 7.0 derives them when it loads one.

A node's listpack is ``live | deleted | n | field... | 0`` (the master entry), then
per entry ``flags | ms-diff | seq-diff | [n | field value ...] or [value ...] |
lp-count``, SAMEFIELDS when the entry's field names equal the master's.

Invariants and limits:
* DUMP writes the node boundaries and master fields of ``Stream.nodes``, so a
  stream built by XADD alone (no XDEL, no exact trimming) is byte-equal to
  redis-server's DUMP of it. The model keeps no deleted entries' contents: such a
  node is written with its live entries only (``deleted`` 0), which restores the
  same data and XINFO counters but not Redis's bytes.
* RESTORE rebuilds the node model from the payload (deleted entries counted, not
  kept) and refuses payloads that would break ``Stream``'s invariants: entries
  out of order or above the last ID, a listpack whose counters disagree with its
  entries, empty nodes, duplicate groups or consumers, a consumer owning an ID
  that is not in its group's PEL (or owned twice), a PEL entry no consumer owns.
"""

from __future__ import annotations

from . import rdb_listpack as lp
from .rdb import RdbError, Reader, encode_length, encode_string
from .streamtype import ENTRIES_READ_UNKNOWN, UINT64_MAX, Consumer, Group, Nack, Node, Stream, StreamID

_DELETED, _SAMEFIELDS = 1, 2


def _raw_id(sid: StreamID) -> bytes:
    return sid[0].to_bytes(8, "big") + sid[1].to_bytes(8, "big")


def _as_int64(v: int) -> int:
    v &= UINT64_MAX
    return v - (1 << 64) if v >= 1 << 63 else v


def _node_listpack(s: Stream, node: Node) -> bytes:
    live = list(s.entries.irange(node.master, node.last))
    fields = node.fields
    out = [lp.lp_int(len(live)), lp.lp_int(0), lp.lp_int(len(fields)), *map(lp.lp_entry, fields), lp.lp_int(0)]
    ms0, seq0 = node.master
    for sid in live:
        flat = s.entries[sid]
        n = len(flat) // 2
        same = flat[0::2] == fields
        out += (lp.lp_int(_SAMEFIELDS if same else 0), lp.lp_int(_as_int64(sid[0] - ms0)),
                lp.lp_int(_as_int64(sid[1] - seq0)))
        if same:
            out += map(lp.lp_entry, flat[1::2])
            out.append(lp.lp_int(3 + n))
        else:
            out.append(lp.lp_int(n))
            out += map(lp.lp_entry, flat)
            out.append(lp.lp_int(3 + 2 * n + 1))
    return lp.listpack(out)


def encode_stream(s: Stream, compress: bool) -> bytes:
    """The STREAM_LISTPACKS_2 body (without the type byte)."""
    out = [encode_length(len(s.nodes))]
    for master, node in s.nodes.items():
        out.append(encode_string(_raw_id(master), compress))
        out.append(encode_string(_node_listpack(s, node), compress))
    out.append(encode_length(len(s.entries)))
    for sid in (s.last_id, s.first_id(), s.max_deleted_id):
        out += (encode_length(sid[0]), encode_length(sid[1]))
    out.append(encode_length(s.entries_added))
    out.append(encode_length(len(s.groups)))
    for g in s.sorted_groups():
        out += (encode_string(g.name, compress), encode_length(g.last_id[0]), encode_length(g.last_id[1]),
                encode_length(g.entries_read & UINT64_MAX), encode_length(len(g.pel)))
        for sid, nack in g.pel.items():
            out += (_raw_id(sid), (nack.delivery_time & UINT64_MAX).to_bytes(8, "little"),
                    encode_length(nack.delivery_count))
        out.append(encode_length(len(g.consumers)))
        for c in g.sorted_consumers():
            out += (encode_string(c.name, compress), (c.seen_time & UINT64_MAX).to_bytes(8, "little"),
                    encode_length(len(c.pel)))
            out += map(_raw_id, c.pel.keys())
    return b"".join(out)


# -- RESTORE --------------------------------------------------------------------------------


def _int(text: bytes) -> int:
    try:
        return int(text)
    except ValueError:
        raise RdbError("stream listpack: integer expected") from None


def _read_node(s: Stream, master: StreamID, blob: bytes) -> None:
    items = lp.read_listpack(blob)
    if len(items) < 4:
        raise RdbError("stream node too short")
    live, deleted, nfields = _int(items[0]), _int(items[1]), _int(items[2])
    if nfields < 0 or 3 + nfields + 1 > len(items) or items[3 + nfields] != b"0":
        raise RdbError("stream master entry")
    fields = tuple(items[3:3 + nfields])
    node = Node(master, fields)
    i = 4 + nfields
    seen_live = seen_deleted = 0
    last: StreamID | None = None
    if s.nodes and s.nodes.peekitem(-1)[1].last >= master:
        raise RdbError("stream nodes out of order")
    while i < len(items):
        if i + 3 > len(items):
            raise RdbError("stream entry header")
        flags = _int(items[i])
        sid = ((master[0] + _int(items[i + 1])) & UINT64_MAX, (master[1] + _int(items[i + 2])) & UINT64_MAX)
        i += 3
        if flags & _SAMEFIELDS:
            n = nfields
            if i + n + 1 > len(items):
                raise RdbError("stream entry")
            flat = tuple(e for pair in zip(fields, items[i:i + n]) for e in pair)
            i += n
            expected = 3 + n
        else:
            if i >= len(items):
                raise RdbError("stream entry")
            n = _int(items[i])
            i += 1
            if n < 0 or i + 2 * n + 1 > len(items):
                raise RdbError("stream entry")
            flat = tuple(items[i:i + 2 * n])
            i += 2 * n
            expected = 3 + 2 * n + 1
        if _int(items[i]) != expected:
            raise RdbError("stream lp-count")
        i += 1
        if sid < master or (last is not None and sid <= last):
            raise RdbError("stream entries out of order")
        node.add(sid, flat)
        if flags & _DELETED:
            node.live -= 1
            node.deleted += 1
            seen_deleted += 1
        else:
            s.entries[sid] = flat
            seen_live += 1
        last = sid
    if (seen_live, seen_deleted) != (live, deleted) or not live:
        raise RdbError("stream node counters")
    s.nodes[master] = node


def _id(r: Reader) -> StreamID:
    ms, seq = r.length(), r.length()
    if ms > UINT64_MAX or seq > UINT64_MAX:
        raise RdbError("stream id")
    return ms, seq


def _raw(r: Reader) -> StreamID:
    raw = r.take(16)
    return int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:], "big")


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def decode_stream(r: Reader, v2: bool) -> Stream:
    s = Stream()
    for _ in range(r.count(2)):
        key = r.string()
        if len(key) != 16:
            raise RdbError("stream node key")
        _read_node(s, (int.from_bytes(key[:8], "big"), int.from_bytes(key[8:], "big")), r.string())
    if r.length() != len(s.entries):
        raise RdbError("stream length")
    s.last_id = _id(r)
    if s.entries and s.entries.peekitem(-1)[0] > s.last_id:
        raise RdbError("stream last id")
    if v2:
        _id(r)  # the first entry's ID: the entries say it
        s.max_deleted_id = _id(r)
        s.entries_added = r.length()
    else:
        s.entries_added = len(s.entries)
    for _ in range(r.count()):
        name = r.string()
        if name in s.groups:
            raise RdbError("duplicate group")
        last = _id(r)
        read = _signed(r.length()) if v2 else s.estimate_entries_read(last)
        g = s.groups[name] = Group(name, last, read if read >= 0 else ENTRIES_READ_UNKNOWN)
        for _ in range(r.count(17)):
            sid = _raw(r)
            when = _signed(r.u64_le())
            count = r.length()
            if sid in g.pel:
                raise RdbError("duplicate pending id")
            g.pel[sid] = Nack(None, when, count)  # type: ignore[arg-type]  # owner set below
        for _ in range(r.count(9)):
            cname = r.string()
            if cname in g.consumers:
                raise RdbError("duplicate consumer")
            c = g.consumers[cname] = Consumer(cname, _signed(r.u64_le()))
            for _ in range(r.count(16)):
                sid = _raw(r)
                nack = g.pel.get(sid)
                if nack is None or nack.consumer is not None:
                    raise RdbError("consumer pending id not in the group's")
                nack.consumer = c
                c.pel[sid] = nack
        if any(nack.consumer is None for nack in g.pel.values()):
            raise RdbError("pending id without a consumer")
    return s


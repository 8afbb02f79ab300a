"""The stream value type: entries, consumer groups, and the shape Redis 7.0 keeps them in.

An entry ID is a ``(ms, seq)`` tuple of unsigned 64-bit integers; tuples compare as
Redis compares IDs. ``parse_id`` reads the textual forms with Redis's exact
leniency (``streamGenericParseIDOrReply`` over ``string2ull``).

``Stream`` invariants:

* ``entries`` (a SortedDict ID -> flat field/value tuple) holds exactly the live
  entries; every ID in it is <= ``last_id``, and ``last_id`` only grows (XSETID
  included). ``len(stream)`` is the entry count.
* ``entries_added`` counts every entry ever appended (XSETID may set it, never
  below the length); ``max_deleted_id`` is the largest ID XDEL removed (XSETID may
  set it). Trimming touches neither. The first live entry's ID (0-0 when empty) is
  what Redis reports as ``recorded-first-entry-id``.
* ``nodes`` mirrors Redis's radix tree of listpacks (master ID -> ``Node``): which
  entries share a node, how many are live or flagged deleted, and the node's size
  in bytes. Redis opens a new node when the tail one reaches
  ``stream-node-max-bytes``/``-entries``, and approximate trimming (``~``) removes
  whole nodes only, so XADD/XTRIM ``~`` replies and XINFO's ``radix-tree-keys``/
  ``-nodes`` depend on this layout; the model reproduces it byte for byte
  (``Node`` documents the listpack sizes). The layout is not data: a stream
  rebuilt from its live entries (full sync, snapshots) may be laid out
  differently, as after Redis's own AOF rewrite.
* A group's ``pel`` and its consumers' ``pel`` hold the same ``Nack`` objects: an
  ID is pending in the group exactly when it is pending for exactly one consumer,
  the one ``nack.consumer`` names.
* Groups and consumers are reported in byte order of their names, PELs in ID
  order (Redis keeps them in radix trees).
"""

from __future__ import annotations

import re
from typing import Iterator

from sortedcontainers import SortedDict

from . import errors
from .resp import string2ll

UINT64_MAX = 2**64 - 1
ZERO_ID = (0, 0)
MAX_ID = (UINT64_MAX, UINT64_MAX)
ENTRIES_READ_UNKNOWN = -1  # Redis's SCG_INVALID_ENTRIES_READ

StreamID = tuple[int, int]


# Redis 7.0's defaults for a new node (stream-node-max-bytes / -entries); the
# CONFIG parameters of the same names win when set.
NODE_MAX_BYTES = 4096
NODE_MAX_ENTRIES = 100
_LISTPACK_MAX_SIZE = 1 << 30  # STREAM_LISTPACK_MAX_SIZE

_STRTOULL = re.compile(rb"[ \t\n\v\f\r]*([+-]?)([0-9]+)\Z")


# -- IDs ------------------------------------------------------------------------------------


def format_id(sid: StreamID) -> bytes:
    return b"%d-%d" % sid


def string2ull(text: bytes) -> int | None:
    """Redis's ``string2ull``: ``string2ll`` when it applies (negatives refused),
    else C's ``strtoull`` over the whole string (leading blanks, a sign, leading
    zeros; ``-n`` wraps modulo 2**64; overflow refused)."""
    v = string2ll(text)
    if v is not None:
        return v if v >= 0 else None
    m = _STRTOULL.match(text)
    if m is None:
        return None
    n = int(m.group(2))
    if n > UINT64_MAX:
        return None
    return (-n) & UINT64_MAX if m.group(1) == b"-" else n


def parse_id(arg: bytes, missing_seq: int = 0, strict: bool = False) -> tuple[StreamID, bool]:
    """An ID argument: ``ms-seq``, ``ms`` (seq = ``missing_seq``), ``-``/``+`` unless
    ``strict``, and ``ms-*``. Returns (id, seq_given); seq_given is False only for
    ``ms-*``, which callers other than XADD must refuse (``parse_plain_id``)."""
    if len(arg) > 127:
        raise errors.STREAM_INVALID_ID
    if b"\0" in arg:
        arg = arg[: arg.index(b"\0")]  # Redis parses the argument as a C string
    if arg == b"-" or arg == b"+":
        if strict:
            raise errors.STREAM_INVALID_ID
        return (ZERO_ID if arg == b"-" else MAX_ID), True
    ms_text, dash, seq_text = arg.partition(b"-")
    ms = string2ull(ms_text)
    if ms is None:
        raise errors.STREAM_INVALID_ID
    if not dash:
        return (ms, missing_seq), True
    if seq_text == b"*":
        return (ms, 0), False
    seq = string2ull(seq_text)
    if seq is None:
        raise errors.STREAM_INVALID_ID
    return (ms, seq), True


def parse_plain_id(arg: bytes, missing_seq: int = 0, strict: bool = False) -> StreamID:
    """An ID where ``ms-*`` means nothing (everything but XADD's own ID)."""
    sid, seq_given = parse_id(arg, missing_seq, strict)
    if not seq_given:
        raise errors.STREAM_INVALID_ID
    return sid


def parse_interval_id(arg: bytes, missing_seq: int) -> tuple[StreamID, bool]:
    """A range bound: ``(id`` is exclusive (and strict), else any plain ID.
    Returns (id, exclusive)."""
    if len(arg) > 1 and arg[:1] == b"(":
        return parse_plain_id(arg[1:], missing_seq, strict=True), True
    return parse_plain_id(arg, missing_seq), False


def incr_id(sid: StreamID) -> StreamID | None:
    """The next ID, or None after the last possible one."""
    ms, seq = sid
    if seq == UINT64_MAX:
        if ms == UINT64_MAX:
            return None
        return (ms + 1, 0)
    return (ms, seq + 1)


def decr_id(sid: StreamID) -> StreamID | None:
    """The previous ID, or None before 0-0."""
    ms, seq = sid
    if seq == 0:
        if ms == 0:
            return None
        return (ms - 1, UINT64_MAX)
    return (ms, seq - 1)


# -- listpack sizes (the node layout model) ------------------------------------------------


def _int_encoded(v: int) -> int:
    if 0 <= v <= 127:
        return 1
    if -4096 <= v <= 4095:
        return 2
    if -32768 <= v <= 32767:
        return 3
    if -8388608 <= v <= 8388607:
        return 4
    if -2147483648 <= v <= 2147483647:
        return 5
    return 9


def _backlen(n: int) -> int:
    if n <= 127:
        return 1
    if n < 16383:
        return 2
    if n < 2097151:
        return 3
    if n < 268435455:
        return 4
    return 5


def int_element(v: int) -> int:
    """Bytes a listpack spends on an integer element (encoding + back length)."""
    n = _int_encoded(v)
    return n + _backlen(n)


def str_element(s: bytes) -> int:
    """Bytes a listpack spends on a string element: strings that read as integers
    (``string2ll``) are stored as integers."""
    v = string2ll(s)
    if v is not None:
        return int_element(v)
    n = len(s)
    n += 1 if n < 64 else 2 if n < 4096 else 5
    return n + _backlen(n)


def _as_int64(v: int) -> int:
    v &= UINT64_MAX
    return v - (1 << 64) if v >= 1 << 63 else v


class Node:
    """One listpack of Redis's radix tree: the entries appended while it was the tail.

    Layout (Redis 7.0 t_stream.c): header (6 bytes), master entry ``count | deleted
    | num-fields | field ... | 0``, then per entry ``flags | ms-diff | seq-diff
    [| num-fields | field] value ... | lp-count`` (fields are omitted when they
    equal the master's), then the end byte. ``size`` counts everything but the two
    counters, whose width depends on their values."""

    __slots__ = ("master", "fields", "live", "deleted", "size", "last")

    def __init__(self, master: StreamID, fields: tuple[bytes, ...]) -> None:
        self.master = master
        self.fields = fields  # the master entry's field names
        self.live = 0
        self.deleted = 0
        self.size = 6 + 1 + int_element(len(fields)) + sum(map(str_element, fields)) + int_element(0)
        self.last = master  # the last entry appended, live or not

    def bytes(self) -> int:
        return self.size + int_element(self.live) + int_element(self.deleted)

    def add(self, sid: StreamID, flat: tuple[bytes, ...]) -> None:
        names = flat[0::2]
        same = names == self.fields
        size = int_element(2 if same else 0)  # flags: SAMEFIELDS or none
        size += int_element(_as_int64(sid[0] - self.master[0])) + int_element(_as_int64(sid[1] - self.master[1]))
        if same:
            size += sum(map(str_element, flat[1::2]))
            size += int_element(3 + len(names))
        else:
            size += int_element(len(names)) + sum(map(str_element, flat))
            size += int_element(3 + 2 * len(names) + 1)
        self.size += size
        self.live += 1
        self.last = sid

    def copy(self) -> "Node":
        n = Node.__new__(Node)
        n.master, n.fields, n.live, n.deleted, n.size, n.last = (
            self.master, self.fields, self.live, self.deleted, self.size, self.last)
        return n


def _rax_key(sid: StreamID) -> bytes:
    return sid[0].to_bytes(8, "big") + sid[1].to_bytes(8, "big")


def rax_node_count(keys: list[bytes]) -> int:
    """Nodes of a Redis radix tree holding ``keys`` (sorted, all 16 bytes).

    Redis's rax keeps one node per maximal run of characters without a branch
    (compressed), one per branching point, and one empty node per key; the shape
    depends only on the key set."""
    if not keys:
        return 1

    def count(lo: int, hi: int, depth: int) -> int:
        if hi - lo == 1:
            return 2 if depth < 16 else 1
        first, last = keys[lo], keys[hi - 1]
        c = depth
        while first[c] == last[c]:
            c += 1
        n = (1 if c > depth else 0) + 1  # the run before the branch, the branch
        i = lo
        while i < hi:
            byte = keys[i][c]
            j = i + 1
            while j < hi and keys[j][c] == byte:
                j += 1
            n += count(i, j, c + 1)
            i = j
        return n

    return count(0, len(keys), 0)


# -- consumer groups --------------------------------------------------------------------------


class Nack:
    """A pending entry: who has it, when it was last delivered, how many times."""

    __slots__ = ("consumer", "delivery_time", "delivery_count")

    def __init__(self, consumer: "Consumer", delivery_time: int, delivery_count: int) -> None:
        self.consumer = consumer
        self.delivery_time = delivery_time
        self.delivery_count = delivery_count


class Consumer:
    __slots__ = ("name", "seen_time", "pel")

    def __init__(self, name: bytes, seen_time: int) -> None:
        self.name = name
        self.seen_time = seen_time
        self.pel: SortedDict = SortedDict()  # ID -> Nack (shared with the group's)


class Group:
    __slots__ = ("name", "last_id", "entries_read", "pel", "consumers")

    def __init__(self, name: bytes, last_id: StreamID, entries_read: int) -> None:
        self.name = name
        self.last_id = last_id
        self.entries_read = entries_read  # ENTRIES_READ_UNKNOWN when not known
        self.pel: SortedDict = SortedDict()  # ID -> Nack
        self.consumers: dict[bytes, Consumer] = {}

    def sorted_consumers(self) -> list[Consumer]:
        return [self.consumers[name] for name in sorted(self.consumers)]

    def consumer(self, name: bytes, now_ms: int) -> tuple[Consumer, bool]:
        """The consumer ``name``, created if missing; its seen-time becomes now.
        Returns (consumer, created)."""
        c = self.consumers.get(name)
        if c is None:
            c = self.consumers[name] = Consumer(name, now_ms)
            return c, True
        c.seen_time = now_ms
        return c, False

    def assign(self, sid: StreamID, consumer: Consumer, delivery_time: int, count: int) -> Nack:
        """Make ``sid`` pending for ``consumer`` (moving it from its former owner)."""
        nack = self.pel.get(sid)
        if nack is None:
            nack = self.pel[sid] = Nack(consumer, delivery_time, count)
        elif nack.consumer is not consumer:
            del nack.consumer.pel[sid]
            nack.consumer = consumer
        nack.delivery_time = delivery_time
        nack.delivery_count = count
        consumer.pel[sid] = nack
        return nack

    def ack(self, sid: StreamID) -> bool:
        nack = self.pel.pop(sid, None)
        if nack is None:
            return False
        del nack.consumer.pel[sid]
        return True

    def delete_consumer(self, name: bytes) -> int | None:
        """Remove a consumer and its pending entries; how many it had (None if unknown)."""
        c = self.consumers.pop(name, None)
        if c is None:
            return None
        for sid in c.pel:
            del self.pel[sid]
        return len(c.pel)

    def copy(self) -> "Group":
        g = Group(self.name, self.last_id, self.entries_read)
        for name, c in self.consumers.items():
            nc = g.consumers[name] = Consumer(name, c.seen_time)
            for sid, nack in c.pel.items():
                nc.pel[sid] = g.pel[sid] = Nack(nc, nack.delivery_time, nack.delivery_count)
        return g


# -- the stream ---------------------------------------------------------------------------------


class Stream:
    """A stream key's value (see the module docstring for the invariants)."""

    __slots__ = ("entries", "nodes", "last_id", "entries_added", "max_deleted_id", "groups", "signals")

    object_encoding = b"stream"

    def __init__(self) -> None:
        self.entries: SortedDict = SortedDict()  # ID -> (field, value, field, value, ...)
        self.nodes: SortedDict = SortedDict()  # master ID -> Node
        self.last_id: StreamID = ZERO_ID
        self.entries_added = 0
        self.max_deleted_id: StreamID = ZERO_ID
        self.groups: dict[bytes, Group] = {}
        # Bumped where Redis signals clients blocked on the key (XADD, XGROUP DESTROY):
        # only then, or when the key's value is replaced, does a blocked read look again.
        # Not data (copies start at 0).
        self.signals = 0

    def __len__(self) -> int:
        return len(self.entries)

    def __bool__(self) -> bool:
        return True  # an empty stream is still a key (unlike an empty hash)

    def __iter__(self) -> Iterator[tuple[StreamID, tuple[bytes, ...]]]:
        return iter(self.entries.items())

    # -- entries ------------------------------------------------------------------------
    def first_id(self) -> StreamID:
        """The first live entry's ID, 0-0 when empty (``recorded-first-entry-id``)."""
        return self.entries.peekitem(0)[0] if self.entries else ZERO_ID

    def last_entry_id(self) -> StreamID:
        """The last live entry's ID (Redis's streamLastValidID), 0-0 when empty."""
        return self.entries.peekitem(-1)[0] if self.entries else ZERO_ID

    def append(self, sid: StreamID, flat: tuple[bytes, ...], max_bytes: int = NODE_MAX_BYTES,
               max_entries: int = NODE_MAX_ENTRIES) -> None:
        """Add an entry whose ID is above ``last_id`` (the caller checked)."""
        tail = self.nodes.peekitem(-1)[1] if self.nodes else None
        if tail is not None:
            if max_bytes <= 0 or max_bytes > _LISTPACK_MAX_SIZE:
                max_bytes = _LISTPACK_MAX_SIZE
            if tail.bytes() + sum(map(len, flat)) >= max_bytes:
                tail = None
            elif max_entries and tail.live + tail.deleted >= max_entries:
                tail = None
        if tail is None:
            tail = self.nodes[sid] = Node(sid, flat[0::2])
        tail.add(sid, flat)
        self.entries[sid] = flat
        self.entries_added += 1
        self.last_id = sid
        self.signals += 1

    def node_of(self, sid: StreamID) -> Node:
        nodes = self.nodes
        return nodes.peekitem(nodes.bisect_right(sid) - 1)[1]

    def delete(self, sid: StreamID) -> bool:
        """XDEL one entry: flag it deleted in its node (the node goes with its last
        live entry); True if it existed."""
        if sid not in self.entries:
            return False
        node = self.node_of(sid)
        del self.entries[sid]
        if node.live == 1:
            del self.nodes[node.master]
        else:
            node.live -= 1
            node.deleted += 1
        if sid > self.max_deleted_id:
            self.max_deleted_id = sid
        return True

    def trim(self, maxlen: int | None = None, minid: StreamID | None = None, approx: bool = False,
             limit: int = 0) -> int:
        """Redis's streamTrim: drop whole nodes from the head while they are entirely
        beyond the threshold; then, unless ``approx``, flag the remaining excess
        entries of the next node. ``limit`` (approx only, 0 = none) caps the
        entries removed. Returns how many entries went."""
        deleted = 0
        entries = self.entries
        for master in list(self.nodes.keys()):
            node = self.nodes[master]
            if maxlen is not None and len(entries) <= maxlen:
                break
            if limit and deleted + node.live > limit:
                break
            if maxlen is not None:
                whole = len(entries) - node.live >= maxlen
            else:
                whole = node.last < minid  # type: ignore[operator]
            if whole:
                for sid in list(entries.irange(node.master, node.last)):
                    del entries[sid]
                deleted += node.live
                del self.nodes[master]
                continue
            if approx:
                break
            for sid in list(entries.irange(node.master, node.last)):
                if (len(entries) <= maxlen) if maxlen is not None else sid >= minid:  # type: ignore[operator]
                    break
                del entries[sid]
                node.live -= 1
                node.deleted += 1
                deleted += 1
            break
        return deleted

    def range(self, start: StreamID, end: StreamID, reverse: bool = False) -> Iterator[tuple[StreamID, tuple]]:
        entries = self.entries
        if start > end:
            return iter(())
        return ((sid, entries[sid]) for sid in entries.irange(start, end, reverse=reverse))

    def rax_nodes(self) -> int:
        return rax_node_count([_rax_key(m) for m in self.nodes.keys()])

    # -- consumer groups: the lag arithmetic of Redis 7.0 ------------------------------------
    def sorted_groups(self) -> list[Group]:
        return [self.groups[name] for name in sorted(self.groups)]

    def has_tombstones(self, start: StreamID) -> bool:
        """Whether a deleted entry may lie at or after ``start`` (streamRangeHasTombstones)."""
        if not self.entries or self.max_deleted_id == ZERO_ID:
            return False
        if self.first_id() > self.max_deleted_id:
            return False
        return start <= self.max_deleted_id

    def estimate_entries_read(self, sid: StreamID) -> int:
        """How many entries were added up to ``sid``, when that can be known
        (streamEstimateDistanceFromFirstEverEntry); else ENTRIES_READ_UNKNOWN."""
        if not self.entries_added:
            return 0
        if not self.entries and sid <= self.last_id:
            return self.entries_added
        if sid == self.last_id:
            return self.entries_added
        if sid > self.last_id:
            return ENTRIES_READ_UNKNOWN
        first = self.first_id()
        if self.max_deleted_id == ZERO_ID or self.max_deleted_id < first:
            if sid < first:
                return self.entries_added - len(self.entries)
            if sid == first:
                return self.entries_added - len(self.entries) + 1
        return ENTRIES_READ_UNKNOWN

    def lag(self, group: Group) -> int | None:
        """Entries the group has yet to read, or None when it can't be known."""
        if not self.entries_added:
            return 0
        if group.entries_read != ENTRIES_READ_UNKNOWN and not self.has_tombstones(group.last_id):
            return self.entries_added - group.entries_read
        read = self.estimate_entries_read(group.last_id)
        return None if read == ENTRIES_READ_UNKNOWN else self.entries_added - read

    def delivered(self, group: Group, sid: StreamID) -> None:
        """Advance ``group`` past ``sid`` (an entry it is being served) and keep its
        entries-read counter as Redis does."""
        if group.entries_read != ENTRIES_READ_UNKNOWN and not self.has_tombstones(sid):
            group.entries_read += 1
        elif self.entries_added:
            group.entries_read = self.estimate_entries_read(sid)
        group.last_id = sid

    # -- copies ---------------------------------------------------------------------------
    def rebuild_commands(self, key: bytes) -> list[list[bytes]]:
        """Commands that rebuild this stream exactly on an empty key, applied as the
        primary's stream (full sync, snapshots): entries, last ID, entries-added,
        max deleted ID, groups with their position and entries-read, consumers with
        their seen-times, PELs with delivery times and counts.

        A pending ID whose entry was deleted can only be made pending (XCLAIM FORCE)
        while the entry exists, so such IDs are added as placeholder entries, claimed,
        and deleted again; XSETID then restores the counters (twice when the last ID
        is below the max deleted ID, which only XSETID on an empty stream allows).
        An empty stream starts as Redis's AOF rewrite starts it: XADD MAXLEN 0."""
        out: list[list[bytes]] = []
        ghosts = sorted({sid for g in self.groups.values() for sid in g.pel if sid not in self.entries})
        entries = [(sid, flat) for sid, flat in self.entries.items()]
        entries += [(sid, (b"x", b"y")) for sid in ghosts]
        entries.sort()
        for sid, flat in entries:
            out.append([b"XADD", key, format_id(sid), *flat])
        if not entries:
            out.append([b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"])
        for g in self.sorted_groups():
            out.append([b"XGROUP", b"CREATE", key, g.name, format_id(g.last_id),
                        b"ENTRIESREAD", b"%d" % g.entries_read])
            for c in g.sorted_consumers():
                batches: dict[tuple[int, int], list[bytes]] = {}
                for sid, nack in c.pel.items():
                    batches.setdefault((nack.delivery_time, nack.delivery_count), []).append(format_id(sid))
                for (when, count), ids in batches.items():
                    out.append([b"XCLAIM", key, g.name, c.name, b"0", *ids, b"TIME", b"%d" % when,
                                b"RETRYCOUNT", b"%d" % count, b"FORCE", b"JUSTID"])
                out.append([b"XCLAIM", key, g.name, c.name, b"0", b"SEENTIME", b"%d" % c.seen_time])
        if ghosts:
            out.append([b"XDEL", key, *map(format_id, ghosts)])
        top = max(self.last_id, self.max_deleted_id)
        out.append([b"XSETID", key, format_id(top), b"ENTRIESADDED", b"%d" % self.entries_added,
                    b"MAXDELETEDID", format_id(self.max_deleted_id)])
        if top != self.last_id:
            out.append([b"XSETID", key, format_id(self.last_id)])
        return out

    def canonical(self) -> Iterator[bytes]:
        """The stream's data in a canonical order, for dataset digests: everything
        ``rebuild_commands`` restores (not the node layout)."""
        yield b"%d-%d|%d|%d-%d" % (*self.last_id, self.entries_added, *self.max_deleted_id)
        for sid, flat in self.entries.items():
            yield format_id(sid)
            yield b"%d" % len(flat)
            yield from flat
        for g in self.sorted_groups():
            yield g.name
            yield b"%s|%d" % (format_id(g.last_id), g.entries_read)
            for c in g.sorted_consumers():
                yield c.name
                yield b"%d|%d" % (c.seen_time, len(c.pel))
                for sid, nack in c.pel.items():
                    yield b"%s|%d|%d" % (format_id(sid), nack.delivery_time, nack.delivery_count)

    def copy(self) -> "Stream":
        """A deep copy: entries (values are immutable tuples), layout, groups and PELs."""
        s = Stream()
        s.entries = self.entries.copy()
        s.nodes = SortedDict((m, n.copy()) for m, n in self.nodes.items())
        s.last_id, s.entries_added, s.max_deleted_id = self.last_id, self.entries_added, self.max_deleted_id
        s.groups = {name: g.copy() for name, g in self.groups.items()}
        return s

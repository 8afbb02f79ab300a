"""A key's value as one RDB object (type byte + encoded value), both ways, for
DUMP and RESTORE. Streams live in ``rdb_stream``.

What DUMP writes, as Redis 7.0 does: a string as an RDB string; a list as
QUICKLIST_2 of listpacks, cut where RPUSH would have cut them under
``list-max-listpack-size``; a set as an INTSET when Redis holds it as one, else a
plain SET; a hash as a LISTPACK when small (``hash-max-listpack-entries``/
``-value``), else a plain HASH; a sorted set as a LISTPACK when the ``ZSet`` is
listpack-encoded, else ZSET_2 (members from the highest score down, binary
doubles).

Where the bytes are Redis's: every form whose order Redis takes from the value
(strings, intsets, listpacks, sorted sets, lists built by pushes at the tail) is
byte-equal to redis-server's DUMP, LZF included (``rdb.lzf_compress``). A plain
SET or HASH follows Redis's hash-table iteration order, which no one else can
reproduce: those payloads are equal as data, not as bytes, and so are lists
whose node boundaries came from other operations than tail pushes.

What RESTORE reads: everything Redis 7.0 may emit plus the older forms (plain
LIST, ZSET with text scores, ziplists, QUICKLIST of ziplists). Empty containers,
duplicate set members, hash fields or sorted-set members, and NaN scores are
refused (``RdbError``), as Redis refuses them or would misbehave after taking them.
"""

from __future__ import annotations

import math
import struct
from collections import deque
from dataclasses import dataclass
from typing import Any

from . import rdb, rdb_listpack as lp
from .datatypes import ZSet
from .rdb import RdbError, Reader, encode_length, encode_string
from .resp import string2ll
from .streamtype import Stream

_PLAIN_NODE, _PACKED_NODE = 1, 2
_LARGE_ELEMENT = 1 << 30  # packed_threshold: a list element this long gets a node of its own
_NODE_LIMITS = (4096, 8192, 16384, 32768, 65536)  # list-max-listpack-size -1 .. -5
_SIZE_SAFETY_LIMIT = 8192
_SIZE_ESTIMATE_OVERHEAD = 8


@dataclass(frozen=True)
class Limits:
    """The encoding thresholds DUMP follows (Redis 7.0's defaults; CONFIG wins)."""

    hash_entries: int = 512  # hash-max-listpack-entries (alias hash-max-ziplist-entries)
    hash_value: int = 64  # hash-max-listpack-value, bytes
    intset_entries: int = 512  # set-max-intset-entries
    list_fill: int = -2  # list-max-listpack-size: <0 a size class (-2 = 8 KB), >0 entries
    compress: bool = True  # rdbcompression
    max_len: int = 512 * 1024 * 1024  # proto-max-bulk-len: the longest string RESTORE builds


_PARAMS = (
    ("hash_entries", ("hash-max-listpack-entries", "hash-max-ziplist-entries")),
    ("hash_value", ("hash-max-listpack-value", "hash-max-ziplist-value")),
    ("intset_entries", ("set-max-intset-entries",)),
    ("list_fill", ("list-max-listpack-size", "list-max-ziplist-size")),
    ("max_len", ("proto-max-bulk-len",)),
)


def limits_of(params: Any) -> Limits:
    """The thresholds from a ``config.Params``: a parameter the node defines wins,
    a missing or unreadable one keeps Redis's default."""
    values: dict[str, Any] = {}
    defined = getattr(params, "params", {})
    for attr, names in _PARAMS:
        for name in names:
            if name in defined:
                try:
                    values[attr] = params.get_int(name)
                    break
                except (ValueError, TypeError):
                    continue
    if "rdbcompression" in defined:
        values["compress"] = params.get("rdbcompression") == "yes"
    return Limits(**values)


# -- DUMP ---------------------------------------------------------------------------------


def _zset_score(score: float) -> bytes:
    from .commands.zsets import listpack_score  # the one place the listpack form is spelled

    return listpack_score(score)


def _is_intset(members: set, limit: int) -> list[int] | None:
    if len(members) > limit:
        return None
    values = []
    for m in members:
        v = string2ll(m)
        if v is None:
            return None
        values.append(v)
    values.sort()
    return values


def _list_nodes(items: deque, fill: int) -> list[list[bytes]]:
    """The elements cut into quicklist nodes as tail pushes cut them (7.0's
    _quicklistNodeAllowInsert: estimated size, then the count limit)."""
    nodes: list[list[bytes]] = []
    node: list[bytes] | None = None
    node_bytes = 0
    for item in items:
        size = len(item)
        allowed = node is not None and size < _LARGE_ELEMENT
        if allowed:
            new_size = node_bytes + size + _SIZE_ESTIMATE_OVERHEAD
            if fill < 0 and -fill - 1 < len(_NODE_LIMITS) and new_size <= _NODE_LIMITS[-fill - 1]:
                allowed = True
            elif new_size > _SIZE_SAFETY_LIMIT:
                allowed = False
            else:
                allowed = len(node) < fill  # type: ignore[arg-type]
        if allowed:
            node.append(item)  # type: ignore[union-attr]
            node_bytes += len(lp.lp_entry(item))
        else:
            node = [item]
            nodes.append(node)
            node_bytes = 7 + len(lp.lp_entry(item))
            if size >= _LARGE_ELEMENT:
                node = None  # a plain node holds one element
    return nodes


def encode_value(value: Any, limits: Limits, encoding: bytes | None = None) -> bytes:
    """The RDB object (type byte + value) DUMP writes for ``value``. ``encoding`` is
    what OBJECT ENCODING says of it, when the node tracks that (a hash that outgrew
    its listpack stays a hashtable in Redis); without it the value's shape decides."""
    z = limits.compress
    t = type(value)
    if t is bytes:
        return bytes((rdb.TYPE_STRING,)) + encode_string(value, z)
    if t is deque:
        out = [bytes((rdb.TYPE_LIST_QUICKLIST_2,))]
        nodes = _list_nodes(value, limits.list_fill)
        out.append(encode_length(len(nodes)))
        for node in nodes:
            if len(node) == 1 and len(node[0]) >= _LARGE_ELEMENT:
                out.append(encode_length(_PLAIN_NODE) + encode_string(node[0], z))
            else:
                out.append(encode_length(_PACKED_NODE) + encode_string(lp.listpack_of(node), z))
        return b"".join(out)
    if t is set:
        ints = _is_intset(value, limits.intset_entries) if encoding in (None, b"intset") else None
        if ints is not None:
            return bytes((rdb.TYPE_SET_INTSET,)) + encode_string(lp.intset(ints), z)
        return b"".join([bytes((rdb.TYPE_SET,)), encode_length(len(value)), *(encode_string(m, z) for m in value)])
    if t is dict:
        longest = limits.hash_value
        if encoding == b"listpack" or encoding is None and len(value) <= limits.hash_entries and all(
                len(f) <= longest and len(v) <= longest for f, v in value.items()):
            flat = [e for pair in value.items() for e in pair]
            return bytes((rdb.TYPE_HASH_LISTPACK,)) + encode_string(lp.listpack_of(flat), z)
        out = [bytes((rdb.TYPE_HASH,)), encode_length(len(value))]
        for f, v in value.items():
            out += (encode_string(f, z), encode_string(v, z))
        return b"".join(out)
    if t is ZSet:
        if value.listpack:
            entries = []
            for score, member in value.ordered:
                entries += (lp.lp_entry(member), lp.lp_entry(_zset_score(score)))
            return bytes((rdb.TYPE_ZSET_LISTPACK,)) + encode_string(lp.listpack(entries), z)
        out = [bytes((rdb.TYPE_ZSET_2,)), encode_length(len(value))]
        for score, member in reversed(value.ordered):
            out += (encode_string(member, z), struct.pack("<d", score))
        return b"".join(out)
    if t is Stream:
        from .rdb_stream import encode_stream

        return bytes((rdb.TYPE_STREAM_LISTPACKS_2,)) + encode_stream(value, z)
    raise TypeError(f"cannot dump {t.__name__}")


# -- RESTORE --------------------------------------------------------------------------------


def _score(text: bytes) -> float:
    try:
        v = float(text)
    except ValueError:
        raise RdbError("bad score") from None
    if math.isnan(v):
        raise RdbError("nan score")
    return v


def _zset(pairs: list[tuple[bytes, float]]) -> ZSet:
    scores: dict[bytes, float] = {}
    for member, score in pairs:
        if math.isnan(score):
            raise RdbError("nan score")
        if member in scores:
            raise RdbError("duplicate member")
        scores[member] = score
    if not scores:
        raise RdbError("empty zset")
    z = ZSet.from_scores(scores)
    z.convert_to_listpack_if_small()  # Redis converts a small loaded set to a listpack too
    return z


def _hash(flat: list[bytes]) -> dict:
    if not flat or len(flat) % 2:
        raise RdbError("empty or odd hash")
    h = dict(zip(flat[0::2], flat[1::2]))
    if len(h) * 2 != len(flat):
        raise RdbError("duplicate field")
    return h


def _pairs(flat: list[bytes]) -> list[tuple[bytes, float]]:
    if len(flat) % 2:
        raise RdbError("odd zset listpack")
    return [(m, _score(s)) for m, s in zip(flat[0::2], flat[1::2])]


def decode_value(r: Reader) -> Any:
    """The value of one RDB object read from ``r`` (RdbError when malformed)."""
    kind = r.byte()
    if kind == rdb.TYPE_STRING:
        return r.string()
    if kind == rdb.TYPE_LIST:
        items = deque(r.string() for _ in range(r.count()))
        if not items:
            raise RdbError("empty list")
        return items
    if kind in (rdb.TYPE_LIST_QUICKLIST, rdb.TYPE_LIST_QUICKLIST_2):
        items = deque()
        for _ in range(r.count()):
            container = _PACKED_NODE
            if kind == rdb.TYPE_LIST_QUICKLIST_2:
                container = r.length()
                if container not in (_PLAIN_NODE, _PACKED_NODE):
                    raise RdbError("quicklist container")
            blob = r.string()
            if container == _PLAIN_NODE:
                items.append(blob)
            elif kind == rdb.TYPE_LIST_QUICKLIST_2:
                items.extend(lp.read_listpack(blob))
            else:
                items.extend(lp.read_ziplist(blob))
        if not items:
            raise RdbError("empty list")
        return items
    if kind == rdb.TYPE_LIST_ZIPLIST:
        items = deque(lp.read_ziplist(r.string()))
        if not items:
            raise RdbError("empty list")
        return items
    if kind in (rdb.TYPE_SET, rdb.TYPE_SET_INTSET):
        members = [r.string() for _ in range(r.count())] if kind == rdb.TYPE_SET else lp.read_intset(r.string())
        s = set(members)
        if not s or len(s) != len(members):
            raise RdbError("empty set or duplicate member")
        return s
    if kind == rdb.TYPE_HASH:
        n = r.count(2)
        return _hash([r.string() for _ in range(2 * n)])
    if kind in (rdb.TYPE_HASH_LISTPACK, rdb.TYPE_HASH_ZIPLIST):
        blob = r.string()
        return _hash(lp.read_listpack(blob) if kind == rdb.TYPE_HASH_LISTPACK else lp.read_ziplist(blob))
    if kind in (rdb.TYPE_ZSET, rdb.TYPE_ZSET_2):
        n = r.count(2)
        pairs = []
        for _ in range(n):
            member = r.string()
            pairs.append((member, r.binary_double() if kind == rdb.TYPE_ZSET_2 else r.text_double()))
        return _zset(pairs)
    if kind in (rdb.TYPE_ZSET_LISTPACK, rdb.TYPE_ZSET_ZIPLIST):
        blob = r.string()
        return _zset(_pairs(lp.read_listpack(blob) if kind == rdb.TYPE_ZSET_LISTPACK else lp.read_ziplist(blob)))
    if kind in (rdb.TYPE_STREAM_LISTPACKS, rdb.TYPE_STREAM_LISTPACKS_2):
        from .rdb_stream import decode_stream

        return decode_stream(r, kind == rdb.TYPE_STREAM_LISTPACKS_2)
    raise RdbError(f"unsupported object type {kind}")

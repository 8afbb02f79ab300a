"""The value types a key can hold, and their Redis type names.

Strings are ``bytes`` (immutable; a write stores a new object), lists are
``collections.deque``, hashes ``dict``, sets ``set``, sorted sets ``ZSet`` and
streams ``streamtype.Stream``.
Keeping the built-in types makes the hot path (GET/SET/INCR) allocation-light; the
type name a client sees comes from ``type_name``.

ZSet invariant: ``scores[m] == s`` exactly when ``(s, m)`` is in ``ordered``; the
sorted list gives O(log n) rank and range, the dict O(1) score lookup.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterator

from sortedcontainers import SortedList

from .streamtype import Stream


class ZSet:
    """A sorted set: member -> score, ordered by (score, member).

    ``listpack`` mirrors Redis 7.0's encoding choice, because a few replies depend
    on it: a listpack stores a score of -0 as the integer 0 (a skiplist keeps -0),
    and ZSCAN returns a whole listpack in one call. A set starts as a listpack and
    becomes a skiplist for good when it would exceed ``MAX_LISTPACK_ENTRIES`` members
    or receives a member longer than ``MAX_LISTPACK_VALUE`` bytes
    (zset-max-listpack-entries / -value); only ``convert_to_listpack_if_small``
    (the *STORE commands) turns it back.

    ``scan_index`` is None until the first cursor-based ZSCAN; from then on it holds
    every member (a ``keyspace.ScanIndex``) and ``add``/``remove`` keep it in step.
    Mutate a ZSet only through its methods: they keep the encoding and index right.
    """

    __slots__ = ("scores", "ordered", "listpack", "scan_index")

    MAX_LISTPACK_ENTRIES = 128
    MAX_LISTPACK_VALUE = 64

    def __init__(self) -> None:
        self.scores: dict[bytes, float] = {}
        self.ordered: SortedList = SortedList()
        self.listpack = True
        self.scan_index: Any = None

    def __len__(self) -> int:
        return len(self.scores)

    def __iter__(self) -> Iterator[tuple[float, bytes]]:
        return iter(self.ordered)

    def __contains__(self, member: bytes) -> bool:
        return member in self.scores

    def score(self, member: bytes) -> float | None:
        return self.scores.get(member)

    def add(self, member: bytes, score: float) -> bool:
        """Set ``member``'s score; True when the member is new."""
        scores = self.scores
        old = scores.get(member)
        if old is not None:
            if old == score:
                return False
            if score == 0.0 and self.listpack:
                score = 0.0  # a listpack stores -0 as the integer 0
            self.ordered.remove((old, member))
            self.ordered.add((score, member))
            scores[member] = score
            return False
        if self.listpack:
            if len(scores) >= self.MAX_LISTPACK_ENTRIES or len(member) > self.MAX_LISTPACK_VALUE:
                self.listpack = False
            elif score == 0.0:
                score = 0.0
        scores[member] = score
        self.ordered.add((score, member))
        if self.scan_index is not None:
            self.scan_index.add(member)
        return True

    def remove(self, member: bytes) -> bool:
        old = self.scores.pop(member, None)
        if old is None:
            return False
        self.ordered.remove((old, member))
        if self.scan_index is not None:
            self.scan_index.remove(member)
        return True

    def remove_range(self, start: int, stop: int) -> list[tuple[float, bytes]]:
        """Remove and return the entries of ranks ``start`` to ``stop - 1``."""
        ordered = self.ordered
        removed = list(ordered.islice(start, stop))
        if not removed:
            return removed
        del ordered[start:stop]
        scores, index = self.scores, self.scan_index
        for _score, member in removed:
            del scores[member]
            if index is not None:
                index.remove(member)
        return removed

    def rank(self, member: bytes) -> int | None:
        s = self.scores.get(member)
        if s is None:
            return None
        return self.ordered.index((s, member))

    def copy(self) -> "ZSet":
        z = ZSet()
        z.scores = dict(self.scores)
        z.ordered = SortedList(self.ordered)
        z.listpack = self.listpack
        return z

    @classmethod
    def from_scores(cls, scores: dict[bytes, float]) -> "ZSet":
        """A skiplist-encoded set holding ``scores`` (taken, not copied), built in one sort."""
        z = cls()
        z.scores = scores
        z.ordered = SortedList((s, m) for m, s in scores.items())
        z.listpack = False
        return z

    def convert_to_listpack_if_small(self) -> None:
        """Redis's zsetConvertToListpackIfNeeded: small enough sets become listpacks
        (and so lose the sign of a -0 score)."""
        if self.listpack or len(self.scores) > self.MAX_LISTPACK_ENTRIES:
            return
        limit = self.MAX_LISTPACK_VALUE
        if any(len(m) > limit for m in self.scores):
            return
        self.listpack = True
        self.scan_index = None
        scores = self.scores
        for member, score in scores.items():
            if score == 0.0:
                scores[member] = 0.0
        self.ordered = SortedList((s, m) for m, s in scores.items())


TYPE_NAMES: dict[type, bytes] = {
    bytes: b"string",
    deque: b"list",
    dict: b"hash",
    set: b"set",
    ZSet: b"zset",
    Stream: b"stream",
}


def type_name(value: Any) -> bytes:
    return TYPE_NAMES.get(type(value), b"none" if value is None else b"unknown")


def copy_value(value: Any) -> Any:
    """A deep-enough copy for COPY/SORT STORE: containers are new, elements shared
    (a stream's groups, consumers and PELs are copied too)."""
    t = type(value)
    if t is bytes:
        return value
    if t is deque:
        return deque(value)
    if t is dict:
        return dict(value)
    if t is set:
        return set(value)
    if t is ZSet or t is Stream:
        return value.copy()
    copier = getattr(value, "copy", None)
    if copier is None:
        raise TypeError(f"cannot copy {t.__name__}")
    return copier()

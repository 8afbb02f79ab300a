"""The value types a key can hold, and their Redis type names.

Strings are ``bytes`` (immutable; a write stores a new object), lists are
``collections.deque``, hashes ``dict``, sets ``set`` and sorted sets ``ZSet``.
Keeping the built-in types makes the hot path (GET/SET/INCR) allocation-light; the
type name a client sees comes from ``type_name``.

ZSet invariant: ``scores[m] == s`` exactly when ``(s, m)`` is in ``ordered``; the
sorted list gives O(log n) rank and range, the dict O(1) score lookup.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterator

from sortedcontainers import SortedList


class ZSet:
    """A sorted set: member -> score, ordered by (score, member)."""

    __slots__ = ("scores", "ordered")

    def __init__(self) -> None:
        self.scores: dict[bytes, float] = {}
        self.ordered: SortedList = SortedList()

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
        old = self.scores.get(member)
        if old is not None:
            if old == score:
                return False
            self.ordered.remove((old, member))
            self.ordered.add((score, member))
            self.scores[member] = score
            return False
        self.scores[member] = score
        self.ordered.add((score, member))
        return True

    def remove(self, member: bytes) -> bool:
        old = self.scores.pop(member, None)
        if old is None:
            return False
        self.ordered.remove((old, member))
        return True

    def rank(self, member: bytes) -> int | None:
        s = self.scores.get(member)
        if s is None:
            return None
        return self.ordered.index((s, member))

    def copy(self) -> "ZSet":
        z = ZSet()
        z.scores = dict(self.scores)
        z.ordered = SortedList(self.ordered)
        return z


TYPE_NAMES: dict[type, bytes] = {
    bytes: b"string",
    deque: b"list",
    dict: b"hash",
    set: b"set",
    ZSet: b"zset",
}


def type_name(value: Any) -> bytes:
    return TYPE_NAMES.get(type(value), b"none" if value is None else b"unknown")


def copy_value(value: Any) -> Any:
    """A deep-enough copy for COPY/SORT STORE: containers are new, elements shared."""
    t = type(value)
    if t is bytes:
        return value
    if t is deque:
        return deque(value)
    if t is dict:
        return dict(value)
    if t is set:
        return set(value)
    if t is ZSet:
        return value.copy()
    copier = getattr(value, "copy", None)
    if copier is None:
        raise TypeError(f"cannot copy {t.__name__}")
    return copier()

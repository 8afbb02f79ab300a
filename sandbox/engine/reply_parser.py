"""The reply parser: RESP2 replies (plus RESP3's null, double and boolean) read
incrementally, keeping each reply's type, with an optional display budget.

One parser for every client that reads replies: the engine's own (respclient.py:
journal replicas, data nodes, the supervisor) and the site's (sandbox/resp.py's
``NodeLink``, which the console and the write load use).

Invariants:
* every byte is parsed once: ``ReplyParser`` keeps its place (the open arrays, a
  bulk string's announced length, how far it looked for a line's end) across
  ``feed()``s, so reading a reply costs time linear in its size however it arrives;
* a status reply is a ``Status`` (``+OK`` -> ``"OK"``), distinct from a bulk string
  (bytes); an error reply is a value (``ErrorReply``), never an exception here --
  what to do with one is the caller's choice;
* a reply read with a ``DisplayBudget`` is read only up to that budget: it comes
  back cut (``PartialArray``/``PartialBulk``, which know the sizes the node
  announced) and the parser is done (``cut``); the stream's position is lost;
* bytes that are not RESP raise ``ReplyProtocolError`` (a ValueError).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union


class Status(str):
    """A simple-string reply (``+OK``)."""


class ErrorReply(str):
    """An error reply (``-ERR ...``), without the dash."""

    @property
    def code(self) -> str:
        return self.split(" ", 1)[0]


class PartialArray(list):  # type: ignore[type-arg]
    """The first elements of an array reply that a display budget cut short;
    ``total`` is the element count the node announced (``*N``)."""

    total: int

    def __init__(self, items: list["Reply"], total: int) -> None:
        super().__init__(items)
        self.total = total


class PartialBulk(bytes):
    """The first bytes of a bulk string that a display budget cut short; ``total``
    is the length the node announced (``$N``)."""

    total: int

    def __new__(cls, data: bytes, total: int) -> "PartialBulk":
        self = super().__new__(cls, data)
        self.total = total
        return self


Reply = Union[None, int, float, bytes, Status, ErrorReply, list["Reply"]]


@dataclass(frozen=True)
class DisplayBudget:
    """How much of one reply is worth reading for a person to look at."""

    values: int  # elements inside arrays, nested ones counted (the reply itself is not)
    data_bytes: int  # bytes of strings (bulk, status, error), all of them together


class ReplyProtocolError(ValueError):
    """The node sent bytes that are not RESP."""


class _Open:
    """An array whose header is read and some of whose elements are not yet."""

    __slots__ = ("items", "total")

    def __init__(self, total: int) -> None:
        self.items: list[Reply] = []
        self.total = total


class ReplyParser:
    """Incremental RESP2 parser (plus RESP3's null, double and boolean, harmlessly).

    It resumes where the previous ``gets()`` stopped, never from a reply's start.
    ``budget`` (set before a reply's first byte is read, see ``at_reply_start``)
    cuts that reply: ``gets()`` then returns what was read, as partial values, and
    ``cut`` becomes True — the stream's position is lost, the parser is done.
    """

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.pos = 0
        self.budget: DisplayBudget | None = None
        self.cut = False
        self.lines_read = 0  # reply lines parsed, a line counted once however it arrived
        self._open: list[_Open] = []  # arrays being read, outermost first
        self._bulk: int | None = None  # a bulk string's length, once its header is read
        self._scan = 0  # where to go on looking for the end of a line cut by a feed
        self._dropped = 0  # bytes already removed from the front of ``buffer``
        self._reply_start = 0  # absolute offset where the current reply began
        self._values = 0  # budget spent on the current reply
        self._data = 0

    def feed(self, data: bytes) -> None:
        if self.pos:
            del self.buffer[: self.pos]
            self._dropped += self.pos
            self._scan = max(0, self._scan - self.pos)
            self.pos = 0
        self.buffer += data

    @property
    def at_reply_start(self) -> bool:
        """No reply is half read: the next byte begins a new one."""
        return not self._open and self._bulk is None and self._dropped + self.pos == self._reply_start

    def pending_bytes(self) -> int:
        """Bytes of the reply being read, parsed or not (it is incomplete)."""
        return self._dropped + len(self.buffer) - self._reply_start

    def gets(self) -> tuple[bool, Reply]:
        """(True, reply) for one complete (or cut) reply, (False, None) when more
        bytes are needed."""
        if self.cut:
            raise ReplyProtocolError("the parser stopped at a cut reply")
        buffer = self.buffer
        while True:
            if self._bulk is not None:
                length = self._bulk
                budget = self.budget
                room = max(0, budget.data_bytes - self._data) if budget is not None else length
                if length > room:
                    if len(buffer) - self.pos < room:
                        return False, None
                    return True, self._cut_here(PartialBulk(bytes(buffer[self.pos : self.pos + room]), length))
                end = self.pos + length
                if len(buffer) < end + 2:
                    return False, None
                value: Reply = bytes(buffer[self.pos : end])
                self.pos = end + 2
                self._bulk = None
                self._data += length
            else:
                if self._open and self.budget is not None and self._values >= self.budget.values:
                    return True, self._cut_here(None)
                end = buffer.find(b"\r\n", max(self.pos, self._scan))
                if end < 0:
                    # Go on from here next time: a long line is searched once, not per feed.
                    self._scan = max(self.pos, len(buffer) - 1)
                    return False, None
                line = bytes(buffer[self.pos : end])
                self.pos = end + 2
                self.lines_read += 1
                if not line:
                    raise ReplyProtocolError("empty reply line")
                kind, rest = line[:1], line[1:]
                if kind == b"$":
                    length = int(rest)
                    if length >= 0:
                        self._bulk = length
                        continue
                    value = None
                elif kind == b"*":
                    count = int(rest)
                    if count > 0:
                        self._open.append(_Open(count))
                        continue
                    value = None if count < 0 else []
                elif kind == b":":
                    value = int(rest)
                elif kind == b"+":
                    self._data += len(rest)
                    value = Status(rest.decode("utf-8", "replace"))
                elif kind == b"-":
                    # Status and error lines are counted but never cut: the node's are short,
                    # and a runaway one is stopped by max_reply_bytes.
                    self._data += len(rest)
                    value = ErrorReply(rest.decode("utf-8", "replace"))
                elif kind == b"_":
                    value = None
                elif kind == b",":
                    value = float(rest)
                elif kind == b"#":
                    value = 1 if rest == b"t" else 0
                else:
                    raise ReplyProtocolError(f"unexpected reply type {kind!r}")
            # One value is read: it completes the arrays it closes, perhaps the reply.
            while self._open:
                array = self._open[-1]
                array.items.append(value)
                self._values += 1
                if len(array.items) < array.total:
                    break
                value = self._open.pop().items
            else:
                return True, self._finish(value)

    def _cut_here(self, last: PartialBulk | None) -> Reply:
        """The reply as read so far: every array still open becomes a PartialArray
        of the elements it has (plus ``last``, the value being read, if any)."""
        value, carried = last, last is not None
        for array in reversed(self._open):
            value = PartialArray(array.items + [value] if carried else array.items, array.total)
            carried = True
        self._open.clear()
        self._bulk = None
        self.cut = True
        return value

    def _finish(self, reply: Reply) -> Reply:
        self._reply_start = self._dropped + self.pos
        self._scan = self.pos
        self._values = self._data = 0
        return reply

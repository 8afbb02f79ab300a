"""A pipelined asyncio RESP2 connection to one data node, keeping each reply's type.

The site talks to sandbox nodes with this instead of redis-py for two reasons:
the console formats replies as redis-cli does, which needs to know a status reply
(``+OK`` → ``OK``) from a bulk string (``$2 OK`` → ``"OK"``) — redis-py returns
both as the same bytes; and the write load keeps many writes in flight on one
connection, timing each acknowledgement, where redis-py's connection serves one
command at a time.

Invariants:
* replies are matched to requests in order (RESP has no ids): ``call`` queues a
  future per request and each parsed reply resolves the oldest;
* every byte is parsed once: ``ReplyParser`` keeps its place (the open arrays, a
  bulk string's announced length, how far it looked for a line's end) across
  ``feed()``s, so reading a reply costs time linear in its size however it arrives;
* an error reply is a value (``ErrorReply``), not an exception: the console shows
  it and the load counts it; only a lost connection raises (``LinkDown``), and it
  fails every outstanding future;
* a reply larger than ``max_reply_bytes`` closes the link (a console ``KEYS *`` on
  a full node must not hold the site's memory hostage);
* a request made with a ``DisplayBudget`` (the console's) is read only up to that
  budget: the reply comes back cut (``PartialArray``/``PartialBulk``, which know
  the sizes the node announced) and the link is closed, so the rest of the
  stream is never read; the client's next command opens a new link.
"""

from __future__ import annotations

import asyncio
from collections import deque
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


class LinkDown(ConnectionError):
    """The node cannot be reached or the connection broke; ``closed_by_node`` when
    the node ended an open connection (it crashed, or refused to send a reply)."""

    def __init__(self, message: str, *, closed_by_node: bool = False) -> None:
        super().__init__(message)
        self.closed_by_node = closed_by_node


class ProtocolError(ValueError):
    """The node sent bytes that are not RESP."""


def encode(args: tuple[bytes | str | int | float, ...] | list[bytes | str | int | float]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode()
        else:
            data = str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


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
            raise ProtocolError("the parser stopped at a cut reply")
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
                    raise ProtocolError("empty reply line")
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
                    raise ProtocolError(f"unexpected reply type {kind!r}")
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


class NodeLink(asyncio.Protocol):
    """One authenticated connection to one node; use ``open()``."""

    def __init__(self, max_reply_bytes: int) -> None:
        self.parser = ReplyParser()
        self.waiting: deque[tuple[asyncio.Future[Reply], DisplayBudget | None]] = deque()
        self.transport: asyncio.Transport | None = None
        self.max_reply_bytes = max_reply_bytes
        self.error: Exception | None = None

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        password: str,
        *,
        username: str = "",
        timeout: float = 2.0,
        max_reply_bytes: int = 8 * 1024 * 1024,
    ) -> "NodeLink":
        """Connect and log in: as ``username`` when given, else as the default user."""
        loop = asyncio.get_running_loop()
        try:
            _, link = await asyncio.wait_for(
                loop.create_connection(lambda: cls(max_reply_bytes), host, port), timeout
            )
        except (OSError, asyncio.TimeoutError) as exc:
            raise LinkDown(f"cannot connect to {host}:{port}: {exc or 'timed out'}") from None
        if password:
            try:
                auth = ("AUTH", username, password) if username else ("AUTH", password)
                reply = await asyncio.wait_for(link.call(*auth), timeout)
            except asyncio.TimeoutError:
                link.close()
                raise LinkDown(f"{host}:{port} did not answer AUTH") from None
            if isinstance(reply, ErrorReply):
                link.close()
                raise LinkDown(f"{host}:{port} refused the sandbox's password: {reply}")
        return link

    # -- asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        if parser.cut:
            return  # closing: what the node still sends is not read
        parser.feed(data)
        while True:
            if parser.at_reply_start:
                parser.budget = self.waiting[0][1] if self.waiting else None
            try:
                complete, reply = parser.gets()
            except (ProtocolError, ValueError) as exc:
                self._abort(LinkDown(f"protocol error: {exc}"))
                return
            if not complete:
                if parser.pending_bytes() > self.max_reply_bytes:
                    self._abort(LinkDown("the reply is too large to show"))
                return
            if self.waiting:
                future, _ = self.waiting.popleft()
                if not future.done():
                    future.set_result(reply)
            if parser.cut:
                # The rest of this reply (and any after it) is never read.
                self._abort(LinkDown("closed after a reply cut for display"))
                return

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(LinkDown(f"connection lost: {exc or 'closed by the node'}", closed_by_node=True))

    # -- use -----------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def call(self, *args: bytes | str | int | float, budget: DisplayBudget | None = None) -> "asyncio.Future[Reply]":
        """Send one command; its reply resolves the future. With a ``budget`` the
        reply may come back cut, and the link then closes."""
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        if not self.is_open:
            future.set_exception(self.error or LinkDown("not connected"))
            return future
        self.waiting.append((future, budget))
        self.transport.write(encode(args))  # type: ignore[union-attr]
        return future

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self._fail(LinkDown("closed"))

    def _abort(self, exc: Exception) -> None:
        if self.transport is not None:
            self.transport.abort()
        self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        self.error = exc
        while self.waiting:
            future, _ = self.waiting.popleft()
            if not future.done():
                future.set_exception(exc)
                # Callers that gave up (a timed-out console command) never read it.
                future.exception()

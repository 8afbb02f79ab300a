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
* an error reply is a value (``ErrorReply``), not an exception: the console shows
  it and the load counts it; only a lost connection raises (``LinkDown``), and it
  fails every outstanding future;
* a reply larger than ``max_reply_bytes`` closes the link (a console ``KEYS *`` on
  a full node must not hold the site's memory hostage).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Union


class Status(str):
    """A simple-string reply (``+OK``)."""


class ErrorReply(str):
    """An error reply (``-ERR ...``), without the dash."""

    @property
    def code(self) -> str:
        return self.split(" ", 1)[0]


Reply = Union[None, int, float, bytes, Status, ErrorReply, list["Reply"]]


class LinkDown(ConnectionError):
    """The node cannot be reached or the connection broke."""


class ProtocolError(ValueError):
    """The node sent bytes that are not RESP."""


class _Incomplete(Exception):
    pass


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


class ReplyParser:
    """Incremental RESP2 parser (plus RESP3's null, double and boolean, harmlessly)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.pos = 0

    def feed(self, data: bytes) -> None:
        if self.pos:
            del self.buffer[: self.pos]
            self.pos = 0
        self.buffer += data

    def pending_bytes(self) -> int:
        return len(self.buffer) - self.pos

    def gets(self) -> tuple[bool, Reply]:
        """(True, reply) for one complete reply, (False, None) when more bytes are needed."""
        start = self.pos
        try:
            reply = self._read()
        except _Incomplete:
            self.pos = start
            return False, None
        return True, reply

    def _line(self) -> bytes:
        end = self.buffer.find(b"\r\n", self.pos)
        if end < 0:
            raise _Incomplete
        line = bytes(self.buffer[self.pos : end])
        self.pos = end + 2
        return line

    def _read(self) -> Reply:
        line = self._line()
        if not line:
            raise ProtocolError("empty reply line")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return Status(rest.decode("utf-8", "replace"))
        if kind == b"-":
            return ErrorReply(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            length = int(rest)
            if length < 0:
                return None
            end = self.pos + length
            if len(self.buffer) < end + 2:
                raise _Incomplete
            data = bytes(self.buffer[self.pos : end])
            self.pos = end + 2
            return data
        if kind == b"*":
            count = int(rest)
            if count < 0:
                return None
            return [self._read() for _ in range(count)]
        if kind == b"_":
            return None
        if kind == b",":
            return float(rest)
        if kind == b"#":
            return 1 if rest == b"t" else 0
        raise ProtocolError(f"unexpected reply type {kind!r}")


class NodeLink(asyncio.Protocol):
    """One authenticated connection to one node; use ``open()``."""

    def __init__(self, max_reply_bytes: int) -> None:
        self.parser = ReplyParser()
        self.waiting: deque[asyncio.Future[Reply]] = deque()
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
        self.parser.feed(data)
        while True:
            try:
                complete, reply = self.parser.gets()
            except (ProtocolError, ValueError) as exc:
                self._abort(LinkDown(f"protocol error: {exc}"))
                return
            if not complete:
                if self.parser.pending_bytes() > self.max_reply_bytes:
                    self._abort(LinkDown("the reply is too large to show"))
                return
            if self.waiting:
                future = self.waiting.popleft()
                if not future.done():
                    future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(LinkDown(f"connection lost: {exc or 'closed by the node'}"))

    # -- use -----------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def call(self, *args: bytes | str | int | float) -> "asyncio.Future[Reply]":
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        if not self.is_open:
            future.set_exception(self.error or LinkDown("not connected"))
            return future
        self.waiting.append(future)
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
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(exc)
                # Callers that gave up (a timed-out console command) never read it.
                future.exception()

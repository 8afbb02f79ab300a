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
* replies are read by the engine's ``ReplyParser`` (sandbox.engine.reply_parser,
  the one reply parser of the project; its types are re-exported here): every byte
  is parsed once, however the reply arrives;
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

from sandbox.engine.reply_parser import (
    DisplayBudget,
    ErrorReply,
    PartialArray,
    PartialBulk,
    Reply,
    ReplyParser,
    Status,
)
from sandbox.engine.reply_parser import ReplyProtocolError as ProtocolError
from sandbox.engine.resp import encode_command as encode

__all__ = [
    "DisplayBudget", "ErrorReply", "LinkDown", "NodeLink", "PartialArray", "PartialBulk", "ProtocolError",
    "Reply", "ReplyParser", "Status", "encode",
]


class LinkDown(ConnectionError):
    """The node cannot be reached or the connection broke; ``closed_by_node`` when
    the node ended an open connection (it crashed, or refused to send a reply)."""

    def __init__(self, message: str, *, closed_by_node: bool = False) -> None:
        super().__init__(message)
        self.closed_by_node = closed_by_node


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

"""A small pipelined asyncio RESP client that the engine uses to talk to its peers
(journal replicas, data nodes), reading replies with the project's one reply parser
(``reply_parser.ReplyParser``, which the site's console link uses too).

Invariants:
* Replies are matched to requests in order (RESP has no ids): ``call`` queues a
  future per request; a reply resolves the oldest one.
* Error replies resolve their future with ``RespError`` carrying the wire text;
  a lost connection, or bytes that are not RESP, fail every outstanding future
  with ``ConnectionError``. A status reply is a ``Status`` (a str: ``"OK"``), a
  bulk string bytes.
* ``connect(..., auth=...)`` returns only a connection the peer has logged in; a
  refusal is ``AuthRefused`` (a ``ConnectionError``, so retry loops treat it as an
  unreachable peer, with the peer's reason in the text).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from .reply_parser import ErrorReply, ReplyParser
from .resp import encode_command


class RespError(Exception):
    """An error reply from a peer; ``text`` is the wire text without ``-``."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    @property
    def code(self) -> str:
        return self.text.split(" ", 1)[0]


class AuthRefused(ConnectionError):
    """The peer refused our AUTH (a configuration problem, not a network one)."""


class RespConnection(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = ReplyParser()
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self.push_handler: Any = None  # called with unsolicited replies (subscriptions, streams)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed(data)
        while True:
            try:
                complete, reply = self.parser.gets()
            except ValueError as exc:  # ReplyProtocolError, or a number that is not one
                self._fail(ConnectionError(f"protocol error from peer: {exc}"))
                if self.transport is not None:
                    self.transport.abort()
                return
            if not complete:
                return
            if self.waiting:
                fut = self.waiting.popleft()
                if not fut.done():
                    if isinstance(reply, ErrorReply):
                        fut.set_exception(RespError(str(reply)))
                    else:
                        fut.set_result(reply)
            elif self.push_handler is not None:
                self.push_handler(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError(f"connection lost: {exc or 'closed by peer'}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def _fail(self, exc: Exception) -> None:
        while self.waiting:
            fut = self.waiting.popleft()
            if not fut.done():
                fut.set_exception(exc)

    def send(self, *args: bytes | str | int) -> "asyncio.Future[Any]":
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.transport is None or self.transport.is_closing():
            fut.set_exception(ConnectionError("not connected"))
            return fut
        self.waiting.append(fut)
        self.transport.write(encode_command(args))
        return fut

    def send_raw(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    @property
    def is_open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()


async def connect(host: str, port: int, timeout: float = 2.0, auth: tuple[bytes | str, ...] = ()) -> RespConnection:
    """Connect, and with ``auth`` send ``AUTH *auth`` and wait for its +OK (each step
    within ``timeout``). OSError / asyncio.TimeoutError if the peer can't be reached;
    AuthRefused if it refuses the credentials."""
    loop = asyncio.get_running_loop()
    _, proto = await asyncio.wait_for(loop.create_connection(RespConnection, host, port), timeout)
    if auth:
        try:
            await asyncio.wait_for(proto.send(b"AUTH", *auth), timeout)
        except RespError as err:
            proto.close()
            raise AuthRefused(f"{host}:{port} refused AUTH: {err.text}") from None
        except BaseException:
            proto.close()
            raise
    return proto

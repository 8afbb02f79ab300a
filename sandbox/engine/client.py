"""One client connection: its state, and the asyncio protocol that feeds the
dispatcher.

Invariants:
* Commands from one connection run in order; a command whose reply is held
  (``Pending``: a durable write waiting for the journal, WAIT) stops the processing of
  that connection's later commands until it resolves — pipelining keeps its order.
* A protocol error is answered, then only this connection is closed.
* Replies to one read batch are written with one ``transport.write``.
* A client that stops reading is paused (its input is not consumed) while its
  output is above the high-water mark, and cut off when its pending output passes
  the configured limit — it can never make the node run out of memory.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from . import errors
from .errors import ProtocolError, RedisError
from .resp import OK, RequestParser, encode

if TYPE_CHECKING:
    from .server import Server


class OutputLimitReached(Exception):
    """Raised by a command body whose reply would pass the client's hard output limit.

    The reply is not built: the dispatcher closes the client instead, as Redis
    closes a client whose output buffer passed ``client-output-buffer-limit``.
    """


class Pending:
    """A reply that may be sent only once ``future`` completes.

    If the future fails with a RedisError, that error is the reply instead.
    """

    __slots__ = ("future", "reply")

    def __init__(self, future: "asyncio.Future[Any]", reply: Any) -> None:
        self.future = future
        self.reply = reply


class Client:
    """The per-connection state that commands read and change."""

    def __init__(self, server: "Server", client_id: int, addr: str, laddr: str) -> None:
        self.server = server
        self.id = client_id
        self.addr = addr
        self.laddr = laddr
        self.name = b""
        self.lib_name = b""
        self.lib_ver = b""
        self.db = 0
        self.proto = 2
        self.user = server.acl.default  # an acl.User: its rules apply to this connection live
        self.authenticated = not server.auth_required()
        self.created = time.time()
        self.last_interaction = self.created
        self.last_command = b"NULL"
        # MULTI state: None outside a transaction, else the queued (command, argv) pairs.
        self.multi: list[tuple[Any, list[bytes]]] | None = None
        self.multi_error = False
        self.watched: set[tuple[int, bytes]] = set()
        self.watch_dirty = False
        self.channels: set[bytes] = set()
        self.patterns: set[bytes] = set()
        self.shard_channels: set[bytes] = set()
        self.readonly = False  # READONLY: replica reads allowed in cluster mode
        self.asking = False
        self.no_evict = False
        self.blocked = False  # parked in a blocking command (XREAD BLOCK, BLPOP, ...)
        self.deny_blocking = False  # a blocking command answers at once (a script's client, as in Redis)
        self.close_after_reply = False
        self.killed = False
        self.is_master = False  # the link applying a primary's or the journal's stream
        self.is_replica = False  # a replica's link, streaming from this primary (after PSYNC)
        self.repl_listening_port = 0  # the port a replica announced with REPLCONF listening-port
        self.protocol: "ClientProtocol | None" = None

    @property
    def subscriptions(self) -> int:
        return len(self.channels) + len(self.patterns) + len(self.shard_channels)

    @property
    def in_pubsub(self) -> bool:
        return bool(self.channels or self.patterns or self.shard_channels)

    def send(self, reply: Any) -> None:
        """Write an out-of-band reply (a published message) right away."""
        if self.protocol is not None:
            self.protocol.write(encode(reply, self.proto))

    def output_limit(self) -> int:
        """The hard limit of this connection's pending output, bytes (0 = none)."""
        config = self.server.config
        return config.pubsub_output_buffer_limit if self.in_pubsub else config.client_output_buffer_limit

    def kill(self) -> None:
        self.killed = True
        if self.protocol is not None:
            self.protocol.close_now()

    def flags(self) -> str:
        """CLIENT LIST's flags, in Redis's order."""
        f = ""
        if self.in_pubsub:
            f += "P"
        if self.multi is not None:
            f += "x"
        if self.blocked:
            f += "b"
        if self.watch_dirty:
            f += "d"
        if self.close_after_reply:
            f += "c"
        if self.readonly:
            f += "r"
        if self.no_evict:
            f += "e"
        return f or "N"


class ClientProtocol(asyncio.Protocol):
    """Bytes in, commands dispatched, replies out."""

    def __init__(self, server: "Server") -> None:
        self.server = server
        self.parser = RequestParser(server.config.proto_max_bulk_len)
        self.transport: asyncio.Transport | None = None
        self.client: Client | None = None
        self.blocked: Pending | None = None
        self.closing = False
        self.paused = False

    # -- asyncio callbacks -----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports aren't asyncio.Transport subclasses
        peer = transport.get_extra_info("peername") or ("?", 0)
        sock = transport.get_extra_info("sockname") or ("?", 0)
        server = self.server
        if len(server.clients) >= server.params.get_int("maxclients"):
            transport.write(encode(errors.MAX_CLIENTS))
            transport.close()
            self.closing = True
            return
        self.client = server.new_client(f"{peer[0]}:{peer[1]}", f"{sock[0]}:{sock[1]}")
        self.client.protocol = self
        self.parser.auth_required = not self.client.authenticated
        # High-water mark for pausing input; the hard limit is checked in write().
        transport.set_write_buffer_limits(high=4 * 1024 * 1024)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        if self.client is not None:
            self.server.remove_client(self.client)
            self.client.protocol = None
        if self.blocked is not None:
            self.blocked = None

    def pause_writing(self) -> None:
        # Backpressure: stop consuming this client's commands while it isn't reading.
        self.paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.paused = False
        if self.transport is not None and not self.closing:
            self.transport.resume_reading()
            self.process()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.parser.feed(data)
        if self.parser.buffered() > self.server.config.client_query_buffer_limit:
            self.server.log_event("client query buffer limit reached, closing client")
            self.close_now()
            return
        if self.blocked is None:
            self.process()

    # -- processing ------------------------------------------------------------------
    def process(self) -> None:
        client = self.client
        if client is None or self.closing:
            return
        server = self.server
        parser = self.parser
        out: list[bytes] = []
        while not self.closing and self.blocked is None:
            try:
                argv = parser.next_command()
            except ProtocolError as err:
                out.append(b"-%b\r\n" % err.text)
                self._flush(out)
                self.close_after_flush()
                return
            if argv is None:
                break
            reply = server.execute(client, argv)
            if type(reply) is Pending:
                self._flush(out)
                out = []
                self._hold(reply)
                break
            # The two commonest replies skip encode()'s call (a GET's bulk, a write's +OK).
            if type(reply) is bytes:
                out.append(b"$%d\r\n%b\r\n" % (len(reply), reply))
            elif reply is OK:
                out.append(b"+OK\r\n")
            else:
                out.append(encode(reply, client.proto))
            if client.close_after_reply or client.killed:
                self._flush(out)
                self.close_after_flush()
                return
            if self.paused:
                break
        parser.auth_required = not client.authenticated
        self._flush(out)

    def _hold(self, pending: Pending) -> None:
        self.blocked = pending
        if pending.future.done():
            self._release(pending.future)
        else:
            pending.future.add_done_callback(self._release)

    def _release(self, future: "asyncio.Future[Any]") -> None:
        pending = self.blocked
        self.blocked = None
        if pending is None or self.closing or self.client is None:
            return
        reply = pending.reply
        if future.cancelled():
            reply = errors.COMMAND_ABORTED
        else:
            exc = future.exception()
            if isinstance(exc, RedisError):
                reply = exc
            elif exc is not None:
                reply = errors.command_failed(str(exc))
        self.write(encode(reply, self.client.proto))
        if self.client.close_after_reply:
            self.close_after_flush()
            return
        # Continue with commands that arrived while this one was held.
        asyncio.get_running_loop().call_soon(self.process)

    def _flush(self, out: list[bytes]) -> None:
        if out:
            self.write(out[0] if len(out) == 1 else b"".join(out))

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or self.closing:
            return
        transport.write(data)
        pending = transport.get_write_buffer_size()
        if not pending:
            return  # the common case: the socket took it all, nothing to account
        client = self.client
        limit = client.output_limit() if client is not None else self.server.config.client_output_buffer_limit
        if limit and pending > limit:
            if client is not None:
                self.server.close_for_output_limit(client)
            self.close_now()

    def close_after_flush(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()  # flushes what's buffered, then closes

    def close_now(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.abort()

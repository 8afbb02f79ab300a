"""A data node's (or the snapshotter's) client of the journal group.

It follows ``-NOTLEADER host:port`` hints, retries on connection loss until a
deadline, and can find the group's current Raft leader (``JROLE``). With a secret,
every connection logs in (``AUTH <secret>``, or ``AUTH <group> <secret>`` on a host
journal hosting many clusters' groups) before it is used.

Invariant: a request is retried only on NOTLEADER or a lost connection; any other
journal error reaches the caller, which decides (a refused conditional append is
never retried here).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .respclient import RespConnection, RespError, connect


class JournalClient:
    """Talks to the journal group, following ``-NOTLEADER host:port`` hints. With a
    ``secret`` every connection logs in (``AUTH <secret>``) before it is used; a
    replica that refuses it counts as unreachable, its reason in the error text."""

    def __init__(self, addrs: tuple[tuple[str, int], ...], prefer: int = 0, secret: str = "", group: str = "") -> None:
        self.addrs = list(addrs)
        self.prefer = prefer % len(addrs) if addrs else 0
        # A host journal (journal_host.py) hosts many groups: ``AUTH <group> <secret>``
        # names ours; ``AUTH <secret>`` alone finds it there too (and is what a
        # dedicated journal expects).
        self.auth: tuple[str, ...] = ((group, secret) if group else (secret,)) if secret else ()
        self.conn: RespConnection | None = None
        self.leader_hint: tuple[str, int] | None = None

    async def _connect_any(self) -> RespConnection:
        candidates = ([self.leader_hint] if self.leader_hint else []) + self.addrs[self.prefer :] + self.addrs[: self.prefer]
        last: Exception | None = None
        for host, port in candidates:
            try:
                return await self.open(host, port, timeout=0.5)
            except (OSError, asyncio.TimeoutError) as exc:
                last = exc
        raise ConnectionError(f"no journal replica reachable: {last}")

    async def open(self, host: str, port: int, timeout: float) -> RespConnection:
        """A new connection to one replica, logged in when there is a secret."""
        return await connect(host, port, timeout=timeout, auth=self.auth)

    async def connection(self) -> RespConnection:
        if self.conn is None or not self.conn.is_open:
            self.conn = await self._connect_any()
        return self.conn

    async def leader_connection(self, deadline: float) -> RespConnection:
        """A connection to the journal's current Raft leader (asking each replica
        JROLE), waiting out an election until ``deadline`` (monotonic seconds)."""
        while time.monotonic() < deadline:
            if self.conn is not None and self.conn.is_open:
                try:
                    role = await asyncio.wait_for(self.conn.send(b"JROLE"), 0.5)
                    if role[1] == b"leader":
                        return self.conn
                except (RespError, ConnectionError, asyncio.TimeoutError):
                    pass
                self.drop()
            for host, port in self.addrs:
                try:
                    conn = await self.open(host, port, timeout=0.3)
                    role = await asyncio.wait_for(conn.send(b"JROLE"), 0.5)
                except (OSError, RespError, ConnectionError, asyncio.TimeoutError):
                    continue
                if role[1] == b"leader":
                    self.conn = conn
                    return conn
                conn.close()
            await asyncio.sleep(0.05)
        raise ConnectionError("the journal has no leader")

    def drop(self, hint: str | None = None) -> None:
        if hint and hint != "?" and ":" in hint:
            host, port = hint.rsplit(":", 1)
            self.leader_hint = (host, int(port))
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    async def call(self, *args: Any, deadline_s: float = 5.0) -> Any:
        """A request retried on NOTLEADER and connection loss until ``deadline_s``."""
        end = time.monotonic() + deadline_s
        delay = 0.02
        while True:
            try:
                conn = await self.connection()
                return await asyncio.wait_for(conn.send(*args), max(end - time.monotonic(), 0.05))
            except RespError as err:
                if err.code != "NOTLEADER":
                    raise
                self.drop(err.text.split(" ", 1)[1] if " " in err.text else None)
            except (ConnectionError, OSError, asyncio.TimeoutError):
                self.drop()
            if time.monotonic() > end:
                raise ConnectionError("journal unavailable")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

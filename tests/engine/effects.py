"""Run commands on an in-process engine ``Server`` and see the effects it logs.

A node hands every write's effects to ``server.log``; here that log is a recorder,
so a test can assert exactly what a replica or the journal would receive (SPOP as
SREM, EXPIRE as PEXPIREAT, ...) and that replaying those effects on a fresh node
reproduces the same data.
"""

from __future__ import annotations

from typing import Any

from sandbox.engine.client import Pending
from sandbox.engine.config import EngineConfig
from sandbox.engine.server import Server


class RecordingLog:
    def __init__(self) -> None:
        self.entries: list[tuple[int, list[list[bytes]]]] = []

    def append(self, db: int, effects: list[list[bytes]], keys: list[tuple[int, bytes]]) -> None:
        self.entries.append((db, [list(e) for e in effects]))
        return None


def _b(a: bytes | str | int) -> bytes:
    if isinstance(a, bytes):
        return a
    return str(a).encode()


class EffectNode:
    """An engine node without sockets: ``run`` executes a command as a client would."""

    def __init__(self, **config: Any) -> None:
        self.server = Server(EngineConfig(port=0, **config))
        self.log = RecordingLog()
        self.server.log = self.log
        self.client = self.server.new_client("test:1", "test:0")

    def run(self, *args: bytes | str | int) -> Any:
        reply = self.server.execute(self.client, [_b(a) for a in args])
        if isinstance(reply, Pending):
            return reply.reply
        return reply

    def effects(self) -> list[list[bytes]]:
        """All effects logged so far, flattened, then forgotten."""
        out = [e for _db, batch in self.log.entries for e in batch]
        self.log.entries.clear()
        return out

    def replay_into(self, other: "EffectNode", entries: list[tuple[int, list[list[bytes]]]]) -> None:
        """Apply logged effects on another node, as a replica would."""
        for db, batch in entries:
            other.client.db = db
            for argv in batch:
                other.server.execute(other.client, argv)

    def snapshot(self) -> dict[int, dict[bytes, Any]]:
        """Every database's data (values compared as Python objects)."""
        out: dict[int, dict[bytes, Any]] = {}
        for db in self.server.keyspace.dbs:
            if db.data:
                out[db.id] = {k: _plain(v) for k, v in db.data.items()}
        return out


def _plain(v: Any) -> Any:
    from collections import deque

    from sandbox.engine.datatypes import ZSet

    if isinstance(v, deque):
        return list(v)
    if isinstance(v, ZSet):
        return sorted(v.scores.items())
    return v

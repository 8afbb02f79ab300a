"""The journal's client commands (the RESP2 port's semantics; journal_server.py
lists them and runs the connections).

``JournalCommands`` answers one request: AUTH and what a connection may not run
before it (``gate``), then JAPPEND/JTRIM (proposed to Raft, answered once applied
here), JREAD (blocking until entries arrive), JTAIL, JLEADER, JDISK, JROLE, PING.

Invariants:
* An append is acknowledged only after it is applied on this (leader) replica,
  i.e. committed: a majority of zones fsynced it. An entry whose log slot went to
  another leader's entry answers ``-NOTLEADER``: it did not happen.
* Reads serve this replica's applied state: committed entries only, maybe stale.
* Data appends are refused half a quota past the disk quota (primaries stop at the
  quota itself); leases, claims, checksums and trims never are.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import errors
from .errors import RedisError
from .journal_peers import address_of
from .journal_state import (
    AppendCommand,
    Appended,
    CondFail,
    EntryKind,
    Fenced,
    MAX_ENTRY_BYTES,
    Rejected,
    TrimCommand,
    Trimmed,
    TrimmedError,
)
from .raft import NotLeaderError
from .resp import OK, PONG, RequestParser

if TYPE_CHECKING:
    from .journal_server import JournalServer

MAX_AUTH_FAILURES = 3  # wrong secrets on one connection before it is closed


def _tree_bytes(root: str) -> int:
    """Bytes of the regular files under ``root`` (0 when it is missing)."""
    total = 0
    for directory, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.stat(os.path.join(directory, name)).st_size
            except OSError:
                pass  # removed while we looked (a retention pass)
    return total


@dataclass
class Session:
    """One client connection's authentication state."""

    authenticated: bool
    failures: int = 0  # wrong secrets sent

    def next_command(self, parser: RequestParser) -> list[bytes] | None:
        """The next request; before AUTH with redis-server's limits (10 arguments, 16 KiB)."""
        parser.auth_required = not self.authenticated
        return parser.next_command()


class JournalCommands:
    """One replica's answers to its clients."""

    def __init__(self, server: "JournalServer") -> None:
        self.server = server
        self._snapshots_bytes = (0.0, 0)  # (monotonic time measured, bytes)

    def gate(self, session: Session, args: list[bytes]) -> Any:
        """AUTH, and what a connection may not run before it: the reply to send
        instead of running ``args``, or None to run them."""
        secret = self.server.config.secret
        if not secret:
            return None  # no authentication: AUTH is an unknown command, as before
        if args[0].upper() == b"AUTH":
            if len(args) != 2:
                return errors.wrong_arity("auth")
            if hmac.compare_digest(args[1], secret):
                session.authenticated = True
                return OK
            session.failures += 1
            return errors.JOURNAL_WRONGPASS
        return None if session.authenticated else errors.NOAUTH

    def _not_leader(self) -> RedisError:
        leader = self.server.node.leader_id
        addr = address_of(self.server.config.discovery_dir, leader) if leader else None
        hint = f"{addr['host']}:{addr['client_port']}" if addr else "?"
        return errors.journal_not_leader(hint)

    async def run(self, args: list[bytes]) -> Any:
        name = args[0].upper()
        try:
            if name == b"PING":
                return PONG
            if name == b"JAPPEND" and len(args) == 5:
                kind = EntryKind(args[3].decode())
                if len(args[4]) > MAX_ENTRY_BYTES:
                    return errors.journal_too_big(MAX_ENTRY_BYTES)
                if kind is EntryKind.DATA and self.over_hard_quota():
                    used, cap, _log = self.disk_use()
                    return errors.journal_quota(used, cap)
                return await self._propose(AppendCommand(args[1].decode(), int(args[2]), kind, args[4]))
            if name == b"JTRIM" and len(args) in (3, 4):
                snapshot_id = args[3].decode() if len(args) == 4 else ""
                return await self._propose(TrimCommand(args[1].decode(), int(args[2]), snapshot_id))
            if name == b"JREAD" and len(args) == 5:
                return await self._read(args[1].decode(), int(args[2]), int(args[3]), int(args[4]))
            if name == b"JDISK" and len(args) == 1:
                return list(self.disk_use())
            if name == b"JTAIL" and len(args) == 2:
                return self.server.state.tail(args[1].decode())
            if name == b"JLEADER" and len(args) == 2:
                lead = self.server.state.leader(args[1].decode())
                return [lead.node, lead.epoch, lead.entry_id] if lead else None
            if name == b"JROLE" and len(args) == 1:
                n = self.server.node
                return [n.id, n.role.value, n.term, n.leader_id, n.commit, int(n.recovering)]
        except (ValueError, UnicodeDecodeError) as exc:
            return errors.journal_bad_argument(str(exc))
        return errors.journal_unknown_command(name)

    # -- the disk quota ------------------------------------------------------------------

    def disk_use(self) -> tuple[int, int, int]:
        """(bytes used, the quota, bytes of the log file): this replica's log plus the
        cluster's snapshots (measured at most every half second)."""
        log = self.server.file.size
        measured_at, snapshots = self._snapshots_bytes
        if self.server.config.snapshot_dir and time.monotonic() - measured_at > 0.5:
            snapshots = _tree_bytes(self.server.config.snapshot_dir)
            self._snapshots_bytes = (time.monotonic(), snapshots)
        return log + snapshots, self.server.config.disk_quota_bytes, log

    def over_hard_quota(self) -> bool:
        """Primaries stop taking writes at the quota itself (they poll JDISK); this
        replica refuses data appends only half a quota later, a backstop for writes
        made between two polls. Leases, leadership claims, checksums and trims are
        never refused: they keep the cluster serving and are how the log shrinks."""
        cap = self.server.config.disk_quota_bytes
        return cap > 0 and self.disk_use()[0] >= cap + cap // 2

    async def _propose(self, cmd: AppendCommand | TrimCommand) -> Any:
        try:
            fut = self.server.propose(cmd)
        except NotLeaderError:
            return self._not_leader()
        try:
            result = await asyncio.wait_for(asyncio.shield(fut), self.server.config.append_timeout_ms / 1000)
        except asyncio.TimeoutError:
            return errors.JOURNAL_TIMEOUT
        if result is None:  # its log slot went to another leader's entry: it did not happen
            return self._not_leader()
        if isinstance(result, Appended):
            return result.id
        if isinstance(result, CondFail):
            return errors.journal_condfail(result.tail_id)
        if isinstance(result, Fenced):
            return errors.journal_fenced(result.leader, result.epoch)
        if isinstance(result, Trimmed):
            return OK
        assert isinstance(result, Rejected)
        return errors.journal_bad_argument(result.reason)

    async def _read(self, shard: str, after_id: int, count: int, block_ms: int) -> Any:
        deadline = time.monotonic() + block_ms / 1000
        while True:
            try:
                entries = self.server.state.read(shard, after_id, max(count, 1))
            except TrimmedError as exc:
                return errors.journal_trimmed(exc.upto_id, exc.snapshot_id)
            remaining = deadline - time.monotonic()
            if entries or remaining <= 0:
                return [[e.id, e.kind.value, e.data] for e in entries]
            try:
                await asyncio.wait_for(self.server.applied.wait(), remaining)
            except asyncio.TimeoutError:
                pass

"""The host journal's control port: what the supervisor (or the site) may do to a zone.

RESP2, after ``AUTH <host secret>`` (the zone processes' own secret, never a
sandbox's):

    GCREATE group secret  -> +OK | -EXISTS ... (another secret) | -ERR ...
    GDROP group           -> +OK | -NOGROUP ...     (stops it and deletes its files here)
    GKILL group           -> +OK | -NOGROUP ...     (this zone's replica dies like a SIGKILLed process)
    GSTART group          -> +OK | -NOGROUP ...     (a killed replica restarts from its log)
    GPAUSE group          -> +OK | -NOGROUP ...     (like SIGSTOP: no timer, no message, commands wait)
    GRESUME group         -> +OK | -NOGROUP ...
    GROLE group           -> *[zone, role, term, leader|nil, commit, recovering] | -NOGROUP ...
    GLIST                 -> *[[group, up|down|paused], ...]
    GSTATS                -> *[groups, flush_passes, fsyncs, wakeups, frames_sent]
    PING                  -> +PONG

Invariants: nothing but AUTH is answered before the host secret was proven (the
pre-AUTH size limits of redis-server apply); a command names one group and
touches no other.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import TYPE_CHECKING, Any

from . import errors
from .errors import ProtocolError
from .journal_commands import MAX_AUTH_FAILURES, Session
from .resp import OK, PONG, RequestParser, encode

if TYPE_CHECKING:
    from .journal_host import ZoneHost

MAX_CONTROL_BULK = 64 * 1024  # a group id and a secret: nothing larger


class ControlPort:
    def __init__(self, host: "ZoneHost") -> None:
        self.host = host

    def command(self, args: list[bytes]) -> Any:
        host = self.host
        name = args[0].upper()
        if name == b"PING":
            return PONG
        if name == b"GLIST" and len(args) == 1:
            return [[g.encode(), (b"down" if g not in host.groups else
                                  b"paused" if host.groups[g].paused else b"up")] for g in sorted(host.secrets)]
        if name == b"GSTATS" and len(args) == 1:
            return list(host.stats().values())
        if len(args) == 2 or (name == b"GCREATE" and len(args) == 3):
            group = args[1].decode("ascii", "replace")
            if name == b"GCREATE" and len(args) == 3:
                return host.create_group(group, args[2]) or OK
            actions = {b"GDROP": host.drop_group, b"GKILL": host.kill_group, b"GSTART": host.start_group,
                       b"GPAUSE": lambda g: host.pause_group(g, True),
                       b"GRESUME": lambda g: host.pause_group(g, False)}
            if name in actions:
                return actions[name](group) or OK
            if name == b"GROLE":
                g = host.groups.get(group)
                if g is None:
                    return errors.JOURNAL_NO_GROUP
                n = g.node
                return [n.id, n.role.value, n.term, n.leader_id, n.commit, int(n.recovering)]
        return errors.journal_unknown_command(name)

    async def on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = RequestParser(MAX_CONTROL_BULK)
        session = Session(authenticated=False)
        try:
            while session.failures < MAX_AUTH_FAILURES:
                data = await reader.read(65536)
                if not data:
                    break
                parser.feed(data)
                while session.failures < MAX_AUTH_FAILURES and (args := session.next_command(parser)) is not None:
                    if session.authenticated:
                        reply = self.command(args)
                    elif args[0].upper() != b"AUTH":
                        reply = errors.NOAUTH
                    elif len(args) != 2:
                        reply = errors.wrong_arity("auth")
                    elif hmac.compare_digest(args[1], self.host.config.secret):
                        session.authenticated, reply = True, OK
                    else:
                        session.failures += 1
                        reply = errors.JOURNAL_WRONGPASS
                    writer.write(encode(reply))
                await writer.drain()
        except (ConnectionError, ValueError, ProtocolError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

"""The load service: starts and stops a learner's write load (``sandbox.load.WriteLoad``,
the same stream of writes to both clusters, every acknowledged one in a ledger).

Invariants: at most one load runs per sandbox; it writes through the sandbox's own
writer clients (never the console's or the probe's); while it runs, each primary's
stream position is sampled for the journal lane (``observe.mark_primaries``), and
only while a page watches; starting and stopping are learner activity and events.
"""

from __future__ import annotations

from typing import Any

from sandbox import observe
from sandbox.conf import SandboxLimits
from sandbox.load import WriteLoad
from sandbox.owners import Owner
from sandbox.protocol import ClientError
from sandbox.service.lifecycle import Lifecycle
from sandbox.service.sessions import LiveSessions

DEFAULT_MIX = {"set": 60, "incr": 20, "zadd": 20, "xadd": 20}


class LoadService:
    def __init__(self, limits: SandboxLimits, lifecycle: Lifecycle, sessions: LiveSessions) -> None:
        self.limits = limits
        self.lifecycle = lifecycle
        self.sessions = sessions

    async def start(self, owner: Owner, rate: int, mix: dict[str, int] | None) -> dict[str, Any]:
        live = self.lifecycle.running(owner)
        self.lifecycle.touch(owner)
        if live.lab.load_running:
            raise ClientError("load_running")
        load = live.lab.load = WriteLoad(
            live.clients.writers, rate, mix or DEFAULT_MIX, max_seconds=self.limits.load_max_seconds
        )
        load.start()
        live.spawn(observe.mark_primaries(live, load, lambda: self.sessions.watched(owner)))
        self.sessions.record(live, {"event": "load_started", "rate": rate, "mix": load.mix})
        return load.progress()

    async def stop(self, owner: Owner) -> dict[str, Any]:
        live = self.lifecycle.running(owner)
        self.lifecycle.touch(owner)
        load = live.lab.load
        if load is None or not load.running:
            raise ClientError("no_load")
        await load.stop()
        self.sessions.record(live, {"event": "load_stopped", "issued": load.issued})
        return load.progress()

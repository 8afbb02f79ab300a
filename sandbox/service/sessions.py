"""Live sessions: what flows between a running sandbox and the pages that show it.

* Every event — the supervisor's and the service's own — gets the sandbox's next
  sequence number in its ``EventLog`` and goes, in order, to the sandbox's
  channel-layer group (one outbox and one sender task per sandbox).
* A browser that reconnects sends its last number and log id; ``welcome`` gives it
  exactly what it missed, or tells it to reset when that is no longer kept.
* While a page watches (or a load runs), node statistics go out every
  ``stats_interval_seconds``; the row's ``event_seq`` and ``last_activity`` are
  saved every ``FLUSH_INTERVAL_S`` at most.
* Websockets are counted per owner and per client address, and all the sockets of
  one owner share one message budget, so opening more pages buys no more messages.

Invariants: numbers only grow and reach a group in order; nothing that reaches a
browser names a node's port, a pid, a host or a path (``public_event``,
``Topology.public``); quiet events (lease renewals...) are dropped, never numbered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable

from sandbox import observe, store
from sandbox.conf import SandboxLimits
from sandbox.live import LiveSandbox
from sandbox.owners import Owner
from sandbox.protocol import ClientError, TokenBucket
from sandbox.resp import LinkDown
from sandbox.store import when
from sandbox.topology import PRIVATE_FIELDS

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 2.0
TOPOLOGY_COALESCE_S = 0.03
# Supervisor events worth a learner's attention; the rest (lease renewals...) are dropped.
QUIET_EVENTS = frozenset({"lease_renewed", "entries_committed", "leader_seen", "sync_done"})
# Events after which the page redraws the topology...
TOPOLOGY_EVENTS = frozenset(
    {"failover_finished", "topology_changed", "node_restarted", "node_crashed", "ready",
     "node_paused", "node_resumed", "zone_killed", "kill", "role_changed"}
)  # fmt: skip
# ... and those after which the clients re-read which primary serves which slots.
ROUTING_EVENTS = frozenset({"failover_finished", "topology_changed", "node_crashed", "ready"})


def public_event(event: dict[str, Any]) -> dict[str, Any]:
    """An event as a browser may see it: no topology dump, no port, pid or path."""
    return {k: v for k, v in event.items() if k != "topology" and k not in PRIVATE_FIELDS}


class LiveSessions:
    def __init__(self, limits: SandboxLimits, clock: Callable[[], float], layer: Any) -> None:
        self.limits = limits
        self.clock = clock
        self.layer = layer  # the channel layer; None sends nothing (no browser to reach)
        self.watchers: dict[str, int] = {}  # owner key -> pages showing its sandbox
        self.sockets: dict[str, int] = {}  # owner key or "a:<address>" -> websockets open
        self._message_buckets: dict[str, TokenBucket] = {}  # any message, per owner or address

    # -- a sandbox's events ----------------------------------------------------------------
    def attach(self, live: LiveSandbox) -> None:
        """A new live sandbox: start its sender, note whether a page shows it."""
        live.unwatched_since = None if self.watched(live.owner) else self.clock()
        live.spawn(self._send_outbox(live))

    def on_supervisor_event(self, live: LiveSandbox, cluster: str, event: dict[str, Any]) -> None:
        """A supervisor event (called synchronously by the backend, on the site's loop)."""
        name = event.get("event", "")
        if name in QUIET_EVENTS:
            return
        record = public_event(event)
        record["cluster"] = cluster
        if name == "failover_finished" and event.get("shard") is not None and live.lab.crash is not None:
            live.lab.crash.failover_finished(cluster, record)
        if name in ROUTING_EVENTS and live.handle is not None:
            live.clients.refresh(cluster, live.topology(cluster))
        if name in TOPOLOGY_EVENTS and not live.books.topology_dirty:
            # Coalesce the bursts (a crash brings several events) into one redraw.
            live.books.topology_dirty = True
            asyncio.get_running_loop().call_later(TOPOLOGY_COALESCE_S, self._push_topology, live)
        self.record(live, record)

    def record(self, live: LiveSandbox, event: dict[str, Any]) -> dict[str, Any]:
        """Number the event, keep it in the log and send it to the sandbox's pages."""
        record = live.log.append(event)
        self.send(live, {"type": "event", **record})
        return record

    def send(self, live: LiveSandbox, message: dict[str, Any]) -> None:
        live.books.outbox.put_nowait(message)

    async def send_now(self, live: LiveSandbox, message: dict[str, Any]) -> None:
        """Past the outbox, for the last messages of a sandbox whose sender is gone."""
        await self._group_send(live.group, message)

    async def _send_outbox(self, live: LiveSandbox) -> None:
        """One sender per sandbox, so its messages reach browsers in order."""
        while True:
            message = await live.books.outbox.get()
            await self._group_send(live.group, message)

    async def _group_send(self, group: str, message: dict[str, Any]) -> None:
        if self.layer is None:
            return
        try:
            await self.layer.group_send(group, {"type": "sandbox.message", "message": message})
        except Exception:  # a full or broken layer must not stop the sandbox
            log.exception("could not send to %s", group)

    def _push_topology(self, live: LiveSandbox) -> None:
        live.books.topology_dirty = False
        if live.handle is not None:
            self.send(live, {"type": "topology", "clusters": live.public_topologies()})

    # -- a page (re)connecting ---------------------------------------------------------------
    @staticmethod
    def welcome(live: LiveSandbox, last_seq: int | None, log_id: str | None) -> dict[str, Any]:
        """The log's side of a welcome: what the browser missed, or a reset."""
        missed = live.log.since(last_seq, log_id) if last_seq is not None else None
        return {
            "group": live.group,
            "log": live.log.log_id,
            "seq": live.log.last_seq,
            "replay": missed,
            "reset": last_seq is not None and missed is None,
            "recent": live.log.recent(100) if missed is None else None,
        }

    @staticmethod
    def events_between(live: LiveSandbox | None, after: int, upto: int) -> list[dict[str, Any]]:
        if live is None:
            return []
        return [r for r in live.log.records if after < r["seq"] <= upto]

    # -- pages watching, and what goes to them while they do -----------------------------
    def watched(self, owner: Owner) -> bool:
        return bool(self.watchers.get(owner.key))

    def watch(self, owner: Owner, delta: int, live: LiveSandbox | None) -> None:
        """Count the pages showing this owner's sandbox (statistics only flow to pages)."""
        count = self.watchers.get(owner.key, 0) + delta
        if count > 0:
            self.watchers[owner.key] = count
        else:
            self.watchers.pop(owner.key, None)
        if live is not None:
            live.unwatched_since = None if count > 0 else self.clock()

    async def follow(self, live: LiveSandbox) -> None:
        """While it runs: node statistics to watching pages, and the row kept current."""
        last_flush = 0.0
        books = live.books
        while True:
            await asyncio.sleep(self.limits.stats_interval_seconds)
            if live.handle is None:
                return
            if self.watched(live.owner) or live.lab.load_running:
                try:
                    self.send(live, await observe.node_stats(live, round(self.clock() * 1000)))
                except (LinkDown, OSError, asyncio.TimeoutError):
                    pass  # a node went away meanwhile; the next round will see the new topology
            now = time.monotonic()
            if now - last_flush >= FLUSH_INTERVAL_S and (
                books.saved_seq != live.log.last_seq or books.saved_activity != live.last_activity
            ):
                last_flush = now
                books.saved_seq, books.saved_activity = live.log.last_seq, live.last_activity
                await store.save_row(
                    live.row_id, event_seq=live.log.last_seq, last_activity=when(live.last_activity)
                )

    # -- sockets and their message budget -------------------------------------------------
    def open_socket(self, owner: Owner | None, address: str) -> TokenBucket:
        """Count a new websocket; its message budget, shared by every socket of the
        same owner (or, without one, of the same address). ClientError past the caps."""
        by_address = f"a:{address}"
        if self.sockets.get(by_address, 0) >= self.limits.sockets_per_address:
            raise ClientError("too_many_sockets", "Too many sandbox pages are open from your network.")
        if owner is not None and self.sockets.get(owner.key, 0) >= self.limits.sockets_per_owner:
            raise ClientError(
                "too_many_sockets",
                f"You have {self.limits.sockets_per_owner} sandbox pages open; close one to open another.",
            )
        keys = [by_address] + ([owner.key] if owner is not None else [])
        for key in keys:
            self.sockets[key] = self.sockets.get(key, 0) + 1
        budget_key = owner.key if owner is not None else by_address
        bucket = self._message_buckets.get(budget_key)
        if bucket is None:
            bucket = self._message_buckets[budget_key] = TokenBucket(
                self.limits.messages_per_second, self.limits.message_burst
            )
        return bucket

    def close_socket(self, owner: Owner | None, address: str) -> None:
        keys = [f"a:{address}"] + ([owner.key] if owner is not None else [])
        for key in keys:
            count = self.sockets.get(key, 0) - 1
            if count > 0:
                self.sockets[key] = count
            else:
                self.sockets.pop(key, None)
                if not key.startswith("a:") or owner is None:
                    self._message_buckets.pop(key, None)

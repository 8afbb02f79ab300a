"""One Raft group inside a zone's host journal process: a durable cluster's replica.

``HostedGroup`` is the dedicated journal's per-replica driver (journal_server.
JournalServer: the log file and its corruption handling, ``RaftNode``,
``JournalState``, pending appends, compaction; journal_commands.py for what each
client command means) with its I/O handed to the zone process (journal_host.py):

* its ``Send``s go to the host, which batches them per peer zone and per turn;
* its log writes are fsynced by the host's one flush pass per turn over every
  dirty group (``sync`` then ``synced``), not by a ``call_soon`` of its own;
* its Raft clock is a timer at the node's next deadline (``next_tick_due``), armed
  by the host; a group with nothing due costs no wake-up at all.

Each group has its own directory (``<dir>/groups/<id>/``: ``secret``, 0600, and
``<zone>.journal``), its own secret, its own term and its own elections.

Invariants (those of journal_server.py, per group):
* A Send leaves only after every log write made before it is fsynced.
* An append is acknowledged only once committed (a majority of zones fsynced it).
* A stopped group (``stop``: a crash the way SIGKILL would do it, or a drop) acts
  on nothing any more: its timer is cancelled, its pending appends answer nothing
  and its client connections are closed; what it wrote stays in its file.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from typing import TYPE_CHECKING, Any, Callable

from .journal_server import JournalConfig, JournalServer
from .raft import Action, Message, Send

if TYPE_CHECKING:
    from .journal_host import ZoneHost

# A group id is a file name and a wire name: short, and nothing a path or RESP splits.
GROUP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def valid_group_id(group: str) -> bool:
    return GROUP_ID.fullmatch(group) is not None


class HostedGroup(JournalServer):
    """A group's replica in this zone, driven by the zone process."""

    def __init__(self, host: "ZoneHost", group: str, config: JournalConfig,
                 on_event: Callable[[dict[str, Any]], None]) -> None:
        self.host = host
        self.group = group
        self.stopped = False
        self.paused = False
        self.resumed = asyncio.Event()  # set while not paused: client commands wait on it
        self.resumed.set()
        self.timer: asyncio.TimerHandle | None = None
        self.timer_due_ms = 0
        self.clients: set[asyncio.StreamWriter] = set()  # connections logged in to this group
        super().__init__(config, on_event=lambda event: on_event({**event, "group": group}))
        # The base class schedules its own fsync per replica; here the host's flush
        # pass does it for every group at once, so the base's scheduling is kept off.
        self.flush_scheduled = True

    def handle(self, actions: list[Action]) -> None:
        if self.stopped:
            return  # a crashed replica acts on nothing (its runtime is gone)
        super().handle(actions)
        self.flush_scheduled = True
        if self.dirty:
            self.host.mark_dirty(self)
        self.host.arm(self)

    def _transmit(self, send: Send) -> None:
        self.host.send(send.to, self.group, send.message)

    def deliver(self, message: Message, now_ms: int) -> None:
        """A peer's message (dropped while paused, as a stopped process reads nothing)."""
        if not self.paused and not self.stopped:
            self.handle(self.node.step(message, now_ms))

    def tick(self, now_ms: int) -> None:
        self.timer = None
        if not self.paused and not self.stopped:
            self.handle(self.node.tick(now_ms))

    # -- the host's flush pass ------------------------------------------------------------

    def sync(self) -> tuple[list[Send], int, int] | None:
        """fsync this group's log if it has unsynced writes: (the Sends that waited for
        it, the durable last index and term), or None when there was nothing to do."""
        if not self.dirty or self.stopped:
            return None
        self.dirty = False
        outbox, self.outbox = self.outbox, []
        index, term = self.mirror.last_index, self.mirror.last_term
        try:
            os.fsync(self.file.fileno())
        except OSError as exc:
            self._disk_failed("fsync", exc)
        return outbox, index, term

    def synced(self, outbox: list[Send], index: int, term: int) -> None:
        """After the pass: the waiting Sends leave and Raft learns what is durable."""
        if self.stopped:
            return
        for send in outbox:
            self._transmit(send)
        self.handle(self.node.persisted(index, term))

    def _flush(self) -> None:  # the base class's own fsync path is never taken here
        raise AssertionError("a hosted group is flushed by its zone process")

    def _disk_failed(self, what: str, exc: OSError) -> None:
        # A failed fsync leaves every group's unwritten pages in doubt (one disk, one
        # kernel): the whole zone process stops, as a dedicated replica would.
        print(f"journal host {self.config.node_id}, group {self.group}: {what} failed ({exc}); stopping",
              file=sys.stderr, flush=True)
        os._exit(1)

    # -- faults and lifecycle -------------------------------------------------------------

    def pause(self) -> None:
        """Like SIGSTOP: no timer, no peer message, client commands wait."""
        self.paused = True
        self.resumed.clear()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def resume(self) -> None:
        self.paused = False
        self.resumed.set()
        self.host.arm(self)

    def stop(self) -> None:
        """Like SIGKILL (or a drop): everything in memory goes, the file stays as written."""
        self.stopped = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.outbox = []
        for _, fut in self.pending.values():
            if not fut.done():
                fut.cancel()
        self.pending.clear()
        for writer in list(self.clients):
            writer.close()
        self.clients.clear()
        self.resumed.set()  # commands waiting on a pause see the stop and end
        self.file.close()

"""A sandbox's event log: every event gets the next sequence number and the last
``size`` are kept, so a browser that reconnects sends the last number it saw and
receives exactly what it missed.

Invariants:
* numbers only grow, also across site restarts: a log starts after the row's
  stored ``event_seq``;
* ``log_id`` names one log's lifetime. A browser that saw another log (the site
  restarted, or its events fell out of the window) is told to ``reset``: it
  redraws from the current state instead of trusting numbers from another log.

Kept in the site process (one daphne worker with the local backend). Several
workers would share it through a Redis stream (XADD MAXLEN / XRANGE), which
channels_redis's server already offers; that variant waits for a backend that
runs sandboxes apart from the site (see ``sandbox.backends``).
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from typing import Any, Callable


class EventLog:
    def __init__(
        self,
        size: int,
        first_seq: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.size = size
        self.last_seq = first_seq
        self.log_id = secrets.token_urlsafe(9)
        self.clock = clock
        self.records: deque[dict[str, Any]] = deque(maxlen=size)

    def append(self, event: dict[str, Any]) -> dict[str, Any]:
        """Number the event and keep it; returns the record as sent to browsers."""
        self.last_seq += 1
        record = dict(event)
        record["seq"] = self.last_seq
        record.setdefault("ts", round(self.clock() * 1000))
        self.records.append(record)
        return record

    def since(self, seq: int, log_id: str | None) -> list[dict[str, Any]] | None:
        """Events after ``seq``, or None when the browser must reset instead."""
        if log_id != self.log_id:
            return None
        if seq > self.last_seq:
            return None
        oldest = self.records[0]["seq"] if self.records else self.last_seq + 1
        if seq + 1 < oldest:
            return None  # some of what it missed is no longer kept
        return [r for r in self.records if r["seq"] > seq]

    def recent(self, count: int) -> list[dict[str, Any]]:
        return list(self.records)[-count:]

"""Presence: which signed-in learners have a page of the site open now, and which.

Every page of a learner who is in a class opens the presence socket
(``teach.consumers.PresenceConsumer``); it calls ``seen`` on connect, on every
heartbeat and when the page says where it is, and ``gone`` when it closes. The
dashboard asks ``present(user_ids, now)``.

The registry is behind a narrow interface (``Presence``) so that several daphne
workers can later share one in Redis (one key per socket with a TTL, ``SET ... PX``):
nothing here relies on being in-process except ``InProcessPresence`` itself.

Invariants:
* a learner is present while at least one of their sockets was seen within ``ttl``
  seconds (a socket whose worker died simply stops being seen, and expires);
* when several pages are open, the path is the one seen most recently;
* the clock is the caller's (``now``): nothing here reads the time.
"""

from __future__ import annotations

from typing import Protocol

# Pages send a heartbeat every 20 s; two missed ones and the learner is gone.
DEFAULT_TTL_S = 45.0


class Presence(Protocol):
    def seen(self, user_id: int, socket_id: str, path: str, now: float) -> None: ...

    def gone(self, user_id: int, socket_id: str) -> None: ...

    def present(self, user_ids: list[int], now: float) -> dict[int, str]:
        """The given learners who are present now, with the page each has open."""
        ...


class InProcessPresence:
    """The laptop default: one site process, a dict of sockets per learner."""

    def __init__(self, ttl: float = DEFAULT_TTL_S) -> None:
        self.ttl = ttl
        # user id -> socket id -> (path, last seen)
        self._sockets: dict[int, dict[str, tuple[str, float]]] = {}

    def seen(self, user_id: int, socket_id: str, path: str, now: float) -> None:
        self._sockets.setdefault(user_id, {})[socket_id] = (path, now)

    def gone(self, user_id: int, socket_id: str) -> None:
        sockets = self._sockets.get(user_id)
        if sockets is None:
            return
        sockets.pop(socket_id, None)
        if not sockets:
            del self._sockets[user_id]

    def present(self, user_ids: list[int], now: float) -> dict[int, str]:
        found: dict[int, str] = {}
        for user_id in user_ids:
            sockets = self._sockets.get(user_id)
            if not sockets:
                continue
            fresh = [(at, path) for path, at in sockets.values() if now - at <= self.ttl]
            if fresh:
                found[user_id] = max(fresh)[1]
            else:
                # Expired sockets are forgotten here, so a dead worker's leave no trace.
                del self._sockets[user_id]
        return found


_presence: Presence = InProcessPresence()


def get_presence() -> Presence:
    return _presence


def install_presence(presence: Presence) -> Presence:
    """Replace the registry (tests; later the classroom host's Redis one); returns the old."""
    global _presence
    previous, _presence = _presence, presence
    return previous

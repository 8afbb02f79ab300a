"""Presence: which signed-in learners have a page of the site open now, and which.

Every page of a learner who is in a class opens the presence socket
(``teach.consumers.PresenceConsumer``); it calls ``seen`` on connect, on every
heartbeat and when the page says where it is, and ``gone`` when it closes. The
dashboard asks ``present(user_ids, now)``.

The registry is behind a narrow interface (``Presence``): ``InProcessPresence`` on a
laptop (one site process), ``RedisPresence`` when the sandbox service runs apart
(``MEMORYDB_LAB_SANDBOX_SERVICE=remote``) and several daphne workers must share it:
one hash per learner (socket id -> path and when seen) whose TTL every heartbeat
renews, so a dead worker's sockets vanish with the learner's last heartbeat.

Invariants:
* a learner is present while at least one of their sockets was seen within ``ttl``
  seconds (a socket whose worker died simply stops being seen, and expires);
* when several pages are open, the path is the one seen most recently;
* the clock is the caller's (``now``): nothing here reads the time.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

log = logging.getLogger(__name__)

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


class RedisPresence:
    """Shared by every worker: ``<prefix>:presence:<user id>`` is a hash of socket id ->
    ``{"path", "at"}``, expiring ``ttl`` after its last heartbeat. Best effort: a Redis
    that does not answer within ``REDIS_TIMEOUT_S`` loses a heartbeat, not the page."""

    REDIS_TIMEOUT_S = 0.5  # called on the worker's loop: a stuck Redis must not stall it

    def __init__(self, redis_url: str, prefix: str, ttl: float = DEFAULT_TTL_S) -> None:
        import redis

        self.ttl = ttl
        self.prefix = prefix
        self.redis: Any = redis.Redis.from_url(
            redis_url, decode_responses=True, socket_timeout=self.REDIS_TIMEOUT_S,
            socket_connect_timeout=self.REDIS_TIMEOUT_S,
        )  # fmt: skip

    def _key(self, user_id: int) -> str:
        return f"{self.prefix}:presence:{user_id}"

    def seen(self, user_id: int, socket_id: str, path: str, now: float) -> None:
        import redis

        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.hset(self._key(user_id), socket_id, json.dumps({"path": path, "at": now}))
            pipe.pexpire(self._key(user_id), round(self.ttl * 1000))
            pipe.execute()
        except redis.RedisError:
            log.warning("presence: Redis did not take a heartbeat")

    def gone(self, user_id: int, socket_id: str) -> None:
        import redis

        try:
            self.redis.hdel(self._key(user_id), socket_id)
        except redis.RedisError:
            pass  # the socket's entry expires with the learner's heartbeats

    def present(self, user_ids: list[int], now: float) -> dict[int, str]:
        import redis

        try:
            pipe = self.redis.pipeline(transaction=False)
            for user_id in user_ids:
                pipe.hgetall(self._key(user_id))
            found_all = pipe.execute()
        except redis.RedisError:
            log.warning("presence: Redis did not answer; nobody shown present")
            return {}
        found: dict[int, str] = {}
        for user_id, sockets in zip(user_ids, found_all):
            # A socket of a dead worker stays in the hash while another socket of the
            # learner renews it: only the ones seen within ttl count.
            entries = [json.loads(raw) for raw in sockets.values()]
            fresh = [(seen["at"], seen["path"]) for seen in entries if now - seen["at"] <= self.ttl]
            if fresh:
                found[user_id] = max(fresh)[1]
        return found


_presence: Presence | None = None


def _from_settings() -> Presence:
    from django.conf import settings

    if getattr(settings, "SANDBOX_SERVICE", "local") == "remote":
        return RedisPresence(settings.SANDBOX_SERVICE_REDIS_URL, settings.SANDBOX_SERVICE_PREFIX)
    return InProcessPresence()


def get_presence() -> Presence:
    global _presence
    if _presence is None:
        _presence = _from_settings()
    return _presence


def install_presence(presence: Presence | None) -> Presence | None:
    """Replace the registry (tests); returns the old. None: the settings' one again."""
    global _presence
    previous, _presence = _presence, presence
    return previous

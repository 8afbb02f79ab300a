"""The sandbox websocket: one per page, JSON messages with a ``type``.

The consumer only dispatches. ``receive`` refuses what is too large, not text or
too frequent; ``receive_json`` validates the message (``sandbox.protocol``) and
calls ``on_<type>``, each a few lines handing the work, with this connection's
owner, to the job of the sandbox service that does it (``sandbox.service``:
lifecycle, sessions, console, load, faults, checks, users). A ``ClientError`` raised anywhere becomes one
``{"type": "error", "code": ...}`` reply and nothing else happens.

Ownership: the owner is read from the session and user of the connection, and the
service is only ever asked "this owner's sandbox" — on every message, since a
sandbox can be stopped or started in another tab meanwhile. No message carries a
sandbox id.

Events: the live sessions send each sandbox's messages to its group. On ``hello``
the consumer follows the group and replays what the browser missed (its
``last_seq`` from this ``log``); live events then pass through ``sandbox_message``,
which drops anything the browser already has and fills any gap from the log. The
service (``sandbox.manager.SandboxService``) decides what following is: joining a
channel-layer group in process, tailing the group's Redis stream from the position
the welcome gave when the service runs apart (``sandbox.service.remote``).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from memorydb_lab.addresses import scope_address
from sandbox.conf import SandboxLimits
from sandbox.manager import SandboxService, get_manager
from sandbox.owners import Owner, owner_for_scope
from sandbox.protocol import ClientError, TokenBucket, schemas, validate

log = logging.getLogger(__name__)

# Closing code when a visitor already has as many sockets as allowed (4000-4999 are
# the application's; the page shows the error message sent just before).
CLOSE_TOO_MANY = 4429


class SandboxConsumer(AsyncJsonWebsocketConsumer):
    manager: SandboxService
    owner: Owner | None
    group: str | None = None
    sent_seq: int = 0
    log_id: str | None = None

    counted = False

    async def connect(self) -> None:
        self.manager = get_manager()
        self.limits: SandboxLimits = self.manager.limits
        self.table = schemas(self.limits)
        self.owner = await owner_for_scope(self.scope)
        self.address = scope_address(self.scope)
        await self.accept()
        try:
            # One message budget per owner, shared by all their pages.
            self.flood = self.manager.sessions.open_socket(self.owner, self.address)
        except ClientError as exc:
            self.flood = TokenBucket(0.0, 0)  # anything still arriving is refused
            await self.send_json(exc.payload())
            await self.close(code=CLOSE_TOO_MANY)
            return
        self.counted = True

    async def disconnect(self, code: int) -> None:
        await self._leave_group()
        if self.counted:
            self.counted = False
            self.manager.sessions.close_socket(self.owner, self.address)

    # -- transport -------------------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            if text_data is None:
                raise ClientError("binary_not_supported")
            # surrogatepass: a lone surrogate is measured here and refused by validate().
            if len(text_data.encode("utf-8", "surrogatepass")) > self.limits.max_message_bytes:
                raise ClientError("too_large", limit=self.limits.max_message_bytes)
            if not self.flood.take():
                raise ClientError("rate_limited", **_request_id(text_data))
            if too_deep(text_data):
                raise ClientError("too_deep")
            try:
                content = json.loads(text_data)
            except ValueError:
                raise ClientError("bad_json") from None
            await self.receive_json(content)
        except ClientError as exc:
            await self.send_json(exc.payload())

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind, fields = validate(content, self.table)
        handler = getattr(self, f"on_{kind}")
        try:
            await handler(**fields)
        except ClientError as exc:
            # Say which request failed, so a console can show the error in place.
            if kind == "command" and "id" not in exc.detail:
                exc.detail["id"] = fields["id"]
            raise

    def _owner(self) -> Owner:
        if self.owner is None:
            raise ClientError("no_identity")
        return self.owner

    # -- handlers: one per message type ------------------------------------------------------
    async def on_hello(self, last_seq: int | None = None, log: str | None = None) -> None:
        welcome = await self.manager.welcome(self.owner, last_seq, log)
        replay = welcome.pop("replay", None)
        recent = welcome.pop("recent", None) or []
        await self._join_group(welcome.pop("group", None), welcome.pop("after", None))
        if replay is not None:  # the browser's log: send exactly what it missed
            self.sent_seq = last_seq or 0
        else:  # a first visit, or another log: the page redraws from these
            self.sent_seq = 0
            replay = recent
        await self.send_json({"type": "welcome", **welcome, "limits": self._limits()})
        for record in replay:
            await self._send_event(record)
        self.sent_seq = max(self.sent_seq, welcome.get("seq") or 0)

    async def on_ping(self) -> None:
        # A keepalive: answered, but it is not learner activity (the culler ignores it).
        await self.send_json({"type": "pong", "ts": round(time.time() * 1000)})

    async def on_start(self, **shape: int) -> None:
        summary = await self.manager.lifecycle.start(self._owner(), shape, self.address)
        await self._join_group(*await self.manager.group_of(self._owner()))
        await self.send_json({"type": "state", "sandbox": summary})

    async def on_reconfigure(self, **shape: int) -> None:
        summary = await self.manager.lifecycle.reconfigure(self._owner(), shape, self.address)
        await self._join_group(*await self.manager.group_of(self._owner()))
        await self.send_json({"type": "state", "sandbox": summary})

    async def on_stop(self) -> None:
        await self.manager.lifecycle.stop(self._owner())

    async def on_command(self, cluster: str, line: str, id: int) -> None:
        owner = self._owner()
        if not self.manager.console.allow(owner):
            raise ClientError("command_rate_limited")
        result = await self.manager.console.run(owner, cluster, line)
        await self.send_json({"type": "reply", "id": id, "cluster": cluster, **result})

    async def on_docs(self) -> None:
        docs = await self.manager.console.docs(self._owner())
        await self.send_json({"type": "docs", "commands": docs})

    async def on_load_start(self, rate: int, mix: dict[str, int] | None = None) -> None:
        progress = await self.manager.load.start(self._owner(), rate, mix)
        await self.send_json({"type": "load", "load": progress})

    async def on_load_stop(self) -> None:
        progress = await self.manager.load.stop(self._owner())
        await self.send_json({"type": "load", "load": progress})

    async def on_fault(self, action: str, **fields: Any) -> None:
        outcome = await self.manager.faults.fault(self._owner(), action, fields)
        await self.send_json({"type": "fault", **outcome})

    async def on_verdict(self) -> None:
        verdict = await self.manager.faults.verdict(self._owner())
        await self.send_json({"type": "verdict", "verdict": verdict})

    async def on_check(self, lesson: str) -> None:
        results = await self.manager.checks.run(self._owner(), lesson)
        await self.send_json({"type": "checks", "lesson": lesson, "results": results})

    async def on_create_user(self, name: str, access: str) -> None:
        created = await self.manager.users.create(self._owner(), name, access)
        await self.send_json({"type": "user", **created})

    # -- from the live sessions, through the channel layer or the group's stream ---------------
    async def sandbox_message(self, message: dict[str, Any]) -> None:
        payload = message["message"]
        if payload.get("type") == "event":
            await self._send_event(payload)
        else:
            await self.send_json(payload)

    async def _send_event(self, record: dict[str, Any]) -> None:
        seq = record["seq"]
        if seq <= self.sent_seq:
            return  # already sent (replayed before the live copy arrived)
        if seq > self.sent_seq + 1 and self.owner is not None and self.sent_seq:
            # A live event overtook some the layer dropped: fill the gap from the log.
            for missed in self.manager.events_between(self.owner, self.sent_seq, seq - 1):
                await self.send_json({**missed, "type": "event"})
        self.sent_seq = seq
        await self.send_json({**record, "type": "event"})

    # -- groups ----------------------------------------------------------------------------
    async def _join_group(self, group: str | None, after: str | None = None) -> None:
        """Follow the group's messages (``after``: where the service said to start)."""
        if group == self.group:
            return
        await self._leave_group()
        if group is not None and self.channel_layer is not None:
            await self.manager.follow(self, group, after)
            self.group = group
            await self.manager.watch(self._owner(), +1)

    async def _leave_group(self) -> None:
        if self.group is not None and self.channel_layer is not None:
            group, self.group = self.group, None
            await self.manager.unfollow(self, group)
            if self.owner is not None:
                await self.manager.watch(self.owner, -1)
        self.group = None

    def _limits(self) -> dict[str, Any]:
        """What the page needs to build its forms within the server's limits."""
        guest = self.owner is None or self.owner.user_id is None
        return {
            # A guest's form offers only what a guest may start (bigger needs an account).
            "max_shards": self.limits.guest_max_shards if guest else self.limits.max_shards,
            "max_replicas": self.limits.guest_max_replicas if guest else self.limits.max_replicas,
            "guest": guest,
            "max_replication_delay_ms": self.limits.max_replication_delay_ms,
            "replication_delay_ms": self.limits.replication_delay_ms,
            "max_load_rate": self.limits.max_load_rate,
            "max_message_bytes": self.limits.max_message_bytes,
            "idle_minutes": round(self.limits.idle_seconds / 60),
        }


def _request_id(text: str) -> dict[str, int]:
    """The ``id`` of a refused request, so that the page can fail that request in
    place instead of waiting for an answer; read only from short messages, so that a
    flood is refused without the cost of parsing it."""
    if len(text) > 1024 or too_deep(text):
        return {}
    try:
        content = json.loads(text)
    except ValueError:
        return {}
    request_id = content.get("id") if isinstance(content, dict) else None
    return {"id": request_id} if type(request_id) is int else {}


MAX_NESTING = 32  # no message of the protocol nests deeper than 3


def too_deep(text: str) -> bool:
    """Whether the JSON text nests arrays and objects deeper than ``MAX_NESTING``.

    Checked before parsing, so that the decoder never recurses into a forged
    ``[[[[…``: a RecursionError raised in the C decoder can leave CPython 3.11's
    recursion accounting off for the thread (later ``ast`` work then fails with
    "AST constructor recursion depth mismatch"), and daphne's event loop is that
    thread. Brackets inside strings do not count."""
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return False  # the usual message: nothing to scan
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return True
        elif ch in "]}":
            depth -= 1
    return False


"""The teach websockets: the learners' presence socket and the instructor's dashboard.

* ``PresenceConsumer`` (``/ws/presence/``) — every page of a signed-in learner who is
  in a class opens it. The page says where it is (``here``) and sends a heartbeat
  (``ping``); the socket carries the class's messages back: the "go to this page"
  banner, the Crash everyone prompt (only to the learners whose sandbox is in the
  run) and the run's anonymous histogram. A learner answers the prompt with
  ``predict``.
* ``DashboardConsumer`` (``/ws/teach/<class>/``) — instructors of that class only
  (``teach.access``, asked again on every message); anyone else is closed with 4403
  and sent nothing. On connect it sends the class's summary at once; then the class's
  ticker sends coalesced summaries (``teach.live``). Messages: ``prepare``,
  ``crash``, ``nudge``.

Both only dispatch: ``receive_json`` calls ``on_<type>``; a ``ClientError`` becomes one
``{"type": "error"}`` reply. The ORM is reached only through ``database_sync_to_async``.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import Http404

from sandbox.protocol import ClientError, TokenBucket
from teach import live
from teach.access import classroom_for_instructor, memberships_of

CLOSE_FORBIDDEN = 4403  # not yours: nothing is sent before it
CLOSE_NOT_SIGNED_IN = 4401
MAX_MESSAGE_BYTES = 2048
MAX_PATH = 300


def _user_id(scope: dict[str, Any]) -> int | None:
    user = scope.get("user")
    return user.pk if user is not None and user.is_authenticated else None


@database_sync_to_async
def _classes_of(user: Any) -> list[int]:
    return [m.classroom_id for m in memberships_of(user)]


@database_sync_to_async
def _taught_class(user: Any, classroom_id: int) -> Any:
    return classroom_for_instructor(user, classroom_id)


@database_sync_to_async
def _send_nudge(classroom: Any, user: Any, target: Any) -> Any:
    from teach.views.live import NudgeForm

    form = NudgeForm(data={"target": target})
    return form.send(classroom, user) if form.is_valid() else None


class _JsonConsumer(AsyncJsonWebsocketConsumer):
    """Size and rate limits, JSON parsing, dispatch and ClientError replies."""

    kinds: frozenset[str] = frozenset()
    flood: TokenBucket

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            if text_data is None or len(text_data.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
                raise ClientError("too_large")
            if not self.flood.take():
                raise ClientError("rate_limited")
            try:
                content = json.loads(text_data)
            except (ValueError, RecursionError):
                raise ClientError("bad_json") from None
            if not isinstance(content, dict) or content.get("type") not in self.kinds:
                raise ClientError("unknown_type")
            await getattr(self, f"on_{content['type']}")(content)
        except ClientError as exc:
            await self.send_json(exc.payload())

    async def teach_push(self, event: dict[str, Any]) -> None:
        await self.send_json(event["message"])


def _int(content: dict[str, Any], name: str, low: int, high: int) -> int:
    value = content.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ClientError("bad_field", f"{name} must be a whole number from {low} to {high}.", field=name)
    return value


class PresenceConsumer(_JsonConsumer):
    kinds = frozenset({"here", "ping", "predict"})
    user_id: int | None = None
    groups_joined: list[str]

    async def connect(self) -> None:
        self.groups_joined = []
        self.user_id = _user_id(self.scope)
        await self.accept()
        if self.user_id is None:
            await self.close(code=CLOSE_NOT_SIGNED_IN)
            return
        self.classes = await _classes_of(self.scope["user"])
        if not self.classes:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.hub = live.get_hub()
        self.socket_id = secrets.token_hex(8)
        self.path = "/"
        self.flood = TokenBucket(2.0, 10)
        for group in [live.learner_group(self.user_id)] + [live.learners_group(c) for c in self.classes]:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = []
        if self.user_id is not None and getattr(self, "socket_id", None):
            self.hub.presence.gone(self.user_id, self.socket_id)
            await live.mark_classes_dirty(self.classes)

    async def on_here(self, content: dict[str, Any]) -> None:
        path = content.get("path")
        if not isinstance(path, str) or not path.startswith("/") or path.startswith("//") or len(path) > MAX_PATH:
            raise ClientError("bad_field", "path must be a path on this site.", field="path")
        self.path = path
        self.hub.presence.seen(self.user_id, self.socket_id, path, self.hub.clock.now())  # type: ignore[arg-type]
        await live.mark_classes_dirty(self.classes)
        # A run may be waiting for this learner's prediction (the page was just opened).
        for classroom_id in self.classes:
            current = self.hub.current_run(classroom_id)
            if current is not None:
                await self.send_json({"type": "class_run", "run": current})

    async def on_ping(self, content: dict[str, Any]) -> None:
        # A heartbeat keeps the learner present; the dashboard only hears of changes.
        self.hub.presence.seen(self.user_id, self.socket_id, self.path, self.hub.clock.now())  # type: ignore[arg-type]
        await self.send_json({"type": "pong"})

    async def on_predict(self, content: dict[str, Any]) -> None:
        run_id = _int(content, "run", 1, 2**62)
        value = _int(content, "value", 0, 1_000_000)
        crash = next(
            (c for c in self.hub.runs.values() if c.run_id == run_id and c.classroom_id in self.classes), None
        )
        if crash is None:
            raise ClientError("no_such_run", "That run is over.")
        crash.predict(self.user_id, value)  # type: ignore[arg-type]
        await self.send_json({"type": "prediction_saved", "run": run_id, "value": value})
        self.hub.mark_dirty(crash.classroom_id)


class DashboardConsumer(_JsonConsumer):
    kinds = frozenset({"prepare", "crash", "nudge"})
    classroom_id: int | None = None

    async def connect(self) -> None:
        await self.accept()
        try:
            classroom = await _taught_class(self.scope.get("user"), int(self.scope["url_route"]["kwargs"]["pk"]))
        except Http404:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.classroom_id = classroom.pk
        self.hub = live.get_hub()
        self.flood = TokenBucket(2.0, 10)
        await self.channel_layer.group_add(live.dashboard_group(classroom.pk), self.channel_name)
        self.ticker = self.hub.ticker(classroom.pk)
        summary = await self.ticker.subscribe(self.send_summary)
        await self.send_summary(summary)

    async def disconnect(self, code: int) -> None:
        if self.classroom_id is None:
            return
        await self.channel_layer.group_discard(live.dashboard_group(self.classroom_id), self.channel_name)
        self.ticker.unsubscribe(self.send_summary)
        self.classroom_id = None

    async def send_summary(self, summary: dict[str, Any]) -> None:
        await self.send_json({"type": "summary", **summary})

    async def _check(self) -> Any:
        """Every message asks again: the instructor may have been removed meanwhile."""
        try:
            return await _taught_class(self.scope.get("user"), self.classroom_id)  # type: ignore[arg-type]
        except Http404:
            await self.close(code=CLOSE_FORBIDDEN)
            raise ClientError("forbidden") from None

    # -- from the browser ------------------------------------------------------------------
    async def on_prepare(self, content: dict[str, Any]) -> None:
        from sandbox.manager import get_manager

        classroom = await self._check()
        outcome = await self.hub.prepare_class(get_manager(), classroom.pk)
        await self.send_json({"type": "prepared", **outcome})

    async def on_crash(self, content: dict[str, Any]) -> None:
        from sandbox.manager import get_manager

        classroom = await self._check()
        crash = await self.hub.crash_everyone(get_manager(), classroom.pk, self.scope["user"].pk)
        await self.send_json({"type": "crash_started", "run": crash.public()})

    async def on_nudge(self, content: dict[str, Any]) -> None:
        classroom = await self._check()
        nudge = await _send_nudge(classroom, self.scope["user"], content.get("target"))
        if nudge is None:
            raise ClientError("bad_field", "Pick a lesson or the sandbox.", field="target")
        await self.send_json({**live.nudge_public(nudge), "type": "nudged"})

    # -- from the channel layer ------------------------------------------------------------
    async def teach_dirty(self, event: dict[str, Any]) -> None:
        self.hub.mark_dirty(self.classroom_id)  # type: ignore[arg-type]

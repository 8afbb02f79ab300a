"""The live dashboard's sockets, through the real ASGI stack: coalesced summaries
(driven by a fake clock), who may open the dashboard, presence and its TTL, Send the
class to a page, Prepare class through the sandbox manager's queue, and Crash
everyone on two learners' real sandboxes.

alice and dave are learners in bob's class; charlie teaches another class and must
get nothing of bob's. Every socket signs in with a real session cookie, and every
communicator is disconnected.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import ThreadSensitiveContext
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client

from quizzes.models import Learner, LessonRead
from quizzes.roles import make_instructor
from sandbox.manager import SandboxManager
from sandbox.models import Sandbox
from sandbox.testing import Browser, running_manager, test_limits
from teach import live
from teach.models import ClassRun, Classroom, Nudge
from teach.presence import InProcessPresence, install_presence

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("database_thread")]

PASSWORD = "correct horse battery staple"


class FakeClock:
    """Time moves only when the test says so; sleepers wake as it passes them."""

    def __init__(self) -> None:
        self.t = 1_000_000.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + seconds, next(self._order), future))
        await future

    async def advance(self, seconds: float) -> None:
        self.t += seconds
        while self._sleepers and self._sleepers[0][0] <= self.t:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)
        for _ in range(5):
            await asyncio.sleep(0)


class Socket:
    """One page's websocket at ``path``, signed in with ``session_key``."""

    def __init__(self, application: Any, path: str, session_key: str | None) -> None:
        async def connection(scope: Any, receive: Any, send: Any) -> None:
            async with ThreadSensitiveContext():
                await application(scope, receive, send)

        headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
        if session_key:
            headers.append((b"cookie", f"sessionid={session_key}".encode()))
        self.communicator = WebsocketCommunicator(connection, path, headers=headers)
        self.communicator.scope["client"] = ("127.0.0.1", 40000)

    async def __aenter__(self) -> "Socket":
        connected, _ = await self.communicator.connect(timeout=10)
        assert connected
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.communicator.disconnect()

    async def send(self, message: dict[str, Any]) -> None:
        await self.communicator.send_json_to(message)

    async def receive(self, timeout: float = 10) -> dict[str, Any]:
        return await self.communicator.receive_json_from(timeout=timeout)

    async def expect(self, kind: str, timeout: float = 20, where: Any = lambda m: True) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {kind!r} message within {timeout} s"
            message = await self.receive(timeout=remaining)
            if message.get("type") == kind and where(message):
                return message

    async def drain(self, seconds: float) -> list[dict[str, Any]]:
        """Every message that arrives within ``seconds`` (real time). Waits with
        receive_nothing: a receive that times out would cancel the application."""
        got = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not await self.communicator.receive_nothing(timeout=0.05):
                got.append(await self.receive())
        return got

    async def closed_with(self) -> int:
        output = await self.communicator.receive_output(timeout=5)
        assert output["type"] == "websocket.close", output
        return output["code"]


@pytest.fixture
def application() -> Any:
    import importlib

    return importlib.import_module("memorydb_lab.asgi").application


@pytest.fixture
def people(transactional_db: None) -> dict[str, Any]:
    """alice and dave in bob's class; charlie teaches a class of his own. Session keys too."""
    users = {name: User.objects.create_user(name, f"{name}@example.org", PASSWORD) for name in
             ("alice", "dave", "bob", "charlie")}
    make_instructor(users["bob"])
    make_instructor(users["charlie"])
    classroom = Classroom.objects.create(name="Databases B", created_by=users["bob"])
    classroom.instructors.add(users["bob"])
    classroom.enroll(users["alice"])
    classroom.enroll(users["dave"])
    other = Classroom.objects.create(name="Charlie's", created_by=users["charlie"])
    other.instructors.add(users["charlie"])
    keys = {}
    for name, user in users.items():
        client = Client()
        client.force_login(user)
        keys[name] = client.session.session_key
    return {"users": users, "keys": keys, "classroom": classroom, "other": other}


@pytest.fixture
def presence() -> Any:
    fresh = InProcessPresence(ttl=45)
    previous = install_presence(fresh)
    yield fresh
    install_presence(previous)


@pytest_asyncio.fixture
async def hub() -> AsyncIterator[live.LiveHub]:
    """A hub on a fake clock, so the test decides when windows pass."""
    clock = FakeClock()
    installed = live.LiveHub(clock, refresh_s=3600, predict_s=5)
    live.install_hub(installed)
    yield installed
    await installed.close()
    live.uninstall_hub(installed)


def dashboard(application: Any, people: dict[str, Any], who: str = "bob", classroom: Any = None) -> Socket:
    pk = (classroom or people["classroom"]).pk
    return Socket(application, f"/ws/teach/{pk}/", people["keys"][who])


def presence_socket(application: Any, people: dict[str, Any], who: str) -> Socket:
    return Socket(application, "/ws/presence/", people["keys"][who])


# ------------------------------------------------------------------------------------------
# The dashboard socket
# ------------------------------------------------------------------------------------------


async def test_the_dashboard_shows_the_class_at_once_on_connect(
    application: Any, people: dict[str, Any], hub: live.LiveHub, presence: Any
) -> None:
    async with dashboard(application, people) as bob:
        summary = await bob.expect("summary", timeout=10)
        assert [row["username"] for row in summary["roster"]] == ["alice", "dave"]
        assert summary["sandboxes"] == {"ready": 0, "waiting": 0, "total": 2}
        assert summary["present"] == 0 and summary["run"] is None


async def test_a_hundred_events_in_one_second_give_at_most_two_summaries(
    application: Any, people: dict[str, Any], hub: live.LiveHub, presence: Any
) -> None:
    clock: FakeClock = hub.clock  # type: ignore[assignment]
    alice = people["users"]["alice"]
    classroom = people["classroom"]
    async with dashboard(application, people) as bob:
        await bob.expect("summary")
        for i in range(100):  # one every 10 ms of the class's clock
            presence.seen(alice.pk, "page", f"/learn/page-{i}/", clock.now())
            await live.mark_classes_dirty([classroom.pk])
            await clock.advance(0.01)
            await asyncio.sleep(0.01)  # let the summaries being computed finish
        summaries = [m for m in await bob.drain(2.0) if m["type"] == "summary"]
        # The class's clock has moved 1 s: windows closed at 0.5 s and 1.0 s.
        assert 1 <= len(summaries) <= 2, len(summaries)
        await clock.advance(0.5)
        late = [m for m in await bob.drain(2.0) if m["type"] == "summary"]
        # Nothing is lost by coalescing: the newest page is what the dashboard ends on.
        final = (summaries + late)[-1]
        row = next(r for r in final["roster"] if r["username"] == "alice")
        assert row["present"] is True and row["page"] == "/learn/page-99/"
        assert len(summaries + late) <= 3


async def test_a_lesson_read_reaches_the_dashboard_through_the_signal(
    application: Any, people: dict[str, Any], hub: live.LiveHub, presence: Any
) -> None:
    from quizzes.models import Lesson, Module

    clock: FakeClock = hub.clock  # type: ignore[assignment]

    @database_sync_to_async
    def read_a_lesson() -> None:
        module = Module.objects.create(number=1, slug="m", title="M", summary="s")
        lesson = Lesson.objects.create(module=module, number=1, slug="l", title="L", summary="s", body_markdown="b")
        learner = Learner.objects.create(user=people["users"]["alice"])
        LessonRead.objects.create(learner=learner, lesson=lesson, read_at=live.timezone.now())

    async with dashboard(application, people) as bob:
        first = await bob.expect("summary")
        assert first["roster"][0]["modules"] == []
        await read_a_lesson()
        await clock.advance(0.5)
        summary = await bob.expect("summary", timeout=10)
        alice_row = next(r for r in summary["roster"] if r["username"] == "alice")
        assert alice_row["modules"][0]["lessons_read"] == 1


async def test_charlie_and_learners_are_closed_with_4403_and_told_nothing(
    application: Any, people: dict[str, Any], hub: live.LiveHub, presence: Any
) -> None:
    for who in ("charlie", "alice"):
        async with dashboard(application, people, who) as socket:
            assert await socket.closed_with() == 4403
    # A class that does not exist looks the same as one that is not yours.
    async with Socket(application, "/ws/teach/999999/", people["keys"]["bob"]) as socket:
        assert await socket.closed_with() == 4403
    async with Socket(application, f"/ws/teach/{people['classroom'].pk}/", None) as socket:
        assert await socket.closed_with() == 4403
    # Charlie's own class opens for him.
    async with dashboard(application, people, "charlie", people["other"]) as charlie:
        assert (await charlie.expect("summary"))["class"]["name"] == "Charlie's"


# ------------------------------------------------------------------------------------------
# Presence
# ------------------------------------------------------------------------------------------


def test_presence_expires_after_its_ttl_and_keeps_the_newest_page() -> None:
    registry = InProcessPresence(ttl=45)
    registry.seen(1, "tab-a", "/learn/", now=100.0)
    registry.seen(1, "tab-b", "/sandbox/", now=110.0)
    registry.seen(2, "tab-c", "/quizzes/", now=100.0)
    assert registry.present([1, 2, 3], now=120.0) == {1: "/sandbox/", 2: "/quizzes/"}
    assert registry.present([1, 2], now=150.0) == {1: "/sandbox/"}, "2 was last seen 50 s ago"
    registry.gone(1, "tab-b")
    assert registry.present([1], now=150.0) == {}, "tab-a was seen 50 s ago"
    registry.seen(1, "tab-a", "/learn/", now=151.0)
    assert registry.present([1], now=151.0) == {1: "/learn/"}


async def test_a_learners_open_page_shows_on_the_dashboard_and_leaves_with_it(
    application: Any, people: dict[str, Any], hub: live.LiveHub, presence: Any
) -> None:
    clock: FakeClock = hub.clock  # type: ignore[assignment]
    async with dashboard(application, people) as bob:
        await bob.expect("summary")
        async with presence_socket(application, people, "alice") as alice:
            await alice.send({"type": "here", "path": "/sandbox/"})
            await clock.advance(0.5)
            summary = await bob.expect("summary", where=lambda m: m["present"] == 1)
            row = next(r for r in summary["roster"] if r["username"] == "alice")
            assert row["page"] == "/sandbox/"
            await alice.send({"type": "here", "path": "https://evil.example/"})
            assert (await alice.expect("error"))["field"] == "path"
        await clock.advance(0.5)
        summary = await bob.expect("summary", where=lambda m: m["present"] == 0)
        assert all(not r["present"] for r in summary["roster"])
    # Someone in no class gets no presence socket.
    async with presence_socket(application, people, "charlie") as charlie:
        assert await charlie.closed_with() == 4403


# ------------------------------------------------------------------------------------------
# Send the class to a page
# ------------------------------------------------------------------------------------------


async def test_a_nudge_reaches_learners_pages_and_is_saved_for_later_ones(
    application: Any, people: dict[str, Any], hub: live.LiveHub, presence: Any
) -> None:
    async with presence_socket(application, people, "alice") as alice, dashboard(application, people) as bob:
        await alice.send({"type": "here", "path": "/learn/"})
        await bob.expect("summary")
        await bob.send({"type": "nudge", "target": "https://evil.example/"})
        assert (await bob.expect("error"))["field"] == "target"
        await bob.send({"type": "nudge", "target": "sandbox"})
        banner = await alice.expect("nudge")
        assert banner["path"] == "/sandbox/" and banner["title"] == "The sandbox"
        assert (await bob.expect("nudged"))["path"] == "/sandbox/"
    saved = await Nudge.objects.aget(classroom=people["classroom"])
    assert saved.path == "/sandbox/" and saved.sent_by_id == people["users"]["bob"].pk

    # dave opens a page afterwards: the banner is on it; charlie (no class) sees none.
    @database_sync_to_async
    def page_of(who: str) -> str:
        client = Client()
        client.force_login(people["users"][who])
        return client.get("/learn/").content.decode()

    assert 'class="nudge" data-path="/sandbox/"' in await page_of("dave")
    charlie_page = await page_of("charlie")
    assert "class-banner" not in charlie_page and "presence.js" not in charlie_page


# ------------------------------------------------------------------------------------------
# Prepare class, Crash everyone: the sandbox manager for real
# ------------------------------------------------------------------------------------------


async def test_prepare_class_queues_every_members_sandbox_through_the_manager(
    application: Any, people: dict[str, Any], hub: live.LiveHub, presence: Any, tmp_path: Path
) -> None:
    # No slot at all: every sandbox waits in the normal queue, nothing starts.
    async with running_manager(test_limits(tmp_path / "sb", max_running=0)) as manager:
        async with dashboard(application, people) as bob:
            await bob.expect("summary")
            await bob.send({"type": "prepare"})
            prepared = await bob.expect("prepared")
            assert prepared == {"type": "prepared", "queued": 2, "refused": [], "total": 2}
            users = people["users"]
            assert sorted(manager.queue_order()) == sorted([f"u:{users['alice'].pk}", f"u:{users['dave'].pk}"])
            assert manager.queue_position(live.Owner(user_id=users["bob"].pk)) is None
            await hub.clock.advance(0.5)  # type: ignore[attr-defined]
            summary = await bob.expect("summary", where=lambda m: m["sandboxes"]["waiting"] == 2)
            assert summary["sandboxes"]["ready"] == 0
    states = [s async for s in Sandbox.objects.values_list("desired_state", flat=True)]
    assert states == ["running", "running"]


async def test_crash_everyone_on_two_real_sandboxes_loses_no_durable_write_and_saves_the_run(
    application: Any, people: dict[str, Any], presence: Any, tmp_path: Path
) -> None:
    # The real clock; a short prediction window, and writes fast enough for the
    # cache to lose some (the cache's replication delay is the sandbox default).
    real = live.LiveHub(predict_s=2.0, stagger_s=0.5, rate=100)
    live.install_hub(real)
    try:
        async with running_manager(test_limits(tmp_path / "sb", max_running=2)) as manager:
            async with (
                Browser(application, people["keys"]["alice"]) as alice_sb,
                Browser(application, people["keys"]["dave"]) as dave_sb,
            ):
                for sandbox_page in (alice_sb, dave_sb):
                    state = await sandbox_page.start_sandbox(replicas=1)
                    assert state["sandbox"]["state"] == "running", state["sandbox"]["error"]
                async with (
                    presence_socket(application, people, "alice") as alice,
                    presence_socket(application, people, "dave") as dave,
                    dashboard(application, people) as bob,
                ):
                    await alice.send({"type": "here", "path": "/sandbox/"})
                    await dave.send({"type": "here", "path": "/sandbox/"})
                    await bob.expect("summary")
                    await asyncio.sleep(0.2)
                    await bob.send({"type": "crash"})
                    started = await bob.expect("crash_started")
                    run_id = started["run"]["id"]
                    prompt = await alice.expect("class_run_prompt")
                    assert prompt["run"] == run_id
                    await alice.send({"type": "predict", "run": run_id, "value": 4})
                    assert (await alice.expect("prediction_saved"))["value"] == 4
                    # dave's page sees the class's figures, never a name.
                    final = await dave.expect("class_run", timeout=90, where=lambda m: m["run"]["state"] == "done")
                    assert final["run"]["histogram"]["durable"] == [0, 0]
                    assert final["run"]["histogram"]["predictions"] == [4]
                    assert "alice" not in str(final) and "dave" not in str(final)
                    # After the prediction window, alice can no longer change her mind.
                    await alice.send({"type": "predict", "run": run_id, "value": 9})
                    assert (await alice.expect("error"))["code"] == "no_such_run"
                    done = await bob.expect("summary", timeout=30, where=lambda m: (m["run"] or {}).get("state") == "done")
                    assert done["run"]["done"] == 2
    finally:
        await real.close()
        live.uninstall_hub(real)

    run = await ClassRun.objects.aget(pk=run_id)
    assert run.state == ClassRun.State.DONE and run.finished_at is not None
    users = people["users"]
    assert set(run.results) == {str(users["alice"].pk), str(users["dave"].pk)}
    for result in run.results.values():
        assert result["durable"]["lost"] == 0 and result["durable"]["acked"] > 0, result
        assert result["experiment_id"]
    assert run.predictions == {str(users["alice"].pk): 4}
    # Each learner's own experiment was saved by the sandbox service, alice's with her prediction.
    from sandbox.models import Experiment

    alice_experiment = await Experiment.objects.aget(owner_user=users["alice"])
    assert alice_experiment.prediction == 4 and alice_experiment.fault == "kill_primary"


async def test_crash_everyone_needs_someone_present_with_a_running_sandbox(
    application: Any, people: dict[str, Any], hub: live.LiveHub, presence: Any, manager: SandboxManager
) -> None:
    async with dashboard(application, people) as bob:
        await bob.expect("summary")
        await bob.send({"type": "crash"})
        assert (await bob.expect("error"))["code"] == "nobody_ready"
    assert await ClassRun.objects.acount() == 0

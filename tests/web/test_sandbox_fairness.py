"""One visitor cannot take every sandbox (issue 9, finding 3 and the socket part of 7).

A guest is one cookie jar, so a single person can be thirty guests. These tests play
that person through the real websocket path (many guest sessions from one client
address) and check what stops them: guest sandboxes counted per address (held at
once, and new ones per window), shapes only an account may start, a queue that is
fair between visitors, guests stopped sooner and first under pressure, repeated
``start``s that are not activity, and sockets and messages counted per visitor.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from memorydb_lab.addresses import client_address
from sandbox.manager import PRIVATE_FIELDS, SandboxManager
from sandbox.owners import SESSION_KEY, Owner
from sandbox.testing import Browser, engine_pids_under, running_manager, test_limits

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("database_thread")]
SMALL = {"shards": 1, "replicas": 0}
ATTACKER = "203.0.113.7"


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _guest_session() -> tuple[Owner, str]:
    token = secrets.token_urlsafe(24)
    session = SessionStore()
    session[SESSION_KEY] = token
    session.create()
    return Owner(token=token), session.session_key  # type: ignore[return-value]


guest_session = sync_to_async(_guest_session)


@pytest.fixture
def alice(transactional_db: None) -> tuple[Owner, str]:
    user = User.objects.create_user("alice", "alice@example.org", "pw")
    client = Client()
    client.force_login(user)
    return Owner(user_id=user.pk), client.session.session_key  # type: ignore[return-value]


async def until(predicate: Any, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def start_as(application: Any, session: str, address: str, **shape: int) -> dict[str, Any]:
    """One fresh page asks for a sandbox; the first state or error it gets back."""
    async with Browser(application, session, address=address) as page:
        await page.send({"type": "hello"})
        await page.expect("welcome")
        await page.send({"type": "start", **(shape or SMALL)})
        return await page.expect_any(("state", "error"))


async def test_guests_from_one_address_hold_at_most_the_cap_and_an_account_is_not_held_up(
    tmp_path: Path, application: Any, alice: tuple[Owner, str]
) -> None:
    limits = test_limits(tmp_path / "sb", max_running=1, guest_sandboxes_per_address=2)
    async with running_manager(limits) as manager:
        replies = []
        for _ in range(4):
            _, session = await guest_session()
            replies.append(await start_as(application, session, ATTACKER))
        assert [r["type"] for r in replies] == ["state", "state", "error", "error"]
        assert replies[2]["code"] == "guest_limit" and "Sign in" in replies[2]["message"]
        guests = [live for live in manager.live.values() if live.is_guest]
        assert len(guests) == 2, "refused starts leave nothing behind"

        # Another address is another visitor; an account is not counted by address.
        _, elsewhere = await guest_session()
        assert (await start_as(application, elsewhere, "198.51.100.20"))["type"] == "state"
        state = await start_as(application, alice[1], ATTACKER)
        assert state["type"] == "state" and state["sandbox"]["state"] in ("queued", "starting", "running")
        # One slot, taken by the attacker's first guest: the attacker's second guest,
        # though it queued first, starts after the two visitors who have none yet.
        attacker_second = next(key for key in manager.queue if key.startswith("g:"))
        assert manager.live[attacker_second].address == ATTACKER
        assert manager.queue_order()[-1] == attacker_second
        assert manager.queue_position(alice[0]) == 2


async def test_new_guest_sandboxes_per_address_are_limited_per_window(
    tmp_path: Path, application: Any
) -> None:
    clock = FakeClock()
    limits = test_limits(
        tmp_path / "sb", max_running=1, max_starting=1, guest_starts_per_address=3,
        guest_start_window_seconds=600, guest_sandboxes_per_address=0,
    )
    async with running_manager(limits, clock=clock) as manager:
        owners = [(await guest_session())[0] for _ in range(5)]
        for owner in owners[:3]:
            await manager.start(owner, SMALL, ATTACKER)
            await manager.stop(owner)  # stopping does not give the start back
        with pytest.raises(Exception) as refused:
            await manager.start(owners[3], SMALL, ATTACKER)
        assert getattr(refused.value, "code", None) == "guest_rate_limited"
        assert 1 <= refused.value.detail["retry_after_s"] <= 600
        assert owners[3].key not in manager.live
        clock.now += 601
        await manager.start(owners[3], SMALL, ATTACKER)
        assert owners[3].key in manager.live
        await manager.stop(owners[3])


async def test_the_queue_is_fair_between_visitors(tmp_path: Path, alice: tuple[Owner, str]) -> None:
    # Two slots, one start at a time: the attacker's first guest takes the start.
    limits = test_limits(tmp_path / "sb", max_running=2, max_starting=1, guest_sandboxes_per_address=0)
    async with running_manager(limits) as manager:
        flood = [(await guest_session())[0] for _ in range(4)]
        for owner in flood:
            await manager.start(owner, SMALL, ATTACKER)
        await manager.start(alice[0], SMALL, "192.0.2.1")
        # The attacker has one sandbox starting; alice has none: she starts next,
        # though three of the attacker's guests queued before her.
        assert manager.queue_position(alice[0]) == 1
        assert [manager.queue_position(o) for o in flood[1:]] == [2, 3, 4]
        await until(lambda: manager.live[alice[0].key].state in ("starting", "running"))
        assert manager.live[flood[0].key].state == "running"
        assert all(manager.live[o.key].state == "queued" for o in flood[1:])
        # With one each running, the tie goes to who waited longest.
        await manager.stop(alice[0])
        await until(lambda: manager.live[flood[1].key].state in ("starting", "running"))


async def test_a_guest_needs_an_account_for_the_biggest_shapes(
    tmp_path: Path, application: Any, alice: tuple[Owner, str]
) -> None:
    limits = test_limits(tmp_path / "sb", guest_max_shards=1, guest_max_replicas=1)
    async with running_manager(limits) as manager:
        _, session = await guest_session()
        async with Browser(application, session) as page:
            await page.send({"type": "hello"})
            welcome = await page.expect("welcome")
            assert (welcome["limits"]["max_shards"], welcome["limits"]["max_replicas"]) == (1, 1)
            await page.send({"type": "start", "shards": 2, "replicas": 0})
            refused = await page.expect("error")
            assert refused["code"] == "account_needed" and refused["field"] == "shards"
            await page.send({"type": "start", "shards": 1, "replicas": 2})
            assert (await page.expect("error"))["code"] == "account_needed"
        assert not manager.live, "nothing was queued"
        async with Browser(application, alice[1]) as page:
            await page.send({"type": "hello"})
            assert (await page.expect("welcome"))["limits"]["max_shards"] == limits.max_shards
        assert (await manager.start(alice[0], {"shards": 2, "replicas": 0}))["state"] in ("queued", "starting")
        await manager.stop(alice[0])


async def test_repeated_starts_are_not_activity_and_guests_are_stopped_sooner(
    tmp_path: Path, application: Any, alice: tuple[Owner, str]
) -> None:
    clock = FakeClock()
    limits = test_limits(tmp_path / "sb", idle_seconds=100, guest_idle_seconds=40, guest_sandboxes_per_address=0)
    async with running_manager(limits, clock=clock) as manager:
        guest, _ = await guest_session()
        await manager.start(guest, SMALL, ATTACKER)
        await manager.start(alice[0], SMALL, ATTACKER)
        await until(lambda: all(live.state == "running" for live in manager.live.values()))
        for _ in range(3):
            clock.now += 15
            await manager.start(guest, SMALL, ATTACKER)  # the page asking again is not activity
            await manager.start(alice[0], SMALL, ATTACKER)
        guest_uuid = manager.live[guest.key].uuid
        assert await manager.cull_idle() == [guest_uuid], "45 s: the guest's 40 s are up"
        assert alice[0].key in manager.live, "45 s of an account's 100 s"
        clock.now += 60
        assert len(await manager.cull_idle()) == 1 and not manager.live
        assert engine_pids_under(limits.root_dir) == []


async def test_with_learners_waiting_an_unwatched_guest_sandbox_makes_room(
    tmp_path: Path, application: Any, alice: tuple[Owner, str]
) -> None:
    clock = FakeClock()
    limits = test_limits(tmp_path / "sb", max_running=1, pressure_idle_seconds=60, guest_sandboxes_per_address=0)
    async with running_manager(limits, clock=clock) as manager:
        guest, _ = await guest_session()
        await manager.start(guest, SMALL, ATTACKER)  # no page shows it
        await until(lambda: manager.live[guest.key].state == "running")
        await manager.start(alice[0], SMALL, "192.0.2.1")
        clock.now += 30
        assert await manager.cull_idle() == [], "not unwatched for long enough"
        clock.now += 31
        guest_uuid = manager.live[guest.key].uuid
        assert await manager.cull_idle() == [guest_uuid]
        await until(lambda: manager.live[alice[0].key].state in ("starting", "running"))
        clock.now += 120
        assert await manager.cull_idle() == [], "an account is only stopped by its own idle time"


async def test_a_visitor_has_a_socket_cap_and_one_message_budget_across_pages(
    tmp_path: Path, application: Any, alice: tuple[Owner, str]
) -> None:
    limits = test_limits(tmp_path / "sb", sockets_per_owner=3, messages_per_second=0.01, message_burst=6)
    async with running_manager(limits) as manager:
        pages = [Browser(application, alice[1]) for _ in range(3)]
        for page in pages:
            await page.__aenter__()
        try:
            extra = Browser(application, alice[1])
            await extra.__aenter__()
            refused = await extra.receive()
            assert refused["type"] == "error" and refused["code"] == "too_many_sockets"
            closed = await extra.communicator.receive_output(timeout=5)
            assert closed == {"type": "websocket.close", "code": 4429}
            await extra.communicator.wait()

            # Six messages in all, whichever page sends them.
            answers = []
            for i in range(9):
                await pages[i % 3].send({"type": "ping"})
                answers.append((await pages[i % 3].expect_any(("pong", "error")))["type"])
            assert answers.count("pong") == 6 and answers[6:] == ["error"] * 3
        finally:
            await pages[0].__aexit__()
        # A closed page frees its place.
        again = Browser(application, alice[1])
        await again.__aenter__()
        await again.send({"type": "hello"})
        assert (await again.expect_any(("welcome", "error")))["type"] in ("welcome", "error")
        assert manager.sockets[alice[0].key] == 3
        for page in (again, *pages[1:]):
            await page.__aexit__()
        assert alice[0].key not in manager.sockets


async def test_a_stop_during_a_queued_or_starting_start_leaves_no_directory(
    tmp_path: Path, alice: tuple[Owner, str]
) -> None:
    limits = test_limits(tmp_path / "sb", max_running=2, max_starting=1, guest_sandboxes_per_address=0)
    async with running_manager(limits) as manager:
        owner = alice[0]
        guest, _ = await guest_session()
        await manager.start(guest, SMALL, ATTACKER)  # takes the one starting place
        await manager.start(owner, SMALL)
        uuid = manager.live[owner.key].uuid
        assert manager.live[owner.key].state == "queued"
        await manager.stop(owner)  # while queued
        await until(lambda: manager.live[guest.key].state == "running")
        assert not (limits.root_dir / uuid).exists()

        for delay in (0.0, 0.3, 1.0):  # while starting, at several points of the start
            await manager.start(owner, SMALL)
            await until(lambda: manager.live[owner.key].state == "starting")
            await asyncio.sleep(delay)
            await manager.stop(owner)
            await until(lambda: uuid not in manager._in_flight, timeout=60)
            assert not (limits.root_dir / uuid).exists(), f"stopped {delay} s into the start"
            assert engine_pids_under(limits.root_dir / uuid) == []

        # Stop then start at once: the new start waits for the old one's clean-up,
        # which must not delete the new sandbox's directory.
        await manager.start(owner, SMALL)
        await until(lambda: manager.live[owner.key].state == "starting")
        await manager.stop(owner)
        await manager.start(owner, SMALL)
        await until(lambda: manager.live[owner.key].state == "running", timeout=60)
        assert (limits.root_dir / uuid).is_dir()
        reply, _ = await manager.live[owner.key].clients.console["durable"].console([b"SET", b"k", b"v"])
        assert reply == "OK"


async def test_no_port_pid_or_path_reaches_the_browser(
    tmp_path: Path, application: Any, alice: tuple[Owner, str]
) -> None:
    limits = test_limits(tmp_path / "sb")
    async with running_manager(limits) as manager:
        async with Browser(application, alice[1]) as page:
            state = await page.start_sandbox(shards=1, replicas=1)
            assert state["sandbox"]["state"] == "running"
            await page.send({"type": "fault", "action": "kill_primary", "target": "both"})
            await page.expect("verdict", timeout=60)
            await page.send({"type": "hello"})
            await page.expect("welcome")
            stop_at = time.monotonic() + 1.5  # statistics keep coming: read for a while
            while time.monotonic() < stop_at:
                with contextlib.suppress(asyncio.TimeoutError):
                    await page.receive(timeout=0.3)
            seen = page.seen
        topology = manager.live[alice[0].key].topologies()
        assert any(p.port for t in topology.values() for p in t.processes), "the server knows them"

    def private_keys(value: Any, path: str = "") -> list[str]:
        found = []
        if isinstance(value, dict):
            for key, item in value.items():
                if key in PRIVATE_FIELDS:
                    found.append(f"{path}.{key}")
                found += private_keys(item, f"{path}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                found += private_keys(item, f"{path}[{i}]")
        return found

    kinds = {m.get("type") for m in seen}
    assert {"state", "event", "welcome"} <= kinds
    assert any(m.get("type") == "state" and m["sandbox"].get("topology") for m in seen)
    leaks = [f"{m.get('type')}{p}" for m in seen for p in private_keys(m)]
    assert leaks == []


def test_the_client_address_trusts_forwarded_for_only_from_trusted_proxies(settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    assert client_address("127.0.0.1", "203.0.113.7") == "203.0.113.7"
    # A visitor's own X-Forwarded-For, appended to by the proxy: the proxy's hop wins.
    assert client_address("127.0.0.1", "1.2.3.4, 203.0.113.7") == "203.0.113.7"
    assert client_address("198.51.100.1", "203.0.113.7") == "198.51.100.1", "not from a trusted proxy"
    assert client_address("127.0.0.1", "not-an-address") == "127.0.0.1"
    settings.TRUSTED_PROXIES = []
    assert client_address("127.0.0.1", "203.0.113.7") == "127.0.0.1"
    assert client_address(None, None) == "unknown"

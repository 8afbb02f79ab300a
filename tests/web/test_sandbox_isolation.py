"""Charlie can reach nothing of alice's sandbox, whatever he sends: every message
type, with or without a sandbox of his own, naming her nodes or not. And a learner's
lab steps are checked against their own sandbox's real state, and a pass is kept."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from sandbox.manager import SandboxManager
from sandbox.models import LabPass
from sandbox.testing import Browser
from tests.web.course import load_course

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("database_thread")]
SMALL = {"shards": 1, "replicas": 0}
LESSON = "primary-database-or-cache"  # its lab: SET lab:first-write durable


def every_message(alice_node: str) -> list[dict[str, Any]]:
    """One of each message type, aimed as well as charlie can at alice's sandbox."""
    return [
        {"type": "command", "cluster": "durable", "line": "GET secret", "id": 1},
        {"type": "command", "cluster": "cache", "line": "FLUSHALL", "id": 2},
        {"type": "docs"},
        {"type": "load_start", "rate": 10},
        {"type": "load_stop"},
        {"type": "fault", "action": "kill_primary"},
        {"type": "fault", "action": "kill_primary", "node": alice_node},
        {"type": "fault", "action": "kill_zone", "zone": "az-a"},
        {"type": "fault", "action": "pause", "node": alice_node, "seconds": 5},
        {"type": "verdict"},
        {"type": "check", "lesson": LESSON},
    ]


# Events that follow from what a learner asks for (a fault, the load, a stop, a check...).
CAUSED_BY_MESSAGES = frozenset({
    "fault", "kill", "zone_killed", "node_paused", "node_resumed", "node_restarted", "load_started",
    "load_stopped", "sandbox_starting", "sandbox_ready", "sandbox_stopped", "idle_stop", "verdict",
    "verdict_failed",
})


async def test_charlie_reaches_nothing_of_alices_sandbox_by_any_message(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    await database_sync_to_async(load_course)()
    async with Browser(application, sessions["alice"]) as alice:
        state = await alice.start_sandbox(**SMALL)
        alice_node = next(
            p["id"] for p in state["sandbox"]["topology"]["durable"]["processes"] if p["kind"] == "data"
        )
        assert (await alice.command("SET secret alices")).get("text") == "OK\n"
        live = next(iter(manager.live.values()))
        seq_before = live.log.last_seq

        async with Browser(application, sessions["charlie"]) as charlie:
            await charlie.send({"type": "hello"})
            welcome = await charlie.expect("welcome")
            assert welcome["sandbox"] is None and "topology" not in str(welcome)
            for message in every_message(alice_node):
                await charlie.send(message)
                reply = await charlie.receive()
                assert reply["type"] == "error" and reply["code"] == "no_sandbox", (message, reply)
            # With a sandbox of his own, he reaches only his own.
            await charlie.send({"type": "start", **SMALL})
            await charlie.expect("state", timeout=40, where=lambda m: m["sandbox"]["state"] == "running")
            assert (await charlie.command("GET secret"))["text"] == "(nil)\n"
            for message in every_message(alice_node):
                if message.get("node"):
                    await charlie.send(message)
                    assert (await charlie.expect("error"))["code"] == "no_such_node"

        # Nothing of alice's changed: her data, her processes, her event log.
        assert (await alice.command("GET secret", id=9))["text"] == '"alices"\n'
        assert all(
            p.status == "running" for t in live.topologies().values() for p in t.processes
        )
        # No event that a message can cause. (The engine's own lease and election
        # events may appear on a loaded host; they are not charlie's doing.)
        caused = [r for r in live.log.records if r["seq"] > seq_before and r.get("event") in CAUSED_BY_MESSAGES]
        assert caused == []


async def test_lab_steps_are_checked_against_the_learners_own_sandbox(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    await database_sync_to_async(load_course)()
    async with Browser(application, sessions["alice"]) as alice:
        await alice.start_sandbox(**SMALL)
        await alice.send({"type": "check", "lesson": LESSON})
        checks = await alice.expect("checks")
        assert checks["results"] == [
            {"id": "first-durable-write", "passed": False, "detail": "There is no key lab:first-write."}
        ]
        await alice.command("SET lab:first-write cached")
        await alice.send({"type": "check", "lesson": LESSON})
        detail = (await alice.expect("checks"))["results"][0]["detail"]
        assert detail == "lab:first-write holds 'cached', not 'durable'."
        await alice.command("SET lab:first-write durable", cluster="cache")
        await alice.send({"type": "check", "lesson": LESSON})
        assert (await alice.expect("checks"))["results"][0]["passed"] is False, "checked in durable"
        assert not await LabPass.objects.filter(lesson_slug=LESSON).aexists(), "no pass is kept before one"
        await alice.command("SET lab:first-write durable")
        await alice.send({"type": "check", "lesson": LESSON})
        assert (await alice.expect("checks"))["results"][0]["passed"] is True
        # The pass is kept (once), so it outlives the sandbox.
        await alice.send({"type": "check", "lesson": LESSON})
        await alice.expect("checks")
        passes = [p async for p in LabPass.objects.filter(lesson_slug=LESSON).values("owner_user__username", "lab_id")]
        assert passes == [{"owner_user__username": "alice", "lab_id": "first-durable-write"}]

        await alice.send({"type": "check", "lesson": "no-such-lesson"})
        assert (await alice.expect("error"))["code"] == "unknown_lesson"


async def test_the_stream_group_lab_passes_once_the_learner_creates_the_group(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    """06-use-cases/02-sessions-limits-and-streams asks for the consumer group
    ``fulfilment`` on the stream ``orders``; every miss says what is there instead."""
    await database_sync_to_async(load_course)()

    async def orders_lab() -> dict[str, Any]:
        await alice.send({"type": "check", "lesson": "sessions-limits-and-streams"})
        results = (await alice.expect("checks"))["results"]
        return next(r for r in results if r["id"] == "orders-stream-group")

    async with Browser(application, sessions["alice"]) as alice:
        await alice.start_sandbox(**SMALL)
        assert await orders_lab() == {"id": "orders-stream-group", "passed": False,
                                      "detail": "There is no stream orders."}
        await alice.command("SET orders pending")
        assert (await orders_lab())["detail"] == "orders holds a string, not a stream."
        await alice.command("DEL orders")
        await alice.command("XADD orders * sku book")
        assert (await orders_lab())["detail"] == "The stream orders has no group 'fulfilment'."
        await alice.command("XGROUP CREATE orders shipping $")
        assert (await orders_lab())["passed"] is False
        await alice.command("DEL orders")
        await alice.command("XGROUP CREATE orders fulfilment $ MKSTREAM", cluster="cache")
        assert (await orders_lab())["passed"] is False, "checked in durable"
        reply = await alice.command("XGROUP CREATE orders fulfilment $ MKSTREAM")
        assert reply["text"] == "OK\n"
        assert await orders_lab() == {"id": "orders-stream-group", "passed": True,
                                      "detail": "orders has the group 'fulfilment'."}

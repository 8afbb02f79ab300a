"""The costliest commands a learner's console can send leave other learners alone.

Alice fills her cache cluster with long keys (3 KB names, a 100 000-element list) and then
sends the worst patterns a console line (4096 characters at most) can hold (KEYS and
SCAN MATCH with 3.9 KB of one-byte classes, ``a*a*...*b``) and O(N) commands with counts at their
limits (SORT ... LIMIT, LPOS ... MAXLEN 0, LREM of a missing value), while charlie,
on a sandbox of his own, keeps sending PING. Every reply of alice's comes back
(none stalls her node past the console's timeout), charlie's PINGs stay fast, and
the site's event loop never stalls (``longest_stall`` of the console-replies test).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from sandbox.manager import SandboxManager
from sandbox.testing import Browser, running_manager, test_limits
from tests.web.test_sandbox_console_replies import longest_stall

LONG = "a" * 3_000
CLASSES = "*" + "[a]" * 1300 + "b*"  # "SCAN 0 MATCH ... COUNT 1000" stays under 4096
WORST = [
    ("KEYS " + CLASSES, "(empty array)\n"),
    ("KEYS " + "a*" * 40 + "b", "(empty array)\n"),
    ("SCAN 0 MATCH " + CLASSES + " COUNT 1000", None),
    ("SORT l LIMIT 9223372036854775807 1", "(empty array)\n"),
    ("SORT l ALPHA LIMIT 9223372036854775806 9223372036854775807", "(empty array)\n"),
    ("LPOS l missing MAXLEN 0 COUNT 0", "(empty array)\n"),
    ("LREM l 0 missing", "(integer) 0\n"),
    ("LRANGE l 9223372036854775807 -9223372036854775808", "(empty array)\n"),
]


@pytest_asyncio.fixture
async def manager(tmp_path: Path) -> AsyncIterator[SandboxManager]:
    limits = test_limits(tmp_path / "sb", commands_per_second=1000.0, command_burst=1000,
                         messages_per_second=1000.0, message_burst=1000, console_timeout_seconds=30)
    async with running_manager(limits) as running:
        yield running


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("database_thread")
async def test_the_worst_console_commands_never_slow_another_learners_ping(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    async with Browser(application, sessions["alice"]) as alice, Browser(application, sessions["charlie"]) as other:
        for browser in (alice, other):
            state = await browser.start_sandbox(replicas=0)
            assert state["sandbox"]["state"] == "running", state["sandbox"]["error"]
        ids = iter(range(1, 1_000_000))
        for i in range(50):
            reply = await alice.command(f"SET {LONG}{i} v", cluster="cache", id=next(ids))
            assert reply["text"] == "OK\n", reply
        for _ in range(100):  # a 100 000-element list, 1000 a line
            reply = await alice.command("RPUSH l" + " 7" * 1000, cluster="cache", id=next(ids))
            assert reply["type"] == "reply" and not reply["error"], reply

        stop = asyncio.Event()
        ticker = asyncio.ensure_future(longest_stall(stop))
        pings: list[float] = []

        async def the_other_learner() -> None:
            for i in range(40):
                began = time.perf_counter()
                reply = await other.command("PING", cluster="cache", id=10_000 + i)
                pings.append(time.perf_counter() - began)
                assert reply["text"] == "PONG\n"
                await asyncio.sleep(0.05)

        async def the_worst_commands() -> None:
            for line, expected in WORST * 2:
                reply = await alice.command(line, cluster="cache", id=next(ids))
                assert reply["type"] == "reply" and not reply["error"], (line[:60], reply)
                assert "No reply within" not in reply["text"], line[:60]
                if expected is not None:
                    assert reply["text"] == expected, (line[:60], reply["text"][:200])

        await asyncio.gather(the_worst_commands(), the_other_learner())
        stop.set()
        stall, _ = await ticker
        assert stall < 0.2, f"the event loop stalled {stall * 1000:.0f} ms of CPU"
        assert max(pings) < 1.0, pings

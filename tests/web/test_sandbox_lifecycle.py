"""A sandbox's life apart from any websocket, on real clusters: the start queue and
its caps (with the learner's visible position), the idle culler (time injected;
keepalives do not count), a restarted site that finds what the last one left, and
the durable cluster's data surviving that restart while the cache cluster's does not.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from sandbox.manager import SandboxManager
from sandbox.models import Sandbox
from sandbox.owners import Owner
from sandbox.testing import (
    PROJECT_ROOT,
    Browser,
    engine_pids_under,
    running_manager,
    test_limits,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("database_thread")]
SMALL = {"shards": 1, "replicas": 0}


class FakeClock:
    """Wall-clock seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def learners(transactional_db: None) -> dict[str, tuple[Owner, str]]:
    """alice, bob and charlie: (owner, session key)."""
    out = {}
    for name in ("alice", "bob", "charlie"):
        user = User.objects.create_user(name, f"{name}@example.org", "pw")
        client = Client()
        client.force_login(user)
        out[name] = (Owner(user_id=user.pk), client.session.session_key)
    return out


async def until(predicate: Any, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def state_of(manager: SandboxManager, owner: Owner) -> str | None:
    live = manager.live.get(owner.key)
    return live.state if live else None


async def test_starts_beyond_the_cap_wait_in_a_visible_queue(
    tmp_path: Path, application: Any, learners: dict[str, tuple[Owner, str]]
) -> None:
    limits = test_limits(tmp_path / "sb", max_running=1, max_starting=1)
    alice, bob, charlie = (learners[n][0] for n in ("alice", "bob", "charlie"))
    async with running_manager(limits) as manager:
        await manager.start(alice, SMALL)
        async with Browser(application, learners["bob"][1]) as bob_page:
            await bob_page.send({"type": "hello"})
            await bob_page.expect("welcome")
            await bob_page.send({"type": "start", **SMALL})
            queued = await bob_page.expect("state")
            assert queued["sandbox"]["state"] == "queued"
            assert queued["sandbox"]["queue_position"] == 1
            await manager.start(charlie, SMALL)
            assert manager.queue_position(charlie) == 2

            await until(lambda: state_of(manager, alice) == "running")
            assert state_of(manager, bob) == "queued", "one sandbox may run at a time"
            await manager.stop(alice)
            # Alice's slot goes to the first in the queue; charlie moves up.
            running = await bob_page.expect("state", timeout=40, where=lambda m: m["sandbox"]["state"] == "running")
            assert running["sandbox"]["queue_position"] is None
            assert manager.queue_position(charlie) == 1
        row = await Sandbox.objects.aget(owner_user_id=alice.user_id)
        assert (row.state, row.desired_state) == ("stopped", "stopped")
        assert not (limits.root_dir / row.uuid.hex).exists(), "stopping removes the data"


async def test_the_culler_stops_idle_sandboxes_and_keepalives_do_not_count(
    tmp_path: Path, application: Any, learners: dict[str, tuple[Owner, str]]
) -> None:
    clock = FakeClock()
    limits = test_limits(tmp_path / "sb", idle_seconds=60)
    alice, session = learners["alice"]
    async with running_manager(limits, clock=clock) as manager:
        async with Browser(application, session) as page:
            await page.start_sandbox(**SMALL)
            uuid = manager.live[alice.key].uuid
            clock.now += 50
            assert (await page.command("SET k v"))["text"] == "OK\n"  # activity
            clock.now += 50
            assert await manager.cull_idle() == [], "50 s idle is under the limit"
            await page.send({"type": "ping"})  # a keepalive, not activity
            await page.expect("pong")
            clock.now += 15
            assert await manager.cull_idle() == [uuid]
            stopped = await page.expect("state", where=lambda m: m["sandbox"]["state"] == "stopped")
            assert "idle" in stopped["sandbox"]["error"]
        row = await Sandbox.objects.aget(uuid=uuid)
        assert (row.state, row.desired_state) == ("stopped", "stopped")
        assert row.credentials == {} and row.endpoints == {}
        assert not (limits.root_dir / uuid).exists()
        assert engine_pids_under(limits.root_dir) == []


async def test_a_restarted_site_stops_leftover_processes_and_starts_the_sandbox_again(
    tmp_path: Path, learners: dict[str, tuple[Owner, str]]
) -> None:
    limits = test_limits(tmp_path / "sb")
    alice = learners["alice"][0]
    row = await Sandbox.objects.acreate(
        owner_user_id=alice.user_id, state="running", desired_state="running", shards=1,
        replicas=0, last_activity=await _now(),
    )
    # A process the previous site run left behind, in this sandbox's directory.
    leftover = subprocess.Popen(
        [sys.executable, "-m", "sandbox.engine", "node", "--mode", "cache", "--shard", "0",
         "--zone", "az-a", "--port", "0", "--dir", str(limits.root_dir / row.uuid.hex / "cache" / "nodes" / "old")],
        cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL,
    )
    try:
        await until(lambda: engine_pids_under(limits.root_dir) == [leftover.pid], timeout=10)
        async with running_manager(limits) as manager:
            # running_manager ran startup(): the leftover is gone, the sandbox re-queued.
            await asyncio.to_thread(leftover.wait, 10)
            assert leftover.returncode is not None
            await until(lambda: state_of(manager, alice) == "running")
            assert leftover.pid not in engine_pids_under(limits.root_dir)
    finally:
        if leftover.poll() is None:
            leftover.kill()
            leftover.wait()


async def test_after_a_site_restart_the_durable_cluster_still_has_the_data(
    tmp_path: Path, application: Any, learners: dict[str, tuple[Owner, str]]
) -> None:
    limits = test_limits(tmp_path / "sb")
    alice, session = learners["alice"]
    async with running_manager(limits):
        async with Browser(application, session) as page:
            await page.start_sandbox(**SMALL)
            for cluster in ("durable", "cache"):
                assert (await page.command("SET kept yes", cluster=cluster))["text"] == "OK\n"
    # The site stopped: no process left, the row still wants to run.
    row = await Sandbox.objects.aget(owner_user_id=alice.user_id)
    assert (row.state, row.desired_state) == ("stopped", "running")
    async with running_manager(limits) as manager:
        await until(lambda: state_of(manager, alice) == "running")
        async with Browser(application, session) as page:
            await page.send({"type": "hello"})
            await page.expect("welcome")
            assert (await page.command("GET kept", cluster="durable"))["text"] == '"yes"\n'
            assert (await page.command("GET kept", cluster="cache"))["text"] == "(nil)\n"


async def _now() -> Any:
    from django.utils import timezone

    return timezone.now()


async def test_the_configured_lease_reaches_the_durable_nodes(
    tmp_path: Path, application: Any, learners: dict[str, tuple[Owner, str]]
) -> None:
    limits = test_limits(tmp_path / "sb", lease_ms=2500)
    alice, session = learners["alice"]
    async with running_manager(limits) as manager:
        async with Browser(application, session) as page:
            await page.start_sandbox(**SMALL)
            durable = manager.live[alice.key].topologies()["durable"].processes
            nodes = [p for p in durable if p.kind == "data"]
            assert nodes
            for node in nodes:
                words = Path(f"/proc/{node.pid}/cmdline").read_bytes().split(b"\0")
                assert words[words.index(b"--lease-ms") + 1] == b"2500"

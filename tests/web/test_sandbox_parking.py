"""Parked sandboxes, on real clusters: a sandbox no page has shown for the parking
time gives back its processes and ports and keeps its data; its learner's return
resumes it through the queue with every key (durable from the journal, the cache
lane from the snapshot taken at parking, the async lane when on) and the event log
going on; the culler still removes a parked sandbox after the idle time; nobody
else's page or message resumes it; a restarted site leaves it parked; Prepare class
resumes it.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import time
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from sandbox.manager import SandboxManager
from sandbox.models import Sandbox
from sandbox.owners import Owner
from sandbox.service.parking import CacheFileError, decode_cache, encode_cache
from sandbox.testing import Browser, engine_pids_under, running_manager, test_limits

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("database_thread")]
SHAPE = {"shards": 1, "replicas": 1}
PARK_AFTER_S = 60
RESUME_BOUND_S = 30  # generous: a loaded 2-core machine; the bench reports the real p50


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def learners(transactional_db: None) -> dict[str, tuple[Owner, str]]:
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


def ports_of(manager: SandboxManager, owner: Owner) -> list[int]:
    live = manager.live[owner.key]
    return [p.port for t in live.topologies().values() for p in t if p.port]


def refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


async def park(manager: SandboxManager, clock: FakeClock, owner: Owner) -> None:
    # A start's last steps (saving the row) run after its state says running.
    await until(lambda: manager.live[owner.key].uuid not in manager._in_flight)
    clock.now += PARK_AFTER_S + 1
    await manager.cull_idle()
    live = manager.live[owner.key]
    assert state_of(manager, owner) == "parked", (live.unwatched_since, clock.now, live.lab.load, manager._in_flight)


def test_the_cache_file_refuses_a_torn_tail() -> None:
    data = encode_cache([(b"k", 0, b"dump-bytes"), (b"t", 5000, b"x")], {0: b"lib"})
    assert decode_cache(data) == ([(b"k", 0, b"dump-bytes"), (b"t", 5000, b"x")], {0: b"lib"})
    with pytest.raises(CacheFileError):
        decode_cache(data[:-1])
    with pytest.raises(CacheFileError):
        decode_cache(data[:-3] + b"zzz")


async def test_a_parked_sandbox_holds_no_process_nor_port_and_resumes_with_every_key_and_its_events(
    tmp_path: Path, application: Any, learners: dict[str, tuple[Owner, str]]
) -> None:
    clock = FakeClock()
    limits = test_limits(
        tmp_path / "sb", park_after_seconds=PARK_AFTER_S, async_lane_default=True,
        commands_per_second=1000.0, command_burst=1000, messages_per_second=1000.0, message_burst=1000,
    )
    alice, session = learners["alice"]
    async with running_manager(limits, clock=clock) as manager:
        async with Browser(application, session) as page:
            await page.start_sandbox(**SHAPE)
            for number, cluster in enumerate(("durable", "async", "cache")):
                for i in range(50):
                    reply = await page.command(f"SET {cluster}:{i} v{i}", cluster=cluster, id=1000 * number + i)
                    assert reply["text"] == "OK\n"
            await page.command("SET cache:ttl kept EX 3600", cluster="cache", id=9999)
            uuid = manager.live[alice.key].uuid
            pids = engine_pids_under(limits.root_dir)
            ports = ports_of(manager, alice)
            assert pids and ports
        # The page closed: after the parking time the culler parks it.
        await park(manager, clock, alice)
        assert engine_pids_under(limits.root_dir) == []
        assert all(refused(port) for port in ports), "a parked sandbox listens on no port"
        row = await Sandbox.objects.aget(uuid=uuid)
        assert (row.state, row.desired_state) == ("parked", "running")
        assert manager.lifecycle._active() == 0, "a parked sandbox holds no slot"
        parked_seq = manager.live[alice.key].log.last_seq

        async with Browser(application, session) as page:
            await page.send({"type": "hello", "last_seq": 0, "log": manager.live[alice.key].log.log_id})
            await page.expect("welcome")
            await page.expect("state", timeout=RESUME_BOUND_S, where=lambda m: m["sandbox"]["state"] == "running")
            events = {m["event"]: m for m in page.seen if m.get("type") == "event"}
            resumed = events["sandbox_resumed"]  # recorded before the state says running
            assert resumed["seq"] > parked_seq, "the event log goes on"
            assert resumed["cache_keys"] == 51 and "snapshot" in resumed["reason"]
            assert events["sandbox_parked"]["seq"] <= parked_seq, "replayed from the log"
            for number, cluster in enumerate(("durable", "async", "cache")):
                for i in range(50):
                    reply = await page.command(f"GET {cluster}:{i}", cluster=cluster, id=1000 * number + i)
                    assert reply["text"] == f'"v{i}"\n', (cluster, i, reply)
            ttl = await page.command("TTL cache:ttl", cluster="cache", id=9999)
            assert 3000 < int(ttl["text"].split()[-1]) <= 3600
        assert set(engine_pids_under(limits.root_dir)).isdisjoint(pids)


async def test_resumes_through_the_queue_and_a_message_resumes_it_five_times(
    tmp_path: Path, application: Any, learners: dict[str, tuple[Owner, str]]
) -> None:
    """A parked sandbox does not count against the running cap, so bob can start
    while alice's is parked; then alice's resume waits in the queue for bob's slot.
    The resume time is measured over five resumes (printed; asserted only generously)."""
    clock = FakeClock()
    limits = test_limits(tmp_path / "sb", park_after_seconds=PARK_AFTER_S, max_running=1, max_starting=1)
    (alice, alice_session), (bob, _) = learners["alice"], learners["bob"]
    async with running_manager(limits, clock=clock) as manager:
        await manager.start(alice, SHAPE)
        await until(lambda: state_of(manager, alice) == "running")
        await park(manager, clock, alice)
        await manager.start(bob, SHAPE)
        await until(lambda: state_of(manager, bob) == "running")
        async with Browser(application, alice_session) as page:
            await page.send({"type": "hello"})
            welcome = await page.expect("welcome")
            assert welcome["sandbox"]["state"] == "queued", "the resume waits for bob's slot"
            await manager.stop(bob)
            await page.expect("state", timeout=RESUME_BOUND_S, where=lambda m: m["sandbox"]["state"] == "running")
        times = []
        for round_ in range(5):
            await park(manager, clock, alice)
            began = time.perf_counter()
            with pytest.raises(Exception) as refused_now:  # any message asks for it
                await manager.console.run(alice, "durable", "PING")
            assert getattr(refused_now.value, "code", None) == "not_ready"
            await until(lambda: state_of(manager, alice) == "running", timeout=RESUME_BOUND_S)
            times.append(time.perf_counter() - began)
            reply = await manager.console.run(alice, "durable", f"SET round {round_}")
            assert reply["text"] == "OK\n"
        print(f"resume p50 over 5: {statistics.median(times):.2f} s ({', '.join(f'{t:.2f}' for t in times)})")


async def test_the_culler_deletes_a_parked_sandbox_after_the_idle_time(
    tmp_path: Path, learners: dict[str, tuple[Owner, str]]
) -> None:
    clock = FakeClock()
    limits = test_limits(tmp_path / "sb", park_after_seconds=PARK_AFTER_S, idle_seconds=600)
    alice = learners["alice"][0]
    async with running_manager(limits, clock=clock) as manager:
        await manager.start(alice, SHAPE)
        await until(lambda: state_of(manager, alice) == "running")
        uuid = manager.live[alice.key].uuid
        await park(manager, clock, alice)
        assert (limits.root_dir / uuid / "durable").exists(), "parking keeps the data"
        clock.now += 600
        assert await manager.cull_idle() == [uuid]
        assert alice.key not in manager.live
        assert not (limits.root_dir / uuid).exists()
        row = await Sandbox.objects.aget(uuid=uuid)
        assert (row.state, row.desired_state) == ("stopped", "stopped")


async def test_nobody_else_resumes_a_parked_sandbox_and_a_restarted_site_leaves_it_parked(
    tmp_path: Path, application: Any, learners: dict[str, tuple[Owner, str]]
) -> None:
    clock = FakeClock()
    limits = test_limits(tmp_path / "sb", park_after_seconds=PARK_AFTER_S)
    alice, (charlie, charlie_session) = learners["alice"][0], learners["charlie"]
    async with running_manager(limits, clock=clock) as manager:
        await manager.start(alice, SHAPE)
        await until(lambda: state_of(manager, alice) == "running")
        assert (await manager.console.run(alice, "durable", "SET before park"))["text"] == "OK\n"
        await park(manager, clock, alice)
        async with Browser(application, charlie_session) as page:
            await page.send({"type": "hello"})
            assert (await page.expect("welcome"))["sandbox"] is None
            await page.send({"type": "command", "cluster": "durable", "line": "GET before", "id": 1})
            assert (await page.expect("error"))["code"] == "no_sandbox"
        assert state_of(manager, alice) == "parked"
    # The site stopped and starts again: the row stays parked, nothing is started...
    async with running_manager(limits, clock=clock) as manager:
        assert state_of(manager, alice) == "parked"
        assert engine_pids_under(limits.root_dir) == []
        # ... until Prepare class (teach) starts or resumes every member's sandbox.
        outcome = await _prepare(manager, alice)
        assert outcome in ("queued", "starting")
        await until(lambda: state_of(manager, alice) == "running", timeout=RESUME_BOUND_S)
        assert (await manager.console.run(alice, "durable", "GET before"))["text"] == '"park"\n'


async def _prepare(manager: SandboxManager, owner: Owner) -> str:
    """What Prepare class does for each active member (teach.live.prepare_class)."""
    summary = await manager.lifecycle.start(owner, {}, "")
    return str(summary["state"])

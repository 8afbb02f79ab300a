"""The host journal's zone processes (journal_host.py) on loopback: many groups in
three processes, a connection bound to its own group, the control port's per-group
faults touching nobody else, deadline timers instead of a tick, and the binary
batch frames."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import AsyncIterator

import pytest

from sandbox.engine.journal_client import JournalClient
from sandbox.engine.journal_host_service import HostJournal
from sandbox.engine.journal_host_wire import decode_batch, decode_message, encode_batch, encode_message
from sandbox.engine.raft import (
    AppendRequest,
    AppendResponse,
    Entry,
    RecoveryRequest,
    RecoveryResponse,
    Snapshot,
    SnapshotRequest,
    VoteRequest,
    VoteResponse,
)
from sandbox.engine.respclient import AuthRefused, RespError, connect

SECRETS = {f"g{i}": f"group-{i}-secret-" + "x" * 20 for i in range(12)}


@pytest.fixture
async def host(tmp_path: Path) -> AsyncIterator[HostJournal]:
    hj = HostJournal(tmp_path / "host")
    await hj.start()
    try:
        yield hj
    finally:
        await hj.stop()


async def _terms(hj: HostJournal, group: str) -> list[int]:
    return [(await hj.role(z, group))[2] for z in hj.zones]


async def _leader(hj: HostJournal, group: str, timeout: float = 10.0) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        zone = await hj.leader_zone(group)
        if zone is not None:
            return zone
        await asyncio.sleep(0.05)
    raise AssertionError(f"group {group} elected no leader in {timeout}s")


def test_binary_messages_and_batches_round_trip() -> None:
    messages = [
        VoteRequest("az-a", 7, 12, 6, pre_vote=True), VoteResponse("az-b", 7, True),
        AppendRequest("az-a", 3, 10, 2, (Entry(11, 3, b"\x00\xffpayload"), Entry(12, 3, b"", noop=True)), 9),
        AppendResponse("az-c", 3, False, 0, 11, 8), SnapshotRequest("az-a", 4, Snapshot(20, 4, b"state" * 100)),
        RecoveryRequest("az-b", 2**61 + 5), RecoveryResponse("az-c", 9, 2**61 + 5, True, 44),
    ]
    for m in messages:
        assert decode_message(encode_message(m)) == m
    items = [(f"g{i}", encode_message(m)) for i, m in enumerate(messages)]
    assert [(g, decode_message(raw)) for g, raw in decode_batch(encode_batch(items))] == list(
        zip([g for g, _ in items], messages))
    with pytest.raises(ValueError):
        decode_message(encode_message(messages[2])[:-3])
    with pytest.raises(ValueError):
        decode_batch(encode_batch(items)[:-1])


async def test_it_binds_a_connection_to_the_group_whose_secret_it_proved(host: HostJournal) -> None:
    for g in ("g1", "g2"):
        await host.create_group(g, SECRETS[g])
    one = JournalClient(host.client_addrs, secret=SECRETS["g1"], group="g1")
    two = JournalClient(host.client_addrs, secret=SECRETS["g2"])  # AUTH <secret> finds its group
    assert await one.call("JAPPEND", "shard-0", 0, "data", b"one's", deadline_s=15) == 1
    assert await two.call("JAPPEND", "shard-0", 0, "data", b"two's", deadline_s=15) == 1
    assert await one.call("JREAD", "shard-0", 0, 10, 0) == [[1, b"data", b"one's"]]
    assert await two.call("JREAD", "shard-0", 0, 10, 0) == [[1, b"data", b"two's"]]

    h, p = host.client_addrs[0]
    with pytest.raises(AuthRefused, match="WRONGPASS"):
        await connect(h, p, auth=("g1", SECRETS["g2"]))  # another group's secret
    with pytest.raises(AuthRefused, match="WRONGPASS"):
        await connect(h, p, auth=("g3", SECRETS["g1"]))  # a group that does not exist
    stranger = await connect(h, p)
    with pytest.raises(RespError, match="NOAUTH"):
        await stranger.send("JREAD", "shard-0", 0, 10, 0)
    stranger.close()
    control = await connect(h, host.zone_procs["az-a"].control_port)
    with pytest.raises(RespError, match="NOAUTH"):
        await control.send("GLIST")
    with pytest.raises(RespError, match="WRONGPASS"):
        await control.send("AUTH", SECRETS["g1"])  # a sandbox's secret is not the host's
    control.close()


async def test_killing_one_groups_replica_elects_in_that_group_only(host: HostJournal) -> None:
    for g in ("g1", "g2", "g3"):
        await host.create_group(g, SECRETS[g])
    clients = {g: JournalClient(host.client_addrs, secret=SECRETS[g], group=g) for g in ("g1", "g2", "g3")}
    for g, c in clients.items():
        assert await c.call("JAPPEND", "shard-0", 0, "data", b"v1", deadline_s=15) == 1
    victim_zone = await _leader(host, "g1")
    others = {g: (await _terms(host, g), await _leader(host, g)) for g in ("g2", "g3")}

    async def p50_append_ms(group: str, n: int = 40) -> float:
        c, times = clients[group], []
        tail = await c.call("JTAIL", "shard-0")
        for i in range(n):
            t = time.perf_counter()
            tail = await c.call("JAPPEND", "shard-0", tail, "data", b"x")
            times.append(time.perf_counter() - t)
        return sorted(times)[n // 2] * 1000

    before = await p50_append_ms("g2")
    await host.kill_group(victim_zone, "g1")
    during = await p50_append_ms("g2")
    new_leader = await _leader(host, "g1")
    assert new_leader != victim_zone
    assert await clients["g1"].call("JAPPEND", "shard-0", 1, "data", b"v2", deadline_s=15) == 2
    await asyncio.sleep(1.0)  # several election timeouts: a disturbed group would have moved
    for g, (terms, leader) in others.items():
        assert await _terms(host, g) == terms, f"group {g} changed term while g1 failed over"
        assert await _leader(host, g) == leader
    assert during <= before * 3 + 5, f"g2's commit p50 went from {before:.2f} ms to {during:.2f} ms"

    await host.start_group(victim_zone, "g1")  # recovers from its own log, then from its peers
    c = JournalClient((host.client_addrs[host.zones.index(victim_zone)],), secret=SECRETS["g1"], group="g1")
    end = time.monotonic() + 10
    while (tail := await c.call("JTAIL", "shard-0")) != 2 and time.monotonic() < end:
        await asyncio.sleep(0.05)
    assert tail == 2


async def test_a_paused_groups_commands_wait_and_its_peers_carry_on(host: HostJournal) -> None:
    for g in ("g1", "g2"):
        await host.create_group(g, SECRETS[g])
    c1 = JournalClient(host.client_addrs, secret=SECRETS["g1"], group="g1")
    assert await c1.call("JAPPEND", "shard-0", 0, "data", b"a", deadline_s=15) == 1
    leader = await _leader(host, "g1")
    await host.pause_group(leader, "g1")
    # The other two zones elect a leader of their own and take writes.
    others = [z for z in host.zones if z != leader]  # the paused one still says "leader", frozen

    async def others_lead() -> bool:
        return [(await host.role(z, "g1"))[1] for z in others].count(b"leader") == 1

    end = time.monotonic() + 10
    while not await others_lead() and time.monotonic() < end:
        await asyncio.sleep(0.05)
    assert await others_lead()
    # A new client (the old connection may wait on the paused replica, as on a
    # SIGSTOPped process): its login there times out and it moves on.
    c1 = JournalClient(host.client_addrs, secret=SECRETS["g1"], group="g1")
    assert await c1.call("JAPPEND", "shard-0", 1, "data", b"b", deadline_s=15) == 2
    await host.pause_group(leader, "g1", paused=False)
    paused_zone = JournalClient((host.client_addrs[host.zones.index(leader)],), secret=SECRETS["g1"], group="g1")
    end = time.monotonic() + 10
    while (tail := await paused_zone.call("JTAIL", "shard-0")) != 2 and time.monotonic() < end:
        await asyncio.sleep(0.05)
    assert tail == 2


async def test_idle_groups_are_woken_by_their_deadlines_not_a_tick(host: HostJournal) -> None:
    groups = [f"g{i}" for i in range(10)]
    for g in groups:
        await host.create_group(g, SECRETS[g])
    for g in groups:
        await _leader(host, g)
    before = [await host.control(z, "GSTATS") for z in host.zones]
    await asyncio.sleep(2.0)
    after = [await host.control(z, "GSTATS") for z in host.zones]
    wakeups = sum(a[3] - b[3] for a, b in zip(after, before))
    frames = sum(a[4] - b[4] for a, b in zip(after, before))
    # A 50 ms tick per group and zone would be 10 x 3 x 40 = 1200 wake-ups in 2 s;
    # leaders wake per heartbeat (100 ms) and followers about once per election timeout.
    assert wakeups < 600, wakeups
    # Heartbeats of groups due together share a frame: fewer frames than messages.
    assert frames < 10 * 2 * 20 * 2, frames

"""Durable clusters on the host journal (ClusterSpec.host_journal): several clusters
under write load while a whole zone process is SIGKILLed and restarted; no cluster
loses an acknowledged write."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import redis

from sandbox.engine.journal_auth import new_secret
from sandbox.engine.journal_host_service import HostJournal
from sandbox.engine.supervisor import ClusterSpec, Supervisor

CLUSTERS = 3


async def test_a_sigkilled_zone_process_loses_no_clusters_acknowledged_write(tmp_path: Path) -> None:
    host = HostJournal(tmp_path / "host")
    await host.start()
    sups: list[Supervisor] = []
    try:
        for i in range(CLUSTERS):
            secret = new_secret()
            await host.create_group(f"c{i}", secret)
            sup = Supervisor(ClusterSpec(mode="durable", shards=1, replicas=1, data_dir=str(tmp_path / f"c{i}"),
                                         journal_secret=secret, host_journal=host.journal_arg(),
                                         host_journal_group=f"c{i}", snapshotter=False))
            await sup.start()
            sups.append(sup)
        acked: list[dict[str, int]] = [{} for _ in sups]
        stop = time.monotonic() + 6.0

        def primary_port(sup: Supervisor) -> int:
            return next(p.port for p in sup.procs.values() if p.kind == "data" and p.role == "primary")

        async def load(i: int) -> None:
            n = 0
            while time.monotonic() < stop:
                n += 1
                try:
                    client = redis.Redis(port=primary_port(sups[i]), socket_timeout=2)
                    await asyncio.to_thread(client.set, f"k{n}", n)
                    acked[i][f"k{n}"] = n
                except (redis.RedisError, StopIteration):
                    await asyncio.sleep(0.05)  # a failover or the journal's election: not acknowledged

        loads = [asyncio.create_task(load(i)) for i in range(CLUSTERS)]
        await asyncio.sleep(1.5)
        victim = await host.leader_zone("c0") or host.zones[0]  # a zone leading at least one group
        host.kill_zone(victim)
        await host.wait_zone_exit(victim)
        await asyncio.sleep(1.0)
        await host.start_zone(victim)
        await asyncio.gather(*loads)
        for i, sup in enumerate(sups):
            assert len(acked[i]) > 20, f"cluster {i} acknowledged only {len(acked[i])} writes"
            end = time.monotonic() + 15
            while True:
                try:
                    client = redis.Redis(port=primary_port(sup), socket_timeout=2)
                    values = [client.get(k) for k in acked[i]]  # one slot each: no MGET
                    break
                except (redis.RedisError, StopIteration):
                    assert time.monotonic() < end, f"cluster {i} has no primary"
                    await asyncio.sleep(0.1)
            lost = [k for k, v in zip(acked[i], values) if v is None or int(v) != acked[i][k]]
            assert not lost, f"cluster {i} lost {len(lost)} acknowledged writes, e.g. {lost[:5]}"
    finally:
        for sup in sups:
            await sup.stop()
        await host.stop()

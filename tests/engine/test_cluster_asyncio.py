"""redis-py's asyncio RedisCluster against a durable cluster: it routes across
shards, reads from replicas when asked, and follows a failover with no special
configuration."""

from __future__ import annotations

import asyncio

from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.cluster import LoadBalancingStrategy
from redis.exceptions import RedisError

from sandbox.engine.supervisor import ClusterSpec, Supervisor

from .durability import primary, wait_for


async def eventually(rc: RedisCluster, n: int) -> bool:
    for _ in range(50):
        values = [await rc.get(f"k{i}") for i in range(n)]
        assert all(v is None or int(v) == i for i, v in enumerate(values)), "a replica served a wrong value"
        if all(v is not None for v in values):
            return True
        await asyncio.sleep(0.05)
    return False


def test_asyncio_cluster_client_routes_reads_replicas_and_follows_a_failover(tmp_path):
    async def scenario() -> None:
        sup = Supervisor(ClusterSpec(mode="durable", shards=2, replicas=1, data_dir=str(tmp_path),
                                     snapshotter=False, lease_ms=600, restart_delay_ms=300))
        await sup.start()
        nodes = [ClusterNode("127.0.0.1", p.port) for p in sup.procs.values() if p.kind == "data"]
        rc = RedisCluster(startup_nodes=nodes, load_balancing_strategy=LoadBalancingStrategy.ROUND_ROBIN)
        try:
            await rc.initialize()
            for i in range(200):
                await rc.set(f"k{i}", i)
            # ROUND_ROBIN spreads reads over primaries and READONLY replicas; a
            # replica may be a few entries behind (eventual consistency), never wrong.
            assert await eventually(rc, 200)
            victim = primary(sup, 0)
            mark = len(sup.history)
            await sup.kill(victim.id)
            await wait_for(sup, "failover_finished", 15, since=mark, shard=0)
            written = 0
            for i in range(200, 260):
                for _attempt in range(20):
                    try:
                        await rc.set(f"k{i}", i)
                        written += 1
                        break
                    except (RedisError, ConnectionError, OSError):
                        await asyncio.sleep(0.1)
            assert written == 60
            assert await eventually(rc, 260)
        finally:
            await rc.aclose()
            await sup.stop()

    asyncio.run(asyncio.wait_for(scenario(), 90))

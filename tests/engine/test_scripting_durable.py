"""Scripts under real failures: on a durable cluster a SIGKILLed primary loses no
acknowledged EVAL or FCALL and leaves no script half applied; a cache-mode replica
never shows half of a script's writes."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.cluster import ClusterNode, RedisCluster

from sandbox.engine.supervisor import ClusterSpec, Supervisor

from .durability import data_ports, primary, wait_for
from .test_replication import Nodes, caught_up, nodes, wait_until  # noqa: F401  (the fixture)

# Three writes per script, one hash tag so the keys share a slot.
_SCRIPT = ("redis.call('SET', KEYS[1], ARGV[1]) redis.call('SET', KEYS[2], ARGV[1]) "
           "redis.call('SET', KEYS[3], ARGV[1]) return ARGV[1]")
_LIBRARY = ("#!lua name=ledger\n"
            "redis.register_function('write3', function(keys, args)\n"
            "  for i = 1, 3 do redis.call('SET', keys[i], args[1]) end\n"
            "  return args[1]\n"
            "end)")


def _keys(n: int) -> list[str]:
    return [f"{{s{n}}}:{part}" for part in "abc"]


@dataclass
class ScriptLedger:
    acked: list[int] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    errors: int = 0


class ScriptWriter(threading.Thread):
    """Runs EVAL and FCALL by turns, each writing three keys; remembers which were acknowledged."""

    def __init__(self, ports: list[int]) -> None:
        super().__init__(daemon=True)
        self.ports = ports
        self.ledger = ScriptLedger()
        self.stop_flag = threading.Event()

    def run(self) -> None:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        n = 0
        rc: RedisCluster | None = None
        while not self.stop_flag.is_set():
            try:
                if rc is None:
                    rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", p) for p in self.ports],
                                      socket_timeout=2, socket_connect_timeout=1, retry=Retry(NoBackoff(), 1))
                n += 1
                self.ledger.sent.append(n)
                if n % 2:
                    reply = rc.eval(_SCRIPT, 3, *_keys(n), n)
                else:
                    reply = rc.execute_command("FCALL", "write3", 3, *_keys(n), n)
                assert int(reply) == n
                self.ledger.acked.append(n)
            except (redis.RedisError, redis.exceptions.RedisClusterException, OSError, IndexError, KeyError,
                    TypeError, AttributeError):
                self.ledger.errors += 1
                if rc is not None:
                    try:
                        rc.close()
                    except Exception:  # noqa: BLE001 - closing a broken client
                        pass
                rc = None
                time.sleep(0.05)
        if rc is not None:
            rc.close()

    def finish(self) -> ScriptLedger:
        self.stop_flag.set()
        self.join(15)
        return self.ledger


async def _until_acked(writer: ScriptWriter, count: int, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while len(writer.ledger.acked) < count:
        assert time.monotonic() < deadline, f"only {len(writer.ledger.acked)} scripts acknowledged"
        await asyncio.sleep(0.05)


def test_a_killed_primary_loses_no_acknowledged_script_and_leaves_none_half_applied(tmp_path: Path) -> None:
    async def scenario() -> None:
        sup = Supervisor(ClusterSpec(mode="durable", shards=1, replicas=1, data_dir=str(tmp_path),
                                     snapshotter=False, restart_delay_ms=300, lease_ms=600))
        await sup.start()
        writer = ScriptWriter(data_ports(sup))
        try:
            first = redis.Redis(port=primary(sup).port, socket_timeout=5)
            assert first.function_load(_LIBRARY) == b"ledger"
            first.close()
            writer.start()
            await _until_acked(writer, 30)
            victim = primary(sup)
            mark = len(sup.history)
            await sup.kill(victim.id)
            done = await wait_for(sup, "failover_finished", 20, since=mark, shard=0)
            assert done["primary"] != victim.id
            before = len(writer.ledger.acked)
            await _until_acked(writer, before + 20)  # FCALL works on the new primary: the library survived
            ledger = writer.finish()
            client = redis.Redis(port=primary(sup).port, socket_timeout=5)
            pipe = client.pipeline(transaction=False)
            for n in ledger.sent:
                pipe.mget(_keys(n))
            found = dict(zip(ledger.sent, pipe.execute()))
            client.close()
            lost = [n for n in ledger.acked if found[n] != [str(n).encode()] * 3]
            assert lost == [], f"acknowledged scripts lost or partial: {[(n, found[n]) for n in lost[:10]]}"
            half = [n for n, values in found.items() if len(set(values)) != 1]
            assert half == [], f"scripts half applied: {[(n, found[n]) for n in half[:10]]}"
        finally:
            if writer.is_alive():
                writer.finish()
            await sup.stop()

    asyncio.run(asyncio.wait_for(scenario(), 150))


def test_a_cache_replica_never_shows_half_of_a_script(nodes: Nodes) -> None:  # noqa: F811
    primary_node = nodes.start()
    replica = nodes.replica(primary_node)
    keys = [f"k{i}" for i in range(40)]
    # Values large enough that one script's stream spans several socket reads.
    writes = "for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[1] .. string.rep('x', 8000)) end"
    stop = threading.Event()
    seen: list[list[bytes | None]] = []

    def read() -> None:
        with replica.client() as r:
            while not stop.is_set():
                seen.append(r.mget(keys))

    reader = threading.Thread(target=read, daemon=True)
    with primary_node.client() as w:
        w.eval(writes, len(keys), *keys, "0")
        wait_until(caught_up(primary_node, replica), what="replica caught up")
        reader.start()
        for n in range(1, 301):
            w.eval(writes, len(keys), *keys, str(n))
        wait_until(caught_up(primary_node, replica), what="replica caught up")
    stop.set()
    reader.join(10)
    assert len(seen) > 20, "the reader should have read while the scripts ran"
    torn = [values for values in seen if len(set(values)) != 1]
    assert torn == [], f"the replica showed half a script: {[v[:4] if v else v for v in torn[0]]}"
    assert len({values[0] for values in seen}) > 2, "the reader should have seen several scripts' values"

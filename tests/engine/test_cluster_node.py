"""A data node in cluster mode: slots, redirections and CLUSTER replies.

Single-node checks are differential against a redis-server with cluster mode on
that owns every slot; multi-node routing is checked with redis-py's RedisCluster
against three engine nodes that each serve a third of the slots.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from contextlib import ExitStack

import pytest
import redis
from redis.cluster import RedisCluster

from sandbox.engine.slots import crc16, key_slot

from .rawclient import RawClient
from .servers import engine_process, redis_process


def test_crc16_and_hash_tags_follow_the_cluster_spec():
    assert crc16(b"123456789") == 0x31C3
    assert key_slot(b"{user1000}.following") == key_slot(b"{user1000}.followers")
    assert key_slot(b"foo{}{bar}") == crc16(b"foo{}{bar}") % 16384
    assert key_slot(b"foo{{bar}}zap") == crc16(b"{bar") % 16384
    assert key_slot(b"foo{bar}{zap}") == crc16(b"bar") % 16384


def _crc16_bitwise(data: bytes) -> int:
    """The spec's CRC16-XMODEM one bit at a time: polynomial 0x1021, initial 0."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def test_crc16_equals_a_bitwise_reference():
    rng = random.Random(7)
    for n in range(600):
        data = bytes(rng.randrange(256) for _ in range(n % 80))
        assert crc16(data) == _crc16_bitwise(data), data


def topology(ports: list[int], ids: list[str]) -> dict:
    n = len(ports)
    bounds = [(i * 16384 // n, (i + 1) * 16384 // n - 1) for i in range(n)]
    return {
        "epoch": 1,
        "shards": [
            {"ranges": [list(bounds[i])], "nodes": [{"id": ids[i], "host": "127.0.0.1", "port": ports[i], "role": "primary"}]}
            for i in range(n)
        ],
    }


@pytest.fixture(scope="module")
def cluster_pair():
    """(redis-server in cluster mode owning all slots, engine node owning all slots)."""
    tmp = tempfile.mkdtemp()
    with ExitStack() as stack:
        ref = stack.enter_context(redis_process("--cluster-enabled", "yes", "--cluster-config-file", f"{tmp}/nodes.conf"))
        eng = stack.enter_context(engine_process("--cluster-enabled", "--node-id", "e" * 40))
        with RawClient(ref.port) as c:
            assert c.call("CLUSTER", "ADDSLOTSRANGE", "0", "16383") == b"+OK\r\n"
        with RawClient(eng.port) as c:
            assert c.call("CLUSTER", "SETTOPOLOGY", json.dumps(topology([eng.port], ["e" * 40]))) == b"+OK\r\n"
        yield ref, eng
    shutil.rmtree(tmp, ignore_errors=True)


def test_cluster_mode_replies_match_redis(cluster_pair):
    from .conftest import Differ

    ref, eng = cluster_pair
    d = Differ(ref.port, eng.port)
    try:
        d.many("""
            CLUSTER KEYSLOT foo
            CLUSTER KEYSLOT {user1000}.following
            CLUSTER KEYSLOT ""
            CLUSTER KEYSLOT
            CLUSTER COUNTKEYSINSLOT 12182
            CLUSTER COUNTKEYSINSLOT 99999
            CLUSTER COUNTKEYSINSLOT x
            CLUSTER GETKEYSINSLOT 12182 10
            CLUSTER NOSUCH
            SELECT 0
            SELECT 1
            READONLY
            READWRITE
        """)
    finally:
        d.close()


def test_a_transaction_across_slots_is_refused_at_exec_like_redis(cluster_pair):
    """Each queued command is fine alone; EXEC refuses keys in two slots with
    CROSSSLOT and discards the transaction (nothing of it runs), as Redis does."""
    from .conftest import Differ

    ref, eng = cluster_pair
    with RawClient(ref.port) as c:  # redis-server's cluster state turns ok on its next cron
        deadline = time.monotonic() + 10
        while b"cluster_state:ok" not in c.call("CLUSTER", "INFO") and time.monotonic() < deadline:
            time.sleep(0.05)
    d = Differ(ref.port, eng.port)
    try:
        d.many("""
            DEL a b {a}x
            MULTI
            SET a 1
            SET b 2
            EXEC
            EXEC
            GET a
            MULTI
            SET a 1
            SET {a}x 2
            EXEC
            MGET a
            MULTI
            PING
            EXEC
            WATCH a
            MULTI
            INCR a
            INCR b
            EXEC
            DEL a {a}x
        """)
    finally:
        d.close()


def test_standalone_nodes_refuse_cluster_commands_like_redis(diff):
    diff.many("""
        CLUSTER KEYSLOT foo
        CLUSTER INFO
        READONLY
    """)


def test_redis_py_cluster_client_routes_across_three_engine_nodes():
    ids = [c * 40 for c in "abc"]
    with ExitStack() as stack:
        procs = [stack.enter_context(engine_process("--cluster-enabled", "--node-id", i)) for i in ids]
        topo = json.dumps(topology([p.port for p in procs], ids))
        for p in procs:
            assert redis.Redis(port=p.port).execute_command("CLUSTER", "SETTOPOLOGY", topo) == b"OK"
        rc = RedisCluster(host="127.0.0.1", port=procs[1].port)
        try:
            for i in range(300):
                rc.set(f"key:{i}", i)
            assert [int(rc.get(f"key:{i}")) for i in range(300)] == list(range(300))
            per_node = [redis.Redis(port=p.port).dbsize() for p in procs]
            assert sum(per_node) == 300 and min(per_node) > 50
            with pytest.raises(redis.ResponseError, match="don.t hash to the same slot"):
                redis.Redis(port=procs[0].port).execute_command("MSET", "{a}x", 1, "{b}y", 2)
            wrong = next(p for p in procs if rc.keyslot("key:1") not in range(*_range_of(p, procs)))
            # redis-py turns "-MOVED slot host:port" into MovedError carrying the target.
            with pytest.raises(redis.exceptions.MovedError) as moved:
                redis.Redis(port=wrong.port).get("key:1")
            assert moved.value.slot_id == rc.keyslot("key:1")
            owner = procs[[rc.keyslot("key:1") in range(*_range_of(p, procs)) for p in procs].index(True)]
            assert moved.value.node_addr == ("127.0.0.1", owner.port)
        finally:
            rc.close()


def _range_of(proc, procs):
    i = procs.index(proc)
    n = len(procs)
    return i * 16384 // n, (i + 1) * 16384 // n

"""RESTORE-ASKING in cluster mode: a key moved between two engine nodes the way
MIGRATE moves it (DUMP on the source, RESTORE-ASKING on the target)."""

from __future__ import annotations

import json
from contextlib import ExitStack

import pytest
import redis

from sandbox.engine.slots import key_slot

from .servers import engine_process
from .test_cluster_node import topology


def test_a_key_moves_between_nodes_by_dump_and_restore_asking() -> None:
    ids = ["a" * 40, "b" * 40]
    with ExitStack() as stack:
        procs = [stack.enter_context(engine_process("--cluster-enabled", "--node-id", i)) for i in ids]
        topo = json.dumps(topology([p.port for p in procs], ids))
        clients = [stack.enter_context(redis.Redis(port=p.port)) for p in procs]
        for c in clients:
            assert c.execute_command("CLUSTER", "SETTOPOLOGY", topo) == b"OK"
        # Slots 0..8191 are the first node's, 8192..16383 the second's.
        first = next(f"k{i}" for i in range(1000) if key_slot(f"k{i}".encode()) < 8192)
        second = next(f"k{i}" for i in range(1000) if key_slot(f"k{i}".encode()) >= 8192)
        clients[0].rpush(first, "a", "b")
        payload = clients[0].dump(first)
        # The target owns no importing slot: RESTORE-ASKING is redirected like RESTORE.
        with pytest.raises(redis.exceptions.MovedError):
            clients[1].execute_command("RESTORE-ASKING", first, "0", payload)
        assert clients[1].execute_command("RESTORE-ASKING", second, "0", payload, "REPLACE") == b"OK"
        assert clients[1].lrange(second, 0, -1) == [b"a", b"b"]
        assert clients[1].pttl(second) == -1

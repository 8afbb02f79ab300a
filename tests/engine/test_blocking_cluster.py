"""Blocking commands where the node's place changes under them: CROSSSLOT for a
multi-key BLPOP across slots, MOVED for a client blocked on a key whose slot moved
to another node (Redis 7.0's clusterRedirectBlockedClientIfNeeded), and a replica
told REPLICAOF again unblocking its XREAD clients, as redis-server 7.0 does."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack

from sandbox.engine.resp import encode_command
from sandbox.engine.slots import key_slot

from .conftest import Differ
from .rawclient import RawClient
from .servers import Proc, engine_process, free_port, redis_process
from .test_cluster_node import cluster_pair, topology  # noqa: F401  (a fixture)


def test_a_blpop_across_slots_is_refused_with_crossslot(cluster_pair: tuple[Proc, Proc]) -> None:  # noqa: F811
    ref, eng = cluster_pair
    with RawClient(ref.port) as c:  # redis-server's cluster state turns ok on its next cron
        deadline = time.monotonic() + 10
        while b"cluster_state:ok" not in c.call("CLUSTER", "INFO") and time.monotonic() < deadline:
            time.sleep(0.05)
    d = Differ(ref.port, eng.port)
    try:
        refused = d("BLPOP", "a", "b", "0")
        assert refused == b"-CROSSSLOT Keys in request don't hash to the same slot\r\n"
        d("BZPOPMIN", "a", "b", "0")
        d("BLMPOP", "0", "2", "a", "b", "LEFT")
        d("RPUSH", "{a}x", "1")
        d("BLPOP", "a", "{a}x", "0")  # one slot: served at once
    finally:
        d("DEL", "{a}x")
        d.close()


def test_a_client_blocked_on_a_slot_that_moves_gets_moved() -> None:
    ids = ["a" * 40, "b" * 40]
    with ExitStack() as stack:
        procs = [stack.enter_context(engine_process("--cluster-enabled", "--node-id", i)) for i in ids]
        ports = [p.port for p in procs]
        for port in ports:
            with RawClient(port) as c:
                assert c.call("CLUSTER", "SETTOPOLOGY", json.dumps(topology(ports, ids))) == b"+OK\r\n"
        key = next(f"k{i}" for i in range(1000) if key_slot(f"k{i}".encode()) < 8192)
        slot = key_slot(key.encode())
        blocked = stack.enter_context(RawClient(ports[0], timeout=10))
        blocked.send(encode_command(["BLPOP", key, "0"]))
        time.sleep(0.3)
        # Every slot now belongs to the second node.
        moved = {"epoch": 2, "shards": [
            {"ranges": [], "nodes": [{"id": ids[0], "host": "127.0.0.1", "port": ports[0], "role": "primary"}]},
            {"ranges": [[0, 16383]], "nodes": [{"id": ids[1], "host": "127.0.0.1", "port": ports[1],
                                                "role": "primary"}]}]}
        for port in ports:
            with RawClient(port) as c:
                assert c.call("CLUSTER", "SETTOPOLOGY", json.dumps(moved)) == b"+OK\r\n"
        started = time.monotonic()
        reply = blocked.read_frame()
        assert reply == f"-MOVED {slot} 127.0.0.1:{ports[1]}\r\n".encode()
        assert time.monotonic() - started < 5.0
        assert blocked.call("PING") == b"+PONG\r\n"  # the connection stays


def test_a_replica_told_replicaof_again_unblocks_its_xread_clients() -> None:
    replies = []
    with engine_process() as eng, redis_process() as ref:
        for proc in (ref, eng):
            with RawClient(proc.port, timeout=10) as admin, RawClient(proc.port, timeout=10) as reader:
                assert admin.call("REPLICAOF", "127.0.0.1", str(free_port())) == b"+OK\r\n"
                reader.send(encode_command(["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]))
                time.sleep(0.3)
                assert admin.call("REPLICAOF", "127.0.0.1", str(free_port())) == b"+OK\r\n"
                replies.append(reader.read_frame())
                admin.call("REPLICAOF", "NO", "ONE")
    ref_reply, eng_reply = replies
    assert ref_reply == b"-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)\r\n"
    assert eng_reply == ref_reply

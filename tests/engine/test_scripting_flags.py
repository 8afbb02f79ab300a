"""Script and function flags as Redis 7.0 enforces them, each sequence sent to
redis-server 7.0 and to an engine process and compared byte for byte: no-writes,
allow-oom (a script that may write is refused at its start over maxmemory),
no-cluster, allow-cross-slot-keys, and allow-stale / no-writes on a replica."""

from __future__ import annotations

import time
from typing import Iterator

import pytest

from .conftest import Differ
from .rawclient import RawClient
from .servers import Proc, engine_process, free_port, redis_process
from .test_cluster_node import cluster_pair  # noqa: F401  (a fixture)

LIBRARY = "\n".join([
    "#!lua name=flagged",
    "redis.register_function('plain', function(keys) return redis.call('set', keys[1] or 'p', 1) end)",
    "redis.register_function{function_name='oom_ok', callback=function() return redis.call('set', 'o', 1) end,"
    " flags={'allow-oom'}}",
    "redis.register_function{function_name='reader', callback=function() return redis.call('get', 'o') end,"
    " flags={'no-writes'}}",
    "redis.register_function{function_name='sneaky', callback=function() return redis.call('set', 'o', 2) end,"
    " flags={'no-writes'}}",
    "redis.register_function{function_name='local_only', callback=function() return 3 end,"
    " flags={'no-cluster', 'no-writes'}}",
    "redis.register_function{function_name='stale_ok', callback=function() return 4 end,"
    " flags={'allow-stale', 'no-writes'}}",
    "redis.register_function{function_name='cross', callback=function(keys) "
    "redis.call('set', keys[1], 1) return redis.call('set', 'elsewhere', 2) end,"
    " flags={'allow-cross-slot-keys'}}",
    "redis.register_function{function_name='one_slot', callback=function(keys) "
    "redis.call('set', keys[1], 1) return redis.call('set', 'elsewhere', 2) end}",
])


@pytest.fixture
def fresh() -> Iterator[Differ]:
    """A fresh engine and redis-server with the library loaded (maxmemory and
    replication must not leak into other tests' servers)."""
    with engine_process() as eng, redis_process() as ref:
        d = Differ(ref.port, eng.port)
        try:
            assert d("FUNCTION", "LOAD", LIBRARY) == b"$7\r\nflagged\r\n"
            yield d
        finally:
            d.close()


def test_no_writes_refuses_a_write_and_runs_reads(fresh: Differ) -> None:
    fresh("EVAL", "#!lua flags=no-writes\nreturn redis.call('set', 'k', 'v')", "0")
    fresh("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'k')", "0")
    fresh("EVAL_RO", "#!lua\nreturn 1", "0")
    fresh("EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0")
    fresh("FCALL", "sneaky", "0")
    fresh("FCALL_RO", "plain", "0")
    assert fresh("FCALL_RO", "reader", "0") == b"$-1\r\n"


def test_it_refuses_a_script_that_may_write_at_its_start_over_maxmemory(fresh: Differ) -> None:
    fresh("SET", "filler", "x" * 64)
    assert fresh("CONFIG", "SET", "maxmemory", "1") == b"+OK\r\n"
    # A shebang without no-writes or allow-oom: refused before it runs.
    oom = fresh("EVAL", "#!lua\nreturn 1", "0")
    assert oom == b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"
    fresh("EVAL_RO", "#!lua\nreturn 1", "0")
    fresh("EVAL", "#!lua flags=no-writes\nreturn 1", "0")
    fresh("EVAL", "#!lua flags=allow-oom\nreturn redis.call('set', 'k', 'v')", "0")
    fresh("EVAL", "#!lua flags=allow-oom\nreturn redis.call('get', 'k')", "0")
    fresh("FCALL", "plain", "0")
    fresh("FCALL", "oom_ok", "0")
    fresh("FCALL", "reader", "0")
    fresh("FCALL_RO", "reader", "0")
    # Compatible mode: refused at its first write that may grow memory, with the
    # script's position; any write command called before (even one that changed
    # nothing) lets the later ones through, as Redis's SCRIPT_WRITE_DIRTY does.
    fresh("EVAL", "return redis.call('set', 'k2', 'v')", "0")
    fresh("EVAL", "return 1", "0")
    fresh("EVAL", "redis.call('del', 'nokey') return redis.call('set', 'k3', 'v')", "0")
    fresh("GET", "k3")
    assert fresh("CONFIG", "SET", "maxmemory", "0") == b"+OK\r\n"
    fresh("EVAL", "#!lua\nreturn redis.call('set', 'k4', 'v')", "0")


def test_a_replica_refuses_scripts_that_may_write_and_runs_stale_ones(fresh: Differ) -> None:
    dead = free_port()  # nothing listens: the replica's link stays down (it serves stale data)
    fresh("SET", "o", "kept")
    assert fresh("REPLICAOF", "127.0.0.1", str(dead)) == b"+OK\r\n"
    readonly = fresh("EVAL", "#!lua\nreturn 1", "0")
    assert readonly == b"-READONLY You can't write against a read only replica.\r\n"
    fresh("EVAL", "#!lua flags=allow-oom,allow-stale\nreturn 1", "0")
    fresh("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'o')", "0")
    fresh("EVAL", "#!lua flags=no-writes,allow-stale\nreturn redis.call('get', 'o')", "0")
    fresh("EVAL", "return redis.call('get', 'o')", "0")
    fresh("EVAL", "return redis.call('set', 'o', 'x')", "0")
    fresh("FCALL", "plain", "0")
    fresh("FCALL", "stale_ok", "0")
    fresh("FCALL_RO", "reader", "0")
    fresh("REPLICAOF", "NO", "ONE")


def test_no_cluster_and_cross_slot_flags_in_cluster_mode(cluster_pair: tuple[Proc, Proc]) -> None:  # noqa: F811
    ref, eng = cluster_pair
    with RawClient(ref.port) as c:  # redis-server's cluster state turns ok on its next cron
        deadline = time.monotonic() + 10
        while b"cluster_state:ok" not in c.call("CLUSTER", "INFO") and time.monotonic() < deadline:
            time.sleep(0.05)
    d = Differ(ref.port, eng.port)
    try:
        d("FUNCTION", "LOAD", "REPLACE", LIBRARY)
        refused = d("EVAL", "#!lua flags=no-cluster\nreturn 1", "0")
        assert refused == b"-ERR Can not run script on cluster, 'no-cluster' flag is set.\r\n"
        d("FCALL", "local_only", "0")
        d("FCALL_RO", "local_only", "0")
        # Undeclared keys of another slot: refused, unless allow-cross-slot-keys.
        d("EVAL", "#!lua\nredis.call('set', KEYS[1], 1) return redis.call('set', 'elsewhere', 2)", "1", "a")
        d("EVAL", "#!lua flags=allow-cross-slot-keys\nredis.call('set', KEYS[1], 1) "
                  "return redis.call('set', 'elsewhere', 2)", "1", "a")
        d("FCALL", "one_slot", "1", "b")
        d("FCALL", "cross", "1", "b")
        d("EVAL", "return redis.call('set', 'elsewhere', 3)", "1", "c")  # compatible mode: allowed
        d("MGET", "a", "b")
    finally:
        d("FUNCTION", "FLUSH")
        d("FLUSHALL")
        d.close()

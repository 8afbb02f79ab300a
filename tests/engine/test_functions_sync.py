"""A cache-mode full sync carries the function libraries: a replica that syncs
after FUNCTION LOAD can run the library's functions, and the libraries it had
before are replaced by the primary's, as an RDB load replaces them in Redis.
Real engine processes, a primary and a replica."""

from __future__ import annotations

import time
from contextlib import ExitStack
from typing import Callable

import redis

from .servers import engine_process

LIBRARY = ("#!lua name=synced\n"
           "redis.register_function{function_name='read_it', callback=function(keys) "
           "return redis.call('get', keys[1]) end, flags={'no-writes'}}")
STALE = "#!lua name=stale\nredis.register_function('old', function() return 'old' end)"


def _wait(cond: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_replica_that_full_syncs_after_function_load_runs_the_library() -> None:
    with ExitStack() as stack:
        primary_proc, replica_proc = (stack.enter_context(engine_process()) for _ in range(2))
        primary = stack.enter_context(redis.Redis(port=primary_proc.port))
        replica = stack.enter_context(redis.Redis(port=replica_proc.port))
        assert primary.execute_command("FUNCTION", "LOAD", LIBRARY) == b"synced"
        primary.set("greeting", "hello")
        assert replica.execute_command("FUNCTION", "LOAD", STALE) == b"stale"
        assert replica.execute_command("REPLICAOF", "127.0.0.1", str(primary_proc.port)) == b"OK"
        _wait(lambda: replica.info("replication").get("master_link_status") == "up", "the link")
        _wait(lambda: replica.get("greeting") == b"hello", "the dataset")
        assert replica.execute_command("FCALL_RO", "read_it", "1", "greeting") == b"hello"
        names = [lib[b"library_name"] for lib in replica.execute_command("FUNCTION", "LIST")]
        assert names == [b"synced"]
        assert replica.execute_command("FUNCTION", "DUMP") == primary.execute_command("FUNCTION", "DUMP")
        # The stream goes on: a library loaded after the sync arrives as itself.
        primary.execute_command("FUNCTION", "DELETE", "synced")
        _wait(lambda: replica.execute_command("FUNCTION", "LIST") == [], "the FUNCTION DELETE")


def test_a_full_sync_of_a_primary_without_libraries_leaves_the_replica_none() -> None:
    with ExitStack() as stack:
        primary_proc, replica_proc = (stack.enter_context(engine_process()) for _ in range(2))
        primary = stack.enter_context(redis.Redis(port=primary_proc.port))
        replica = stack.enter_context(redis.Redis(port=replica_proc.port))
        primary.set("k", "v")
        assert replica.execute_command("FUNCTION", "LOAD", STALE) == b"stale"
        assert replica.execute_command("REPLICAOF", "127.0.0.1", str(primary_proc.port)) == b"OK"
        _wait(lambda: replica.get("k") == b"v", "the dataset")
        assert replica.execute_command("FUNCTION", "LIST") == []

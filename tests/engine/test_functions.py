"""FUNCTION and FCALL against a real redis-server 7.0, and their effects."""

from __future__ import annotations

import pytest

from .conftest import Differ
from .effects import EffectNode

LIB = ("#!lua name=lib\n"
       "redis.register_function('f', function(keys, args) return redis.call('set', keys[1], args[1]) end)\n"
       "redis.register_function{function_name='g', callback=function() return x end, flags={'no-writes'}, "
       "description='d'}")


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request: pytest.FixtureRequest, diff: Differ) -> Differ:
    diff("FUNCTION", "FLUSH")
    if request.param == 3:
        diff.resp3()
    return diff


def test_it_loads_lists_calls_and_deletes_functions_like_redis(d: Differ) -> None:
    d("FUNCTION", "LOAD", "return 1")
    d("FUNCTION", "LOAD", LIB)
    d("FUNCTION", "LOAD", "#!lua name=lib\nreturn 1")
    d("FUNCTION", "LOAD", "#!lua name=lib2\nreturn 1")
    d("FUNCTION", "LOAD", "#!lua name=lib3\nredis.register_function('f', function() return 1 end)")
    d("FUNCTION", "LOAD", "#!lua name=lib4\nredis.call('ping')")
    d("FUNCTION", "LOAD", "#!lua name=lib5\nredis.register_function('h', function(k, a) return #k + #a end)")
    d.many("""
        FCALL f 1 a b
        GET a
        FCALL g 0
        FCALL_RO f 1 a b
        FCALL h 2 k1 k2 a1
        FCALL nope 0
        FUNCTION DELETE nope
        FUNCTION STATS
        FUNCTION LIST LIBRARYNAME lib5
        FUNCTION LIST LIBRARYNAME lib5 WITHCODE
        FUNCTION DELETE lib5
        FCALL h 0
        FUNCTION KILL
        FUNCTION HELP
    """)


def test_loaded_libraries_reach_the_log_and_replay_on_a_fresh_node() -> None:
    node = EffectNode()
    node.run("FUNCTION", "LOAD", LIB)
    node.run("FUNCTION", "LOAD", "#!lua name=gone\nredis.register_function('z', function() return 1 end)")
    node.run("FUNCTION", "DELETE", "gone")
    assert node.run("FCALL", "f", 1, "k", "v") is not None
    entries = list(node.log.entries)
    fresh = EffectNode()
    node.replay_into(fresh, entries)
    assert set(fresh.server.scripts.functions.libraries) == {b"lib"}
    assert fresh.snapshot() == node.snapshot() == {0: {b"k": b"v"}}


def test_function_flush_reaches_the_log_so_a_replaying_node_forgets_every_library() -> None:
    node = EffectNode()
    node.run("FUNCTION", "LOAD", LIB)
    node.run("FUNCTION", "FLUSH")
    assert node.effects()[-1] == [b"FUNCTION", b"FLUSH"]
    fresh = EffectNode()
    node.replay_into(fresh, list(node.log.entries))
    assert fresh.server.scripts.functions.libraries == {}

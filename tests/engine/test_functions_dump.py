"""FUNCTION DUMP and FUNCTION RESTORE against a real redis-server 7.0: the same
payload bytes for one library, payloads that move both ways, Redis's errors, the
restore policies, and a RESTORE's effect replayed on a fresh node."""

from __future__ import annotations

import redis

from sandbox.engine import rdb

from .conftest import Differ
from .effects import EffectNode
from .servers import Proc

# Long and repetitive enough that Redis LZF-compresses it in the payload.
BIG = "#!lua name=big\n" + "".join(
    f"redis.register_function('big{i}', function(keys, args) return redis.call('GET', keys[1]) end)\n"
    for i in range(6))
ONE = "#!lua name=one\nredis.register_function('f1', function() return 1 end)"
TWO = "#!lua name=two\nredis.register_function('f2', function() return 2 end)"
CLASH = "#!lua name=clash\nredis.register_function('f1', function() return 3 end)"


def payload(*codes: str, opcode: int = 245) -> bytes:
    return rdb.wrap_payload(b"".join(bytes((opcode,)) + rdb.encode_string(c.encode()) for c in codes))


def test_a_dump_of_one_library_is_redis_s_own_bytes(diff: Differ) -> None:
    diff("FUNCTION", "FLUSH")
    assert diff("FUNCTION", "DUMP") == b"$10\r\n" + rdb.wrap_payload(b"") + b"\r\n"
    diff("FUNCTION", "LOAD", BIG)
    dumped = diff("FUNCTION", "DUMP")
    assert b"\xf5\xc3" in dumped  # the code went LZF-compressed, as Redis sends it
    diff("FUNCTION", "FLUSH")
    diff("FUNCTION", "LOAD", ONE)
    diff("FUNCTION", "DUMP")


def test_restore_answers_redis_s_errors_and_follows_each_policy(diff: Differ) -> None:
    diff("FUNCTION", "FLUSH")
    diff("FUNCTION", "LOAD", ONE)
    for args in [("x",), (payload(ONE), "bogus"), (payload(ONE), "a", "b"), (b"",), (b"\x00" * 9,),
                 (rdb.wrap_payload(b"\x05"),), (rdb.wrap_payload(b"\xf5"),), (rdb.wrap_payload(b"\xf5\x40"),),
                 (b"\x0b\x00" + rdb.crc64(b"\x0b\x00").to_bytes(8, "little"),),
                 (payload(ONE) + b"x",), (payload("return 1"),), (payload("#!lua name=e\nbad code"),),
                 (payload("#!lua name=a-b\nreturn 1"),), (payload(TWO, TWO),), (payload(ONE),),
                 (payload(ONE), "APPEND"), (payload(CLASH),), (payload(CLASH), "REPLACE")]:
        diff("FUNCTION", "RESTORE", *args)
    diff("FUNCTION", "LIST", "WITHCODE")
    diff("FUNCTION", "RESTORE", payload(ONE), "replace")
    diff("FUNCTION", "RESTORE", payload(TWO), "append")
    diff("FCALL", "f2", 0)
    diff("FUNCTION", "RESTORE", payload(CLASH), "FLUSH")
    diff("FUNCTION", "LIST", "WITHCODE")
    diff("FCALL", "f1", 0)
    diff("FCALL", "f2", 0)
    diff("FUNCTION", "RESTORE", b"\x00" * 10, "FLUSH")  # an all-zero payload is a valid empty one
    diff("FUNCTION", "LIST")


def test_a_7_0_release_candidate_s_library_record_restores_like_redis(diff: Differ) -> None:
    s = rdb.encode_string
    code = b"redis.register_function('rc', function() return 7 end)"
    diff("FUNCTION", "FLUSH")
    for body in [b"\xf6" + s(b"c"), b"\xf6" + s(b"c") + s(b"LUA"), b"\xf6" + s(b"c") + s(b"LUA") + b"\x01",
                 b"\xf6" + s(b"c") + s(b"LUA") + b"\x02" + s(code), b"\xf6" + s(b"c") + s(b"LUA") + b"\x00" + s(code),
                 b"\xf6" + s(b"d") + s(b"lua") + b"\x01" + s(b"about") + s(code.replace(b"rc", b"rd"))]:
        diff("FUNCTION", "RESTORE", rdb.wrap_payload(body))
    diff("FUNCTION", "LIST", "LIBRARYNAME", "c", "WITHCODE")
    diff("FUNCTION", "LIST", "LIBRARYNAME", "d", "WITHCODE")
    diff("FCALL", "rc", 0)


def _libraries(r: redis.Redis) -> dict[bytes, bytes]:
    out = {}
    for lib in r.execute_command("FUNCTION", "LIST", "WITHCODE"):
        fields = lib if isinstance(lib, dict) else dict(zip(lib[::2], lib[1::2]))
        out[fields[b"library_name"]] = fields[b"library_code"]
    return out


def test_payloads_move_between_redis_and_the_engine_both_ways(redis_proc: Proc, engine_proc: Proc) -> None:
    ref, eng = redis.Redis(port=redis_proc.port), redis.Redis(port=engine_proc.port)
    try:
        for r in (ref, eng):
            r.function_flush()
        for code in (BIG, ONE, TWO):
            ref.function_load(code)
        # Several libraries: Redis writes them in its hash table's order, so only the data is compared.
        assert eng.function_restore(ref.function_dump()) is True
        assert _libraries(eng) == _libraries(ref) and len(_libraries(eng)) == 3
        assert eng.fcall("f2", 0) == 2
        ref.function_flush()
        eng.function_delete("two")
        assert ref.function_restore(eng.function_dump()) is True
        assert _libraries(ref) == _libraries(eng) and set(_libraries(ref)) == {b"big", b"one"}
    finally:
        for r in (ref, eng):
            r.function_flush()
            r.close()


def test_a_restore_reaches_the_log_and_replays_on_a_fresh_node() -> None:
    node = EffectNode()
    node.run("FUNCTION", "LOAD", ONE)
    node.run("FUNCTION", "RESTORE", payload(TWO))
    node.run("FUNCTION", "RESTORE", payload(CLASH), "REPLACE")  # refused: f1 belongs to 'one'
    node.run("FUNCTION", "RESTORE", payload(BIG), "FLUSH")
    node.run("FUNCTION", "RESTORE", payload(ONE, TWO))
    entries = list(node.log.entries)
    fresh = EffectNode()
    fresh.run("FUNCTION", "LOAD", TWO)  # an older copy already holding a library: the replay still succeeds
    node.replay_into(fresh, entries)
    libraries = fresh.server.scripts.functions.libraries
    assert {n: lib.code for n, lib in libraries.items()} == {
        n: lib.code for n, lib in node.server.scripts.functions.libraries.items()}
    assert set(libraries) == {b"big", b"one", b"two"}

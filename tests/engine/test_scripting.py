"""EVAL, EVALSHA, EVAL_RO and SCRIPT against a real redis-server 7.0: replies,
Lua<->RESP conversions in both protocols, error texts, effects as one unit."""

from __future__ import annotations

import pytest

from .conftest import Differ
from .effects import EffectNode

LESSON = ("local n = tonumber(redis.call('GET', KEYS[1]) or '0') + tonumber(ARGV[1]) "
          "redis.call('SET', KEYS[1], n) return n")


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request: pytest.FixtureRequest, diff: Differ) -> Differ:
    if request.param == 3:
        diff.resp3()
    return diff


def test_it_runs_the_lessons_script_like_redis(d: Differ) -> None:
    d("EVAL", LESSON, "1", "stock:sku-42", "3")
    d("EVAL", LESSON, "1", "stock:sku-42", "3")
    d("GET", "stock:sku-42")


@pytest.mark.parametrize("body", [
    "return 1", "return {1,2,3,'x',nil,4}", "return 3.99", "return -3.99", "return true", "return false",
    "return nil", "return {err='My Error'}", "return {err='-My Error'}", "return redis.error_reply('x y')",
    "return redis.error_reply('ERR')", "return redis.status_reply('FINE')", "return {ok='a\\r\\nb'}",
    "return {err=1}", "return {double=3.5}", "return {map={a=1}}", "return {set={a=true}}",
    "return {big_number='123'}", "return {verbatim_string={format='txt',string='hi'}}",
    "return {1,{2,{3,{'x'}}}}", "local t = {} ; t[1]=1 ; t[3]=3 ; return t",
    "return redis.call('ping')", "return redis.sha1hex('')", "return redis.log(redis.LOG_WARNING,'x')",
    "return tostring(redis.REPL_ALL)..redis.REPL_NONE..redis.REPL_AOF..redis.REPL_REPLICA..redis.REPL_SLAVE",
    "return bit.band(7,3)", "return cjson.encode({1,2})", "return redis.replicate_commands()",
])
def test_it_converts_lua_values_like_redis(d: Differ, body: str) -> None:
    d("EVAL", body, "0")


@pytest.mark.parametrize("body", [
    "redis.setresp(3) return redis.call('hgetall','h')",
    "redis.setresp(3) return redis.call('zscore','z','a')",
    "redis.setresp(3) local r = redis.call('zscore','z','a') return {type(r), r.double}",
    "redis.setresp(3) return redis.call('get','missing')",
    "redis.setresp(3) local r = redis.call('hgetall','h') return r.map.f",
    "redis.setresp(3) return redis.call('smembers','s')",
    "redis.setresp(2) return redis.call('hgetall','h')",
    "return redis.call('zscore','z','a')",
    "return redis.call('get','missing') == false",
    "return redis.call('zrange','z',0,-1,'withscores')",
    "redis.setresp(3) return redis.call('zrange','z',0,-1,'withscores')",
    "return redis.setresp(4)",
])
def test_it_converts_replies_to_lua_in_the_scripts_protocol(d: Differ, body: str) -> None:
    d.many("""
        HSET h f v
        ZADD z 1.5 a
        SADD s m
    """)
    d("EVAL", body, "0")


@pytest.mark.parametrize("body", [
    "return redis.call('nosuch')", "return redis.pcall('nosuch')", "return redis.call('incr','x','y')",
    "redis.call('set','s','a'); return redis.call('incr','s')", "redis.call('set','s','a'); return redis.pcall('incr','s')",
    "x=1", "return y", "return 1 +", "error('boom')", "error({err='X boom'})", "error()",
    "return redis.call()", "return redis.call({})", "return redis.call('get',{})", "return redis.call('multi')",
    "return redis.call('eval','return 1',0)", "return redis.call('subscribe','c')",
    "return print", "return _G.x", "rawset(_G,'zz',1) return 1", "return redis.call('get', 'a', 'b')",
    "local ok,e = pcall(redis.call,'nosuch') return e", "return redis.call('shutdown')",
    "\nlocal a = 1\nreturn redis.call('nosuch')",
    "#!lua flags=no-writes\nreturn redis.call('set','a',1)", "#!lua flags=bad\nreturn 1", "#!luax\nreturn 1",
    "#!lua\nreturn x",
])
def test_it_answers_script_errors_like_redis(d: Differ, body: str) -> None:
    d("EVAL", body, "0")


def test_it_answers_eval_and_script_commands_like_redis(d: Differ) -> None:
    d.many("""
        EVAL "return {KEYS[1],ARGV[1],#KEYS,#ARGV}" 1 k a
        EVAL "return 1" x
        EVAL "return 1" -1
        EVAL "return 1" 2 a
        EVALSHA ffffffffffffffffffffffffffffffffffffffff 0
        EVALSHA fff 0
        SCRIPT LOAD "return 1"
        SCRIPT LOAD "return +"
        EVALSHA e0e1f9fabfc9d4800c877a703b823ac0578ff8db 0
        EVALSHA E0E1F9FABFC9D4800C877A703B823AC0578FF8DB 0
        EVALSHA_RO e0e1f9fabfc9d4800c877a703b823ac0578ff8db 0
        SCRIPT EXISTS e0e1f9fabfc9d4800c877a703b823ac0578ff8db ab
        SCRIPT KILL
        SCRIPT HELP
        SCRIPT FLUSH x
        SCRIPT FLUSH ASYNC
        SCRIPT EXISTS e0e1f9fabfc9d4800c877a703b823ac0578ff8db
        SCRIPT NOPE
        EVAL_RO "return redis.call('set','a','b')" 0
        EVAL_RO "return redis.pcall('set','a','b')" 0
        EVAL_RO "return redis.call('get','a')" 0
        EVAL "return redis.call('set',KEYS[1],1.5)" 1 fk
        GET fk
        EVAL "redis.call('select', 1) redis.call('set','in1','x') return redis.call('dbsize')" 0
        DBSIZE
        SELECT 1
        GET in1
    """)


def test_a_number_passed_to_redis_call_keeps_seventeen_digits_like_redis(d: Differ) -> None:
    # Redis formats a Lua number argument with %.17g: 0.1 is stored as 0.10000000000000001
    d("EVAL", "return redis.call('set', KEYS[1], 0.1)", "1", "num")
    d("GET", "num")
    d("EVAL", "return redis.call('set', KEYS[1], 123456789012345678)", "1", "big")
    d("GET", "big")


def test_each_script_starts_in_resp2_whatever_the_previous_one_chose(d: Differ) -> None:
    # redis.setresp lasts for its own script only: the next one sees RESP2 replies again
    d("EVAL", "redis.setresp(3) return 1", "0")
    d("EVAL", "return type(redis.call('get', 'missing'))", "0")


def test_a_scripts_effects_reach_the_log_as_one_unit_and_replay_to_the_same_data() -> None:
    node = EffectNode()
    node.run("EVAL", LESSON, 1, "stock:sku-42", 3)
    node.run("EVAL", "redis.call('rpush', KEYS[1], 'a', 'b') redis.call('select', 2) "
             "redis.call('set', 'other', 'x') return redis.call('lpop', KEYS[1])", 1, "l")
    node.run("EVAL", "return redis.call('get', KEYS[1])", 1, "stock:sku-42")  # read-only: no entry
    entries = list(node.log.entries)
    assert [batch[0] for _db, batch in entries] == [[b"MULTI"], [b"MULTI"]]
    assert all(batch[-1] == [b"EXEC"] for _db, batch in entries)
    assert entries[0][1][1] == [b"SET", b"stock:sku-42", b"3"]
    fresh = EffectNode()
    node.replay_into(fresh, entries)
    assert fresh.snapshot() == node.snapshot()
    assert node.snapshot()[2] == {b"other": b"x"}


def test_a_script_inside_exec_joins_the_transactions_unit() -> None:
    node = EffectNode()
    node.run("MULTI")
    node.run("EVAL", "return redis.call('incr', KEYS[1])", 1, "n")
    node.run("INCR", "n")
    assert node.run("EXEC") == [1, 2]
    assert node.effects() == [[b"MULTI"], [b"incr", b"n"], [b"INCR", b"n"], [b"EXEC"]]

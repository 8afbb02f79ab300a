"""Server administration against a real redis-server: CONFIG, INFO, SWAPDB, SLOWLOG,
MEMORY, TIME/LASTSAVE, FLUSHDB/FLUSHALL/DBSIZE, SHUTDOWN and the commands this
engine refuses (SAVE, BGSAVE, DEBUG, MONITOR) — plus the effects SWAPDB and the
flushes hand to the log."""

from __future__ import annotations

import socket
import time

import hiredis
import pytest

from sandbox.engine.commands.info import human_bytes
from sandbox.engine.commands.memory import value_size

from .conftest import Differ
from .effects import EffectNode
from .rawclient import RawClient
from .servers import Proc, engine_process


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request: pytest.FixtureRequest, diff: Differ) -> Differ:
    if request.param == 3:
        diff.resp3()
    return diff


def parse(frame: bytes) -> object:
    reader = hiredis.Reader()
    reader.feed(frame)
    return reader.gets()


# ---------------------------------------------------------------------------
# FLUSHDB / FLUSHALL / DBSIZE / SWAPDB


def test_it_flushes_like_redis(d: Differ) -> None:
    d.many("""
        SET a 1
        SELECT 1
        SET b 2
        DBSIZE
        FLUSHDB FOO
        FLUSHDB ASYNC extra
        FLUSHDB sync
        DBSIZE
        SELECT 0
        DBSIZE
        SET c 3
        FLUSHALL ASYNC
        DBSIZE
        FLUSHALL SYNC
        FLUSHALL bad
        DBSIZE extra
    """)


def test_it_swaps_databases_like_redis(d: Differ) -> None:
    d.many("""
        SET a in0
        SELECT 1
        SET b in1
        SWAPDB 0 1
        GET b
        GET a
        SELECT 0
        GET b
        SWAPDB 0 0
        GET b
        SWAPDB 0 16
        SWAPDB 16 0
        SWAPDB -1 0
        SWAPDB a 1
        SWAPDB 0 a
        SWAPDB 0 1.5
        SWAPDB 99999999999 0
        SWAPDB 0
        SWAPDB 0 1 2
        DBSIZE
    """)


def test_swapdb_invalidates_watchers_of_both_databases(redis_proc: Proc, engine_proc: Proc, diff: Differ) -> None:
    for port in (redis_proc.port, engine_proc.port):
        with RawClient(port) as watcher, RawClient(port) as other:
            watcher.call("SELECT", "1")
            assert watcher.call("WATCH", "k") == b"+OK\r\n"
            other.call("SET", "k", "v")  # db 0; db 1 receives it on swap
            assert other.call("SWAPDB", "0", "1") == b"+OK\r\n"
            watcher.call("MULTI")
            watcher.call("GET", "k")
            assert watcher.call("EXEC") == b"*-1\r\n", port


def test_swapdb_is_logged_as_itself_and_replays() -> None:
    node = EffectNode()
    node.run("SET", "a", "1")
    node.run("SELECT", "2")
    node.run("SET", "b", "2")
    node.run("SWAPDB", "0", "2")
    entries = list(node.log.entries)
    assert entries[-1] == (2, [[b"SWAPDB", b"0", b"2"]])
    replica = EffectNode()
    node.replay_into(replica, entries)
    assert replica.snapshot() == node.snapshot() == {0: {b"b": b"2"}, 2: {b"a": b"1"}}
    node.log.entries.clear()
    assert node.run("SWAPDB", "0", "99") is not None and node.effects() == []


def test_swapdb_is_refused_in_cluster_mode() -> None:
    node = EffectNode(cluster_enabled=True)
    assert node.run("SWAPDB", "0", "0").text == b"ERR SWAPDB is not allowed in cluster mode"
    assert node.effects() == []


def test_flushes_are_logged_and_replay() -> None:
    node = EffectNode()
    node.run("SET", "a", "1")
    node.run("SELECT", "1")
    node.run("SET", "b", "2")
    node.run("FLUSHDB", "ASYNC")
    node.run("SET", "c", "3")
    entries = list(node.log.entries)
    replica = EffectNode()
    node.replay_into(replica, entries)
    assert replica.snapshot() == node.snapshot() == {0: {b"a": b"1"}, 1: {b"c": b"3"}}
    node.log.entries.clear()
    node.run("FLUSHALL", "SYNC")
    assert node.effects() == [[b"FLUSHALL"]]
    node.run("FLUSHDB", "BAD")
    assert node.effects() == []


def test_admin_reads_log_nothing() -> None:
    node = EffectNode()
    for args in [("CONFIG", "SET", "hz", "11"), ("INFO",), ("TIME",), ("SLOWLOG", "RESET"),
                 ("MEMORY", "USAGE", "k"), ("CONFIG", "RESETSTAT"), ("LASTSAVE",), ("DBSIZE",)]:
        node.run(*args)
    assert node.effects() == []


# ---------------------------------------------------------------------------
# CONFIG


SAME_DEFAULTS = [
    "maxmemory", "maxmemory-policy", "hz", "timeout", "databases", "save", "appendonly",
    "lazyfree-lazy-user-del", "lazyfree-lazy-user-flush", "maxclients", "proto-max-bulk-len",
    "client-query-buffer-limit", "cluster-enabled", "replica-read-only", "min-replicas-to-write",
    "min-replicas-max-lag", "slowlog-log-slower-than", "slowlog-max-len", "notify-keyspace-events",
    "requirepass", "appendfsync",
]


def test_config_get_reads_parameters_like_redis(d: Differ) -> None:
    for name in SAME_DEFAULTS:
        d("CONFIG", "GET", name)
    d.many("""
        CONFIG GET HZ
        CONFIG GET hz HZ
        CONFIG GET nosuch
        CONFIG GET nosuch hz
        CONFIG GET
        CONFIG GET maxmemor?-policy
        CONFIG GET hz*
    """)


def test_config_get_matches_glob_patterns_case_insensitively(raw: RawClient) -> None:
    got = parse(raw.call("CONFIG", "GET", "MAXMEM*", "*-lazy-user-*", "maxmemory"))
    pairs = dict(zip(got[::2], got[1::2]))
    assert pairs == {b"maxmemory": b"0", b"maxmemory-policy": b"noeviction", b"maxmemory-samples": b"5",
                     b"lazyfree-lazy-user-del": b"no", b"lazyfree-lazy-user-flush": b"no"}
    raw.call("HELLO", "3")
    assert isinstance(parse(raw.call("CONFIG", "GET", "hz")), dict)
    assert len(parse(raw.call("CONFIG", "GET", "*"))) >= len(SAME_DEFAULTS)


def test_config_set_validates_like_redis(d: Differ) -> None:
    try:
        d.many("""
            CONFIG SET nosuch 1
            CONFIG SET NOSUCH 1
            CONFIG SET databases 3
            CONFIG SET DATABASES 3
            CONFIG SET cluster-enabled yes
            CONFIG SET hz abc
            CONFIG SET HZ abc
            CONFIG SET hz -1
            CONFIG SET hz " 5"
            CONFIG SET hz +5
            CONFIG SET hz 010
            CONFIG SET hz 5.0
            CONFIG SET hz 99999999999
            CONFIG SET timeout -1
            CONFIG SET maxmemory abc
            CONFIG SET maxmemory -1
            CONFIG SET maxmemory 1.5mb
            CONFIG SET maxmemory 1zb
            CONFIG SET maxmemory " 1mb"
            CONFIG SET maxmemory-policy nosuch
            CONFIG SET lazyfree-lazy-user-del maybe
            CONFIG SET min-replicas-to-write x
            CONFIG SET min-replicas-to-write -1
            CONFIG SET slowlog-log-slower-than -5
            CONFIG SET slowlog-max-len -1
            CONFIG SET proto-max-bulk-len 10
            CONFIG SET client-query-buffer-limit 1
            CONFIG SET maxclients 0
            CONFIG SET hz
            CONFIG SET hz 1 x
            CONFIG SET hz 5 hz 6
            CONFIG SET hz 5 HZ 6
            CONFIG SET hz abc nosuch 1
            CONFIG SET hz abc databases 1
            CONFIG SET databases 1 nosuch 2
            CONFIG SET maxmemory abc hz abc
            CONFIG SET hz 15 maxmemory abc
            CONFIG GET hz
            CONFIG GET maxmemory
        """)
    finally:
        d("CONFIG", "SET", "hz", "10", "maxmemory", "0")


def test_config_set_changes_parameters_like_redis(d: Differ) -> None:
    try:
        d.many("""
            CONFIG SET hz 0
            CONFIG GET hz
            CONFIG SET hz 1000
            CONFIG GET hz
            CONFIG SET HZ 12 maxmemory 1mb
            CONFIG GET hz
            CONFIG GET maxmemory
            CONFIG SET maxmemory 5K
            CONFIG GET maxmemory
            CONFIG SET maxmemory 1GB
            CONFIG GET maxmemory
            CONFIG SET maxmemory 100b
            CONFIG GET maxmemory
            CONFIG SET maxmemory 0
            CONFIG SET lazyfree-lazy-user-del YES
            CONFIG GET lazyfree-lazy-user-del
            CONFIG SET lazyfree-lazy-user-del no
            CONFIG SET maxmemory-policy NOEVICTION
            CONFIG GET maxmemory-policy
            CONFIG SET proto-max-bulk-len 1mb
            CONFIG GET proto-max-bulk-len
            CONFIG SET proto-max-bulk-len 512mb
            CONFIG SET slowlog-log-slower-than -1
            CONFIG SET slowlog-log-slower-than 10000
            CONFIG SET timeout 0 min-replicas-max-lag 10
        """)
    finally:
        d("CONFIG", "SET", "hz", "10", "maxmemory", "0", "proto-max-bulk-len", "512mb")


def test_config_set_requirepass_changes_the_password_auth_checks(raw: RawClient) -> None:
    try:
        assert raw.call("CONFIG", "SET", "requirepass", "s3cret") == b"+OK\r\n"
        assert raw.call("AUTH", "wrong").startswith(b"-WRONGPASS")
        assert raw.call("AUTH", "s3cret") == b"+OK\r\n"
    finally:
        raw.call("CONFIG", "SET", "requirepass", "")
    assert raw.call("AUTH", "x").startswith(b"-ERR AUTH <password> called without any password")


def test_config_set_requirepass_makes_new_connections_authenticate(engine_proc: Proc) -> None:
    with RawClient(engine_proc.port) as admin:
        assert admin.call("CONFIG", "SET", "requirepass", "s3cret") == b"+OK\r\n"
        try:
            with RawClient(engine_proc.port) as other:
                assert other.call("GET", "k") == b"-NOAUTH Authentication required.\r\n"
                assert other.call("AUTH", "s3cret") == b"+OK\r\n"
                assert other.call("CONFIG", "SET", "requirepass", "") == b"+OK\r\n"
        finally:
            with RawClient(engine_proc.port) as fix:
                fix.call("AUTH", "s3cret")
                fix.call("CONFIG", "SET", "requirepass", "")


def test_config_set_refuses_what_the_engine_cannot_do(raw: RawClient) -> None:
    assert raw.call("CONFIG", "SET", "port", "1") == (
        b"-ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config\r\n"
    )
    assert raw.call("CONFIG", "SET", "maxclients", "2000000").startswith(b"-ERR CONFIG SET failed")
    assert raw.call("CONFIG", "GET", "maxclients") == b"*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n"


def test_config_set_maxmemory_turns_on_oom_refusals(raw: RawClient) -> None:
    try:
        assert raw.call("CONFIG", "SET", "maxmemory", "1mb") == b"+OK\r\n"
        assert raw.call("SET", "k", "v") == b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"
        assert raw.call("DEL", "k") == b":0\r\n"  # not denyoom
    finally:
        raw.call("CONFIG", "SET", "maxmemory", "0")
    assert raw.call("SET", "k", "v") == b"+OK\r\n"


def test_config_subcommands_like_redis(d: Differ) -> None:
    d.many("""
        CONFIG HELP
        CONFIG REWRITE
        CONFIG RESETSTAT
        CONFIG RESETSTAT x
        CONFIG NOSUCH
        CONFIG
        CONFIG HELP x
    """)


# ---------------------------------------------------------------------------
# INFO


def test_info_empty_and_unknown_sections_like_redis(d: Differ) -> None:
    d.many("""
        INFO nosuch
        INFO keyspace
        INFO KEYSPACE nosuch
        INFO cluster
    """)


def _sections(text: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in text.split("\r\n"):
        if line.startswith("# "):
            current = out.setdefault(line[2:], {})
        elif line:
            key, _, value = line.partition(":")
            current[key] = value
    return out


def test_info_sections_order_and_field_names_follow_redis(redis_proc: Proc, raw: RawClient) -> None:
    with RawClient(redis_proc.port) as ref:
        theirs_default = parse(ref.call("INFO")).decode()
        theirs_all = parse(ref.call("INFO", "everything")).decode()
    ours_default = parse(raw.call("INFO")).decode()
    assert "\n" not in ours_default.replace("\r\n", "")
    assert [s for s in _sections(ours_default)] == [s for s in _sections(theirs_default)]
    ours_all, redis_all = _sections(parse(raw.call("INFO", "all")).decode()), _sections(theirs_all)
    assert list(ours_all) == list(redis_all)
    for section, fields in ours_all.items():
        if section in ("Keyspace", "Commandstats", "Errorstats", "Latencystats"):
            continue  # one line per key space, command or error each server saw
        names = list(redis_all[section])
        ours = list(fields)
        assert set(ours) <= set(names), (section, set(ours) - set(names))
        assert ours == [n for n in names if n in fields], section  # Redis's order
    assert parse(raw.call("INFO", "cpu", "server", "CPU")).decode().startswith("# Server\r\n")


def test_info_reports_the_node(raw: RawClient, engine_proc: Proc) -> None:
    raw.call("SET", "a", "1")
    raw.call("SET", "b", "2", "EX", "100")
    raw.call("SELECT", "3")
    raw.call("SET", "c", "3")
    info = _sections(parse(raw.call("INFO", "everything")).decode())
    assert info["Server"]["redis_version"] == "7.0.15"
    assert info["Server"]["tcp_port"] == str(engine_proc.port)
    assert info["Server"]["process_id"] == str(engine_proc.pid)
    assert len(info["Server"]["run_id"]) == 40
    assert info["Server"]["redis_mode"] == "standalone" and info["Server"]["arch_bits"] == "64"
    assert int(info["Clients"]["connected_clients"]) >= 1
    used = int(info["Memory"]["used_memory"])
    assert used > 1_000_000 and info["Memory"]["used_memory_human"] == human_bytes(used)
    assert info["Memory"]["maxmemory_policy"] == "noeviction"
    assert info["Persistence"]["loading"] == "0" and info["Persistence"]["aof_enabled"] == "0"
    assert int(info["Persistence"]["rdb_changes_since_last_save"]) >= 3
    assert int(info["Stats"]["total_commands_processed"]) > 4
    assert info["Replication"]["role"] == "master" and len(info["Replication"]["master_replid"]) == 40
    assert float(info["CPU"]["used_cpu_user"]) > 0
    assert info["Cluster"]["cluster_enabled"] == "0"
    assert info["Keyspace"] == {"db0": "keys=2,expires=1,avg_ttl=0", "db3": "keys=1,expires=0,avg_ttl=0"}


def test_info_counts_commands_and_resetstat_clears_them(raw: RawClient) -> None:
    def processed() -> int:
        return int(_sections(parse(raw.call("INFO", "stats")).decode())["Stats"]["total_commands_processed"])

    before = processed()
    for _ in range(5):
        raw.call("PING")
    assert processed() >= before + 6
    raw.call("CONFIG", "RESETSTAT")
    assert processed() <= 3


def test_info_is_verbatim_text_in_resp3(raw: RawClient) -> None:
    raw.call("HELLO", "3")
    reply = raw.call("INFO", "server")
    assert reply.startswith(b"=") and b"\r\ntxt:# Server\r\nredis_version:7.0.15\r\n" in reply


def test_human_bytes_matches_redis_units() -> None:
    assert [human_bytes(n) for n in (0, 1023, 1024, 1536, 1024**2, 5 * 1024**3, 1024**4, 1024**5)] == [
        "0B", "1023B", "1.00K", "1.50K", "1.00M", "5.00G", "1.00T", "1.00P"]


# ---------------------------------------------------------------------------
# TIME, LASTSAVE, SLOWLOG, MEMORY


def test_time_and_lastsave(d: Differ, raw: RawClient) -> None:
    d.many("""
        TIME x
        LASTSAVE x
    """)
    seconds, micros = parse(raw.call("TIME"))
    assert abs(int(seconds) - time.time()) < 5 and 0 <= int(micros) < 1_000_000
    assert 0 < parse(raw.call("LASTSAVE")) <= time.time() + 1


def test_slowlog_like_redis(d: Differ) -> None:
    d.many("""
        SLOWLOG RESET
        SLOWLOG LEN
        SLOWLOG GET
        SLOWLOG GET -1
        SLOWLOG GET 0
        SLOWLOG GET 5
        SLOWLOG GET abc
        SLOWLOG GET -2
        SLOWLOG GET 1 2
        SLOWLOG HELP
        SLOWLOG NOSUCH
        SLOWLOG
        SLOWLOG LEN x
        SLOWLOG RESET x
    """)


def test_memory_errors_and_help_like_redis(d: Differ) -> None:
    d.many("""
        MEMORY USAGE nokey
        MEMORY USAGE nokey SAMPLES 5
        SET k v
        MEMORY USAGE k SAMPLES
        MEMORY USAGE k SAMPLES x
        MEMORY USAGE k SAMPLES -1
        MEMORY USAGE k FOO 1
        MEMORY USAGE
        MEMORY HELP
        MEMORY NOSUCH
        MEMORY
        MEMORY PURGE
        MEMORY DOCTOR x
        MEMORY STATS x
    """)


def test_memory_usage_estimates_grow_with_the_value(raw: RawClient) -> None:
    raw.call("SET", "small", "x")
    raw.call("SET", "big", "x" * 10000)
    raw.call("RPUSH", "list", *[str(i) for i in range(100)])
    small, big = parse(raw.call("MEMORY", "USAGE", "small")), parse(raw.call("MEMORY", "USAGE", "big"))
    assert 0 < small < 200 < 10000 < big < 11000
    sampled = parse(raw.call("MEMORY", "USAGE", "list"))
    exact = parse(raw.call("MEMORY", "USAGE", "list", "SAMPLES", "0"))
    assert sampled > 100 * 30 and abs(sampled - exact) < exact * 0.2
    assert value_size(b"h", {b"f": b"v"}, 0) > value_size(b"h", {}, 0)


def test_memory_stats_doctor_and_allocator(raw: RawClient) -> None:
    raw.call("SET", "k", "v")
    for proto in (2, 3):
        raw.call("HELLO", str(proto))
        stats = parse(raw.call("MEMORY", "STATS"))
        if proto == 2:
            stats = dict(zip(stats[::2], stats[1::2]))
        assert stats[b"keys.count"] == 1 and stats[b"total.allocated"] > 0 and b"db.0" in stats
        assert isinstance(stats[b"dataset.percentage"], (bytes if proto == 2 else float))
        assert b"Sam" in parse(raw.call("MEMORY", "DOCTOR"))
    assert parse(raw.call("MEMORY", "MALLOC-STATS")) == b"Stats not supported for the current allocator"


# ---------------------------------------------------------------------------
# Refused commands and SHUTDOWN


def test_refused_commands_check_their_arguments_like_redis(d: Differ) -> None:
    d.many("""
        SAVE x
        BGSAVE FOO
        BGSAVE SCHEDULE x
        BGREWRITEAOF x
        DEBUG
        MONITOR x
        SHUTDOWN FOO
        SHUTDOWN NOSAVE SAVE
        SHUTDOWN ABORT
        SHUTDOWN ABORT NOW
        SHUTDOWN NOW ABORT
        MULTI
        SHUTDOWN
        SAVE
        EXEC
    """)


def test_snapshots_debug_and_monitor_are_refused_clearly(raw: RawClient) -> None:
    for args in [("SAVE",), ("BGSAVE",), ("BGSAVE", "SCHEDULE")]:
        assert b"snapshots off-node" in raw.call(*args)
    assert raw.call("BGREWRITEAOF").startswith(b"-ERR BGREWRITEAOF is not available")
    assert raw.call("DEBUG", "SLEEP", "0") == b"-ERR DEBUG is not supported by this engine\r\n"
    assert raw.call("MONITOR") == b"-ERR MONITOR is not supported by this engine\r\n"
    assert raw.call("PING") == b"+PONG\r\n"


def test_shutdown_stops_the_node_without_a_reply() -> None:
    with engine_process() as proc:
        with RawClient(proc.port) as admin, RawClient(proc.port) as bystander:
            assert admin.call("SET", "k", "v") == b"+OK\r\n"
            admin.send(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
            assert admin.read_closed() and admin.buf == b""
            assert bystander.read_closed()
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", proc.port), timeout=0.2).close()
            except OSError:
                break
            assert time.monotonic() < deadline, "the node still accepts connections"
            time.sleep(0.05)

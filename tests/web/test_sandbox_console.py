"""The console's text and the protocol's checks, without a sandbox: command lines
split as redis-cli splits them, replies printed exactly as redis-cli prints them
(compared with the real redis-cli against a real engine node), refusals that say
why, help built from COMMAND DOCS, message validation, rate limits, the event log,
and the ledger's arithmetic for counters that lost increments."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.conf import SandboxLimits
from sandbox.console import (
    CONSOLE_MAX_BLOCK_MS,
    BadCommandLine,
    docs_from_reply,
    format_for,
    memorydb_view,
    refusal,
    split_args,
)
from sandbox.events import EventLog
from sandbox.health import _read_ready_line, _stop
from sandbox.load import Ledger, Write, _lost_counter_acks, schedule, write_for
from sandbox.protocol import ClientError, TokenBucket, schemas, validate
from sandbox.resp import ErrorReply, NodeLink, ReplyParser, Status

ROOT = Path(__file__).resolve().parents[2]


# --- command lines ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "args"),
    [
        ("SET k v", [b"SET", b"k", b"v"]),
        ("  get   k  ", [b"get", b"k"]),
        ('SET k "two words"', [b"SET", b"k", b"two words"]),
        ('SET k "tab\\there\\x41\\n"', [b"SET", b"k", b"tab\there" + b"A\n"]),
        ("SET k 'it\\'s'", [b"SET", b"k", b"it's"]),
        ('SET k "\\xff"', [b"SET", b"k", b"\xff"]),
        ("SET k é", [b"SET", b"k", "é".encode()]),
        ('SET k ""', [b"SET", b"k", b""]),
        ("", []),
    ],
)
def test_it_splits_a_line_as_redis_cli_does(line: str, args: list[bytes]) -> None:
    assert split_args(line) == args


@pytest.mark.parametrize("line", ['SET k "open', "SET k 'open", 'SET k "a"b', "SET k 'a'b"])
def test_it_refuses_a_line_redis_cli_refuses(line: str) -> None:
    with pytest.raises(BadCommandLine):
        split_args(line)


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "SHUTDOWN", "shutdown NOSAVE", "DEBUG SLEEP 0", "CONFIG SET dir /tmp",
        "CONFIG SET dbfilename x.rdb", "config set maxmemory-policy allkeys-lru requirepass x",
        "CONFIG REWRITE", "MIGRATE h 1 k 0 1", "MODULE LOAD /x.so", "REPLICAOF NO ONE",
        "SLAVEOF h 1", "CLUSTER SETTOPOLOGY {}", "CLUSTER FAILOVER", "CLUSTER ADDSLOTS 1",
        "CLUSTER MEET h 1", "CLUSTER RESET", "ACL SETUSER bob on", "ACL DELUSER bob",
        "ACL LOAD", "ACL SAVE", "BGSAVE", "SAVE", "BGREWRITEAOF", "SYNC", "PSYNC ? -1",
        "MONITOR", "SUBSCRIBE ch", "AUTH x", "HELLO 3", "RESET", "QUIT", "FAILOVER",
        # MemoryDB restricts CONFIG altogether and runs only the read side of ACL
        "CONFIG GET maxmemory", "CONFIG SET maxmemory-policy allkeys-lru", "CONFIG RESETSTAT", "CONFIG",
        "ACL GETUSER default", "ACL LOG", "ACL DRYRUN u GET k", "ACL GENPASS", "ACL",
        # a block longer than the console waits for a reply
        "XREAD BLOCK 0 STREAMS s $", "xread count 1 block 60000 streams s 0",
        "XREADGROUP GROUP g c BLOCK 0 STREAMS s >", "XREADGROUP GROUP g c NOACK BLOCK 5001 STREAMS s >",
    ],
)  # fmt: skip
def test_it_refuses_what_a_sandbox_must_not_run_and_says_why(line: str) -> None:
    why = refusal(split_args(line))
    assert why and len(why) > 20


@pytest.mark.parametrize(
    "line",
    [
        "FLUSHALL", "SET k v", "CLUSTER INFO", "CLUSTER SLOTS", "CLUSTER KEYSLOT k",
        "ACL WHOAMI", "ACL USERS", "ACL CAT", "ACL CAT sortedset", "acl list", "INFO replication", "WAIT 1 100", "EVAL 'return 1' 0", "CLIENT LIST",
        "XADD s * f v", "XREAD STREAMS s 0", "XREAD BLOCK 5000 STREAMS s $", "XREAD BLOCK x STREAMS s 0",
        "XREADGROUP GROUP block c BLOCK 100 STREAMS s >", "XREAD STREAMS BLOCK 0 0 0", "XGROUP CREATE s g $ MKSTREAM",
    ],
)  # fmt: skip
def test_it_lets_everything_else_through(line: str) -> None:
    assert refusal(split_args(line)) is None


def test_a_long_blocking_read_is_refused_with_the_console_limit_named() -> None:
    why = refusal(split_args("XREAD BLOCK 0 STREAMS orders $"))
    assert why is not None and "BLOCK 0 would wait forever" in why and f"BLOCK {CONSOLE_MAX_BLOCK_MS} or less" in why
    assert CONSOLE_MAX_BLOCK_MS < SandboxLimits(root_dir=Path("/nonexistent")).console_timeout_seconds * 1000


def test_acl_list_leaves_out_password_hashes_as_memorydb_does() -> None:
    digest = b"#" + b"5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
    lines = [b"user app on " + digest + b" ~* &* +@all", b"user default off nopass sanitize-payload ~* &* +@all"]
    shown = memorydb_view(split_args("ACL LIST"), lines)
    assert shown == [b"user app on ~* &* +@all", b"user default off nopass sanitize-payload ~* &* +@all"]
    assert memorydb_view(split_args("ACL USERS"), [b"app"]) == [b"app"]
    assert memorydb_view(split_args("GET k"), digest) == digest


# --- replies, compared with the real redis-cli ----------------------------------------------


def start_engine() -> tuple[subprocess.Popen[bytes], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.engine", "server", "--port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0,
        start_new_session=True,  # health._stop signals the process group
    )
    assert process.stdout is not None
    ready = _read_ready_line(process, process.stdout, 15, open("/dev/null", "rb"))  # type: ignore[arg-type]
    return process, ready["port"]


@pytest.fixture(scope="module")
def engine_ports() -> Iterator[tuple[int, int]]:
    """Two engine nodes given the same commands: ours on one, redis-cli on the other
    (running a write twice on one node would change its reply)."""
    first, first_port = start_engine()
    try:
        second, second_port = start_engine()
        try:
            yield first_port, second_port
        finally:
            _stop(second)
    finally:
        _stop(first)


def redis_cli(port: int, *args: str) -> str:
    # --no-raw: format as on a terminal, which is what the web console imitates.
    return subprocess.run(
        ["redis-cli", "-p", str(port), "--no-raw", *args], capture_output=True, text=True,
        check=True,
    ).stdout


async def our_console(port: int, *args: str) -> str:
    link = await NodeLink.open("127.0.0.1", port, "")
    try:
        return format_for([a.encode() for a in args], await link.call(*args))
    finally:
        link.close()


@pytest.mark.parametrize(
    "command",
    [
        ("SET", "k", "v"), ("GET", "k"), ("GET", "missing"), ("INCR", "n"), ("INCR", "k"),
        ("DEL", "l", "z", "h"), ("RPUSH", "l", "a", "b c", "quote\"d", "new\nline", "\x01"),
        ("LRANGE", "l", "0", "-1"), ("LRANGE", "none", "0", "-1"),
        ("ZADD", "z", "1", "a", "2.5", "b"), ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
        ("HSET", "h", "f", "v"), ("HGETALL", "h"), ("COMMAND", "INFO", "GET", "SET"),
        ("PING",), ("TYPE", "z"), ("NOSUCHCOMMAND",),
        # reports redis-cli prints raw even on a terminal
        ("INFO", "keyspace"), ("info", "Keyspace"), ("CLUSTER", "INFO"), ("LATENCY", "DOCTOR"),
        ("CLIENT", "NOSUCH"),
        # streams: nested arrays, a nil entry body, a map-like info reply
        ("XADD", "st", "1-1", "item", "book", "qty", "2"), ("XADD", "st", "2-1", "item", "pen"),
        ("XRANGE", "st", "-", "+"), ("XREVRANGE", "st", "+", "-", "COUNT", "1"), ("XLEN", "st"),
        ("XGROUP", "CREATE", "st", "g", "0"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "st", ">"),
        ("XDEL", "st", "1-1"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "st", "0"), ("XINFO", "GROUPS", "st"),
        ("XREAD", "BLOCK", "50", "STREAMS", "st", "$"), ("XPENDING", "st", "g"), ("XINFO", "STREAM", "st"),
    ],
)  # fmt: skip
def test_replies_look_exactly_as_redis_cli_prints_them(
    engine_ports: tuple[int, int], command: tuple[str, ...]
) -> None:
    ours = asyncio.run(our_console(engine_ports[0], *command))
    assert ours == redis_cli(engine_ports[1], *command)


def test_the_parser_waits_for_more_bytes_and_keeps_reply_types() -> None:
    parser = ReplyParser()
    parser.feed(b"*3\r\n+OK\r\n$3\r\nab")
    assert parser.gets() == (False, None)
    parser.feed(b"c\r\n-ERR no\r\n")
    complete, reply = parser.gets()
    assert complete and reply == ["OK", b"abc", "ERR no"]
    assert isinstance(reply[0], Status) and isinstance(reply[2], ErrorReply)  # type: ignore[index]


# --- help from COMMAND DOCS ------------------------------------------------------------------


def test_help_is_built_from_the_engines_command_docs(engine_ports: tuple[int, int]) -> None:
    async def docs() -> dict[str, Any]:
        link = await NodeLink.open("127.0.0.1", engine_ports[0], "")
        try:
            return docs_from_reply(await link.call("COMMAND", "DOCS"))
        finally:
            link.close()

    table = asyncio.run(docs())
    assert table["GET"]["syntax"] == "key"
    assert table["GET"]["summary"]
    assert table["SET"]["syntax"].startswith("key value [NX | XX] [GET]")
    assert table["ZADD"]["syntax"].endswith("score member [score member ...]")
    assert table["XADD"]["syntax"].startswith("key [NOMKSTREAM]")
    assert table["XADD"]["syntax"].endswith("field value [field value ...]")
    assert "BLOCK milliseconds" in table["XREAD"]["syntax"] and table["XGROUP CREATE"]["summary"]
    assert "CONFIG GET" in table and table["CONFIG GET"]["summary"]


# --- messages -------------------------------------------------------------------------------


LIMITS = SandboxLimits(root_dir=Path("/nonexistent"))
TABLE = schemas(LIMITS)


def test_a_valid_message_comes_back_cleaned() -> None:
    kind, fields = validate({"type": "command", "cluster": "cache", "line": "GET k", "id": 7}, TABLE)
    assert (kind, fields) == ("command", {"cluster": "cache", "line": "GET k", "id": 7})
    kind, fields = validate({"type": "fault", "action": "kill_primary", "prediction": 4}, TABLE)
    assert fields == {"action": "kill_primary", "prediction": 4}
    kind, fields = validate({"type": "load_start", "rate": 10, "mix": {"xadd": 5}}, TABLE)
    assert fields["mix"] == {"set": 0, "incr": 0, "zadd": 0, "xadd": 5}


@pytest.mark.parametrize(
    ("message", "code", "field"),
    [
        ({"type": "nope"}, "unknown_type", None),
        ({"no": "type"}, "unknown_type", None),
        ("text", "bad_json", None),
        ({"type": "command", "cluster": "durable", "line": "x"}, "bad_field", "id"),
        ({"type": "command", "cluster": "durable", "line": 5, "id": 1}, "bad_field", "line"),
        ({"type": "command", "cluster": "durable", "line": "x" * 5000, "id": 1}, "bad_field", "line"),
        ({"type": "command", "cluster": "durable", "line": "x", "id": -1}, "bad_field", "id"),
        ({"type": "start", "shards": 4}, "bad_field", "shards"),
        ({"type": "start", "replicas": 3}, "bad_field", "replicas"),
        ({"type": "start", "delay_ms": 5000}, "bad_field", "delay_ms"),
        ({"type": "load_start", "rate": 0}, "bad_field", "rate"),
        ({"type": "load_start", "rate": 10, "mix": {"hset": 1}}, "bad_field", "mix"),
        ({"type": "load_start", "rate": 10, "mix": {"xadd": 101}}, "bad_field", "mix.xadd"),
        ({"type": "fault", "action": "format_disk"}, "bad_field", "action"),
        ({"type": "fault", "action": "pause", "seconds": 600}, "bad_field", "seconds"),
        ({"type": "fault", "action": "kill_primary", "node": "../../etc"}, "bad_field", "node"),
        ({"type": "check", "lesson": "Bad Slug!"}, "bad_field", "lesson"),
        ({"type": "ping", "extra": 1}, "bad_field", "extra"),
        ({"type": "hello", "sandbox_id": 3}, "bad_field", "sandbox_id"),
    ],
)  # fmt: skip
def test_it_refuses_a_malformed_message_whole(message: Any, code: str, field: str | None) -> None:
    with pytest.raises(ClientError) as raised:
        validate(message, TABLE)
    assert raised.value.code == code
    assert raised.value.detail.get("field") == field


def test_the_token_bucket_refills_with_the_injected_clock() -> None:
    now = [100.0]
    bucket = TokenBucket(rate=2, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5
    assert bucket.take() is True
    assert bucket.take() is False
    now[0] += 60
    assert sum(bucket.take() for _ in range(10)) == 3


# --- the event log --------------------------------------------------------------------------


def test_the_event_log_replays_what_was_missed_or_asks_for_a_reset() -> None:
    log = EventLog(size=5, first_seq=40, clock=lambda: 1.0)
    records = [log.append({"event": f"e{i}"}) for i in range(8)]
    assert [r["seq"] for r in records] == list(range(41, 49))
    assert [r["seq"] for r in log.since(45, log.log_id) or []] == [46, 47, 48]
    assert log.since(48, log.log_id) == []
    assert log.since(42, log.log_id) is None, "43 fell out of the window"
    assert log.since(45, "another-log") is None
    assert log.since(99, log.log_id) is None


# --- the ledger's counters and the write mix ------------------------------------------------


def test_a_counter_that_restarted_from_an_older_value_counts_the_lost_increments() -> None:
    # Acknowledged 1..4, then the new primary only had 1: the next INCR answered 2.
    entries = [(1, 10.0), (2, 20.0), (3, 30.0), (4, 40.0), (2, 50.0), (3, 60.0)]
    assert _lost_counter_acks(entries, current=3) == [20.0, 30.0, 40.0]
    assert _lost_counter_acks(entries[:4], current=4) == []
    assert _lost_counter_acks(entries[:4], current=2) == [30.0, 40.0]


def test_the_write_mix_is_spread_evenly() -> None:
    order = schedule({"set": 60, "incr": 20, "zadd": 20})
    assert len(order) == 100
    assert (order.count("set"), order.count("incr"), order.count("zadd")) == (60, 20, 20)
    assert "set set set set" not in " ".join(order)
    order = schedule({"set": 40, "incr": 20, "zadd": 20, "xadd": 20})
    assert [order.count(k) for k in ("set", "incr", "zadd", "xadd")] == [40, 20, 20, 20]


def test_an_xadd_write_is_the_same_for_both_clusters_and_the_ledger_keeps_each_clusters_id() -> None:
    first, again = write_for(41, "xadd"), write_for(41, "xadd")
    assert first == again == Write(41, "xadd", "load:events:1", ("XADD", "load:events:1", "*", "n", 41))
    assert {write_for(n, "xadd").key for n in range(8)} == {f"load:events:{i}" for i in range(4)}
    durable, cache = Ledger("durable"), Ledger("cache")
    durable.record(first, b"1700000000000-0", 1.0, 0.5)
    cache.record(first, b"1700000000003-2", 2.0, 0.7)
    assert durable.xadds == {"load:events:1": [(b"1700000000000-0", 41, 1.0)]}
    assert cache.xadds == {"load:events:1": [(b"1700000000003-2", 41, 2.0)]}
    assert durable.acknowledged == cache.acknowledged == 1


def test_an_xadd_is_kept_only_if_its_id_still_holds_its_own_fields() -> None:
    """After a failover a new primary may give a lost entry's ID to a later write:
    the verdict reads each acknowledged ID back and compares the fields too."""

    class Stream:
        def __init__(self, entries: dict[bytes, list[bytes]]) -> None:
            self.entries = entries
            self.calls: list[tuple[Any, ...]] = []

        async def route(self, key: str, *args: Any) -> Any:
            self.calls.append(args)
            assert args[0] == "XRANGE" and args[1] == key
            return [[i, f] for i, f in sorted(self.entries.items()) if args[2] <= i <= args[3]]

    ledger = Ledger("cache")
    for n, entry_id in ((15, b"6-0"), (3, b"5-0"), (7, b"5-1"), (11, b"5-2")):  # all to load:events:3
        ledger.record(write_for(n, "xadd"), entry_id, float(n), 0.1)
    assert set(ledger.xadds) == {"load:events:3"}
    stream = Stream({b"5-0": [b"n", b"3"], b"5-1": [b"n", b"7"], b"5-2": [b"n", b"99"], b"6-0": [b"n", b"15"]})
    result = asyncio.run(ledger.verify(stream, crash_ms=None))  # type: ignore[arg-type]
    assert result["lost"] == 1 and result["lost_by_kind"]["xadd"] == 1
    assert result["lost_keys"] == ["load:events:3 5-2"]  # the ID is there, with another write's fields
    assert stream.calls == [("XRANGE", "load:events:3", b"5-0", b"6-0")]  # one read, in ID order

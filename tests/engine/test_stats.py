"""INFO stats, commandstats and errorstats counted as redis-server 7.0 counts them for
the same scripted sequence (counts compared, not times), CONFIG RESETSTAT, and a
slow log that records slow commands."""

from __future__ import annotations

import re
from typing import Iterator

import pytest

from .conftest import Differ
from .rawclient import RawClient

_SCRIPT = """
    SET a 1
    GET a
    GET missing
    MGET a missing b
    EXISTS a missing
    HSET h f v
    HGET h f
    HGET nohash f
    TYPE a
    INCR a
    DEL a
    GET a
    LPUSH h x
    INCR h
    NOSUCHCOMMAND
    GET
    CONFIG SET maxclients abc
    CONFIG GET
    OBJECT ENCODING
"""


def _fields(raw: bytes) -> dict[str, str]:
    text = raw.split(b"\r\n", 1)[1].decode()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _counts(fields: dict[str, str]) -> dict[str, str]:
    """commandstats lines without their times."""
    return {k: re.sub(r"usec=\d+,usec_per_call=[\d.]+,", "", v) for k, v in fields.items()}


@pytest.fixture
def fresh(diff: Differ) -> Iterator[Differ]:
    for c in (diff.ref, diff.eng):
        c.call("CONFIG", "RESETSTAT")
    yield diff
    for c in (diff.ref, diff.eng):
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        c.call("SLOWLOG", "RESET")


def _run_script(d: Differ) -> None:
    import shlex

    for line in _SCRIPT.strip().splitlines():
        args = shlex.split(line)
        assert d.ref.call(*args) == d.eng.call(*args), args


def test_keyspace_hits_and_misses_count_reads_as_redis_does(fresh: Differ) -> None:
    _run_script(fresh)
    ref, eng = _fields(fresh.ref.call("INFO", "stats")), _fields(fresh.eng.call("INFO", "stats"))
    for name in ("keyspace_hits", "keyspace_misses", "total_error_replies", "evicted_keys"):
        assert eng[name] == ref[name], name


def test_errorstats_count_errors_by_prefix_like_redis(fresh: Differ) -> None:
    _run_script(fresh)
    assert _fields(fresh.eng.call("INFO", "errorstats")) == _fields(fresh.ref.call("INFO", "errorstats"))


def test_commandstats_count_calls_rejections_and_failures_like_redis(fresh: Differ) -> None:
    _run_script(fresh)
    ref = _counts(_fields(fresh.ref.call("INFO", "commandstats")))
    eng = _counts(_fields(fresh.eng.call("INFO", "commandstats")))
    ref.pop("cmdstat_info", None)
    eng.pop("cmdstat_info", None)
    assert eng == ref
    assert re.fullmatch(r"calls=3,usec=\d+,usec_per_call=[\d.]+,rejected_calls=1,failed_calls=0",
                        _fields(fresh.eng.call("INFO", "commandstats"))["cmdstat_get"])


def test_config_resetstat_clears_the_counters(fresh: Differ) -> None:
    _run_script(fresh)
    for c in (fresh.ref, fresh.eng):
        c.call("CONFIG", "RESETSTAT")
    ref, eng = _fields(fresh.ref.call("INFO", "everything")), _fields(fresh.eng.call("INFO", "everything"))
    for name in ("keyspace_hits", "keyspace_misses", "total_error_replies"):
        assert eng[name] == ref[name] == "0"
    assert not [k for k in eng if k.startswith("errorstat_")]
    assert {k for k in eng if k.startswith("cmdstat_")} == {k for k in ref if k.startswith("cmdstat_")}


def test_the_slowlog_records_commands_slower_than_the_threshold(fresh: Differ) -> None:
    eng = fresh.eng
    eng.call("SLOWLOG", "RESET")
    eng.call("SET", "k", "v")
    assert eng.call("SLOWLOG", "LEN") == b":0\r\n"
    eng.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
    eng.call("SET", "k", "x" * 200)
    eng.call("CONFIG", "SET", "slowlog-max-len", "2")
    eng.call("GET", "k")
    eng.call("GET", "k")
    assert eng.call("SLOWLOG", "LEN") == b":2\r\n"
    entries = eng.call("SLOWLOG", "GET", "-1")
    assert b"$3\r\nGET\r\n" in entries and b"... (72 more bytes)" not in entries
    eng.call("SLOWLOG", "RESET")
    eng.call("SET", "k", "x" * 200)
    assert b"... (72 more bytes)" in eng.call("SLOWLOG", "GET")
    eng.call("CONFIG", "SET", "slowlog-max-len", "128")


def test_a_command_under_the_threshold_stays_out_of_the_slowlog(raw: RawClient) -> None:
    raw.call("SLOWLOG", "RESET")
    raw.call("CONFIG", "SET", "slowlog-log-slower-than", "1000000")
    raw.call("SET", "k", "v")
    assert raw.call("SLOWLOG", "LEN") == b":0\r\n"
    raw.call("CONFIG", "SET", "slowlog-log-slower-than", "10000")

"""LATENCY against redis-server 7.0 (HELP, empty answers, errors, HISTOGRAM's shape),
the latency monitor recording a real slow command, and FAILOVER refused with the
sandbox's reason."""

from __future__ import annotations

import time
from typing import Iterator

import hiredis
import pytest

from sandbox.engine import errors

from .conftest import Differ
from .effects import EffectNode
from .rawclient import RawClient


def parse(frame: bytes) -> object:
    reader = hiredis.Reader()
    reader.feed(frame)
    return reader.gets()


@pytest.fixture
def d(diff: Differ) -> Iterator[Differ]:
    for c in (diff.ref, diff.eng):
        c.call("LATENCY", "RESET")
        c.call("CONFIG", "RESETSTAT")
    yield diff
    for c in (diff.ref, diff.eng):
        c.call("CONFIG", "SET", "latency-monitor-threshold", "0")
        c.call("LATENCY", "RESET")


def test_latency_answers_like_redis_when_nothing_was_slow(d: Differ) -> None:
    d.many("""
        LATENCY HELP
        LATENCY LATEST
        LATENCY HISTORY command
        LATENCY GRAPH command
        LATENCY RESET
        LATENCY RESET command nosuch
        LATENCY DOCTOR
        LATENCY NOSUCH
        LATENCY HISTORY
        LATENCY HISTOGRAM nosuchcommand
    """)
    d("CONFIG", "SET", "latency-monitor-threshold", "100")
    d("LATENCY", "DOCTOR")


@pytest.mark.parametrize("resp", [2, 3])
def test_latency_histogram_has_redis_shape(d: Differ, resp: int) -> None:
    if resp == 3:
        d.resp3()
    d.many("""
        SET a 1
        GET a
        GET a
        CONFIG GET maxclients
    """)
    for args in (("LATENCY", "HISTOGRAM", "get", "set"), ("LATENCY", "HISTOGRAM", "config"), ("LATENCY", "HISTOGRAM")):
        ref, eng = parse(d.ref.call(*args)), parse(d.eng.call(*args))
        as_dict = (lambda r: r) if resp == 3 else (lambda r: dict(zip(r[::2], r[1::2])))
        ref_map, eng_map = as_dict(ref), as_dict(eng)
        names = set(ref_map) - {b"latency|histogram"}
        assert names == set(eng_map) - {b"latency|histogram"}
        for name in names:
            r, e = as_dict(ref_map[name]), as_dict(eng_map[name])
            assert list(r) == list(e) == [b"calls", b"histogram_usec"]
            assert r[b"calls"] == e[b"calls"]
            buckets = as_dict(e[b"histogram_usec"])
            assert max(buckets.values()) == e[b"calls"]


def test_the_latency_monitor_records_a_slow_command(raw: RawClient) -> None:
    raw.call("LATENCY", "RESET")
    raw.call("CONFIG", "SET", "latency-monitor-threshold", "1")
    try:
        raw.call("RPUSH", "big", *range(50_000))
        raw.call("SORT", "big")
        raw.call("RPUSH", "bigger", *range(300_000))  # a fast command, well past 1 ms even here
        latest = parse(raw.call("LATENCY", "LATEST"))
        by_event = {event[0]: event for event in latest}
        assert b"command" in by_event  # SORT; RPUSH is a fast command, logged as fast-command
        assert b"fast-command" in by_event
        _name, when, last_ms, max_ms = by_event[b"command"]
        assert last_ms >= 1 and max_ms >= last_ms and when > 0
        history = parse(raw.call("LATENCY", "HISTORY", "command"))
        assert history and all(ms >= 1 for _ts, ms in history)
        graph = parse(raw.call("LATENCY", "GRAPH", "command"))
        assert graph.startswith(b"command - high ")
        assert b"no latency spike" not in parse(raw.call("LATENCY", "DOCTOR"))
        assert raw.call("LATENCY", "RESET", "command") == b":1\r\n"
        assert b"command" not in [event[0] for event in parse(raw.call("LATENCY", "LATEST"))]
    finally:
        raw.call("CONFIG", "SET", "latency-monitor-threshold", "0")


def test_a_latency_event_keeps_the_highest_sample_of_each_second() -> None:
    node = EffectNode()
    telemetry = node.server.telemetry
    while True:  # both samples in one wall-clock second (retry across a boundary)
        node.run("LATENCY", "RESET")
        second = int(time.time())
        telemetry.add_sample("command", 5)
        telemetry.add_sample("command", 2)
        if int(time.time()) == second:
            break
    assert node.run("LATENCY", "HISTORY", "command") == [[second, 5]]


def test_a_call_lands_in_the_power_of_two_bucket_above_its_microseconds() -> None:
    node = EffectNode()
    telemetry = node.server.telemetry
    cmd = node.server.commands[b"get"]
    stat = telemetry.stat("get")
    stat.calls += 1
    telemetry.timed(stat, node.client, cmd, [b"GET", b"k"], 3_000)  # 3 us: at most 4 us
    histogram = node.run("LATENCY", "HISTOGRAM", "get")
    assert histogram == [(b"get", [(b"calls", 1), (b"histogram_usec", [(4, 1)])])]


def test_failover_is_refused_because_the_service_moves_primaries(raw: RawClient) -> None:
    expected = b"-" + errors.FAILOVER_MANAGED.text + b"\r\n"
    assert raw.call("FAILOVER") == expected
    assert raw.call("FAILOVER", "TO", "127.0.0.1", "6380", "FORCE") == expected
    assert b"managed by the service" in expected

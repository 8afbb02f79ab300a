"""maxmemory-policy on real engine processes: each policy evicts only the keys Redis's
rules allow (volatile-* never a key without a TTL, noeviction nothing: OOM), in the
order its ranking gives (LRU idle time, LFU counter, nearest TTL), evicted keys are
counted in INFO and logged as DEL effects that a replica replays to the same data,
and OBJECT FREQ / IDLETIME answer per policy."""

from __future__ import annotations

import re
import time
from typing import Iterator

import pytest

from sandbox.engine import errors

from .conftest import Differ
from .effects import EffectNode
from .rawclient import RawClient
from .servers import engine_process

VALUE = b"v" * 50_000
OOM = b"-" + errors.OOM.text + b"\r\n"


@pytest.fixture
def node() -> Iterator[RawClient]:
    with engine_process() as proc, RawClient(proc.port) as client:
        client.call("CONFIG", "SET", "maxmemory-samples", "64")
        yield client


def _info(client: RawClient, field: str) -> int:
    return int(re.search(rb"\r\n" + field.encode() + rb":(\d+)", client.call("INFO", "everything")).group(1))


def _fill(client: RawClient) -> None:
    for i in range(10):
        client.call("SET", f"ttl{i}", VALUE, "EX", 1000 + i)
        client.call("SET", f"plain{i}", VALUE)


def _keys(client: RawClient) -> set[str]:
    reply = client.call("KEYS", "*").decode()
    return {line for line in reply.split("\r\n") if line[:1] not in ("*", "$", "")}


@pytest.mark.parametrize("policy, survivors", [
    ("noeviction", 20), ("volatile-lru", 10), ("volatile-lfu", 10), ("volatile-random", 10), ("volatile-ttl", 10),
    ("allkeys-lru", 0), ("allkeys-lfu", 0), ("allkeys-random", 0),
])
def test_each_policy_evicts_only_the_keys_it_may(node: RawClient, policy: str, survivors: int) -> None:
    _fill(node)
    node.call("CONFIG", "SET", "maxmemory-policy", policy)
    node.call("CONFIG", "SET", "maxmemory", "1mb")  # far below the process's RSS: nothing fits
    assert node.call("SET", "new", "x") == OOM  # what could go went, and it was not enough
    keys = _keys(node)
    assert len(keys) == survivors
    if policy.startswith("volatile-"):
        assert keys == {f"plain{i}" for i in range(10)}  # a key without a TTL is never evicted
    assert _info(node, "evicted_keys") == 20 - survivors
    assert node.call("GET", "plain0") in (b"$-1\r\n", b"$50000\r\n" + VALUE + b"\r\n")  # reads still work
    node.call("CONFIG", "SET", "maxmemory", "0")
    assert node.call("SET", "new", "x") == b"+OK\r\n"


def _evict_a_few(node: RawClient) -> set[str]:
    """Set maxmemory just under what one more big write needs: a few keys must go."""
    used = _info(node, "used_memory")
    node.call("CONFIG", "SET", "maxmemory", str(used + 40_000))
    assert node.call("SET", "incoming", b"w" * 100_000) == b"+OK\r\n"
    return {f"k{i}" for i in range(10)} - _keys(node)


def _assert_first_ranked_went(evicted: set[str]) -> None:
    assert evicted, "nothing was evicted"
    assert len(evicted) < 10
    assert evicted == {f"k{i}" for i in range(len(evicted))}, evicted  # k0 ranks first, then k1, ...


def test_allkeys_lru_evicts_the_least_recently_used_keys(node: RawClient) -> None:
    for i in range(10):
        node.call("SET", f"k{i}", VALUE)
    node.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    for i in range(10):
        time.sleep(0.01)
        node.call("GET", f"k{i}")  # k0 read longest ago
    assert node.call("OBJECT", "FREQ", "k0").startswith(b"-ERR An LFU maxmemory policy is not selected")
    _assert_first_ranked_went(_evict_a_few(node))


def test_volatile_ttl_evicts_the_keys_nearest_to_expiry(node: RawClient) -> None:
    for i in range(10):
        node.call("SET", f"k{i}", VALUE, "EX", 1000 + 10 * i)
    node.call("SET", "persistent", VALUE)
    node.call("CONFIG", "SET", "maxmemory-policy", "volatile-ttl")
    _assert_first_ranked_went(_evict_a_few(node))
    assert node.call("EXISTS", "persistent") == b":1\r\n"


def test_allkeys_lfu_evicts_the_least_frequently_used_keys(node: RawClient) -> None:
    node.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    node.call("CONFIG", "SET", "lfu-log-factor", "0")  # every access counts: a deterministic ranking
    for i in range(10):
        node.call("SET", f"k{i}", VALUE)
        for _ in range(i):
            node.call("GET", f"k{i}")
    assert node.call("OBJECT", "FREQ", "k3") == b":8\r\n"  # LFU_INIT_VAL 5 + 3 reads
    assert node.call("OBJECT", "FREQ", "k3") == b":8\r\n"  # OBJECT doesn't touch the key
    assert node.call("OBJECT", "IDLETIME", "k3").startswith(b"-ERR An LFU maxmemory policy is selected")
    _assert_first_ranked_went(_evict_a_few(node))


def test_evicted_keys_are_del_effects_that_a_replica_replays() -> None:
    primary, replica = EffectNode(), EffectNode()
    for i in range(5):
        primary.run("SET", f"v{i}", "x" * 1000, "EX", 100)
        primary.run("SET", f"p{i}", "y")
    primary.run("CONFIG", "SET", "maxmemory-policy", "volatile-random")
    primary.run("CONFIG", "SET", "maxmemory", "1")
    assert primary.run("SET", "new", "z") is errors.OOM
    entries = list(primary.log.entries)
    dels = sorted(e[1] for _db, batch in entries for e in batch if e[0] == b"DEL")
    assert dels == [f"v{i}".encode() for i in range(5)]
    primary.run("CONFIG", "SET", "maxmemory", "0")
    primary.run("SET", "after", "1")
    replica.replay_into(replica, [])  # an empty replay changes nothing
    primary_entries = list(primary.log.entries)
    primary.replay_into(replica, primary_entries)
    assert replica.snapshot() == primary.snapshot()
    assert set(primary.snapshot()[0]) == {b"after"} | {f"p{i}".encode() for i in range(5)}


def test_object_idletime_counts_seconds_since_the_last_access(raw: RawClient) -> None:
    raw.call("SET", "k", "v")
    assert raw.call("OBJECT", "IDLETIME", "k") == b":0\r\n"
    assert raw.call("OBJECT", "IDLETIME", "missing") == b"$-1\r\n"


def test_object_idletime_grows_in_whole_seconds_and_a_read_resets_it(raw: RawClient) -> None:
    raw.call("SET", "idle", "v")
    time.sleep(1.2)
    idle = int(raw.call("OBJECT", "IDLETIME", "idle")[1:-2])
    assert 1 <= idle <= 8, idle  # seconds (a slow host may stretch the sleep), not tenths
    raw.call("GET", "idle")
    assert raw.call("OBJECT", "IDLETIME", "idle") == b":0\r\n"


def test_object_freq_and_idletime_errors_match_redis(diff: Differ) -> None:
    diff.many("""
        SET k v
        OBJECT FREQ k
        OBJECT IDLETIME k
        CONFIG SET maxmemory-policy allkeys-lfu
        OBJECT IDLETIME k
        CONFIG SET maxmemory-policy volatile-lfu
        OBJECT FREQ missing
        CONFIG SET maxmemory-policy nosuch
        CONFIG SET maxmemory-samples 0
        CONFIG SET lfu-log-factor -1
        CONFIG SET lfu-decay-time -1
        CONFIG GET maxmemory-samples
        CONFIG GET lfu-log-factor
        CONFIG GET lfu-decay-time
        CONFIG SET maxmemory-policy noeviction
    """)

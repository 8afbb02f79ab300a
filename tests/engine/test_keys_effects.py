"""What the generic key commands, expiry and SORT hand to the log: the effects a
replica or the journal replays. Replaying them on a fresh node must give the same
data and the same expiry times; relative or non-deterministic commands are logged
as their concrete outcome (EXPIRE → PEXPIREAT, expiry in the past → DEL, SORT ...
STORE → the stored list)."""

from __future__ import annotations

from typing import Any

import pytest

from .effects import EffectNode

T0 = 1_700_000_000.0  # the nodes' clock, in seconds
T0_MS = int(T0 * 1000)


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def node_at(clock: Clock, **config: Any) -> EffectNode:
    node = EffectNode(**config)
    node.server.clock = clock
    return node


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def node(clock: Clock) -> EffectNode:
    return node_at(clock)


def expiries(node: EffectNode) -> dict[int, dict[bytes, int]]:
    return {db.id: dict(db.expires) for db in node.server.keyspace.dbs if db.expires}


def as_replica(node: EffectNode) -> EffectNode:
    """Apply effects as a replica does: its primary decides expiry (and sends DEL)."""
    node.server.expires_locally = False
    node.client.is_master = True
    return node


def assert_replays_identically(node: EffectNode, clock: Clock, replica: EffectNode | None = None) -> None:
    replica = replica or node_at(clock)
    node.replay_into(replica, node.log.entries)
    assert replica.snapshot() == node.snapshot()
    assert expiries(replica) == expiries(node)


def test_it_logs_deletions_as_themselves_and_nothing_when_nothing_was_deleted(node: EffectNode) -> None:
    node.run("SET", "a", "1")
    node.effects()
    assert node.run("DEL", "a", "nokey") == 1
    assert node.effects() == [[b"DEL", b"a", b"nokey"]]
    assert node.run("DEL", "nokey") == 0
    node.run("SET", "b", "1")
    node.effects()
    node.run("UNLINK", "b")
    assert node.effects() == [[b"UNLINK", b"b"]]
    node.run("UNLINK", "b")
    assert node.effects() == []


def test_it_logs_nothing_for_reads(node: EffectNode) -> None:
    node.run("SET", "a", "1")
    node.run("RPUSH", "l", "2", "1")
    node.effects()
    for read in (["EXISTS", "a"], ["TOUCH", "a"], ["TYPE", "a"], ["TTL", "a"], ["PTTL", "a"], ["EXPIRETIME", "a"],
                 ["PEXPIRETIME", "a"], ["KEYS", "*"], ["SCAN", "0"], ["RANDOMKEY"], ["OBJECT", "ENCODING", "a"],
                 ["SORT", "l"], ["SORT_RO", "l", "ALPHA"], ["OBJECT", "HELP"]):
        node.run(*read)
    assert node.effects() == []


def test_it_logs_every_expire_variant_as_an_absolute_pexpireat(node: EffectNode) -> None:
    node.run("SET", "a", "1")
    node.effects()
    node.run("EXPIRE", "a", "100")
    node.run("PEXPIRE", "a", "5000", "LT")
    node.run("EXPIREAT", "a", "1800000000", "GT")
    node.run("PEXPIREAT", "a", "1800000000123")
    assert node.effects() == [
        [b"PEXPIREAT", b"a", b"%d" % (T0_MS + 100_000)],
        [b"PEXPIREAT", b"a", b"%d" % (T0_MS + 5000)],
        [b"PEXPIREAT", b"a", b"1800000000000"],
        [b"PEXPIREAT", b"a", b"1800000000123"],
    ]


def test_it_logs_nothing_when_a_condition_or_the_key_is_missing(node: EffectNode) -> None:
    node.run("SET", "a", "1")
    node.effects()
    assert node.run("EXPIRE", "a", "100", "XX") == 0
    assert node.run("EXPIRE", "a", "100", "GT") == 0
    assert node.run("EXPIRE", "nokey", "100") == 0
    assert node.run("PERSIST", "a") == 0
    node.run("EXPIRE", "a", "100", "NX", "XX")  # an error
    assert node.effects() == []


def test_it_logs_an_expiry_in_the_past_as_del(node: EffectNode) -> None:
    for cmd in (["EXPIRE", "k", "0"], ["PEXPIRE", "k", "-5"], ["EXPIREAT", "k", "1"],
                ["PEXPIREAT", "k", str(T0_MS)], ["EXPIRE", "k", "-1", "LT"]):
        node.run("SET", "k", "v")
        node.effects()
        assert node.run(*cmd) == 1
        assert node.effects() == [[b"DEL", b"k"]]
        assert node.run("EXISTS", "k") == 0


def test_it_logs_persist_rename_copy_and_move_as_themselves(node: EffectNode) -> None:
    node.run("SET", "a", "1")
    node.run("EXPIRE", "a", "100")
    node.effects()
    writes = [["PERSIST", "a"], ["RENAME", "a", "b"], ["RENAMENX", "b", "c"], ["COPY", "c", "d", "DB", "2", "REPLACE"],
              ["COPY", "c", "e"], ["MOVE", "e", "3"]]
    for cmd in writes:
        node.run(*cmd)
    assert node.effects() == [[a.encode() for a in cmd] for cmd in writes]
    # ... and nothing for the ones that change nothing.
    node.run("SET", "x", "1")
    node.effects()
    for cmd in (["RENAME", "x", "x"], ["RENAMENX", "x", "c"], ["COPY", "x", "c"], ["COPY", "nokey", "y"],
                ["MOVE", "nokey", "1"], ["RENAME", "nokey", "z"]):
        node.run(*cmd)
    assert node.effects() == []


def test_it_logs_lazily_expired_keys_as_del_before_the_command(node: EffectNode, clock: Clock) -> None:
    node.run("SET", "a", "1", "PX", "100")
    node.run("SELECT", "1")
    node.run("SET", "a", "old", "PX", "100")
    node.run("SELECT", "0")
    node.run("SET", "b", "1", "PX", "100")
    node.run("SET", "c", "1", "PX", "100")
    node.run("SET", "keep", "1")
    node.effects()
    clock.now += 1
    assert node.run("TYPE", "a") == b"none"
    assert node.effects() == [[b"DEL", b"a"]]
    node.run("SET", "a", "new")
    node.effects()
    assert node.run("MOVE", "a", "1") == 1  # the expired "a" in db 1 is no obstacle
    assert node.effects() == [[b"SELECT", b"1"], [b"DEL", b"a"], [b"SELECT", b"0"], [b"MOVE", b"a", b"1"]]
    assert node.run("DEL", "b", "keep") == 1
    assert node.effects() == [[b"DEL", b"b"], [b"DEL", b"b", b"keep"]]
    node.run("SCAN", "0")
    assert node.effects() == [[b"DEL", b"c"]]


def test_it_logs_keys_removed_by_active_expiry(node: EffectNode, clock: Clock) -> None:
    for i in range(5):
        node.run("SET", f"k{i}", "v", "PX", str(100 * (i + 1)))
    node.run("SET", "keep", "v")
    node.effects()
    clock.now += 0.25
    assert node.server.active_expire_cycle() == 2
    assert sorted(node.effects()) == [[b"DEL", b"k0"], [b"DEL", b"k1"]]
    clock.now += 10
    node.server.active_expire_cycle()
    assert len(node.effects()) == 3
    assert node.run("DBSIZE") == 1


def test_it_logs_sort_store_as_the_stored_list(node: EffectNode) -> None:
    node.run("RPUSH", "l", "3", "1", "2")
    node.run("MSET", "o_1", "one", "o_3", "three")
    node.effects()
    assert node.run("SORT", "l", "STORE", "dst") == 3
    assert node.effects() == [[b"RPUSH", b"dst", b"1", b"2", b"3"]]
    assert node.run("SORT", "l", "DESC", "GET", "o_*", "GET", "#", "STORE", "dst") == 6
    assert node.effects() == [[b"DEL", b"dst"], [b"RPUSH", b"dst", b"three", b"3", b"", b"2", b"one", b"1"]]
    assert node.run("SORT", "l", "LIMIT", "9", "1", "STORE", "dst") == 0
    assert node.effects() == [[b"DEL", b"dst"]]
    assert node.run("SORT", "l", "LIMIT", "9", "1", "STORE", "dst") == 0
    assert node.effects() == []
    node.run("SORT", "l", "BY", "nosort")
    node.run("SORT_RO", "l")
    assert node.effects() == []


def test_a_sort_store_replays_identically_even_when_ties_depend_on_set_order(clock: Clock) -> None:
    node = node_at(clock)
    members = [f"m{i}" for i in range(50)]
    node.run("SADD", "s", *members)
    for m in members[:25]:
        node.run("SET", f"w_{m}", "same")  # 25 equal weights, 25 missing: order comes from the set
    node.run("SORT", "s", "BY", "w_*", "ALPHA", "STORE", "dst")
    node.run("SORT", "s", "BY", "nosort", "STORE", "dst2")
    assert_replays_identically(node, clock)


def test_every_write_replays_to_the_same_data_and_expiry_times(clock: Clock) -> None:
    node = node_at(clock)
    script = [
        ["SET", "a", "1"], ["RPUSH", "l", "c", "a", "b"], ["HSET", "h", "f", "v"], ["SADD", "s", "x", "y"],
        ["ZADD", "z", "1", "m"], ["EXPIRE", "a", "100"], ["PEXPIRE", "l", "5000"], ["EXPIREAT", "h", "1800000000"],
        ["PEXPIREAT", "s", "1800000000123"], ["EXPIRE", "z", "50", "NX"], ["EXPIRE", "z", "10", "LT"],
        ["RENAME", "a", "a2"], ["RENAMENX", "l", "l2"], ["COPY", "h", "h2"], ["COPY", "s", "s2", "DB", "1"],
        ["MOVE", "z", "2"], ["PERSIST", "h2"], ["SORT", "l2", "ALPHA", "STORE", "sorted"], ["DEL", "s"],
        ["UNLINK", "h"], ["SET", "gone", "1"], ["EXPIRE", "gone", "-1"], ["SET", "later", "1", "PX", "500"],
    ]
    for cmd in script:
        node.run(*cmd)
    clock.now += 1
    node.run("GET", "later")  # lazily expired: logged as DEL
    node.server.active_expire_cycle()
    assert_replays_identically(node, clock)
    # Replayed much later by a replica (which waits for its primary's DEL), the
    # effects still give the same keys with the same absolute expiry times.
    clock.now += 3600
    assert_replays_identically(node, clock, as_replica(node_at(clock)))


def test_a_replica_keeps_a_key_whose_expiry_passed_until_the_primary_deletes_it(node: EffectNode, clock: Clock) -> None:
    replica = as_replica(node_at(clock))
    node.run("SET", "k", "v")
    node.run("PEXPIREAT", "k", str(T0_MS + 10))
    node.replay_into(replica, node.log.entries)
    node.log.entries.clear()
    clock.now += 1
    assert replica.server.keyspace.dbs[0].data == {b"k": b"v"}  # not expired by the replica itself
    reader = replica.server.new_client("reader:1", "test:0")
    assert replica.server.execute(reader, [b"EXISTS", b"k"]) == 0  # ... but hidden from its clients
    assert replica.server.keyspace.dbs[0].data == {b"k": b"v"}
    node.run("EXISTS", "k")  # the primary expires it and logs DEL
    node.replay_into(replica, node.log.entries)
    assert replica.server.keyspace.dbs[0].data == {}

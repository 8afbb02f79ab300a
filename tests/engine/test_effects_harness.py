"""The effect recorder sees what the dispatcher hands to the log."""

from .effects import EffectNode


def test_it_logs_flushall_as_its_own_effect():
    node = EffectNode()
    node.run("FLUSHALL")
    assert node.effects() == [[b"FLUSHALL"]]


def test_it_logs_nothing_for_reads():
    node = EffectNode()
    node.run("DBSIZE")
    node.run("PING")
    assert node.effects() == []


def test_it_logs_a_transaction_as_one_unit():
    node = EffectNode()
    node.run("MULTI")
    node.run("FLUSHDB")
    node.run("FLUSHALL")
    assert node.run("EXEC") == [b"OK", b"OK"]
    assert node.log.entries == [(0, [[b"MULTI"], [b"FLUSHDB"], [b"FLUSHALL"], [b"EXEC"]])]


def test_a_select_inside_multi_travels_with_the_transaction():
    node = EffectNode()
    for argv in (["MULTI"], ["SELECT", "2"], ["SET", "a", "1"], ["SELECT", "0"], ["SET", "b", "2"], ["EXEC"]):
        node.run(*argv)
    entries = list(node.log.entries)
    assert entries == [(0, [[b"MULTI"], [b"SELECT", b"2"], [b"SET", b"a", b"1"], [b"SELECT", b"0"],
                            [b"SET", b"b", b"2"], [b"EXEC"]])]
    replica = EffectNode()
    node.replay_into(replica, entries)
    assert replica.snapshot() == node.snapshot() == {2: {b"a": b"1"}, 0: {b"b": b"2"}}

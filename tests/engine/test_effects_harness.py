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

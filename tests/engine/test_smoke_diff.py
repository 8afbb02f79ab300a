"""The differential harness itself works: identical replies pass, and a reply the
engine gets wrong is caught."""

import pytest


def test_it_matches_redis_for_basic_connection_commands(diff):
    diff.many("""
        PING
        PING hello
        ECHO "with space"
        SELECT 3
        SELECT 16
        SELECT abc
        DBSIZE
        NOSUCHCOMMAND a b
        ECHO
    """)


def test_it_matches_transaction_errors(diff):
    diff.many("""
        EXEC
        DISCARD
        MULTI
        MULTI
        PING
        NOSUCH
        EXEC
        MULTI
        ECHO a
        EXEC
    """)


def test_the_harness_fails_on_a_difference(diff):
    # Only the engine is inside a transaction, so it answers QUEUED where redis echoes.
    assert diff.eng.call("MULTI") == b"+OK\r\n"
    with pytest.raises(AssertionError, match="reply differs"):
        diff("ECHO", "x")

"""JournalState: conditional append, leadership and leases, trims, snapshot/restore."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.engine.journal_state import (
    decode_leader,
    AppendCommand,
    Appended,
    CondFail,
    EntryKind,
    Fenced,
    JournalState,
    Leadership,
    Rejected,
    StreamEntry,
    TrimCommand,
    Trimmed,
    TrimmedError,
    decode_command,
    encode_command,
    encode_lease,
    encode_leader,
)

DATA, LEASE, LEADER, CHECKSUM = EntryKind.DATA, EntryKind.LEASE, EntryKind.LEADER, EntryKind.CHECKSUM


def append(state: JournalState, shard: str, after: int, kind: EntryKind, data: bytes) -> object:
    return state.apply(encode_command(AppendCommand(shard, after, kind, data)))


def test_it_assigns_contiguous_ids_per_shard() -> None:
    s = JournalState()
    assert append(s, "0", 0, DATA, b"a") == Appended(1)
    assert append(s, "0", 1, DATA, b"b") == Appended(2)
    assert append(s, "1", 0, DATA, b"c") == Appended(1)
    assert s.tail("0") == 2 and s.tail("1") == 1 and s.tail("never") == 0
    assert s.read("0", 0) == [StreamEntry(1, DATA, b"a"), StreamEntry(2, DATA, b"b")]
    assert s.read("0", 1, limit=1) == [StreamEntry(2, DATA, b"b")]
    assert s.read("0", 2) == []


def test_a_stale_append_fails_and_says_the_real_tail() -> None:
    s = JournalState()
    append(s, "0", 0, DATA, b"a")
    append(s, "0", 1, DATA, b"b")
    assert append(s, "0", 1, DATA, b"late") == CondFail(2)
    assert append(s, "0", 5, DATA, b"ahead") == CondFail(2)
    assert [e.data for e in s.read("0", 0)] == [b"a", b"b"]


def test_two_replicas_racing_for_leadership_exactly_one_wins() -> None:
    s = JournalState()
    append(s, "0", 0, LEADER, encode_leader("d1"))
    first = append(s, "0", 1, LEADER, encode_leader("d2"))
    second = append(s, "0", 1, LEADER, encode_leader("d3"))
    assert first == Appended(2) and second == CondFail(2)
    assert s.leader("0") == Leadership("d2", 2, 2)


def test_a_stale_primary_is_fenced_by_a_leadership_entry() -> None:
    s = JournalState()
    append(s, "0", 0, LEADER, encode_leader("d1"))
    append(s, "0", 1, LEASE, encode_lease("d1", 1000))
    assert s.last_lease("0") == ("d1", 1000, 2)
    append(s, "0", 2, LEADER, encode_leader("d2"))
    # d1 still believes the tail is 2: its write and its renewal both fail
    assert append(s, "0", 2, DATA, b"stale write") == CondFail(3)
    assert append(s, "0", 2, LEASE, encode_lease("d1", 1000)) == CondFail(3)
    # and even caught up, only the current leader may renew the lease
    assert append(s, "0", 3, LEASE, encode_lease("d1", 1000)) == Fenced("d2", 2)
    assert append(s, "0", 3, LEASE, encode_lease("d2", 1000)) == Appended(4)


def test_a_lease_before_any_leader_is_fenced() -> None:
    s = JournalState()
    assert append(s, "0", 0, LEASE, encode_lease("d1", 1000)) == Fenced(None, 0)
    assert s.tail("0") == 0


def test_malformed_commands_are_rejected_not_raised() -> None:
    s = JournalState()
    assert isinstance(s.apply(b""), Rejected)
    assert isinstance(s.apply(b"Zjunk"), Rejected)
    assert isinstance(s.apply(b"A\x01"), Rejected)
    assert isinstance(append(s, "0", 0, LEASE, b"not json"), Rejected)
    assert isinstance(append(s, "0", 0, LEADER, b""), Rejected)
    assert isinstance(append(s, "0", 0, LEADER, b"5"), Rejected)
    assert isinstance(append(s, "0", 0, LEASE, b"[1]"), Rejected)
    assert s.shards() == ["0"] and s.tail("0") == 0


def test_trim_drops_covered_entries_and_reads_below_it_fail() -> None:
    s = JournalState()
    for i in range(5):
        append(s, "0", i, DATA, b"%d" % i)
    append(s, "0", 5, CHECKSUM, b"\x00\x00\x00\x07")
    assert s.apply(encode_command(TrimCommand("0", 4, "snap-1"))) == Trimmed(4)
    assert s.trimmed("0") == (4, "snap-1")
    assert [e.id for e in s.read("0", 4)] == [5, 6]
    with pytest.raises(TrimmedError) as err:
        s.read("0", 2)
    assert err.value.upto_id == 4 and err.value.snapshot_id == "snap-1"
    assert s.tail("0") == 6
    assert s.apply(encode_command(TrimCommand("0", 2, "older"))) == Trimmed(4)  # no going back
    assert isinstance(s.apply(encode_command(TrimCommand("0", 9, "x"))), Rejected)
    assert s.apply(encode_command(TrimCommand("0", 6, "snap-2"))) == Trimmed(6)
    assert s.tail("0") == 6 and s.read("0", 6) == []
    assert append(s, "0", 6, DATA, b"next") == Appended(7)


def test_leadership_survives_a_trim() -> None:
    s = JournalState()
    append(s, "0", 0, LEADER, encode_leader("d1"))
    append(s, "0", 1, DATA, b"x")
    s.apply(encode_command(TrimCommand("0", 2, "s")))
    assert s.leader("0") == Leadership("d1", 1, 1)


def test_snapshot_restore_round_trips_byte_for_byte() -> None:
    s = JournalState()
    append(s, "a", 0, LEADER, encode_leader("d1"))
    append(s, "a", 1, LEASE, encode_lease("d1", 500))
    append(s, "a", 2, DATA, b"\x00\xff binary")
    append(s, "b", 0, DATA, b"x")
    s.apply(encode_command(TrimCommand("b", 1, "snap")))
    image = s.snapshot()
    restored = JournalState.restore(image)
    assert restored.snapshot() == image
    assert restored.leader("a") == s.leader("a")
    assert restored.last_lease("a") == ("d1", 500, 2)
    assert append(restored, "a", 3, DATA, b"more") == append(s, "a", 3, DATA, b"more")


commands_st = st.one_of(
    st.builds(AppendCommand, st.text(max_size=5), st.integers(0, 2**63), st.sampled_from(list(EntryKind)), st.binary(max_size=30)),
    st.builds(TrimCommand, st.text(max_size=5), st.integers(0, 2**63), st.text(max_size=10)),
)


@given(commands_st)
def test_commands_round_trip_through_bytes(cmd: object) -> None:
    assert decode_command(encode_command(cmd)) == cmd  # type: ignore[arg-type]


@given(st.lists(st.tuples(st.sampled_from(["x", "y"]), st.integers(0, 4), st.sampled_from([DATA, LEADER])), max_size=30))
def test_replicas_applying_the_same_commands_are_identical(ops: list[tuple[str, int, EntryKind]]) -> None:
    a, b = JournalState(), JournalState()
    for shard, after, kind in ops:
        payload = encode_command(AppendCommand(shard, after, kind, b"n1"))
        assert a.apply(payload) == b.apply(payload)
    assert a.snapshot() == b.snapshot()


def test_a_leader_entry_carries_a_claim_token_so_identical_claims_differ() -> None:
    first, second = encode_leader("d1", "1.1"), encode_leader("d1", "2.1")
    assert first != second
    assert decode_leader(first) == decode_leader(second) == "d1"

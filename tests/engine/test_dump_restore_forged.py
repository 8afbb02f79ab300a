"""RESTORE against forged payloads (valid CRC, lying lengths), the effects RESTORE
hands to the log, and the older encodings Redis 7.0 still reads."""

from __future__ import annotations

import time

import pytest

from sandbox.engine.errors import RedisError
from sandbox.engine.rdb import encode_length, encode_string, wrap_payload
from sandbox.engine.resp import OK

from .conftest import Differ
from .effects import EffectNode

HUGE = 2**60


def _len64(n: int) -> bytes:
    return b"\x81" + n.to_bytes(8, "big")


def _listpack(raw_entries: bytes, count: int, total: int | None = None) -> bytes:
    size = 6 + len(raw_entries) + 1 if total is None else total
    return size.to_bytes(4, "little") + count.to_bytes(2, "little") + raw_entries + b"\xff"


_STREAM_TAIL = encode_length(0) * 8  # length, last, first, max-deleted IDs, entries-added
FORGED = {
    "string length 2**60": b"\x00" + _len64(HUGE) + b"abc",
    "lzf output 2**60": b"\x00\xc3" + encode_length(3) + _len64(HUGE) + b"\x02abc",
    "lzf output beyond what its input can expand to": b"\x00\xc3" + encode_length(4) + encode_length(10**6)
    + b"\x00a\xe0\xff",
    "lzf reference before the start": b"\x00\xc3" + encode_length(3) + encode_length(10) + b"\x20\x05a",
    "list of 2**60 strings": b"\x01" + _len64(HUGE) + b"\x01a",
    "quicklist of 2**60 nodes": b"\x12" + _len64(HUGE) + b"\x02\x01a",
    "set of 2**60 members": b"\x02" + _len64(HUGE) + b"\x01a",
    "hash of 2**60 fields": b"\x04" + _len64(HUGE) + b"\x01a\x01b",
    "zset of 2**60 members": b"\x05" + _len64(HUGE) + b"\x01a" + b"\x00" * 8,
    "listpack claiming 2 GB": b"\x10" + encode_string(_listpack(b"\x81a\x02\x81b\x02", 2, total=2**31), False),
    "listpack counting 60000 entries": b"\x10" + encode_string(_listpack(b"\x81a\x02\x81b\x02", 60000), False),
    "listpack string running past its end": b"\x10" + encode_string(_listpack(b"\xbfab", 1), False),
    "intset of 2**31 members": b"\x0b" + encode_string(b"\x02\x00\x00\x00\xff\xff\xff\x7f\x01\x00", False),
    "ziplist claiming 2 GB": b"\x0d" + encode_string((2**31).to_bytes(4, "little") + b"\x00" * 6 + b"\xff", False),
    "stream of 2**60 nodes": b"\x13" + _len64(HUGE) + encode_string(b"\x00" * 16) + b"\x01a",
    "stream of 2**60 groups": b"\x13" + encode_length(0) + _STREAM_TAIL + _len64(HUGE) + b"\x01g",
    "stream PEL of 2**60 entries": b"\x13" + encode_length(0) + _STREAM_TAIL + encode_length(1) + b"\x01g"
    + encode_length(0) * 3 + _len64(HUGE) + b"\x00" * 20,
    "consumer owning an ID the group does not have": b"\x13" + encode_length(0) + _STREAM_TAIL + encode_length(1)
    + b"\x01g" + encode_length(0) * 3 + encode_length(0) + encode_length(1) + b"\x01c" + b"\x00" * 8
    + encode_length(1) + b"\x00" * 16,
    "empty hash listpack": b"\x10" + encode_string(_listpack(b"", 0), False),
    "odd hash listpack": b"\x10" + encode_string(_listpack(b"\x81a\x02", 1), False),
    "duplicate set member": b"\x02" + encode_length(2) + b"\x01a\x01a",
    "nan score": b"\x05" + encode_length(1) + b"\x01a" + b"\x00\x00\x00\x00\x00\x00\xf8\x7f",
}


def _cpu_seconds() -> float:
    return time.process_time()


def test_forged_lengths_are_bad_data_quickly_and_allocate_nothing() -> None:
    node = EffectNode()
    start = _cpu_seconds()
    for name, obj in FORGED.items():
        reply = node.run("RESTORE", "k", "0", wrap_payload(obj))
        assert isinstance(reply, RedisError) and reply.text == b"ERR Bad data format", name
    # Each one is refused before any loop over its declared count: far below a second
    # of CPU for all of them even on a slow, shared machine.
    assert _cpu_seconds() - start < 2.0
    assert node.run("EXISTS", "k") == 0
    assert node.effects() == []


@pytest.mark.parametrize("name", ["string length 2**60", "list of 2**60 strings", "set of 2**60 members",
                                  "empty hash listpack", "duplicate set member"])
def test_redis_refuses_the_same_forged_payloads(diff: Differ, name: str) -> None:
    diff("RESTORE", "k", "0", wrap_payload(FORGED[name]))
    diff("EXISTS", "k")


def _ziplist(entries: list[bytes]) -> bytes:
    body = b""
    prev = 0
    for e in entries:
        enc = bytes((prev,)) + bytes((len(e),)) + e
        body += enc
        prev = len(enc)
    return (11 + len(body)).to_bytes(4, "little") + (10 + len(body) - prev).to_bytes(4, "little") \
        + len(entries).to_bytes(2, "little") + body + b"\xff"


OLD_FORMS = [
    ("list as plain strings", b"\x01" + encode_length(2) + encode_string(b"a") + encode_string(b"7"), "LRANGE"),
    ("list as a ziplist", b"\x0a" + encode_string(_ziplist([b"a", b"bc"]), False), "LRANGE"),
    ("quicklist of ziplists", b"\x0e" + encode_length(2) + encode_string(_ziplist([b"a"]), False)
     + encode_string(_ziplist([b"b", b"c"]), False), "LRANGE"),
    ("hash as a ziplist", b"\x0d" + encode_string(_ziplist([b"f", b"v", b"g", b"w"]), False), "HGETALL"),
    ("zset as a ziplist", b"\x0c" + encode_string(_ziplist([b"m", b"1.5", b"n", b"2"]), False), "ZRANGE"),
    ("zset with text scores", b"\x03" + encode_length(2) + b"\x01a\x031.5\x01b\xfe", "ZRANGE"),
]


@pytest.mark.parametrize("form", OLD_FORMS, ids=[f[0] for f in OLD_FORMS])
def test_it_reads_the_older_encodings_as_redis_does(diff: Differ, form: tuple[str, bytes, str]) -> None:
    _name, obj, reader = form
    diff("RESTORE", "k", "0", wrap_payload(obj))
    if reader == "ZRANGE":
        diff("ZRANGE", "k", "0", "-1", "WITHSCORES")
    elif reader == "LRANGE":
        diff("LRANGE", "k", "0", "-1")
    else:
        diff(reader, "k")
    if not _name.startswith("quicklist"):  # a deque keeps no node boundaries: Redis keeps the payload's
        diff("DUMP", "k")  # and dumps it as Redis 7.0 would now


def test_restore_effects_replay_to_the_same_key() -> None:
    """A relative TTL reaches the log as RESTORE ... ABSTTL (as Redis sends its
    replicas); an already-expired ABSTTL creates nothing, and logs DEL only when
    REPLACE removed a value; replaying the log rebuilds the same keyspace."""
    node = EffectNode()
    node.run("RPUSH", "src", "a", "b", "c")
    payload = node.run("DUMP", "src")
    node.effects()
    before = int(time.time() * 1000)
    assert node.run("RESTORE", "dst", "60000", payload) == OK
    assert node.run("RESTORE", "plain", "0", payload, "IDLETIME", "10") == OK
    assert node.run("RESTORE", "old", "1", payload, "ABSTTL") == OK
    node.run("SET", "gone", "x")
    assert node.run("RESTORE", "gone", "1", payload, "ABSTTL", "REPLACE") == OK
    effects = node.effects()
    assert effects[0][:2] == [b"RESTORE", b"dst"] and effects[0][3:] == [payload, b"ABSTTL"]
    assert before + 60000 <= int(effects[0][2]) <= int(time.time() * 1000) + 60000
    assert effects[1] == [b"RESTORE", b"plain", b"0", payload, b"IDLETIME", b"10"]
    assert effects[2:] == [[b"SET", b"gone", b"x"], [b"DEL", b"gone"]]
    assert node.run("EXISTS", "old", "gone") == 0

    replica = EffectNode()
    node.log.entries.clear()
    node.run("RESTORE", "again", "5000", payload)
    entries = list(node.log.entries)
    replica.replay_into(replica, [(0, effects)] + entries)
    assert replica.snapshot()[0] == {k: v for k, v in node.snapshot()[0].items() if k != b"src"}
    for key in (b"dst", b"again"):
        assert replica.server.keyspace.dbs[0].expires[key] == node.server.keyspace.dbs[0].expires[key]

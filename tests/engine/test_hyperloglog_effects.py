"""What HyperLogLog commands hand to the log, and the representation's own rules.

PFADD/PFMERGE/PFDEBUG are logged as their argv only when they changed the value;
PFCOUNT of one key logs ``PFCOUNT key`` when it stored a fresh count (Redis
propagates it the same way); replaying the log on a fresh node gives the same bytes.
The unit tests cover what a differential test can't reach cheaply: a register above
32 promoting a sparse HLL, and the packing helpers against plain Python."""

from __future__ import annotations

import random
from typing import Any

import pytest

from sandbox.engine import hyperloglog as hll
from sandbox.engine.commands.hyperloglog_cmds import selftest

from .effects import EffectNode


def b(*args: Any) -> list[bytes]:
    return [a if isinstance(a, bytes) else str(a).encode() for a in args]


@pytest.fixture
def node() -> EffectNode:
    return EffectNode()


def assert_replays(n: EffectNode) -> None:
    replica = EffectNode()
    n.replay_into(replica, list(n.log.entries))
    assert replica.snapshot() == n.snapshot()


def test_pfadd_is_logged_as_itself_only_when_it_changed_a_register(node: EffectNode) -> None:
    assert node.run("PFADD", "h", "a", "b") == 1
    assert node.effects() == [b("PFADD", "h", "a", "b")]
    assert node.run("PFADD", "h", "a") == 0
    assert node.effects() == []
    assert node.run("PFADD", "new") == 1
    assert node.effects() == [b("PFADD", "new")]


def test_pfcount_logs_itself_when_it_refreshed_the_cached_count(node: EffectNode) -> None:
    node.run("PFADD", "h", *[f"m{i}" for i in range(5000)])
    node.effects()
    stale = node.run("GET", "h")
    count = node.run("PFCOUNT", "h")
    assert node.effects() == [b("PFCOUNT", "h")]
    fresh = node.run("GET", "h")
    assert fresh != stale and int.from_bytes(fresh[8:16], "little") == count
    assert node.run("PFCOUNT", "h") == count
    assert node.effects() == []  # the cache was valid: nothing changed
    node.run("PFCOUNT", "h", "other")
    assert node.effects() == []  # several keys: counted in a temporary


def test_replaying_the_log_rebuilds_the_same_bytes(node: EffectNode) -> None:
    node.run("PFADD", "a", *[f"x{i}" for i in range(300)])
    node.run("PFADD", "b", *[f"y{i}" for i in range(4000)])
    node.run("PFCOUNT", "a")
    node.run("PFMERGE", "c", "a", "b")
    node.run("PFCOUNT", "c")
    node.run("PFADD", "d", "one")
    node.run("PFDEBUG", "TODENSE", "d")
    node.run("PFADD", "e", "two")
    node.run("PFDEBUG", "GETREG", "e")
    node.run("PFCOUNT", "a", "b")
    assert node.run("GET", "c")[4] == hll.DENSE
    assert_replays(node)


def test_pfdebug_logs_only_a_conversion(node: EffectNode) -> None:
    node.run("PFADD", "h", "a")
    node.effects()
    assert node.run("PFDEBUG", "ENCODING", "h") == b"sparse"
    assert node.run("PFDEBUG", "DECODE", "h") != b""
    assert node.effects() == []
    assert node.run("PFDEBUG", "TODENSE", "h") == 1
    assert node.effects() == [b("PFDEBUG", "TODENSE", "h")]
    assert node.run("PFDEBUG", "TODENSE", "h") == 0
    assert len(node.run("PFDEBUG", "GETREG", "h")) == hll.REGISTERS
    assert node.effects() == []


def test_a_pfadd_that_meets_corrupted_opcodes_keeps_and_logs_what_it_changed(node: EffectNode) -> None:
    # XZERO:100 then VAL:1 at register 100, then nothing: registers 101.. are missing.
    value = b"HYLL\x01\x00\x00\x00" + b"\x00" * 8 + bytes((0x40, 99, 0x80))
    node.run("SET", "h", value)
    node.effects()
    early = next(e for e in (b"e%d" % i for i in range(10_000)) if hll.pattern(e)[0] < 100)
    late = next(e for e in (b"l%d" % i for i in range(10_000)) if hll.pattern(e)[0] > 200)
    reply = node.run("PFADD", "h", early, late)
    assert getattr(reply, "text", b"").startswith(b"INVALIDOBJ")
    changed = node.run("GET", "h")
    assert changed != value
    assert node.effects() == [[b"SET", b"h", changed, b"KEEPTTL"]]


def test_a_register_above_32_turns_a_sparse_hll_dense() -> None:
    sparse = hll.new_sparse()
    hll.sparse_set(sparse, 7, 3, 3000)
    expected = bytearray(sparse)
    assert hll.to_dense(expected)
    hll.dense_set(expected, 100, 40)
    assert hll.sparse_set(sparse, 100, 40, 3000) == 1
    assert sparse == expected and sparse[4] == hll.DENSE


def test_packing_matches_register_by_register_access() -> None:
    rng = random.Random(7)
    regs = bytes(rng.randrange(64) for _ in range(hll.REGISTERS))
    dense = bytearray(hll.HEADER) + hll.pack_dense(regs)
    assert [hll.dense_get(dense, i) for i in range(hll.REGISTERS)] == list(regs)
    assert hll.unpack_dense(dense[hll.HEADER:]) == regs
    other = bytes(rng.randrange(64) for _ in range(hll.REGISTERS))
    assert hll.max_registers(regs, other) == bytes(map(max, regs, other))


def test_the_selftest_catches_a_broken_estimator(monkeypatch: pytest.MonkeyPatch) -> None:
    assert selftest(random.Random(1), 3000) == ""
    monkeypatch.setattr(hll, "estimate", lambda histo: 0)
    assert selftest(random.Random(1), 3000).startswith("Too big error")


def test_a_merge_hint_edits_exactly_like_a_scan_from_the_start() -> None:
    rng = random.Random(3)
    for _ in range(30):
        plain, hinted = hll.new_sparse(), hll.new_sparse()
        hll.sparse_set(plain, rng.randrange(hll.REGISTERS), 2, 3000)
        hinted[:] = plain
        hint = [hll.HEADER, 0]
        span = rng.choice((40, 400, hll.REGISTERS))  # dense runs of neighbours merge VAL opcodes
        for index in sorted(rng.sample(range(span), rng.randrange(1, min(span, 1500)))):
            value = rng.choice((1, 1, 2, rng.randrange(1, 33)))
            assert hll.sparse_set(hinted, index, value, 3000, hint) == hll.sparse_set(plain, index, value, 3000)
            assert hinted == plain
            if plain[4] == hll.DENSE:
                break


def test_a_merge_hint_on_an_opcode_that_grew_over_the_next_register_rescans() -> None:
    # V3 z1 V3 z1 V3 z1 V3 z1 V3 z1 | V1@10 z1@11 V1@12 V2@13: setting 11 to 1 merges
    # 10..12 into one VAL at the hint's next position; then raising 12 splits it, and
    # the merge must start from the opcode before it, as a scan from the start finds.
    base = hll.new_sparse()
    for index, value in ((0, 3), (2, 3), (4, 3), (6, 3), (8, 3), (10, 1), (12, 1), (13, 2)):
        hll.sparse_set(base, index, value, 3000)
    plain, hinted = bytearray(base), bytearray(base)
    hint = [hll.HEADER, 0]
    for index, value in ((11, 1), (12, 2)):
        hll.sparse_set(plain, index, value, 3000)
        hll.sparse_set(hinted, index, value, 3000, hint)
        assert hinted == plain, hll.decode_sparse(hinted)

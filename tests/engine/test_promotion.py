"""Cache-mode failover's decision (``promotion.choose_primary``), driven by seeds."""

from __future__ import annotations

import random

import pytest

from sandbox.engine.promotion import Promotion, choose_primary, parse_offset


@pytest.mark.parametrize("seed", range(200))
def test_it_promotes_the_most_advanced_replica_that_answered(seed: int) -> None:
    rng = random.Random(seed)
    candidates = [f"n{i}" for i in rng.sample(range(10), rng.randint(1, 5))]
    # Offsets cluster on a few values so ties happen; some replicas do not answer.
    offsets = {c: rng.choice([0, 100, 250, 250, 4096]) for c in candidates if rng.random() < 0.8}
    promotion = choose_primary(candidates, offsets)
    if not offsets:
        assert promotion is None
        return
    assert promotion is not None
    best = max(offsets.values())
    assert promotion.offset == best == offsets[promotion.primary]
    first_best = next(c for c in candidates if offsets.get(c) == best)
    assert promotion.primary == first_best  # ties: the first in the supervisor's order
    assert sorted(promotion.repoint) == sorted(c for c in offsets if c != promotion.primary)


def test_it_never_promotes_a_replica_that_did_not_answer() -> None:
    assert choose_primary(["a", "b", "c"], {"b": 5}) == Promotion("b", 5, ())
    assert choose_primary(["a", "b"], {}) is None


def test_it_reads_the_offset_a_replica_or_a_promoted_node_reports() -> None:
    assert parse_offset("# Replication\r\nrole:slave\r\nslave_repl_offset:1234\r\n") == 1234
    assert parse_offset("role:master\r\nmaster_repl_offset:77\r\n") == 77
    with pytest.raises(ValueError):
        parse_offset("role:slave\r\nslave_repl_offset:lots\r\n")

"""Cache-mode failover's decision, as a pure function: which replica to promote.

ElastiCache-style failover (``Supervisor`` runs it for cache clusters): once the
detection timeout after a primary's death has passed, the supervisor asks every
running replica of the shard for its replication offset (``INFO replication``) and
hands the answers here. No clock, no I/O: the supervisor does the waiting and the
asking, and the seeded test in ``tests/engine/test_promotion.py`` drives this code.

Invariants: the replica promoted is one that answered, with the highest offset
of those that did (ties go to the first in the order given, the supervisor's
process order); every other replica that answered is pointed at it; with no
answer, nobody is promoted and the failover fails.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Promotion:
    primary: str  # the replica to send REPLICAOF NO ONE
    offset: int  # its replication offset: what the new primary holds of the old one's stream
    repoint: tuple[str, ...]  # the other replicas, to send REPLICAOF <primary>


def parse_offset(info: str) -> int:
    """A replica's offset from its ``INFO replication`` text (a node that is already
    a primary reports ``master_repl_offset``; 0 when it reports neither)."""
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    return int(fields.get("slave_repl_offset", fields.get("master_repl_offset", "0")))


def choose_primary(candidates: Sequence[str], offsets: Mapping[str, int]) -> Promotion | None:
    """The most advanced replica among ``candidates`` that reported an offset (the
    ones missing from ``offsets`` did not answer), or None when none did."""
    answered = [c for c in candidates if c in offsets]
    if not answered:
        return None
    best = answered[0]
    for c in answered[1:]:
        if offsets[c] > offsets[best]:
            best = c
    return Promotion(best, offsets[best], tuple(c for c in answered if c != best))

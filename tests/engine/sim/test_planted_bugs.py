"""Planted bugs: the simulator must catch a broken leadership rule.

Each case replaces one rule of the real ``ShardLeadership`` (a subclass that the
simulated data nodes run instead) and sweeps seeds from 0 until an invariant
fails, within a bounded budget. A rule whose breakage no seed notices would be a
rule the simulator does not check. The seed that caught each bug is printed
(``-s`` shows it), so it can be replayed::

    pytest tests/engine/sim/test_planted_bugs.py -s -p no:django --confcutdir tests/engine
"""

from __future__ import annotations

import pytest

from sandbox.engine import leadership as lead

from .datanodes import DataNode
from .invariants import SimFailure
from .simulator import run_seed

BUDGET = 400  # seeds tried per bug (the CI sweep's size); each sweep stops at the first failure


class CampaignsWithinTheLease(lead.ShardLeadership):
    """campaign_after < lease: a replica claims while the primary's lease may still run.

    (campaign_after == lease is not caught: a replica counts silence from when it
    applied the primary's entry, after it was sent, and simulated clocks all run at
    one rate. The real margin, 1.5 leases, is for clocks that do not.)"""

    def campaign_wait_ms(self) -> float:
        return self.config.lease_ms * 0.75 if self.leader is not None else super().campaign_wait_ms()


class ServesAfterItsLease(lead.ShardLeadership):
    """A primary that cannot renew keeps acknowledging after its lease ended."""

    def lease_valid(self, now: float) -> bool:
        return self.role is lead.Role.PRIMARY


class ClaimsWithoutTheLatestEntry(lead.ShardLeadership):
    """A claim that does not require having applied the latest entry: it names the
    tail the node has seen instead of the entry it applied."""

    def caught_up(self) -> bool:
        return True

    def claim_after(self) -> int:
        return self.journal_tail


class IgnoresFencing(lead.ShardLeadership):
    """A refused conditional append is taken as done: the reply is released and the
    node goes on as primary."""

    def _refused(self, event: lead.Refused, now: float) -> list[lead.Action]:
        return [lead.Acknowledge(event.entry_id)]


class TrustsAnOldLeaderEntry(lead.ShardLeadership):
    """A restarted node takes its previous incarnation's leader entry for its own
    fresh claim (the bug seed 314 once found)."""

    def owns_leader_entry(self, event: lead.EntryApplied) -> bool:
        if event.leader != self.config.node_id:
            return False
        self.claim_sent_at = self.last_activity  # "my claim, just sent"
        return True


PLANTED = [CampaignsWithinTheLease, ServesAfterItsLease, ClaimsWithoutTheLatestEntry, IgnoresFencing,
           TrustsAnOldLeaderEntry]


def first_failing_seed(budget: int = BUDGET) -> tuple[int, str] | None:
    for seed in range(budget):
        try:
            run_seed(seed)
        except SimFailure as exc:
            return seed, str(exc).splitlines()[0]
    return None


@pytest.mark.parametrize("machine", PLANTED, ids=[m.__name__ for m in PLANTED])
def test_the_simulator_catches_a_planted_leadership_bug(machine: type[lead.ShardLeadership],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DataNode, "machine_class", machine)
    caught = first_failing_seed()
    assert caught is not None, f"no seed in 0..{BUDGET - 1} noticed {machine.__name__}: {machine.__doc__}"
    seed, reason = caught
    print(f"\n{machine.__name__} caught by seed {seed}: {reason}")


def test_the_real_rules_pass_the_seeds_that_catch_the_bugs() -> None:
    """The seeds that catch the planted bugs pass with the real machine: what fails
    is the bug, not the seed."""
    for seed in (0, 2, 10):
        run_seed(seed)

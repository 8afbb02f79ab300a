"""The async durability rule in the seeded simulator, and planted bugs it must catch.

With ``SimConfig(durability="async")`` the data primaries run the real
``DurabilityBuffer`` (sandbox.engine.durability_buffer): a write is released once
applied and appended afterwards. ``Invariants._check_released`` then demands that
what a crash or fence loses is only a suffix of what that incarnation released
(nothing the journal committed), spanning at most the buffer limit; in ``sync``
nothing released may be lost at all. Each planted bug replaces one rule of the
buffer and must be caught by some seed within the budget (``-s`` prints which)::

    pytest tests/engine/sim/test_async_durability_sim.py -s -p no:django --confcutdir tests/engine
"""

from __future__ import annotations

import pytest

from sandbox.engine.durability_buffer import Accepted, DurabilityBuffer

from .datanodes import DataNode
from .invariants import SimFailure
from .simulator import run_seed
from .world import SimConfig

ASYNC = SimConfig(durability="async")
SEEDS = range(0, 150)  # ~15 s on one core
BUDGET = 400


class AdmitsOverTheLimit(DurabilityBuffer):
    """An async primary that goes on acknowledging while its buffer is over the limit."""

    def admits(self, now: float) -> bool:
        return True


class CountsTheNextWriteAsPersisted(DurabilityBuffer):
    """The buffer forgets the write after the one committed (an off-by-one): its age
    is that of a younger write, so it admits writes past the limit."""

    def persisted(self, upto_seq: int) -> None:
        super().persisted(upto_seq + 1)


class ReleasesSyncWritesAtOnce(DurabilityBuffer):
    """A sync primary that releases the reply before the journal committed it."""

    def accept(self, now: float, size: int) -> Accepted:
        return Accepted(super().accept(now, size).seq, release_now=True)


PLANTED = [(AdmitsOverTheLimit, ASYNC), (CountsTheNextWriteAsPersisted, ASYNC), (ReleasesSyncWritesAtOnce, SimConfig())]


def test_async_primaries_lose_only_a_suffix_of_their_writes_within_the_buffer_limit() -> None:
    lost = 0
    for seed in SEEDS:
        lost += run_seed(seed, config=ASYNC).stats["async_lost"]
    # The rule must have been exercised: some crash lost buffered writes, within the rule.
    assert lost > 0, "no seed lost an async write: the invariant checked nothing"


@pytest.mark.parametrize("buffer", [b for b, _ in PLANTED], ids=[b.__name__ for b, _ in PLANTED])
def test_the_simulator_catches_a_planted_durability_buffer_bug(buffer: type[DurabilityBuffer],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    config = dict(PLANTED)[buffer]
    monkeypatch.setattr(DataNode, "buffer_class", buffer)
    for seed in range(BUDGET):
        try:
            run_seed(seed, config=config)
        except SimFailure as exc:
            print(f"\n{buffer.__name__} caught by seed {seed}: {str(exc).splitlines()[0]}")
            return
    pytest.fail(f"no seed in 0..{BUDGET - 1} noticed {buffer.__name__}: {buffer.__doc__}")

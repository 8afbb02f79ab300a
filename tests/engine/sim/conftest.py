"""Options for the journal simulator tests (kept here, beside the tests that use them).

``--sim-seed=N`` replays one seed (``pytest tests/engine/sim -k replay --sim-seed=N``);
``--sim-seeds=N`` sets how many seeds the sweep runs (default in test_sim.py).
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sim", "journal simulator")
    group.addoption("--sim-seed", type=int, default=None, help="replay one simulator seed (with -k replay)")
    group.addoption("--sim-seeds", type=int, default=None, help="number of seeds in the simulator sweep")
    group.addoption("--sim-first-seed", type=int, default=0, help="first seed of the sweep")

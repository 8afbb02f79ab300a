"""Hand-written journal scenarios in scenarios/*.txt (format: see scenario.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .scenario import SCENARIO_DIR, Scenario, ScenarioError, run_scenario

SCENARIOS = sorted(SCENARIO_DIR.glob("*.txt"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path: Path) -> None:
    run_scenario(path)


def test_a_failed_expectation_names_the_file_and_line() -> None:
    with pytest.raises(ScenarioError, match=r"inline:3: expect leader az-b"):
        Scenario("inline").run("campaign az-a\ntick 50\nexpect leader az-b\n")


def test_an_unknown_command_is_an_error() -> None:
    with pytest.raises(ScenarioError, match="unknown command"):
        Scenario("inline").run("frobnicate az-a\n")

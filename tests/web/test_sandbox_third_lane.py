"""The third lane (ElastiCache durable, async writes) in a learner's sandbox, on real
clusters through the real websocket: a switch that is off by default (then nothing
of it runs), on it runs a durable cluster whose primary acknowledges from memory;
"Kill the primary" gives three verdict rows, the sync lane losing nothing and the
async lane no more than its durability buffer held; "Slow down the log" makes the
async lane refuse writes at its buffer limit, counted as rejected, never as lost;
forged switch values and faults aimed at a lane that is off are refused.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import pytest_asyncio

from sandbox.load import Ledger, Write
from sandbox.manager import SandboxManager
from sandbox.models import Experiment, Sandbox, lanes
from sandbox.protocol import ClientError, schemas, validate
from sandbox.testing import Browser, engine_pids_under, running_manager, test_limits

BUFFER_LIMIT_MS = 1000
VERDICT_WAIT_S = 90


@pytest_asyncio.fixture
async def manager(tmp_path: Path) -> AsyncIterator[SandboxManager]:
    """Test limits with a short async buffer limit, so a slowed log fills it quickly."""
    async with running_manager(test_limits(tmp_path / "sb", async_buffer_limit_ms=BUFFER_LIMIT_MS)) as running:
        yield running


def test_the_lanes_are_the_two_clusters_unless_the_third_is_switched_on() -> None:
    assert lanes(False) == ("durable", "cache")
    assert lanes(True) == ("durable", "async", "cache")


@pytest.mark.parametrize("value", ["yes", 1, 0, "true", [], {}])
def test_it_refuses_a_switch_value_that_is_not_true_or_false(value: Any) -> None:
    table = schemas(test_limits(Path("/nonexistent")))
    for kind in ("start", "reconfigure"):
        with pytest.raises(ClientError) as refused:
            validate({"type": kind, "async_lane": value}, table)
        assert refused.value.code == "bad_field" and refused.value.detail["field"] == "async_lane"
    assert validate({"type": "reconfigure", "async_lane": True}, table) == ("reconfigure", {"async_lane": True})


def test_the_ledger_counts_acknowledgements_between_two_instants() -> None:
    ledger = Ledger("async")
    for n, at in enumerate((100.0, 200.0, 300.0, 400.0)):
        ledger.record(Write(n, "set", f"k{n}", ("SET", f"k{n}", "v")), b"OK", at, 1.0)
    assert ledger.acked_between(200.0, 300.0) == 2
    assert ledger.acked_between(401.0, 900.0) == 0
    ledger.reject("CLUSTERDOWN Durability buffer full")
    assert (ledger.rejected, ledger.errors, ledger.acknowledged) == (1, 1, 4)
    assert ledger.rejections == {"CLUSTERDOWN Durability buffer full": 1}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("database_thread")
async def test_the_third_lane_runs_only_when_the_learner_switches_it_on(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    async with Browser(application, sessions["alice"]) as alice, Browser(application, sessions["charlie"]) as bob:
        state = await alice.start_sandbox(replicas=1)
        assert state["sandbox"]["state"] == "running", state["sandbox"]["error"]
        assert set(state["sandbox"]["topology"]) == {"durable", "cache"}
        live = next(iter(manager.live.values()))
        assert engine_pids_under(manager.limits.root_dir / live.uuid / "async") == []
        off = await alice.command("PING", cluster="async", id=1)
        assert off["type"] == "error" and off["code"] == "bad_field"
        for fault in ({"action": "kill_primary", "target": "async"}, {"action": "slow_log"}):
            await alice.send({"type": "fault", **fault})
            refused = await alice.expect_any(("fault", "error"))
            assert refused["code"] == "fault_refused", refused

        # Charlie turning the switch on starts his own sandbox with it, never alice's.
        charlie = await bob.start_sandbox(replicas=1, async_lane=True)
        assert set(charlie["sandbox"]["topology"]) == {"durable", "async", "cache"}
        assert set(live.topologies()) == {"durable", "cache"}

        await alice.send({"type": "reconfigure", "replicas": 1, "async_lane": True})
        state = await alice.expect("state", timeout=60, where=lambda m: m["sandbox"]["state"] in ("running", "failed")
                                   and m["sandbox"].get("topology", {}).get("async") is not None)
        assert state["sandbox"]["state"] == "running", state["sandbox"]["error"]
        assert state["sandbox"]["shape"]["async_lane"] == 1
        info = await alice.command("INFO replication", cluster="async", id=2)
        assert "durability_writes:async" in info["text"], info["text"]
        assert f"durability_buffer_limit_ms:{BUFFER_LIMIT_MS}" in info["text"]
        sync = await alice.command("INFO replication", id=3)
        assert "durability_writes:sync" in sync["text"]
        assert (await alice.command("SET lane async", cluster="async", id=4))["text"] == "OK\n"
    row = await Sandbox.objects.aget(owner_user__username="alice")
    assert row.async_lane is True


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("database_thread")
async def test_kill_the_primary_gives_three_rows_with_the_sync_lane_losing_nothing(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    async with Browser(application, sessions["alice"]) as alice:
        state = await alice.start_sandbox(replicas=1, async_lane=True, delay_ms=200)
        assert state["sandbox"]["state"] == "running", state["sandbox"]["error"]
        await alice.send({"type": "load_start", "rate": 100})
        await alice.expect("load")
        await asyncio.sleep(3)
        # The log slowed just before the crash, so the async primary holds acknowledged
        # writes the journal doesn't have: the crash must lose no more than those.
        await alice.send({"type": "fault", "action": "slow_log", "seconds": 3})
        slowed = await alice.expect_any(("fault", "error"))
        assert slowed["type"] == "fault", slowed
        await asyncio.sleep(0.8)
        await alice.send({"type": "fault", "action": "kill_primary", "target": "both",
                          "prediction": 5, "prediction_async": 2})
        fault = await alice.expect_any(("fault", "error"))
        assert fault["type"] == "fault" and set(fault["nodes"]) == {"durable", "async", "cache"}, fault
        verdict = (await alice.expect("verdict", timeout=VERDICT_WAIT_S))["verdict"]
        await alice.send({"type": "load_stop"})
    rows = verdict["clusters"]
    assert list(rows) == ["durable", "async", "cache"]
    assert all(rows[name]["acknowledged"] > 50 for name in rows), rows
    assert rows["durable"]["lost"] == 0, rows["durable"]
    held = rows["async"]["buffer_at_crash"]
    assert rows["async"]["lost"] <= held["bound"], (rows["async"], held)
    # the bound is what the buffer held plus what was acknowledged between its reading and the kill
    assert held["bound"] == held["writes"] + held["acked_meanwhile"] and held["writes"] > 0, held
    assert held["limit_ms"] == BUFFER_LIMIT_MS
    experiment = await Experiment.objects.aget(pk=verdict["experiment_id"])
    assert experiment.async_lane is True and experiment.prediction_async == 2 and experiment.prediction == 5
    assert set(experiment.results) == {"durable", "async", "cache"}
    assert experiment.results["async"]["buffer_at_crash"] == held


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("database_thread")
async def test_slowing_down_the_log_makes_the_async_lane_reject_writes_until_the_journal_is_back(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    async with Browser(application, sessions["alice"]) as alice:
        state = await alice.start_sandbox(replicas=1, async_lane=True)
        assert state["sandbox"]["state"] == "running", state["sandbox"]["error"]
        await alice.send({"type": "load_start", "rate": 50})
        await alice.expect("load")
        await asyncio.sleep(1)
        await alice.send({"type": "fault", "action": "slow_log", "seconds": 4})
        fault = await alice.expect_any(("fault", "error"))
        assert fault["type"] == "fault" and list(fault["nodes"]) == ["async"] and len(fault["nodes"]["async"]) == 2
        live = next(iter(manager.live.values()))
        load = live.lab.load
        assert load is not None
        ledger = load.ledgers["async"]
        acked_at_fault = ledger.acknowledged
        await asyncio.sleep(6)  # 4 s paused, then the journal catches up
        rejected = ledger.rejected
        acked_after = ledger.acknowledged
        await asyncio.sleep(2)
        resumed = ledger.acknowledged - acked_after
        await alice.send({"type": "load_stop"})
        await alice.expect("load")
    assert acked_after > acked_at_fault, "it kept acknowledging until the buffer was full"
    assert rejected > 0, ledger.last_error
    # The buffer's refusal comes first; a pause longer than the lane's lease then also
    # shows the lease's (the journal has no majority to renew it).
    assert any(text.startswith("CLUSTERDOWN Durability buffer full") for text in ledger.rejections), ledger.rejections
    assert resumed > 0, "writes are accepted again once the journal is back"
    assert load.ledgers["durable"].rejected == 0

"""The sandbox service's shape (issue 10, part 3): typed topology records that show a
browser exactly what the dict used to, a ``LiveSandbox`` that owns its state
transitions, and modules that are small and import in any order.

Pure tests: no process is started (the websocket tests drive the real thing).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sandbox.backends import SandboxHandle, SandboxSpec
from sandbox.events import EventLog
from sandbox.live import IllegalTransition, LiveSandbox
from sandbox.models import Sandbox
from sandbox.owners import Owner
from sandbox.topology import PRIVATE_FIELDS, Topology
from sandbox.verdict import CrashRun

ROOT = Path(__file__).resolve().parents[2]

# A snapshot as the engine's Supervisor.topology() writes it (Proc.public(), host last).
SNAPSHOT: dict[str, Any] = {
    "mode": "durable", "epoch": 3, "shards": 2, "replication_delay_ms": 50,
    "slots": [[0, 8191], [8192, 16383]],
    "processes": [
        {"id": "d0", "kind": "data", "zone": "az-a", "port": 40001, "shard": 0, "role": "primary",
         "status": "running", "pid": 101, "applied": 7, "committed": 7, "lag_entries": 0, "lag_ms": 0,
         "offset": 0, "host": "127.0.0.1"},
        {"id": "d1", "kind": "data", "zone": "az-b", "port": 40002, "shard": 0, "role": "replica",
         "status": "crashed", "pid": None, "applied": 5, "committed": 7, "lag_entries": 2, "lag_ms": 30,
         "offset": 0, "host": "127.0.0.1"},
        {"id": "d2", "kind": "data", "zone": "az-c", "port": 40003, "shard": 1, "role": "primary",
         "status": "crashed", "pid": None, "applied": 0, "committed": 0, "lag_entries": 0, "lag_ms": 0,
         "offset": 0, "host": "127.0.0.1"},
        {"id": "j-a", "kind": "journal", "zone": "az-a", "port": 40010, "shard": None, "role": "leader",
         "status": "running", "pid": 103, "applied": 0, "committed": 9, "lag_entries": 0, "lag_ms": 0,
         "offset": 0, "host": "127.0.0.1", "dir": "/srv/x/journal-a"},
    ],
}  # fmt: skip


def test_a_topologys_public_form_is_the_snapshot_without_ports_pids_hosts_or_paths() -> None:
    expected = {
        **SNAPSHOT,
        "processes": [{k: v for k, v in p.items() if k not in PRIVATE_FIELDS} for p in SNAPSHOT["processes"]],
    }
    public = Topology.from_snapshot(SNAPSHOT).public()
    assert public == expected
    assert list(public["processes"][0]) == list(expected["processes"][0]), "the same fields, in the same order"
    assert not any({"port", "pid", "host", "dir"} & set(p) for p in public["processes"])


def test_a_topology_answers_what_the_site_asks_of_it() -> None:
    topology = Topology.from_snapshot(SNAPSHOT)
    assert [p.id for p in topology.data_nodes(0)] == ["d0", "d1"]
    assert [p.id for p in topology.journals()] == ["j-a"]
    # A crashed primary serves no slots: the console and the load must not be sent to it.
    assert {shard: p.id for shard, p in topology.serving_primaries().items()} == {0: "d0"}
    assert topology.roles() == {"d0": "primary", "d1": "replica", "d2": "primary"}
    assert topology.get("d0").address == ("127.0.0.1", 40001)  # type: ignore[union-attr]
    assert topology.get("d1").stat("lag_entries") == 2  # type: ignore[union-attr]
    assert topology.endpoints()[0] == {"id": "d0", "kind": "data", "zone": "az-a", "shard": 0, "port": 40001}
    # Records are snapshots: nobody can change one in place.
    with pytest.raises(AttributeError):
        topology.processes[0].status = "crashed"  # type: ignore[misc]


class _Control:
    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.snapshot = snapshot

    def topology(self) -> dict[str, Any]:
        return self.snapshot


def _live() -> LiveSandbox:
    return LiveSandbox(
        row_id=1, uuid="ab" * 16, owner=Owner(user_id=1), shape={"shards": 1, "replicas": 0, "replication_delay_ms": 0},
        log=EventLog(10), last_activity=0.0,
    )


def _handle(control: _Control) -> SandboxHandle:
    spec = SandboxSpec(sandbox_id="ab" * 16, shards=2, replicas=1, replication_delay_ms=0, maxmemory="64mb", users={})
    return SandboxHandle(spec=spec, clusters={"durable": control})  # type: ignore[dict-item]


def test_a_live_sandbox_moves_only_along_its_life() -> None:
    live = _live()
    assert live.state == Sandbox.State.QUEUED and live.is_queued and live.holds_place
    with pytest.raises(IllegalTransition):
        live.failed("not started yet")
    with pytest.raises(IllegalTransition):
        live.started(_handle(_Control(SNAPSHOT)))
    assert live.state == Sandbox.State.QUEUED and live.handle is None, "a refused change changes nothing"
    live.begin_start()
    assert live.state == Sandbox.State.STARTING and live.holds_slot
    with pytest.raises(IllegalTransition):
        live.begin_start()
    live.failed("no port free")
    assert (live.state, live.error) == (Sandbox.State.FAILED, "no port free")
    assert not live.holds_slot and live.may_reconfigure
    live.stopping()
    with pytest.raises(IllegalTransition):
        live.stopping()


def test_a_live_sandbox_builds_a_topology_record_once_per_snapshot() -> None:
    live = _live()
    control = _Control(SNAPSHOT)
    live.begin_start()
    live.handle = _handle(control)
    first = live.topology("durable")
    assert live.topology("durable") is first, "the same snapshot: the same record"
    control.snapshot = {**SNAPSHOT, "epoch": 4}
    assert live.topology("durable").epoch == 4
    assert live.public_topologies() == {"durable": Topology.from_snapshot(control.snapshot).public()}


def test_a_crash_run_is_done_when_every_awaited_shard_has_failed_over() -> None:
    crash = CrashRun(
        fault="kill_primary", target="both", clusters=("durable", "cache"), crash_ms=0.0, prediction=None,
        load_rate=0, awaiting={"durable": {0}, "cache": {0, 1}},
    )
    crash.failover_finished("cache", {"shard": 2})  # not awaited: changes nothing
    crash.failover_finished("durable", {"shard": 0})
    crash.failover_finished("cache", {"shard": 0})
    assert not crash.done.is_set()
    crash.failover_finished("cache", {"shard": 1})
    assert crash.done.is_set()
    assert [f["shard"] for f in crash.failovers["cache"]] == [0, 1]


SERVICE_MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts)
    for path in (ROOT / "sandbox").rglob("*.py")
    if "engine" not in path.parts and "migrations" not in path.parts and path.name != "__init__.py"
    and path.name not in ("testing.py",)
)


def test_no_sandbox_module_outside_the_engine_is_longer_than_600_lines() -> None:
    lengths = {name: len((ROOT / (name.replace(".", "/") + ".py")).read_text().splitlines()) for name in SERVICE_MODULES}
    assert {name: n for name, n in lengths.items() if n > 600} == {}


def test_every_sandbox_module_imports_first_without_a_cycle() -> None:
    """Each module imported first, in a fresh interpreter: a run-time import cycle
    shows as an ImportError whichever module of the cycle comes first."""
    script = (
        "import os, sys, importlib, django\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'memorydb_lab.settings')\n"
        "django.setup()\n"
        "keep = set(sys.modules)\n"
        "for name in sys.argv[1:]:\n"
        "    for loaded in [m for m in sys.modules if m not in keep and m.startswith('sandbox.')]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *SERVICE_MODULES], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]

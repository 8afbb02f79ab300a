"""A crash experiment and its verdict.

``CrashRun`` is a crash under way in one sandbox: what was done, to what, and which
shards' failovers are still awaited (the saved record is ``models.Experiment``).
``build_verdict`` is its conclusion: every acknowledged write read back from the new
primaries (``Ledger.verify``), each cluster's failover time, how long it acknowledged
nothing, the loss window, and the series of the three charts (latency, throughput,
and each node's role over time, rebuilt from the sandbox's event log). There is a
row per lane the sandbox runs (``LiveSandbox.lanes``); the async-writes lane's row
also carries what its durability buffer held at the crash (``buffer_at_crash``),
the most acknowledged writes its failover could lose.

Invariants: a ``CrashRun`` is done once every awaited failover finished (or the
service gave up waiting); a failover of a shard it does not await changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.live import LiveSandbox


@dataclass
class CrashRun:
    """A crash under way: what was done, to what, and what is still awaited."""

    fault: str
    target: str
    clusters: tuple[str, ...]
    crash_ms: float
    prediction: int | None
    load_rate: int
    # cluster -> shards whose primary died and whose failover is awaited
    awaiting: dict[str, set[int]]
    failovers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    roles_before: dict[str, dict[str, str]] = field(default_factory=dict)
    prediction_async: int | None = None
    # cluster -> its killed primaries' durability buffer at the crash (async lane only):
    # {"writes", "age_ms"} as INFO said just before the kill, "acked_meanwhile" (acks
    # between that reading and the kill) and "bound", their sum.
    buffers: dict[str, dict[str, Any]] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def failover_finished(self, cluster: str, event: dict[str, Any]) -> None:
        """A shard of ``cluster`` has a new primary (``event`` names the shard)."""
        if self.done.is_set():
            return
        shards = self.awaiting.get(cluster)
        if not shards or int(event["shard"]) not in shards:
            return
        self.failovers.setdefault(cluster, []).append(event)
        shards.discard(int(event["shard"]))
        if not any(self.awaiting.values()):
            self.done.set()


async def build_verdict(live: LiveSandbox, crash: CrashRun | None, now_ms: float) -> dict[str, Any]:
    """Every acknowledged write of each cluster read back, with the failover figures
    and the series the charts are drawn from."""
    load = live.lab.load
    crash_ms = crash.crash_ms if crash else None
    clusters: dict[str, Any] = {}
    for name in live.lanes:
        result: dict[str, Any] = {"acknowledged": 0, "kept": 0, "lost": 0, "lost_keys": [], "errors": 0}
        if load is not None:
            pause = load.paused() if load.running else contextlib.nullcontext()
            async with pause:
                result = await load.ledgers[name].verify(live.clients.probe[name], crash_ms)
            if crash_ms is not None:
                result["outage_ms"] = load.outage_ms(name, crash_ms)
        if crash is not None:
            failovers = crash.failovers.get(name, [])
            durations = [f.get("duration_ms") for f in failovers if f.get("duration_ms") is not None]
            result["failover_ms"] = max(durations) if durations else None
            result["failed_over"] = bool(failovers) or name not in crash.awaiting
            if name in crash.buffers:
                result["buffer_at_crash"] = crash.buffers[name]
        clusters[name] = result
    markers: dict[str, Any] = {}
    if crash is not None:
        markers["crash_ms"] = crash.crash_ms
        markers["failovers"] = {
            name: [f.get("ts") for f in crash.failovers.get(name, [])] for name in live.lanes
        }
    verdict: dict[str, Any] = {
        "clusters": clusters,
        "fault": crash.fault if crash else None,
        "target": crash.target if crash else None,
        "prediction": crash.prediction if crash else None,
        "prediction_async": crash.prediction_async if crash else None,
        "lanes": list(live.lanes),
        "crash_ms": crash_ms,
        "shape": live.shape,
        "load_rate": load.rate if load else 0,
        "charts": load.charts(markers) if load is not None else {"markers": markers, "clusters": {}},
    }
    if crash is not None:
        verdict["charts"]["timeline"] = timeline(live, crash, now_ms)
    return verdict


def timeline(live: LiveSandbox, crash: CrashRun, now_ms: float) -> list[dict[str, Any]]:
    """Per data node: when it was primary, replica or down, around the crash."""
    start = crash.crash_ms - 2000
    end = now_ms
    rows = []
    for cluster in live.lanes:
        procs = {p.id: p for p in live.topology(cluster).data_nodes()}
        state = {node: crash.roles_before.get(cluster, {}).get(node, "replica") for node in procs}
        since = {node: start for node in procs}
        segments: dict[str, list[dict[str, Any]]] = {node: [] for node in procs}

        def change(node: str, new: str, at: float) -> None:
            if node not in state or state[node] == new:
                return
            segments[node].append({"state": state[node], "from_ms": since[node], "to_ms": at})
            state[node], since[node] = new, at

        for record in live.log.records:
            if record.get("cluster") != cluster or record["ts"] < start:
                continue
            name, node, at = record.get("event"), record.get("node"), record["ts"]
            if name == "node_crashed" and node:
                change(node, "down", at)
            elif name == "node_restarted" and node:
                change(node, "replica", at)
            elif name == "failover_finished":
                primary = record.get("primary")
                for other in procs:
                    if other != primary and state[other] == "primary":
                        change(other, "replica", at)
                if primary:
                    change(primary, "primary", at)
        for node, proc in procs.items():
            segments[node].append({"state": state[node], "from_ms": since[node], "to_ms": end})
            rows.append({
                "cluster": cluster,
                "node": node,
                "label": f"{cluster} · shard {proc.shard} · {proc.zone}",
                "segments": segments[node],
            })
    return rows

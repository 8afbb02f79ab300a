"""The verdict of a crash experiment: every acknowledged write read back from the new
primaries (``Ledger.verify``), each cluster's failover time, how long it acknowledged
nothing, the loss window, and the series of the three charts (latency, throughput,
and each node's role over time, rebuilt from the sandbox's event log)."""

from __future__ import annotations

import contextlib
from typing import Any

from sandbox.live import Experiment, LiveSandbox
from sandbox.models import CLUSTERS


async def build_verdict(live: LiveSandbox, experiment: Experiment | None, now_ms: float) -> dict[str, Any]:
    """Every acknowledged write of each cluster read back, with the failover figures
    and the series the charts are drawn from."""
    load = live.load
    crash_ms = experiment.crash_ms if experiment else None
    clusters: dict[str, Any] = {}
    for name in CLUSTERS:
        result: dict[str, Any] = {"acknowledged": 0, "kept": 0, "lost": 0, "lost_keys": [], "errors": 0}
        if load is not None:
            pause = load.paused() if load.running else contextlib.nullcontext()
            async with pause:
                result = await load.ledgers[name].verify(live.probe[name], crash_ms)
            if crash_ms is not None:
                result["outage_ms"] = load.outage_ms(name, crash_ms)
        if experiment is not None:
            failovers = experiment.failovers.get(name, [])
            durations = [f.get("duration_ms") for f in failovers if f.get("duration_ms") is not None]
            result["failover_ms"] = max(durations) if durations else None
            result["failed_over"] = bool(failovers) or name not in experiment.awaiting
        clusters[name] = result
    markers: dict[str, Any] = {}
    if experiment is not None:
        markers["crash_ms"] = experiment.crash_ms
        markers["failovers"] = {
            name: [f.get("ts") for f in experiment.failovers.get(name, [])] for name in CLUSTERS
        }
    verdict: dict[str, Any] = {
        "clusters": clusters,
        "fault": experiment.fault if experiment else None,
        "target": experiment.target if experiment else None,
        "prediction": experiment.prediction if experiment else None,
        "crash_ms": crash_ms,
        "shape": live.shape,
        "load_rate": load.rate if load else 0,
        "charts": load.charts(markers) if load is not None else {"markers": markers, "clusters": {}},
    }
    if experiment is not None:
        verdict["charts"]["timeline"] = timeline(live, experiment, now_ms)
    return verdict

def timeline(live: LiveSandbox, experiment: Experiment, now_ms: float) -> list[dict[str, Any]]:
    """Per data node: when it was primary, replica or down, around the crash."""
    start = experiment.crash_ms - 2000
    end = now_ms
    topologies = live.topologies()
    rows = []
    for cluster in CLUSTERS:
        procs = {p["id"]: p for p in topologies.get(cluster, {}).get("processes", []) if p["kind"] == "data"}
        state = {node: experiment.roles_before.get(cluster, {}).get(node, "replica") for node in procs}
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
                "label": f"{cluster} · shard {proc['shard']} · {proc['zone']}",
                "segments": segments[node],
            })
    return rows

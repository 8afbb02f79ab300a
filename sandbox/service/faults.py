"""Faults and the crash experiment: a learner's fault button, for real.

``fault`` picks the victims from the cluster's ``Topology`` (``victims``), injects
the fault through the backend's ``ClusterControl`` (SIGKILL, a zone, a pause, a
restart; "slow down the log" pauses two of the async lane's three journal
replicas, so its journal has no quorum and its durability buffer grows), and for a crash (``kill_primary``, ``kill_zone``) opens a ``CrashRun``:
the live sessions hand it each ``failover_finished``; ``_conclude`` waits for the
awaited failovers, reads every acknowledged write back (``build_verdict``), saves
the experiment and sends the verdict.

"both" means every lane the sandbox runs, hit at the same instant. Before a crash
kills an async-writes primary, its durability buffer is read (``observe.buffer_now``)
so that the verdict can say how many acknowledged writes it could lose at most.

Invariants: one crash at a time per sandbox (another waits for its failovers);
the learner's prediction goes with the next crash only; victims are chosen by the
server from the topology (a browser may name a node id, never an address).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Callable

from sandbox import observe, store
from sandbox.live import LiveSandbox
from sandbox.models import LANE_LABELS
from sandbox.owners import Owner
from sandbox.protocol import ClientError
from sandbox.resp import LinkDown
from sandbox.service.lifecycle import Lifecycle
from sandbox.service.sessions import LiveSessions
from sandbox.topology import Topology
from sandbox.verdict import CrashRun, build_verdict

VERDICT_TIMEOUT_S = 25.0
VERDICT_ATTEMPTS = 4  # reading every write back, when a node does not answer yet
VERDICT_RETRY_S = 2.0
SETTLE_S = 0.3  # after the last failover, let in-flight writes finish before reading back
CRASHES = ("kill_primary", "kill_zone")
JOURNALED = ("durable", "async")  # lanes with a journal (kill_journal)
SLOW_LOG_JOURNALS = 2  # of three: the journal loses its quorum, the buffer grows


def victims(action: str, topology: Topology, shard: int, fields: dict[str, Any]) -> list[str]:
    """The ids of the processes ``action`` hits in one cluster (none: nothing to hit now)."""
    if fields.get("node"):
        if topology.get(fields["node"]) is None:
            raise ClientError("no_such_node")
        return [fields["node"]]
    data = topology.data_nodes(shard)
    zone = fields.get("zone", "az-a")
    if action == "kill_primary":
        return [p.id for p in data if p.role == "primary" and p.up][:1]
    if action == "kill_replica":
        return [p.id for p in data if p.role == "replica" and p.running][:1]
    if action == "kill_zone":
        return [p.id for p in topology if p.zone == zone and p.up]
    if action == "kill_journal":
        return [p.id for p in topology.journals() if p.zone == zone and p.running]
    if action == "slow_log":
        return [p.id for p in topology.journals() if p.running][:SLOW_LOG_JOURNALS]
    if action == "pause":
        return [p.id for p in data if p.role == "primary" and p.running][:1]
    if action == "restart":
        return [p.id for p in topology if p.down]
    return []


class FaultService:
    def __init__(self, lifecycle: Lifecycle, sessions: LiveSessions, clock: Callable[[], float]) -> None:
        self.lifecycle = lifecycle
        self.sessions = sessions
        self.clock = clock

    async def fault(self, owner: Owner, action: str, fields: dict[str, Any]) -> dict[str, Any]:
        live = self.lifecycle.running(owner)
        self.lifecycle.touch(owner)
        target = fields.get("target", "both")
        clusters = self._clusters(live, action, target)
        shard = fields.get("shard", 0)
        if shard >= live.shape["shards"]:
            raise ClientError("bad_field", f"Your sandbox has {live.shape['shards']} shard(s).", field="shard")
        if "prediction" in fields:
            live.lab.prediction = fields["prediction"]
        if "prediction_async" in fields:
            live.lab.prediction_async = fields["prediction_async"]
        topologies = live.topologies()
        if fields.get("node"):
            clusters = tuple(name for name in clusters if topologies[name].get(fields["node"]) is not None)
            if not clusters:
                raise ClientError("no_such_node")
        plan: dict[str, list[str]] = {}
        for name in clusters:
            plan[name] = victims(action, topologies[name], shard, fields)
            if not plan[name] and action != "kill_zone":
                raise ClientError(
                    "fault_refused", f"The {name} cluster has no process to {action.replace('_', ' ')} now."
                )
        if action == "slow_log" and len(plan["async"]) < SLOW_LOG_JOURNALS:
            raise ClientError("fault_refused", "The async lane's journal is already down to one replica.")
        if action in CRASHES and live.lab.crash_pending:
            raise ClientError("fault_refused", "Wait for the current failover to finish.")
        crash = self._open_crash(live, action, target, clusters, plan, topologies) if action in CRASHES else None
        read_ms = self.clock() * 1000
        if crash is not None:
            await self._read_buffers(live, crash, plan, topologies)
            crash.crash_ms = self.clock() * 1000  # the kill's instant, after the reading
        self.sessions.record(live, {"event": "fault", "action": action, "target": target, "nodes": plan})
        results = await asyncio.gather(
            *(self._inject(live, name, action, plan[name], fields) for name in clusters),
            return_exceptions=True,
        )
        if crash is not None:
            self._bound_buffers(live, crash, read_ms)
        problems = [str(r) for r in results if isinstance(r, BaseException)]
        if crash is not None:
            live.spawn(self._conclude(live, crash))
        return {"action": action, "nodes": plan, "problems": problems}

    @staticmethod
    def _clusters(live: LiveSandbox, action: str, target: str) -> tuple[str, ...]:
        """The lanes a fault hits: "both" is every lane that runs, at the same instant."""
        if target != "both" and target not in live.lanes:
            raise ClientError("fault_refused", f"The {LANE_LABELS[target]} lane is off: turn it on first.")
        if action == "slow_log":
            if "async" not in live.lanes or target not in ("both", "async"):
                raise ClientError("fault_refused", "Slowing down the log is a fault of the async-writes lane: turn it on.")
            return ("async",)
        chosen = live.lanes if target == "both" else (target,)
        if action == "kill_journal":
            chosen = tuple(name for name in chosen if name in JOURNALED)
            if not chosen:
                raise ClientError("fault_refused", "The cache cluster has no journal.")
        return chosen

    async def _read_buffers(
        self, live: LiveSandbox, crash: CrashRun, plan: dict[str, list[str]], topologies: dict[str, Topology]
    ) -> None:
        """What the async primaries about to die hold unpersisted, read just before."""
        if "async" not in crash.clusters:
            return
        dying = [p for p in topologies["async"].data_nodes() if p.id in plan["async"] and p.is_primary and p.running]
        readings = await asyncio.gather(*(observe.buffer_now(live.clients.probe["async"], p.address) for p in dying))
        known = [r for r in readings if r is not None]
        if known:
            crash.buffers["async"] = {
                "writes": sum(r["writes"] for r in known),
                "age_ms": max(r["age_ms"] for r in known),
                "limit_ms": max(r["limit_ms"] for r in known),
            }

    def _bound_buffers(self, live: LiveSandbox, crash: CrashRun, read_ms: float) -> None:
        """Writes acknowledged between the buffer's reading and the kill were in the
        buffer too (an async primary acknowledges before the log has a write)."""
        buffer = crash.buffers.get("async")
        load = live.lab.load
        if buffer is None:
            return
        meanwhile = load.ledgers["async"].acked_between(read_ms, self.clock() * 1000) if load is not None else 0
        buffer["acked_meanwhile"] = meanwhile
        buffer["bound"] = buffer["writes"] + meanwhile

    def _open_crash(
        self, live: LiveSandbox, action: str, target: str, clusters: tuple[str, ...],
        plan: dict[str, list[str]], topologies: dict[str, Topology],
    ) -> CrashRun:
        """The crash about to happen: which shards lose their primary, whose failover is awaited."""
        awaiting = {
            name: {int(p.shard) for p in topologies[name].data_nodes() if p.id in plan[name] and p.is_primary}
            for name in clusters
        }
        crash = CrashRun(
            fault=action, target=target, clusters=tuple(clusters), crash_ms=self.clock() * 1000,
            prediction=live.lab.prediction, load_rate=live.lab.load.rate if live.lab.load_running else 0,  # type: ignore[union-attr]
            awaiting={k: v for k, v in awaiting.items() if v},
            roles_before={name: topologies[name].roles() for name in live.lanes},
            prediction_async=live.lab.prediction_async if "async" in live.lanes else None,
        )
        live.lab.crash = crash
        live.lab.prediction = live.lab.prediction_async = None
        return crash

    async def _inject(self, live: LiveSandbox, cluster: str, action: str, victims: list[str], fields: dict[str, Any]) -> None:
        assert live.handle is not None
        control = live.handle.clusters[cluster]
        if action == "kill_zone":
            await control.kill_zone(fields.get("zone", "az-a"))
        elif action in ("pause", "slow_log"):
            await asyncio.gather(*(control.pause(v, fields.get("seconds", 5)) for v in victims))
        elif action == "restart":
            await asyncio.gather(*(control.restart(v) for v in victims))
        else:
            await asyncio.gather(*(control.kill(v) for v in victims))

    async def _conclude(self, live: LiveSandbox, crash: CrashRun) -> None:
        """After a crash: wait for the failovers, then read every write back."""
        if crash.awaiting:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(crash.done.wait(), VERDICT_TIMEOUT_S)
        crash.done.set()
        await asyncio.sleep(SETTLE_S)
        # On a busy host a node can still be restarting when the writes are read
        # back: try again for a while before giving up on the verdict.
        for attempt in range(VERDICT_ATTEMPTS):
            try:
                verdict = await build_verdict(live, crash, self.clock() * 1000)
                break
            except (LinkDown, OSError) as exc:
                if attempt + 1 == VERDICT_ATTEMPTS:
                    live.lab.verdicts_failed += 1
                    self.sessions.record(live, {"event": "verdict_failed", "error": str(exc)})
                    return
                await asyncio.sleep(VERDICT_RETRY_S)
        verdict["experiment_id"] = await store.save_experiment(live.owner, live.shape, crash, verdict)
        live.lab.last_verdict = verdict
        self.sessions.record(
            live, {"event": "verdict", **{f"{c}_lost": verdict["clusters"][c]["lost"] for c in verdict["clusters"]}}
        )
        self.sessions.send(live, {"type": "verdict", "verdict": verdict})

    def last_experiment_id(self, owner: Owner) -> int | None:
        """The saved experiment of the owner's last verdict (None: none yet)."""
        live = self.lifecycle.live.get(owner.key)
        verdict = live.lab.last_verdict if live is not None else None
        return verdict.get("experiment_id") if verdict else None

    async def wait_verdict(
        self, owner: Owner, after: int | None, timeout: float = VERDICT_TIMEOUT_S + 30
    ) -> dict[str, Any] | None:
        """The verdict of the owner's crash after experiment ``after`` (a class run
        waits here for each sandbox it crashed); None if none came within ``timeout``."""
        deadline = asyncio.get_running_loop().time() + timeout
        live = self.lifecycle.live.get(owner.key)
        failed_before = live.lab.verdicts_failed if live is not None else 0
        while asyncio.get_running_loop().time() < deadline:
            live = self.lifecycle.live.get(owner.key)
            if live is None or live.lab.verdicts_failed > failed_before:
                return None  # gone, or its verdict could not be read: no use waiting
            verdict = live.lab.last_verdict
            if verdict is not None and verdict.get("experiment_id") != after:
                return verdict
            await asyncio.sleep(0.05)
        return None

    async def verdict(self, owner: Owner) -> dict[str, Any]:
        """The verdict of the last experiment, or a check of every write right now."""
        live = self.lifecycle.running(owner)
        self.lifecycle.touch(owner)
        if live.lab.last_verdict is not None and not live.lab.load_running:
            return live.lab.last_verdict
        return await build_verdict(live, None, self.clock() * 1000)

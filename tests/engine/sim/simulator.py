"""One simulation run per seed: build a cluster, inject random faults, heal, check.

Phases, all decided by ``random.Random(seed)``:

1. build: three journal replicas (az-a, az-b, az-c), 1-2 shards, each with 2-3 data
   nodes spread over the zones and a snapshotter;
2. chaos: for a few virtual seconds, crash and restart journal replicas (losing
   unsynced writes, sometimes tearing the last one; sometimes corrupting a record
   in the middle of the fsynced log while the replica is down, so it restarts
   recovering from its peers -- at most one replica at a time has lost its log,
   since two lost logs may leave the group unavailable for good, by design),
   partition zones or single data nodes, crash data nodes, make the network drop /
   duplicate / reorder, slow disks;
3. settle: heal everything, restart everything, stop new writes, run until the
   cluster converges (or fail if it does not within a bound);
4. final checks (see invariants.py). Safety checks also run after every event.

A failure raises ``SimFailure`` whose message starts with the seed and the command
that replays it, and ends with the last events of the trace.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .datanodes import DataNode
from .invariants import SimFailure
from .world import SimConfig, World

CHAOS_MS = (4000, 9000)  # virtual ms of fault injection per seed (inclusive range)
SETTLE_MAX_MS = 20000  # virtual ms allowed for convergence after healing
CORRUPT_PROBABILITY = 0.3  # chance that a plain replica crash also corrupts its log (if allowed)


@dataclass
class SimReport:
    seed: int
    virtual_ms: int
    stats: Counter[str]
    torn_recoveries: int

    def summary(self) -> str:
        s = self.stats
        return (
            f"seed {self.seed}: {self.virtual_ms} virtual ms, {s['elections']} raft elections, "
            f"{s['failovers']} primary takeovers, {s['acked']} acked writes, {s['applied']} entries applied, "
            f"{s['replica_crashes']} replica crashes ({self.torn_recoveries} torn tails, "
            f"{s['corrupt_logs']} corrupt logs, {s['recoveries']} recoveries), "
            f"{s['partitions']} partitions, {s['datanode_crashes']} data-node crashes, "
            f"{s['snapshots']} data snapshots+trims, {s['compactions']} raft compactions, "
            f"{s['installs']} InstallSnapshots"
        )


def replay_hint(seed: int) -> str:
    return (
        f"replay with: pytest tests/engine/sim -k replay --sim-seed={seed} -p no:django --confcutdir tests/engine"
        f"   or: python -m tests.engine.sim --seed {seed} --verbose"
    )


def build_world(seed: int, config: SimConfig = SimConfig(), verbose: bool = False) -> World:
    world = World(seed, config, verbose)
    rng = world.rng
    world.leader_sends_early = rng.random() < 0.5
    zones = list(config.replicas)
    for s in range(rng.randint(1, 2)):
        shard = f"s{s}"
        rng.shuffle(zones)
        for k in range(rng.randint(2, 3)):
            world.add_datanode(DataNode(world, f"{shard}-d{k}", shard, zones[k % len(zones)], prefer_primary=k == 0))
        world.add_datanode(DataNode(world, f"{shard}-snap", shard, rng.choice(zones), snapshotter=True))
    return world


class Chaos:
    """The fault injector: one random fault every few hundred virtual ms."""

    def __init__(self, world: World, until: int) -> None:
        self.world = world
        self.until = until
        self.partition_gen = 0
        self.default_fsync = world.config.fsync_ms
        world.after(world.rng.randint(50, 400), self.step)

    def step(self) -> None:
        w, rng = self.world, self.world.rng
        if w.now >= self.until:
            return
        roll = rng.random()
        if roll < 0.25:
            self.crash_replica()
        elif roll < 0.50:
            self.partition()
        elif roll < 0.65:
            self.crash_datanode()
        elif roll < 0.85:
            self.weather()
        else:
            self.slow_disk()
        w.after(rng.randint(100, 900), self.step)

    def crash_replica(self) -> None:
        w, rng = self.world, self.world.rng
        live = [r for r in w.replicas.values() if r.alive]
        if len(live) < 2:
            return
        leaders = [r for r in live if r in w.leaders()]
        victim = rng.choice(leaders if leaders and rng.random() < 0.5 else live)
        w.checker.stats["replica_crashes"] += 1
        restart_after = rng.choice([rng.randint(1, 50), rng.randint(20, 1500)])
        if rng.random() < 0.6:
            # Crash in the middle of a write, before its fsync: what can tear a record.
            victim.crash_on_write = restart_after
            return
        victim.crash()
        others_lost = any(r.lost_state for r in w.replicas.values() if r is not victim)
        if rng.random() < CORRUPT_PROBABILITY and not others_lost:
            victim.corrupt()  # a record in the middle of its fsynced log: it must recover from its peers
        w.after(restart_after, lambda: None if victim.alive else victim.start())

    def crash_datanode(self) -> None:
        w, rng = self.world, self.world.rng
        live = [n for n in w.datanodes.values() if n.alive]
        if not live:
            return
        victim = rng.choice(live)
        victim.crash()
        w.checker.stats["datanode_crashes"] += 1
        w.after(rng.randint(50, 1500), lambda: None if victim.alive else victim.start())

    def partition(self) -> None:
        w, rng = self.world, self.world.rng
        zones = list(w.config.replicas)
        by_zone = {z: [z] + [n.name for n in w.datanodes.values() if n.az == z] for z in zones}
        kind = rng.random()
        if kind < 0.5:  # one zone cut off
            cut = rng.choice(zones)
            groups = [by_zone[cut], [name for z in zones if z != cut for name in by_zone[z]]]
        elif kind < 0.7:  # every zone alone
            groups = [by_zone[z] for z in zones]
        else:  # one data node cut off from everything (a primary that can no longer renew)
            node = rng.choice(list(w.datanodes))
            groups = [[node], [name for name in w.endpoints if name != node]]
        w.net.partition(groups)
        w.checker.stats["partitions"] += 1
        self.partition_gen += 1
        gen = self.partition_gen
        w.after(rng.randint(100, 2000), lambda: w.net.heal() if gen == self.partition_gen else None)

    def weather(self) -> None:
        w, rng = self.world, self.world.rng
        w.net.drop_p = rng.choice([0.0, 0.0, 0.01, 0.05, 0.2])
        w.net.dup_p = rng.choice([0.0, 0.01, 0.05])
        w.net.slow_p = rng.choice([0.0, 0.02, 0.1])
        w.log(f"network: drop {w.net.drop_p}, duplicate {w.net.dup_p}, slow {w.net.slow_p}")

    def slow_disk(self) -> None:
        w, rng = self.world, self.world.rng
        leaders = w.leaders()
        # A slow leader disk is where "count the leader's copy only once durable" matters.
        replica = rng.choice(leaders if leaders and rng.random() < 0.5 else list(w.replicas.values()))
        replica.fsync_ms = (5, rng.choice([20, 60, 150]))
        w.log(f"{replica.name}: slow disk {replica.fsync_ms}")
        w.after(rng.randint(200, 1500), lambda: setattr(replica, "fsync_ms", self.default_fsync))


def settle(world: World) -> None:
    """Heal, restart everything, stop new writes, and wait for convergence."""
    world.log("--- settle: heal, restart all, quiesce ---")
    world.quiesced = True
    world.net.heal()
    for r in world.replicas.values():
        r.crash_on_write = None  # no fault may fire after healing
    world.net.drop_p = world.net.dup_p = world.net.slow_p = 0.0
    for r in world.replicas.values():
        r.fsync_ms = world.config.fsync_ms
        if not r.alive:
            r.start()
    for n in world.datanodes.values():
        if not n.alive:
            n.start()
    deadline = world.now + SETTLE_MAX_MS
    while world.now < deadline:
        world.run_for(250)
        if world.checker.converged() is None:
            break


def run_seed(seed: int, verbose: bool = False, config: SimConfig = SimConfig()) -> SimReport:
    """Run one seed; raise SimFailure (with the seed and a replay command) on a violation."""
    world = None
    try:
        world = build_world(seed, config, verbose)
        chaos_ms = world.rng.randint(*CHAOS_MS)
        Chaos(world, chaos_ms)
        world.run_until(chaos_ms)
        settle(world)
        world.checker.final()
    except Exception as exc:  # SimFailure, a safety assertion inside RaftNode, or any crash
        trace = "\n".join(world.trace) if world is not None else ""
        now = world.now if world is not None else 0
        raise SimFailure(
            f"SIMULATION FAILED: seed {seed} at {now} virtual ms: {type(exc).__name__}: {exc}\n{replay_hint(seed)}\n"
            f"--- last events ---\n{trace}\n--- seed {seed}: {replay_hint(seed)}"
        ) from exc
    torn = sum(r.torn_recoveries for r in world.replicas.values())
    return SimReport(seed, world.now, world.checker.stats, torn)

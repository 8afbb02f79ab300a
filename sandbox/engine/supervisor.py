"""The supervisor: starts a cluster's processes, watches them, reports topology and
events, injects faults and restarts what crashed.

A cluster is three journal replicas (durable mode only, one per zone), one data
node per (shard, replica slot) spread over zones az-a/az-b/az-c, and a snapshotter
(durable mode). Every child prints JSON lines on stdout (``ready`` first, then its
own events); the supervisor turns them, plus process exits, into one event stream.

Failover:
* durable — the data nodes elect a primary through the journal; the supervisor
  only sees ``role_changed`` and tells every node the new topology;
* cache — the supervisor itself detects the dead primary, waits the detection
  timeout, promotes the replica with the highest replication offset and points the
  others at it (what ElastiCache's failover does), then tells every node.

Invariants: every child is started with PR_SET_PDEATHSIG so it dies with the
supervisor; ``stop()`` terminates and reaps every child by pid; a node always
restarts as a replica on the same port; ``DIR/cluster.json`` keeps the layout
(ids, zones, ports) so a stopped cluster starts again on the same data.

A new durable cluster can start from a snapshot file (``from_snapshot``): before any
process starts, each shard gets a snapshot at entry 0 of its still-empty stream
holding the source's keys in its slots (``snapshot.rebase``), and its nodes load it.

Users: every data node loads ``DIR/users.acl`` (0600, written before any node
starts; it holds password hashes only, never a password). It defines
* ``supervisor``, allowed everything, with a random password that only this
  Supervisor object knows: its own connections (topology pushes, INFO, promotions,
  REPLICAOF) and cache replicas' handshakes with their primary (``--masteruser``,
  the password from the 0600 ``DIR/masterauth``) log in as it;
* the application user (``username``/``password``) if the spec has one, allowed
  ``user_rules`` — by default everything but what the supervisor owns;
* ``default``: with ``requirepass`` it is on with that password (as before); with an
  application user and no requirepass it is off, so a connection can do nothing
  before logging in as a named user; with neither it needs no password.
No secret is ever on a command line (/proc/*/cmdline is world-readable).

The journal (durable mode): its three replicas, every data node and the snapshotter
get ``DIR/journal.secret`` (0600; ``--auth-file`` / ``--journal-auth-file``): clients
log in to the journal with it and the replicas prove it to each other
(journal_auth.py), so no other process can append, trim or join the Raft group. The
secret is ``spec.journal_secret`` when the spec names one (the site does, as it does
its users); otherwise the file is kept, so a cluster started again from its
directory has the secret it had, and made when missing or when other users could
read it (then it is no secret). The supervisor never talks to the journal itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Any, AsyncIterator

from .journal_auth import check_secret, load_secret, new_secret
from .promotion import choose_primary, parse_offset
from .respclient import RespError, connect
from .supervisor_processes import (  # noqa: F401  (memory_limit, _free_ports: imported from here by callers)
    RESTART_BACKOFF_MAX_S,
    RESTART_STABLE_S,
    Proc,
    _child_setup,
    _free_ports,
    memory_limit,
)
from .supervisor_spec import (  # noqa: F401  (the spec's names are imported from here by callers)
    APP_USER_RULES,
    JOURNAL_SECRET_FILE,
    SUPERVISOR_USER,
    ZONES,
    ClusterSpec,
    slot_ranges,
    users_file,
)


class Supervisor:
    def __init__(self, spec: ClusterSpec) -> None:
        if spec.mode not in ("durable", "cache"):
            raise ValueError("mode must be 'durable' or 'cache'")
        if not 1 <= spec.shards <= 16 or not 0 <= spec.replicas <= 5:
            raise ValueError("shards must be 1..16 and replicas 0..5")
        if spec.from_snapshot and spec.mode != "durable":
            raise ValueError("from_snapshot needs mode='durable' (cache nodes don't read snapshots)")
        from .config import _parse_memory

        _parse_memory(spec.maxmemory)  # ValueError for a size the nodes would refuse
        if spec.max_disk_bytes < 0 or (spec.max_disk_bytes and spec.mode != "durable"):
            raise ValueError("max_disk_bytes must be >= 0, and needs mode='durable' (it caps the journal)")
        if spec.journal_secret:
            if spec.mode != "durable":
                raise ValueError("journal_secret needs mode='durable' (a cache cluster has no journal)")
            check_secret(spec.journal_secret, "ClusterSpec.journal_secret")
        self._secret = secrets.token_hex(24)  # the supervisor user's password: never leaves this object
        self._users_file_text = users_file(spec, self._secret)  # checks the user before anything starts
        self.spec = spec
        self.dir = Path(spec.data_dir).resolve()
        self.procs: dict[str, Proc] = {}
        self.epoch = 1
        self._subscribers: list[asyncio.Queue[dict[str, Any]]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._failover_started: dict[int, float] = {}
        self._start_failure: asyncio.Future[str] | None = None  # set while start() waits for ready lines
        self.history: list[dict[str, Any]] = []

    # -- layout ------------------------------------------------------------------------
    def _layout(self) -> None:
        saved = self.dir / "cluster.json"
        if saved.exists():
            layout = json.loads(saved.read_text())
            if layout["mode"] != self.spec.mode or layout["shards"] != self.spec.shards:
                raise ValueError(f"{saved} holds a {layout['mode']} cluster of {layout['shards']} shards")
            for p in layout["procs"]:
                self.procs[p["id"]] = Proc(id=p["id"], kind=p["kind"], zone=p["zone"], port=p["port"],
                                           shard=p["shard"], aux_port=p.get("aux_port", 0))
            self.epoch = layout.get("epoch", 1) + 1
            return
        journals = 3 if self.spec.mode == "durable" and not self.spec.host_journal else 0  # else the host's
        data = self.spec.shards * (1 + self.spec.replicas)
        count = 2 * journals + data
        if self.spec.base_port:
            ports = list(range(self.spec.base_port, self.spec.base_port + count))
        else:
            ports = _free_ports(count, self.spec.bind)
        it = iter(ports)
        for zone in ZONES[:journals]:
            self.procs[f"journal-{zone}"] = Proc(id=f"journal-{zone}", kind="journal", zone=zone, port=next(it),
                                                 aux_port=next(it), role="follower")
        for shard in range(self.spec.shards):
            for r in range(1 + self.spec.replicas):
                zone = ZONES[(shard + r) % 3]
                node_id = f"{self.spec.mode[0]}{shard:03d}{r:02d}" + os.urandom(17).hex()
                self.procs[node_id] = Proc(id=node_id, kind="data", zone=zone, port=next(it), shard=shard,
                                           role="primary" if r == 0 else "replica")
        if self.spec.mode == "durable" and self.spec.snapshotter:
            self.procs["snapshotter"] = Proc(id="snapshotter", kind="snapshotter", zone="az-a", port=0)
        self._save_layout()

    def _save_layout(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        layout = {
            "mode": self.spec.mode, "shards": self.spec.shards, "epoch": self.epoch,
            "procs": [{"id": p.id, "kind": p.kind, "zone": p.zone, "port": p.port, "shard": p.shard,
                       "aux_port": p.aux_port} for p in self.procs.values()],
        }
        tmp = self.dir / "cluster.json.tmp"
        tmp.write_text(json.dumps(layout, indent=1))
        tmp.replace(self.dir / "cluster.json")

    def _write_private(self, name: str, content: str) -> Path:
        """A file only this user can read, replaced whole (never readable half-written)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / name
        tmp = self.dir / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(content)
        tmp.replace(path)
        return path

    def _write_user_files(self) -> None:
        self._write_private("users.acl", self._users_file_text)
        self._write_private("masterauth", self._secret)
        if self.spec.mode == "durable":
            self._write_journal_secret()

    @property
    def journal_secret_file(self) -> Path:
        """The 0600 file every journal client and replica reads the journal's secret from."""
        return self.dir / JOURNAL_SECRET_FILE

    def _write_journal_secret(self) -> None:
        """The spec's secret; else keep the file's (a restart from this directory), or
        write a new one when it is missing or unusable."""
        if self.spec.journal_secret:
            self._write_private(JOURNAL_SECRET_FILE, self.spec.journal_secret)
            return
        try:
            load_secret(str(self.journal_secret_file))
            return
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            print(f"supervisor: replacing the journal secret: {exc}", file=sys.stderr, flush=True)
        self._write_private(JOURNAL_SECRET_FILE, new_secret())

    def journal_addrs(self) -> str:
        return self.spec.host_journal or ",".join(f"127.0.0.1:{p.port}" for p in self.procs.values() if p.kind == "journal")

    def _argv(self, p: Proc, first_start: bool) -> list[str]:
        py = [sys.executable, "-m", "sandbox.engine"]
        if p.kind == "journal":
            peers = ",".join(q.zone for q in self.procs.values() if q.kind == "journal")
            return py + ["journal", "--id", p.zone, "--port", str(p.port), "--raft-port", str(p.aux_port),
                         "--bind", self.spec.bind, "--peers", peers, "--dir", str(self.dir / "journal" / p.zone),
                         "--discovery-dir", str(self.dir / "journal" / "discovery"),
                         "--auth-file", str(self.journal_secret_file),
                         "--disk-quota-bytes", str(self.spec.max_disk_bytes), "--snapshot-dir", str(self.dir / "snapshots")]
        if p.kind == "snapshotter":
            return py + ["snapshotter", "--journal", self.journal_addrs(), "--shards", str(self.spec.shards),
                         "--journal-auth-file", str(self.journal_secret_file), "--dir", str(self.dir / "snapshots"),
                         "--interval-s", str(self.spec.snapshot_interval_s),
                         "--threshold-entries", str(self.spec.snapshot_threshold_entries)]
        argv = py + ["node", "--mode", self.spec.mode, "--shard", str(p.shard), "--zone", p.zone,
                     "--port", str(p.port), "--bind", self.spec.bind, "--cluster-enabled", "--node-id", p.id,
                     "--dir", str(self.dir / "nodes" / p.id), "--maxmemory", self.spec.maxmemory]
        if self.spec.client_output_buffer_limit:
            argv += ["--client-output-buffer-limit", self.spec.client_output_buffer_limit]
        # Users from a private file, not the command line: /proc/*/cmdline is world-readable.
        argv += ["--aclfile", str(self.dir / "users.acl")]
        if self.spec.mode == "durable":
            argv += ["--journal", self.journal_addrs(), "--journal-auth-file", str(self.journal_secret_file),
                     "--snapshot-dir", str(self.dir / "snapshots"),
                     "--lease-ms", str(self.spec.lease_ms)] + self.spec.durability_args()
            if first_start and p.role == "primary":
                argv.append("--prefer-primary")
        else:
            argv += ["--replication-delay-ms", str(self.spec.replication_delay_ms),
                     "--masteruser", SUPERVISOR_USER, "--masterauth-file", str(self.dir / "masterauth")]
            primary = self.primary_of(p.shard)
            if primary is not None and primary is not p:
                argv += ["--replica-of", f"127.0.0.1:{primary.port}"]
        return argv

    def primary_of(self, shard: int | None) -> Proc | None:
        for p in self.procs.values():
            if p.kind == "data" and p.shard == shard and p.role == "primary" and p.status != "crashed":
                return p
        return None

    # -- events ------------------------------------------------------------------------
    def _emit(self, event: dict[str, Any]) -> None:
        event.setdefault("ts", round(time.time() * 1000))
        self.history.append(event)
        del self.history[:-1000]
        for q in self._subscribers:
            q.put_nowait(event)

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Every event from now on (topology changes, crashes, failovers, ...)."""
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._subscribers.append(q)
        try:
            while True:
                yield await q.get()
        finally:
            self._subscribers.remove(q)

    def topology(self) -> dict[str, Any]:
        return {
            "mode": self.spec.mode, "epoch": self.epoch, "shards": self.spec.shards,
            "replication_delay_ms": self.spec.replication_delay_ms,
            "slots": [list(r) for r in slot_ranges(self.spec.shards)],
            "processes": [p.public() for p in self.procs.values()],
        }

    def _spawn_task(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- processes ---------------------------------------------------------------------
    async def _launch(self, p: Proc, first_start: bool) -> None:
        if self._stopping:
            raise RuntimeError(f"not starting {p.id}: the cluster is stopping")
        p.ready.clear()
        p.expected_exit = False
        p.status = "starting"
        p.process = await asyncio.create_subprocess_exec(
            *self._argv(p, first_start), stdout=asyncio.subprocess.PIPE, stderr=None,
            preexec_fn=_child_setup(memory_limit(p.kind, self.spec)), cwd=Path(__file__).resolve().parents[2],
        )
        p.pid = p.process.pid
        if self._stopping:
            # stop() listed the running processes while this one was being created.
            p.expected_exit = True
            p.process.kill()
            await p.process.wait()
            p.status = "stopped"
            raise RuntimeError(f"{p.id} started while the cluster was stopping; stopped it")
        p.started_at = time.monotonic()
        self._spawn_task(self._watch(p, p.process))

    async def _watch(self, p: Proc, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while True:
            line = await process.stdout.readline()
            if not line:
                break
            try:
                event = json.loads(line)
            except ValueError:
                continue
            self._on_child_event(p, event)
        code = await process.wait()
        if p.process is not process:
            return
        if self._start_failure is not None and not p.ready.is_set() and not self._start_failure.done():
            self._start_failure.set_result(
                f"{p.id} ({p.kind}, {p.zone}) exited with status {code} before it was ready; its error "
                "is on this process's stderr"
            )
        was_primary = p.role == "primary"
        p.status = "stopped" if p.expected_exit else "crashed"
        if p.kind == "journal":
            p.role = "follower"  # whoever leads next says so (journal_leader)
        p.pid = None
        if self._stopping or p.expected_exit:
            return
        self._emit({"event": "node_crashed", "node": p.id, "kind": p.kind, "shard": p.shard,
                    "zone": p.zone, "role": p.role, "exit_code": code})
        if p.kind == "data" and was_primary:
            self._failover_started.setdefault(p.shard or 0, time.monotonic())
            if self.spec.mode == "cache":
                self._spawn_task(self._cache_failover(p.shard or 0))
        if self.spec.auto_restart:
            self._spawn_task(self._restart_later(p, self._restart_delay(p, code)))

    def _on_child_event(self, p: Proc, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "ready":
            p.status = "running"
            p.ready.set()
            if p.kind == "data":
                p.role = event.get("role", p.role)
            return
        if kind == "role_changed" and p.kind == "data" and self.spec.mode == "durable":
            # Durable nodes elect themselves through the journal; in cache mode the
            # supervisor drives promotions itself (_cache_failover).
            old = [q for q in self.procs.values() if q.kind == "data" and q.shard == p.shard and q.role == "primary" and q is not p]
            for q in old:
                q.role = "replica"
            p.role = event["role"]
            if p.role == "primary":
                started = self._failover_started.pop(p.shard or 0, None)
                self.epoch += 1
                self._save_layout()
                finished: dict[str, Any] = {"event": "failover_finished", "shard": p.shard, "primary": p.id, "zone": p.zone}
                if started is not None:
                    finished["duration_ms"] = round((time.monotonic() - started) * 1000)

                async def announce() -> None:
                    # Every node learns the new primary before anyone is told it's done.
                    await self.push_topology()
                    self._emit(finished)

                self._spawn_task(announce())
                return
        if kind == "journal_leader" and p.kind == "journal":
            for q in self.procs.values():
                if q.kind == "journal":
                    q.role = "leader" if q is p else "follower"
        if kind == "failover_started" and p.kind == "data" and self.spec.mode == "durable":
            # A failover without an observed crash (a paused or partitioned primary)
            # is timed from the first campaign.
            self._failover_started.setdefault(p.shard or 0, time.monotonic())
        forwarded = dict(event)
        forwarded.update({"node": p.id, "kind": p.kind, "zone": p.zone})
        if p.shard is not None or "shard" not in forwarded:  # the snapshotter names its own shard
            forwarded["shard"] = p.shard
        self._emit(forwarded)

    def _restart_delay(self, p: Proc, code: int) -> float:
        """Seconds to wait before restarting ``p``: the spec's delay, doubled for each
        crash in a row that came within RESTART_STABLE_S of its launch (said in a
        ``restart_backoff`` event), back to the spec's once it stayed up that long."""
        base = self.spec.restart_delay_ms / 1000
        up_s = time.monotonic() - p.started_at
        if up_s >= RESTART_STABLE_S or p.restart_delay_s <= 0:
            p.quick_crashes = 1 if up_s < RESTART_STABLE_S else 0
            p.restart_delay_s = base
            return base
        p.quick_crashes += 1
        p.restart_delay_s = min(max(p.restart_delay_s, base) * 2, max(RESTART_BACKOFF_MAX_S, base))
        limit = memory_limit(p.kind, self.spec)
        self._emit({"event": "restart_backoff", "node": p.id, "kind": p.kind, "shard": p.shard, "zone": p.zone,
                    "exit_code": code, "crashes": p.quick_crashes, "up_ms": round(up_s * 1000),
                    "delay_ms": round(p.restart_delay_s * 1000), "memory_limit": limit,
                    "reason": f"{p.id} crashed {p.quick_crashes} times in a row, the last {up_s:.1f} s after it "
                              f"started (exit status {code}"
                              + (f"; its memory limit is {limit // (1024 * 1024)} MB" if limit else "")
                              + f"); waiting {p.restart_delay_s:g} s before the next restart"})
        return p.restart_delay_s

    async def _restart_later(self, p: Proc, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        # A data node rejoins its shard as a replica of the current primary, so it
        # waits until the shard has one again (a cache-mode failover may still run).
        while self.spec.mode == "cache" and p.kind == "data" and p.shard in self._failover_started and not self._stopping:
            await asyncio.sleep(0.05)
        if self._stopping or p.status != "crashed":
            return
        await self.restart(p.id)

    async def start(self, timeout: float = 20.0) -> dict[str, Any]:
        if self.spec.from_snapshot and not (self.dir / "cluster.json").exists():
            await self._seed_from_snapshot()  # before the layout: a failed seed leaves no cluster behind
        self._layout()
        self._write_user_files()
        order = [p for p in self.procs.values() if p.kind == "journal"]
        order += [p for p in self.procs.values() if p.kind == "data"]
        order += [p for p in self.procs.values() if p.kind == "snapshotter"]
        self._start_failure = asyncio.get_running_loop().create_future()
        try:
            for p in order:
                await self._launch(p, first_start=True)
            await self._until_ready(order, self._start_failure, timeout)
        finally:
            self._start_failure = None
        await self.push_topology()
        if self.spec.mode == "durable":
            await self._wait_for_primaries(timeout)
        self._emit({"event": "ready", "topology": self.topology()})
        return self.topology()

    @staticmethod
    async def _until_ready(order: list[Proc], failure: "asyncio.Future[str]", timeout: float) -> None:
        """Every process said it is ready, or raise at once when one exits before
        that (a port in use, a bad file, ...) rather than waiting out ``timeout``."""
        ready = asyncio.ensure_future(asyncio.gather(*(p.ready.wait() for p in order)))
        done, _ = await asyncio.wait({ready, failure}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            if failure in done:
                raise RuntimeError(failure.result())
            late = ", ".join(p.id for p in order if not p.ready.is_set())
            raise TimeoutError(f"not ready within {timeout:g} s: {late}")

    async def _seed_from_snapshot(self) -> None:
        from .config import EngineConfig
        from .snapshot import rebase

        source = str(Path(self.spec.from_snapshot).resolve())
        metas = await asyncio.to_thread(rebase, source, str(self.dir / "snapshots"), slot_ranges(self.spec.shards),
                                        EngineConfig(port=0, cluster_enabled=True), round(time.time() * 1000))
        self._emit({"event": "seeded_from_snapshot", "source": source,
                    "shards": [{"shard": m.shard, "keys": m.keys} for m in metas]})

    async def _wait_for_primaries(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if all(self.primary_of(s) is not None and self.primary_of(s).status == "running"  # type: ignore[union-attr]
                   for s in range(self.spec.shards)):
                # A primary is elected once a node reported role_changed; the layout's
                # initial "primary" guess is only a preference until then.
                if all(self._elected(s) for s in range(self.spec.shards)):
                    return
            await asyncio.sleep(0.02)
        raise TimeoutError("no primary was elected in time")

    def _elected(self, shard: int) -> bool:
        return any(e.get("event") == "failover_finished" and e.get("shard") == shard for e in self.history)

    async def push_topology(self) -> None:
        """Tell every live data node the current shards, slots and roles."""
        shards = []
        for shard, (lo, hi) in enumerate(slot_ranges(self.spec.shards)):
            nodes = [
                {"id": p.id, "host": "127.0.0.1", "port": p.port, "role": p.role, "zone": p.zone,
                 "health": "failed" if p.status == "crashed" else "online", "offset": p.offset}
                for p in self.procs.values() if p.kind == "data" and p.shard == shard
            ]
            shards.append({"ranges": [[lo, hi]], "nodes": nodes})
        # Every push gets a new epoch: pushes run concurrently, and a node keeps the
        # newest view whatever order they arrive in.
        self.epoch += 1
        payload = json.dumps({"epoch": self.epoch, "shards": shards})
        targets = [p for p in self.procs.values() if p.kind == "data" and p.status == "running"]
        await asyncio.gather(*(self._send(p, "CLUSTER", "SETTOPOLOGY", payload) for p in targets), return_exceptions=True)
        self._emit({"event": "topology_changed", "epoch": self.epoch})

    async def _send(self, p: Proc, *args: Any, timeout: float = 1.0) -> Any:
        conn = await connect("127.0.0.1", p.port, timeout=timeout)
        try:
            await asyncio.wait_for(conn.send("AUTH", SUPERVISOR_USER, self._secret), timeout)
            return await asyncio.wait_for(conn.send(*args), timeout)
        finally:
            conn.close()

    # -- cache-mode failover -------------------------------------------------------------
    async def _cache_failover(self, shard: int) -> None:
        started = self._failover_started.get(shard, time.monotonic())
        self._emit({"event": "failover_started", "shard": shard, "detection_timeout_ms": self.spec.detection_timeout_ms})
        await asyncio.sleep(self.spec.detection_timeout_ms / 1000)
        candidates = [p for p in self.procs.values()
                      if p.kind == "data" and p.shard == shard and p.status == "running" and p.role == "replica"]
        offsets: dict[str, int] = {}
        for p in candidates:
            try:
                offsets[p.id] = parse_offset((await self._send(p, "INFO", "replication")).decode())
            except (ConnectionError, OSError, RespError, asyncio.TimeoutError, ValueError):
                continue
        promotion = choose_primary([p.id for p in candidates], offsets)
        if promotion is None:
            self._emit({"event": "failover_failed", "shard": shard, "reason": "no live replica"})
            return
        winner = self.procs[promotion.primary]
        await self._send(winner, "REPLICAOF", "NO", "ONE")
        for p in self.procs.values():
            if p.kind == "data" and p.shard == shard and p.role == "primary":
                p.role = "replica"
        winner.role = "primary"
        winner.offset = promotion.offset
        for other in promotion.repoint:
            p = self.procs[other]
            if p.status == "running":
                try:
                    await self._send(p, "REPLICAOF", "127.0.0.1", str(winner.port))
                except (ConnectionError, OSError, RespError, asyncio.TimeoutError):
                    pass
        self._failover_started.pop(shard, None)
        self.epoch += 1
        self._save_layout()
        await self.push_topology()
        self._emit({"event": "failover_finished", "shard": shard, "primary": winner.id, "zone": winner.zone,
                    "offset": promotion.offset, "duration_ms": round((time.monotonic() - started) * 1000)})

    # -- faults and control --------------------------------------------------------------
    def _get(self, node_id: str) -> Proc:
        try:
            return self.procs[node_id]
        except KeyError:
            raise KeyError(f"no process {node_id!r}") from None

    async def kill(self, node_id: str) -> None:
        """SIGKILL one process: a real crash, nothing flushed."""
        p = self._get(node_id)
        if p.process is None or p.process.returncode is not None:
            raise RuntimeError(f"{node_id} is not running")
        self._emit({"event": "kill", "node": node_id, "zone": p.zone, "role": p.role})
        p.process.send_signal(signal.SIGKILL)

    async def kill_zone(self, zone: str) -> list[str]:
        victims = [p for p in self.procs.values() if p.zone == zone and p.process and p.process.returncode is None]
        for p in victims:
            p.process.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        self._emit({"event": "zone_killed", "zone": zone, "nodes": [p.id for p in victims]})
        return [p.id for p in victims]

    async def pause(self, node_id: str, seconds: float) -> None:
        """SIGSTOP a process for ``seconds`` (a GC pause, a frozen VM), then SIGCONT."""
        p = self._get(node_id)
        if p.process is None or p.process.returncode is not None:
            raise RuntimeError(f"{node_id} is not running")
        p.process.send_signal(signal.SIGSTOP)
        p.status = "paused"
        self._emit({"event": "node_paused", "node": node_id, "seconds": seconds})

        async def resume() -> None:
            await asyncio.sleep(seconds)
            if p.process is not None and p.process.returncode is None:
                p.process.send_signal(signal.SIGCONT)
                p.status = "running"
                self._emit({"event": "node_resumed", "node": node_id})

        self._spawn_task(resume())

    async def restart(self, node_id: str) -> None:
        """Start a stopped or crashed process again (a data node comes back as a replica)."""
        p = self._get(node_id)
        if p.process is not None and p.process.returncode is None:
            raise RuntimeError(f"{node_id} is running")
        if p.kind == "data":
            p.role = "replica"
        await self._launch(p, first_start=False)
        await asyncio.wait_for(p.ready.wait(), 15)
        self._emit({"event": "node_restarted", "node": node_id, "kind": p.kind, "shard": p.shard, "zone": p.zone})
        if p.kind == "data":
            await self.push_topology()

    async def snapshot(self) -> None:
        snap = self.procs.get("snapshotter")
        if snap is None or snap.process is None or snap.process.returncode is not None:
            raise RuntimeError("no snapshotter is running (cache mode has none)")
        snap.process.send_signal(signal.SIGUSR1)  # the snapshotter takes one now

    async def stop(self) -> None:
        self._stopping = True
        running = [p for p in self.procs.values() if p.process is not None and p.process.returncode is None]
        for p in running:
            p.expected_exit = True
            if p.status == "paused":
                p.process.send_signal(signal.SIGCONT)  # type: ignore[union-attr]
            p.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        for p in running:
            try:
                await asyncio.wait_for(p.process.wait(), 5)  # type: ignore[union-attr]
            except asyncio.TimeoutError:
                p.process.kill()  # type: ignore[union-attr]
                await p.process.wait()  # type: ignore[union-attr]
            p.status = "stopped"
        for task in list(self._tasks):
            task.cancel()
        self._save_layout()

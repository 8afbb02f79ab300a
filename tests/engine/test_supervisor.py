"""The supervisor, as a library and as ``python -m sandbox.engine cluster``: real
processes, real SIGKILLs, and no process left behind."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster

from sandbox.engine.supervisor import ClusterSpec, Supervisor

from .servers import ROOT, die_with_parent


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def wait_event(sup: Supervisor, name: str, timeout: float, **match) -> dict:
    async def find() -> dict:
        seen = 0
        while True:
            for event in sup.history[seen:]:
                if event.get("event") == name and all(event.get(k) == v for k, v in match.items()):
                    return event
            seen = len(sup.history)
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(find(), timeout)


def data_nodes(top: dict) -> list[dict]:
    return [p for p in top["processes"] if p["kind"] == "data"]


def test_a_cache_cluster_fails_over_to_the_most_advanced_replica_and_keeps_serving(tmp_path):
    async def scenario() -> None:
        sup = Supervisor(ClusterSpec(mode="cache", shards=1, replicas=2, data_dir=str(tmp_path),
                                     detection_timeout_ms=300, restart_delay_ms=300))
        try:
            top = await sup.start()
            primary = next(p for p in data_nodes(top) if p["role"] == "primary")
            client = redis.Redis(port=primary["port"])
            for i in range(50):
                client.set(f"k{i}", i)
            await asyncio.sleep(0.3)  # let the replicas catch up: nothing should be lost
            await sup.kill(primary["id"])
            finished = await wait_event(sup, "failover_finished", 10, shard=0)
            assert finished["primary"] != primary["id"] and finished["duration_ms"] >= 300
            new = sup.procs[finished["primary"]]
            assert new.role == "primary"
            survivor = redis.Redis(port=new.port)
            assert [survivor.get(f"k{i}") for i in range(50)] == [b"%d" % i for i in range(50)]
            restarted = await wait_event(sup, "node_restarted", 10, node=primary["id"])
            assert restarted and sup.procs[primary["id"]].role == "replica"
            rc = RedisCluster(host="127.0.0.1", port=new.port)
            try:
                rc.set("after", "failover")
                assert rc.get("after") == b"failover"
            finally:
                rc.close()
        finally:
            await sup.stop()
        pids = [p.pid for p in sup.procs.values() if p.pid]
        assert all(p.status == "stopped" for p in sup.procs.values()), [p.status for p in sup.procs.values()]
        assert not any(alive(pid) for pid in pids)

    asyncio.run(scenario())


def start_cli(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], dict]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.engine", "cluster", "--mode", "cache", "--shards", "1", "--replicas", "1",
         "--dir", str(tmp_path), *extra],
        cwd=ROOT, stdout=subprocess.PIPE, preexec_fn=die_with_parent,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        event = json.loads(line)
        if event["event"] == "ready":
            return proc, event["topology"]
    proc.kill()
    raise AssertionError("cluster never printed its ready line")


def test_the_cli_prints_the_topology_and_sigterm_stops_every_child(tmp_path):
    proc, top = start_cli(tmp_path)
    pids = [p["pid"] for p in top["processes"]]
    assert len(pids) == 2 and all(alive(pid) for pid in pids)
    assert {p["zone"] for p in top["processes"]} == {"az-a", "az-b"}
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert not any(alive(pid) for pid in pids)


def test_children_exit_when_the_supervisor_is_killed(tmp_path):
    proc, top = start_cli(tmp_path)
    pids = [p["pid"] for p in top["processes"]]
    proc.send_signal(signal.SIGKILL)
    proc.wait(5)
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in pids)


def test_it_refuses_impossible_shapes():
    with pytest.raises(ValueError):
        Supervisor(ClusterSpec(mode="cache", shards=0))
    with pytest.raises(ValueError):
        Supervisor(ClusterSpec(mode="cache", replicas=6))
    with pytest.raises(ValueError):
        Supervisor(ClusterSpec(mode="eventual"))


def test_the_password_reaches_nodes_without_appearing_in_the_process_list(tmp_path):
    async def scenario() -> None:
        secret = "-starts-with-a-dash-" + "9f" * 8
        sup = Supervisor(ClusterSpec(mode="cache", shards=1, replicas=1, data_dir=str(tmp_path), requirepass=secret))
        try:
            top = await sup.start()
            for p in data_nodes(top):
                with open(f"/proc/{p['pid']}/cmdline", "rb") as f:
                    assert secret.encode() not in f.read()
                with pytest.raises(redis.AuthenticationError):
                    redis.Redis(port=p["port"]).ping()
                assert redis.Redis(port=p["port"], password=secret).ping() is True
            for secret_file in ("users.acl", "masterauth"):  # users.acl has the password's hash only
                assert (tmp_path / secret_file).stat().st_mode & 0o077 == 0
            assert secret not in (tmp_path / "users.acl").read_text()
        finally:
            await sup.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize("mode", ["durable", "cache"])
def test_start_fails_at_once_when_a_process_dies_before_it_is_ready(tmp_path, mode):
    """A port already taken makes the first process exit; start() says which one at
    once instead of waiting out its 20 s timeout, and stop() then leaves nothing."""
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]

    async def scenario() -> None:
        sup = Supervisor(ClusterSpec(mode=mode, replicas=0, data_dir=str(tmp_path), base_port=port,
                                     snapshotter=False))
        started = time.monotonic()
        try:
            with pytest.raises(RuntimeError, match=r"exited with status \d+ before it was ready"):
                await sup.start(timeout=20)
            assert time.monotonic() - started < 10
        finally:
            await sup.stop()
        assert not [p for p in sup.procs.values() if p.pid is not None]

    try:
        asyncio.run(scenario())
    finally:
        taken.close()


def test_the_journal_leader_is_announced_and_followed_after_a_kill(tmp_path):
    async def scenario() -> None:
        sup = Supervisor(ClusterSpec(mode="durable", replicas=1, data_dir=str(tmp_path), snapshotter=False,
                                     restart_delay_ms=300))
        try:
            await sup.start()
            first = await wait_event(sup, "journal_leader", 10)
            leaders = [p for p in sup.topology()["processes"] if p["kind"] == "journal" and p["role"] == "leader"]
            assert [p["id"] for p in leaders] == [first["node"]] and first["term"] >= 1
            mark = len(sup.history)
            await sup.kill(first["node"])

            async def next_leader() -> dict:
                while True:
                    for event in sup.history[mark:]:
                        if event.get("event") == "journal_leader" and event["node"] != first["node"]:
                            return event
                    await asyncio.sleep(0.02)

            second = await asyncio.wait_for(next_leader(), 10)
            assert second["term"] > first["term"]
            roles = {p["id"]: p["role"] for p in sup.topology()["processes"] if p["kind"] == "journal"}
            assert roles[second["node"]] == "leader" and list(roles.values()).count("leader") == 1
            # and the cluster still takes writes
            port = next(p.port for p in sup.procs.values() if p.kind == "data" and p.role == "primary")
            assert redis.Redis(port=port, socket_timeout=5).set("after", "journal-leader-change") is True
        finally:
            await sup.stop()

    asyncio.run(scenario())


def test_cluster_ports_come_from_below_the_ephemeral_range_and_are_not_handed_out_twice():
    """Outgoing connections take ports from the kernel's ephemeral range, and several
    supervisors start at once in the site: a port picked there could be taken before
    the child binds it."""
    import socket

    from sandbox.engine.supervisor import _free_ports

    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        ephemeral_low = int(f.read().split()[0])
    batches = [_free_ports(11, "127.0.0.1") for _ in range(20)]
    every = [port for batch in batches for port in batch]
    assert len(set(every)) == len(every) == 220
    assert all(10000 <= port < ephemeral_low for port in every)
    for port in batches[-1]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # still free: nothing else took it


def test_no_process_started_while_the_cluster_stops_outlives_stop(tmp_path):
    """A restart racing stop() (a learner's restart button as the site shuts down)
    must not leave a process behind: stop() lists the running processes once, so a
    process created after that is stopped by its own launch."""
    from sandbox.testing import engine_pids_under

    async def scenario() -> None:
        sup = Supervisor(ClusterSpec(mode="cache", shards=1, replicas=1, data_dir=str(tmp_path / "c"),
                                     auto_restart=False))
        await sup.start()
        replica = next(p for p in sup.procs.values() if p.kind == "data" and p.role == "replica")
        await sup.kill(replica.id)
        await asyncio.sleep(0.2)
        restarted, _ = await asyncio.gather(sup.restart(replica.id), sup.stop(), return_exceptions=True)
        assert isinstance(restarted, RuntimeError), restarted
        assert engine_pids_under(tmp_path) == []

    asyncio.run(scenario())

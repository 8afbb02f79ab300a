"""Real journal processes: three replicas on loopback, SIGKILL the leader, nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

IDS = ("az-a", "az-b", "az-c")
ROOT = Path(__file__).resolve().parents[2]


class Cluster:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, node: str) -> None:
        addr = self.tmp / "disco" / f"{node}.json"
        if addr.exists():
            addr.unlink()  # a restarted replica publishes new ports
        self.procs[node] = subprocess.Popen(
            [sys.executable, "-m", "sandbox.engine.journal_server", "--id", node, "--peers", ",".join(IDS),
             "--data-dir", str(self.tmp / node), "--discovery-dir", str(self.tmp / "disco")],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

    def client(self, node: str, timeout: float = 10.0) -> redis.Redis:
        addr = self.tmp / "disco" / f"{node}.json"
        deadline = time.monotonic() + timeout
        while not addr.exists():
            assert self.procs[node].poll() is None, self.procs[node].stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, f"{node} never published its address"
            time.sleep(0.02)
        import json

        port = json.loads(addr.read_text())["client_port"]
        return redis.Redis("127.0.0.1", port, socket_timeout=10, protocol=2)

    def kill(self, node: str) -> None:
        proc = self.procs[node]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_leader(clients: dict[str, redis.Redis], timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for node, c in clients.items():
            try:
                role = c.execute_command("JROLE")
            except redis.ConnectionError:
                continue
            if role[1] == b"leader":
                return node
        time.sleep(0.05)
    raise AssertionError("no journal leader elected")


def append(c: redis.Redis, after: int, payload: bytes) -> int:
    return int(c.execute_command("JAPPEND", "s", after, "data", payload))


@pytest.fixture
def cluster(tmp_path: Path):  # type: ignore[no-untyped-def]
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.stop_all()  # always kill what we started, by pid


def test_appends_survive_sigkill_of_the_leader(cluster: Cluster) -> None:
    for node in IDS:
        cluster.start(node)
    clients = {n: cluster.client(n) for n in IDS}
    leader = wait_leader(clients)
    acked: dict[int, bytes] = {}
    tail = 0
    for i in range(20):
        tail = append(clients[leader], tail, b"before-%d" % i)
        acked[tail] = b"before-%d" % i
    with pytest.raises(redis.ResponseError, match="CONDFAIL 20"):
        append(clients[leader], 3, b"stale")  # a writer that is not caught up is refused
    follower = next(n for n in IDS if n != leader)
    with pytest.raises(redis.ResponseError, match="NOTLEADER 127.0.0.1:"):
        append(clients[follower], tail, b"wrong replica")

    cluster.kill(leader)
    survivors = {n: c for n, c in clients.items() if n != leader}
    new_leader = wait_leader(survivors)
    assert int(survivors[new_leader].execute_command("JTAIL", "s")) == tail
    for i in range(20):
        tail = append(survivors[new_leader], tail, b"after-%d" % i)
        acked[tail] = b"after-%d" % i

    cluster.start(leader)  # restarts from its log file and catches up from its peers
    clients[leader] = cluster.client(leader)
    deadline = time.monotonic() + 15
    while int(clients[leader].execute_command("JTAIL", "s")) < tail:
        assert time.monotonic() < deadline, "restarted replica never caught up"
        time.sleep(0.05)
    for node, c in clients.items():
        entries = c.execute_command("JREAD", "s", 0, 1000, 0)
        got = {int(i): data for i, kind, data in entries}
        assert got == acked, node  # every acknowledged append, exactly once, at its id


def test_jread_blocks_until_an_entry_commits(cluster: Cluster) -> None:
    for node in IDS:
        cluster.start(node)
    clients = {n: cluster.client(n) for n in IDS}
    leader = wait_leader(clients)
    assert clients[leader].execute_command("JREAD", "s", 0, 10, 0) == []
    started = time.monotonic()
    assert clients[leader].execute_command("JREAD", "s", 0, 10, 300) == []
    assert time.monotonic() - started >= 0.25
    append(clients[leader], 0, b"x")
    assert clients[leader].execute_command("JREAD", "s", 0, 10, 1000) == [[1, b"data", b"x"]]
    assert clients[leader].execute_command("JLEADER", "s") is None

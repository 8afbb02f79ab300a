"""Cache-mode replication: the stream, PSYNC (full and partial), WAIT, REPLICAOF,
and the node process. Real node processes on loopback, each stopped by pid.

Failover and the acknowledged-write loss it causes are in test_replication_failover.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import redis

from sandbox.engine.config import EngineConfig
from sandbox.engine.replication_primary import Backlog, can_continue
from sandbox.engine.replication_replica import StreamApplier, capture, encode_snapshot
from sandbox.engine.resp import encode_command
from sandbox.engine.server import Server

from .conftest import Differ
from .servers import ROOT, die_with_parent, stop

Event = dict[str, Any]


# ---------------------------------------------------------------------------
# Node processes


class Node:
    """``python -m sandbox.engine node --mode cache``; a thread collects its events."""

    def __init__(self, tmp: Path, name: str, *args: str) -> None:
        self.name = name
        cmd = [sys.executable, "-m", "sandbox.engine", "node", "--mode", "cache", "--shard", "0",
               "--zone", "az-a", "--port", "0", "--dir", str(tmp / name), *args]
        self.popen = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, preexec_fn=die_with_parent)
        self.pid = self.popen.pid
        self.events: list[Event] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        ready = self.wait_event("ready", timeout=15)
        self.port: int = ready["port"]
        self.id: str = ready["node"]
        self.password = args[args.index("--requirepass") + 1] if "--requirepass" in args else None

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            with self._cond:
                self.events.append(json.loads(line))
                self._cond.notify_all()

    def wait_event(self, name: str, timeout: float = 5.0, after: int = 0, **fields: Any) -> Event:
        """The first event ``name`` (with these field values) from index ``after`` on."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events[after:]:
                    if event["event"] == name and all(event.get(k) == v for k, v in fields.items()):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.name}: no {name} {fields}; events: {self.events}")
                self._cond.wait(min(left, 0.1))

    def mark(self) -> int:
        with self._cond:
            return len(self.events)

    def client(self, **kw: Any) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=10, **kw)

    def info(self, section: str = "replication") -> dict[str, Any]:
        with self.client(password=self.password) as r:
            return r.info(section)

    def offset(self) -> int:
        return int(self.info()["master_repl_offset"])

    def signal(self, sig: int) -> None:
        self.popen.send_signal(sig)

    def kill(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(5)

    def stop(self) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGCONT)  # a paused node must run to handle SIGTERM
            stop(self.popen)
        return self.popen.returncode


class Nodes:
    """Starts nodes for one test; stops every one of them, by pid, at the end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.started: list[Node] = []

    def start(self, *args: str) -> Node:
        node = Node(self.tmp, f"n{len(self.started)}", *args)
        self.started.append(node)
        return node

    def replica(self, primary: Node, *args: str) -> Node:
        node = self.start("--replica-of", f"127.0.0.1:{primary.port}", *args)
        node.wait_event("sync_done")
        return node

    def stop_all(self) -> None:
        for node in self.started:
            node.stop()


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Nodes]:
    group = Nodes(tmp_path)
    try:
        yield group
    finally:
        group.stop_all()


def wait_until(cond: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


def caught_up(primary: Node, *replicas: Node) -> Callable[[], bool]:
    def check() -> bool:
        target = primary.offset()
        return all(r.offset() >= target for r in replicas)

    return check


def dataset(r: redis.Redis) -> dict[bytes, Any]:
    """Every key with its type, value and whether it has a TTL."""
    out: dict[bytes, Any] = {}
    for key in r.keys("*"):
        kind = r.type(key)
        value: Any = {
            b"string": lambda: r.get(key),
            b"list": lambda: r.lrange(key, 0, -1),
            b"hash": lambda: r.hgetall(key),
            b"set": lambda: sorted(r.smembers(key)),
            b"zset": lambda: r.zrange(key, 0, -1, withscores=True),
        }[kind]()
        out[key] = (kind, value, r.pttl(key) > 0)
    return out


def write_mixed(r: redis.Redis, tag: str) -> None:
    r.set(f"s:{tag}", "v")
    r.set(f"ttl:{tag}", "v", ex=100)
    r.rpush(f"l:{tag}", *[str(i) for i in range(700)])  # more than one RPUSH in a full sync
    r.hset(f"h:{tag}", mapping={"a": "1", "b": "2"})
    r.sadd(f"set:{tag}", "x", "y", "z")
    r.zadd(f"z:{tag}", {"m1": 1.5, "m2": -3, "inf": float("inf")})
    r.incrbyfloat(f"f:{tag}", 0.1)
    r.spop(f"set:{tag}")
    with r.pipeline(transaction=True) as p:
        p.set(f"t1:{tag}", "a").set(f"t2:{tag}", "b").expire(f"t1:{tag}", 50).execute()


# ---------------------------------------------------------------------------
# Pieces without processes


def test_backlog_keeps_at_least_its_size_and_serves_from_any_offset_it_holds() -> None:
    backlog = Backlog(10, offset=100)
    assert (backlog.first, backlog.histlen, backlog.end) == (101, 0, 100)
    for chunk in (b"abcd", b"efgh", b"ijkl", b"mnop"):
        backlog.add(chunk)
    # 16 bytes produced: the oldest chunk is dropped, at least 10 bytes remain.
    assert (backlog.first, backlog.histlen, backlog.end) == (105, 12, 116)
    assert b"".join(backlog.since(107)) == b"ghijklmnop"
    assert backlog.since(117) == []
    assert backlog.covers(105) and backlog.covers(117)
    assert not backlog.covers(104) and not backlog.covers(118)


def test_psync_continues_only_on_the_same_history_within_the_backlog() -> None:
    backlog = Backlog(100, offset=50)
    backlog.add(b"x" * 20)  # offsets 51..70
    ids = dict(my_replid="new", my_replid2="old", second_offset=61, backlog=backlog)
    assert can_continue("new", 71, **ids)
    assert can_continue("new", 51, **ids)
    assert not can_continue("new", 50, **ids)  # trimmed away
    assert can_continue("old", 61, **ids)  # the previous primary's history, up to the switch
    assert not can_continue("old", 62, **ids)  # the replica has bytes the new primary never had
    assert not can_continue("other", 60, **ids)
    assert not can_continue("?", -1, **ids)


def test_stream_applier_hands_over_whole_commands_and_whole_transactions() -> None:
    stream = b"".join(encode_command(c) for c in (
        [b"SELECT", b"0"], [b"SET", b"a", b"1"], [b"MULTI"], [b"SET", b"b", b"2"], [b"SET", b"c", b"3"],
        [b"EXEC"], [b"SET", b"d", b"4"],
    ))
    exec_end = stream.index(b"*1\r\n$4\r\nEXEC\r\n") + len(b"*1\r\n$4\r\nEXEC\r\n")
    first_set_end = len(encode_command([b"SELECT", b"0"]) + encode_command([b"SET", b"a", b"1"]))
    for cut in range(1, len(stream)):
        applier = StreamApplier()
        units = [applier.feed(stream[:cut]), applier.feed(stream[cut:])]
        assert b"".join(units) == stream
        # No unit ever ends inside the transaction.
        assert len(units[0]) <= first_set_end or len(units[0]) >= exec_end


def test_a_full_sync_dataset_rebuilds_every_type_with_its_ttl() -> None:
    primary = Server(EngineConfig(port=0))
    client = primary.new_client("test:1", "test:0")
    now = int(time.time() * 1000)
    commands = [
        [b"SET", b"s", b"v"], [b"SET", b"bin", bytes(range(256))], [b"PEXPIREAT", b"s", b"%d" % (now + 50_000)],
        [b"RPUSH", b"l", *[b"%d" % i for i in range(1500)]], [b"HSET", b"h", b"f", b"1", b"g", b"2"],
        [b"SADD", b"set", b"a", b"b"], [b"ZADD", b"z", b"1.5", b"a", b"-inf", b"b", b"0.1", b"c"],
        [b"SELECT", b"3"], [b"SET", b"in3", b"x"], [b"SELECT", b"0"],
    ]
    for argv in commands:
        primary.execute(client, argv)

    async def encode() -> bytes:
        return b"".join([chunk async for chunk in encode_snapshot(capture(primary), stream_db=3)])

    payload = asyncio.run(encode())
    replica = Server(EngineConfig(port=0))
    replica.expires_locally = False
    replica.apply_stream(payload)
    for mine, theirs in zip(primary.keyspace.dbs, replica.keyspace.dbs):
        assert {k: _plain(v) for k, v in mine.data.items()} == {k: _plain(v) for k, v in theirs.data.items()}
        assert mine.expires == theirs.expires
    assert replica._master_client().db == 3  # the stream continues in the database it had selected


def _plain(v: Any) -> Any:
    scores = getattr(v, "scores", None)
    return sorted(scores.items()) if scores is not None else (list(v) if not isinstance(v, (bytes, dict, set)) else v)


# ---------------------------------------------------------------------------
# Streaming


def test_writes_on_the_primary_reach_the_replica_and_the_replica_refuses_writes(nodes: Nodes) -> None:
    primary = nodes.start()
    p = primary.client()
    write_mixed(p, "before")  # carried by the full sync
    replica = nodes.replica(primary)
    write_mixed(p, "after")  # carried by the stream
    p.delete("s:before")
    wait_until(caught_up(primary, replica), what="replica catching up")
    r = replica.client()
    assert dataset(r) == dataset(p)
    assert len(dataset(p)) == 17
    with pytest.raises(redis.ReadOnlyError, match="You can't write against a read only replica."):
        r.set("x", "1")
    info = replica.info()
    assert info["role"] == "slave" and info["master_link_status"] == "up"
    assert info["master_port"] == primary.port
    assert info["slave_repl_offset"] == primary.offset()
    assert info["master_replid"] == primary.info()["master_replid"]
    pinfo = primary.info()
    assert pinfo["connected_slaves"] == 1
    assert pinfo["slave0"]["port"] == replica.port and pinfo["slave0"]["state"] == "online"
    assert r.execute_command("ROLE")[:3] == [b"slave", b"127.0.0.1", primary.port]
    role = p.execute_command("ROLE")
    assert role[0] == b"master" and role[2][0][1] == str(replica.port).encode()


def test_a_replica_does_not_expire_keys_itself_but_applies_the_primarys_deletes(nodes: Nodes) -> None:
    primary = nodes.start()
    replica = nodes.replica(primary)
    p, r = primary.client(), replica.client()
    p.set("gone", "v", px=100)
    wait_until(lambda: r.exists("gone") == 1, what="key on replica")
    primary.signal(signal.SIGSTOP)  # the primary can't send its DEL now
    try:
        time.sleep(0.15)
        assert r.get("gone") is None  # expired for readers...
        assert r.dbsize() == 1  # ...but held until the primary's DEL arrives
    finally:
        primary.signal(signal.SIGCONT)
    wait_until(lambda: r.dbsize() == 0, what="DEL reaching the replica")


def test_a_replica_in_cluster_mode_serves_reads_only_after_readonly(nodes: Nodes) -> None:
    primary = nodes.start("--cluster-enabled")
    replica = nodes.replica(primary, "--cluster-enabled")
    topology = {"epoch": 1, "shards": [{"ranges": [[0, 16383]], "nodes": [
        {"id": primary.id, "host": "127.0.0.1", "port": primary.port, "role": "primary"},
        {"id": replica.id, "host": "127.0.0.1", "port": replica.port, "role": "replica"},
    ]}]}
    for node in (primary, replica):
        assert node.client().execute_command("CLUSTER", "SETTOPOLOGY", json.dumps(topology)) == b"OK"
    primary.client().set("k", "v")
    wait_until(caught_up(primary, replica))
    r = replica.client(single_connection_client=True)
    with pytest.raises(redis.ResponseError, match=f"7629 127.0.0.1:{primary.port}"):
        r.get("k")
    assert r.execute_command("READONLY") is True
    assert r.get("k") == b"v"
    with pytest.raises(redis.ResponseError, match=f"127.0.0.1:{primary.port}"):
        r.set("k", "w")  # MOVED to the primary
    from redis.cluster import LoadBalancingStrategy, RedisCluster

    with RedisCluster(host="127.0.0.1", port=replica.port,
                      load_balancing_strategy=LoadBalancingStrategy.ROUND_ROBIN_REPLICAS) as rc:
        rc.set("k2", "v2")  # routed to the primary
        wait_until(caught_up(primary, replica))
        before = replica.info("stats")["total_commands_processed"]
        assert rc.get("k2") == b"v2"
        assert replica.info("stats")["total_commands_processed"] > before + 1  # the GET (and READONLY) went there


def test_the_replication_delay_holds_every_write_back_by_that_long(nodes: Nodes) -> None:
    primary = nodes.start("--replication-delay-ms", "200")
    replica = nodes.replica(primary)
    p, r = primary.client(), replica.client()
    for i in range(3):
        p.set("k", i)  # acknowledged at once
        sent = time.monotonic()
        wait_until(lambda: r.get("k") == str(i).encode(), what="write reaching the replica")
        assert time.monotonic() - sent >= 0.19
    started = time.monotonic()
    assert p.wait(1, 0) == 1  # WAIT now costs the round trip of the slow link
    assert time.monotonic() - started < 1


def test_a_replica_authenticates_with_the_shared_password(nodes: Nodes) -> None:
    primary = nodes.start("--requirepass", "s3cret")
    replica = nodes.replica(primary, "--requirepass", "s3cret")
    primary.client(password="s3cret").set("k", "v")
    wait_until(lambda: replica.client(password="s3cret").get("k") == b"v", what="write reaching the replica")


def test_a_replica_can_serve_its_own_replica(nodes: Nodes) -> None:
    primary = nodes.start()
    middle = nodes.replica(primary)
    p = primary.client()
    p.set("before", "1")
    leaf = nodes.replica(middle)
    p.set("after", "2")
    wait_until(caught_up(primary, middle, leaf))
    assert leaf.client().mget("before", "after") == [b"1", b"2"]
    assert leaf.info()["master_replid"] == primary.info()["master_replid"]  # one history, same offsets


# ---------------------------------------------------------------------------
# PSYNC


def test_a_short_disconnect_resyncs_partially_with_only_the_missing_bytes(nodes: Nodes) -> None:
    primary = nodes.start()
    replica = nodes.replica(primary)
    p = primary.client()
    p.set("a", "1")
    wait_until(caught_up(primary, replica))
    before = primary.offset()
    replica.signal(signal.SIGSTOP)  # it can't reconnect before the writes below
    mark = primary.mark()
    assert p.client_kill_filter(_type="replica") == 1
    primary.wait_event("replica_disconnected", after=mark)
    for i in range(50):
        p.set(f"k{i}", "x" * 10)
    after = primary.offset()
    replica.signal(signal.SIGCONT)
    event = primary.wait_event("replica_connected", after=mark)
    assert event["full"] is False
    assert event["offset"] == before
    assert event["bytes"] == after - before > 0
    assert replica.wait_event("sync_done", full=False)["offset"] == before
    wait_until(caught_up(primary, replica))
    assert replica.client().dbsize() == 51
    stats = primary.info("stats")
    assert (stats["sync_full"], stats["sync_partial_ok"]) == (1, 1)


def test_a_disconnect_longer_than_the_backlog_needs_a_full_resync(nodes: Nodes) -> None:
    primary = nodes.start("--repl-backlog-size", "4kb")
    replica = nodes.replica(primary)
    p = primary.client()
    replica.signal(signal.SIGSTOP)
    mark, replica_mark = primary.mark(), replica.mark()
    p.client_kill_filter(_type="replica")
    primary.wait_event("replica_disconnected", after=mark)
    for i in range(100):
        p.set(f"k{i}", "x" * 100)  # ~13 KB of stream: more than the backlog holds
    assert primary.info()["repl_backlog_histlen"] < 6000
    replica.signal(signal.SIGCONT)
    assert primary.wait_event("replica_connected", after=mark)["full"] is True
    assert replica.wait_event("sync_done", after=replica_mark, full=True)["keys"] == 100
    assert primary.info("stats")["sync_partial_err"] == 1


def test_a_replica_restarted_from_scratch_full_resyncs(nodes: Nodes) -> None:
    primary = nodes.start()
    replica = nodes.replica(primary)
    write_mixed(primary.client(), "x")
    replica.kill()
    restarted = nodes.replica(primary)
    assert restarted.wait_event("sync_done")["full"] is True
    wait_until(caught_up(primary, restarted))
    assert dataset(restarted.client()) == dataset(primary.client())
    assert primary.info("stats")["sync_full"] == 2


# ---------------------------------------------------------------------------
# WAIT


def test_wait_counts_replicas_that_acknowledged_and_respects_its_timeout(nodes: Nodes) -> None:
    primary = nodes.start()
    p = primary.client()
    p.set("a", "1")
    assert p.wait(0, 0) == 0
    started = time.monotonic()
    assert p.wait(1, 100) == 0
    assert time.monotonic() - started >= 0.09  # timers have ms granularity
    r1, r2 = nodes.replica(primary), nodes.replica(primary)
    p.set("b", "2")
    assert p.wait(2, 2000) == 2
    r2.signal(signal.SIGSTOP)
    try:
        p.set("c", "3")
        started = time.monotonic()
        assert p.wait(2, 300) == 1  # the paused replica never acknowledges
        assert 0.29 <= time.monotonic() - started < 1.5
        assert p.wait(1, 0) == 1  # 0 = no timeout, but one replica is enough
        info = p.info("replication")
        acked = {info[f"slave{i}"]["port"]: info[f"slave{i}"]["offset"] for i in range(2)}
        assert acked[r1.port] == primary.offset() > acked[r2.port]
        # A WAIT blocks only its own connection: others are served meanwhile.
        blocked = threading.Thread(target=lambda: p.wait(2, 0))
        blocked.start()
        time.sleep(0.1)
        assert blocked.is_alive() and primary.client().get("c") == b"3"
    finally:
        r2.signal(signal.SIGCONT)
    blocked.join(5)
    assert not blocked.is_alive()  # released once the resumed replica acknowledged
    with pytest.raises(redis.ResponseError, match="WAIT cannot be used with replica instances"):
        r1.client().wait(1, 0)
    with p.pipeline(transaction=True) as pipe:
        assert pipe.set("d", "4").wait(5, 0).execute() == [True, 2]  # inside EXEC: answers at once


def test_wait_and_replconf_errors_match_redis(diff: Differ) -> None:
    diff.many("""
        WAIT 0 0
        WAIT x 0
        WAIT 0 x
        WAIT 0 -1
        WAIT 0
        REPLCONF listening-port
        REPLCONF nosuch 1
        REPLCONF listening-port 1234
        REPLICAOF host notaport
        REPLICAOF host 70000
        ROLE x
    """)


# ---------------------------------------------------------------------------
# Roles


def test_replicaof_switches_roles_and_a_demoted_primary_takes_the_new_history(nodes: Nodes) -> None:
    a = nodes.start()
    b = nodes.replica(a)
    a.client().set("k", "from-a")
    wait_until(caught_up(a, b))
    rb = b.client()
    assert rb.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
    assert rb.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
    b.wait_event("role_changed", role="primary")
    rb.set("k", "from-b")
    ra = a.client()
    mark = a.mark()
    assert ra.execute_command("REPLICAOF", "127.0.0.1", b.port) == b"OK"
    assert ra.execute_command("REPLICAOF", "127.0.0.1", b.port) == b"OK Already connected to specified master"
    a.wait_event("role_changed", after=mark, role="replica")
    a.wait_event("sync_done", after=mark)
    wait_until(lambda: ra.get("k") == b"from-b", what="old primary following the new one")
    with pytest.raises(redis.ReadOnlyError):
        ra.set("k", "x")


def test_the_node_process_stops_cleanly_on_sigterm_and_when_its_parent_dies(tmp_path: Path) -> None:
    node = Node(tmp_path, "solo")
    node.signal(signal.SIGTERM)
    assert node.popen.wait(5) == 0
    # A parent that is SIGKILLed takes its node with it.
    code = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-m', 'sandbox.engine', 'node', '--mode', 'cache', '--shard', '0',"
        f" '--zone', 'az-a', '--port', '0', '--dir', {str(tmp_path / 'child')!r}], stdout=subprocess.PIPE)\n"
        "print(p.pid, flush=True); p.stdout.readline(); print('ready', flush=True); time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, preexec_fn=die_with_parent)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert parent.stdout.readline().strip() == b"ready"
        parent.kill()
        parent.wait(5)
        wait_until(lambda: not _alive(child), timeout=5, what="orphaned node exiting")
    finally:
        stop(parent)
        if _alive(child):
            os.kill(child, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False

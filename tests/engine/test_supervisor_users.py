"""A cluster's users: the application user the supervisor gives every data node, a
default user that can do nothing, and the supervisor's own user, which keeps
topology pushes, failovers and cache replication working; and the durable journal's
secret, which only the cluster's own processes hold. Real processes."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import hiredis
import pytest
import redis
from redis.cluster import RedisCluster

from sandbox.engine.journal_auth import load_secret
from sandbox.engine.supervisor import JOURNAL_SECRET_FILE, ClusterSpec, Supervisor

from .rawclient import RawClient
from .test_supervisor import data_nodes, start_cli, wait_event

USER, PASSWORD = "learner-7f3a", "-dash-first-" + "ab" * 12
NOPERM = b"-NOPERM this user has no permissions to run the '%s' command\r\n"


def app(port: int) -> redis.Redis:
    return redis.Redis(port=port, username=USER, password=PASSWORD)


def assert_default_user_can_do_nothing(port: int) -> None:
    with RawClient(port) as c:
        assert c.call("PING") == b"-NOAUTH Authentication required.\r\n"
        assert c.call("GET", "k") == b"-NOAUTH Authentication required.\r\n"
        assert c.call("AUTH", "anything").startswith(b"-WRONGPASS")
        assert c.call("AUTH", "default", "").startswith(b"-WRONGPASS")
        assert c.call("AUTH", "supervisor", PASSWORD).startswith(b"-WRONGPASS")
        assert c.call("HELLO", "3").startswith(b"-NOAUTH HELLO must be called")


def assert_app_user_is_kept_out_of_the_supervisors_business(port: int) -> None:
    with RawClient(port) as c:
        assert c.call("AUTH", USER, PASSWORD) == b"+OK\r\n"
        assert c.call("ACL", "WHOAMI") == b"$%d\r\n%b\r\n" % (len(USER), USER.encode())
        for args, name in ((("CONFIG", "SET", "hz", "11"), b"config|set"),
                           (("CLUSTER", "SETTOPOLOGY", "{}"), b"cluster|settopology"),
                           (("SHUTDOWN", "NOSAVE"), b"shutdown"), (("REPLICAOF", "NO", "ONE"), b"replicaof"),
                           (("ACL", "SETUSER", "x", "on"), b"acl|setuser"), (("DEBUG", "SLEEP", "0"), b"debug"),
                           (("ACL", "DELUSER", "supervisor"), b"acl|deluser"), (("PSYNC", "?", "-1"), b"psync")):
            assert c.call(*args) == NOPERM % name, args
        # What the console lets a learner run still works.
        assert c.call("CONFIG", "GET", "maxmemory").startswith(b"*2\r\n")
        assert c.call("FLUSHALL") == b"+OK\r\n"
        assert c.call("CLUSTER", "INFO").startswith(b"$")


def test_a_cache_cluster_serves_only_its_application_user_and_still_fails_over(tmp_path: Path) -> None:
    async def scenario() -> None:
        sup = Supervisor(ClusterSpec(mode="cache", shards=1, replicas=1, data_dir=str(tmp_path),
                                     detection_timeout_ms=300, restart_delay_ms=300,
                                     username=USER, password=PASSWORD))
        try:
            top = await sup.start()
            nodes = data_nodes(top)
            for p in nodes:
                with open(f"/proc/{p['pid']}/cmdline", "rb") as f:
                    cmdline = f.read()
                assert PASSWORD.encode() not in cmdline and sup._secret.encode() not in cmdline
                assert_default_user_can_do_nothing(p["port"])
            for name in ("users.acl", "masterauth"):
                assert (tmp_path / name).stat().st_mode & 0o077 == 0
            assert PASSWORD not in (tmp_path / "users.acl").read_text()
            primary = next(p for p in nodes if p["role"] == "primary")
            replica = next(p for p in nodes if p["role"] == "replica")
            assert_app_user_is_kept_out_of_the_supervisors_business(primary["port"])
            for i in range(20):
                app(primary["port"]).set(f"k{i}", i)
            # The replica logged in to its primary as the supervisor's user.
            reader = app(replica["port"])
            reader.execute_command("READONLY")
            await wait_for(lambda: reader.get("k19") == b"19")
            await sup.kill(primary["id"])
            finished = await wait_event(sup, "failover_finished", 10, shard=0)  # INFO and REPLICAOF as supervisor
            new = sup.procs[finished["primary"]]
            assert app(new.port).get("k7") == b"7"
            await wait_event(sup, "node_restarted", 10, node=primary["id"])
            back = app(sup.procs[primary["id"]].port)
            back.execute_command("READONLY")
            await wait_for(lambda: back.get("k7") == b"7")  # resynced from the new primary
            rc = RedisCluster(host="127.0.0.1", port=new.port, username=USER, password=PASSWORD)
            try:
                rc.set("after", "failover")
                assert rc.get("after") == b"failover"
            finally:
                rc.close()
        finally:
            await sup.stop()

    asyncio.run(scenario())


def test_a_durable_cluster_serves_only_its_application_user(tmp_path: Path) -> None:
    async def scenario() -> None:
        sup = Supervisor(ClusterSpec(mode="durable", shards=1, replicas=1, data_dir=str(tmp_path),
                                     username=USER, password=PASSWORD, snapshotter=False))
        try:
            top = await sup.start()
            for p in data_nodes(top):
                assert_default_user_can_do_nothing(p["port"])
            primary = next(p for p in data_nodes(top) if p["role"] == "primary")
            assert_app_user_is_kept_out_of_the_supervisors_business(primary["port"])
            assert app(primary["port"]).set("k", "v") is True
            # The supervisor's topology push (as its own user) reached the node.
            with RawClient(primary["port"]) as c:
                c.call("AUTH", USER, PASSWORD)
                reader = hiredis.Reader()
                reader.feed(c.call("CLUSTER", "SHARDS"))
                shards = reader.gets()
            assert len(shards) == 1 and len(dict(zip(shards[0][::2], shards[0][1::2]))[b"nodes"]) == 2
        finally:
            await sup.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize("spec", [
    {"username": "default", "password": "x"},
    {"username": "supervisor", "password": "x"},
    {"username": "has space", "password": "x"},
    {"username": "ok", "password": ""},
    {"username": "ok", "password": "x", "user_rules": "+nosuchcommand"},
    {"username": "ok", "password": "x", "user_rules": "(~a"},
])
def test_it_refuses_an_application_user_the_nodes_would_refuse(tmp_path: Path, spec: dict) -> None:
    with pytest.raises(ValueError):
        Supervisor(ClusterSpec(mode="cache", data_dir=str(tmp_path), **spec))
    assert not (tmp_path / "users.acl").exists()


async def wait_for(predicate, timeout: float = 10.0) -> None:
    """Until ``predicate()`` is true. A node that is still joining may answer with an
    error meanwhile (a restarted node serves no slot until the supervisor's topology
    push reaches it: CLUSTERDOWN), which counts as "not yet"; the last one is reported."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            if predicate():
                return
        except redis.RedisError as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached in time (last error: {last!r})")
        await asyncio.sleep(0.05)


def test_the_cluster_cli_takes_the_user_and_reads_its_password_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    proc, top = start_cli(tmp_path / "cluster", "--username", USER, "--password-file", str(secret))
    try:
        for p in data_nodes(top):
            assert_default_user_can_do_nothing(p["port"])
            assert app(p["port"]).ping() is True
        with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
            assert PASSWORD.encode() not in f.read()
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


# -- the journal's secret ---------------------------------------------------------------------


async def event_after(sup: Supervisor, mark: int, name: str, timeout: float) -> dict:
    """The first event called ``name`` in the supervisor's history after index ``mark``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in sup.history[mark:] if e.get("event") == name]
        if found:
            return found[0]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {name} event within {timeout} s")


def assert_journal_needs_the_secret(port: int, secret: str) -> None:
    with RawClient(port) as c:
        for args in (("JAPPEND", "shard-0", 0, "data", "x"), ("JTRIM", "shard-0", 1_000_000), ("JREAD", "shard-0", 0, 9, 0),
                     ("JROLE",), ("PING",)):
            assert c.call(*args) == b"-NOAUTH Authentication required.\r\n", args
        assert c.call("AUTH", PASSWORD) == b"-WRONGPASS invalid journal secret\r\n"
        assert c.call("AUTH", secret) == b"+OK\r\n"
        assert c.call("PING") == b"+PONG\r\n"


def test_a_durable_cluster_works_end_to_end_with_its_journal_closed_to_strangers(tmp_path: Path) -> None:
    async def scenario() -> None:
        sup = Supervisor(ClusterSpec(mode="durable", shards=1, replicas=1, data_dir=str(tmp_path),
                                     username=USER, password=PASSWORD, restart_delay_ms=500,
                                     snapshot_interval_s=0, snapshot_threshold_entries=1_000_000))
        try:
            top = await sup.start()
            secret_file = tmp_path / JOURNAL_SECRET_FILE
            assert sup.journal_secret_file == secret_file
            assert secret_file.stat().st_mode & 0o077 == 0
            secret = load_secret(str(secret_file)).decode()
            kinds = {p["kind"] for p in top["processes"]}
            assert kinds == {"journal", "data", "snapshotter"}
            for p in top["processes"]:
                with open(f"/proc/{p['pid']}/cmdline", "rb") as f:
                    cmdline = f.read()
                assert secret.encode() not in cmdline, p["id"]
                assert str(secret_file).encode() in cmdline.split(b"\0"), p["id"]  # the path only
            for p in top["processes"]:
                if p["kind"] == "journal":
                    assert_journal_needs_the_secret(p["port"], secret)

            # Writes, a SIGKILLed primary, the failover (a replica's JAPPEND of a leader
            # entry), the old primary back as a replica (JREAD), and a snapshot.
            primary = next(p for p in data_nodes(top) if p["role"] == "primary")
            for i in range(50):
                assert app(primary["port"]).set(f"k{i}", i) is True
            mark = len(sup.history)
            await sup.kill(primary["id"])
            finished = await event_after(sup, mark, "failover_finished", 15)
            assert finished["primary"] != primary["id"]
            new = app(sup.procs[finished["primary"]].port)
            assert [new.get(f"k{i}") for i in range(50)] == [b"%d" % i for i in range(50)]
            new.set("after", "failover")
            await wait_event(sup, "node_restarted", 15, node=primary["id"])
            back = app(sup.procs[primary["id"]].port)
            back.execute_command("READONLY")
            await wait_for(lambda: back.get("after") == b"failover")
            await sup.snapshot()
            written = await wait_event(sup, "snapshot_written", 20, node="snapshotter", shard=0)
            assert written["keys"] == 51 and written["upto"] > 50
            assert not [e for e in sup.history[mark:] if e.get("event") in ("journal_unavailable", "snapshot_failed")]
        finally:
            await sup.stop()

    asyncio.run(scenario())


def test_the_journal_secret_is_kept_across_restarts_and_replaced_when_others_could_read_it(tmp_path: Path) -> None:
    def written(**spec: str) -> str:
        sup = Supervisor(ClusterSpec(mode="durable", data_dir=str(tmp_path), **spec))
        sup._write_user_files()  # what start() does before the first process starts
        assert sup.journal_secret_file.stat().st_mode & 0o777 == 0o600
        return load_secret(str(sup.journal_secret_file)).decode()

    first = written()
    assert len(first) == 64
    assert written() == first  # a cluster started again from its directory
    os.chmod(tmp_path / JOURNAL_SECRET_FILE, 0o644)
    second = written()
    assert second != first  # a secret others could read is no secret
    mine = "f0" * 20
    assert written(journal_secret=mine) == mine  # the site names its own
    assert written() == mine


@pytest.mark.parametrize("spec", [
    {"mode": "cache", "journal_secret": "f0" * 20},
    {"mode": "durable", "journal_secret": "short"},
    {"mode": "durable", "journal_secret": "has a space in it somewhere"},
])
def test_it_refuses_a_journal_secret_it_cannot_use(tmp_path: Path, spec: dict) -> None:
    with pytest.raises(ValueError, match="journal"):
        Supervisor(ClusterSpec(data_dir=str(tmp_path), **spec))

"""A cluster's users: the application user the supervisor gives every data node, a
default user that can do nothing, and the supervisor's own user, which keeps
topology pushes, failovers and cache replication working. Real processes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import hiredis
import pytest
import redis
from redis.cluster import RedisCluster

from sandbox.engine.supervisor import ClusterSpec, Supervisor

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
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
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

"""The access strings the security lesson teaches work for a real cluster client.

The lesson ``08-security/02-least-privilege.md`` lists one access string per
application component. A learner copies them, so each one must let redis-py's
``RedisCluster`` connect as that user (it needs CLUSTER SLOTS and COMMAND before its
first data command), run the command the component exists for, and still be refused
what it was not given. Checked against our engine's cluster node and a real
``redis-server`` 7.0 in cluster mode, both on loopback, started and stopped here.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster

from .rawclient import RawClient
from .servers import Proc, engine_process, redis_process

LESSON = Path(__file__).resolve().parents[2] / "quizzes/content/lessons/08-security/02-least-privilege.md"
# A code-block line "component-name: on ~pattern ... +command".
_STRING_LINE = re.compile(r"^([a-z][a-z-]*): (on .+)$", re.MULTILINE)
# The course material's original string: data commands only, nothing to connect with.
MATERIAL_STRING = "on ~leaderboard* -@all +zadd +zincrby +zrevrange +zrevrank +zscore +zcard"

# What each component exists to do: one command it must be allowed to run.
JOB: dict[str, tuple[str, ...]] = {
    "leaderboard-api": ("ZADD", "leaderboard", "10", "alice"),
    "session-service": ("HSET", "session:1", "user", "alice"),
    "order-workers": ("XACK", "orders", "workers", "0-1"),
    "order-api": ("XADD", "orders", "*", "id", "1"),
    "dashboard": ("GET", "leaderboard:day"),
}


def taught_strings() -> dict[str, str]:
    return dict(_STRING_LINE.findall(LESSON.read_text(encoding="utf-8")))


@pytest.fixture(scope="module", params=["engine", "redis-server"])
def cluster_node(request: pytest.FixtureRequest) -> Iterator[Proc]:
    """A one-node cluster owning every slot, with the default user left open."""
    with ExitStack() as stack:
        if request.param == "engine":
            node_id = "f" * 40
            proc = stack.enter_context(engine_process("--cluster-enabled", "--node-id", node_id))
            topology = {
                "epoch": 1,
                "shards": [{"ranges": [[0, 16383]], "nodes": [
                    {"id": node_id, "host": "127.0.0.1", "port": proc.port, "role": "primary"}]}],
            }
            with RawClient(proc.port) as c:
                assert c.call("CLUSTER", "SETTOPOLOGY", json.dumps(topology)) == b"+OK\r\n"
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory())
            proc = stack.enter_context(
                redis_process("--cluster-enabled", "yes", "--cluster-config-file", f"{tmp}/nodes.conf")
            )
            with RawClient(proc.port) as c:
                assert c.call("CLUSTER", "ADDSLOTSRANGE", "0", "16383") == b"+OK\r\n"
        yield proc


def _set_user(port: int, name: str, access_string: str) -> None:
    admin = redis.Redis(port=port)
    try:
        admin.execute_command("ACL", "SETUSER", name, "reset", ">pw", *access_string.split())
    finally:
        admin.close()


def _cluster_client(port: int, name: str) -> RedisCluster:
    return RedisCluster(host="127.0.0.1", port=port, username=name, password="pw")


def test_the_lesson_teaches_a_string_for_every_component() -> None:
    assert sorted(taught_strings()) == sorted(JOB)


@pytest.mark.parametrize("component", sorted(JOB))
def test_a_cluster_client_connects_as_each_taught_user_and_does_its_job(cluster_node: Proc, component: str) -> None:
    _set_user(cluster_node.port, component, taught_strings()[component])
    rc = _cluster_client(cluster_node.port, component)
    try:
        assert rc.ping() is True
        rc.execute_command(*JOB[component])
        # Least privilege still holds: nothing outside the grant.
        with pytest.raises(redis.exceptions.NoPermissionError):
            rc.execute_command("FLUSHALL")
    finally:
        rc.close()
    admin = redis.Redis(port=cluster_node.port)
    try:
        # A client reading from replicas sends READONLY on those connections.
        assert admin.execute_command("ACL", "DRYRUN", component, "READONLY") == b"OK"
    finally:
        admin.close()


def test_the_materials_data_only_string_cannot_connect_a_cluster_client(cluster_node: Proc) -> None:
    _set_user(cluster_node.port, "material", MATERIAL_STRING)
    # redis-py turns the refused CLUSTER SLOTS into "cannot be connected".
    with pytest.raises(redis.exceptions.RedisClusterException):
        _cluster_client(cluster_node.port, "material")
    admin = redis.Redis(port=cluster_node.port)
    try:
        refused = admin.execute_command("ACL", "DRYRUN", "material", "CLUSTER", "SLOTS")
        assert b"no permissions" in refused
    finally:
        admin.close()

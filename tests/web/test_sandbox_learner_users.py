"""A learner makes a user with an access string on their durable cluster, as MemoryDB
makes one through its API (``create_user``; never ACL SETUSER from the console): the
site checks the name and every rule, makes the password itself, and the user is on
every data node, replicas included, and still there after a crash restarts a node.
redis-py's RedisCluster then connects as it (the lab check). Charlie reaches nothing
of alice's, and a forged or greedy request is refused whole. Real sandboxes."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from redis.cluster import RedisCluster

from sandbox.checks import run_check
from sandbox.live import LiveSandbox
from sandbox.manager import SandboxManager
from sandbox.owners import Owner
from sandbox.service.users import MAX_LEARNER_USERS, learner_password
from sandbox.testing import Browser
from tests.engine.rawclient import RawClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("database_thread")]
SHAPE = {"shards": 1, "replicas": 1}
# The course material's string, and the lesson's fixed one.
BROKEN = "on ~leaderboard* -@all +zadd +zincrby +zrevrange +zrevrank +zscore +zcard"
FIXED = BROKEN + " +cluster|slots +cluster|shards +command +readonly +ping"
CHECK = {"type": "cluster_client_as_user", "user": "leaderboard-api",
         "command": ["ZADD", "leaderboard:day", "10", "alice"], "read": ["ZSCORE", "leaderboard:day", "alice"],
         "forbidden": ["KEYS", "*"]}


async def live_of(manager: SandboxManager, username: str) -> LiveSandbox:
    user = await User.objects.aget(username=username)
    return manager.live[Owner(user_id=user.id).key]


def data_ports(live: LiveSandbox) -> list[int]:
    return [p.port for p in live.topology("durable").data_nodes() if p.status == "running"]


def login(port: int, name: str, password: str) -> bytes:
    with RawClient(port) as c:
        return c.call("AUTH", name, password)


async def create(browser: Browser, name: str, access: str, **extra: Any) -> dict[str, Any]:
    await browser.send({"type": "create_user", "name": name, "access": access, **extra})
    return await browser.expect_any(("user", "error"))


async def check(live: LiveSandbox) -> dict[str, Any]:
    return dict(await asyncio.wait_for(run_check(live.clients.probe["durable"], CHECK), 10))


async def test_a_learner_user_is_on_every_data_node_and_a_cluster_client_connects_only_with_the_fixed_string(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    async with Browser(application, sessions["alice"]) as alice:
        await alice.start_sandbox(**SHAPE)
        live = await live_of(manager, "alice")
        password = learner_password(live.users["durable"], "leaderboard-api")
        assert (await check(live))["passed"] is False  # no such user yet

        made = await create(alice, "leaderboard-api", BROKEN)
        assert made["type"] == "user", made
        assert (made["name"], made["access"], made["nodes"], made["pending"]) == ("leaderboard-api", BROKEN, 2, 0)
        ports = data_ports(live)
        assert len(ports) == 2
        for port in ports:  # the primary and its replica
            assert await asyncio.to_thread(login, port, "leaderboard-api", password) == b"+OK\r\n"
        broken = await check(live)
        assert broken["passed"] is False
        # redis-py's own words hide the NOPERM; the check adds what the node refused.
        assert broken["detail"] == (
            "redis-py's RedisCluster could not connect as leaderboard-api: Redis Cluster cannot be connected. "
            "Please provide at least one reachable node: Cluster mode is not enabled on this node "
            "(The node says: This user has no permissions to run the 'cluster|slots' command.)"
        ), broken

        made = await create(alice, "leaderboard-api", FIXED)
        assert made["type"] == "user" and made["users"] == ["leaderboard-api"], made
        fixed = await check(live)
        assert fixed == {"passed": True, "detail": "redis-py's RedisCluster connected as leaderboard-api, ran "
                         "ZADD leaderboard:day and ZSCORE leaderboard:day, and KEYS got NOPERM."}
        # What the learner's application would see, outside the check.
        rc = RedisCluster(host="127.0.0.1", port=ports[0], username="leaderboard-api", password=password)
        try:
            assert rc.zscore("leaderboard:day", "alice") == 10.0
            with pytest.raises(redis.exceptions.NoPermissionError):
                rc.get("session:1")
            with pytest.raises(redis.exceptions.NoPermissionError):  # what the supervisor owns, whatever it grants
                rc.execute_command("ACL", "SETUSER", "x", "on")
        finally:
            rc.close()

        # The password never reaches the browser.
        assert password not in json.dumps(alice.seen)


async def test_a_learner_user_outlives_a_crash_of_the_primary(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    async with Browser(application, sessions["alice"]) as alice:
        await alice.start_sandbox(**SHAPE)
        live = await live_of(manager, "alice")
        assert (await create(alice, "leaderboard-api", FIXED))["type"] == "user"
        old_primary = live.topology("durable").serving_primaries()[0].id
        await alice.send({"type": "fault", "action": "kill_primary", "target": "durable"})
        assert (await alice.expect_any(("fault", "error")))["type"] == "fault"
        await alice.expect("verdict", timeout=90)
        # The killed node comes back (as a replica) and loads the user from the users file.
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            nodes = {p.id: p for p in live.topology("durable").data_nodes()}
            if nodes[old_primary].status == "running":
                break
            assert asyncio.get_running_loop().time() < deadline, "the killed node did not come back"
            await asyncio.sleep(0.3)
        password = learner_password(live.users["durable"], "leaderboard-api")
        assert await asyncio.to_thread(login, nodes[old_primary].port, "leaderboard-api", password) == b"+OK\r\n"
        deadline = asyncio.get_running_loop().time() + 30
        while not (result := await check(live))["passed"]:
            assert asyncio.get_running_loop().time() < deadline, result
            await asyncio.sleep(0.5)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"name": "api", "access": "on ~* +@all"}, "forbidden_access"),
        ({"name": "api", "access": "on ~* allcommands"}, "forbidden_access"),
        ({"name": "api", "access": "on >hunter2 ~* +get"}, "forbidden_access"),
        ({"name": "api", "access": "on #" + "a" * 64 + " ~* +get"}, "forbidden_access"),
        ({"name": "api", "access": "on nopass ~* +get"}, "forbidden_access"),
        ({"name": "api", "access": "reset on ~* +get"}, "forbidden_access"),
        ({"name": "api", "access": "on ~* +get (~x +set)"}, "forbidden_access"),
        ({"name": "api", "access": "on ~* +nosuchcommand"}, "bad_access"),
        ({"name": "api", "access": "   "}, "bad_access"),
        ({"name": "default", "access": "on ~* +get"}, "bad_user_name"),
        ({"name": "supervisor", "access": "on ~* +get"}, "bad_user_name"),
        ({"name": "durable-0a1b2c", "access": "on ~* +get"}, "bad_user_name"),
        ({"name": "Bad Name", "access": "on ~* +get"}, "bad_field"),
        ({"name": "x" * 33, "access": "on ~* +get"}, "bad_field"),
        ({"name": "api", "access": "on ~* +get", "password": "mine"}, "bad_field"),
        ({"name": "api", "access": "on ~* +get", "sandbox": "someone-elses"}, "bad_field"),
        ({"name": "api", "access": ["on", "~*"]}, "bad_field"),
        ({"name": "api", "access": "+get " * 200}, "bad_field"),
    ],
)
async def test_it_refuses_a_forged_or_greedy_user_before_touching_the_cluster(
    application: Any, sessions: dict[str, str], manager: SandboxManager, message: dict[str, Any], code: str
) -> None:
    # No sandbox is needed to be refused: the message is checked before any is looked up.
    async with Browser(application, sessions["alice"]) as alice:
        await alice.send({"type": "hello"})
        await alice.expect("welcome")
        await alice.send({"type": "create_user", **message})
        refused = await alice.expect_any(("user", "error"))
        assert refused["type"] == "error" and refused["code"] == code, refused
    assert manager.live == {}


async def test_a_sandbox_holds_a_bounded_number_of_learner_users_and_charlie_reaches_none_of_alices(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    async with Browser(application, sessions["alice"]) as alice, Browser(application, sessions["charlie"]) as charlie:
        await charlie.send({"type": "hello"})
        await charlie.expect("welcome")
        refused = await create(charlie, "leaderboard-api", FIXED)
        assert refused["type"] == "error" and refused["code"] == "no_sandbox"

        await alice.start_sandbox(**{"shards": 1, "replicas": 0})
        await charlie.start_sandbox(**{"shards": 1, "replicas": 0})
        lives = {who: await live_of(manager, who) for who in ("alice", "charlie")}
        for n in range(MAX_LEARNER_USERS):
            made = await create(alice, f"svc-{n}", "on ~k* -@all +get")
            assert made["type"] == "user", made
        too_many = await create(alice, "svc-extra", "on ~k* -@all +get")
        assert too_many["type"] == "error" and too_many["code"] == "too_many_users", too_many
        # Redefining one of them is not a new user.
        again = await create(alice, "svc-0", "on ~k* -@all +get +set")
        assert again["type"] == "user" and len(again["users"]) == MAX_LEARNER_USERS, again

        # Charlie's user of the same name lives on his nodes only, with a password of his cluster.
        assert (await create(charlie, "svc-0", "on ~* -@all +get"))["type"] == "user"
        charlie_password = learner_password(lives["charlie"].users["durable"], "svc-0")
        alice_password = learner_password(lives["alice"].users["durable"], "svc-0")
        assert charlie_password != alice_password
        for port in data_ports(lives["alice"]):
            assert (await asyncio.to_thread(login, port, "svc-0", charlie_password)).startswith(b"-WRONGPASS")
            assert await asyncio.to_thread(login, port, "svc-0", alice_password) == b"+OK\r\n"
        too_many = await create(alice, "svc-extra", "on ~k* -@all +get")
        assert too_many["code"] == "too_many_users", "charlie's user did not free a place in alice's sandbox"

    # No browser saw a password.
    assert alice_password not in json.dumps(alice.seen) and charlie_password not in json.dumps(charlie.seen)


STALE = {"type": "stale_replica_read", "cluster": "cache", "key": "lab:stale-prediction", "probe": "lab:stale"}


async def test_the_stale_read_check_reads_the_old_value_from_a_replica_right_after_the_primary_acknowledged(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    async with Browser(application, sessions["alice"]) as alice:
        await alice.start_sandbox(**SHAPE)  # the test limits keep the default 50 ms cache replication delay
        live = await live_of(manager, "alice")
        probe = live.clients.probe["cache"]
        assert (await alice.command("SET lab:stale first", cluster="cache", id=1))["text"] == "OK\n"
        assert (await alice.command("SET lab:stale-prediction new", cluster="cache", id=2))["text"] == "OK\n"
        replica = next(p for p in live.topology("cache").data_nodes() if p.role == "replica")
        user = live.users["cache"]

        def replica_value() -> bytes:
            with RawClient(replica.port) as c:
                assert c.call("AUTH", user.username, user.password) == b"+OK\r\n"
                assert c.call("READONLY") == b"+OK\r\n"
                return c.call("GET", "lab:stale")

        # As a learner who checks a moment later: the replica has 'first' by then.
        deadline = asyncio.get_running_loop().time() + 10
        while await asyncio.to_thread(replica_value) != b"$5\r\nfirst\r\n":
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
        wrong = await asyncio.wait_for(run_check(probe, STALE), 10)
        assert wrong["passed"] is False
        assert re.fullmatch(
            r"The primary acknowledged SET lab:stale (new-[0-9a-f]{8}); [\d.]+ ms later the replica in az-[abc], "
            r"after READONLY, answered 'first' \(the old value, the primary had 'first' before\); "
            r"it had the new value \d+ ms after the write\. You predicted the new value\.", wrong["detail"]), wrong
        written = re.search(r"(new-[0-9a-f]{8})", wrong["detail"]).group(1)  # type: ignore[union-attr]
        # The write was real and reached the replica afterwards.
        assert await asyncio.to_thread(replica_value) == b"$12\r\n%b\r\n" % written.encode()

        assert (await alice.command("SET lab:stale-prediction old", cluster="cache", id=3))["text"] == "OK\n"
        right = await asyncio.wait_for(run_check(probe, STALE), 10)
        # The replica answered the value before this check's write: the previous check's.
        assert right["passed"] is True and f"answered '{written}' (the old value" in right["detail"], right

"""Every sandbox cluster has an ACL user of its own, random, known only to the
server: it logs in nowhere else (not on the other cluster of the same sandbox, not
on another learner's), the default user can do nothing on any node, and neither
the name nor the password ever reaches a browser. What the console lets through
still meets the node's own rules (defence in depth). The durable cluster's journal
likewise serves only its own sandbox's secret, which the site's probe logs in with
and no browser ever sees."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from django.contrib.auth.models import User

from sandbox.backends import ClusterUser
from sandbox.live import LiveSandbox
from sandbox.manager import SandboxManager
from sandbox.models import Sandbox
from sandbox.owners import Owner
from sandbox.testing import Browser
from tests.engine.rawclient import RawClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("database_thread")]
SMALL = {"shards": 1, "replicas": 0}
WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
NOAUTH = b"-NOAUTH Authentication required.\r\n"
JOURNAL_WRONGPASS = b"-WRONGPASS invalid journal secret\r\n"

# The lanes a default sandbox runs (the third, async lane is off unless switched on).
CLUSTERS = ("durable", "cache")


def data_ports(live: LiveSandbox, cluster: str) -> list[int]:
    return [p.port for p in live.topologies()[cluster].processes if p.kind == "data"]


def journal_ports(live: LiveSandbox) -> list[int]:
    return [p.port for p in live.topologies()["durable"].processes if p.kind == "journal"]


def journal_session(port: int, secret: str | None) -> list[bytes]:
    """JROLE and JTAIL, after AUTH with ``secret`` unless it is None."""
    with RawClient(port) as c:
        replies = [] if secret is None else [c.call("AUTH", secret)]
        return replies + [c.call("JROLE"), c.call("JTAIL", "shard-0")]


def login(port: int, user: ClusterUser) -> bytes:
    with RawClient(port) as c:
        return c.call("AUTH", user.username, user.password)


def as_user(port: int, user: ClusterUser, *command: str) -> bytes:
    with RawClient(port) as c:
        assert c.call("AUTH", user.username, user.password) == b"+OK\r\n"
        return c.call(*command)


def as_default(port: int) -> list[bytes]:
    with RawClient(port) as c:
        return [c.call("PING"), c.call("GET", "k"), c.call("AUTH", "anything"), c.call("AUTH", "default", "")]


async def live_of(manager: SandboxManager, username: str) -> LiveSandbox:
    user = await User.objects.aget(username=username)
    return manager.live[Owner(user_id=user.id).key]


async def test_a_clusters_user_works_on_that_cluster_only(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    async with Browser(application, sessions["alice"]) as alice, Browser(application, sessions["charlie"]) as charlie:
        seen = [await alice.start_sandbox(**SMALL), await charlie.start_sandbox(**SMALL)]
        lives = {"alice": await live_of(manager, "alice"), "charlie": await live_of(manager, "charlie")}
        users = {(who, c): live.users[c] for who, live in lives.items() for c in CLUSTERS}
        assert len({u.username for u in users.values()}) == len({u.password for u in users.values()}) == 4

        for (who, cluster), user in users.items():
            for (other, other_cluster), live in ((k, lives[k[0]]) for k in users):
                for port in data_ports(live, other_cluster):
                    reply = await asyncio.to_thread(login, port, user)
                    if (other, other_cluster) == (who, cluster):
                        assert reply == b"+OK\r\n", (who, cluster)
                    else:
                        assert reply == WRONGPASS, (who, cluster, "on", other, other_cluster)

        # No node lets a connection do anything before it logs in as its cluster's user.
        for live in lives.values():
            for cluster in CLUSTERS:
                for port in data_ports(live, cluster):
                    assert await asyncio.to_thread(as_default, port) == [NOAUTH, NOAUTH, WRONGPASS, WRONGPASS]

        # The console is logged in as the cluster's own user. It refuses CONFIG (MemoryDB
        # restricts it), and so does the node itself for that user (defence in depth),
        # while both allow FLUSHALL.
        whoami = await alice.command("ACL WHOAMI", cluster="cache", id=1)
        assert whoami["text"] == f'"{users["alice", "cache"].username}"\n'
        config = await alice.command("CONFIG SET hz 11", id=2)
        assert config["type"] == "error" and config["code"] == "forbidden_command"
        port = data_ports(lives["alice"], "cache")[0]
        assert await asyncio.to_thread(as_user, port, users["alice", "cache"], "CONFIG", "SET", "hz", "11") == (
            b"-NOPERM this user has no permissions to run the 'config|set' command\r\n"
        )
        assert (await alice.command("FLUSHALL", id=3))["text"] == "OK\n"
        seen += [whoami, config]
        await alice.send({"type": "hello"})
        seen.append(await alice.expect("welcome"))

        # The durable journal serves its own sandbox's secret only; the site's probe
        # logs in with it, so the page sees every replica's role.
        journal_secrets = {who: live.journal_secret for who, live in lives.items()}
        assert len(set(journal_secrets.values())) == 2 and all(len(s) == 64 for s in journal_secrets.values())
        for who, live in lives.items():
            other = journal_secrets["charlie" if who == "alice" else "alice"]
            for port in journal_ports(live):
                assert await asyncio.to_thread(journal_session, port, None) == [NOAUTH, NOAUTH]
                assert await asyncio.to_thread(journal_session, port, other) == [JOURNAL_WRONGPASS, NOAUTH, NOAUTH]
                ok, role, tail = await asyncio.to_thread(journal_session, port, journal_secrets[who])
                assert ok == b"+OK\r\n" and role.startswith(b"*6\r\n") and tail.startswith(b":"), (role, tail)
            for proc in live.topologies()["durable"].processes:
                with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
                    assert journal_secrets[who].encode() not in f.read(), proc.id
        stats = await alice.expect("stats", where=lambda m: len(m["clusters"]["durable"]["journals"]) == 3)
        assert {j["role"] for j in stats["clusters"]["durable"]["journals"].values()} == {"leader", "follower"}

        # The server keeps them; no browser ever saw a password.
        row = await Sandbox.objects.aget(owner_user__username="alice")
        assert row.credentials == {
            c: {"username": users["alice", c].username, "password": users["alice", c].password} for c in CLUSTERS
        }
        text = json.dumps(seen)
        for user in users.values():
            assert user.password not in text
        everything = json.dumps(alice.seen + charlie.seen)
        assert all(secret not in everything for secret in journal_secrets.values())
        for (who, cluster), user in users.items():
            if (who, cluster) != ("alice", "cache"):  # alice asked the console who she is there
                assert user.username not in text

"""The sandbox websocket, through the real ASGI stack, on real clusters: the console
(SET/GET, redis-cli output, redirects, refusals), the write load and the protocol's
refusals (unknown type, bad fields, oversized, binary, flood), and reconnection
with the events missed replayed.

Every test signs a learner in with a real session cookie, so ownership is decided
by the same middleware as in production; every communicator is disconnected.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from sandbox.manager import SandboxManager
from sandbox.models import Experiment, Sandbox
from sandbox.testing import Browser, running_manager, test_limits

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("database_thread")]


async def test_the_console_runs_commands_on_the_learners_own_clusters(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    async with Browser(application, sessions["alice"]) as alice:
        state = await alice.start_sandbox(replicas=1)
        assert state["sandbox"]["state"] == "running", state["sandbox"]["error"]
        topology = state["sandbox"]["topology"]
        assert set(topology) == {"durable", "cache"}
        assert "password" not in json.dumps(state)
        assert not any("pid" in p or "port" in p for t in topology.values() for p in t["processes"])
        # Sandbox processes yield the CPU to the site when the host is saturated
        # (their pids are the server's to know, not the browser's).
        server_side = next(iter(manager.live.values())).topologies()
        pids = [p.pid for t in server_side.values() for p in t.processes if p.pid]
        assert len(pids) >= 8
        assert {os.getpriority(os.PRIO_PROCESS, pid) for pid in pids} == {manager.limits.nice}

        reply = await alice.command("SET greeting hello", id=1)
        assert reply == {"type": "reply", "id": 1, "cluster": "durable", "text": "OK\n",
                         "error": False, "ms": reply["ms"]}
        reply = await alice.command("GET greeting", id=2)
        assert reply["text"] == '"hello"\n'
        reply = await alice.command("GET greeting", cluster="cache", id=3)
        assert reply["text"] == "(nil)\n", "the two clusters are separate"
        reply = await alice.command('RPUSH l a "b c" 3', id=4)
        assert reply["text"] == "(integer) 3\n"
        reply = await alice.command("LRANGE l 0 -1", id=5)
        assert reply["text"] == '1) "a"\n2) "b c"\n3) "3"\n'
        reply = await alice.command("INCR greeting", id=6)
        assert reply["error"] is True
        assert reply["text"] == "(error) ERR value is not an integer or out of range\n"

        refused = await alice.command("CONFIG SET dir /tmp", id=7)
        assert refused["type"] == "error" and refused["code"] == "forbidden_command"
        assert refused["id"] == 7 and "MemoryDB restricts CONFIG" in refused["message"]
        for line in ("SHUTDOWN", "DEBUG SLEEP 1", "CLUSTER SETTOPOLOGY {}", "REPLICAOF NO ONE",
                     "ACL SETUSER bob on", "BGSAVE", "MIGRATE h 1 k 0 1", "MODULE LIST"):
            refused = await alice.command(line, id=8)
            assert refused["code"] == "forbidden_command", line
        allowed = await alice.command("FLUSHALL", id=9)
        assert allowed["text"] == "OK\n"
        # Every data node runs under the configured memory cap.
        maxmemory = await alice.command("INFO memory", cluster="cache", id=11)
        assert "\nmaxmemory:67108864\n" in maxmemory["text"], maxmemory["text"]

        bad = await alice.command('GET "unbalanced', id=10)
        assert bad["code"] == "bad_command"

    row = await Sandbox.objects.aget(owner_user__username="alice")
    assert row.state == Sandbox.State.RUNNING
    assert row.credentials["durable"]["password"]


async def test_every_malformed_message_gets_a_clear_error_and_nothing_else(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    async with Browser(application, sessions["alice"]) as alice:
        await alice.send({"type": "launch_missiles"})
        assert (await alice.receive())["code"] == "unknown_type"
        await alice.send_text("not json")
        assert (await alice.receive())["code"] == "bad_json"
        await alice.send_text("[1, 2]")
        assert (await alice.receive())["code"] == "bad_json"
        await alice.send({"type": "command", "cluster": "durable", "line": "PING"})
        error = await alice.receive()
        assert (error["code"], error["field"]) == ("bad_field", "id")
        await alice.send({"type": "command", "cluster": "mars", "line": "PING", "id": 1})
        assert (await alice.receive())["field"] == "cluster"
        await alice.send({"type": "start", "shards": 9})
        assert (await alice.receive())["field"] == "shards"
        await alice.send({"type": "start", "shards": True})
        assert (await alice.receive())["field"] == "shards"
        await alice.send({"type": "hello", "sandbox": "someone-elses"})
        assert (await alice.receive())["field"] == "sandbox"
        await alice.send({"type": "load_start", "rate": 10, "mix": {"set": 0}})
        assert (await alice.receive())["field"] == "mix"
        await alice.send_text(json.dumps({"type": "command", "cluster": "durable", "id": 1,
                                          "line": "SET k " + "x" * 20_000}))
        assert (await alice.receive())["code"] == "too_large"
        await alice.communicator.send_to(bytes_data=b"\x00\x01")
        assert (await alice.receive())["code"] == "binary_not_supported"
        # The connection still works after every refusal.
        await alice.send({"type": "ping"})
        assert (await alice.receive())["type"] == "pong"

    async with Browser(application, sessions["alice"]) as alice:
        # A flood: beyond the burst, messages are refused until the bucket refills.
        for _ in range(manager.limits.message_burst + 10):
            await alice.send({"type": "ping"})
        replies = [await alice.receive() for _ in range(manager.limits.message_burst + 10)]
        assert any(r.get("code") == "rate_limited" for r in replies)
        assert sum(r["type"] == "pong" for r in replies) >= manager.limits.message_burst - 1
        # A refused command names its id, so the page fails it in place.
        flood = manager.limits.message_burst + 10
        for i in range(1, flood + 1):
            await alice.send({"type": "command", "cluster": "durable", "line": "PING", "id": i})
        replies = [await alice.receive() for _ in range(flood)]
        refused = [r for r in replies if r.get("code") == "rate_limited"]
        assert refused and all(isinstance(r.get("id"), int) and 1 <= r["id"] <= flood for r in refused)


async def test_a_guest_without_a_session_is_told_to_open_the_page(
    application: Any, manager: SandboxManager
) -> None:
    async with Browser(application) as guest:
        await guest.send({"type": "hello"})
        welcome = await guest.receive()
        assert welcome["type"] == "welcome" and welcome["identity"] is False
        await guest.send({"type": "start"})
        assert (await guest.receive())["code"] == "no_identity"


async def test_a_reconnecting_page_gets_exactly_the_events_it_missed(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    async with Browser(application, sessions["alice"]) as first:
        await first.start_sandbox(replicas=0)
        await first.send({"type": "hello"})
        welcome = await first.expect("welcome")
        log_id, seq = welcome["log"], welcome["seq"]
    # While no page is open, the learner's sandbox keeps running and logging.
    owner = next(iter(manager.live.values())).owner
    await manager.load_start(owner, 50, None)
    await manager.load_stop(owner)
    async with Browser(application, sessions["alice"]) as second:
        await second.send({"type": "hello", "last_seq": seq, "log": log_id})
        welcome = await second.expect("welcome")
        assert welcome["reset"] is False
        replayed = [await second.expect("event") for _ in range(2)]
        assert [e["seq"] for e in replayed] == [seq + 1, seq + 2]
        assert [e["event"] for e in replayed] == ["load_started", "load_stopped"]
    async with Browser(application, sessions["alice"]) as stale:
        await stale.send({"type": "hello", "last_seq": 3, "log": "another-log"})
        welcome = await stale.expect("welcome")
        assert welcome["reset"] is True and welcome["seq"] == seq + 2


async def test_the_write_load_records_acknowledged_writes_on_both_clusters(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    async with Browser(application, sessions["alice"]) as alice:
        await alice.start_sandbox(replicas=1)
        await alice.send({"type": "load_start", "rate": 200, "mix": {"set": 40, "incr": 20, "zadd": 20, "xadd": 20}})
        started = await alice.expect("load")
        assert started["load"]["running"] is True
        # While a page watches, statistics come with the journal lane: per shard, the
        # newest acknowledged write and how far each replica has applied the stream.
        stats = await alice.expect(
            "stats", where=lambda m: m["load"]["clusters"]["durable"]["acknowledged"] > 150
        )
        for cluster in ("durable", "cache"):
            shard = stats["clusters"][cluster]["lane"]["shards"]["0"]
            assert shard["acknowledged"] > 0
            (replica,) = shard["replicas"].values()
            assert 0 <= replica["applied"] <= shard["acknowledged"] and replica["missing"] >= 0
            roles = {n["role"] for n in stats["clusters"][cluster]["nodes"].values()}
            assert roles == {"primary", "replica"}
        assert {j["role"] for j in stats["clusters"]["durable"]["journals"].values()} >= {"leader"}
        await alice.send({"type": "load_stop"})
        stopped = await alice.expect("load")
        durable = stopped["load"]["clusters"]["durable"]
        cache = stopped["load"]["clusters"]["cache"]
        assert durable["acknowledged"] > 100 and cache["acknowledged"] > 100
        assert durable["errors"] == cache["errors"] == 0
        await alice.send({"type": "verdict"})
        verdict = (await alice.expect("verdict"))["verdict"]
        for cluster in ("durable", "cache"):
            result = verdict["clusters"][cluster]
            assert result["lost"] == 0 and result["kept"] == result["acknowledged"] > 100
            assert result["lost_by_kind"] == {"set": 0, "incr": 0, "zadd": 0, "xadd": 0}
        # Each cluster's ledger kept the IDs its own cluster gave the same XADDs.
        load = next(iter(manager.live.values())).lab.load
        durable_ids, cache_ids = ({key: [n for _id, n, _ack in entries] for key, entries in load.ledgers[c].xadds.items()}
                                  for c in ("durable", "cache"))
        assert sum(map(len, durable_ids.values())) > 20 and set(durable_ids) == {f"load:events:{i}" for i in range(4)}
        key, entries = next(iter(load.ledgers["cache"].xadds.items()))
        entry_id, n, _acked = entries[len(entries) // 2]
        reply = await alice.command(f"XRANGE {key} {entry_id.decode()} {entry_id.decode()}", cluster="cache", id=20)
        assert reply["text"] == f'1) 1) "{entry_id.decode()}"\n   2) 1) "n"\n      2) "{n}"\n'
        # An acknowledged entry that disappears is a lost write, named by its ID.
        assert (await alice.command(f"XDEL {key} {entry_id.decode()}", cluster="cache", id=21))["text"] == "(integer) 1\n"
        await alice.send({"type": "verdict"})
        verdict = (await alice.expect("verdict"))["verdict"]
        cache, durable = verdict["clusters"]["cache"], verdict["clusters"]["durable"]
        assert cache["lost"] == 1 and cache["lost_by_kind"]["xadd"] == 1
        assert cache["lost_keys"] == [f"{key} {entry_id.decode()}"]
        assert durable["lost"] == 0


async def test_console_commands_are_rate_limited_per_learner(
    application: Any, sessions: dict[str, str], tmp_path: Path
) -> None:
    limits = test_limits(tmp_path / "sb", commands_per_second=1.0, command_burst=3)
    async with running_manager(limits):
        async with Browser(application, sessions["alice"]) as alice:
            await alice.start_sandbox(replicas=0)
            replies = [await alice.command("PING", id=i) for i in range(1, 5)]
            assert [r["type"] for r in replies] == ["reply", "reply", "reply", "error"]
            assert replies[3]["code"] == "command_rate_limited" and replies[3]["id"] == 4
        # The limit is the learner's, not the connection's: a second tab shares it.
        async with Browser(application, sessions["alice"]) as second_tab:
            await second_tab.send({"type": "hello"})
            await second_tab.expect("welcome")
            assert (await second_tab.command("PING", id=5))["code"] == "command_rate_limited"


async def test_every_fault_button_acts_on_the_real_processes(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    async with Browser(application, sessions["alice"]) as alice:
        state = await alice.start_sandbox(replicas=1)
        topology = state["sandbox"]["topology"]

        def crashed(cluster: str, kind: str) -> Any:
            return lambda m: m.get("event") == "node_crashed" and m.get("cluster") == cluster and m.get("kind") == kind

        await alice.send({"type": "fault", "action": "kill_replica", "target": "cache"})
        fault = await alice.expect("fault")
        replica = next(p for p in topology["cache"]["processes"] if p["role"] == "replica")
        assert fault["nodes"] == {"cache": [replica["id"]]}
        await alice.expect("event", where=crashed("cache", "data"))

        await alice.send({"type": "fault", "action": "kill_journal", "zone": "az-b"})
        assert (await alice.expect("fault"))["nodes"] == {"durable": ["journal-az-b"]}
        await alice.expect("event", where=crashed("durable", "journal"))
        # The supervisor brings crashed processes back by itself.
        await alice.expect("event", where=lambda m: m.get("event") == "node_restarted" and m.get("node") == "journal-az-b")

        await alice.send({"type": "fault", "action": "pause", "target": "cache", "seconds": 1})
        await alice.expect("event", where=lambda m: m.get("event") == "node_paused")
        await alice.expect("event", where=lambda m: m.get("event") == "node_resumed")

        await alice.send({"type": "fault", "action": "kill_zone", "zone": "az-a", "prediction": 0})
        zone = await alice.expect("fault")
        assert "journal-az-a" in zone["nodes"]["durable"]
        verdict = (await alice.expect("verdict", timeout=40))["verdict"]
        assert verdict["fault"] == "kill_zone" and verdict["prediction"] == 0
        for cluster in ("durable", "cache"):
            assert verdict["clusters"][cluster]["failed_over"] is True
            # A zone kill fails a cluster over only if its primary lives in that zone,
            # and the faults above may have moved a primary: a failover that happened
            # must have been timed.
            failover_ms = verdict["clusters"][cluster]["failover_ms"]
            assert failover_ms is None or failover_ms > 0

        await alice.send({"type": "fault", "action": "restart", "node": "no-such-node"})
        assert (await alice.expect("error"))["code"] == "no_such_node"
    row = await Experiment.objects.aget(owner_user__username="alice")
    assert (row.fault, row.prediction) == ("kill_zone", 0)

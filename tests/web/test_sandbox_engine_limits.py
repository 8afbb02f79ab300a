"""A learner's console cannot push their own sandbox's nodes past their bounds
(issue 9, findings 4 and 5, through the websocket console as a learner meets them).

The engine's own tests check each bound on bare nodes; these check that a sandbox
started by the site really runs with them: a count that would build a giant reply
closes the console's connection (the node's client output limit) and the node's
memory stays put, a write that would pass maxmemory is refused before it allocates,
CLIENT NO-EVICT is not the learner's to run, an exponential pattern costs the node
no time, every process has a memory limit and the durable journal a disk cap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sandbox.manager import SandboxManager
from sandbox.testing import Browser

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("database_thread")]

TICKS = 100  # /proc/PID/stat clock ticks per second on Linux


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def cmdline(pid: int) -> list[str]:
    return [w.decode() for w in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if w]


def primary_pid(manager: SandboxManager, cluster: str) -> int:
    live = next(iter(manager.live.values()))
    procs = live.topologies()[cluster].processes
    return next(p.pid for p in procs if p.kind == "data" and p.role == "primary")


async def test_a_console_cannot_push_a_sandbox_node_past_its_bounds(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    async with Browser(application, sessions["alice"]) as page:
        state = await page.start_sandbox(shards=1, replicas=0)
        assert state["sandbox"]["state"] == "running", state["sandbox"]["error"]
        for cluster in ("durable", "cache"):
            pid = primary_pid(manager, cluster)
            before = rss_mb(pid)
            assert (await page.command("SADD s a", cluster=cluster, id=1))["text"] == "(integer) 1\n"
            # 10 million copies of "a": ~70 MB of reply, past the node's 32 MB limit
            # for a client's output. The node closes the console's connection rather
            # than build it (it used to reach 1.47 GB); the next command reconnects.
            started = cpu_seconds(pid)
            reply = await page.command("SRANDMEMBER s -10000000", cluster=cluster, id=2)
            assert reply["error"] is True and "output buffer limit (32mb)" in reply["text"], reply
            assert rss_mb(pid) < before + 100, f"{cluster}: {before:.0f} -> {rss_mb(pid):.0f} MB"
            assert cpu_seconds(pid) - started < 5
            assert (await page.command("SCARD s", cluster=cluster, id=3))["text"] == "(integer) 1\n"

            # One write that alone passes maxmemory (64mb) is refused before it allocates.
            reply = await page.command("SETRANGE big 100000000 x", cluster=cluster, id=4)
            assert reply["text"].startswith("(error) OOM command not allowed"), reply
            assert rss_mb(pid) < before + 100

            # MemoryDB restricts CLIENT NO-EVICT; it would let writes ignore maxmemory.
            reply = await page.command("CLIENT NO-EVICT on", cluster=cluster, id=5)
            assert "NOPERM" in reply.get("text", "") + reply.get("message", ""), reply

            # A pattern that is exponential for a backtracking matcher costs nothing.
            await page.command("SET " + "a" * 40 + " 1", cluster=cluster, id=6)
            started = cpu_seconds(pid)
            reply = await page.command("KEYS " + "a*" * 20 + "b", cluster=cluster, id=7)
            assert reply["text"] == "(empty array)\n"
            assert cpu_seconds(pid) - started < 1.0

        live = next(iter(manager.live.values()))
        for cluster, topology in live.topologies().items():
            for proc in topology.processes:
                if proc.pid is None:
                    continue
                limits = Path(f"/proc/{proc.pid}/limits").read_text()
                data_line = next(line for line in limits.splitlines() if line.startswith("Max data size"))
                assert "unlimited" not in data_line, f"{proc.id}: {data_line}"
                argv = cmdline(proc.pid)
                if proc.kind == "data":
                    assert argv[argv.index("--client-output-buffer-limit") + 1] == "32mb"
                if proc.kind == "journal":
                    quota = int(argv[argv.index("--disk-quota-bytes") + 1])
                    assert quota == manager.limits.disk_mb * 1024 * 1024

"""Stateless web workers: ``manage.py sandboxd`` owns the sandboxes, two daphne
workers reach it through a real redis-server, and a learner's page survives the
death of the worker it was talking to.

Everything runs on 127.0.0.1 in processes this module starts and stops by pid:
redis-server (tests/engine/servers.py), sandboxd, and two ``LiveSite`` daphnes
sharing one data directory (one SQLite database, one secret key). The learners
are raw websocket clients with their own session cookies, as a browser would be.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import struct
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest

from sandbox.testing import PROJECT_ROOT, LiveSite, engine_pids_under
from tests.engine.servers import die_with_parent, redis_process

pytestmark = pytest.mark.timeout(240)

SHAPE = {"shards": 1, "replicas": 1}
CALL_TIMEOUT_S = 3  # the workers' deadline for a call to sandboxd


class Page:
    """One learner's sandbox page: a websocket (RFC 6455 text frames) with their cookie."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.seqs: list[int] = []  # every event's number, in arrival order
        self.log: str | None = None

    @classmethod
    async def open(cls, port: int, cookie: str) -> "Page":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /ws/sandbox/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n"
            f"Cookie: {cookie}\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert b" 101 " in head.split(b"\r\n", 1)[0], head[:200]
        return cls(reader, writer)

    def send(self, message: dict[str, Any]) -> None:
        payload, mask = json.dumps(message).encode(), os.urandom(4)
        size = len(payload)
        header = struct.pack("!BB", 0x81, 0x80 | size) if size < 126 else struct.pack("!BBH", 0x81, 0xFE, size)
        self.writer.write(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    async def receive(self, timeout: float = 30) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            data = b""
            while True:
                first, second = await self.reader.readexactly(2)
                opcode, size = first & 0x0F, second & 0x7F
                if size == 126:
                    (size,) = struct.unpack("!H", await self.reader.readexactly(2))
                elif size == 127:
                    (size,) = struct.unpack("!Q", await self.reader.readexactly(8))
                payload = await self.reader.readexactly(size)
                if opcode == 8:
                    raise ConnectionError("closed by the server")
                if opcode in (9, 10):
                    continue
                data += payload
                if first & 0x80:
                    message = json.loads(data)
                    if message.get("type") == "event":
                        self.seqs.append(message["seq"])
                    if message.get("type") in ("welcome", "state"):
                        # The log's id comes with the welcome, or with the sandbox's state.
                        self.log = message.get("log") or (message.get("sandbox") or {}).get("log") or self.log
                    return message

    async def expect(self, kind: str, timeout: float = 30, where: Any = lambda m: True) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            message = await self.receive(max(0.1, deadline - time.monotonic()))
            if message.get("type") == kind and where(message):
                return message
            if message.get("type") == "error" and kind != "error":
                raise AssertionError(f"error while waiting for {kind}: {message}")

    async def command(self, line: str, id: int, timeout: float = 30) -> dict[str, Any]:
        self.send({"type": "command", "cluster": "durable", "line": line, "id": id})
        return await self.expect_any(("reply", "error"), timeout, lambda m: m.get("id") == id)

    async def expect_any(self, kinds: tuple[str, ...], timeout: float, where: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            message = await self.receive(max(0.1, deadline - time.monotonic()))
            if message.get("type") in kinds and where(message):
                return message

    async def drain(self, seconds: float) -> None:
        """Read whatever arrives for a while (numbering the events)."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                await self.receive(left)
            except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
                return

    def close(self) -> None:
        self.writer.close()


def session_cookie(site: LiveSite) -> str:
    jar = CookieJar()
    urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar)).open(site.url + "/sandbox/").read()
    return "; ".join(f"{c.name}={c.value}" for c in jar)


class Stack:
    def __init__(self, data_dir: Path, redis_port: int) -> None:
        self.data_dir = data_dir
        self.env = {
            "MEMORYDB_LAB_CHANNEL_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "MEMORYDB_LAB_SANDBOX_SERVICE": "remote",
            "MEMORYDB_LAB_SANDBOX_SERVICE_TIMEOUT_S": str(CALL_TIMEOUT_S),
            "MEMORYDB_LAB_SANDBOX_COMMANDS_PER_SECOND": "1000",
        }
        self.a = LiveSite(data_dir, self.env, load_content=False)
        self.b = LiveSite(data_dir, self.env, load_content=False)
        self.a.log_path, self.b.log_path = data_dir / "daphne-a.log", data_dir / "daphne-b.log"
        self.env = {**self.a.env, "MEMORYDB_LAB_DATA_DIR": str(data_dir)}
        self.sandboxd: subprocess.Popen[bytes] | None = None

    def start_sandboxd(self) -> None:
        log = open(self.data_dir / "sandboxd.log", "ab")
        self.sandboxd = subprocess.Popen(
            [sys.executable, "manage.py", "sandboxd"], cwd=PROJECT_ROOT, env=self.env,
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
        )  # fmt: skip

    def kill_sandboxd(self) -> None:
        assert self.sandboxd is not None
        self.sandboxd.send_signal(signal.SIGKILL)
        self.sandboxd.wait(10)

    def stop(self) -> None:
        for site in (self.a, self.b):
            if site.process is not None:
                site.process.kill()
                site.process.wait(10)
                site.process = None
        if self.sandboxd is not None and self.sandboxd.poll() is None:
            self.sandboxd.send_signal(signal.SIGTERM)
            try:
                self.sandboxd.wait(30)
            except subprocess.TimeoutExpired:
                self.sandboxd.kill()
                self.sandboxd.wait(10)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with redis_process() as redis:
        stack = Stack(tmp_path_factory.mktemp("classroom"), redis.port)
        try:
            stack.a.start()  # migrates the shared database first
            stack.start_sandboxd()
            stack.b.start()
            yield stack
        finally:
            stack.stop()
            sandboxd_log = (stack.data_dir / "sandboxd.log").read_text(errors="replace")
            if "Traceback" in sandboxd_log:
                print(sandboxd_log[-4000:])
        assert engine_pids_under(stack.data_dir / "sandboxes") == []


async def _running_sandbox(page: Page) -> dict[str, Any]:
    page.send({"type": "hello"})
    await page.expect("welcome")
    page.send({"type": "start", **SHAPE})
    state = await page.expect("state", 90, lambda m: m["sandbox"]["state"] in ("running", "failed"))
    assert state["sandbox"]["state"] == "running", state
    return state


async def test_a_learner_keeps_their_sandbox_and_events_when_their_worker_dies(stack: Stack) -> None:
    cookie = session_cookie(stack.a)
    page = await Page.open(stack.a.port, cookie)
    await _running_sandbox(page)
    assert (await page.command("SET lesson:key kept", 1))["type"] == "reply"
    page.send({"type": "load_start", "rate": 20})
    await page.expect("load")
    await page.drain(1.5)
    pids = sorted(engine_pids_under(stack.data_dir / "sandboxes"))
    assert pids, "the sandbox's clusters run under the shared data directory"
    seen_before, log_id = list(page.seqs), page.log

    stack.a.process.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
    stack.a.process.wait(10)  # type: ignore[union-attr]
    stack.a.process = None
    page.close()

    # Meanwhile, on the other worker, another page of the same learner makes events.
    other = await Page.open(stack.b.port, cookie)
    other.send({"type": "hello"})
    await other.expect("welcome")
    other.send({"type": "fault", "action": "pause", "target": "cache", "seconds": 1})
    await other.expect("fault", 30)
    await other.drain(1.0)
    other.close()

    back = await Page.open(stack.b.port, cookie)
    back.send({"type": "hello", "last_seq": seen_before[-1], "log": log_id})
    welcome = await back.expect("welcome")
    assert welcome["reset"] is False and welcome["log"] == log_id
    assert welcome["sandbox"]["state"] == "running"
    await back.drain(2.0)
    after = back.seqs
    assert after, "the events it missed were replayed"
    assert after[0] == seen_before[-1] + 1, (seen_before[-3:], after[:3])
    assert seen_before + after == list(range(seen_before[0], after[-1] + 1)), "no gap, no duplicate"
    assert sorted(engine_pids_under(stack.data_dir / "sandboxes")) == pids, "the same clusters, not restarted"
    reply = await back.command("GET lesson:key", 2)
    assert reply["type"] == "reply" and "kept" in json.dumps(reply), reply
    back.send({"type": "load_stop"})
    await back.expect("load")
    back.close()


async def test_two_learners_on_two_workers_cannot_reach_each_others_sandbox(stack: Stack) -> None:
    site_a = stack.a if stack.a.process is not None else stack.a.start()
    owner_cookie = session_cookie(site_a)
    mine = await Page.open(site_a.port, owner_cookie)
    await _running_sandbox(mine)
    assert (await mine.command("SET secret:key mine", 1))["type"] == "reply"
    uuid = next(p.name for p in (stack.data_dir / "sandboxes").iterdir() if p.is_dir())

    intruder = await Page.open(stack.b.port, session_cookie(stack.b))
    intruder.send({"type": "hello", "last_seq": 0, "log": mine.log})
    welcome = await intruder.expect("welcome")
    assert welcome["sandbox"] is None and not welcome.get("replay"), welcome
    assert intruder.seqs == [], "none of the other learner's events"
    refused = await intruder.command("GET secret:key", 7)
    assert refused["type"] == "error" and refused["code"] == "no_sandbox", refused
    for forged in (
        {"type": "command", "cluster": "durable", "line": "GET secret:key", "id": 8, "sandbox": uuid},
        {"type": "command", "cluster": "durable", "line": "GET secret:key", "id": 9, "owner": {"user_id": 1}},
        {"type": "stop", "sandbox": uuid},
        {"type": "load_start", "rate": 5, "owner": {"token": "x"}},
    ):
        intruder.send(forged)
        error = await intruder.expect("error")
        assert error["code"] == "bad_field", error
    intruder.send({"type": "stop"})  # stops the intruder's own (none), not the other's
    await intruder.drain(1.0)
    assert intruder.seqs == []
    intruder.close()

    reply = await mine.command("GET secret:key", 2)
    assert reply["type"] == "reply" and "mine" in json.dumps(reply), reply
    mine.close()


async def test_a_call_while_sandboxd_is_down_is_refused_in_time_and_a_restarted_one_brings_sandboxes_back(
    stack: Stack,
) -> None:
    cookie = session_cookie(stack.b)
    page = await Page.open(stack.b.port, cookie)
    await _running_sandbox(page)
    assert (await page.command("SET durable:key survives", 1))["type"] == "reply"

    stack.kill_sandboxd()
    asked = time.monotonic()
    refused = await page.command("GET durable:key", 2, timeout=CALL_TIMEOUT_S + 20)
    waited = time.monotonic() - asked
    assert refused["type"] == "error" and refused["code"] == "sandbox_service_unavailable", refused
    assert waited < CALL_TIMEOUT_S + 10, f"refused after {waited:.1f} s"

    stack.start_sandboxd()
    page.send({"type": "hello"})
    await page.expect("welcome", 60, lambda m: m["sandbox"] is not None)
    await page.expect_any(("state", "welcome"), 120, lambda m: (m.get("sandbox") or {}).get("state") == "running")
    reply = await page.command("GET durable:key", 3)
    assert reply["type"] == "reply" and "survives" in json.dumps(reply), reply
    page.close()

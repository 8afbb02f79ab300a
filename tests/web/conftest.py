"""Fixtures of the sandbox tests that drive the real ASGI stack: the application,
signed-in learners' sessions, a running manager on the test's own event loop, and
the database thread those tests' own ORM calls need.

None is autouse: a test module asks for what it uses (``pytestmark`` for the
database thread)."""

from __future__ import annotations

import importlib
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from django.contrib.auth.models import User
from django.test import Client

from sandbox.manager import SandboxManager
from sandbox.testing import own_database_thread, running_manager, test_limits


@pytest_asyncio.fixture
async def database_thread() -> AsyncIterator[None]:
    """The test's own ORM calls run in a thread of their own (see own_database_thread)."""
    async with own_database_thread():
        yield


@pytest.fixture
def application() -> Any:
    # Imported when the test runs, not at collection: importing builds the
    # middleware, which must see the test settings of tests/conftest.py.
    return importlib.import_module("memorydb_lab.asgi").application


@pytest.fixture
def sessions(transactional_db: None) -> dict[str, str]:
    """Session keys of alice (a learner) and charlie (an outsider), both signed in."""
    keys = {}
    for name in ("alice", "charlie"):
        user = User.objects.create_user(name, f"{name}@example.org", "correct horse battery staple")
        client = Client()
        client.force_login(user)
        keys[name] = client.session.session_key
    return keys


@pytest_asyncio.fixture
async def manager(tmp_path: Path) -> AsyncIterator[SandboxManager]:
    """A sandbox manager with the test limits, installed on the test's event loop."""
    async with running_manager(test_limits(tmp_path / "sb")) as running:
        yield running


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[str]:
    """A throwaway real redis-server (Debian's; scripts/test installs it) on a free
    loopback port, without persistence, stopped by pid afterwards: its URL."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is missing; scripts/test installs it"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)

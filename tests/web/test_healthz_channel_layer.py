"""/healthz's channel layer check (a real round trip) and the worker that answered.

The Redis case runs a real redis-server on a free loopback port (channels_redis
from requirements-classroom.txt talks to it), stopped by pid at the end.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings

from memorydb_lab.env import channel_layers_for
from sandbox.health import engine_check


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redis_port(tmp_path) -> Iterator[int]:
    port = _free_port()
    process = subprocess.Popen(
        ["/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def staff_client(db) -> Client:
    engine_check.clear()
    client = Client()
    client.force_login(User.objects.create_user("operator", "op@example.org", "x", is_staff=True))
    return client


def test_it_reports_a_round_trip_through_redis_and_the_worker_that_answered(
    staff_client: Client, redis_port: int
) -> None:
    with override_settings(CHANNEL_LAYERS=channel_layers_for(f"redis://127.0.0.1:{redis_port}/0")):
        body = staff_client.get("/healthz").json()
    assert body["channel_layer"]["ok"] is True, body
    assert body["channel_layer"]["backend"] == "RedisChannelLayer"
    assert body["worker"] == {"pid": os.getpid(), "hostname": socket.gethostname()}


def test_it_says_the_channel_layer_is_down_when_its_redis_does_not_answer(
    staff_client: Client,
) -> None:
    closed = _free_port()  # nothing listens there
    with override_settings(CHANNEL_LAYERS=channel_layers_for(f"redis://127.0.0.1:{closed}/0")):
        body = staff_client.get("/healthz").json()
    assert body["ok"] is False
    assert body["channel_layer"]["ok"] is False
    assert "Error" in body["channel_layer"]["error"], body
    assert body["database"]["ok"] is True  # the other checks still report


def test_visitors_see_the_channel_layer_verdict_but_not_the_worker(db, redis_port: int) -> None:
    engine_check.clear()
    with override_settings(CHANNEL_LAYERS=channel_layers_for(f"redis://127.0.0.1:{redis_port}/0")):
        body = Client().get("/healthz").json()
    assert body["channel_layer"] == {"ok": True, "error": None}
    assert "worker" not in body

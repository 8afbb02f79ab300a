"""/healthz and the engine check behind it (sandbox.health).

The engine check is exercised three ways: against the real engine (what
production runs), against small fake engines that misbehave in each way the check
must survive, and through the cache with an injected clock. Staff see every detail
of a check; anyone else sees only each check's verdict and reason.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.db import OperationalError, connection
from django.test import override_settings

from sandbox import health
from sandbox.health import CachedCheck, check_engine, engine_check

from .base import WebTestCase


class HealthzTests(WebTestCase):
    def setUp(self) -> None:
        # The engine result is cached per process; start each test from nothing so
        # that no test depends on what an earlier one left behind.
        engine_check.clear()
        self.addCleanup(engine_check.clear)

    def sign_in_staff(self) -> None:
        staff = User.objects.create_user("operator", "operator@example.org", "x", is_staff=True)
        self.client.force_login(staff)

    def test_it_reports_a_healthy_site_with_the_real_engine(self) -> None:
        self.sign_in_staff()
        response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "application/json")
        self.assertIn("no-cache", response["Cache-Control"])
        body = response.json()
        self.assertEqual(set(body), {"ok", "database", "channel_layer", "engine", "worker"})
        self.assertEqual(body["database"]["ok"], True, body)
        self.assertEqual(body["database"]["vendor"], "sqlite")
        self.assertEqual(body["engine"]["ok"], True, body)
        self.assertIsNone(body["engine"]["error"])
        self.assertIsInstance(body["engine"]["port"], int)
        self.assertIs(body["ok"], True)
        _assert_reaped(body["engine"]["pid"])  # the probe node is gone, not a zombie

    def test_anonymous_visitors_see_each_verdict_but_no_pid_port_or_timing(self) -> None:
        body = self.client.get("/healthz").json()
        self.assertIs(body["ok"], True, body)
        self.assertEqual(body["database"], {"ok": True, "error": None})
        self.assertEqual(body["engine"], {"ok": True, "error": None})

    def test_a_learner_who_is_not_staff_sees_what_anonymous_visitors_see(self) -> None:
        self.client.force_login(self.alice)
        body = self.client.get("/healthz").json()
        self.assertEqual(set(body["engine"]), {"ok", "error"})
        self.assertEqual(set(body["database"]), {"ok", "error"})

    def test_anonymous_visitors_still_get_the_reason_of_a_failure(self) -> None:
        broken = CachedCheck(lambda: check_engine([sys.executable, "-c", "raise SystemExit(3)"]))
        with mock.patch("memorydb_lab.views.engine_check", broken):
            body = self.client.get("/healthz").json()
        self.assertIs(body["ok"], False)
        self.assertEqual(set(body["engine"]), {"ok", "error"})
        self.assertIn("exited with status 3", body["engine"]["error"])

    def test_it_reuses_the_engine_result_within_the_cache_lifetime(self) -> None:
        self.sign_in_staff()
        first = self.client.get("/healthz").json()["engine"]
        second = self.client.get("/healthz").json()["engine"]
        self.assertFalse(first["cached"])
        self.assertTrue(second["cached"])
        self.assertEqual({**second, "cached": False}, first)

    @override_settings(HEALTHZ_ENGINE_CACHE_SECONDS=0)
    def test_a_zero_cache_lifetime_checks_every_time(self) -> None:
        self.sign_in_staff()
        first = self.client.get("/healthz").json()["engine"]
        second = self.client.get("/healthz").json()["engine"]
        self.assertFalse(first["cached"])
        self.assertFalse(second["cached"])

    def test_a_broken_engine_still_answers_200_with_the_reason(self) -> None:
        broken = CachedCheck(lambda: check_engine([sys.executable, "-c", "raise SystemExit(3)"]))
        with mock.patch("memorydb_lab.views.engine_check", broken):
            response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertIs(body["ok"], False)
        self.assertIs(body["database"]["ok"], True)
        self.assertIs(body["engine"]["ok"], False)
        self.assertIn("exited with status 3", body["engine"]["error"])

    def test_a_database_that_fails_is_reported_not_raised(self) -> None:
        fine = CachedCheck(lambda: {"ok": True, "error": None})
        failure = OperationalError("database is locked")
        with mock.patch("memorydb_lab.views.engine_check", fine), mock.patch.object(
            connection, "cursor", side_effect=failure
        ):
            response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertIs(body["ok"], False)
        self.assertIs(body["database"]["ok"], False)
        self.assertEqual(body["database"]["error"], "OperationalError: database is locked")

    def test_it_refuses_to_change_state(self) -> None:
        self.assertEqual(self.client.post("/healthz").status_code, 405)


# --- check_engine against fake engines --------------------------------------------------

# A tiny RESP server: announces itself like the engine, completes redis-py's
# handshake (HELLO 3, CLIENT SETINFO), answers PING with the given reply, and
# optionally ignores SIGTERM to test the forced kill. redis-py sends one command and
# waits for its reply, so each recv() holds exactly one command.
FAKE_ENGINE = textwrap.dedent(
    """
    import json, os, signal, socket, sys
    ping_reply, ignore_term = sys.argv[1].encode(), sys.argv[2] == "1"
    if ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    print(json.dumps({"event": "ready", "host": "127.0.0.1",
                      "port": server.getsockname()[1], "pid": os.getpid()}), flush=True)
    while True:
        conn, _ = server.accept()
        while request := conn.recv(4096):
            if b"HELLO" in request.upper():
                conn.sendall(b"%1\\r\\n+proto\\r\\n:3\\r\\n")
            elif b"PING" in request.upper():
                conn.sendall(ping_reply)
            else:
                conn.sendall(b"+OK\\r\\n")
    """
)


def fake_engine(ping_reply: str = "+PONG\r\n", ignore_sigterm: bool = False) -> list[str]:
    return [sys.executable, "-c", FAKE_ENGINE, ping_reply, "1" if ignore_sigterm else "0"]


def _assert_reaped(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_an_engine_that_answers_pong_passes_and_is_stopped() -> None:
    report = check_engine(fake_engine())
    assert report["ok"] is True, report
    assert report["error"] is None
    _assert_reaped(report["pid"])


def test_an_engine_that_ignores_sigterm_is_killed_after_the_grace_period() -> None:
    started = time.monotonic()
    report = check_engine(fake_engine(ignore_sigterm=True))
    elapsed = time.monotonic() - started
    assert report["ok"] is True, report
    assert health.STOP_GRACE_SECONDS <= elapsed < health.STOP_GRACE_SECONDS + 5
    _assert_reaped(report["pid"])


def test_an_engine_that_answers_ping_with_an_error_fails() -> None:
    report = check_engine(fake_engine("-ERR unknown command 'PING'\r\n"))
    assert report["ok"] is False
    assert report["error"].startswith("PING failed: ResponseError")


def test_an_engine_that_prints_something_else_first_fails() -> None:
    report = check_engine([sys.executable, "-c", "print('starting up...', flush=True)"])
    assert report["ok"] is False
    assert report["error"] == "the engine's first line is not JSON: b'starting up...'"


def test_a_ready_event_without_a_port_fails() -> None:
    line = json.dumps({"event": "ready", "host": "127.0.0.1"})
    report = check_engine([sys.executable, "-c", f"print({line!r}, flush=True)"])
    assert report["ok"] is False
    assert "lacks a host and a port" in report["error"]


def test_an_engine_that_crashes_at_start_reports_its_last_error_line() -> None:
    code = "import sys; sys.stderr.write('Traceback...\\nImportError: no lupa\\n'); sys.exit(1)"
    report = check_engine([sys.executable, "-c", code])
    assert report["ok"] is False
    assert report["error"] == "the engine exited with status 1 before it was ready: ImportError: no lupa"


def test_an_engine_that_never_gets_ready_times_out() -> None:
    report = check_engine([sys.executable, "-c", "import time; time.sleep(60)"], ready_timeout=0.5)
    assert report["ok"] is False
    assert report["error"] == "the engine did not announce it was ready within 0.5 s"


def test_a_missing_interpreter_is_reported(tmp_path: Path) -> None:
    report = check_engine([str(tmp_path / "no-python")])
    assert report["ok"] is False
    assert report["error"].startswith("cannot start the engine:")


# --- the cache --------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_cache_keeps_a_result_for_its_lifetime_including_a_failure() -> None:
    clock = FakeClock()
    runs: list[int] = []

    def failing_check() -> dict[str, object]:
        runs.append(1)
        return {"ok": False, "error": f"failure {len(runs)}"}

    cache = CachedCheck(failing_check, clock=clock)
    assert cache.get(ttl=30) == {"ok": False, "error": "failure 1", "cached": False}
    clock.now += 29.9
    assert cache.get(ttl=30) == {"ok": False, "error": "failure 1", "cached": True}
    clock.now += 0.1
    assert cache.get(ttl=30) == {"ok": False, "error": "failure 2", "cached": False}
    assert len(runs) == 2


class HttpsRedirectTests(WebTestCase):
    @override_settings(SECURE_SSL_REDIRECT=True)
    def test_pages_redirect_to_https_but_healthz_answers_plain_http_probes(self) -> None:
        engine_check.clear()
        self.addCleanup(engine_check.clear)
        fine = CachedCheck(lambda: {"ok": True, "error": None})
        self.assertEqual(self.client.get("/").status_code, 301)
        with mock.patch("memorydb_lab.views.engine_check", fine):
            response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 200)
        self.assertIs(response.json()["ok"], True)

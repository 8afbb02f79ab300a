"""scripts/classroom end to end, against Debian's real PostgreSQL, Redis, nginx and
supervisor, on free loopback ports (one classroom for the directory, conftest.py).

The tests run in file order on the same classroom: each leaves it up and answering,
and the last one brings it down and checks by pid that nothing it started is left.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .conftest import PROJECT, Classroom, alive, engine_pids_under, free_port

SERVICES = ["postgres", "redis", "daphne0", "nginx"]


def get(url: str, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def healthz_ok_within(room: Classroom, seconds: float) -> dict:
    """/healthz through nginx until it says ok (each attempt bounded), or fail."""
    deadline, last = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        try:
            status, _, body = get(room.url + "/healthz", timeout=5)
            last = json.loads(body) if status == 200 else f"status {status}"
            if isinstance(last, dict) and last["ok"]:
                return last
        except (OSError, ValueError) as exc:
            last = repr(exc)
        time.sleep(0.3)
    pytest.fail(f"/healthz not ok within {seconds} s: {last}")


def test_status_is_one_json_object_with_the_url_the_logs_and_every_service(classroom: Classroom) -> None:
    report = classroom.status()
    assert report["url"] == classroom.url + "/"
    assert Path(report["logs"]) == classroom.state / "logs"
    assert [s["name"] for s in report["services"]] == SERVICES
    for service in report["services"]:
        assert service["state"] == "RUNNING", report
        assert alive(service["pid"]), service
    logs = {p.name for p in Path(report["logs"]).iterdir()}
    assert {"postgres.log", "redis.log", "daphne.log", "nginx-access.log", "supervisord.log"} <= logs
    # Nothing of the classroom listens beyond loopback.
    listening = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True).stdout
    for port in classroom.ports.values():
        addresses = re.findall(rf"(\S+):{port}\s", listening)
        assert addresses and set(addresses) == {"127.0.0.1"}, (port, addresses)


def test_nginx_serves_pages_from_daphne_and_static_files_itself(classroom: Classroom) -> None:
    status, headers, body = get(classroom.url + "/")
    assert status == 200 and headers["Server"] == "nginx"
    css = re.search(rb'/static/[^"]+\.css', body)
    assert css, "the home page links no stylesheet"
    status, headers, _ = get(classroom.url + css.group().decode())
    assert status == 200
    assert headers.get("Cache-Control") == "public, max-age=31536000, immutable"  # nginx's location, not whitenoise
    daphne_log = (classroom.state / "logs" / "daphne.log").read_text()
    assert css.group().decode() not in daphne_log, "the static file went through daphne"
    # Static files readable by nginx's worker; the site's secrets still owner-only.
    assert stat.S_IMODE((classroom.state / "site.env").stat().st_mode) == 0o600
    assert stat.S_IMODE((classroom.state / "secrets.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((classroom.state / "site").stat().st_mode) == 0o700


def test_healthz_through_nginx_reports_the_database_and_a_redis_channel_layer(classroom: Classroom) -> None:
    body = healthz_ok_within(classroom, 30)
    assert body["database"] == {"ok": True, "error": None}
    assert body["channel_layer"] == {"ok": True, "error": None}
    classroom.manage("shell", "-c",
                     "from django.conf import settings as s; "
                     "assert s.DATABASES['default']['ENGINE'].endswith('postgresql'); "
                     "assert 'Redis' in s.CHANNEL_LAYERS['default']['BACKEND']; "
                     "assert s.TRUSTED_PROXIES == ['127.0.0.1']")


def test_a_sandbox_starts_and_answers_a_console_set_over_a_websocket_through_nginx(
    classroom: Classroom,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"],
        )
        try:
            page = browser.new_page()
            page.goto(classroom.url + "/sandbox/")
            expect(page.locator("#sandbox")).to_have_attribute("data-state", "running", timeout=60_000)
            page.locator("#console-input").fill("SET classroom:greeting hello")
            page.locator("#console-input").press("Enter")
            expect(page.locator("#console-output")).to_contain_text("OK", timeout=15_000)
        finally:
            browser.close()
    access = (classroom.state / "logs" / "nginx-access.log").read_text()
    assert re.search(r'"GET /ws/\S* HTTP/1.1" 101 ', access), "no websocket upgrade went through nginx"
    assert engine_pids_under(classroom.state / "site"), "no sandbox engine process runs"


def test_a_sigkilled_daphne_is_restarted_by_supervisord_and_the_site_answers_again(
    classroom: Classroom,
) -> None:
    before = classroom.service("daphne0")["pid"]
    os.kill(before, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        after = classroom.service("daphne0")
        if after["state"] == "RUNNING" and after["pid"] not in (None, before):
            break
        time.sleep(0.3)
    assert after["pid"] != before and after["state"] == "RUNNING", after
    healthz_ok_within(classroom, 30)
    assert get(classroom.url + "/")[0] == 200


def test_postgres_and_redis_restarts_lose_no_saved_user_and_the_site_recovers(
    classroom: Classroom,
) -> None:
    classroom.manage("shell", "-c",
                     "from django.contrib.auth.models import User; "
                     "User.objects.create_user('ada', 'ada@example.org', 'a long enough secret')")
    for name in ("postgres", "redis"):
        before = classroom.service(name)["pid"]
        done = subprocess.run(["supervisorctl", "-c", str(classroom.state / "supervisord.conf"),
                               "restart", name], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        assert classroom.service(name)["pid"] != before
        started = time.monotonic()
        healthz_ok_within(classroom, 20)  # database and channel layer both answer again
        assert time.monotonic() - started < 20
    out = classroom.manage("shell", "-c",
                           "from django.contrib.auth.models import User; "
                           "print(User.objects.get(username='ada').check_password('a long enough secret'))")
    assert out.strip().splitlines()[-1] == "True"


def test_up_again_on_a_running_classroom_restarts_nothing(classroom: Classroom) -> None:
    before = {s["name"]: s["pid"] for s in classroom.status()["services"]}
    done = classroom.up()
    assert done.returncode == 0, done.stderr
    after = {s["name"]: s["pid"] for s in classroom.status()["services"]}
    assert after == before


def test_up_refuses_a_bad_setting_naming_it(classroom: Classroom) -> None:
    env_file = classroom.state / "site.env"
    original = env_file.read_text()
    env_file.write_text(original + "MEMORYDB_LAB_SANDBOX_MAX_RUNNING=many\n")
    try:
        done = classroom.up()
    finally:
        env_file.write_text(original)
    assert done.returncode == 1
    assert "MEMORYDB_LAB_SANDBOX_MAX_RUNNING" in done.stderr and "site.env" in done.stderr, done.stderr
    assert classroom.service("daphne0")["state"] == "RUNNING"  # the running site is untouched


def test_up_refuses_a_port_already_taken_and_starts_nothing() -> None:
    state = Path(tempfile.mkdtemp(prefix="classroom-taken-"))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        room = Classroom(state, {"port": taken, "daphne_port": free_port(),
                                 "postgres_port": free_port(), "redis_port": free_port()})
        done = room.up()
    assert done.returncode == 1
    assert f"port {taken}" in done.stderr and "--port" in done.stderr, done.stderr
    assert not (state / "run" / "supervisord.pid").exists()
    assert room.status()["supervisord"]["state"] == "STOPPED"
    shutil.rmtree(state)


def test_up_refuses_a_second_worker_while_sandboxes_live_inside_daphne() -> None:
    state = Path(tempfile.mkdtemp(prefix="classroom-workers-"))
    try:
        done = Classroom(state, {}).run("up", "--workers", "2")
        assert done.returncode == 1
        assert "--workers 2 is refused" in done.stderr and "sandbox" in done.stderr, done.stderr
        assert not (state / "run").exists()  # refused before anything was made
    finally:
        shutil.rmtree(state)


def test_up_names_a_package_apt_cannot_install_and_what_to_do() -> None:
    spec = importlib.util.spec_from_file_location("classroom_cli", PROJECT / "deploy" / "classroom.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    cli.PACKAGES = {**cli.PACKAGES, "memorydb-lab-no-such-package": "/nonexistent/memorydb-lab"}
    with pytest.raises(cli.Refused) as refused:
        cli.ensure_packages()
    message = str(refused.value)
    assert "memorydb-lab-no-such-package" in message and "apt-get install" in message, message


def test_backup_writes_a_dump_pg_restore_reads_and_the_sandboxes_durable_files(
    classroom: Classroom, tmp_path: Path
) -> None:
    done = classroom.run("backup", str(tmp_path))
    assert done.returncode == 0, done.stderr
    folder = Path(done.stdout.strip().rsplit(" ", 1)[1])
    assert folder.parent == tmp_path
    listing = subprocess.run(["pg_restore", "--list", str(folder / "site.dump")],
                             capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0, listing.stderr
    assert "TABLE DATA public auth_user" in listing.stdout
    copied = [p for p in (folder / "sandboxes").rglob("*") if p.is_file()]
    assert copied, "the sandboxes' journals and snapshots were not copied"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_down_stops_everything_it_started_and_nothing_else(classroom: Classroom) -> None:
    report = classroom.status()
    started = [s["pid"] for s in report["services"]] + [report["supervisord"]["pid"]]
    engines = engine_pids_under(classroom.state / "site")
    bystander = subprocess.Popen(["sleep", "60"])  # not the classroom's: must survive
    try:
        done = classroom.run("down", timeout=120)
        assert done.returncode == 0, done.stderr
        assert [p for p in started + engines if alive(p)] == []
        assert bystander.poll() is None
        assert {s["state"] for s in classroom.status()["services"]} == {"STOPPED"}
    finally:
        bystander.kill()
        bystander.wait()

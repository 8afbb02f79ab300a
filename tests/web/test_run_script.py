"""The first command of README.md, ``./scripts/run``, really sets up and serves the site.

It runs the script as a user would (with its own data directory and port, so the
developer's database is untouched), waits for daphne to answer, and reads pages
that need every setup step: migrations (the home page reads the course), the
loaded content (a lesson), collected static files (served by whitenoise) and the
engine (``/healthz`` starts a real node).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_test() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_scripts_run_sets_up_and_serves_the_site(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORYDB_LAB_")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(MEMORYDB_LAB_DATA_DIR=str(tmp_path / "data"), MEMORYDB_LAB_PORT=str(port),
               MEMORYDB_LAB_HOST="127.0.0.1")
    log = (tmp_path / "run.log").open("w+")
    proc = subprocess.Popen([str(ROOT / "scripts" / "run")], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, preexec_fn=_die_with_test)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, f"scripts/run exited with {proc.returncode}:\n{Path(log.name).read_text()}"
            try:
                status, body = _get(base + "/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, "the site never answered:\n" + Path(log.name).read_text()
                time.sleep(0.5)

        health = json.loads(body)
        assert status == 200 and health["ok"] is True, health
        assert (tmp_path / "data" / "db.sqlite3").exists()

        status, home = _get(base + "/")
        assert status == 200 and "MemoryDB" in home

        status, page = _get(base + "/learn/")
        assert status == 200
        lesson_links = [part.split('"', 1)[0] for part in page.split('href="/learn/')[1:]]
        lessons = [link for link in lesson_links if link.count("/") >= 2]
        assert lessons, "the learning path lists no lesson: was the course loaded?"
        lesson = lessons[0]
        status, lesson_page = _get(f"{base}/learn/{lesson}")
        assert status == 200 and "<article" in lesson_page

        status, plotly = _get(base + "/static/vendor/plotly/plotly.min.js")
        assert status == 200 and "plotly" in plotly[:2000].lower()

        output = Path(log.name).read_text()
        for step in ("Migrating the database", "Loading the course content", "Collecting static files",
                     f"Serving MemoryDB Lab on http://127.0.0.1:{port}/"):
            assert step in output, output
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()

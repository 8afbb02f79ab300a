"""The ASGI application daphne serves: HTTP reaches Django, websockets are guarded."""

from __future__ import annotations

from typing import Any

from channels.testing import HttpCommunicator, WebsocketCommunicator


async def test_http_requests_reach_django_with_the_security_headers(application: Any) -> None:
    communicator = HttpCommunicator(application, "GET", "/", headers=[(b"host", b"localhost")])
    response = await communicator.get_response(timeout=10)
    assert response["status"] == 200
    headers = dict(response["headers"])
    assert b"script-src 'self'" in headers[b"Content-Security-Policy"]
    assert b"MemoryDB" in response["body"]


async def test_a_websocket_opened_by_another_site_is_refused(application: Any) -> None:
    communicator = WebsocketCommunicator(
        application, "/ws/anything/", headers=[(b"origin", b"https://evil.example")]
    )
    try:
        connected, _ = await communicator.connect(timeout=5)
        assert connected is False
    finally:
        await communicator.disconnect()


def test_the_first_request_of_any_kind_starts_the_sandbox_manager(tmp_path: Any) -> None:
    """Daphne has no start-up hook: the manager starts with the first request, so a
    restarted site stops what its previous run left even if nobody opens a sandbox
    page (here a monitor's /healthz is the only request)."""
    import subprocess
    import sys
    import time
    import urllib.request

    from sandbox.testing import PROJECT_ROOT, LiveSite, engine_pids_under

    site = LiveSite(tmp_path, load_content=False).start()
    root = tmp_path / "sandboxes"
    leftover = subprocess.Popen(
        [sys.executable, "-m", "sandbox.engine", "node", "--mode", "cache", "--shard", "0", "--zone", "az-a",
         "--port", "0", "--dir", str(root / ("ab" * 16) / "cache" / "nodes" / "old")],
        cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while engine_pids_under(root) != [leftover.pid]:
            assert time.monotonic() < deadline, "the planted engine process never started"
            time.sleep(0.05)
        time.sleep(1.0)
        assert leftover.poll() is None  # no request yet: nothing has looked for leftovers

        with urllib.request.urlopen(site.url + "/healthz", timeout=30) as response:
            assert response.status == 200
        leftover.wait(timeout=15)  # stopped by the manager's start-up reconciliation
        assert leftover.pid not in engine_pids_under(root)
    finally:
        if leftover.poll() is None:
            leftover.kill()
            leftover.wait()
        site.stop()

"""The ASGI application daphne serves: HTTP reaches Django, websockets are guarded."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from channels.testing import HttpCommunicator, WebsocketCommunicator


@pytest.fixture
def application() -> Any:
    # Imported when the test runs, not at collection: importing builds the
    # middleware, which must see the test settings of tests/conftest.py.
    return importlib.import_module("memorydb_lab.asgi").application


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

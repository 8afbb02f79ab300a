"""The site-side checks of /healthz beside the engine's (sandbox.health): the channel
layer and the worker that answered.

The channel layer check is a real round trip: a message sent to a fresh channel of
this process and received back. With ``channels_redis`` (a classroom host) that goes
through Redis and back, so a stopped or unreachable Redis shows here; with the
in-memory layer (a laptop) it proves the layer is configured.

Invariants: a check never raises (a failure is ``{"ok": False, "error": ...}``) and
never waits longer than ``CHANNEL_TIMEOUT_SECONDS``, so a hung Redis cannot hold a
monitor's request, or a worker thread, for long.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

CHANNEL_TIMEOUT_SECONDS = 3.0


def check_channel_layer() -> dict[str, Any]:
    """Send one message to this process's own channel and read it back."""
    started = time.monotonic()
    layer = get_channel_layer()
    report: dict[str, Any] = {"ok": False, "error": None, "backend": type(layer).__name__}
    try:
        async_to_sync(_round_trip)(layer)
        report["ok"] = True
    except Exception as exc:  # any layer error means "down", with its text
        report["error"] = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    report["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
    return report


async def _round_trip(layer: Any) -> None:
    if layer is None:
        raise RuntimeError("no channel layer is configured")
    channel = await layer.new_channel("healthz.")
    nonce = os.urandom(8).hex()
    async with asyncio.timeout(CHANNEL_TIMEOUT_SECONDS):
        await layer.send(channel, {"type": "healthz.ping", "nonce": nonce})
        message = await layer.receive(channel)
    if message.get("nonce") != nonce:
        raise RuntimeError(f"the layer answered another message: {message!r}")


def worker() -> dict[str, Any]:
    """Which process answered: with several workers behind a proxy, the one to read."""
    return {"pid": os.getpid(), "hostname": socket.gethostname()}

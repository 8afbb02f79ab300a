"""Site-wide views that belong to no single app: the home page and /healthz."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from memorydb_lab.health import check_channel_layer, worker
from sandbox.health import engine_check


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """What the site is and where to go next."""
    return render(request, "memorydb_lab/home.html")


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Report whether the database and the channel layer answer, and an engine node
    can run.

    Always status 200, with ``"ok": false`` and the reason when something is down.
    The page is read by people and by monitors that look at its body; a 503 would
    make a load balancer drop every worker at once when the shared database or the
    engine breaks, replacing the site (and its lessons, which need no engine) with
    the balancer's bare error page. Monitors should alert on ``"ok": false``.

    Anyone sees each check's verdict and the reason for a failure; the details (the
    probe node's pid and port, the database vendor, timings) are for staff only, as
    they help someone probing the host more than someone watching the site.
    """
    database = _check_database()
    channel_layer = check_channel_layer()
    engine = engine_check.get(ttl=settings.HEALTHZ_ENGINE_CACHE_SECONDS)
    ok = database["ok"] and channel_layer["ok"] and engine["ok"]
    if not request.user.is_staff:
        database, channel_layer, engine = _public(database), _public(channel_layer), _public(engine)
        return JsonResponse(
            {"ok": ok, "database": database, "channel_layer": channel_layer, "engine": engine}
        )
    return JsonResponse({
        "ok": ok, "database": database, "channel_layer": channel_layer, "engine": engine,
        # Which worker answered (pid and host), for an operator behind a proxy.
        "worker": worker(),
    })


def _public(report: dict[str, Any]) -> dict[str, Any]:
    """What a visitor who is not staff sees of a check: the verdict and the reason."""
    return {"ok": report["ok"], "error": report.get("error")}


def _check_database() -> dict[str, Any]:
    """Run a trivial query; never raises, a failure is reported as data."""
    started = time.monotonic()
    report: dict[str, Any] = {"ok": False, "vendor": connection.vendor, "error": None}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            row = cursor.fetchone()
        if row is not None and row[0] == 1:
            report["ok"] = True
        else:
            report["error"] = f"SELECT 1 returned {row!r}"
    except Exception as exc:  # any driver error means "down", with its text
        report["error"] = f"{type(exc).__name__}: {exc}"
    report["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
    return report

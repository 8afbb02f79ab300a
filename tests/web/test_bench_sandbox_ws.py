"""bench/sandbox_ws --json on a small run: its last line is one JSON object with
the figures the issue names (a real site, two learners, one of them active)."""

from __future__ import annotations

import json
import subprocess
import sys

from sandbox.testing import PROJECT_ROOT

FIELDS = (
    "learners", "active", "started", "start_p50_s", "start_p95_s", "event_p95_ms", "console_added_p95_ms",
    "durable_acked", "durable_lost", "durable_failed_outside_failover", "cache_lost", "cpu_busy_cores",
)  # fmt: skip


def test_its_last_line_is_the_json_summary_of_a_small_run() -> None:
    done = subprocess.run(
        [sys.executable, "bench/sandbox_ws", "--learners", "2", "--active", "1", "--seconds", "5", "--json"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(FIELDS) <= set(summary)
    assert (summary["learners"], summary["active"], summary["started"]) == (2, 1, 2)
    assert summary["durable_acked"] > 0
    assert summary["durable_lost"] == 0, "a durable primary's kill loses no acknowledged write"

"""The lesson-check service: runs a lesson's lab checks (``sandbox.checks``) against
the learner's own running sandbox and says, per lab step, pass or fail and why.

Invariants: the lesson's checks come from the database, never from the browser
(which names only the lesson); each check reads the real cluster through the
sandbox's probe client and is bounded in time (``CHECK_TIMEOUT_S``); a node that
does not answer is a failed check with a reason, not an error. The checks of the
crash experiment read the owner's own experiments (``run_check`` gets the owner).
A step's first pass is kept (``LabPass``), so progress outlives the sandbox.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sandbox import store
from sandbox.checks import run_check
from sandbox.models import CLUSTERS, LANE_LABELS
from sandbox.owners import Owner
from sandbox.protocol import ClientError
from sandbox.resp import LinkDown
from sandbox.service.lifecycle import Lifecycle

CHECK_TIMEOUT_S = 5.0


class LessonChecks:
    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle

    async def run(self, owner: Owner, lesson_slug: str) -> list[dict[str, Any]]:
        labs = await store.lesson_labs(lesson_slug)
        if labs is None:
            raise ClientError("unknown_lesson")
        live = self.lifecycle.running(owner)
        self.lifecycle.touch(owner)
        results = []
        for lab in labs:
            check = lab.get("check") or {}
            cluster = check.get("cluster", "durable")
            if cluster not in CLUSTERS:
                cluster = "durable"
            if cluster not in live.lanes:
                results.append({"id": lab.get("id"), "passed": False,
                                "detail": f"Your sandbox runs no {LANE_LABELS[cluster]} lane: turn it on first."})
                continue
            try:
                outcome = await asyncio.wait_for(run_check(live.clients.probe[cluster], check, owner), CHECK_TIMEOUT_S)
            except (LinkDown, asyncio.TimeoutError) as exc:
                outcome = {"passed": False, "detail": f"The sandbox did not answer: {exc or 'timed out'}."}
            results.append({"id": lab.get("id"), "passed": bool(outcome["passed"]), "detail": outcome["detail"]})
        passed = [str(r["id"]) for r in results if r["passed"] and r["id"]]
        if passed:
            await store.record_lab_passes(owner, lesson_slug, passed)
        return results

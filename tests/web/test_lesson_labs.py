"""Every lab of every lesson is checked against a real sandbox: for each lab, on a
sandbox reset to empty (FLUSHALL on both clusters, the learner's experiments
forgotten, killed nodes restarted), the check fails; the lab's ``solution`` (console
lines, fault buttons, the load) is performed through the learner's own websocket as
the page would; then the check passes. A console line may use ``{reply}``, the
previous console reply as the learner would copy it (a WAIT answer, ACL WHOAMI's
name, an error's text), so what is stored is what the real engine answered.

One sandbox serves every console lab, another every crash lab, to keep the time
bounded. The loader's refusals of broken labs are tested without a sandbox.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async

from quizzes.loader.fields import Fields
from quizzes.loader import DEFAULT_CONTENT_DIR
from quizzes.loader.lessons import LAB_CHECKS, _check_lab_check, _check_lab_solution, parse_modules
from quizzes.models import Lesson, Module
from sandbox.checks import CHECK_TYPES
from sandbox.manager import SandboxManager
from sandbox.models import Experiment
from sandbox.testing import Browser, running_manager, test_limits

SHAPE = {"shards": 1, "replicas": 1}


@pytest_asyncio.fixture
async def manager(tmp_path: Path) -> AsyncIterator[SandboxManager]:
    """The test limits, with a console budget that a script of a hundred labs'
    commands does not exhaust (a learner types far slower)."""
    limits = test_limits(tmp_path / "sb", commands_per_second=1000.0, command_burst=1000,
        messages_per_second=1000.0, message_burst=1000,
    )
    async with running_manager(limits) as running:
        yield running
VERDICT_WAIT_S = 90  # a crash: failover, then every write read back, on a loaded host


def lessons() -> list[Any]:
    """The course's lessons as the loader parses them (labs and all), in order."""
    problems: list[str] = []
    modules = parse_modules(DEFAULT_CONTENT_DIR, problems)
    assert problems == []
    return [lesson for module in modules for lesson in module.lessons]


def store_lessons() -> None:
    """The lessons' rows with their labs, as parsed (rendering and the rest of the
    course sync are the content loader's tests; the checks read only the labs)."""
    for number, lesson in enumerate(lessons(), start=1):
        module, _ = Module.objects.get_or_create(
            slug=lesson.module, defaults={"number": number, "title": lesson.module, "summary": "-"}
        )
        Lesson.objects.create(
            module=module, slug=lesson.slug, number=lesson.number, title=lesson.title,
            summary=lesson.summary, body_markdown=lesson.body, labs=lesson.labs,
        )


def every_lab() -> list[tuple[str, dict[str, Any]]]:
    return [(lesson.slug, lab) for lesson in lessons() for lab in lesson.labs]


def crashes(lab: dict[str, Any]) -> bool:
    return any(step.startswith("fault:") for step in lab.get("solution") or [])


def as_copied(text: str) -> str:
    """A console reply as a learner copies it: without redis-cli's (integer)/(error)
    marker and without the quotes around a string."""
    text = re.sub(r"^\((integer|error)\) ", "", text.strip())
    return text[1:-1] if len(text) > 1 and text[0] == text[-1] == '"' else text


class Learner:
    """Alice's page: runs solution steps and checks, as the lesson page does."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.last_reply = ""
        self.ids = iter(range(1, 1_000_000))
        self.lanes = ["durable", "cache"]  # the clusters the sandbox runs now

    async def console(self, line: str, cluster: str = "durable") -> str:
        reply = await self.browser.command(line.replace("{reply}", self.last_reply), cluster=cluster, id=next(self.ids))
        assert reply["type"] == "reply", (line, reply)
        self.last_reply = as_copied(reply["text"])
        return reply["text"]

    async def step(self, step: str) -> None:
        head, _, rest = step.partition(":")
        if head == "cache":
            await self.console(rest.strip(), cluster="cache")
        elif head == "fault":
            action, *pairs = rest.split()
            fields: dict[str, Any] = dict(pair.split("=", 1) for pair in pairs)
            for name in ("prediction", "prediction_async"):
                if name in fields:
                    fields[name] = int(fields[name])
            await self.browser.send({"type": "fault", "action": action, **fields})
            assert (await self.browser.expect_any(("fault", "error")))["type"] == "fault", step
            await self.browser.expect("verdict", timeout=VERDICT_WAIT_S)
        elif head == "lane":
            # The page's switch: start again with the third lane on (or off).
            on = rest.split() == ["async", "on"]
            await self.browser.send({"type": "reconfigure", **SHAPE, "async_lane": on})
            state = await self.browser.expect("state", timeout=60, where=lambda m: m["sandbox"]["state"] in (
                "running", "failed") and ("async" in m["sandbox"].get("topology", {})) == on)
            assert state["sandbox"]["state"] == "running", state
            self.lanes = ["durable", "async", "cache"] if on else ["durable", "cache"]
        elif head == "user":
            name, access = rest.split(None, 1)
            await self.browser.send({"type": "create_user", "name": name, "access": access})
            assert (await self.browser.expect_any(("user", "error")))["type"] == "user", step
        elif head == "load":
            if rest.strip() == "stop":
                await self.browser.send({"type": "load_stop"})
            else:
                await self.browser.send({"type": "load_start", "rate": int(rest)})
            await self.browser.expect("load")
        else:
            await self.console(step)

    async def check(self, lesson: str, lab_id: str) -> dict[str, Any]:
        await self.browser.send({"type": "check", "lesson": lesson})
        results = (await self.browser.expect("checks"))["results"]
        return next(r for r in results if r["id"] == lab_id)

    async def reset(self) -> None:
        """An empty sandbox: no keys, no experiments, every node running."""
        await self.browser.send({"type": "fault", "action": "restart", "target": "both"})
        restarted = await self.browser.expect_any(("fault", "error"))
        await Experiment.objects.filter(owner_user__username="alice").adelete()
        if restarted["type"] == "fault":
            await self.replicas_back()
        for cluster in self.lanes:
            assert (await self.console("FLUSHALL", cluster=cluster)) == "OK\n"

    async def replicas_back(self, timeout_s: float = 60) -> None:
        """Wait until the cache primary has its replica again (a restarted node)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while "connected_slaves:1" not in await self.console("INFO replication", cluster="cache"):
            assert loop.time() < deadline, "the restarted replica did not come back"
            await asyncio.sleep(0.5)


async def drive(application: Any, session: str, labs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Each lab: fails on an empty sandbox, passes after its solution. Returns what passed."""
    await database_sync_to_async(store_lessons)()
    passed = []
    async with Browser(application, session) as browser:
        state = await browser.start_sandbox(**SHAPE)
        assert state["sandbox"]["state"] == "running", state
        alice = Learner(browser)
        for lesson, lab in labs:
            await alice.reset()
            before = await alice.check(lesson, lab["id"])
            assert before["passed"] is False, (lesson, lab["id"], before)
            assert before["detail"], "a failed check says what it found"
            for step in lab["solution"]:
                await alice.step(step)
            after = await alice.check(lesson, lab["id"])
            assert after["passed"] is True, (lesson, lab["id"], after, alice.browser.seen[-6:])
            passed.append(lab["id"])
    return passed


def test_every_lesson_has_a_lab_and_every_lab_a_solution() -> None:
    without = [lesson.slug for lesson in lessons() if not lesson.labs]
    assert without == []
    unsolved = [lab["id"] for _, lab in every_lab() if not lab.get("solution")]
    assert unsolved == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("database_thread")
async def test_every_console_lab_fails_on_an_empty_sandbox_and_passes_after_its_solution(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    labs = [(lesson, lab) for lesson, lab in every_lab() if not crashes(lab)]
    assert len(labs) >= 20
    assert await drive(application, sessions["alice"], labs) == [lab["id"] for _, lab in labs]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("database_thread")
async def test_every_crash_lab_fails_without_the_crash_and_passes_after_it(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    labs = [(lesson, lab) for lesson, lab in every_lab() if crashes(lab)]
    assert len(labs) >= 4
    assert await drive(application, sessions["alice"], labs) == [lab["id"] for _, lab in labs]


def test_the_loader_knows_every_check_type_the_sandbox_runs() -> None:
    assert set(LAB_CHECKS) == set(CHECK_TYPES)


@pytest.mark.parametrize(
    ("lab", "problem"),
    [
        ({"check": {"type": "guess"}}, "unknown check type 'guess'"),
        ({"check": {"type": "replica_count", "key": "k"}}, "a replica_count check needs 'compare'"),
        ({"check": {"type": "replica_count", "key": "k", "compare": "more"}}, "compares 'equal' or 'less'"),
        ({"check": {"type": "same_slot", "keys": "{a}x {a}y"}}, "'keys' must be a list"),
        ({"check": {"type": "set_members", "key": "k", "members": [1], "among": [2]}}, "has no field 'among'"),
        ({"check": {"type": "ttl_between", "key": "k", "low": 900, "high": 600}}, "at most 'high'"),
        ({"check": {"type": "experiment", "cluster": "primary"}}, "'cluster' is durable, async or cache"),
        ({"check": {"type": "exists", "key": "k"}, "solution": ["lane: async maybe"]}, "lane takes 'async on' or 'async off'"),
        ({"check": {"type": "exists", "key": "k"}, "solution": "SET k 1"}, "'solution' must be a list"),
        ({"check": {"type": "exists", "key": "k"}, "solution": ["fault: kill_everything"]}, "the fault is one of"),
        ({"check": {"type": "exists", "key": "k"}, "solution": ["load: fast"]}, "load takes a rate or 'stop'"),
        ({"check": {"type": "exists", "key": "k"}, "solution": ["user: api"]}, "user takes a name and an access string"),
        ({"check": {"type": "cluster_client_as_user", "user": "api", "command": "ZADD k 1 a", "forbidden": ["KEYS"]}},
         "'command' must be a list"),
        ({"check": {"type": "cluster_client_as_user", "user": "api", "command": ["GET", "k"]}}, "needs 'forbidden'"),
    ],
)
def test_the_loader_refuses_a_broken_lab(lab: dict[str, Any], problem: str) -> None:
    problems: list[str] = []
    fields = Fields({"id": "x", "instruction": "Do it.", **lab}, "lesson.md, lab 1", problems,
                    ("id", "instruction", "check", "hint", "solution"))
    _check_lab_check(fields)
    _check_lab_solution(fields)
    assert any(problem in p for p in problems), problems


def test_the_loader_accepts_every_lab_of_the_course() -> None:
    for lesson, lab in every_lab():
        problems: list[str] = []
        fields = Fields(lab, f"{lesson}, {lab['id']}", problems, ("id", "instruction", "check", "hint", "solution"))
        _check_lab_check(fields)
        _check_lab_solution(fields)
        assert problems == [], problems


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("database_thread")
async def test_the_crash_checks_say_which_part_of_the_experiment_is_missing(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    await database_sync_to_async(store_lessons)()
    async with Browser(application, sessions["alice"]) as browser:
        await browser.start_sandbox(**SHAPE)
        alice = Learner(browser)
        await alice.step("SET lab:restored back")
        kept = await alice.check("restore-and-retention", "key-comes-back-after-crash")
        assert kept["passed"] is False and "no crash of the durable cluster" in kept["detail"]
        await alice.step("fault: kill_primary target=both")  # no prediction, no load
        assert (await alice.check("restore-and-retention", "key-comes-back-after-crash"))["passed"] is True
        predicted = await alice.check("what-a-cache-loses", "predict-cache-loss")
        assert predicted == {"id": "predict-cache-loss", "passed": False,
                             "detail": "Your crashes went without a prediction; predict before you crash."}
        await alice.reset()
        await alice.step("fault: kill_primary target=cache prediction=2")
        loaded = await alice.check("what-a-cache-loses", "predict-cache-loss")
        assert loaded["detail"] == "Your crashes ran without the write load; start it first."
        durable = await alice.check("memorydb-failover", "predict-and-crash-durable")
        assert durable["detail"] == "No kill_primary of the durable cluster has finished yet."


# A wrong answer per understanding check: (lesson, lab, console steps, the detail).
WRONG_ANSWERS = [
    ("consistency-levels", "wait-answer-in-cache-mode", ["cache: SET lab:wait-answer 0"],
     "lab:wait-answer holds 0; the primary has 1 replica(s): they differ."),
    ("replica-lag-and-reads", "catch-the-replica-behind", ["cache: SET lab:lag-answer 1"],
     "lab:lag-answer holds 1; the primary has 1 replica(s): that is every replica, not a lagging answer."),
    ("shards-and-nodes", "count-the-shards", ["SET lab:shards 3"], "lab:shards holds '3'; the cluster has 1 shard(s)."),
    ("cluster-aware-clients", "fix-crossslot", ["SET {cart:7}:a 1", "SET {cart:8}:b 2"],
     "There is no key {cart:7}:b."),
    ("acl-users", "who-am-i", ["SET lab:whoami default"], "lab:whoami holds 'default', not the name ACL WHOAMI answers."),
    ("least-privilege", "cluster-client-needs", ["SADD lab:client-needs cluster ping"],
     "The set lab:client-needs lacks command, readonly."),
    ("iam-authentication", "token-lifetime", ["SET lab:iam-token t EX 43200"],
     "lab:iam-token expires in 43200 s, outside 600..900 s."),
    ("restricted-commands", "read-config-without-config", ["SET lab:policy allkeys-lru"],
     "lab:policy holds 'allkeys-lru', not what INFO memory says of maxmemory_policy."),
    ("what-you-pay-for", "billing-dimensions",
     ["SADD lab:billing node-hours data-written snapshot-storage storage-gb-month"],
     "The set lab:billing also holds storage-gb-month, which do not belong."),
    ("porting-checklist", "record-the-crossslot-error", ["SET lab:port-error MOVED"],
     "lab:port-error holds 'MOVED', which does not start with 'CROSSSLOT'."),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("database_thread")
async def test_a_wrong_answer_fails_and_the_check_says_what_it_found(
    application: Any, sessions: dict[str, str], manager: SandboxManager
) -> None:
    await database_sync_to_async(store_lessons)()
    async with Browser(application, sessions["alice"]) as browser:
        await browser.start_sandbox(**SHAPE)
        alice = Learner(browser)
        for lesson, lab_id, steps, detail in WRONG_ANSWERS:
            await alice.reset()
            for step in steps:
                await alice.step(step)
            assert await alice.check(lesson, lab_id) == {"id": lab_id, "passed": False, "detail": detail}

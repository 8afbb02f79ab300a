"""Parses the lessons: a folder ``lessons/NN-module/`` per module with its
``module.yaml``, and in it one ``NN-slug.md`` per lesson, YAML front matter (title,
summary, minutes, topics, labs) between ``---`` lines, then Markdown.

Invariants: numbers come from the file names (``NN-``) and are unique within their
folder; a module's ``order``, when given, must agree with its folder's number; a
lesson without front matter or without text is refused, not loaded half-empty.
A lab's check must be a type the sandbox runs (``LAB_CHECKS``), with the fields
that type needs and no others; its optional ``solution`` (the steps the tests
perform) must be console lines, ``cache:``, ``fault:``, ``load:`` or ``user:`` steps.
Lesson slugs and lab ids unique across the course are checked in ``parse``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from quizzes.loader.fields import NUMBERED, YAML_LOADER, Fields, duplicates, read_yaml
from quizzes.loader.records import ParsedLesson, ParsedModule


def parse_modules(root: Path, problems: list[str]) -> list[ParsedModule]:
    """Every module folder under ``lessons/``, each with its lessons in file order."""
    modules = []
    folders = sorted(p for p in (root / "lessons").glob("*") if p.is_dir())
    if not folders:
        problems.append("lessons/: no module folders")
    for folder in folders:
        match = NUMBERED.fullmatch(folder.name)
        where = f"lessons/{folder.name}"
        if match is None:
            problems.append(f"{where}: a module folder is named NN-slug")
            continue
        number, slug = int(match.group(1)), match.group(2)
        f = Fields(
            read_yaml(folder / "module.yaml", root, problems) or {},
            f"{where}/module.yaml",
            problems,
            ("title", "summary", "order"),
        )
        order = f.integer("order", 0, 999, required=False)
        if order is not None and order != number:
            f.problem(f"'order' {order} differs from the folder's number {number}")
        module = ParsedModule(slug, number, f.text("title"), f.text("summary"))
        for path in sorted(folder.glob("*.md")):
            lesson = _parse_lesson(path, root, module, problems)
            if lesson is not None:
                module.lessons.append(lesson)
        if not module.lessons:
            problems.append(f"{where}: no lessons")
        for n in duplicates(str(lesson.number) for lesson in module.lessons):
            problems.append(f"{where}: two lessons are numbered {n}")
        modules.append(module)
    for n in duplicates(str(module.number) for module in modules):
        problems.append(f"lessons/: two modules are numbered {n}")
    for slug in duplicates(module.slug for module in modules):
        problems.append(f"lessons/: duplicate module slug {slug!r}")
    return modules


def _parse_lesson(
    path: Path, root: Path, module: ParsedModule, problems: list[str]
) -> ParsedLesson | None:
    where = str(path.relative_to(root))
    match = NUMBERED.fullmatch(path.stem)
    if match is None:
        problems.append(f"{where}: a lesson file is named NN-slug.md")
        return None
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n") or "\n---\n" not in text[4:]:
        problems.append(f"{where}: must start with YAML front matter between --- lines")
        return None
    front, body = text[4:].split("\n---\n", 1)
    try:
        meta = yaml.load(front, Loader=YAML_LOADER)
    except yaml.YAMLError as exc:
        problems.append(f"{where}: front matter is not valid YAML: {exc}")
        return None
    f = Fields(meta, where, problems, ("slug", "title", "summary", "minutes", "topics", "labs"))
    labs = f.data.get("labs") or []
    if not isinstance(labs, list):
        f.problem("'labs' must be a list")
        labs = []
    for number, lab in enumerate(labs, start=1):
        lab_fields = Fields(
            lab, f"{where}, lab {number}", problems, ("id", "instruction", "check", "hint", "solution")
        )
        lab_fields.slug("id")
        lab_fields.text("instruction")
        lab_fields.text("hint", required=False)
        _check_lab_check(lab_fields)
        _check_lab_solution(lab_fields)
    if not body.strip():
        f.problem("the lesson has no text")
    return ParsedLesson(
        slug=f.slug("slug"),
        module=module.slug,
        number=int(match.group(1)),
        title=f.text("title"),
        summary=f.text("summary"),
        minutes=f.integer("minutes", 1, 120) or 5,
        topics=f.topics(),
        body=body,
        labs=[dict(lab) for lab in labs if isinstance(lab, Mapping)],
        path=where,
    )


# Each lab check type (sandbox.checks) with the fields it needs and the ones it may
# have; a test keeps this table and sandbox.checks.CHECK_TYPES the same.
LAB_CHECKS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "exists": (("key",), ()),
    "string_equals": (("key", "value"), ()),
    "hash_field": (("key", "field"), ()),
    "zset": (("key",), ("min_members",)),
    "counter_at_least": (("key", "value"), ()),
    "stream_group": (("key", "group"), ()),
    "text_prefix": (("key", "prefix"), ()),
    "set_members": (("key", "members"), ("exact",)),
    "ttl_between": (("key", "low", "high"), ()),
    "replica_count": (("key", "compare"), ()),
    "shard_count": (("key",), ()),
    "acl_whoami": (("key",), ()),
    "info_field": (("key", "section", "field"), ()),
    "same_slot": (("keys",), ("values",)),
    "experiment": ((), ("fault", "prediction", "load")),
    "survived_crash": (("key", "value"), ()),
    "cluster_client_as_user": (("user", "command", "forbidden"), ("read",)),
    "stale_replica_read": (("key", "probe"), ()),
}
# What a solution line may start with besides a durable console line.
SOLUTION_FAULTS = ("kill_primary", "kill_zone", "kill_replica", "restart")


def _check_lab_check(lab: Fields) -> None:
    """A known check type with exactly its fields (plus the cluster it reads)."""
    check = lab.data.get("check")
    if not isinstance(check, Mapping) or not isinstance(check.get("type"), str):
        lab.problem("'check' must be a mapping with a 'type'")
        return
    kind = check["type"]
    if kind not in LAB_CHECKS:
        lab.problem(f"unknown check type {kind!r} (known: {', '.join(LAB_CHECKS)})")
        return
    required, optional = LAB_CHECKS[kind]
    for name in required:
        if check.get(name) in (None, "", []):
            lab.problem(f"a {kind} check needs {name!r}")
    for name in sorted(set(check) - {"type", "cluster", *required, *optional}):
        lab.problem(f"a {kind} check has no field {name!r}")
    if check.get("cluster", "durable") not in ("durable", "async", "cache"):
        lab.problem("'cluster' is durable, async or cache")
    if kind == "replica_count" and check.get("compare") not in ("equal", "less"):
        lab.problem("a replica_count check compares 'equal' or 'less'")
    listed = {"set_members": ("members",), "same_slot": ("keys",),
              "cluster_client_as_user": ("command", "forbidden", "read")}.get(kind, ())
    for name in listed:
        if name in check and not isinstance(check[name], list):
            lab.problem(f"{name!r} must be a list")
    if kind == "ttl_between" and not 0 <= int(check.get("low") or 0) <= int(check.get("high") or 0):
        lab.problem("'low' must be 0 or more and at most 'high'")


def _check_lab_solution(lab: Fields) -> None:
    """The steps that pass the lab (the tests perform them): console lines, a
    ``cache:`` prefix for the cache cluster, ``fault: <action> [target=...]
    [prediction=N]`` for a fault button, ``load: <rate>|stop`` for the load and
    ``user: <name> <access string>`` for the form that creates a user, ``lane: async
    on|off`` for the third lane's switch."""
    steps = lab.data.get("solution")
    if steps is None:
        return
    if not isinstance(steps, list) or not steps or not all(isinstance(s, str) and s.strip() for s in steps):
        lab.problem("'solution' must be a list of non-empty lines")
        return
    for step in steps:
        head, _, rest = step.partition(":")
        if head == "fault" and rest.split()[:1] and rest.split()[0] not in SOLUTION_FAULTS:
            lab.problem(f"solution step {step!r}: the fault is one of {', '.join(SOLUTION_FAULTS)}")
        if head == "load" and not (rest.strip() == "stop" or rest.strip().isdigit()):
            lab.problem(f"solution step {step!r}: load takes a rate or 'stop'")
        if head == "lane" and rest.split() not in (["async", "on"], ["async", "off"]):
            lab.problem(f"solution step {step!r}: lane takes 'async on' or 'async off'")
        if head == "user" and len(rest.split()) < 2:
            lab.problem(f"solution step {step!r}: user takes a name and an access string")

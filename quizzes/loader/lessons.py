"""Parses the lessons: a folder ``lessons/NN-module/`` per module with its
``module.yaml``, and in it one ``NN-slug.md`` per lesson, YAML front matter (title,
summary, minutes, topics, labs) between ``---`` lines, then Markdown.

Invariants: numbers come from the file names (``NN-``) and are unique within their
folder; a module's ``order``, when given, must agree with its folder's number; a
lesson without front matter or without text is refused, not loaded half-empty.
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
            lab, f"{where}, lab {number}", problems, ("id", "instruction", "check", "hint")
        )
        lab_fields.slug("id")
        lab_fields.text("instruction")
        lab_fields.text("hint", required=False)
        check = lab_fields.data.get("check")
        if not isinstance(check, Mapping) or not isinstance(check.get("type"), str):
            lab_fields.problem("'check' must be a mapping with a 'type'")
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

"""Step 1 of loading: read every content file into plain records and check each field.

``parse_course`` reads each kind of file with its own parser (``facts`` for facts and
diagrams, ``lessons`` for modules and lessons, ``questions`` for questions, choices,
misconceptions and quizzes, all built on the checks of ``fields``), then checks the
references between files here, once every file is read.

Nothing here touches the database. Problems are collected, each naming its file and
entry, and raised together as one ``ContentError``: a ``Course`` is returned only
when there are none.
"""

from __future__ import annotations

from pathlib import Path

from quizzes.loader.capstone import check_capstones, parse_capstones
from quizzes.loader.facts import parse_diagrams, parse_facts
from quizzes.loader.fields import TOPICS, duplicates
from quizzes.loader.lessons import parse_modules
from quizzes.loader.questions import (
    check_misconceptions,
    parse_misconceptions,
    parse_questions,
    parse_quizzes,
)
from quizzes.loader.records import Course
from quizzes.rendering import ContentError

__all__ = ["DEFAULT_CONTENT_DIR", "TOPICS", "Course", "parse_course"]

DEFAULT_CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"


def parse_course(root: Path) -> Course:
    """Read and check every file; raise ContentError listing all problems."""
    problems: list[str] = []
    if not root.is_dir():
        raise ContentError([f"{root}: no such content folder"])
    course = Course(
        facts=parse_facts(root, problems),
        modules=parse_modules(root, problems),
        questions=parse_questions(root, problems),
        quizzes=parse_quizzes(root, problems),
        diagrams=parse_diagrams(root, problems),
        misconceptions=parse_misconceptions(root, problems),
        capstones=parse_capstones(root, problems),
    )
    _check_references(course, problems)
    if problems:
        raise ContentError(problems)
    return course


def _check_references(course: Course, problems: list[str]) -> None:
    """Ids unique across files, and every reference names something that exists."""
    lessons = {lesson.slug for lesson in course.lessons}
    for slug in duplicates(lesson.slug for lesson in course.lessons):
        problems.append(f"lessons/: duplicate lesson slug {slug!r}")
    lab_ids = [str(lab.get("id")) for lesson in course.lessons for lab in lesson.labs]
    for lab in duplicates(lab_ids):
        problems.append(f"lessons/: duplicate lab id {lab!r}")
    facts = {fact["slug"] for fact in course.facts}
    questions = {question.slug for question in course.questions}
    modules = {module.slug for module in course.modules}
    for question in course.questions:
        if question.lesson and question.lesson not in lessons:
            problems.append(f"{question.where}: 'lesson' {question.lesson!r} is not a lesson")
        for fact in question.facts:
            if fact not in facts:
                problems.append(f"{question.where}: fact {fact!r} is not in facts.yaml")
    check_misconceptions(course, lessons, problems)
    check_capstones(course, problems)
    for quiz in course.quizzes:
        where = f"quizzes.yaml, quiz {quiz.slug}"
        if quiz.module is not None and quiz.module not in modules:
            problems.append(
                f"{where}: 'module' {quiz.module!r} is not a module folder (NN-{quiz.module})"
            )
        for slug in quiz.questions:
            if slug not in questions:
                problems.append(f"{where}: question {slug!r} does not exist")

"""The real course, loaded into the test database without re-rendering it each time.

Parsing and rendering the content files is the slow part of ``load_content`` and
needs no database, so it is done once per test run and cached; each test class (or
e2e test, after a flush) then only syncs the rows.
"""

from __future__ import annotations

from functools import cache

from quizzes.loader import DEFAULT_CONTENT_DIR, parse_course
from quizzes.loader.render import RenderedCourse, render_course
from quizzes.loader.sync import sync_course
from quizzes.loader.parse import Course


@cache
def parsed_course() -> tuple[Course, RenderedCourse]:
    course = parse_course(DEFAULT_CONTENT_DIR)
    return course, render_course(course)


def load_course() -> None:
    course, rendered = parsed_course()
    sync_course(course, rendered)

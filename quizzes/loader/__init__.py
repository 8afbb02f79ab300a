"""Loads the course from ``quizzes/content/`` into the database.

The files are the source of truth, reviewable in a diff::

    facts.yaml                      sourced, dated facts
    lessons/<NN-module>/module.yaml a module: title, summary, order
    lessons/<NN-module>/<NN-lesson>.md
                                    a lesson: YAML front matter, then Markdown
    questions/*.yaml                interview and quiz questions
    quizzes.yaml                    quizzes; the first one is open to visitors
    misconceptions.yaml             wrong beliefs that wrong choices are tagged with
                                    (``misconception: <id>``), and the lesson that
                                    corrects each
    capstone.yaml                   interview design prompts with rubrics
    diagrams/<name>.svg             pictures lessons show as ![alt](diagram:name)

``load_content()`` works in three steps, and writes only if the first two succeed:

1. **parse** every file into plain records, checking each field;
2. **render** all Markdown (``quizzes.rendering``), which checks every reference:
   ``[[lesson:]]``, ``[[question:]]``, ``{{fact:}}`` and ``diagram:`` links;
3. **sync** the database in one transaction: rows are matched on their natural
   keys (fact id, lesson slug, ...), created, updated only where a field changed,
   and removed when their file entry is gone. Questions are retired instead of
   removed, since learners' answers point at them.

Every problem found in steps 1 and 2 is collected and raised together as one
``ContentError``, so a writer sees all of them in one run. Re-running with unchanged
files writes nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

from quizzes.loader.parse import DEFAULT_CONTENT_DIR, TOPICS, Course, parse_course
from quizzes.loader.render import index_from_database, render_course
from quizzes.loader.sync import LoadReport, sync_course
from quizzes.rendering import ContentError

__all__ = [
    "DEFAULT_CONTENT_DIR",
    "TOPICS",
    "ContentError",
    "Course",
    "LoadReport",
    "index_from_database",
    "load_content",
    "parse_course",
]


def load_content(root: Path = DEFAULT_CONTENT_DIR) -> LoadReport:
    """Parse, render and store the course; raise ContentError and write nothing on any
    problem."""
    started = time.monotonic()
    course = parse_course(root)
    rendered = render_course(course)
    changes = sync_course(course, rendered)
    return LoadReport(
        counts={
            "facts": len(course.facts),
            "modules": len(course.modules),
            "lessons": len(course.lessons),
            "questions": len(course.questions),
            "quizzes": len(course.quizzes),
            "diagrams": len(course.diagrams),
            "misconceptions": len(course.misconceptions),
            "capstone prompts": len(course.capstones),
        },
        changes=changes,
        seconds=time.monotonic() - started,
    )

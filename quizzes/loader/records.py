"""The plain records step 1 of loading produces, one per content entry.

While files are read a record may hold a stand-in for a bad field ("" or a
default), with the problem recorded; ``quizzes.loader.parse`` hands on a ``Course``
only when no problem was found, every field checked and every cross-reference
(lesson, facts, questions, misconception tags) resolved. Render and sync take it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ParsedLesson:
    slug: str
    module: str
    number: int
    title: str
    summary: str
    minutes: int
    topics: list[str]
    body: str
    labs: list[dict[str, Any]]
    path: str


@dataclass
class ParsedModule:
    slug: str
    number: int
    title: str
    summary: str
    lessons: list[ParsedLesson] = field(default_factory=list)


@dataclass
class ParsedQuestion:
    slug: str
    kind: str
    topics: list[str]
    difficulty: int
    prompt: str
    model_answer: str
    follow_up: str
    follow_up_answer: str
    explanation: str
    lesson: str
    facts: list[str]
    material_focus: int | None
    corrects_material: bool
    choices: list[dict[str, Any]]
    where: str
    # A number worth remembering, offered as a review card (``anchor: true``).
    anchor: bool = False
    # {"parameters", "answer", "values"} for a parameterized question, else {}.
    variants: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParsedMisconception:
    slug: str
    title: str
    statement: str
    lesson: str


@dataclass
class ParsedQuiz:
    slug: str
    title: str
    module: str | None
    mode: str
    questions: list[str]


@dataclass
class ParsedCapstone:
    slug: str
    title: str
    scenario: str
    requirements: list[str]
    model_answer: str
    rubric: list[dict[str, Any]]
    follow_ups: list[dict[str, str]]
    questions: list[str]
    where: str


@dataclass
class ParsedDiagram:
    name: str
    svg: str
    width: int
    height: int
    digest: str


@dataclass
class Course:
    facts: list[dict[str, Any]] = field(default_factory=list)
    modules: list[ParsedModule] = field(default_factory=list)
    questions: list[ParsedQuestion] = field(default_factory=list)
    quizzes: list[ParsedQuiz] = field(default_factory=list)
    diagrams: list[ParsedDiagram] = field(default_factory=list)
    misconceptions: list[ParsedMisconception] = field(default_factory=list)
    capstones: list[ParsedCapstone] = field(default_factory=list)

    @property
    def lessons(self) -> list[ParsedLesson]:
        return [lesson for module in self.modules for lesson in module.lessons]

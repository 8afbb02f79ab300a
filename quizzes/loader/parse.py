"""Step 1 of loading: read every content file into plain records and check each field.

Nothing here touches the database. Problems are collected, each naming its file and
entry, and raised together as one ``ContentError``.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as etree
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from quizzes.models import Question, Quiz
from quizzes.rendering import ContentError

DEFAULT_CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"

# The topics content may be tagged with, in the order pages list them. A tag that
# is not here is refused, so a typo cannot create a topic of its own.
TOPICS: tuple[tuple[str, str], ...] = (
    ("durability", "Durability"),
    ("elasticache", "ElastiCache"),
    ("consistency", "Consistency"),
    ("architecture", "Architecture"),
    ("cluster", "Cluster slots and clients"),
    ("failover", "Failover"),
    ("use-cases", "Use cases"),
    ("snapshots", "Snapshots and restore"),
    ("security", "Security"),
    ("compatibility", "API compatibility"),
    ("performance", "Performance and latency"),
    ("pricing", "Pricing and cost"),
)
TOPIC_SLUGS = frozenset(slug for slug, _title in TOPICS)

# libyaml's safe loader when PyYAML was built with it: ten times faster, same result.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")
_NUMBERED = re.compile(r"(\d+)-([a-z0-9][a-z0-9-]*)")
_REPO_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*")
_KINDS = {kind.value for kind in Question.Kind}
_MODES = {mode.value for mode in Quiz.Mode}


# --------------------------------------------------------------------------------------
# Parsed records
# --------------------------------------------------------------------------------------


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

    @property
    def lessons(self) -> list[ParsedLesson]:
        return [lesson for module in self.modules for lesson in module.lessons]


# --------------------------------------------------------------------------------------
# Step 1: parse and check the files
# --------------------------------------------------------------------------------------


class _Fields:
    """Typed access to one YAML mapping, recording problems instead of raising."""

    def __init__(self, data: Any, where: str, problems: list[str], allowed: Iterable[str]) -> None:
        self.where = where
        self.problems = problems
        if not isinstance(data, Mapping):
            self.problem(f"expected a mapping, found {type(data).__name__}")
            data = {}
        self.data = data
        unknown = sorted(set(map(str, data)) - set(allowed))
        if unknown:
            self.problem(f"unknown field(s) {', '.join(unknown)}")

    def problem(self, message: str) -> None:
        self.problems.append(f"{self.where}: {message}")

    def text(self, name: str, required: bool = True) -> str:
        value = self.data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(f"'{name}' is missing")
            return ""
        if not isinstance(value, (str, int, float, date)) or isinstance(value, bool):
            self.problem(f"'{name}' must be text")
            return ""
        return str(value).strip()

    def integer(self, name: str, low: int, high: int, required: bool = True) -> int | None:
        value = self.data.get(name)
        if value is None:
            if required:
                self.problem(f"'{name}' is missing")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.problem(f"'{name}' must be a whole number from {low} to {high}")
            return None
        return value

    def slug(self, name: str) -> str:
        value = self.text(name)
        if value and not _SLUG.fullmatch(value):
            self.problem(f"'{name}' {value!r} must be lowercase letters, digits and dashes")
        return value

    def slugs(self, name: str, required: bool = True) -> list[str]:
        value = self.data.get(name)
        if value is None:
            if required:
                self.problem(f"'{name}' is missing")
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(f"'{name}' must be a list of ids")
            return []
        return list(value)

    def topics(self) -> list[str]:
        topics = self.slugs("topics")
        if not topics:
            self.problem("'topics' must name at least one topic")
        for topic in topics:
            if topic not in TOPIC_SLUGS:
                self.problem(f"unknown topic {topic!r} (known: {', '.join(sorted(TOPIC_SLUGS))})")
        return topics


def _read_yaml(path: Path, root: Path, problems: list[str]) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"{path.relative_to(root)}: cannot be read: {exc}")
        return None


def _duplicates(keys: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for key in keys:
        if key in seen and key not in repeated:
            repeated.append(key)
        seen.add(key)
    return repeated


def parse_course(root: Path) -> Course:
    """Read and check every file; raise ContentError listing all problems."""
    problems: list[str] = []
    if not root.is_dir():
        raise ContentError([f"{root}: no such content folder"])
    course = Course(
        facts=_parse_facts(root, problems),
        modules=_parse_modules(root, problems),
        questions=_parse_questions(root, problems),
        quizzes=_parse_quizzes(root, problems),
        diagrams=_parse_diagrams(root, problems),
        misconceptions=_parse_misconceptions(root, problems),
    )
    _check_references(course, problems)
    if problems:
        raise ContentError(problems)
    return course


def _parse_facts(root: Path, problems: list[str]) -> list[dict[str, Any]]:
    data = _read_yaml(root / "facts.yaml", root, problems)
    if not isinstance(data, list):
        problems.append("facts.yaml: expected a list of facts")
        return []
    facts = []
    allowed = ("id", "claim", "source", "url", "published", "checked", "topic")
    for number, entry in enumerate(data, start=1):
        where = f"facts.yaml, fact {entry.get('id') if isinstance(entry, dict) else number}"
        f = _Fields(entry, where, problems, allowed)
        url = f.text("url")
        if url and not (url.startswith(("https://", "http://")) or _REPO_PATH.fullmatch(url)):
            # Anything else (javascript:, data:, ...) could end up in a page.
            f.problem(f"'url' {url!r} must be an http(s) address or a path in the repository")
        checked = f.data.get("checked")
        try:
            checked_on = checked if isinstance(checked, date) else date.fromisoformat(str(checked))
        except ValueError:
            f.problem(f"'checked' {checked!r} must be a date such as 2026-11-26")
            checked_on = date.min
        topic = f.text("topic")
        if topic and topic not in TOPIC_SLUGS:
            f.problem(f"unknown topic {topic!r}")
        facts.append(
            {
                "slug": f.slug("id"),
                "claim": f.text("claim"),
                "source": f.text("source"),
                "url": url,
                "published": f.text("published"),
                "checked": checked_on,
                "topic": topic,
            }
        )
    for slug in _duplicates(fact["slug"] for fact in facts):
        problems.append(f"facts.yaml: duplicate fact id {slug!r}")
    return facts


def _parse_modules(root: Path, problems: list[str]) -> list[ParsedModule]:
    modules = []
    folders = sorted(p for p in (root / "lessons").glob("*") if p.is_dir())
    if not folders:
        problems.append("lessons/: no module folders")
    for folder in folders:
        match = _NUMBERED.fullmatch(folder.name)
        where = f"lessons/{folder.name}"
        if match is None:
            problems.append(f"{where}: a module folder is named NN-slug")
            continue
        number, slug = int(match.group(1)), match.group(2)
        f = _Fields(
            _read_yaml(folder / "module.yaml", root, problems) or {},
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
        for n in _duplicates(str(lesson.number) for lesson in module.lessons):
            problems.append(f"{where}: two lessons are numbered {n}")
        modules.append(module)
    for n in _duplicates(str(module.number) for module in modules):
        problems.append(f"lessons/: two modules are numbered {n}")
    for slug in _duplicates(module.slug for module in modules):
        problems.append(f"lessons/: duplicate module slug {slug!r}")
    return modules


def _parse_lesson(
    path: Path, root: Path, module: ParsedModule, problems: list[str]
) -> ParsedLesson | None:
    where = str(path.relative_to(root))
    match = _NUMBERED.fullmatch(path.stem)
    if match is None:
        problems.append(f"{where}: a lesson file is named NN-slug.md")
        return None
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n") or "\n---\n" not in text[4:]:
        problems.append(f"{where}: must start with YAML front matter between --- lines")
        return None
    front, body = text[4:].split("\n---\n", 1)
    try:
        meta = yaml.load(front, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        problems.append(f"{where}: front matter is not valid YAML: {exc}")
        return None
    f = _Fields(meta, where, problems, ("slug", "title", "summary", "minutes", "topics", "labs"))
    labs = f.data.get("labs") or []
    if not isinstance(labs, list):
        f.problem("'labs' must be a list")
        labs = []
    for number, lab in enumerate(labs, start=1):
        lab_fields = _Fields(
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


def _parse_questions(root: Path, problems: list[str]) -> list[ParsedQuestion]:
    questions = []
    allowed = (
        "id", "kind", "topics", "difficulty", "material_focus", "corrects_material", "prompt",
        "model_answer", "follow_up", "follow_up_answer", "lesson", "facts", "explanation",
        "choices",
    )  # fmt: skip
    files = sorted((root / "questions").glob("*.yaml"))
    if not files:
        problems.append("questions/: no question files")
    for path in files:
        data = _read_yaml(path, root, problems)
        if not isinstance(data, list):
            problems.append(f"questions/{path.name}: expected a list of questions")
            continue
        for number, entry in enumerate(data, start=1):
            ident = entry.get("id") if isinstance(entry, Mapping) else None
            where = f"questions/{path.name}, question {ident or number}"
            f = _Fields(entry, where, problems, allowed)
            kind = f.text("kind")
            if kind and kind not in _KINDS:
                f.problem(f"'kind' {kind!r} must be one of {', '.join(sorted(_KINDS))}")
            corrects = f.data.get("corrects_material", False)
            if not isinstance(corrects, bool):
                f.problem("'corrects_material' must be true or false")
            question = ParsedQuestion(
                slug=f.slug("id"),
                kind=kind,
                topics=f.topics(),
                difficulty=f.integer("difficulty", 1, 3) or 1,
                prompt=f.text("prompt"),
                model_answer=f.text("model_answer"),
                follow_up=f.text("follow_up"),
                follow_up_answer=f.text("follow_up_answer"),
                explanation=f.text("explanation"),
                lesson=f.slug("lesson"),
                facts=f.slugs("facts", required=False),
                material_focus=f.integer("material_focus", 1, 99, required=False),
                corrects_material=corrects is True,
                choices=_parse_choices(f, kind),
                where=where,
            )
            questions.append(question)
    for slug in _duplicates(q.slug for q in questions):
        problems.append(f"questions/: duplicate question id {slug!r}")
    focus = [str(q.material_focus) for q in questions if q.material_focus is not None]
    for n in _duplicates(focus):
        problems.append(f"questions/: two questions answer material focus point {n}")
    return questions


def _parse_choices(f: _Fields, kind: str) -> list[dict[str, Any]]:
    raw = f.data.get("choices")
    if kind == Question.Kind.INTERVIEW:
        if raw:
            f.problem("an interview question is answered in free text and has no choices")
        return []
    if not isinstance(raw, list) or len(raw) < 2:
        f.problem("needs a list of at least two choices")
        return []
    choices = []
    for number, entry in enumerate(raw, start=1):
        c = _Fields(
            entry,
            f"{f.where}, choice {number}",
            f.problems,
            ("text", "correct", "why", "misconception"),
        )
        correct = c.data.get("correct")
        if not isinstance(correct, bool):
            c.problem("'correct' must be true or false")
        misconception = c.slug("misconception") if "misconception" in c.data else ""
        if misconception and correct is True:
            # A right answer reveals no wrong belief; a tag there would count
            # learners who answered correctly in the heatmap.
            c.problem(f"a correct choice cannot carry misconception {misconception!r}")
        choices.append(
            {
                "text": c.text("text"),
                "correct": correct is True,
                "why": c.text("why"),
                "misconception": misconception,
            }
        )
    right = sum(choice["correct"] for choice in choices)
    if kind == Question.Kind.MULTI and right < 1:
        f.problem("a multi question needs at least one correct choice")
    if kind in (Question.Kind.SINGLE, Question.Kind.PREDICT) and right != 1:
        f.problem(f"a {kind} question needs exactly one correct choice, found {right}")
    return choices


def _parse_misconceptions(root: Path, problems: list[str]) -> list[ParsedMisconception]:
    """The wrong beliefs distractors are tagged with; the file is optional."""
    path = root / "misconceptions.yaml"
    if not path.exists():
        return []
    data = _read_yaml(path, root, problems)
    if not isinstance(data, list):
        problems.append("misconceptions.yaml: expected a list of misconceptions")
        return []
    misconceptions = []
    for number, entry in enumerate(data, start=1):
        ident = entry.get("id") if isinstance(entry, Mapping) else None
        f = _Fields(
            entry,
            f"misconceptions.yaml, misconception {ident or number}",
            problems,
            ("id", "title", "statement", "lesson"),
        )
        misconceptions.append(
            ParsedMisconception(
                f.slug("id"), f.text("title"), f.text("statement"), f.slug("lesson")
            )
        )
    for slug in _duplicates(m.slug for m in misconceptions):
        problems.append(f"misconceptions.yaml: duplicate misconception id {slug!r}")
    return misconceptions


def _parse_quizzes(root: Path, problems: list[str]) -> list[ParsedQuiz]:
    data = _read_yaml(root / "quizzes.yaml", root, problems)
    if not isinstance(data, list) or not data:
        problems.append("quizzes.yaml: expected a non-empty list of quizzes")
        return []
    quizzes = []
    for number, entry in enumerate(data, start=1):
        ident = entry.get("slug") if isinstance(entry, Mapping) else None
        f = _Fields(
            entry,
            f"quizzes.yaml, quiz {ident or number}",
            problems,
            ("slug", "title", "module", "mode", "questions"),
        )
        mode = f.text("mode")
        if mode and mode not in _MODES:
            f.problem(f"'mode' {mode!r} must be one of {', '.join(sorted(_MODES))}")
        module = f.data.get("module")
        if module is not None and not isinstance(module, str):
            f.problem("'module' must be a module slug or null")
            module = None
        questions = f.slugs("questions")
        if not questions:
            f.problem("a quiz needs questions")
        for slug in _duplicates(questions):
            f.problem(f"question {slug!r} is listed twice")
        quizzes.append(ParsedQuiz(f.slug("slug"), f.text("title"), module, mode, questions))
    for slug in _duplicates(quiz.slug for quiz in quizzes):
        problems.append(f"quizzes.yaml: duplicate quiz slug {slug!r}")
    return quizzes


_SVG_NS = "{http://www.w3.org/2000/svg}"
_FORBIDDEN_SVG = {"script", "foreignObject", "iframe", "embed", "object", "image", "use"}


def _parse_diagrams(root: Path, problems: list[str]) -> list[ParsedDiagram]:
    diagrams = []
    for path in sorted((root / "diagrams").glob("*.svg")):
        where = f"diagrams/{path.name}"
        if not _SLUG.fullmatch(path.stem):
            problems.append(f"{where}: a diagram name is lowercase letters, digits and dashes")
            continue
        svg = path.read_text(encoding="utf-8")
        try:
            tree = etree.fromstring(svg)
        except etree.ParseError as exc:
            problems.append(f"{where}: not well-formed XML: {exc}")
            continue
        if tree.tag != f"{_SVG_NS}svg":
            problems.append(f"{where}: the root element must be <svg> in the SVG namespace")
            continue
        # The file is served from our origin: if opened directly, a script in it would
        # run there. Diagrams are pictures, so anything active is refused.
        for element in tree.iter():
            local = element.tag.rsplit("}", 1)[-1]
            if local in _FORBIDDEN_SVG:
                problems.append(f"{where}: <{local}> is not allowed in a diagram")
            for name, value in element.attrib.items():
                attr = name.rsplit("}", 1)[-1].lower()
                if attr.startswith("on") or (attr == "href" and not value.startswith("#")):
                    problems.append(f"{where}: attribute {attr}={value!r} is not allowed")
        width, height = _svg_size(tree)
        if not width or not height:
            problems.append(f"{where}: needs a viewBox (or width and height) to be sized")
            continue
        digest = hashlib.sha256(svg.encode()).hexdigest()[:12]
        diagrams.append(ParsedDiagram(path.stem, svg, width, height, digest))
    return diagrams


def _svg_size(tree: etree.Element) -> tuple[int, int]:
    box = tree.get("viewBox", "").replace(",", " ").split()
    try:
        if len(box) == 4:
            return round(float(box[2])), round(float(box[3]))
        return round(float(tree.get("width", "0"))), round(float(tree.get("height", "0")))
    except ValueError:
        return 0, 0


def _check_references(course: Course, problems: list[str]) -> None:
    lessons = {lesson.slug for lesson in course.lessons}
    for slug in _duplicates(lesson.slug for lesson in course.lessons):
        problems.append(f"lessons/: duplicate lesson slug {slug!r}")
    lab_ids = [str(lab.get("id")) for lesson in course.lessons for lab in lesson.labs]
    for lab in _duplicates(lab_ids):
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
    _check_misconceptions(course, lessons, problems)
    for quiz in course.quizzes:
        where = f"quizzes.yaml, quiz {quiz.slug}"
        if quiz.module is not None and quiz.module not in modules:
            problems.append(
                f"{where}: 'module' {quiz.module!r} is not a module folder (NN-{quiz.module})"
            )
        for slug in quiz.questions:
            if slug not in questions:
                problems.append(f"{where}: question {slug!r} does not exist")


def _check_misconceptions(course: Course, lessons: set[str], problems: list[str]) -> None:
    """Every tag names a known misconception, and every misconception is used.

    An unused one would be an empty row in every class's heatmap, which reads as
    "nobody holds this belief" when no question could have shown it.
    """
    known = {m.slug for m in course.misconceptions}
    used: set[str] = set()
    for question in course.questions:
        for number, choice in enumerate(question.choices, start=1):
            tag = choice["misconception"]
            if not tag:
                continue
            used.add(tag)
            if tag not in known:
                problems.append(
                    f"{question.where}, choice {number}: misconception {tag!r} is not in"
                    " misconceptions.yaml"
                )
    for misconception in course.misconceptions:
        where = f"misconceptions.yaml, misconception {misconception.slug}"
        if misconception.lesson and misconception.lesson not in lessons:
            problems.append(f"{where}: 'lesson' {misconception.lesson!r} is not a lesson")
        if misconception.slug and misconception.slug not in used:
            problems.append(f"{where}: no wrong choice is tagged with it")

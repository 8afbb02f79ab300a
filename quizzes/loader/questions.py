"""Parses the questions (``questions/*.yaml``) with their choices, the wrong beliefs
choices are tagged with (``misconceptions.yaml``), and the quizzes that list
questions (``quizzes.yaml``).

Invariants: an interview question has no choices; a single or predict question has
exactly one correct choice and a multi question at least one; a misconception tag
sits only on a wrong choice, names a known misconception, and every misconception is
used by some choice (``check_misconceptions``, run once all files are read).

A question with ``variants`` (numbers drawn per attempt, ``quizzes.variants``) is a
single or predict question whose every template placeholder is defined, every
expression is in the safe language, and, for every combination of its parameter
values, the choices whose computed value equals the computed answer are exactly the
one marked correct, with no two choices showing the same value. An ``anchor``
question (a number worth remembering, offered as a review card) cites a fact.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from quizzes import variants
from quizzes.loader.fields import Fields, duplicates, read_yaml
from quizzes.loader.records import Course, ParsedMisconception, ParsedQuestion, ParsedQuiz
from quizzes.models import Question, Quiz

_KINDS = {kind.value for kind in Question.Kind}
_MODES = {mode.value for mode in Quiz.Mode}


def parse_questions(root: Path, problems: list[str]) -> list[ParsedQuestion]:
    """Every question of every ``questions/*.yaml``, in file order."""
    questions = []
    allowed = (
        "id", "kind", "topics", "difficulty", "material_focus", "corrects_material", "prompt",
        "model_answer", "follow_up", "follow_up_answer", "lesson", "facts", "explanation",
        "choices", "variants", "anchor",
    )  # fmt: skip
    files = sorted((root / "questions").glob("*.yaml"))
    if not files:
        problems.append("questions/: no question files")
    for path in files:
        data = read_yaml(path, root, problems)
        if not isinstance(data, list):
            problems.append(f"questions/{path.name}: expected a list of questions")
            continue
        for number, entry in enumerate(data, start=1):
            ident = entry.get("id") if isinstance(entry, Mapping) else None
            where = f"questions/{path.name}, question {ident or number}"
            f = Fields(entry, where, problems, allowed)
            kind = f.text("kind")
            if kind and kind not in _KINDS:
                f.problem(f"'kind' {kind!r} must be one of {', '.join(sorted(_KINDS))}")
            corrects = f.data.get("corrects_material", False)
            if not isinstance(corrects, bool):
                f.problem("'corrects_material' must be true or false")
            anchor = f.data.get("anchor", False)
            if not isinstance(anchor, bool):
                f.problem("'anchor' must be true or false")
            elif anchor and not f.data.get("facts"):
                f.problem("an anchor question must cite the fact its number comes from")
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
                anchor=anchor is True,
            )
            question.variants = _parse_variants(f, question)
            questions.append(question)
    for slug in duplicates(q.slug for q in questions):
        problems.append(f"questions/: duplicate question id {slug!r}")
    focus = [str(q.material_focus) for q in questions if q.material_focus is not None]
    for n in duplicates(focus):
        problems.append(f"questions/: two questions answer material focus point {n}")
    return questions


def _parse_choices(f: Fields, kind: str) -> list[dict[str, Any]]:
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
        c = Fields(
            entry,
            f"{f.where}, choice {number}",
            f.problems,
            ("text", "correct", "why", "misconception", "value"),
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
                "value": c.text("value") if "value" in c.data else "",
            }
        )
    right = sum(choice["correct"] for choice in choices)
    if kind == Question.Kind.MULTI and right < 1:
        f.problem("a multi question needs at least one correct choice")
    if kind in (Question.Kind.SINGLE, Question.Kind.PREDICT) and right != 1:
        f.problem(f"a {kind} question needs exactly one correct choice, found {right}")
    return choices


_RESERVED = {"answer", "value"}


def _parse_variants(f: Fields, question: ParsedQuestion) -> dict[str, Any]:
    """The ``variants`` block as stored on the question, or {} when it has none or
    it is broken (each problem recorded)."""
    raw = f.data.get("variants")
    values = [choice["value"] for choice in question.choices]
    if raw is None:
        if any(values):
            f.problem("a choice has a 'value' but the question has no 'variants'")
        return {}
    before = len(f.problems)
    v = Fields(raw, f"{f.where}, variants", f.problems, ("parameters", "answer"))
    if question.kind not in (Question.Kind.SINGLE, Question.Kind.PREDICT):
        v.problem("only single and predict questions can have variants")
        return {}
    parameters: dict[str, list[int]] = {}
    raw_parameters = v.data.get("parameters")
    if not isinstance(raw_parameters, Mapping) or not raw_parameters:
        v.problem("'parameters' must map each name to a list of whole numbers")
        return {}
    for name, choices in raw_parameters.items():
        if not isinstance(name, str) or not variants.PLACEHOLDER.fullmatch(f"{{{name}}}"):
            v.problem(f"parameter name {name!r} must be lowercase letters and digits")
        elif name in _RESERVED:
            v.problem(f"parameter name {name!r} is reserved")
        elif (
            not isinstance(choices, list)
            or not choices
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in choices)
            or len(set(choices)) != len(choices)
        ):
            v.problem(f"parameter {name!r} must be a list of distinct whole numbers")
        else:
            parameters[name] = choices
    answer = v.text("answer")
    expressions = {"answer": answer} | {
        f"choice {n} value": text for n, text in enumerate(values, start=1)
    }
    for label, text in expressions.items():
        if not text:
            v.problem(f"{label} is missing")
            continue
        try:
            unknown = variants.names_in(variants.compile_expression(text)) - set(parameters)
        except variants.ExpressionError as exc:
            v.problem(f"{label}: {exc}")
            continue
        if unknown:
            v.problem(f"{label} uses undefined name(s) {', '.join(sorted(unknown))}")
    _check_placeholders(v, question, set(parameters))
    if len(f.problems) > before:
        return {}  # the combinations cannot be checked against a broken block
    count = 1
    for choices in parameters.values():
        count *= len(choices)
    if count > variants.MAX_COMBINATIONS:
        v.problem(f"{count} combinations of parameter values; at most {variants.MAX_COMBINATIONS}")
        return {}
    spec = {"parameters": parameters, "answer": answer, "values": values}
    flagged = {n for n, choice in enumerate(question.choices, start=1) if choice["correct"]}
    for drawn in variants.combinations(parameters):
        try:
            shown = [variants.compute(text, drawn) for text in values]
            right = variants.correct_positions(spec, drawn)
        except variants.ExpressionError as exc:
            v.problem(f"with {drawn}: {exc}")
            return {}
        if right != flagged:
            v.problem(
                f"with {drawn} the computed answer matches choice(s) {sorted(right) or 'none'},"
                f" not the one marked correct ({sorted(flagged)})"
            )
            return {}
        if len(set(shown)) != len(shown):
            v.problem(f"with {drawn} two choices show the same value")
            return {}
    return spec


def _check_placeholders(v: Fields, question: ParsedQuestion, parameters: set[str]) -> None:
    """Every ``{name}`` in the question's texts is a parameter, ``answer``, or (in a
    choice) ``value``; a typo would otherwise reach the learner as a literal brace."""
    texts = {
        name: getattr(question, name)
        for name in ("prompt", "model_answer", "follow_up", "follow_up_answer", "explanation")
    }
    for n, choice in enumerate(question.choices, start=1):
        texts[f"choice {n} text"] = choice["text"]
        texts[f"choice {n} why"] = choice["why"]
    for label, text in texts.items():
        known = parameters | {"answer"} | ({"value"} if label.startswith("choice") else set())
        for name in variants.PLACEHOLDER.findall(text):
            if name not in known:
                v.problem(f"{label}: placeholder {{{name}}} is not defined")


def parse_misconceptions(root: Path, problems: list[str]) -> list[ParsedMisconception]:
    """The wrong beliefs distractors are tagged with; the file is optional."""
    path = root / "misconceptions.yaml"
    if not path.exists():
        return []
    data = read_yaml(path, root, problems)
    if not isinstance(data, list):
        problems.append("misconceptions.yaml: expected a list of misconceptions")
        return []
    misconceptions = []
    for number, entry in enumerate(data, start=1):
        ident = entry.get("id") if isinstance(entry, Mapping) else None
        f = Fields(
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
    for slug in duplicates(m.slug for m in misconceptions):
        problems.append(f"misconceptions.yaml: duplicate misconception id {slug!r}")
    return misconceptions


def parse_quizzes(root: Path, problems: list[str]) -> list[ParsedQuiz]:
    """The quizzes of ``quizzes.yaml``; the first one is open to visitors."""
    data = read_yaml(root / "quizzes.yaml", root, problems)
    if not isinstance(data, list) or not data:
        problems.append("quizzes.yaml: expected a non-empty list of quizzes")
        return []
    quizzes = []
    for number, entry in enumerate(data, start=1):
        ident = entry.get("slug") if isinstance(entry, Mapping) else None
        f = Fields(
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
        for slug in duplicates(questions):
            f.problem(f"question {slug!r} is listed twice")
        quizzes.append(ParsedQuiz(f.slug("slug"), f.text("title"), module, mode, questions))
    for slug in duplicates(quiz.slug for quiz in quizzes):
        problems.append(f"quizzes.yaml: duplicate quiz slug {slug!r}")
    return quizzes


def check_misconceptions(course: Course, lessons: set[str], problems: list[str]) -> None:
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

"""The interview capstone (``capstone.yaml``): parsed and checked in step 1, rendered
in step 2 and stored in step 3 of loading, like the rest of the course.

Invariants a prompt must meet, or the whole load is refused: a scenario, at least
one requirement, a model answer, at least ``MIN_RUBRIC_POINTS`` rubric points each
with a positive whole weight, at least one follow-up with its answer, and linked
questions that exist (they are what a low self-grade sends to review).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from quizzes.loader.fields import Fields, duplicates, read_yaml
from quizzes.loader.records import Course, ParsedCapstone
from quizzes.models import CapstonePrompt, Question
from quizzes.rendering import ContentError, ContentRenderer

MIN_RUBRIC_POINTS = 4


def parse_capstones(root: Path, problems: list[str]) -> list[ParsedCapstone]:
    """The prompts of ``capstone.yaml``; the file is optional."""
    path = root / "capstone.yaml"
    if not path.exists():
        return []
    data = read_yaml(path, root, problems)
    if not isinstance(data, list):
        problems.append("capstone.yaml: expected a list of design prompts")
        return []
    prompts = []
    for number, entry in enumerate(data, start=1):
        ident = entry.get("slug") if isinstance(entry, Mapping) else None
        f = Fields(
            entry,
            f"capstone.yaml, prompt {ident or number}",
            problems,
            ("slug", "title", "scenario", "requirements", "model_answer", "rubric",
             "follow_ups", "questions"),
        )  # fmt: skip
        requirements = f.data.get("requirements")
        if not isinstance(requirements, list) or not requirements or not all(
            isinstance(r, str) and r.strip() for r in requirements
        ):
            f.problem("'requirements' must be a non-empty list of texts")
            requirements = []
        prompts.append(
            ParsedCapstone(
                slug=f.slug("slug"),
                title=f.text("title"),
                scenario=f.text("scenario"),
                requirements=[r.strip() for r in requirements],
                model_answer=f.text("model_answer"),
                rubric=_rubric(f),
                follow_ups=_follow_ups(f),
                questions=f.slugs("questions"),
                where=f.where,
            )
        )
    for slug in duplicates(p.slug for p in prompts):
        problems.append(f"capstone.yaml: duplicate prompt slug {slug!r}")
    return prompts


def _rubric(f: Fields) -> list[dict[str, Any]]:
    raw = f.data.get("rubric")
    if not isinstance(raw, list) or len(raw) < MIN_RUBRIC_POINTS:
        f.problem(f"'rubric' needs at least {MIN_RUBRIC_POINTS} points")
        return []
    points = []
    for number, entry in enumerate(raw, start=1):
        r = Fields(entry, f"{f.where}, rubric point {number}", f.problems, ("point", "weight"))
        weight = r.data.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int) or weight <= 0:
            # A zero or negative weight would let a learner score more by leaving
            # a point out, which makes the score meaningless.
            r.problem("'weight' must be a positive whole number")
            weight = 0
        points.append({"point": r.text("point"), "weight": weight})
    return points


def _follow_ups(f: Fields) -> list[dict[str, str]]:
    raw = f.data.get("follow_ups")
    if not isinstance(raw, list) or not raw:
        f.problem("'follow_ups' needs at least one follow-up question with its answer")
        return []
    follow_ups = []
    for number, entry in enumerate(raw, start=1):
        u = Fields(entry, f"{f.where}, follow-up {number}", f.problems, ("question", "answer"))
        follow_ups.append({"question": u.text("question"), "answer": u.text("answer")})
    return follow_ups


def check_capstones(course: Course, problems: list[str]) -> None:
    """Every linked question exists: a dangling one could never be reviewed."""
    questions = {q.slug for q in course.questions}
    for prompt in course.capstones:
        if not prompt.questions:
            problems.append(f"{prompt.where}: 'questions' must link at least one question")
        for slug in prompt.questions:
            if slug not in questions:
                problems.append(f"{prompt.where}: question {slug!r} does not exist")


def render_capstones(renderer: ContentRenderer, course: Course) -> dict[str, dict[str, Any]]:
    """Each prompt's stored fields with their HTML; raises ContentError on a bad link."""
    problems: list[str] = []
    out: dict[str, dict[str, Any]] = {}
    for n, p in enumerate(course.capstones):
        try:
            out[p.slug] = {
                "title": p.title,
                "position": n,
                "scenario": p.scenario,
                "scenario_html": renderer.render_text(p.scenario, f"{p.where}, scenario"),
                "requirements": [
                    {"text": r, "text_html": renderer.render_inline(r, f"{p.where}, requirement")}
                    for r in p.requirements
                ],
                "model_answer": p.model_answer,
                "model_answer_html": renderer.render_text(
                    p.model_answer, f"{p.where}, model answer"
                ),
                "rubric": [
                    {**point, "point_html": renderer.render_inline(point["point"], p.where)}
                    for point in p.rubric
                ],
                "follow_ups": [
                    {
                        **u,
                        "question_html": renderer.render_inline(u["question"], p.where),
                        "answer_html": renderer.render_text(u["answer"], p.where),
                    }
                    for u in p.follow_ups
                ],
            }
        except ContentError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ContentError(problems)
    return out


def sync_capstones(course: Course, rendered: dict[str, dict[str, Any]], counts: Any) -> None:
    """Store the prompts, adding to the load's ``SyncCounts``; ``sync_course`` calls
    it in its transaction, once the questions are stored."""
    # Imported here: sync imports parse, which imports this module's parser.
    from quizzes.loader.sync import _sync, _sync_pairs

    stale: list[tuple[type, list[int]]] = []
    prompts = _sync(
        CapstonePrompt, ("slug",), {(slug,): row for slug, row in rendered.items()}, counts, stale
    )
    question_ids = dict(Question.objects.values_list("slug", "pk"))
    _sync_pairs(
        CapstonePrompt.questions.through,
        "capstoneprompt",
        "question",
        {(prompts[(p.slug,)], question_ids[q]) for p in course.capstones for q in p.questions},
        prompts.values(),
    )
    for model, pks in stale:
        counts.removed += len(pks)
        model.objects.filter(pk__in=pks).delete()

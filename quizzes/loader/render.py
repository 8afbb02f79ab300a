"""Step 2 of loading: render every Markdown text, which checks every link in it.

Also used by the admin, which re-renders an edited lesson or question against an
index built from the database (``index_from_database``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.urls import reverse

from quizzes import variants
from quizzes.loader.capstone import render_capstones
from quizzes.loader.parse import Course
from quizzes.models import Diagram, Fact, Lesson, Module, Question
from quizzes.rendering import (
    ContentError,
    ContentIndex,
    ContentRenderer,
    DiagramImage,
    FactCard,
    Target,
)

# --------------------------------------------------------------------------------------
# Step 2: render (and so check every link in the Markdown)
# --------------------------------------------------------------------------------------


def plain_title(text: str) -> str:
    """A prompt as link text: Markdown code marks dropped, one line."""
    return " ".join(text.replace("`", "").split())


def fact_card_data(fact: Mapping[str, Any] | Fact) -> FactCard:
    get = fact.get if isinstance(fact, Mapping) else lambda name: getattr(fact, name)
    checked = get("checked")
    return FactCard(
        slug=get("slug"),
        claim=get("claim"),
        source=get("source"),
        url=get("url"),
        published=get("published"),
        checked=checked.isoformat() if isinstance(checked, date) else str(checked),
    )


def index_for_course(course: Course) -> ContentIndex:
    return ContentIndex(
        lessons={
            lesson.slug: Target(
                reverse("quizzes:lesson", args=[lesson.module, lesson.slug]), lesson.title
            )
            for lesson in course.lessons
        },
        questions={
            # A parameterized prompt shows its first numbers, not its placeholders.
            q.slug: Target(
                reverse("quizzes:question", args=[q.slug]),
                plain_title(variants.fill(q.prompt, variants.example(q.variants["parameters"])))
                if q.variants
                else plain_title(q.prompt),
            )
            for q in course.questions
        },
        facts={fact["slug"]: fact_card_data(fact) for fact in course.facts},
        diagrams={
            d.name: DiagramImage(
                f"{reverse('quizzes:diagram', args=[d.name])}?v={d.digest}", d.width, d.height
            )
            for d in course.diagrams
        },
    )


def index_from_database() -> ContentIndex:
    """The same index built from the rows, for re-rendering an admin edit."""
    modules = dict(Module.objects.values_list("pk", "slug"))
    return ContentIndex(
        lessons={
            slug: Target(reverse("quizzes:lesson", args=[modules[module_id], slug]), title)
            for slug, module_id, title in Lesson.objects.values_list("slug", "module_id", "title")
        },
        questions={
            slug: Target(
                reverse("quizzes:question", args=[slug]),
                plain_title(variants.fill(prompt, variants.example(spec["parameters"])))
                if spec
                else plain_title(prompt),
            )
            for slug, prompt, spec in Question.objects.filter(retired=False).values_list(
                "slug", "prompt", "variants"
            )
        },
        facts={fact.slug: fact_card_data(fact) for fact in Fact.objects.all()},
        diagrams={
            d.name: DiagramImage(d.get_absolute_url(), d.width, d.height)
            for d in Diagram.objects.all()
        },
    )


RenderedLesson = tuple[str, list[str], list[dict[str, Any]]]


def render_lesson(
    renderer: ContentRenderer, body: str, labs: list[dict[str, Any]], where: str
) -> RenderedLesson:
    """The lesson's HTML, the facts it cites, and its labs with rendered text."""
    rendered = renderer.render(body, where)
    rendered_labs = []
    for lab in labs:
        lab = {k: v for k, v in lab.items() if not k.endswith("_html")}
        lab["instruction_html"] = renderer.render_inline(str(lab.get("instruction", "")), where)
        lab["hint_html"] = renderer.render_inline(str(lab.get("hint", "")), where)
        rendered_labs.append(lab)
    return rendered.html, rendered.facts, rendered_labs


QUESTION_TEXT_FIELDS = {
    "prompt": "inline",
    "model_answer": "text",
    "follow_up": "inline",
    "follow_up_answer": "text",
    "explanation": "text",
}


def render_question_fields(
    renderer: ContentRenderer, texts: Mapping[str, str], where: str
) -> dict[str, str]:
    """``{"prompt_html": ..., ...}`` for a question's Markdown fields."""
    out = {}
    for name, style in QUESTION_TEXT_FIELDS.items():
        render = renderer.render_inline if style == "inline" else renderer.render_text
        out[f"{name}_html"] = render(texts[name], f"{where}, {name}")
    return out


def render_choice_fields(
    renderer: ContentRenderer, text: str, why: str, where: str
) -> dict[str, str]:
    return {
        "text_html": renderer.render_inline(text, where),
        "why_html": renderer.render_inline(why, where) if why else "",
    }


@dataclass
class RenderedCourse:
    lessons: dict[str, RenderedLesson]
    questions: dict[str, dict[str, str]]
    choices: dict[tuple[str, int], dict[str, str]]
    # The capstone prompts' stored fields, by slug (``quizzes.loader.capstone``).
    capstones: dict[str, dict[str, Any]] = field(default_factory=dict)


def render_course(course: Course) -> RenderedCourse:
    renderer = ContentRenderer(index_for_course(course))
    problems: list[str] = []
    result = RenderedCourse({}, {}, {})
    for lesson in course.lessons:
        try:
            result.lessons[lesson.slug] = render_lesson(
                renderer, lesson.body, lesson.labs, lesson.path
            )
        except ContentError as exc:
            problems.extend(exc.problems)
    for q in course.questions:
        texts = {name: getattr(q, name) for name in QUESTION_TEXT_FIELDS}
        try:
            result.questions[q.slug] = render_question_fields(renderer, texts, q.where)
            for position, choice in enumerate(q.choices, start=1):
                result.choices[(q.slug, position)] = render_choice_fields(
                    renderer, choice["text"], choice["why"], f"{q.where}, choice {position}"
                )
        except ContentError as exc:
            problems.extend(exc.problems)
    try:
        result.capstones = render_capstones(renderer, course)
    except ContentError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ContentError(problems)
    return result



"""Interview prep: the question bank and one page per question."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from quizzes.models import Module, Question, Quiz, Topic


@require_safe
def question_bank(request: HttpRequest) -> HttpResponse:
    """Every question, the material's focus points first, then by module.

    ``?topic=<slug>`` narrows the list to one topic.
    """
    topics = list(Topic.objects.all())
    chosen = next((t for t in topics if t.slug == request.GET.get("topic")), None)
    questions = (
        Question.objects.filter(retired=False)
        .select_related("lesson__module")
        .prefetch_related("topics")
    )
    if chosen is not None:
        questions = questions.filter(topics=chosen)
    questions = list(questions)
    by_module: dict[int | None, list[Question]] = {}
    for question in questions:
        module_id = question.lesson.module_id if question.lesson else None
        by_module.setdefault(module_id, []).append(question)
    sections: list[tuple[Module | None, list[Question]]] = [
        (module, by_module[module.pk]) for module in Module.objects.all() if module.pk in by_module
    ]
    if None in by_module:
        sections.append((None, by_module[None]))
    focus = sorted((q for q in questions if q.material_focus), key=lambda q: q.material_focus or 0)
    return render(
        request,
        "quizzes/interview.html",
        {
            "topics": topics,
            "chosen": chosen,
            "focus": focus,
            "sections": sections,
            "count": len(questions),
        },
    )


@require_safe
def question_detail(request: HttpRequest, question_slug: str) -> HttpResponse:
    question = get_object_or_404(
        Question.objects.select_related("lesson__module").prefetch_related(
            "choices", "topics", Prefetch("facts", to_attr="cited")
        ),
        slug=question_slug,
        retired=False,
    )
    question.show_numbers(question.example_parameters())
    return render(
        request,
        "quizzes/question.html",
        {
            "question": question,
            "quizzes": Quiz.objects.filter(items__question=question),
        },
    )

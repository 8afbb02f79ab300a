"""The learning path: modules, lessons, the facts page and the diagrams."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from quizzes.learners import current_learner, learner_for_writing
from quizzes.models import Diagram, Fact, Lesson, LessonRead, Module, Quiz, Topic


def _read_lesson_ids(request: HttpRequest) -> set[int]:
    learner = current_learner(request)
    if learner is None:
        return set()
    return set(learner.lesson_reads.values_list("lesson_id", flat=True))


@require_safe
def path_index(request: HttpRequest) -> HttpResponse:
    modules = Module.objects.prefetch_related("lessons", "quizzes")
    read = _read_lesson_ids(request)
    return render(request, "quizzes/path.html", {"modules": modules, "read": read})


@require_safe
def module_detail(request: HttpRequest, module_slug: str) -> HttpResponse:
    module = get_object_or_404(
        Module.objects.prefetch_related("lessons", "quizzes"), slug=module_slug
    )
    return render(
        request,
        "quizzes/module.html",
        {"module": module, "read": _read_lesson_ids(request)},
    )


def _get_lesson(module_slug: str, lesson_slug: str) -> Lesson:
    return get_object_or_404(
        Lesson.objects.select_related("module").prefetch_related("topics"),
        slug=lesson_slug,
        module__slug=module_slug,
    )


@require_safe
def lesson_detail(request: HttpRequest, module_slug: str, lesson_slug: str) -> HttpResponse:
    lesson = _get_lesson(module_slug, lesson_slug)
    # The whole path is a few dozen rows; one query gives both neighbours.
    path = list(
        Lesson.objects.select_related("module").only(
            "slug", "title", "position", "module__slug", "module__title"
        )
    )
    index = next(i for i, item in enumerate(path) if item.pk == lesson.pk)
    learner = current_learner(request)
    is_read = (
        learner is not None
        and LessonRead.objects.filter(learner=learner, lesson=lesson).exists()
    )
    context = {
        "lesson": lesson,
        "module": lesson.module,
        "previous": path[index - 1] if index > 0 else None,
        "next": path[index + 1] if index + 1 < len(path) else None,
        "questions": lesson.questions.filter(retired=False),
        "quiz": Quiz.objects.filter(module=lesson.module).first(),
        "is_read": is_read,
    }
    return render(request, "quizzes/lesson.html", context)


@require_POST
def mark_read(request: HttpRequest, module_slug: str, lesson_slug: str) -> HttpResponse:
    """Record the lesson as read and go on to the next one (or the module's quiz)."""
    lesson = _get_lesson(module_slug, lesson_slug)
    LessonRead.mark(learner_for_writing(request), lesson, timezone.now())
    following = Lesson.objects.filter(position__gt=lesson.position).select_related("module").first()
    if following is not None and following.module_id == lesson.module_id:
        return redirect(following)
    quiz = Quiz.objects.filter(module=lesson.module).first()
    return redirect(quiz if quiz is not None else lesson.module)


@require_safe
def fact_list(request: HttpRequest) -> HttpResponse:
    topics = (
        Topic.objects.filter(facts__isnull=False)
        .distinct()
        .prefetch_related("facts__lessons__module")
    )
    return render(
        request,
        "quizzes/facts.html",
        {"topics": topics, "fact_count": Fact.objects.count()},
    )


# Opened on its own, an SVG is a document that could run script; these pictures
# need none, so the response forbids everything but their inline styles.
DIAGRAM_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


@require_safe
def diagram(request: HttpRequest, name: str) -> HttpResponse:
    picture = get_object_or_404(Diagram, name=name)
    response = HttpResponse(picture.svg, content_type="image/svg+xml; charset=utf-8")
    response["Content-Security-Policy"] = DIAGRAM_POLICY
    if request.GET.get("v") == picture.digest:
        # The URL changes with the content, so this version may be cached for ever.
        response["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        response["Cache-Control"] = "public, max-age=300"
    return response

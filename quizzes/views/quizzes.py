"""Quizzes: starting one, answering its questions, results, retries, due reviews.

An attempt is shown one question per page. Answering is a POST that redirects back
to the same page, which then shows the feedback: the right answer, why each choice
is right or wrong, and the explanation, whether the learner was right or not. A
free-text question takes two steps: write an answer, then grade it against the
model answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.views import redirect_to_login
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from fsrs import Rating

from quizzes.forms import ChoiceAnswerForm, FreeTextAnswerForm, SelfGradeForm
from quizzes.learners import current_learner, learner_for_writing
from quizzes.models import Attempt, AttemptItem, Question, Quiz, ReviewCard
from quizzes.scheduling import SELF_GRADES

REVIEW_BATCH = 20


def _get_quiz(quiz_slug: str) -> Quiz:
    return get_object_or_404(Quiz.objects.select_related("module"), slug=quiz_slug)


def _get_attempt_for_learner(request: HttpRequest, attempt_id: int) -> Attempt:
    """The attempt if it belongs to the request's learner; 404 otherwise, so that an
    attempt's existence is not revealed to anyone else."""
    learner = current_learner(request)
    if learner is None:
        raise Http404("No such attempt.")
    return get_object_or_404(
        Attempt.objects.select_related("quiz", "learner"), pk=attempt_id, learner=learner
    )


@require_safe
def quiz_list(request: HttpRequest) -> HttpResponse:
    quizzes = Quiz.objects.select_related("module").annotate(
        question_count=Count("items", filter=Q(items__question__retired=False))
    )
    learner = current_learner(request)
    best: dict[int, int] = {}
    if learner is not None:
        for attempt in learner.attempts.filter(kind=Attempt.Kind.QUIZ, finished_at__isnull=False):
            if attempt.quiz_id is not None:
                best[attempt.quiz_id] = max(best.get(attempt.quiz_id, 0), attempt.score_percent)
    rows = [(quiz, best.get(quiz.pk)) for quiz in quizzes]
    return render(request, "quizzes/quiz_list.html", {"rows": rows})


@require_http_methods(["GET", "HEAD", "POST"])
def quiz_detail(request: HttpRequest, quiz_slug: str) -> HttpResponse:
    """The quiz's introduction; POST starts a new attempt."""
    quiz = _get_quiz(quiz_slug)
    if not quiz.is_open_to(request.user):
        return redirect_to_login(request.get_full_path())
    if request.method == "POST":
        attempt = Attempt.start(
            learner_for_writing(request), quiz.active_questions(), now=timezone.now(), quiz=quiz
        )
        return redirect("quizzes:attempt_item", attempt_id=attempt.pk, position=1)
    learner = current_learner(request)
    attempts = (
        learner.attempts.filter(quiz=quiz).order_by("-started_at")[:10] if learner else []
    )
    questions = quiz.active_questions()
    kinds = sorted({q.get_kind_display() for q in questions})
    return render(
        request,
        "quizzes/quiz_detail.html",
        {"quiz": quiz, "questions": questions, "kinds": kinds, "attempts": attempts},
    )


@require_safe
def attempt_resume(request: HttpRequest, attempt_id: int) -> HttpResponse:
    attempt = _get_attempt_for_learner(request, attempt_id)
    item = attempt.first_unanswered()
    if item is None:
        return redirect("quizzes:attempt_results", attempt_id=attempt.pk)
    return redirect("quizzes:attempt_item", attempt_id=attempt.pk, position=item.position)


def _stage(item: AttemptItem) -> str:
    if item.is_answered:
        return "feedback"
    if item.question.is_self_graded and item.written_at is not None:
        return "grade"
    return "answer"


@require_http_methods(["GET", "HEAD", "POST"])
def attempt_item(request: HttpRequest, attempt_id: int, position: int) -> HttpResponse:
    attempt = _get_attempt_for_learner(request, attempt_id)
    item = get_object_or_404(
        attempt.items.select_related("question__lesson__module").prefetch_related(
            "question__choices"
        ),
        position=position,
    )
    question = item.question
    choices = item.shown_choices()
    # Before the choices' prefetch is touched again: fills the attempt's numbers in.
    question.show_numbers(item.parameters)
    stage = _stage(item)
    here = reverse("quizzes:attempt_item", args=[attempt.pk, item.position])
    # Bound on POST even when nothing was sent, so that an empty answer gets its error.
    data = request.POST if request.method == "POST" else None
    form: ChoiceAnswerForm | FreeTextAnswerForm | SelfGradeForm | None = None
    if stage == "answer" and not question.is_self_graded:
        form = ChoiceAnswerForm(data, choices=choices, multiple=question.allows_several_choices)
    elif stage == "answer":
        form = FreeTextAnswerForm(data)
    elif stage == "grade":
        form = SelfGradeForm(data)

    if request.method == "POST":
        if form is None:  # answered already (a second tab, a double click)
            return redirect(here + "#feedback")
        if form.is_valid():
            now = timezone.now()
            if isinstance(form, ChoiceAnswerForm):
                attempt.answer_choices(item, form.selected(), now)
                return redirect(here + "#feedback")
            if isinstance(form, FreeTextAnswerForm):
                attempt.write_answer(item, form.cleaned_data["answer"], now)
                return redirect(here + "#model-answer")
            attempt.self_grade(item, Rating(form.cleaned_data["rating"]), now)
            return redirect(here + "#feedback")

    following = (
        attempt.items.filter(position__gt=item.position, answered_at__isnull=True).first()
        or attempt.items.filter(answered_at__isnull=True).exclude(pk=item.pk).first()
    )
    context = {
        "attempt": attempt,
        "item": item,
        "question": question,
        "choices": choices,
        "selected": set(item.selected),
        "stage": stage,
        "form": form,
        "following": following,
        "self_grades": SELF_GRADES,
        "rating_label": _rating_label(item.rating),
    }
    return render(request, "quizzes/attempt_item.html", context)


def _rating_label(rating: int | None) -> str:
    return next((label for r, label, _help in SELF_GRADES if int(r) == rating), "")


@require_safe
def attempt_results(request: HttpRequest, attempt_id: int) -> HttpResponse:
    attempt = _get_attempt_for_learner(request, attempt_id)
    items = list(attempt.items.select_related("question__lesson__module"))
    for item in items:
        item.question.show_numbers(item.parameters)
    missed = [item for item in items if item.correct is False]
    return render(
        request,
        "quizzes/attempt_results.html",
        {
            "attempt": attempt,
            "items": items,
            "missed": missed,
            "unanswered": [item for item in items if not item.is_answered],
        },
    )


@require_POST
def attempt_retry(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """A new attempt with only the questions missed in this one."""
    attempt = _get_attempt_for_learner(request, attempt_id)
    if not attempt.is_finished or not attempt.missed_questions():
        return redirect("quizzes:attempt_results", attempt_id=attempt.pk)
    retry = attempt.retry_missed(timezone.now())
    return redirect("quizzes:attempt_item", attempt_id=retry.pk, position=1)


def start_of_tomorrow(now: datetime) -> datetime:
    local = timezone.localtime(now)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + timedelta(days=1)


@require_http_methods(["GET", "HEAD", "POST"])
def review_due(request: HttpRequest) -> HttpResponse:
    """Questions whose FSRS schedule says they are due today; POST starts a review."""
    now = timezone.now()
    learner = current_learner(request)
    due: list[ReviewCard] = []
    later: list[ReviewCard] = []
    if learner is not None:
        cards = learner.review_cards.filter(question__retired=False).select_related("question")
        tomorrow = start_of_tomorrow(now)
        due = list(cards.filter(due__lt=tomorrow).order_by("due"))
        later = list(cards.filter(due__gte=tomorrow).order_by("due")[:5])
        for card in [*due, *later]:
            card.question.show_numbers(card.question.example_parameters())
    if request.method == "POST":
        if not due:
            return redirect("quizzes:review")
        attempt = Attempt.start(
            learner_for_writing(request),
            [card.question for card in due[:REVIEW_BATCH]],
            now=now,
            kind=Attempt.Kind.REVIEW,
        )
        return redirect("quizzes:attempt_item", attempt_id=attempt.pk, position=1)
    anchors = Question.objects.filter(anchor=True, retired=False)
    if learner is not None:
        anchors = anchors.exclude(pk__in=learner.review_cards.values("question_id"))
    return render(
        request,
        "quizzes/review.html",
        {
            "due": due,
            "later": later,
            "batch": REVIEW_BATCH,
            "learner": learner,
            "new_anchors": anchors.count(),
        },
    )


@require_POST
def review_add_anchors(request: HttpRequest) -> HttpResponse:
    """Put the anchor numbers (16,384 slots, 15-minute tokens, ...) in the learner's
    review queue, due now; cards they already have keep their schedule."""
    learner = learner_for_writing(request)
    now = timezone.now()
    for question in Question.objects.filter(anchor=True, retired=False):
        ReviewCard.objects.get_or_create(learner=learner, question=question, defaults={"due": now})
    return redirect("quizzes:review")

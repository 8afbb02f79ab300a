"""The interview capstone: design prompts answered in writing, then self-graded
against a rubric.

One page per prompt walks three steps, chosen from the learner's latest answer:
write (no answer, or the last one graded), grade (the answer is written: the model
answer is shown and the learner ticks the rubric points they covered), and the
result, shown above a fresh "write" form. Grading saves the score, and a low one
sends the prompt's linked questions to the review queue (``CapstoneAnswer.grade``).
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from quizzes.forms import FreeTextAnswerForm
from quizzes.learners import current_learner, learner_for_writing
from quizzes.models import CapstoneAnswer, CapstonePrompt
from quizzes.models.capstone import REVIEW_BELOW


class RubricForm(forms.Form):
    """The rubric points the learner says their answer covered; none is a valid
    (honest) verdict."""

    covered = forms.TypedMultipleChoiceField(coerce=int, required=False)

    def __init__(self, *args: object, prompt: CapstonePrompt, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["covered"].choices = [(i, p["point"]) for i, p in enumerate(prompt.rubric)]


@require_safe
def capstone_list(request: HttpRequest) -> HttpResponse:
    prompts = list(CapstonePrompt.objects.all())
    learner = current_learner(request)
    best: dict[int, int] = {}
    if learner is not None:
        for answer in learner.capstone_answers.filter(score__isnull=False):
            best[answer.prompt_id] = max(best.get(answer.prompt_id, 0), answer.score or 0)
    rows = [(prompt, best.get(prompt.pk)) for prompt in prompts]
    return render(request, "quizzes/capstone_list.html", {"rows": rows})


@require_http_methods(["GET", "HEAD", "POST"])
def capstone_detail(request: HttpRequest, slug: str) -> HttpResponse:
    prompt = get_object_or_404(CapstonePrompt, slug=slug)
    learner = current_learner(request)
    answers = list(learner.capstone_answers.filter(prompt=prompt)[:10]) if learner else []
    latest = answers[0] if answers else None
    grading = latest is not None and not latest.is_graded
    here = reverse("quizzes:capstone", args=[prompt.slug])
    data = request.POST if request.method == "POST" else None
    write_form = FreeTextAnswerForm(None if grading else data)
    rubric_form = RubricForm(data if grading else None, prompt=prompt)
    if request.method == "POST":
        now = timezone.now()
        if grading and latest is not None and rubric_form.is_valid():
            latest.grade(rubric_form.cleaned_data["covered"], now)
            return redirect(here + "#result")
        if not grading and write_form.is_valid():
            CapstoneAnswer.write(
                learner_for_writing(request), prompt, write_form.cleaned_data["answer"], now
            )
            return redirect(here + "#model-answer")
    graded = next((a for a in answers if a.is_graded), None)
    context = {
        "prompt": prompt,
        "latest": latest,
        "grading": grading,
        "graded": graded,
        "covered": set(graded.covered) if graded else set(),
        "history": [a for a in answers if a.is_graded],
        "write_form": write_form,
        "rubric_form": rubric_form,
        "review_below": REVIEW_BELOW,
    }
    return render(request, "quizzes/capstone.html", context)

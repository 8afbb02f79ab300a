"""What the class's answers and experiments say: item analysis, the misconception
heatmap, the class's crash experiments.

Each view is ``@instructor_required``, reaches its class only through
``teach.access.classroom_for_instructor`` (another instructor's class is a 404) and
calls one function of ``teach.analysis``.
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from quizzes.decorators import instructor_required
from teach.access import classroom_for_instructor
from teach.analysis import (
    HARDEST_MIN_ATTEMPTS,
    class_experiments,
    experiment_charts,
    item_analysis,
    misconception_heatmap,
)


class HardestForm(forms.Form):
    """How many learners must have answered a question before it may count as hard."""

    min_attempts = forms.IntegerField(
        min_value=1,
        max_value=1000,
        required=False,
        label="Count a question once this many learners answered it",
    )

    def value(self) -> int:
        if self.is_valid() and self.cleaned_data["min_attempts"]:
            return int(self.cleaned_data["min_attempts"])
        return HARDEST_MIN_ATTEMPTS


@require_safe
@instructor_required
def items(request: HttpRequest, pk: int) -> HttpResponse:
    classroom = classroom_for_instructor(request.user, pk)
    form = HardestForm(request.GET or None)
    min_attempts = form.value()
    analysis = item_analysis(classroom, min_attempts=min_attempts)
    return render(
        request,
        "teach/analysis_items.html",
        {
            "classroom": classroom,
            "analysis": analysis,
            "form": form,
            "min_attempts": min_attempts,
            "attempted": [item for item in analysis.items if item.attempts],
        },
    )


@require_safe
@instructor_required
def misconceptions(request: HttpRequest, pk: int) -> HttpResponse:
    classroom = classroom_for_instructor(request.user, pk)
    return render(
        request,
        "teach/analysis_misconceptions.html",
        {"classroom": classroom, "heatmap": misconception_heatmap(classroom)},
    )


@require_safe
@instructor_required
def experiments(request: HttpRequest, pk: int) -> HttpResponse:
    classroom = classroom_for_instructor(request.user, pk)
    runs = class_experiments(classroom)
    return render(
        request,
        "teach/analysis_experiments.html",
        {"classroom": classroom, "experiments": runs, "charts": experiment_charts(runs)},
    )

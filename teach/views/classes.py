"""The instructor's classes: list, create, the class page, and what the page changes
(join code, co-instructors, learners, archive).

Every view is ``@instructor_required`` and reaches its class only through
``teach.access.classroom_for_instructor``: another instructor's class is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from quizzes.decorators import instructor_required
from teach.access import classroom_for_instructor
from teach.forms import ArchiveForm, ClassroomForm, CoInstructorForm
from teach.models import Classroom, Membership
from teach.roster import module_columns, roster


@require_safe
@instructor_required
def class_list(request: HttpRequest) -> HttpResponse:
    classes = list(Classroom.taught_by(request.user).order_by("-created_at"))
    return render(
        request,
        "teach/class_list.html",
        {
            "active": [c for c in classes if not c.archived],
            "archived": [c for c in classes if c.archived],
        },
    )


@require_http_methods(["GET", "HEAD", "POST"])
@instructor_required
def class_create(request: HttpRequest) -> HttpResponse:
    form = ClassroomForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        classroom = form.create(request.user)
        messages.success(request, f"Class “{classroom.name}” created: share its join code or link.")
        return redirect("teach:class", classroom.pk)
    return render(request, "teach/class_create.html", {"form": form})


def class_page_context(request: HttpRequest, classroom: Classroom, **extra: object) -> dict[str, object]:
    """What the class page (the dashboard shell) renders: the class, its roster and
    the forms of its settings. Other parts of the dashboard add their own keys."""
    columns = module_columns()
    join_path = reverse("teach:join_code", args=[classroom.join_code])
    context: dict[str, object] = {
        "classroom": classroom,
        "columns": columns,
        "rows": roster(classroom, columns=columns),
        "join_url": request.build_absolute_uri(join_path),
        "instructors": list(classroom.instructors.order_by("username")),
        "co_instructor_form": CoInstructorForm(classroom=classroom),
    }
    context.update(extra)
    return context


@require_safe
@instructor_required
def class_page(request: HttpRequest, pk: int) -> HttpResponse:
    classroom = classroom_for_instructor(request.user, pk)
    return render(request, "teach/class_page.html", class_page_context(request, classroom))


@require_POST
@instructor_required
def rotate_code(request: HttpRequest, pk: int) -> HttpResponse:
    classroom = classroom_for_instructor(request.user, pk)
    code = classroom.rotate_code()
    messages.success(request, f"New join code: {code}. The old code and link no longer work.")
    return redirect("teach:class", classroom.pk)


@require_POST
@instructor_required
def add_instructor(request: HttpRequest, pk: int) -> HttpResponse:
    classroom = classroom_for_instructor(request.user, pk)
    form = CoInstructorForm(request.POST, classroom=classroom)
    if form.is_valid():
        user = form.save()
        messages.success(request, f"{user.get_username()} now teaches this class too.")
        return redirect("teach:class", classroom.pk)
    context = class_page_context(request, classroom, co_instructor_form=form)
    return render(request, "teach/class_page.html", context, status=400)


@require_POST
@instructor_required
def set_archived(request: HttpRequest, pk: int) -> HttpResponse:
    classroom = classroom_for_instructor(request.user, pk)
    form = ArchiveForm(request.POST)
    form.is_valid()  # a lone optional checkbox is always valid
    archived = bool(form.cleaned_data.get("archived"))
    classroom.set_archived(archived)
    if archived:
        messages.success(request, "Class archived: its code no longer lets anyone join.")
    else:
        messages.success(request, "Class restored: learners can join with its code again.")
    return redirect("teach:class", classroom.pk)


@require_http_methods(["GET", "HEAD", "POST"])
@instructor_required
def remove_learner(request: HttpRequest, pk: int, user_id: int) -> HttpResponse:
    """GET asks to confirm; POST removes. The learner keeps their own progress."""
    classroom = classroom_for_instructor(request.user, pk)
    membership = (
        Membership.objects.filter(classroom=classroom, user_id=user_id, removed_at__isnull=True)
        .select_related("user")
        .first()
    )
    if membership is None:
        raise Http404("No such learner in this class.")
    if request.method == "POST":
        classroom.remove_member(user_id)
        messages.success(request, f"{membership.user.get_username()} was removed from the class.")
        return redirect("teach:class", classroom.pk)
    return render(request, "teach/remove_learner.html", {"classroom": classroom, "membership": membership})

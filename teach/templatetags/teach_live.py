"""Template tags of the live dashboard.

* ``{% class_presence %}`` (base.html) — for a signed-in learner who is in a class:
  the banner container, the newest nudge of the last 10 minutes, and the presence
  script; for everyone else nothing (no query: ``teach.standing`` is cached).
* ``{% teach_standing as standing %}`` — whether the user may teach (the nav link).
* ``{% live_dashboard classroom %}`` (the class page) — the live sections: presence,
  Prepare class, Crash everyone with its histogram, Send the class to a page, and
  the saved runs.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from teach.access import memberships_of
from teach.standing import Standing, standing
from teach.live import NUDGE_FRESH_FOR
from teach.models import Classroom, Nudge

register = template.Library()


@register.inclusion_tag("teach/_live_presence.html", takes_context=True)
def class_presence(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if not standing(user).class_ids:  # cached: no query for a learner in no class
        return {"in_class": False}
    # One query whether or not there is a nudge: the newest fresh one rides along.
    fresh = Nudge.objects.filter(
        classroom=OuterRef("classroom"), sent_at__gte=timezone.now() - NUDGE_FRESH_FOR
    ).order_by("-sent_at")
    rows = list(
        memberships_of(user).annotate(nudge_at=Subquery(fresh.values("sent_at")[:1]),
                                      nudge_path=Subquery(fresh.values("path")[:1]),
                                      nudge_title=Subquery(fresh.values("title")[:1]))
        .values("nudge_at", "nudge_path", "nudge_title")
    )
    if not rows:
        return {"in_class": False}
    newest = max((r for r in rows if r["nudge_at"] is not None), key=lambda r: r["nudge_at"], default=None)
    nudge = {"path": newest["nudge_path"], "title": newest["nudge_title"]} if newest else None
    # Not shown on the page it points to: the learner is already there.
    if nudge is not None and request.path == nudge["path"]:
        nudge = None
    return {"in_class": True, "nudge": nudge}


@register.simple_tag(takes_context=True)
def teach_standing(context: template.Context) -> Standing:
    """``{% teach_standing as standing %}``: may this user teach, which classes (cached)."""
    request = context.get("request")
    return standing(getattr(request, "user", None))


@register.inclusion_tag("teach/_live_dashboard.html", takes_context=True)
def live_dashboard(context: template.Context, classroom: Classroom) -> dict[str, Any]:
    from teach.views.live import NudgeForm

    return {
        "classroom": classroom,
        "nudge_form": NudgeForm(),
        "runs": list(classroom.runs.all()[:10]),
        "csrf_token": context.get("csrf_token"),
    }

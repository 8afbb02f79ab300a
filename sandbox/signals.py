"""At sign-in, a guest's sandbox, experiments and passed lab steps become the account's.

``django.contrib.auth.login`` keeps the session's data, so the guest token made by
the sandbox page is still there. A user who already has a sandbox keeps theirs;
the guest's row is then left to the idle culler.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from sandbox.models import Experiment, LabPass, Sandbox
from sandbox.owners import SESSION_KEY


@receiver(user_logged_in, dispatch_uid="sandbox.adopt_guest")
def adopt_guest_sandbox(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    token = request.session.pop(SESSION_KEY, None)
    if not token:
        return
    Experiment.objects.filter(owner_token=token, owner_user=None).update(
        owner_user=user, owner_token=None
    )
    mine = set(LabPass.objects.filter(owner_user=user).values_list("lesson_slug", "lab_id"))
    for lab_pass in LabPass.objects.filter(owner_token=token, owner_user=None):
        if (lab_pass.lesson_slug, lab_pass.lab_id) in mine:
            lab_pass.delete()  # the account passed it already; its own date stands
        else:
            lab_pass.owner_user, lab_pass.owner_token = user, None
            lab_pass.save(update_fields=["owner_user", "owner_token"])
    if not Sandbox.objects.filter(owner_user=user).exists():
        Sandbox.objects.filter(owner_token=token, owner_user=None).update(
            owner_user=user, owner_token=None
        )

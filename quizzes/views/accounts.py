"""Sign-up. Sign-in, sign-out and password reset are django.contrib.auth's views
with the templates in templates/registration/."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from quizzes.forms import SignUpForm
from quizzes.learners import current_learner


@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("quizzes:me")
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    form = SignUpForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        had_progress = current_learner(request) is not None
        user = form.save()
        # login() fires user_logged_in, whose receiver moves the visitor's progress
        # to the new account.
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        note = " Your progress so far is saved to it." if had_progress else ""
        messages.success(request, f"Welcome, {user.get_username()}: your account is ready.{note}")
        return redirect(next_url or "quizzes:me")
    return render(request, "registration/signup.html", {"form": form, "next": next_url})

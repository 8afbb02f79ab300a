"""Sign-up and sign-in. Sign-in is django.contrib.auth's view with a throttled form;
sign-out and password reset are django.contrib.auth's views; all use the templates
in templates/registration/."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import LoginView, PasswordResetView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from memorydb_lab.addresses import request_address
from quizzes import throttle
from quizzes.forms import SignInForm, SignUpForm
from quizzes.learners import current_learner


class SignInView(LoginView):
    authentication_form = SignInForm

    def form_invalid(self, form: SignInForm) -> HttpResponse:  # type: ignore[override]
        response = super().form_invalid(form)
        if form.throttled:
            # Too Many Requests: scripts see it without reading the page.
            response.status_code = 429
        return response


class ThrottledPasswordResetView(PasswordResetView):
    """Each request mails someone: counted per address and per email address, and
    refused (429, nothing sent) past the limits."""

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        refusal = throttle.password_reset_refusal(form.cleaned_data["email"], request_address(self.request))
        if refusal is not None:
            form.add_error(None, refusal.message)
            response = self.form_invalid(form)
            response.status_code = 429
            return response
        return super().form_valid(form)


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
    if request.method == "POST":
        # Every posted form counts, valid or not: each one can ask whether a
        # username or email has an account, and each valid one makes an account.
        limit = throttle.signup_limit()
        address = request_address(request)
        refusal = limit.refusal(address)
        if refusal is not None:
            # Not validated (that would answer the probe): what was typed comes
            # back as initial values, passwords excepted.
            form = SignUpForm(initial={k: request.POST.get(k, "") for k in ("username", "email")})
            context = {"form": form, "next": next_url, "refusal": refusal.message}
            return render(request, "registration/signup.html", context, status=429)
        limit.record(address)
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

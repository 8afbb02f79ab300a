"""Plain forms that validate what learners send; views render the fields themselves
where a label holds HTML (a choice's text has code spans)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.contrib.auth.models import User

from memorydb_lab.addresses import request_address
from quizzes import throttle
from quizzes.models import Choice
from quizzes.scheduling import SELF_GRADES

MAX_ANSWER_LENGTH = 5000


class ChoiceAnswerForm(forms.Form):
    """One or several of the choices shown; the ids must be among them."""

    def __init__(self, *args: Any, choices: list[Choice], multiple: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = [(str(choice.pk), choice.text) for choice in choices]
        if multiple:
            self.fields["choice"] = forms.MultipleChoiceField(
                choices=options,
                widget=forms.CheckboxSelectMultiple,
                error_messages={"required": "Pick at least one answer."},
            )
        else:
            self.fields["choice"] = forms.ChoiceField(
                choices=options,
                widget=forms.RadioSelect,
                error_messages={"required": "Pick an answer."},
            )

    def selected(self) -> list[int]:
        value = self.cleaned_data["choice"]
        return [int(v) for v in (value if isinstance(value, list) else [value])]


class FreeTextAnswerForm(forms.Form):
    answer = forms.CharField(
        label="Your answer",
        widget=forms.Textarea(attrs={"rows": 8}),
        max_length=MAX_ANSWER_LENGTH,
        error_messages={"required": "Write your answer first, even a rough one."},
    )


class SelfGradeForm(forms.Form):
    rating = forms.TypedChoiceField(
        choices=[(int(rating), label) for rating, label, _help in SELF_GRADES],
        coerce=int,
    )


class SignUpForm(UserCreationForm):
    email = forms.EmailField(
        label="Email", help_text="Only used to reset your password.", required=True
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email exists; sign in instead.")
        return email


class SignInForm(AuthenticationForm):
    """Django's sign-in form behind the throttle (quizzes.throttle): a locked account
    or address is refused before the password is checked, a failure is counted, a
    success clears the account's count."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The refusal's text when the throttle said no; the view answers 429 then.
        self.throttled = ""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username is None or not self.cleaned_data.get("password"):
            return super().clean()
        address = request_address(self.request) if self.request is not None else "unknown"
        refusal = throttle.sign_in_refusal(username, address)
        if refusal is not None:
            self.throttled = refusal.message
            raise forms.ValidationError(refusal.message, code="throttled")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            throttle.sign_in_failed(username, address)
            raise
        throttle.sign_in_succeeded(username)
        return cleaned

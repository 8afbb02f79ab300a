"""Plain forms of the teach pages: what instructors and joining learners send."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from quizzes.roles import is_instructor
from teach.models import CODE_LENGTH, Classroom, normalise_code


class ClassroomForm(forms.Form):
    name = forms.CharField(
        label="Class name",
        max_length=120,
        help_text="Learners see it when they join, e.g. “Databases, spring term, group B”.",
    )

    def create(self, user: Any) -> Classroom:
        classroom = Classroom.objects.create(name=self.cleaned_data["name"].strip(), created_by=user)
        classroom.instructors.add(user)
        return classroom


class CoInstructorForm(forms.Form):
    username = forms.CharField(label="Username of the co-instructor", max_length=150)

    def __init__(self, *args: Any, classroom: Classroom, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.classroom = classroom

    def clean_username(self) -> Any:
        username = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username=username).first()
        # One message for "no such user" and "not an instructor": the form should
        # not tell an instructor which usernames exist.
        if user is None or not is_instructor(user):
            raise forms.ValidationError("No instructor has this username.")
        if self.classroom.instructors.filter(pk=user.pk).exists():
            raise forms.ValidationError(f"{username} already teaches this class.")
        return user

    def save(self) -> Any:
        user = self.cleaned_data["username"]
        self.classroom.instructors.add(user)
        return user


class JoinCodeForm(forms.Form):
    code = forms.CharField(
        label="Join code",
        max_length=32,
        help_text=f"{CODE_LENGTH} letters and digits, as your instructor shows it.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}),
    )

    def clean_code(self) -> str:
        code = normalise_code(self.cleaned_data["code"])
        if not code:
            raise forms.ValidationError("Type the code your instructor gave you.")
        return code


class ArchiveForm(forms.Form):
    archived = forms.BooleanField(required=False)

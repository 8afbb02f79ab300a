"""Admin for staff: edit course content with the same rendering and sanitizing as
``load_content``, and look at (not edit) learners' progress.

The files under ``quizzes/content/`` remain the source of truth: the next
``load_content`` (every ``scripts/run``) overwrites admin edits, so an edit here is
a quick fix to be copied into the files. Every Markdown field is re-rendered and
re-sanitized on save, and a broken [[lesson:]], [[question:]], {{fact:}} or diagram
link is refused with the form's error, exactly as the loader refuses it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from quizzes.loader import index_from_database
from quizzes.loader.render import (
    QUESTION_TEXT_FIELDS,
    render_choice_fields,
    render_lesson,
    render_question_fields,
)
from quizzes.models import (
    Attempt,
    AttemptItem,
    Choice,
    Diagram,
    Fact,
    Learner,
    Lesson,
    Module,
    Question,
    Quiz,
    QuizItem,
    ReviewCard,
    Topic,
)
from quizzes.models.content import Misconception
from quizzes.rendering import ContentError, ContentRenderer


class RenderingForm(forms.ModelForm):
    """A ModelForm whose ``render_fields`` turns cleaned Markdown into stored HTML fields."""

    rendered: dict[str, Any]

    def render_fields(self, renderer: ContentRenderer, data: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.rendered = self.render_fields(ContentRenderer(index_from_database()), cleaned)
        except ContentError as exc:
            raise ValidationError(exc.problems) from None
        return cleaned

    def save(self, commit: bool = True) -> Any:
        instance = super().save(commit=False)
        for name, value in self.rendered.items():
            if not name.startswith("_"):
                setattr(instance, name, value)
        if commit:
            instance.save()
            self.save_m2m()
        return instance


class LessonForm(RenderingForm):
    class Meta:
        model = Lesson
        exclude = ("body_html", "facts")

    def render_fields(self, renderer: ContentRenderer, data: dict[str, Any]) -> dict[str, Any]:
        body_html, cited, labs = render_lesson(
            renderer, data.get("body_markdown", ""), list(data.get("labs") or []), "body"
        )
        return {"body_html": body_html, "labs": labs, "_cited": cited}


def _rendered_preview(html: str) -> SafeString:
    # Stored HTML is sanitized output (see quizzes.rendering), safe to show as is.
    return mark_safe(f'<div class="readonly">{html}</div>')  # noqa: S308


@admin.register(Lesson)
class LessonAdmin(admin.ModelAdmin):
    form = LessonForm
    list_display = ("title", "module", "number", "minutes", "source_path")
    list_filter = ("module", "topics")
    search_fields = ("title", "slug", "body_markdown")
    readonly_fields = ("preview", "cited_facts", "source_path")
    filter_horizontal = ("topics",)

    @admin.display(description="Rendered page")
    def preview(self, lesson: Lesson) -> SafeString:
        return _rendered_preview(lesson.body_html)

    @admin.display(description="Facts cited")
    def cited_facts(self, lesson: Lesson) -> str:
        return ", ".join(fact.slug for fact in lesson.facts.all()) or "none"

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        form.instance.facts.set(Fact.objects.filter(slug__in=form.rendered["_cited"]))


class QuestionForm(RenderingForm):
    class Meta:
        model = Question
        exclude = tuple(f"{name}_html" for name in QUESTION_TEXT_FIELDS)

    def render_fields(self, renderer: ContentRenderer, data: dict[str, Any]) -> dict[str, Any]:
        texts = {name: data.get(name, "") for name in QUESTION_TEXT_FIELDS}
        return render_question_fields(renderer, texts, "question")


class ChoiceForm(RenderingForm):
    class Meta:
        model = Choice
        fields = ("position", "text", "correct", "why", "misconception")

    def render_fields(self, renderer: ContentRenderer, data: dict[str, Any]) -> dict[str, Any]:
        return render_choice_fields(renderer, data.get("text", ""), data.get("why", ""), "choice")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # The loader's rule: a right answer reveals no wrong belief.
        if cleaned.get("correct") and cleaned.get("misconception"):
            raise ValidationError("A correct choice cannot carry a misconception.")
        return cleaned


class ChoiceInline(admin.TabularInline):
    model = Choice
    form = ChoiceForm
    extra = 0


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    form = QuestionForm
    inlines = [ChoiceInline]
    list_display = (
        "slug", "kind", "difficulty", "lesson", "material_focus", "corrects_material", "retired"
    )
    list_filter = ("kind", "difficulty", "topics", "corrects_material", "retired")
    search_fields = ("slug", "prompt", "model_answer")
    filter_horizontal = ("topics", "facts")


class FactForm(forms.ModelForm):
    class Meta:
        model = Fact
        fields = "__all__"

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        if ":" in url.split("/", 1)[0] and not url.startswith(("https://", "http://")):
            raise ValidationError("Use an http(s) address or a path in the repository.")
        return url


@admin.register(Fact)
class FactAdmin(admin.ModelAdmin):
    form = FactForm
    list_display = ("slug", "topic", "source", "published", "checked")
    list_filter = ("topic", "checked")
    search_fields = ("slug", "claim", "source")

    def save_model(self, request: HttpRequest, obj: Fact, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Lessons carry the fact's card in their stored HTML: refresh those that cite it.
        renderer = ContentRenderer(index_from_database())
        for lesson in obj.lessons.all():
            lesson.body_html, _cited, lesson.labs = render_lesson(
                renderer, lesson.body_markdown, lesson.labs, lesson.slug
            )
            lesson.save(update_fields=["body_html", "labs"])


class QuizItemInline(admin.TabularInline):
    model = QuizItem
    extra = 0
    autocomplete_fields = ("question",)


@admin.register(Quiz)
class QuizAdmin(admin.ModelAdmin):
    inlines = [QuizItemInline]
    list_display = ("title", "module", "mode", "public", "position")


@admin.register(Misconception)
class MisconceptionAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "lesson", "position")
    search_fields = ("slug", "title", "statement")


@admin.register(Module)
class ModuleAdmin(admin.ModelAdmin):
    list_display = ("number", "title", "slug")


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "position")


@admin.register(Diagram)
class DiagramAdmin(admin.ModelAdmin):
    """Diagrams are files; the admin only shows them."""

    list_display = ("name", "width", "height", "digest")
    readonly_fields = ("name", "picture", "width", "height", "digest")
    exclude = ("svg",)

    @admin.display(description="Picture")
    def picture(self, diagram: Diagram) -> str:
        return format_html('<img src="{}" alt="" width="640">', diagram.get_absolute_url())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Learners' records: visible to staff for support, changed only by learning."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AttemptItemInline(admin.TabularInline):
    model = AttemptItem
    fields = ("position", "question", "correct", "rating", "answered_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Attempt)
class AttemptAdmin(ReadOnlyAdmin):
    inlines = [AttemptItemInline]
    list_display = (
        "pk", "learner", "quiz", "kind", "started_at", "finished_at", "correct_count", "total"
    )
    list_filter = ("kind", "quiz")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Attempt]:
        return super().get_queryset(request).select_related("learner__user", "quiz")


@admin.register(Learner)
class LearnerAdmin(ReadOnlyAdmin):
    list_display = ("pk", "user", "created_at")
    search_fields = ("user__username", "user__email")


@admin.register(ReviewCard)
class ReviewCardAdmin(ReadOnlyAdmin):
    list_display = ("learner", "question", "due", "stability", "difficulty", "reviews", "lapses")
    list_select_related = ("learner__user", "question")

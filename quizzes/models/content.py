"""The course itself: topics, facts, diagrams, modules, lessons, questions, misconceptions, quizzes.

Every row here is derived from the files under ``quizzes/content/`` by
``manage.py load_content``, which is the source of truth: re-running it overwrites
edits made in the admin. Each model keeps its Markdown and the HTML rendered from it
once, at load (or admin save) time, by ``quizzes.rendering``; templates print the
stored HTML and never render Markdown per request.

Invariant: every ``*_html`` field holds bleach-sanitized output of the matching
Markdown field, so templates may mark it safe.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models
from django.urls import reverse


class Topic(models.Model):
    """A tag shared by facts, lessons and questions (durability, failover, ...)."""

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=80)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.title


class Fact(models.Model):
    """A claim that can change, with where it comes from and when it was checked."""

    slug = models.SlugField(max_length=100, unique=True)
    claim = models.TextField()
    source = models.CharField(max_length=300)
    # Not a URLField: the course material has no public address and is cited by its
    # path in the repository; such a source is shown as text, not as a link.
    url = models.CharField(max_length=500)
    # As the source states it: a year, a full date, or "unknown".
    published = models.CharField(max_length=20)
    checked = models.DateField()
    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="facts")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.slug

    @property
    def link(self) -> str:
        """The source's address when a browser can open it, else ''."""
        return self.url if self.url.startswith(("https://", "http://")) else ""

    def get_absolute_url(self) -> str:
        return f"{reverse('quizzes:facts')}#fact-{self.slug}"


class Diagram(models.Model):
    """An SVG picture used in lessons as ``![alt](diagram:name)``."""

    name = models.SlugField(unique=True)
    svg = models.TextField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # Short content hash, added to the URL so browsers may cache a version for ever.
    digest = models.CharField(max_length=16)

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return f"{reverse('quizzes:diagram', args=[self.name])}?v={self.digest}"


class Module(models.Model):
    """A chapter of the learning path, from one ``lessons/<NN-slug>/`` folder."""

    slug = models.SlugField(unique=True)
    # Uniqueness of numbers is checked by the loader, not by a constraint that a
    # renumbering (two rows swapping numbers in one bulk update) would trip over.
    number = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200)
    summary = models.TextField()

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("quizzes:module", args=[self.slug])


class Lesson(models.Model):
    """One page of the learning path."""

    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="lessons")
    slug = models.SlugField(unique=True)
    number = models.PositiveSmallIntegerField(help_text="Position within the module.")
    # Position on the whole path, so that ordering never needs a join.
    position = models.PositiveIntegerField(default=0, db_index=True)
    title = models.CharField(max_length=200)
    summary = models.TextField()
    minutes = models.PositiveSmallIntegerField(default=5)
    topics = models.ManyToManyField(Topic, related_name="lessons")
    facts = models.ManyToManyField(Fact, related_name="lessons", blank=True)
    body_markdown = models.TextField()
    body_html = models.TextField(blank=True)
    # Lab steps from the front matter, checked against the sandbox once it exists:
    # [{"id", "instruction", "instruction_html", "check": {...}, "hint", "hint_html"}].
    labs = models.JSONField(default=list, blank=True)
    source_path = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("quizzes:lesson", args=[self.module.slug, self.slug])


class Question(models.Model):
    """An interview question; with choices it is also a quiz item graded by the site."""

    class Kind(models.TextChoices):
        SINGLE = "single", "Multiple choice, one answer"
        MULTI = "multi", "Multiple choice, several answers"
        PREDICT = "predict", "Predict, then reveal"
        INTERVIEW = "interview", "Free text, graded by yourself"

    slug = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    difficulty = models.PositiveSmallIntegerField(
        choices=[(1, "Warm-up"), (2, "Core"), (3, "Senior")]
    )
    topics = models.ManyToManyField(Topic, related_name="questions")
    facts = models.ManyToManyField(Fact, related_name="questions", blank=True)
    lesson = models.ForeignKey(
        Lesson, on_delete=models.SET_NULL, null=True, blank=True, related_name="questions"
    )
    # Number of the "Interview Focus Points" item of the course material it answers.
    material_focus = models.PositiveSmallIntegerField(null=True, blank=True)
    # Its right answer corrects something the course material gets wrong or dated.
    corrects_material = models.BooleanField(default=False)
    prompt = models.TextField()
    prompt_html = models.TextField(blank=True)
    model_answer = models.TextField()
    model_answer_html = models.TextField(blank=True)
    follow_up = models.TextField()
    follow_up_html = models.TextField(blank=True)
    follow_up_answer = models.TextField()
    follow_up_answer_html = models.TextField(blank=True)
    explanation = models.TextField()
    explanation_html = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0, db_index=True)
    # A question removed from the files is retired, not deleted: learners' answers
    # and review cards point at it.
    retired = models.BooleanField(default=False)
    # A number worth remembering (16,384 slots, 15-minute IAM tokens, ...), which a
    # learner can add to their review queue before meeting it in a quiz.
    anchor = models.BooleanField(default=False)
    # Parameterized question (``quizzes.variants``): {"parameters": {name: [values]},
    # "answer": expression, "values": [expression per choice]}; {} for a fixed one.
    variants = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.slug

    def get_absolute_url(self) -> str:
        return reverse("quizzes:question", args=[self.slug])

    @property
    def is_self_graded(self) -> bool:
        return self.kind == self.Kind.INTERVIEW

    @property
    def allows_several_choices(self) -> bool:
        return self.kind == self.Kind.MULTI

    @property
    def has_variants(self) -> bool:
        return bool(self.variants)

    def example_parameters(self) -> dict[str, int]:
        """The numbers the question bank shows a parameterized question with."""
        from quizzes import variants

        return variants.example(self.variants["parameters"]) if self.variants else {}

    def show_numbers(self, values: dict[str, int]) -> None:
        """Fill this parameterized question's texts, and its prefetched choices', with
        ``values``. Only on these instances: they must not be saved afterwards."""
        if not (self.variants and values):
            return
        from quizzes import variants

        names = variants.scope(self.variants, values)
        for field in (
            "prompt_html", "model_answer_html", "follow_up_html", "follow_up_answer_html",
            "explanation_html",
        ):  # fmt: skip
            setattr(self, field, variants.fill(getattr(self, field), names))
        for choice in getattr(self, "_prefetched_objects_cache", {}).get("choices", []):
            own = variants.scope(self.variants, values, choice.position)
            choice.text_html = variants.fill(choice.text_html, own)
            choice.why_html = variants.fill(choice.why_html, own)

    def grade_choices(
        self,
        selected: Iterable[int],
        choices: Iterable[Choice],
        parameters: dict[str, int] | None = None,
    ) -> bool:
        """Right when exactly the correct choices were picked (all or nothing).

        For a parameterized question the correct choices are computed from the
        numbers this attempt drew, not read from the stored flag.
        """
        choices = list(choices)
        if self.variants and parameters:
            from quizzes import variants

            right = variants.correct_positions(self.variants, parameters)
            correct = {choice.pk for choice in choices if choice.position in right}
        else:
            correct = {choice.pk for choice in choices if choice.correct}
        return bool(correct) and set(selected) == correct


class Misconception(models.Model):
    """A wrong belief that wrong choices stand for, from ``misconceptions.yaml``.

    Instructors see how often each learner picked a choice tagged with it, next to
    the lesson that corrects it.
    """

    slug = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200)
    # The learner's wrong belief, in one sentence of our own.
    statement = models.TextField()
    lesson = models.ForeignKey(
        Lesson, on_delete=models.SET_NULL, null=True, blank=True, related_name="misconceptions"
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.title


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    # Kept stable across reloads (rows are matched on question + position), because
    # attempts store the ids of the choices they showed and picked.
    position = models.PositiveSmallIntegerField()
    text = models.TextField()
    text_html = models.TextField(blank=True)
    correct = models.BooleanField(default=False)
    why = models.TextField(blank=True)
    why_html = models.TextField(blank=True)
    # What picking this (wrong) choice suggests the learner believes; never set on a
    # correct choice (the loader refuses it).
    misconception = models.ForeignKey(
        Misconception, on_delete=models.SET_NULL, null=True, blank=True, related_name="choices"
    )

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["question", "position"], name="choice_position")
        ]

    def __str__(self) -> str:
        return self.text


class Quiz(models.Model):
    class Mode(models.TextChoices):
        MODULE = "module", "Module quiz"
        INTERVIEW = "interview", "Interview mode"

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    module = models.ForeignKey(
        Module, on_delete=models.SET_NULL, null=True, blank=True, related_name="quizzes"
    )
    mode = models.CharField(max_length=12, choices=Mode.choices)
    position = models.PositiveSmallIntegerField(default=0)
    # Open to visitors without an account (the first quiz of the path).
    public = models.BooleanField(default=False)
    questions = models.ManyToManyField(Question, through="QuizItem", related_name="quizzes")

    class Meta:
        ordering = ["position"]
        verbose_name_plural = "quizzes"

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("quizzes:quiz", args=[self.slug])

    def is_open_to(self, user: object) -> bool:
        return self.public or bool(getattr(user, "is_authenticated", False))

    def active_questions(self) -> list[Question]:
        return [
            item.question
            for item in self.items.select_related("question").order_by("position")
            if not item.question.retired
        ]


class QuizItem(models.Model):
    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="items")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["quiz", "question"], name="quiz_question_once"),
        ]

"""Small content rows for tests that do not need the whole course."""

from __future__ import annotations

from itertools import count

from quizzes.models import Choice, Lesson, Module, Question, Quiz, QuizItem, Topic

_numbers = count(1)


def topic(slug: str = "durability") -> Topic:
    return Topic.objects.get_or_create(slug=slug, defaults={"title": slug.title()})[0]


def lesson() -> Lesson:
    n = next(_numbers)
    module = Module.objects.create(slug=f"module-{n}", number=n, title=f"Module {n}", summary="s")
    return Lesson.objects.create(
        module=module, slug=f"lesson-{n}", number=1, position=n * 1000 + 1,
        title=f"Lesson {n}", summary="s", body_markdown="Body", body_html="<p>Body</p>",
    )  # fmt: skip


def question(
    kind: str = Question.Kind.SINGLE,
    choices: tuple[bool, ...] = (False, True, False),
    topics: tuple[str, ...] = ("durability",),
) -> Question:
    n = next(_numbers)
    q = Question.objects.create(
        slug=f"q-{n}", kind=kind, difficulty=2, prompt=f"Question {n}?",
        prompt_html=f"Question {n}?", model_answer="Model answer.",
        model_answer_html="<p>Model answer.</p>", follow_up="Follow-up?",
        follow_up_html="Follow-up?", follow_up_answer="Yes.", follow_up_answer_html="<p>Yes.</p>",
        explanation=f"Explanation {n}.", explanation_html=f"<p>Explanation {n}.</p>", position=n,
    )  # fmt: skip
    q.topics.set([topic(slug) for slug in topics])
    if kind != Question.Kind.INTERVIEW:
        for position, correct in enumerate(choices, start=1):
            Choice.objects.create(
                question=q, position=position, text=f"Choice {position}",
                text_html=f"Choice {position}", correct=correct, why=f"Why {position}.",
                why_html=f"Why {position}.",
            )  # fmt: skip
    return q


def quiz(questions: list[Question], public: bool = True) -> Quiz:
    n = next(_numbers)
    made = Quiz.objects.create(slug=f"quiz-{n}", title=f"Quiz {n}", mode=Quiz.Mode.MODULE, public=public, position=n)
    for position, q in enumerate(questions, start=1):
        QuizItem.objects.create(quiz=made, question=q, position=position)
    return made


def correct_ids(q: Question) -> list[int]:
    return [c.pk for c in q.choices.all() if c.correct]


def wrong_ids(q: Question) -> list[int]:
    return [next(c.pk for c in q.choices.all() if not c.correct)]

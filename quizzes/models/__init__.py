"""Models of the quizzes app.

``content`` holds what the course is made of (loaded from ``quizzes/content/`` by
``manage.py load_content``); ``progress`` holds what each learner did with it.
"""

from quizzes.models.capstone import CapstoneAnswer, CapstonePrompt
from quizzes.models.content import (
    Choice,
    Diagram,
    Fact,
    Lesson,
    Module,
    Question,
    Quiz,
    QuizItem,
    Topic,
)
from quizzes.models.progress import (
    Attempt,
    AttemptItem,
    Learner,
    LessonRead,
    ReviewCard,
)

__all__ = [
    "Attempt",
    "AttemptItem",
    "CapstoneAnswer",
    "CapstonePrompt",
    "Choice",
    "Diagram",
    "Fact",
    "Learner",
    "Lesson",
    "LessonRead",
    "Module",
    "Question",
    "Quiz",
    "QuizItem",
    "ReviewCard",
    "Topic",
]

"""App config of the quizzes app (learning path, interview prep, instructor tools)."""

from django.apps import AppConfig


class QuizzesConfig(AppConfig):
    name = "quizzes"
    verbose_name = "Lessons and quizzes"
    default_auto_field = "django.db.models.BigAutoField"

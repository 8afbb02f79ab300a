"""App config of the quizzes app (learning path, interview prep, instructor tools)."""

from django.apps import AppConfig


class QuizzesConfig(AppConfig):
    name = "quizzes"
    verbose_name = "Lessons and quizzes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_migrate

        from quizzes.roles import ensure_roles
        from quizzes.signals import on_user_logged_in

        user_logged_in.connect(on_user_logged_in, dispatch_uid="quizzes.adopt_visitor")
        post_migrate.connect(ensure_roles, sender=self, dispatch_uid="quizzes.roles")

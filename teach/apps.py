"""App config of the teach app (classes, rosters, the live class dashboard and its analyses)."""

from django.apps import AppConfig


class TeachConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "teach"
    verbose_name = "Teaching"

    def ready(self) -> None:
        # The live dashboard hears of learners' changes through these receivers.
        from teach import signals, standing  # noqa: F401  (the cached standing forgets on change)

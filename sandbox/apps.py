"""App config of the sandbox app: the learner's live clusters, as seen from the site.

The engine itself lives in sandbox.engine and knows nothing of Django; this app is
the Django side (models, manager, websocket consumer, pages) that drives it.
"""

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "Sandbox clusters"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from sandbox import signals  # noqa: F401  (connects the sign-in receiver)

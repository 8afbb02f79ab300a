"""App config of the sandbox app: the learner's live cluster, as seen from the site.

The engine itself lives in sandbox.engine and knows nothing of Django; this app is
the Django side (models, views, websocket consumers) that drives it.
"""

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "Sandbox clusters"
    default_auto_field = "django.db.models.BigAutoField"

"""URL patterns of the quizzes app, mounted at the site root with names "quizzes:...".

Mounted already, while still empty, and at the root so that each pattern carries
its full path (e.g. "learn/<slug>/") and lessons and quizzes can be added here
without touching the project's urls.py.
"""

from django.urls import URLPattern

app_name = "quizzes"

urlpatterns: list[URLPattern] = []

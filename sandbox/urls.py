"""URL patterns of the sandbox app, mounted at the site root with names "sandbox:...".

Mounted already, while still empty, and at the root so that each pattern carries
its full path (e.g. "learn/<slug>/") and the sandbox page can be added here
without touching the project's urls.py.
"""

from django.urls import URLPattern

app_name = "sandbox"

urlpatterns: list[URLPattern] = []

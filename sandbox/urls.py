"""URL patterns of the sandbox app, mounted at the site root with names "sandbox:...".

Mounted at the root so that each pattern carries its full path.
"""

from django.urls import path

from sandbox import views

app_name = "sandbox"

urlpatterns = [
    path("sandbox/", views.sandbox_page, name="page"),
    path("sandbox/session/", views.claim_session, name="session"),
    path("sandbox/experiments/", views.experiment_list, name="experiments"),
    path("sandbox/experiments/<int:pk>/", views.experiment_detail, name="experiment"),
]

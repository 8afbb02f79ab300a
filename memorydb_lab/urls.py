"""Root URL configuration: site-wide pages here, each app's pages in its own urls.py."""

from django.contrib import admin
from django.urls import include, path

from memorydb_lab import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("sandbox.urls")),
    path("", include("quizzes.urls")),
]

"""Root URL configuration: site-wide pages here, each app's pages in its own urls.py."""

from django.contrib import admin
from django.urls import include, path

from memorydb_lab import views
from quizzes.views.accounts import SignInView, ThrottledPasswordResetView

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Before django.contrib.auth's own "login", which it replaces with a throttled one.
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/password_reset/", ThrottledPasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("sandbox.urls")),
    path("", include("quizzes.urls")),
    path("", include("teach.urls")),
]

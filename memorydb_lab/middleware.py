"""Response headers that Django 5.2 does not set by itself.

Django's SecurityMiddleware covers HSTS, nosniff, Referrer-Policy and COOP; this adds
Content-Security-Policy (Django gains a built-in one only in 6.0) and
Permissions-Policy, both taken from settings so there is one place to read them.
"""

from __future__ import annotations

from typing import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class SecurityHeadersMiddleware:
    """Adds CONTENT_SECURITY_POLICY and PERMISSIONS_POLICY to every response.

    A view that needs a different policy sets the header itself; it is left alone.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY
        if settings.PERMISSIONS_POLICY and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = settings.PERMISSIONS_POLICY
        return response

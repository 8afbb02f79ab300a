"""Websocket URL patterns of the sandbox app, served by memorydb_lab.asgi.

One socket per page, at a fixed path: the sandbox is found from the session, so
the URL names none.
"""

from django.urls import URLPattern, path

from sandbox.consumers import SandboxConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/sandbox/", SandboxConsumer.as_asgi(), name="sandbox-socket"),
]

"""Websocket URL patterns of the teach app, served by memorydb_lab.asgi.

``ws/presence/`` is opened by every page of a learner who is in a class;
``ws/teach/<class>/`` by an instructor's class page (the consumer checks the class
through ``teach.access``; the id in the URL is never trusted on its own).
"""

from django.urls import URLPattern, path

from teach.consumers import DashboardConsumer, PresenceConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/presence/", PresenceConsumer.as_asgi(), name="presence-socket"),
    path("ws/teach/<int:pk>/", DashboardConsumer.as_asgi(), name="teach-socket"),
]

"""Websocket URL patterns of the sandbox app, served by memorydb_lab.asgi.

Empty until the sandbox console's consumer exists; asgi.py already routes every
websocket through AllowedHostsOriginValidator and AuthMiddlewareStack to this list.
"""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []

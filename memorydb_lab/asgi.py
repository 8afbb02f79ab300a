"""ASGI entry point served by daphne: HTTP goes to Django, websockets to Channels.

``get_asgi_application()`` runs before anything imports consumers or models: it calls
``django.setup()``, and importing a consumer module first would touch the app
registry before it is ready.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "memorydb_lab.settings")
django_asgi_app = get_asgi_application()

# Imported only now that the app registry is ready (see the module docstring).
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

import sandbox.routing  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The origin check refuses websockets opened by pages of other sites (a
        # browser sends the learner's session cookie with them); AuthMiddlewareStack
        # puts that learner in scope["user"] so consumers can check ownership.
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(sandbox.routing.websocket_urlpatterns))
        ),
    }
)

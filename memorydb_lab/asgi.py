"""ASGI entry point served by daphne: HTTP goes to Django, websockets to Channels.

``get_asgi_application()`` runs before anything imports consumers or models: it calls
``django.setup()``, and importing a consumer module first would touch the app
registry before it is ready.

The sandbox manager starts with the first request the server receives, of any kind
(daphne has no start-up hook: it does not speak the ASGI lifespan protocol). From
then on it reconciles what a previous run left (stops orphaned engine processes,
starts again the sandboxes that should run) and culls idle sandboxes, whether or not
anyone has opened a sandbox page yet; a monitor polling ``/healthz`` is enough.
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
import teach.routing  # noqa: E402
from sandbox.manager import get_manager  # noqa: E402


class StartSandboxManager:
    """Starts this process's sandbox manager on the first request a server delivers.

    Only scopes from a real server (they carry ``server``, the listening address)
    count: an in-process test communicator must not start a manager on its
    short-lived event loop.
    """

    def __init__(self, app):
        self.app = app
        self.started = False

    async def __call__(self, scope, receive, send):
        if not self.started and scope.get("server") and scope["type"] in ("http", "websocket"):
            self.started = True
            get_manager()
        return await self.app(scope, receive, send)


router = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The origin check refuses websockets opened by pages of other sites (a
        # browser sends the learner's session cookie with them); AuthMiddlewareStack
        # puts that learner in scope["user"] so consumers can check ownership.
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(
                URLRouter(sandbox.routing.websocket_urlpatterns + teach.routing.websocket_urlpatterns)
            )
        ),
    }
)

application = StartSandboxManager(router)

"""WSGI entry point, for tools that only speak WSGI (the site itself runs on daphne).

Websockets, and so the sandbox console, need the ASGI application in asgi.py.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "memorydb_lab.settings")

application = get_wsgi_application()

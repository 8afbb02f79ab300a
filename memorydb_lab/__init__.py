"""The Django project package of MemoryDB Lab: settings, URLs, ASGI/WSGI entry points."""

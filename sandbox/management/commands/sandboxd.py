"""``manage.py sandboxd``: the host's one sandbox service, in its own process.

Run it once per host (under supervisord in the classroom) with the same
environment as the web workers and ``MEMORYDB_LAB_SANDBOX_SERVICE=remote``; the
workers then send it every sandbox request through Redis (``sandbox.sandboxd``).
It exits on SIGTERM after stopping every sandbox, keeping their data.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sandbox import sandboxd
from sandbox.service.remote import ServiceWire


class Command(BaseCommand):
    help = "Run the sandbox service apart from the web workers (MEMORYDB_LAB_SANDBOX_SERVICE=remote)."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.SANDBOX_SERVICE != "remote":
            raise CommandError(
                "sandboxd serves web workers running with MEMORYDB_LAB_SANDBOX_SERVICE=remote; "
                "set it (and MEMORYDB_LAB_CHANNEL_REDIS_URL) for both."
            )
        logging.basicConfig(level=logging.INFO, format="%(asctime)s sandboxd %(levelname)s %(name)s: %(message)s")
        asyncio.run(sandboxd.run(ServiceWire.from_settings()))

"""The sandbox limits, as one frozen value built from settings.

The manager, the consumer and the validators take a ``SandboxLimits`` instead of
reading ``django.conf.settings`` themselves, so tests hand them small limits (one
running sandbox, a 2-second idle time) without overriding settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_MEMORY = re.compile(r"^\d+(?:[kmg]b?)?$", re.IGNORECASE)


@dataclass(frozen=True)
class SandboxLimits:
    root_dir: Path  # every sandbox's data lives in <root_dir>/<uuid>/
    backend: str = "local"  # name of the SandboxBackend (sandbox.backends)
    max_running: int = 12  # sandboxes running or starting on this host (settings: 5 per core)
    max_starting: int = 2  # sandboxes starting at the same time
    idle_seconds: float = 30 * 60  # no learner activity for this long: stopped, data removed
    # No page has shown a running sandbox for this long: parked (processes stopped,
    # data kept, resumed when the learner comes back), s; 0 = never park.
    park_after_seconds: float = 3 * 60
    maxmemory: str = "64mb"  # per data node
    client_output_buffer_limit: str = "32mb"  # per client of a data node; past it the node closes that client
    disk_mb: int = 512  # a durable cluster's journal log plus snapshots, MiB; past it writes are refused
    commands_per_second: float = 20.0  # console commands per learner, sustained
    command_burst: int = 40  # ... and in a burst
    messages_per_second: float = 40.0  # any websocket message, per connection
    message_burst: int = 80
    max_message_bytes: int = 16_384  # one websocket message from a browser
    event_log_size: int = 1000  # events kept per sandbox for reconnecting browsers
    replication_delay_ms: int = 50  # cache mode's default cross-zone delay, ms
    max_replication_delay_ms: int = 1000
    async_lane_default: bool = False  # whether a new sandbox runs the third lane (async writes)
    async_buffer_limit_ms: int = 2000  # its durability buffer limit, ms (ElastiCache's: 10 000)
    max_shards: int = 3
    max_replicas: int = 2
    max_load_rate: int = 500  # writes per second per cluster
    load_max_seconds: float = 300.0  # a write load stops by itself after this long
    start_timeout_seconds: float = 30.0
    nice: int = 19  # scheduling priority of sandbox processes, 0..19 (the site runs at 0)
    lease_ms: int = 1000  # durable primaries' lease; replicas campaign after 1.5 leases of silence
    console_timeout_seconds: float = 10.0  # a console command that blocks longer is cut off
    # A console reply is read only this far, then cut with a note (and its link closed),
    # so no learner's command holds the site's event loop more than a few ms:
    console_reply_values: int = 1000  # elements shown, nested ones counted, >= 1
    console_reply_bytes: int = 64 * 1024  # bytes of strings shown (~2 ms to escape), >= 0
    # The reply's text as sent, JSON-escaped; daphne closes a websocket (1011) rather
    # than send a message over 1 MiB. The two above keep replies far below this.
    console_reply_text_bytes: int = 768 * 1024
    stats_interval_seconds: float = 1.0  # node statistics while a page watches
    cull_interval_seconds: float = 30.0  # how often the idle culler looks
    # Guests (no account) are anyone with a fresh cookie jar, so one visitor can be
    # many guests: their sandboxes are smaller, shorter-lived, and counted per address.
    guest_idle_seconds: float = 10 * 60  # a guest's idle sandbox is stopped sooner
    guest_max_shards: int = 2  # the biggest shapes need an account
    guest_max_replicas: int = 1
    guest_starts_per_address: int = 5  # new guest sandboxes per address per window; 0 = no limit
    guest_start_window_seconds: float = 15 * 60
    guest_sandboxes_per_address: int = 3  # guest sandboxes held at once per address; 0 = no limit
    # With learners waiting, a guest's sandbox that no page has shown for this long
    # is stopped to make room (accounts keep theirs until their own idle time).
    pressure_idle_seconds: float = 2 * 60
    sockets_per_owner: int = 8  # sandbox websockets open at once per learner or guest
    sockets_per_address: int = 200  # ... and per address (a classroom may share one)

    @classmethod
    def from_settings(cls) -> "SandboxLimits":
        maxmemory = settings.SANDBOX_MAXMEMORY
        if not _MEMORY.match(maxmemory):
            raise ImproperlyConfigured(
                f"MEMORYDB_LAB_SANDBOX_MAXMEMORY={maxmemory!r} is not a memory size such as 64mb."
            )
        per_second = settings.SANDBOX_COMMANDS_PER_SECOND
        return cls(
            root_dir=Path(settings.SANDBOX_DIR),
            backend=settings.SANDBOX_BACKEND,
            max_running=settings.SANDBOX_MAX_RUNNING,
            max_starting=settings.SANDBOX_MAX_STARTING,
            idle_seconds=settings.SANDBOX_IDLE_MINUTES * 60,
            park_after_seconds=settings.SANDBOX_PARK_AFTER_SECONDS,
            maxmemory=maxmemory,
            disk_mb=settings.SANDBOX_DISK_MB,
            commands_per_second=float(per_second),
            command_burst=2 * per_second,
            max_message_bytes=settings.SANDBOX_MAX_MESSAGE_BYTES,
            event_log_size=settings.SANDBOX_EVENT_LOG_SIZE,
            replication_delay_ms=settings.SANDBOX_REPLICATION_DELAY_MS,
            async_lane_default=settings.SANDBOX_ASYNC_LANE_DEFAULT,
            async_buffer_limit_ms=settings.SANDBOX_ASYNC_BUFFER_LIMIT_MS,
            max_load_rate=settings.SANDBOX_MAX_LOAD_RATE,
            nice=settings.SANDBOX_NICE,
            lease_ms=settings.SANDBOX_LEASE_MS,
            guest_idle_seconds=settings.SANDBOX_GUEST_IDLE_MINUTES * 60,
            guest_max_shards=settings.SANDBOX_GUEST_MAX_SHARDS,
            guest_max_replicas=settings.SANDBOX_GUEST_MAX_REPLICAS,
            guest_starts_per_address=settings.SANDBOX_GUEST_STARTS_PER_ADDRESS,
            guest_start_window_seconds=settings.SANDBOX_GUEST_START_WINDOW_MINUTES * 60,
            guest_sandboxes_per_address=settings.SANDBOX_GUEST_SANDBOXES_PER_ADDRESS,
            pressure_idle_seconds=settings.SANDBOX_PRESSURE_IDLE_MINUTES * 60,
            sockets_per_owner=settings.SANDBOX_SOCKETS_PER_OWNER,
            sockets_per_address=settings.SANDBOX_SOCKETS_PER_ADDRESS,
        )

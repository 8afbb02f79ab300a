"""Django settings for MemoryDB Lab, read from the environment.

This is the only settings module. Every knob is an environment variable named
``MEMORYDB_LAB_*`` and read through one of the small typed readers of
``memorydb_lab.env`` (``env_bool``, ``env_int``, ``env_str``, ``env_list``,
``env_secret``), which also holds the parsers of URLs and address lists. This file is
the list of settings, each with why it has its default. A value that cannot be parsed
raises ``ImproperlyConfigured`` while Django starts, so a typo in a deployment fails
loudly at boot instead of as a mystery later.

With no variable set the site runs on a laptop with no other service: SQLite under
``var/``, the in-memory channel layer, a secret key generated once into
``var/secret_key``, DEBUG off and only 127.0.0.1/localhost accepted. A classroom that
outgrows one process sets ``MEMORYDB_LAB_DATABASE_URL`` (PostgreSQL) and
``MEMORYDB_LAB_CHANNEL_REDIS_URL`` (channels_redis), both from
``requirements-classroom.txt``. README.md lists every variable.

Invariant: an empty variable (``NAME=``) counts as unset, because container tools
often pass empty values for variables they were told about but not given.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from memorydb_lab.env import (
    PRIVATE_UMASK,
    caches_for,
    channel_layers_for,
    env_bool,
    env_int,
    env_list,
    env_secret,
    env_str,
    load_or_create_secret_key,
    make_private,
    parse_database_url,
    parse_networks,
)

# --------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------

BASE_DIR = Path(__file__).resolve().parent.parent

# Everything the site writes at run time (database, secret key) lives here, outside
# version control (var/ is git-ignored) so learner data never lands in a commit.
# A relative path is taken from the project root, not from wherever the server
# happened to be started.
DATA_DIR = (BASE_DIR / env_str("MEMORYDB_LAB_DATA_DIR", "var")).resolve()
# It holds the sessions, the secret key and sandbox credentials, so other local users
# must not read it. The umask covers everything this process and its children (the
# sandboxes' engine processes) create from here on: the database and its -wal and
# -journal files, the key, each sandbox's directory and files. What an older version
# left readable is tightened below, once SANDBOX_DIR is known.
os.umask(PRIVATE_UMASK)
DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)

# --------------------------------------------------------------------------------------
# Core
# --------------------------------------------------------------------------------------

DEBUG = env_bool("MEMORYDB_LAB_DEBUG", False)

SECRET_KEY = env_secret("MEMORYDB_LAB_SECRET_KEY") or load_or_create_secret_key(
    DATA_DIR / "secret_key"
)

ALLOWED_HOSTS = env_list("MEMORYDB_LAB_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("MEMORYDB_LAB_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # daphne first: it replaces runserver with an ASGI server that speaks websockets.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "sandbox",
    "quizzes",
    "teach",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Right after SecurityMiddleware, as whitenoise documents, so static files skip
    # sessions and auth entirely.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "memorydb_lab.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "memorydb_lab.urls"
WSGI_APPLICATION = "memorydb_lab.wsgi.application"
ASGI_APPLICATION = "memorydb_lab.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --------------------------------------------------------------------------------------
# Data stores
# --------------------------------------------------------------------------------------

_database_url = env_secret("MEMORYDB_LAB_DATABASE_URL")
if _database_url is None:
    _database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(DATA_DIR / "db.sqlite3")}
else:
    try:
        _database = parse_database_url(_database_url, BASE_DIR)
    except ImproperlyConfigured as exc:
        # Name the variable, never echo the URL: it usually holds a password.
        raise ImproperlyConfigured(f"MEMORYDB_LAB_DATABASE_URL: {exc}") from None
DATABASES = {"default": _database}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # SQLite creates the file but not its folder.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_channel_redis_url = env_secret("MEMORYDB_LAB_CHANNEL_REDIS_URL")
CHANNEL_LAYERS = channel_layers_for(_channel_redis_url)

# Where the sandbox service runs: "local" = inside this daphne process (the laptop
# default, one worker); "remote" = its own process (`manage.py sandboxd`), reached
# through Redis by any number of stateless workers (sandbox.service.remote).
SANDBOX_SERVICE = env_str("MEMORYDB_LAB_SANDBOX_SERVICE", "local", choices=("local", "remote"))
# The Redis of the remote service's requests, replies and event streams; the channel
# layer's unless given.
SANDBOX_SERVICE_REDIS_URL = env_secret("MEMORYDB_LAB_SANDBOX_SERVICE_REDIS_URL") or _channel_redis_url
if SANDBOX_SERVICE == "remote" and SANDBOX_SERVICE_REDIS_URL is None:
    raise ImproperlyConfigured(
        "MEMORYDB_LAB_SANDBOX_SERVICE=remote needs MEMORYDB_LAB_CHANNEL_REDIS_URL "
        "(or MEMORYDB_LAB_SANDBOX_SERVICE_REDIS_URL)."
    )
# Prefix of every key the remote service uses, so one Redis can serve several sites.
SANDBOX_SERVICE_PREFIX = env_str("MEMORYDB_LAB_SANDBOX_SERVICE_PREFIX", "mdblab")
# How long a worker waits for the sandbox service's answer before telling the page
# it is unavailable (a lab check or a crash verdict gets longer; see remote.py).
SANDBOX_SERVICE_TIMEOUT_S = env_int("MEMORYDB_LAB_SANDBOX_SERVICE_TIMEOUT_S", 10, minimum=1, maximum=300)

# Per process unless MEMORYDB_LAB_CACHE_URL names a Redis shared by every worker.
CACHES = caches_for(env_secret("MEMORYDB_LAB_CACHE_URL"))

# --------------------------------------------------------------------------------------
# Auth
# --------------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Sign-in throttling (quizzes.throttle), counted in the cache: this many failed
# sign-ins for one username, or from one client address, within the window, and
# further attempts are refused for the window without the password being checked.
# 0 turns a limit off. A class behind one NAT address shares the address limit.
LOGIN_FAILURES_PER_ACCOUNT = env_int("MEMORYDB_LAB_LOGIN_FAILURES_PER_ACCOUNT", 5, minimum=0)
LOGIN_FAILURES_PER_ADDRESS = env_int("MEMORYDB_LAB_LOGIN_FAILURES_PER_ADDRESS", 20, minimum=0)
LOGIN_WINDOW_MINUTES = env_int("MEMORYDB_LAB_LOGIN_WINDOW_MINUTES", 15, minimum=1, maximum=24 * 60)
# Sign-up forms posted per client address per window (each one can probe whether a
# username or email has an account, and each success is a new account). 0 = no limit.
LOGIN_SIGNUPS_PER_ADDRESS = env_int("MEMORYDB_LAB_LOGIN_SIGNUPS_PER_ADDRESS", 50, minimum=0)
# Proxies (addresses or networks) whose X-Forwarded-For is believed when finding a
# visitor's address (memorydb_lab.addresses); empty: REMOTE_ADDR is the visitor.
TRUSTED_PROXIES = parse_networks(
    "MEMORYDB_LAB_TRUSTED_PROXIES", env_list("MEMORYDB_LAB_TRUSTED_PROXIES", [])
)

# --------------------------------------------------------------------------------------
# Email (password reset)
# --------------------------------------------------------------------------------------

# Printed to the console by default, so a laptop needs no mail server; a classroom
# sets the SMTP backend and its server.
EMAIL_BACKEND = env_str(
    "MEMORYDB_LAB_EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend",
    choices=(
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.smtp.EmailBackend",
    ),
)
EMAIL_HOST = env_str("MEMORYDB_LAB_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("MEMORYDB_LAB_EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("MEMORYDB_LAB_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env_secret("MEMORYDB_LAB_EMAIL_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("MEMORYDB_LAB_EMAIL_TLS", False)
DEFAULT_FROM_EMAIL = env_str("MEMORYDB_LAB_EMAIL_FROM", "MemoryDB Lab <lab@localhost>")

# --------------------------------------------------------------------------------------
# Internationalisation
# --------------------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --------------------------------------------------------------------------------------
# Static files
# --------------------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    # Serves plotly.min.js straight from the installed plotly package, so the charts
    # work offline, with no CDN, and always match the pinned plotly version.
    "memorydb_lab.staticfinders.PlotlyFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, pre-compressed names: browsers may cache them forever. Needs
    # `manage.py collectstatic`, which scripts/run does on every start.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --------------------------------------------------------------------------------------
# Security headers
# --------------------------------------------------------------------------------------

# No inline script anywhere, so scripts come only from our own origin. Styles are
# held to 'self' too: plotly adds its rules through CSSOM (insertRule), which CSP
# does not restrict. 'self' in connect-src covers same-origin ws:/wss: (CSP level 3).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# Behind TLS (directly or through a proxy) cookies must never travel in clear and
# browsers should remember to use https. Off by default: a laptop serves plain http.
_https = env_bool("MEMORYDB_LAB_HTTPS", False)
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
SECURE_SSL_REDIRECT = _https
# A load balancer often probes workers over plain http; a redirect would read as down.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int(
    "MEMORYDB_LAB_HSTS_SECONDS", 31_536_000 if _https else 0, minimum=0
)
if env_bool("MEMORYDB_LAB_TRUST_X_FORWARDED_PROTO", False):
    # Only safe when a proxy in front always sets (and strips) this header.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --------------------------------------------------------------------------------------
# Sandboxes (sandbox.conf.SandboxLimits reads these; README.md explains each)
# --------------------------------------------------------------------------------------

# Where sandbox processes run: "local" = children of the site process (one host).
SANDBOX_BACKEND = env_str("MEMORYDB_LAB_SANDBOX_BACKEND", "local", choices=("local",))
# Every sandbox's clusters keep their journals, snapshots and layouts under here.
SANDBOX_DIR = (DATA_DIR / env_str("MEMORYDB_LAB_SANDBOX_DIR", "sandboxes")).resolve()
SANDBOX_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
_private = [DATA_DIR, SANDBOX_DIR]
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    _db = Path(DATABASES["default"]["NAME"])  # it may live outside DATA_DIR
    _private += [*(_db.with_name(_db.name + s) for s in ("", "-wal", "-shm", "-journal"))]
_tightened = make_private(_private)
if _tightened:
    # Logged at start-up only when something changed, so once per old install.
    logging.getLogger("memorydb_lab.settings").warning(
        "Removed group/other access from %d path(s) that other local users could read: %s",
        len(_tightened), ", ".join(_tightened[:10]) + (", ..." if len(_tightened) > 10 else ""),
    )
# Sandboxes running (or starting) at once on this host; beyond it learners queue.
# Default: 5 per CPU core (measured: a sandbox with its write load uses ~11% of a core).
SANDBOX_MAX_RUNNING = env_int(
    "MEMORYDB_LAB_SANDBOX_MAX_RUNNING", min(5 * (os.cpu_count() or 1), 500), minimum=1, maximum=500
)
# Sandboxes starting at once: a start costs about a second of CPU per process.
SANDBOX_MAX_STARTING = env_int("MEMORYDB_LAB_SANDBOX_MAX_STARTING", 2, minimum=1, maximum=50)
# A sandbox whose learner did nothing (keepalives do not count) for this long is
# stopped and its data removed.
SANDBOX_IDLE_MINUTES = env_int("MEMORYDB_LAB_SANDBOX_IDLE_MINUTES", 30, minimum=1, maximum=7 * 24 * 60)
# A running sandbox that no page of its learner has shown for this long is parked:
# its processes stop, its data stays, and it resumes (in about two seconds) when the
# learner comes back; seconds, 0 = never park. Parked sandboxes don't count against
# SANDBOX_MAX_RUNNING, and are still removed after the idle time above.
SANDBOX_PARK_AFTER_SECONDS = env_int("MEMORYDB_LAB_SANDBOX_PARK_AFTER_SECONDS", 180, minimum=0, maximum=7 * 24 * 3600)
# maxmemory of every data node (a Redis memory size: 64mb, 1gb, ...).
SANDBOX_MAXMEMORY = env_str("MEMORYDB_LAB_SANDBOX_MAXMEMORY", "64mb")
# Disk a durable sandbox cluster may use (its journal log plus snapshots), MiB: past it
# writes are refused, with the reason, until a snapshot trims the log. Keep it above
# about 3x a cluster's data (shards x maxmemory), since the kept snapshots count too.
SANDBOX_DISK_MB = env_int("MEMORYDB_LAB_SANDBOX_DISK_MB", 512, minimum=16, maximum=1_048_576)
# Console commands per second per learner (bursts of twice as many are allowed).
SANDBOX_COMMANDS_PER_SECOND = env_int(
    "MEMORYDB_LAB_SANDBOX_COMMANDS_PER_SECOND", 20, minimum=1, maximum=10_000
)
# Largest websocket message accepted from a browser, in bytes.
SANDBOX_MAX_MESSAGE_BYTES = env_int(
    "MEMORYDB_LAB_SANDBOX_MAX_MESSAGE_BYTES", 16_384, minimum=1024, maximum=1_048_576
)
# Cache mode's cross-zone replication delay a new sandbox starts with, ms.
SANDBOX_REPLICATION_DELAY_MS = env_int(
    "MEMORYDB_LAB_SANDBOX_REPLICATION_DELAY_MS", 50, minimum=0, maximum=1000
)
# The third lane (ElastiCache durable, async writes): whether a new sandbox starts
# with it (each lane is ~4 more processes per learner, so off unless a host has room),
# and its durability buffer limit, ms. ElastiCache's is 10 s; a shorter one lets a
# class see writes rejected within a minute (the page says which one runs).
SANDBOX_ASYNC_LANE_DEFAULT = env_bool("MEMORYDB_LAB_SANDBOX_ASYNC_LANE_DEFAULT", False)
SANDBOX_ASYNC_BUFFER_LIMIT_MS = env_int(
    "MEMORYDB_LAB_SANDBOX_ASYNC_BUFFER_LIMIT_MS", 2000, minimum=200, maximum=10_000
)
# Crash everyone (teach): the write load started on each sandbox (writes/s per
# cluster) and the seconds learners get to predict before the primaries die.
TEACH_CLASS_RUN_RATE = env_int("MEMORYDB_LAB_TEACH_CLASS_RUN_RATE", 25, minimum=1, maximum=500)
TEACH_CLASS_RUN_PREDICT_SECONDS = env_int("MEMORYDB_LAB_TEACH_CLASS_RUN_PREDICT_SECONDS", 10, minimum=0, maximum=120)
# Highest write-load rate a learner may ask for, writes per second per cluster.
SANDBOX_MAX_LOAD_RATE = env_int("MEMORYDB_LAB_SANDBOX_MAX_LOAD_RATE", 500, minimum=1, maximum=20_000)
# Scheduling priority of sandbox processes (nice, 0-19): above 0 the site keeps
# answering learners when their sandboxes saturate the host's CPUs.
SANDBOX_NICE = env_int("MEMORYDB_LAB_SANDBOX_NICE", 19, minimum=0, maximum=19)
# Durable primaries' lease in the sandboxes (ms). A longer lease rides out CPU
# starvation on a busy classroom host (a primary that can't renew in time stops
# serving until it can) at the price of slower failovers (about 1.5 leases).
SANDBOX_LEASE_MS = env_int("MEMORYDB_LAB_SANDBOX_LEASE_MS", 1000, minimum=300, maximum=10_000)
# Events kept per sandbox for browsers that reconnect.
SANDBOX_EVENT_LOG_SIZE = env_int("MEMORYDB_LAB_SANDBOX_EVENT_LOG_SIZE", 1000, minimum=50, maximum=100_000)
# Guests (visitors without an account) are one cookie jar each, so one visitor can
# be many guests: their sandboxes are capped per client address, smaller and
# shorter-lived. A classroom behind one NAT address should have learners sign in.
SANDBOX_GUEST_IDLE_MINUTES = env_int("MEMORYDB_LAB_SANDBOX_GUEST_IDLE_MINUTES", 10, minimum=1, maximum=7 * 24 * 60)
SANDBOX_GUEST_MAX_SHARDS = env_int("MEMORYDB_LAB_SANDBOX_GUEST_MAX_SHARDS", 2, minimum=1, maximum=3)
SANDBOX_GUEST_MAX_REPLICAS = env_int("MEMORYDB_LAB_SANDBOX_GUEST_MAX_REPLICAS", 1, minimum=0, maximum=2)
# New guest sandboxes per client address per window (0 = no limit).
SANDBOX_GUEST_STARTS_PER_ADDRESS = env_int("MEMORYDB_LAB_SANDBOX_GUEST_STARTS_PER_ADDRESS", 5, minimum=0, maximum=10_000)
SANDBOX_GUEST_START_WINDOW_MINUTES = env_int("MEMORYDB_LAB_SANDBOX_GUEST_START_WINDOW_MINUTES", 15, minimum=1, maximum=24 * 60)
# Guest sandboxes held at once (queued, starting or running) per address (0 = no limit).
SANDBOX_GUEST_SANDBOXES_PER_ADDRESS = env_int("MEMORYDB_LAB_SANDBOX_GUEST_SANDBOXES_PER_ADDRESS", 3, minimum=0, maximum=10_000)
# With learners queued, a guest sandbox no page has shown for this long is stopped first.
SANDBOX_PRESSURE_IDLE_MINUTES = env_int("MEMORYDB_LAB_SANDBOX_PRESSURE_IDLE_MINUTES", 2, minimum=1, maximum=24 * 60)
# Sandbox websockets open at once per learner (or guest), and per client address.
SANDBOX_SOCKETS_PER_OWNER = env_int("MEMORYDB_LAB_SANDBOX_SOCKETS_PER_OWNER", 8, minimum=1, maximum=1000)
SANDBOX_SOCKETS_PER_ADDRESS = env_int("MEMORYDB_LAB_SANDBOX_SOCKETS_PER_ADDRESS", 200, minimum=1, maximum=100_000)

# --------------------------------------------------------------------------------------
# Health check and logging
# --------------------------------------------------------------------------------------

# How long /healthz reuses an engine check: starting a node costs about a second of
# CPU, and monitors poll often.
HEALTHZ_ENGINE_CACHE_SECONDS = env_int(
    "MEMORYDB_LAB_HEALTHZ_CACHE_SECONDS", 30, minimum=0, maximum=3600
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {
        "handlers": ["console"],
        "level": env_str(
            "MEMORYDB_LAB_LOG_LEVEL",
            "INFO",
            choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
        ),
    },
}

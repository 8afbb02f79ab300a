"""Typed readers of the environment, and the parsers that turn their values into
Django structures, for ``memorydb_lab.settings``.

The settings module is the list of settings with their comments; everything here is
how a value is read and checked. Each reader takes the variable's name, a default,
and optionally a mapping standing in for ``os.environ`` (so tests need not touch the
real environment), and returns a typed value.

Invariants:

- A value that cannot be parsed raises ``ImproperlyConfigured`` naming the variable,
  so a typo in a deployment fails loudly while Django starts, not as a mystery later.
- An empty variable (``NAME=``) counts as unset, because container tools often pass
  empty values for variables they were told about but not given.
- A secret (``env_secret``) may come from ``NAME`` or from the file ``NAME_FILE``
  names, never both; an error about one never echoes its value.
- Nothing here reads a setting or imports Django beyond its exceptions: importing
  this module has no side effect, so it can be used before settings are configured.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import secrets
import stat
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

# --------------------------------------------------------------------------------------
# Typed environment readers
# --------------------------------------------------------------------------------------

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _raw(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """Return the variable's value, or None when it is unset or empty."""
    value = (os.environ if environ is None else environ).get(name)
    if value is None or value.strip() == "":
        return None
    return value


def env_bool(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    """Read a boolean: 1/true/yes/on or 0/false/no/off, case-insensitive."""
    value = _raw(name, environ)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a boolean; use one of 1/true/yes/on or 0/false/no/off."
    )


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Read a base-10 integer, optionally bounded (inclusive) on either side."""
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        number = int(value.strip(), 10)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum of {minimum}.")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}={number} is above the maximum of {maximum}.")
    return number


def env_str(
    name: str,
    default: str,
    *,
    choices: tuple[str, ...] | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Read a string; with ``choices`` the value must be one of them (exact match)."""
    value = _raw(name, environ)
    if value is None:
        return default
    value = value.strip()
    if choices is not None and value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of {', '.join(choices)}.")
    return value


def env_list(
    name: str, default: list[str], environ: Mapping[str, str] | None = None
) -> list[str]:
    """Read a comma-separated list; blanks around items and empty items are dropped."""
    value = _raw(name, environ)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_secret(
    name: str, default: str | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """Read a secret from ``NAME`` or from the file named by ``NAME_FILE``.

    The ``_FILE`` form lets Docker/Kubernetes/systemd secrets be mounted as files so
    that the secret never appears in the process environment. Setting both is
    ambiguous and refused; a file that is missing or empty is refused too, because
    silently falling back to the default would hide a broken mount.
    """
    direct = _raw(name, environ)
    file_name = _raw(f"{name}_FILE", environ)
    if direct is not None and file_name is not None:
        raise ImproperlyConfigured(f"Set {name} or {name}_FILE, not both.")
    if file_name is not None:
        try:
            content = Path(file_name).read_text(encoding="utf-8")
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE={file_name!r} cannot be read: {exc.strerror or exc}."
            ) from None
        # Editors and `echo` add a trailing newline that is never part of the secret.
        content = content.rstrip("\r\n")
        if content.strip() == "":
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} is empty.")
        return content
    if direct is not None:
        return direct
    return default


# --------------------------------------------------------------------------------------
# Helpers that turn settings values into Django structures
# --------------------------------------------------------------------------------------

_POSTGRES_SCHEMES = frozenset({"postgres", "postgresql", "pgsql"})


def parse_database_url(url: str, base_dir: Path) -> dict[str, Any]:
    """Turn ``postgres://user:pass@host:5432/name?sslmode=require`` or
    ``sqlite:///relative/path.sqlite3`` into a Django ``DATABASES`` entry.

    Query parameters of a PostgreSQL URL become driver ``OPTIONS`` (sslmode, ...).
    A relative SQLite path is taken from the project root, an absolute one is written
    with four slashes (``sqlite:////srv/lab/db.sqlite3``).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        raw_path = unquote(parts.path)
        if raw_path in ("", "/"):
            raise ImproperlyConfigured("A sqlite database URL needs a file path.")
        # urlsplit keeps the leading slash that separates the empty host from the
        # path: "sqlite:///var/db" -> "/var/db" means the relative "var/db".
        relative = raw_path[1:] if raw_path.startswith("/") else raw_path
        path = Path(relative) if Path(relative).is_absolute() else base_dir / relative
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}
    if scheme in _POSTGRES_SCHEMES:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured("A postgres database URL needs a database name.")
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured("The postgres database URL has a bad port.") from None
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": unquote(parts.hostname or ""),
            "PORT": str(port) if port else "",
            "OPTIONS": dict(parse_qsl(parts.query)),
            # Daphne runs views through sync_to_async threads; Django advises against
            # persistent connections under ASGI, so pool outside Django if needed.
            "CONN_MAX_AGE": 0,
        }
    raise ImproperlyConfigured(
        f"Unsupported database URL scheme {parts.scheme!r}; use postgres:// or sqlite:///."
    )


def channel_layers_for(redis_url: str | None) -> dict[str, Any]:
    """The CHANNEL_LAYERS setting: in-memory by default, channels_redis when a URL is
    given (needed as soon as more than one daphne worker serves the site)."""
    if redis_url is None:
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    if urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
        raise ImproperlyConfigured(
            "MEMORYDB_LAB_CHANNEL_REDIS_URL must start with redis://, rediss:// or unix://."
        )
    if importlib.util.find_spec("channels_redis") is None:
        raise ImproperlyConfigured(
            "MEMORYDB_LAB_CHANNEL_REDIS_URL is set but channels_redis is not installed; "
            "run: .venv/bin/pip install -r requirements-classroom.txt"
        )
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 reads with a 5 s socket timeout by default, the very time
            # channels_redis blocks in BZPOPMIN: on a loaded host the empty reply comes
            # a little late, the read times out and the consumer (and its websocket)
            # dies. A read timeout well above the block keeps the layer's receive alive.
            "CONFIG": {"hosts": [{"address": redis_url, "socket_timeout": 30}]},
        }
    }


def load_or_create_secret_key(path: Path) -> str:
    """Return the key stored at ``path``, creating it once if it does not exist.

    The key is written to a temporary file and hard-linked into place, so two
    workers starting together agree on one key and neither reads a half-written file.
    """
    try:
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        key = None
    if key is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as tmp:
                tmp.write(secrets.token_urlsafe(50) + "\n")
                tmp.flush()
                os.fsync(tmp.fileno())
            try:
                os.link(tmp_name, path)
            except FileExistsError:
                pass  # another process won the race; its key is the one to use
        finally:
            os.unlink(tmp_name)
        key = path.read_text(encoding="utf-8").strip()
    if not key:
        raise ImproperlyConfigured(f"{path} is empty; delete it to have a new key made.")
    return key


# Files the site creates are its own: nothing for the group or other local users.
PRIVATE_UMASK = 0o077


def make_private(roots: Iterable[Path]) -> list[str]:
    """Remove group and other access from each root and everything under it.

    Returns what changed, as ``"path (0755 -> 0700)"``, so the caller can say so.
    An install made by an older version (0755 ``var/``, 0644 database) is tightened
    on its next start. Left alone: symlinks (chmod would follow them out of the
    tree), anything another user owns (even when running as root), and sticky shared
    folders such as /tmp with everything in them, should a setting point there.
    """
    changes: list[str] = []
    seen: set[Path] = set()

    def tighten(path: Path) -> None:
        if path in seen:
            return
        seen.add(path)
        try:
            info = path.lstat()
        except FileNotFoundError:
            return
        if stat.S_ISLNK(info.st_mode) or info.st_uid != os.geteuid():
            return
        if stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX:
            return
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            try:
                os.chmod(path, mode & ~0o077)
            except OSError:
                return
            changes.append(f"{path} ({mode:04o} -> {mode & ~0o077:04o})")

    for root in roots:
        tighten(root)
        if root.is_dir() and not root.is_symlink() and not root.stat().st_mode & stat.S_ISVTX:
            for folder, dirs, files in os.walk(root):
                for name in dirs + files:
                    tighten(Path(folder) / name)
    return changes


def caches_for(cache_url: str | None) -> dict[str, Any]:
    """The CACHES setting: per-process memory by default, Redis when a URL is given
    (then limits counted in the cache, such as sign-in attempts, hold host-wide
    across daphne workers instead of per worker)."""
    if cache_url is None:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    if urlsplit(cache_url).scheme not in ("redis", "rediss", "unix"):
        raise ImproperlyConfigured(
            "MEMORYDB_LAB_CACHE_URL must start with redis://, rediss:// or unix://."
        )
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": cache_url,
            "KEY_PREFIX": "memorydb_lab",
        }
    }


def parse_networks(name: str, entries: list[str]) -> list[str]:
    """Check each entry is an IP address or network (10.0.0.0/8, ::1)."""
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {entry!r} is not an IP address or network."
            ) from None
    return entries

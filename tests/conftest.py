"""Fixtures shared by every test directory (engine tests add their own beside them).

The site's static storage is the hashed, pre-compressed whitenoise one, which only
works after `collectstatic`. Tests must not depend on a collected STATIC_ROOT (a
fresh clone has none, and a stale one would hide a missing file), so for the whole
session static files are resolved straight from the finders, and STATIC_ROOT points
at an empty temporary folder that nothing writes to. Passwords use a fast hasher.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.test import override_settings


@pytest.fixture(scope="session", autouse=True)
def _static_files_from_finders(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(
        STORAGES=storages,
        STATIC_ROOT=tmp_path_factory.mktemp("static_root"),
        # whitenoise then serves from the finders too, as it would in DEBUG.
        WHITENOISE_USE_FINDERS=True,
        # The real hasher is slow on purpose; tests create and sign in many users.
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    ):
        yield


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Each test starts with an empty cache, as a fresh site process would: cached
    answers (sign-in counts, a user's teach standing) must not leak from a test whose
    database changes were rolled back into the next one."""
    cache.clear()
    yield

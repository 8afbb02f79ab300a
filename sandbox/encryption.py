"""Sandbox credentials sealed at rest: each cluster's ACL user and password are
stored encrypted, so a copy of the database (a backup, a dump, a leaked file) does
not log anyone in to a learner's cluster.

The key is derived from ``SECRET_KEY`` with HKDF-SHA256 and a purpose label, so it
is never the secret key itself and never doubles as a key for anything else
(sessions, password-reset tokens). Values are sealed with AES-256-GCM, which also
detects a value that was altered or sealed under another key.

Stored form (a text column): ``v1:`` followed by URL-safe base64 of a 12-byte random
nonce and the ciphertext with its tag; the plaintext is the value's JSON.

Invariants:
* a Python value is always a dict (``{}`` when there are no credentials);
* rows written in clear by an older version (JSON text) are still read, and sealed
  the next time they are written (migration 0002 rewrites them all);
* a value that no key opens (``SECRET_KEY`` was changed and the old one is not in
  ``SECRET_KEY_FALLBACKS``) reads as ``{}`` with one warning per read: credentials
  are throwaway, the sandbox is started again with new ones, and a site must not
  fail to start or to render because of them.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models

logger = logging.getLogger(__name__)

PREFIX = "v1:"
# The HKDF "info": changing it (or the version) gives an unrelated key.
PURPOSE = b"memorydb-lab/sandbox-credentials/v1"
NONCE_BYTES = 12  # AES-GCM's standard nonce; random is safe far beyond our write count


class Unreadable(Exception):
    """A sealed value that no configured key opens, or that was damaged."""


@functools.lru_cache(maxsize=8)
def _aead(secret_key: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(
        secret_key.encode("utf-8")
    )
    return AESGCM(key)


def _keys() -> list[str]:
    """The current key first, then the ones being rotated out (Django's own setting)."""
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def seal(value: Any) -> str:
    plaintext = json.dumps(value, separators=(",", ":")).encode("utf-8")
    nonce = os.urandom(NONCE_BYTES)
    sealed = _aead(settings.SECRET_KEY).encrypt(nonce, plaintext, PURPOSE)
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(text: str) -> Any:
    """The value sealed in ``text``; raises Unreadable when no key opens it."""
    try:
        blob = base64.urlsafe_b64decode(text[len(PREFIX):].encode("ascii"))
    except (binascii.Error, ValueError):
        raise Unreadable("not valid base64") from None
    nonce, sealed = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
    for key in _keys():
        try:
            plaintext = _aead(key).decrypt(nonce, sealed, PURPOSE)
        except (InvalidTag, ValueError):
            continue
        return json.loads(plaintext)
    raise Unreadable("no configured SECRET_KEY opens it")


def is_sealed(text: str | None) -> bool:
    return isinstance(text, str) and text.startswith(PREFIX)


class EncryptedJSONField(models.TextField):
    """A dict kept as sealed text in the database (see the module docstring)."""

    description = "A JSON object encrypted with a key derived from SECRET_KEY"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> dict[str, Any]:
        return self.to_python(value)

    def to_python(self, value: Any) -> dict[str, Any]:
        if value is None or value == "":
            return {}
        if isinstance(value, dict):
            return value
        if is_sealed(value):
            try:
                opened = unseal(value)
            except Unreadable as exc:
                logger.warning(
                    "%s.%s: stored credentials cannot be decrypted (%s), probably because "
                    "SECRET_KEY changed; treating them as lost, the sandbox gets new ones "
                    "when it starts again",
                    self.model.__name__ if hasattr(self, "model") else "?", self.name, exc,
                )
                return {}
            return opened if isinstance(opened, dict) else {}
        # Written in clear by a version before sealing existed: still readable.
        try:
            legacy = json.loads(value)
        except ValueError:
            logger.warning("%s: a stored value is neither sealed nor JSON; treating it as empty", self.name)
            return {}
        return legacy if isinstance(legacy, dict) else {}

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, str) and is_sealed(value):
            return value  # already sealed (a value copied over as it was stored)
        return seal(value)

    def value_to_string(self, obj: models.Model) -> str:
        # dumpdata writes the sealed form, never the clear one.
        return self.get_prep_value(self.value_from_object(obj)) or ""

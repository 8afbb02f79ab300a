"""Sign-in and sign-up throttling, counted in Django's cache.

Failed sign-ins are counted per account (the username as typed, case-folded) and
per client address (memorydb_lab.addresses, which believes X-Forwarded-For only
from trusted proxies). When either count reaches its limit within the window, that
account or address is locked for one window: attempts are refused before the
password is checked, so a locked account cannot be guessed at all, and the lock's
end is given to the visitor in minutes. A successful sign-in clears the account's
count but not the address's, so an attacker cannot reset the address limit by
signing in to an account of their own between guesses. Sign-up forms posted are
counted per address the same way.

Invariants:
* counts only grow through the cache's atomic ``incr`` (Redis INCR when the cache
  is Redis), so parallel attempts from several workers cannot slip under a limit;
* a lock is a cache entry holding its end time (the ``clock``'s seconds) and
  expiring with it; a lock whose time has passed by the clock is over, even if the
  cache still holds it (tests move the clock instead of waiting);
* cache keys hold a hash, never a username or an address;
* with the default per-process cache each daphne worker counts on its own; a
  shared cache (MEMORYDB_LAB_CACHE_URL) makes the limits host-wide.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Callable

from django.conf import settings
from django.core.cache import cache

# The clock locks are measured with; tests replace it to move time on.
clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is refused, in the words the form shows."""

    message: str
    retry_after_seconds: int


@dataclass(frozen=True)
class Limit:
    """``limit`` events per ``window_seconds`` for one kind of key (0 = no limit)."""

    kind: str  # "account", "address", "signup"
    limit: int
    window_seconds: int
    message: str  # with {minutes}

    def _key(self, subject: str, part: str) -> str:
        digest = hashlib.sha256(subject.encode("utf-8")).hexdigest()[:32]
        return f"throttle:{self.kind}:{part}:{digest}"

    def refusal(self, subject: str) -> Refusal | None:
        """A Refusal while ``subject`` is locked, else None."""
        if self.limit <= 0:
            return None
        until = cache.get(self._key(subject, "lock"))
        if until is None:
            return None
        left = until - clock()
        if left <= 0:
            return None
        minutes = max(1, math.ceil(left / 60))
        return Refusal(self.message.format(minutes=minutes, s="" if minutes == 1 else "s"), math.ceil(left))

    def record(self, subject: str) -> None:
        """Count one event; the one that reaches the limit locks ``subject``."""
        if self.limit <= 0:
            return
        count_key = self._key(subject, "count")
        # add() starts a window (and is a no-op inside one); incr is atomic.
        cache.add(count_key, 0, timeout=self.window_seconds)
        try:
            count = cache.incr(count_key)
        except ValueError:  # the window ended between add and incr
            cache.set(count_key, 1, timeout=self.window_seconds)
            count = 1
        if count >= self.limit:
            cache.set(self._key(subject, "lock"), clock() + self.window_seconds, timeout=self.window_seconds)
            # The next window starts counting from zero once the lock is over.
            cache.delete(count_key)

    def clear(self, subject: str) -> None:
        cache.delete_many([self._key(subject, "count"), self._key(subject, "lock")])


def _window() -> int:
    return settings.LOGIN_WINDOW_MINUTES * 60


def account_limit() -> Limit:
    return Limit(
        "account", settings.LOGIN_FAILURES_PER_ACCOUNT, _window(),
        "Too many failed sign-ins for this account; try again in {minutes} minute{s}.",
    )


def address_limit() -> Limit:
    return Limit(
        "address", settings.LOGIN_FAILURES_PER_ADDRESS, _window(),
        "Too many failed sign-ins from your network; try again in {minutes} minute{s}.",
    )


def signup_limit() -> Limit:
    return Limit(
        "signup", settings.LOGIN_SIGNUPS_PER_ADDRESS, _window(),
        "Too many sign-ups from your network; try again in {minutes} minute{s}.",
    )


def reset_address_limit() -> Limit:
    return Limit(
        "reset-address", settings.LOGIN_FAILURES_PER_ADDRESS, _window(),
        "Too many password-reset requests from your network; try again in {minutes} minute{s}.",
    )


def reset_email_limit() -> Limit:
    # Each request mails the account holder: a few per window, so nobody can fill
    # someone's inbox through this site.
    return Limit(
        "reset-email", RESET_MAILS_PER_EMAIL, _window(),
        "A reset link was sent to this address several times already; check your mail or try again in "
        "{minutes} minute{s}.",
    )


RESET_MAILS_PER_EMAIL = 3


def password_reset_refusal(email: str, address: str) -> Refusal | None:
    """Whether a reset request must be refused (before any mail is sent); if not,
    the request is counted."""
    email_limit, address_limit_ = reset_email_limit(), reset_address_limit()
    subject = email.strip().casefold()
    refusal = address_limit_.refusal(address) or email_limit.refusal(subject)
    if refusal is None:
        address_limit_.record(address)
        email_limit.record(subject)
    return refusal


def _account(username: str) -> str:
    return username.strip().casefold()


def sign_in_refusal(username: str, address: str) -> Refusal | None:
    """Whether a sign-in attempt must be refused before its password is checked."""
    return account_limit().refusal(_account(username)) or address_limit().refusal(address)


def sign_in_failed(username: str, address: str) -> None:
    account_limit().record(_account(username))
    address_limit().record(address)


def sign_in_succeeded(username: str) -> None:
    account_limit().clear(_account(username))

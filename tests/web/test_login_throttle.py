"""Sign-in and sign-up throttling (quizzes.throttle) through the real views: a
locked account is refused even with the right password and says for how long, the
lock ends with its window (the throttle's clock is moved, not waited for), one
address is limited across usernames, a success clears the account's count, and
X-Forwarded-For counts only from a trusted proxy. With a Redis cache
(MEMORYDB_LAB_CACHE_URL) a lock made by one site process holds in another."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings
from django.urls import reverse

from memorydb_lab.env import caches_for, parse_networks
from quizzes import throttle

from .base import PASSWORD, WebTestCase

LOCKED_ACCOUNT = "Too many failed sign-ins for this account; try again in 15 minutes."
LOCKED_ADDRESS = "Too many failed sign-ins from your network; try again in 15 minutes."


class MovableClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@override_settings(
    LOGIN_FAILURES_PER_ACCOUNT=5, LOGIN_FAILURES_PER_ADDRESS=20, LOGIN_WINDOW_MINUTES=15,
    LOGIN_SIGNUPS_PER_ADDRESS=50, TRUSTED_PROXIES=[],
)
class SignInThrottleTests(WebTestCase):
    def setUp(self) -> None:
        cache.clear()  # the per-process cache outlives a test; counts must not leak
        self.addCleanup(cache.clear)
        self.clock = MovableClock()
        real_clock = throttle.clock
        throttle.clock = self.clock
        self.addCleanup(setattr, throttle, "clock", real_clock)

    def sign_in(self, username: str, password: str, address: str = "203.0.113.7", **headers: str):  # type: ignore[no-untyped-def]
        return self.client.post(
            reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address, **headers
        )

    def assertSignedIn(self, response, user: User) -> None:  # type: ignore[no-untyped-def]
        self.assertEqual(response.status_code, 302, response.content[:300])
        self.assertEqual(int(self.client.session["_auth_user_id"]), user.pk)
        self.client.logout()

    def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(self) -> None:
        for _ in range(5):
            response = self.sign_in("alice", "wrong")
            self.assertEqual(response.status_code, 200)
            self.assertContains(response, "That username and password do not match an account.")
        response = self.sign_in("alice", PASSWORD)
        self.assertEqual(response.status_code, 429)
        self.assertContains(response, LOCKED_ACCOUNT, status_code=429)
        self.assertNotIn("_auth_user_id", self.client.session)
        # The lock is on the account, whatever the case it is typed in.
        self.assertContains(self.sign_in("ALICE", PASSWORD), LOCKED_ACCOUNT, status_code=429)

    def test_a_locked_account_is_refused_before_its_password_is_checked(self) -> None:
        for _ in range(5):
            self.sign_in("alice", "wrong")
        self.alice.set_password("changed by the attacker's guess")
        self.alice.save()
        checked: list[str] = []
        original = User.check_password

        def spy(user: User, raw: str) -> bool:
            checked.append(raw)
            return original(user, raw)

        User.check_password = spy  # type: ignore[method-assign]
        self.addCleanup(setattr, User, "check_password", original)
        self.sign_in("alice", "changed by the attacker's guess")
        self.assertEqual(checked, [])

    def test_the_lock_ends_with_its_window_and_the_minutes_left_count_down(self) -> None:
        for _ in range(5):
            self.sign_in("alice", "wrong")
        self.clock.now += 14 * 60 + 1
        self.assertContains(
            self.sign_in("alice", PASSWORD),
            "Too many failed sign-ins for this account; try again in 1 minute.", status_code=429,
        )
        self.clock.now += 60
        self.assertSignedIn(self.sign_in("alice", PASSWORD), self.alice)

    def test_a_success_clears_the_accounts_count(self) -> None:
        for _ in range(4):
            self.sign_in("alice", "wrong")
        self.assertSignedIn(self.sign_in("alice", PASSWORD), self.alice)
        for _ in range(4):
            self.assertEqual(self.sign_in("alice", "wrong").status_code, 200)
        self.assertSignedIn(self.sign_in("alice", PASSWORD), self.alice)

    def test_one_address_is_limited_across_usernames_and_others_are_not(self) -> None:
        names = [f"nobody{i}" for i in range(20)]
        for name in names:  # 20 accounts, one wrong guess each: no account lock
            self.assertEqual(self.sign_in(name, "wrong").status_code, 200)
        response = self.sign_in("bob", PASSWORD)
        self.assertContains(response, LOCKED_ADDRESS, status_code=429)
        self.assertNotIn("_auth_user_id", self.client.session)
        self.assertSignedIn(self.sign_in("bob", PASSWORD, address="198.51.100.9"), self.bob)

    def test_signing_in_to_ones_own_account_does_not_reset_the_address_count(self) -> None:
        for i in range(19):
            self.sign_in(f"guess{i}", "wrong")
        self.assertSignedIn(self.sign_in("charlie", PASSWORD), self.charlie)
        self.sign_in("guess19", "wrong")
        self.assertContains(self.sign_in("bob", PASSWORD), LOCKED_ADDRESS, status_code=429)

    def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(self) -> None:
        for i in range(20):  # a client that claims a new address on every attempt
            self.sign_in(f"guess{i}", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}")
        self.assertContains(self.sign_in("bob", PASSWORD), LOCKED_ADDRESS, status_code=429)

    @override_settings(TRUSTED_PROXIES=["127.0.0.1"])
    def test_behind_a_trusted_proxy_each_forwarded_address_is_counted_alone(self) -> None:
        for i in range(20):
            self.sign_in(f"guess{i}", "wrong", address="127.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.1")
        locked = self.sign_in("bob", PASSWORD, address="127.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.1")
        self.assertContains(locked, LOCKED_ADDRESS, status_code=429)
        other = self.sign_in("bob", PASSWORD, address="127.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.2")
        self.assertSignedIn(other, self.bob)

    @override_settings(LOGIN_FAILURES_PER_ACCOUNT=0, LOGIN_FAILURES_PER_ADDRESS=0)
    def test_a_limit_of_zero_turns_throttling_off(self) -> None:
        for _ in range(30):
            self.sign_in("alice", "wrong")
        self.assertSignedIn(self.sign_in("alice", PASSWORD), self.alice)

    @override_settings(LOGIN_SIGNUPS_PER_ADDRESS=3)
    def test_sign_up_forms_are_limited_per_address_valid_or_not(self) -> None:
        url = reverse("quizzes:signup")
        for i in range(3):  # probes: does this email have an account?
            response = self.client.post(url, {"username": f"probe{i}", "email": "alice@example.org",
                                              "password1": "x", "password2": "x"}, REMOTE_ADDR="203.0.113.7")
            self.assertEqual(response.status_code, 200)
        fields = {"username": "dora", "email": "dora@example.org",
                  "password1": "a long enough passphrase 1", "password2": "a long enough passphrase 1"}
        refused = self.client.post(url, fields, REMOTE_ADDR="203.0.113.7")
        self.assertContains(refused, "Too many sign-ups from your network; try again in 15 minutes.", status_code=429)
        self.assertNotContains(refused, "An account with this email exists", status_code=429)
        self.assertFalse(User.objects.filter(username="dora").exists())
        created = self.client.post(url, fields, REMOTE_ADDR="198.51.100.9")
        self.assertEqual(created.status_code, 302)
        self.assertTrue(User.objects.filter(username="dora").exists())

    def test_password_reset_mails_are_limited_per_email_and_per_address(self) -> None:
        from django.core import mail

        url = reverse("password_reset")
        for _ in range(throttle.RESET_MAILS_PER_EMAIL):
            response = self.client.post(url, {"email": "alice@example.org"}, REMOTE_ADDR="203.0.113.7")
            self.assertEqual(response.status_code, 302)
        self.assertEqual(len(mail.outbox), throttle.RESET_MAILS_PER_EMAIL)
        refused = self.client.post(url, {"email": "alice@example.org"}, REMOTE_ADDR="198.51.100.9")
        self.assertContains(refused, "A reset link was sent to this address several times", status_code=429)
        self.assertEqual(len(mail.outbox), throttle.RESET_MAILS_PER_EMAIL, "no more mail to alice")

    @override_settings(LOGIN_FAILURES_PER_ADDRESS=4)
    def test_password_reset_requests_are_limited_per_address(self) -> None:
        url = reverse("password_reset")
        for i in range(4):
            self.client.post(url, {"email": f"nobody{i}@example.org"}, REMOTE_ADDR="203.0.113.7")
        refused = self.client.post(url, {"email": "alice@example.org"}, REMOTE_ADDR="203.0.113.7")
        self.assertContains(refused, "Too many password-reset requests from your network", status_code=429)


# --- a shared cache makes the limits host-wide ------------------------------------------

WORKER = """
import django, sys
django.setup()
from quizzes import throttle
refusal = throttle.sign_in_refusal(sys.argv[1], sys.argv[2])
print(refusal.message if refusal else "allowed")
"""


def _other_worker(redis: str, tmp_path: Path, username: str, address: str) -> str:
    """Ask a separate site process (another daphne worker) whether it would refuse."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORYDB_LAB_")}
    env.update(DJANGO_SETTINGS_MODULE="memorydb_lab.settings", PYTHONPATH=str(settings.BASE_DIR),
               MEMORYDB_LAB_DATA_DIR=str(tmp_path / "var"), MEMORYDB_LAB_CACHE_URL=redis)
    result = subprocess.run([sys.executable, "-c", WORKER, username, address], env=env,
                            cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.django_db
def test_with_a_redis_cache_a_lock_made_in_one_worker_holds_in_another(redis_server: str, tmp_path: Path) -> None:
    with override_settings(CACHES=caches_for(redis_server), LOGIN_FAILURES_PER_ACCOUNT=5, TRUSTED_PROXIES=[]):
        User.objects.create_user("alice", "alice@example.org", PASSWORD)
        client = Client()
        for _ in range(5):
            client.post(reverse("login"), {"username": "alice", "password": "wrong"}, REMOTE_ADDR="203.0.113.7")
        assert _other_worker(redis_server, tmp_path, "alice", "198.51.100.9") == LOCKED_ACCOUNT
        assert _other_worker(redis_server, tmp_path, "bob", "198.51.100.9") == "allowed"
        cache.clear()


def test_a_cache_url_or_trusted_proxy_that_cannot_be_used_stops_the_site_at_start() -> None:
    with pytest.raises(ImproperlyConfigured, match="MEMORYDB_LAB_CACHE_URL"):
        caches_for("memcached://127.0.0.1:11211")
    with pytest.raises(ImproperlyConfigured, match="MEMORYDB_LAB_TRUSTED_PROXIES: 'nginx'"):
        parse_networks("MEMORYDB_LAB_TRUSTED_PROXIES", ["127.0.0.1", "nginx"])
    assert parse_networks("X", ["127.0.0.1", "10.0.0.0/8", "::1"]) == ["127.0.0.1", "10.0.0.0/8", "::1"]
    assert caches_for(None)["default"]["BACKEND"].endswith("LocMemCache")

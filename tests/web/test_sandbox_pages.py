"""The sandbox's HTTP side: the page, the guest token, past experiments (owner only),
and handing a guest's sandbox to the account at sign-in."""

from __future__ import annotations

from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from sandbox.models import Experiment, Sandbox
from sandbox.owners import SESSION_KEY
from tests.web.base import PASSWORD, WebTestCase


def make_experiment(**owner: object) -> Experiment:
    return Experiment.objects.create(
        fault="kill_primary", target="both", shards=1, replicas=1, replication_delay_ms=50,
        load_rate=100, prediction=3,
        results={"durable": {"acknowledged": 500, "kept": 500, "lost": 0},
                 "cache": {"acknowledged": 500, "kept": 495, "lost": 5}},
        charts={"markers": {}, "clusters": {}}, **owner,
    )


class SandboxPageTests(WebTestCase):
    def test_the_page_renders_without_inline_script_and_gives_a_guest_a_token(self) -> None:
        response = self.client.get(reverse("sandbox:page"))
        self.assertEqual(response.status_code, 200)
        html = response.content.decode()
        self.assertNoInlineScript(html)
        self.assertIn('data-socket="/ws/sandbox/"', html)
        self.assertIn("plotly.min.js", html)
        self.assertTrue(self.client.session.get(SESSION_KEY))
        self.assertNotIn("password", html.lower())

    def test_a_signed_in_learner_gets_no_guest_token(self) -> None:
        self.client.force_login(self.alice)
        response = self.client.get(reverse("sandbox:page"))
        self.assertEqual(response.status_code, 200)
        self.assertIsNone(self.client.session.get(SESSION_KEY))

    def test_the_session_endpoint_needs_a_post_and_says_whether_websockets_work(self) -> None:
        self.assertEqual(self.client.get(reverse("sandbox:session")).status_code, 405)
        response = self.client.post(reverse("sandbox:session"))
        self.assertEqual(response.status_code, 200)
        # The test client is WSGI-like: no websocket behind it.
        self.assertEqual(response.json(), {"websocket": False})
        self.assertTrue(self.client.session.get(SESSION_KEY))

    def test_the_page_shows_the_learners_own_experiments_only(self) -> None:
        mine = make_experiment(owner_user=self.alice)
        theirs = make_experiment(owner_user=self.charlie)
        self.client.force_login(self.alice)
        response = self.client.get(reverse("sandbox:experiments"))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, reverse("sandbox:experiment", args=[mine.pk]))
        self.assertNotContains(response, reverse("sandbox:experiment", args=[theirs.pk]))

    def test_an_experiment_page_redraws_its_charts_for_its_owner(self) -> None:
        mine = make_experiment(owner_user=self.alice)
        self.client.force_login(self.alice)
        response = self.client.get(reverse("sandbox:experiment", args=[mine.pk]))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'id="experiment-charts"')
        self.assertNoInlineScript(response.content.decode())

    def test_it_refuses_someone_elses_experiment_with_404(self) -> None:
        mine = make_experiment(owner_user=self.alice)
        self.client.force_login(self.charlie)
        response = self.client.get(reverse("sandbox:experiment", args=[mine.pk]))
        self.assertEqual(response.status_code, 404)
        self.client.logout()
        response = self.client.get(reverse("sandbox:experiment", args=[mine.pk]))
        self.assertEqual(response.status_code, 404)

    def test_signing_in_hands_the_guests_sandbox_and_experiments_to_the_account(self) -> None:
        self.client.get(reverse("sandbox:page"))
        token = self.client.session[SESSION_KEY]
        row = Sandbox.objects.create(owner_token=token, last_activity=timezone.now())
        experiment = make_experiment(owner_token=token)
        response = self.client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
        self.assertEqual(response.status_code, 302)
        row.refresh_from_db()
        experiment.refresh_from_db()
        self.assertEqual((row.owner_user, row.owner_token), (self.alice, None))
        self.assertEqual((experiment.owner_user, experiment.owner_token), (self.alice, None))

    def test_a_row_must_have_exactly_one_owner(self) -> None:
        from django.db import IntegrityError, transaction

        with self.assertRaises(IntegrityError), transaction.atomic():
            Sandbox.objects.create(last_activity=timezone.now())
        with self.assertRaises(IntegrityError), transaction.atomic():
            Sandbox.objects.create(owner_user=self.alice, owner_token="x", last_activity=timezone.now())

    @override_settings(SANDBOX_MAXMEMORY="lots")
    def test_a_bad_maxmemory_setting_fails_loudly(self) -> None:
        from django.core.exceptions import ImproperlyConfigured

        from sandbox.conf import SandboxLimits

        with self.assertRaises(ImproperlyConfigured):
            SandboxLimits.from_settings()

    def test_the_navigation_links_to_the_sandbox(self) -> None:
        response = self.client.get(reverse("home"))
        self.assertContains(response, f'href="{reverse("sandbox:page")}"')

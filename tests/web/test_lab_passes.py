"""Passed lab steps outlive the sandbox: a guest's passes become the account's at
sign-in (the account's own earlier pass of the same step wins), and the instructor's
drill-down lists a member's passes."""

from __future__ import annotations

from django.urls import reverse

from sandbox.models import LabPass
from sandbox.owners import SESSION_KEY

from .base import PASSWORD
from .teach_base import TeachTestCase


class LabPassTests(TeachTestCase):
    def test_a_guests_passes_become_the_accounts_at_sign_in(self) -> None:
        self.client.get(reverse("sandbox:page"))  # the page gives the guest a token
        token = self.client.session[SESSION_KEY]
        LabPass.objects.create(owner_token=token, lesson_slug="l1", lab_id="a")
        LabPass.objects.create(owner_token=token, lesson_slug="l1", lab_id="b")
        earlier = LabPass.objects.create(owner_user=self.alice, lesson_slug="l1", lab_id="b")
        self.client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
        mine = {p.lab_id: p.pk for p in LabPass.objects.filter(owner_user=self.alice)}
        self.assertEqual(set(mine), {"a", "b"})
        self.assertEqual(mine["b"], earlier.pk, "the account's own earlier pass stands")
        self.assertFalse(LabPass.objects.filter(owner_token=token).exists())

    def test_the_drill_down_lists_a_members_passed_lab_steps(self) -> None:
        LabPass.objects.create(owner_user=self.alice, lesson_slug="no-such-lesson-any-more", lab_id="first-durable-write")
        LabPass.objects.create(owner_user=self.dave, lesson_slug="x", lab_id="daves-step")
        self.sign_in(self.bob)
        page = self.client.get(reverse("teach:learner", args=[self.classroom.pk, self.alice.pk]))
        self.assertContains(page, "first-durable-write")
        self.assertNotContains(page, "daves-step")
        self.sign_in(self.charlie)
        refused = self.client.get(reverse("teach:learner", args=[self.classroom.pk, self.alice.pk]))
        self.assertEqual(refused.status_code, 404)

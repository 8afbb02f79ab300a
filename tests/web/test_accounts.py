"""Accounts: sign-up and sign-in keep what a visitor did; password reset by email."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse
from fsrs import Rating

from quizzes.learners import SESSION_KEY
from quizzes.models import Attempt, Learner, LessonRead, ReviewCard

from . import factories as make
from .base import PASSWORD, WebTestCase

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


class VisitorProgressMixin(WebTestCase):
    def make_visitor_progress(self) -> Learner:
        """A visitor reads a lesson and answers the public quiz's only question, wrongly."""
        self.lesson = make.lesson()
        self.question = make.question()
        self.quiz = make.quiz([self.question], public=True)
        self.client.post(reverse("quizzes:mark_read", args=[self.lesson.module.slug, self.lesson.slug]))
        self.client.post(reverse("quizzes:quiz", args=[self.quiz.slug]))
        attempt = Attempt.objects.get()
        self.client.post(
            reverse("quizzes:attempt_item", args=[attempt.pk, 1]),
            {"choice": make.wrong_ids(self.question)},
        )
        visitor = Learner.objects.get(user=None)
        self.assertIsNone(visitor.user)
        self.assertEqual(self.client.session[SESSION_KEY], visitor.session_token)
        return visitor


class SignUpTests(VisitorProgressMixin):
    def test_the_sign_up_page_has_labelled_fields(self) -> None:
        response = self.client.get(reverse("quizzes:signup"))
        self.assertEqual(response.status_code, 200)
        html = response.content.decode()
        for field in ("username", "email", "password1", "password2"):
            self.assertIn(f'<label for="id_{field}">', html)
        self.assertNoInlineScript(html)

    def test_signing_up_keeps_the_visitor_s_progress(self) -> None:
        visitor = self.make_visitor_progress()
        response = self.client.post(
            reverse("quizzes:signup"),
            {"username": "dana", "email": "dana@example.org", "password1": PASSWORD, "password2": PASSWORD},
        )
        self.assertRedirects(response, reverse("quizzes:me"), fetch_redirect_response=False)
        dana = User.objects.get(username="dana")
        visitor.refresh_from_db()
        self.assertEqual(visitor.user, dana)
        self.assertIsNone(visitor.session_token)
        self.assertNotIn(SESSION_KEY, self.client.session)
        self.assertEqual(Attempt.objects.get().learner, visitor)
        self.assertTrue(LessonRead.objects.filter(learner=visitor, lesson=self.lesson).exists())
        self.assertTrue(ReviewCard.objects.filter(learner=visitor, question=self.question).exists())
        html = self.client.get(reverse("quizzes:me")).content.decode()
        self.assertIn("Your progress so far is saved to it.", html)
        self.assertIn("1/1", html)  # the lesson read

    def test_it_refuses_a_taken_email_and_mismatched_passwords(self) -> None:
        response = self.client.post(
            reverse("quizzes:signup"),
            {"username": "eve", "email": "ALICE@example.org", "password1": PASSWORD, "password2": "other"},
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "An account with this email exists")
        self.assertFalse(User.objects.filter(username="eve").exists())

    def test_an_empty_form_shows_its_errors(self) -> None:
        response = self.client.post(reverse("quizzes:signup"), {})
        self.assertContains(response, 'role="alert"')

    def test_a_signed_in_user_is_sent_to_their_progress(self) -> None:
        self.client.force_login(self.alice)
        self.assertRedirects(self.client.get(reverse("quizzes:signup")), reverse("quizzes:me"))


class SignInMergeTests(VisitorProgressMixin):
    def test_signing_in_moves_the_visitor_s_progress_into_the_account(self) -> None:
        account = Learner.objects.create(user=self.alice)
        visitor = self.make_visitor_progress()
        # alice had answered the same question before, right, long ago: the visitor's
        # more recent review wins; the lesson reads are merged.
        ReviewCard.record(account, self.question, Rating.Good, T0 - timedelta(days=30))
        response = self.client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
        self.assertEqual(response.status_code, 302)
        self.assertFalse(Learner.objects.filter(pk=visitor.pk).exists())
        self.assertEqual(Attempt.objects.get().learner, account)
        self.assertTrue(LessonRead.objects.filter(learner=account, lesson=self.lesson).exists())
        card = ReviewCard.objects.get(learner=account, question=self.question)
        self.assertEqual(card.last_rating, Rating.Again)
        self.assertEqual(ReviewCard.objects.count(), 1)

    def test_signing_in_without_visitor_progress_changes_nothing(self) -> None:
        self.client.post(reverse("login"), {"username": "bob", "password": PASSWORD})
        self.assertEqual(Learner.objects.count(), 0)


class PasswordResetTests(WebTestCase):
    def test_a_reset_link_is_emailed_and_sets_a_new_password(self) -> None:
        page = self.client.get(reverse("password_reset"))
        self.assertContains(page, '<label for="id_email">')
        self.assertNoInlineScript(page.content.decode())
        response = self.client.post(reverse("password_reset"), {"email": "alice@example.org"})
        self.assertRedirects(response, reverse("password_reset_done"))
        self.assertEqual(len(mail.outbox), 1)
        self.assertEqual(mail.outbox[0].subject, "Reset your MemoryDB Lab password")
        link = re.search(r"https?://\S+", mail.outbox[0].body)
        assert link is not None
        confirm = self.client.get(link.group(0), follow=True)
        self.assertContains(confirm, "Choose a new password")
        done = self.client.post(
            confirm.redirect_chain[-1][0],
            {"new_password1": "a brand new passphrase", "new_password2": "a brand new passphrase"},
        )
        self.assertRedirects(done, reverse("password_reset_complete"))
        self.alice.refresh_from_db()
        self.assertTrue(self.alice.check_password("a brand new passphrase"))

    def test_the_default_email_backend_is_the_console(self) -> None:
        import memorydb_lab.settings as production

        self.assertEqual(production.EMAIL_BACKEND, "django.core.mail.backends.console.EmailBackend")

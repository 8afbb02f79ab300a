"""Classes: an instructor creates one, shares its code, rotates it, adds a
co-instructor, removes a learner, archives it; learners join with the code or link
(a guest after signing up, keeping their progress); nobody else gets anything."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.urls import reverse

from quizzes.learners import SESSION_KEY
from quizzes.models import Attempt, Learner, LessonRead
from quizzes.roles import make_instructor
from sandbox.models import Experiment
from sandbox.owners import SESSION_KEY as SANDBOX_SESSION_KEY
from teach.models import Classroom, Membership

from . import factories as make
from .base import PASSWORD
from .teach_base import TeachTestCase


class InstructorClassPagesTests(TeachTestCase):
    def test_an_instructor_creates_a_class_and_gets_a_join_code_and_link(self) -> None:
        self.sign_in(self.bob)
        response = self.client.post(reverse("teach:create"), {"name": "Caching 101"})
        made = Classroom.objects.get(name="Caching 101")
        self.assertRedirects(response, reverse("teach:class", args=[made.pk]))
        self.assertEqual(made.created_by, self.bob)
        self.assertEqual(list(made.instructors.all()), [self.bob])
        page = self.client.get(reverse("teach:class", args=[made.pk]))
        self.assertContains(page, made.join_code)
        self.assertContains(page, f"http://testserver/join/{made.join_code}/")
        self.assertContains(page, 'data-copy-target="join-url"')
        self.assertNoInlineScript(page.content.decode())

    def test_a_class_needs_a_name(self) -> None:
        self.sign_in(self.bob)
        response = self.client.post(reverse("teach:create"), {"name": "  "})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'role="alert"')
        self.assertEqual(Classroom.taught_by(self.bob).count(), 1)

    def test_the_class_list_shows_only_own_classes_with_archived_ones_apart(self) -> None:
        old = Classroom.objects.create(name="Last year", created_by=self.bob)
        old.instructors.add(self.bob)
        old.set_archived(True)
        self.sign_in(self.bob)
        html = self.client.get(reverse("teach:classes")).content.decode()
        self.assertIn("Databases, group B", html)
        self.assertNotIn("Charlie&#x27;s class", html)
        self.assertNotIn("Charlie's class", html)
        archived_part = html.split('id="archived-title"')[1]
        self.assertIn("Last year", archived_part)
        self.assertNotIn("Databases, group B", archived_part)

    def test_the_nav_has_a_teach_link_for_instructors_only(self) -> None:
        self.sign_in(self.bob)
        self.assertContains(self.client.get(reverse("home")), f'href="{reverse("teach:classes")}"')
        self.sign_in(self.alice)
        self.assertNotContains(self.client.get(reverse("home")), f'href="{reverse("teach:classes")}"')

    def test_the_class_page_lists_its_learners(self) -> None:
        self.sign_in(self.bob)
        response = self.client.get(reverse("teach:class", args=[self.classroom.pk]))
        self.assertContains(response, f'id="learner-{self.alice.pk}"')
        self.assertContains(response, f'id="learner-{self.dave.pk}"')
        self.assertContains(response, reverse("teach:learner", args=[self.classroom.pk, self.alice.pk]))
        for name in ("teach:items", "teach:misconceptions", "teach:experiments"):
            self.assertContains(response, reverse(name, args=[self.classroom.pk]))

    def test_rotating_the_code_makes_the_old_one_stop_working(self) -> None:
        old_code = self.classroom.join_code
        self.sign_in(self.bob)
        response = self.client.post(reverse("teach:rotate_code", args=[self.classroom.pk]))
        self.assertRedirects(response, reverse("teach:class", args=[self.classroom.pk]))
        self.classroom.refresh_from_db()
        self.assertNotEqual(self.classroom.join_code, old_code)
        eve = User.objects.create_user("eve", "eve@example.org", PASSWORD)
        self.sign_in(eve)
        refused = self.client.post(reverse("teach:join_code", args=[old_code]))
        self.assertEqual(refused.status_code, 404)
        self.assertContains(refused, "No class has this code", status_code=404)
        self.assertFalse(Membership.objects.filter(user=eve).exists())
        self.client.post(reverse("teach:join_code", args=[self.classroom.join_code]))
        self.assertTrue(self.classroom.active_members().filter(user=eve).exists())

    def test_rotating_needs_a_post(self) -> None:
        self.sign_in(self.bob)
        code = self.classroom.join_code
        self.assertEqual(self.client.get(reverse("teach:rotate_code", args=[self.classroom.pk])).status_code, 405)
        self.classroom.refresh_from_db()
        self.assertEqual(self.classroom.join_code, code)

    def test_a_co_instructor_is_added_by_username_and_sees_the_class(self) -> None:
        erin = User.objects.create_user("erin", "erin@example.org", PASSWORD)
        make_instructor(erin)
        self.sign_in(self.bob)
        response = self.client.post(reverse("teach:add_instructor", args=[self.classroom.pk]), {"username": "erin"})
        self.assertRedirects(response, reverse("teach:class", args=[self.classroom.pk]))
        self.assertTrue(self.classroom.instructors.filter(pk=erin.pk).exists())
        self.sign_in(erin)
        self.assertEqual(self.client.get(reverse("teach:class", args=[self.classroom.pk])).status_code, 200)

    def test_a_co_instructor_must_be_an_instructor(self) -> None:
        self.sign_in(self.bob)
        for username in ("alice", "nobody-at-all"):
            response = self.client.post(
                reverse("teach:add_instructor", args=[self.classroom.pk]), {"username": username}
            )
            self.assertContains(response, "No instructor has this username.", status_code=400)
        self.assertEqual(list(self.classroom.instructors.all()), [self.bob])

    def test_removing_a_learner_asks_first_then_takes_them_off_the_roster(self) -> None:
        self.sign_in(self.bob)
        url = reverse("teach:remove_learner", args=[self.classroom.pk, self.alice.pk])
        confirm = self.client.get(url)
        self.assertContains(confirm, "Remove alice from Databases, group B?")
        self.assertTrue(self.classroom.active_members().filter(user=self.alice).exists())
        response = self.client.post(url)
        self.assertRedirects(response, reverse("teach:class", args=[self.classroom.pk]))
        membership = Membership.objects.get(classroom=self.classroom, user=self.alice)
        self.assertIsNotNone(membership.removed_at)
        page = self.client.get(reverse("teach:class", args=[self.classroom.pk]))
        self.assertNotContains(page, f'id="learner-{self.alice.pk}"')
        self.assertContains(page, f'id="learner-{self.dave.pk}"')
        drill = self.client.get(reverse("teach:learner", args=[self.classroom.pk, self.alice.pk]))
        self.assertEqual(drill.status_code, 404)

    def test_a_removed_learner_who_joins_again_is_back_on_the_roster(self) -> None:
        self.classroom.remove_member(self.alice.pk)
        self.sign_in(self.alice)
        self.client.post(reverse("teach:join_code", args=[self.classroom.join_code]))
        membership = Membership.objects.get(classroom=self.classroom, user=self.alice)
        self.assertIsNone(membership.removed_at)

    def test_archiving_stops_joins_and_restoring_allows_them_again(self) -> None:
        self.sign_in(self.bob)
        self.client.post(reverse("teach:archive", args=[self.classroom.pk]), {"archived": "on"})
        self.classroom.refresh_from_db()
        self.assertTrue(self.classroom.archived)
        eve = User.objects.create_user("eve", "eve@example.org", PASSWORD)
        self.sign_in(eve)
        refused = self.client.post(reverse("teach:join_code", args=[self.classroom.join_code]))
        self.assertContains(refused, "is archived", status_code=410)
        self.assertFalse(Membership.objects.filter(user=eve).exists())
        self.sign_in(self.bob)
        self.client.post(reverse("teach:archive", args=[self.classroom.pk]), {})
        self.classroom.refresh_from_db()
        self.assertFalse(self.classroom.archived)
        self.sign_in(eve)
        self.client.post(reverse("teach:join_code", args=[self.classroom.join_code]))
        self.assertTrue(self.classroom.active_members().filter(user=eve).exists())


class RefusalTests(TeachTestCase):
    """charlie teaches a class of his own: every URL of bob's class is a 404 to him,
    exactly as for a class that does not exist; learners get 403, guests a sign-in."""

    def class_urls(self, pk: int, user_id: int) -> list[tuple[str, str]]:
        args = [pk]
        return [
            ("get", reverse("teach:class", args=args)),
            ("post", reverse("teach:rotate_code", args=args)),
            ("post", reverse("teach:add_instructor", args=args)),
            ("post", reverse("teach:archive", args=args)),
            ("get", reverse("teach:learner", args=[pk, user_id])),
            ("get", reverse("teach:remove_learner", args=[pk, user_id])),
            ("post", reverse("teach:remove_learner", args=[pk, user_id])),
            ("get", reverse("teach:export_roster", args=args)),
            ("get", reverse("teach:export_answers", args=args)),
            ("get", reverse("teach:export_experiments", args=args)),
        ]

    def test_another_instructor_gets_404_for_every_url_of_the_class(self) -> None:
        code = self.classroom.join_code
        self.sign_in(self.charlie)
        for method, url in self.class_urls(self.classroom.pk, self.alice.pk):
            response = getattr(self.client, method)(url, {"username": "charlie", "archived": "on"})
            self.assertEqual(response.status_code, 404, f"{method} {url}")
            self.assertNotIn(b"alice", response.content, url)
            self.assertNotIn(code.encode(), response.content, url)
        self.classroom.refresh_from_db()
        self.assertEqual(self.classroom.join_code, code)
        self.assertFalse(self.classroom.archived)
        self.assertEqual(list(self.classroom.instructors.all()), [self.bob])
        self.assertTrue(self.classroom.active_members().filter(user=self.alice).exists())

    def test_a_forged_class_id_is_the_same_404(self) -> None:
        self.sign_in(self.bob)
        for method, url in self.class_urls(self.other_class.pk, self.alice.pk) + self.class_urls(99999, self.alice.pk):
            self.assertEqual(getattr(self.client, method)(url).status_code, 404, url)

    def test_a_user_not_in_the_class_has_no_drill_down(self) -> None:
        self.sign_in(self.bob)
        for user in (self.charlie, self.bob):
            url = reverse("teach:learner", args=[self.classroom.pk, user.pk])
            self.assertEqual(self.client.get(url).status_code, 404)

    def test_a_learner_is_refused_and_a_guest_sent_to_sign_in(self) -> None:
        self.sign_in(self.alice)
        for method, url in self.class_urls(self.classroom.pk, self.alice.pk):
            self.assertEqual(getattr(self.client, method)(url).status_code, 403, url)
        self.assertEqual(self.client.get(reverse("teach:classes")).status_code, 403)
        self.client.logout()
        response = self.client.get(reverse("teach:class", args=[self.classroom.pk]))
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("login"), response["Location"])


class JoinTests(TeachTestCase):
    def test_a_learner_joins_with_the_code_typed_in_lower_case_with_spaces(self) -> None:
        eve = User.objects.create_user("eve", "eve@example.org", PASSWORD)
        self.sign_in(eve)
        typed = " ".join(self.classroom.join_code.lower()[i : i + 4] for i in (0, 4))
        response = self.client.post(reverse("teach:join"), {"code": typed})
        self.assertRedirects(response, reverse("teach:join_code", args=[self.classroom.join_code]))
        page = self.client.get(response["Location"])
        self.assertContains(page, "Join “Databases, group B”")
        self.assertFalse(Membership.objects.filter(user=eve).exists())  # a GET joins nobody
        joined = self.client.post(response["Location"])
        self.assertRedirects(joined, reverse("quizzes:me"))
        self.assertTrue(self.classroom.active_members().filter(user=eve).exists())

    def test_joining_twice_is_one_membership(self) -> None:
        self.sign_in(self.alice)
        url = reverse("teach:join_code", args=[self.classroom.join_code])
        self.client.post(url)
        self.client.post(url)
        self.assertEqual(Membership.objects.filter(user=self.alice, classroom=self.classroom).count(), 1)
        self.assertContains(self.client.get(url), 'id="already-member"')

    def test_a_learner_can_be_in_several_classes_and_sees_them_on_their_page(self) -> None:
        third = Classroom.objects.create(name="Evening class", created_by=self.charlie)
        third.instructors.add(self.charlie)
        self.sign_in(self.alice)
        self.client.post(reverse("teach:join_code", args=[third.join_code]))
        html = self.client.get(reverse("quizzes:me")).content.decode()
        classes = html.split('id="my-classes"')[1].split("</section>")[0]
        self.assertIn("Databases, group B", classes)
        self.assertIn("Evening class", classes)
        self.assertNotIn("Charlie&#x27;s class", classes)

    def test_a_wrong_code_says_so(self) -> None:
        self.sign_in(self.alice)
        response = self.client.get(reverse("teach:join_code", args=["ZZZZZZZZ"]))
        self.assertContains(response, "No class has this code", status_code=404)

    def test_a_guest_joins_after_signing_up_and_keeps_their_progress(self) -> None:
        lesson = make.lesson()
        question = make.question()
        quiz = make.quiz([question], public=True)
        quiz.module = lesson.module
        quiz.save(update_fields=["module"])
        self.client.post(reverse("quizzes:mark_read", args=[lesson.module.slug, lesson.slug]))
        self.client.post(reverse("quizzes:quiz", args=[quiz.slug]))
        attempt = Attempt.objects.get()
        self.client.post(reverse("quizzes:attempt_item", args=[attempt.pk, 1]), {"choice": make.correct_ids(question)})
        visitor = Learner.objects.get(user=None)
        self.assertEqual(self.client.session[SESSION_KEY], visitor.session_token)

        join_url = reverse("teach:join_code", args=[self.classroom.join_code])
        page = self.client.get(join_url)
        signup = f'{reverse("quizzes:signup")}?next={join_url}'
        self.assertContains(page, signup)
        self.assertContains(page, f'{reverse("login")}?next={join_url}')
        self.assertFalse(Membership.objects.filter(classroom=self.classroom, user__username="gina").exists())

        response = self.client.post(
            reverse("quizzes:signup"),
            {"username": "gina", "email": "gina@example.org", "password1": PASSWORD,
             "password2": PASSWORD, "next": join_url},
        )  # fmt: skip
        self.assertRedirects(response, join_url, fetch_redirect_response=False)
        self.client.post(join_url)
        gina = User.objects.get(username="gina")
        self.assertTrue(self.classroom.active_members().filter(user=gina).exists())
        visitor.refresh_from_db()
        self.assertEqual(visitor.user, gina)
        self.assertTrue(LessonRead.objects.filter(learner=visitor, lesson=lesson).exists())
        self.sign_in(self.bob)
        roster_page = self.client.get(reverse("teach:class", args=[self.classroom.pk])).content.decode()
        row = roster_page.split(f'id="learner-{gina.pk}"')[1].split("</tr>")[0]
        self.assertIn("1/1", row)  # the lesson read as a guest
        self.assertIn("100%", row)  # the quiz answered as a guest

    def test_a_guest_who_signs_in_joins_with_their_lessons_and_experiments(self) -> None:
        eve = User.objects.create_user("eve", "eve@example.org", PASSWORD)
        lesson = make.lesson()
        self.client.post(reverse("quizzes:mark_read", args=[lesson.module.slug, lesson.slug]))
        self.client.post(reverse("sandbox:session"))
        token = self.client.session[SANDBOX_SESSION_KEY]
        Experiment.objects.create(
            owner_token=token, fault="kill_primary", target="both", shards=1, replicas=1,
            replication_delay_ms=50, results={},
        )  # fmt: skip
        join_url = reverse("teach:join_code", args=[self.classroom.join_code])
        response = self.client.post(reverse("login"), {"username": "eve", "password": PASSWORD, "next": join_url})
        self.assertRedirects(response, join_url, fetch_redirect_response=False)
        self.client.post(join_url)
        self.assertTrue(self.classroom.active_members().filter(user=eve).exists())
        self.assertTrue(LessonRead.objects.filter(learner__user=eve, lesson=lesson).exists())
        self.assertEqual(Experiment.objects.get().owner_user, eve)
        self.sign_in(self.bob)
        html = self.client.get(reverse("teach:class", args=[self.classroom.pk])).content.decode()
        row = html.split(f'id="learner-{eve.pk}"')[1].split("</tr>")[0]
        self.assertIn('<td class="experiments">1</td>', row)

    def test_an_instructor_opening_their_own_class_link_is_sent_to_the_class(self) -> None:
        self.sign_in(self.bob)
        url = reverse("teach:join_code", args=[self.classroom.join_code])
        self.assertRedirects(self.client.post(url), reverse("teach:class", args=[self.classroom.pk]))
        self.assertFalse(Membership.objects.filter(user=self.bob).exists())

"""The roster: each learner's progress computed right, in a constant number of
queries whatever the class size, and fast enough for a 30-learner class; and the
drill-down showing one learner's reads, answers and experiments."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from quizzes.models import Attempt, AttemptItem, Learner, Lesson, LessonRead, Module, Question, Quiz, ReviewCard
from sandbox.models import Experiment, Sandbox
from teach.models import Classroom
from teach.roster import roster

from . import factories as make
from .base import PASSWORD
from .teach_base import TeachTestCase

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


def build_module(number: int, lessons: int, questions: int) -> tuple[Module, list[Lesson], Quiz, list[Question]]:
    module = Module.objects.create(slug=f"m{number}", number=number, title=f"Module {number}", summary="s")
    made = [
        Lesson.objects.create(
            module=module, slug=f"m{number}-l{n}", number=n, position=number * 100 + n,
            title=f"Lesson {number}.{n}", summary="s", body_markdown="b", body_html="<p>b</p>",
        )  # fmt: skip
        for n in range(1, lessons + 1)
    ]
    qs = [make.question() for _ in range(questions)]
    quiz = make.quiz(qs)
    quiz.module = module
    quiz.save(update_fields=["module"])
    return module, made, quiz, qs


def finished_attempt(
    learner: Learner, quiz: Quiz, questions: list[Question], right: int, at: datetime, kind: str = Attempt.Kind.QUIZ
) -> Attempt:
    """A finished attempt with ``right`` of its questions answered right (the first ones)."""
    attempt = Attempt.objects.create(
        learner=learner, quiz=quiz, kind=kind, seed=1, started_at=at,
        finished_at=at + timedelta(minutes=5), correct_count=right, total=len(questions),
    )  # fmt: skip
    for position, q in enumerate(questions, start=1):
        good = position <= right
        AttemptItem.objects.create(
            attempt=attempt, question=q, position=position,
            choice_order=[c.pk for c in q.choices.all()],
            selected=make.correct_ids(q) if good else make.wrong_ids(q),
            correct=good, rating=3 if good else 1, answered_at=at + timedelta(minutes=position),
        )  # fmt: skip
    return attempt


class RosterContentTests(TeachTestCase):
    def setUp(self) -> None:
        self.m1, self.lessons1, self.quiz1, self.questions1 = build_module(1, 3, 4)
        self.m2, self.lessons2, self.quiz2, self.questions2 = build_module(2, 2, 2)
        learner = Learner.objects.create(user=self.alice)
        LessonRead.objects.create(learner=learner, lesson=self.lessons1[0], read_at=T0)
        LessonRead.objects.create(learner=learner, lesson=self.lessons1[1], read_at=T0 + timedelta(hours=1))
        finished_attempt(learner, self.quiz1, self.questions1, right=3, at=T0)
        # Neither an unfinished attempt nor a retry counts towards mastery.
        Attempt.objects.create(learner=learner, quiz=self.quiz2, seed=2, started_at=T0, total=2)
        finished_attempt(learner, self.quiz1, self.questions1[3:], right=1, at=T0, kind=Attempt.Kind.RETRY)
        for q, due in ((self.questions1[0], T0 - timedelta(days=1)), (self.questions1[1], T0),
                       (self.questions1[2], T0 + timedelta(days=3))):  # fmt: skip
            ReviewCard.objects.create(learner=learner, question=q, due=due)
        for n in range(2):
            Experiment.objects.create(
                owner_user=self.alice, fault="kill_primary", target="both", shards=1, replicas=1,
                replication_delay_ms=50, prediction=5, results={"cache": {"acknowledged": 100, "lost": 7}},
            )  # fmt: skip
        self.sandbox_at = T0 + timedelta(hours=2)
        Sandbox.objects.create(owner_user=self.alice, state=Sandbox.State.RUNNING, last_activity=self.sandbox_at)

    def test_it_counts_reads_mastery_reviews_experiments_and_sandbox_per_learner(self) -> None:
        rows = roster(self.classroom, now=T0)
        self.assertEqual([r.username for r in rows], ["alice", "dave"])
        alice, dave = rows
        m1, m2 = alice.modules
        self.assertEqual((m1.lessons_read, m1.lessons_total, m1.answered, m1.correct, m1.mastery), (2, 3, 4, 3, 75))
        self.assertEqual((m2.lessons_read, m2.lessons_total, m2.mastery), (0, 2, None))
        self.assertEqual(alice.reviews_due, 2)
        self.assertEqual(alice.experiments, 2)
        self.assertEqual(alice.sandbox, "running")
        # The sandbox's last action is the latest thing alice did (experiments were
        # created "now", later still, so move them back first).
        Experiment.objects.update(created=T0)
        self.assertEqual(roster(self.classroom, now=T0)[0].last_activity, self.sandbox_at)
        self.assertEqual((dave.lessons_read, dave.reviews_due, dave.experiments, dave.sandbox), (0, 0, 0, "none"))
        self.assertIsNone(dave.last_activity)

    def test_last_activity_is_the_latest_answer_when_that_came_last(self) -> None:
        Sandbox.objects.all().delete()
        Experiment.objects.all().delete()
        learner = Learner.objects.get(user=self.alice)
        late = T0 + timedelta(days=2)
        AttemptItem.objects.filter(attempt__learner=learner).order_by("pk").filter(
            pk=AttemptItem.objects.filter(attempt__learner=learner).order_by("pk").first().pk
        ).update(answered_at=late)
        self.assertEqual(roster(self.classroom, now=T0)[0].last_activity, late)

    def test_removed_learners_and_other_classes_learners_are_not_on_it(self) -> None:
        self.classroom.remove_member(self.dave.pk)
        self.other_class.enroll(self.charlie)
        self.assertEqual([r.username for r in roster(self.classroom)], ["alice"])

    def test_a_row_is_json_ready_for_the_live_dashboard(self) -> None:
        data = roster(self.classroom, now=T0)[0].as_dict()
        self.assertEqual(data["username"], "alice")
        self.assertEqual(data["modules"][0]["mastery"], 75)
        self.assertIsInstance(data["last_activity"], str)
        self.assertIsInstance(data["joined_at"], str)

    def test_the_class_page_shows_the_same_numbers(self) -> None:
        self.sign_in(self.bob)
        html = self.client.get(reverse("teach:class", args=[self.classroom.pk])).content.decode()
        row = html.split(f'id="learner-{self.alice.pk}"')[1].split("</tr>")[0]
        self.assertIn("2/3", row)
        self.assertIn("75%", row)
        self.assertIn("sandbox-running", row)


class RosterScaleTests(TeachTestCase):
    """Queries do not grow with the class, and 30 learners render quickly."""

    def setUp(self) -> None:
        self.modules = [build_module(n, 4, 5) for n in range(1, 7)]
        self.big = Classroom.objects.create(name="Big class", created_by=self.bob)
        self.big.instructors.add(self.bob)
        self.users: list[User] = []

    def add_learners(self, count: int) -> None:
        """Learners with some of everything the roster reads."""
        start = len(self.users)
        for n in range(start, start + count):
            user = User.objects.create_user(f"learner{n:02d}", f"l{n}@example.org", PASSWORD)
            self.users.append(user)
            self.big.enroll(user)
            learner = Learner.objects.create(user=user)
            for number, (_module, lessons, quiz, questions) in enumerate(self.modules):
                LessonRead.objects.bulk_create(
                    [LessonRead(learner=learner, lesson=lesson, read_at=T0) for lesson in lessons[: n % 4 + 1]]
                )
                if number < 3:
                    finished_attempt(learner, quiz, questions, right=n % 6, at=T0)
                    ReviewCard.objects.create(learner=learner, question=questions[0], due=T0)
            Experiment.objects.create(
                owner_user=user, fault="kill_primary", target="both", shards=1, replicas=1,
                replication_delay_ms=50, results={},
            )  # fmt: skip
            Sandbox.objects.create(owner_user=user, state=Sandbox.State.STOPPED, last_activity=T0)

    def roster_queries(self) -> int:
        with CaptureQueriesContext(connection) as queries:
            rows = roster(self.big, now=T0)
        self.assertEqual(len(rows), len(self.users))
        return len(queries)

    def page_queries(self) -> int:
        url = reverse("teach:class", args=[self.big.pk])
        self.client.get(url)  # the session and user are loaded once, not counted twice
        with CaptureQueriesContext(connection) as queries:
            response = self.client.get(url)
        self.assertContains(response, 'data-user-id="', count=len(self.users))
        return len(queries)

    def test_the_roster_takes_as_many_queries_for_30_learners_as_for_3(self) -> None:
        self.sign_in(self.bob)
        self.add_learners(3)
        few, page_few = self.roster_queries(), self.page_queries()
        self.add_learners(27)
        with self.assertNumQueries(few):
            roster(self.big, now=T0)
        self.assertEqual(self.page_queries(), page_few)
        print(f"\nroster(): {few} queries; class page: {page_few} queries, for 3 and for 30 learners")

    def test_30_learners_take_well_under_the_300_ms_goal(self) -> None:
        self.add_learners(30)
        self.sign_in(self.bob)
        url = reverse("teach:class", args=[self.big.pk])
        self.client.get(url)  # warm the template cache
        runs = []
        for _ in range(5):
            cpu, wall = time.process_time(), time.perf_counter()
            response = self.client.get(url)
            runs.append((time.process_time() - cpu, time.perf_counter() - wall))
            self.assertEqual(response.status_code, 200)
        cpu_ms, wall_ms = (1000 * min(r[i] for r in runs) for i in (0, 1))
        print(f"\nclass page, 30 learners x 6 modules: {cpu_ms:.1f} ms CPU, {wall_ms:.1f} ms wall (best of 5)")
        # The goal is 300 ms of server time; CPU time of this process (the ORM, SQLite
        # and the template all run in it) does not count time lost to other tenants of
        # the machine. A generous bound still catches a per-learner query loop.
        self.assertLess(cpu_ms, 1000)


class DrillDownTests(TeachTestCase):
    def setUp(self) -> None:
        self.module, self.lessons, self.quiz, self.questions = build_module(1, 2, 2)
        learner = Learner.objects.create(user=self.alice)
        LessonRead.objects.create(learner=learner, lesson=self.lessons[0], read_at=T0)
        finished_attempt(learner, self.quiz, self.questions, right=1, at=T0)
        Experiment.objects.create(
            owner_user=self.alice, fault="kill_primary", target="both", shards=1, replicas=1,
            replication_delay_ms=50, prediction=12,
            results={"durable": {"acknowledged": 500, "lost": 0}, "cache": {"acknowledged": 480, "lost": 37}},
        )  # fmt: skip
        # dave's data must not leak into alice's page.
        dave = Learner.objects.create(user=self.dave)
        LessonRead.objects.create(learner=dave, lesson=self.lessons[1], read_at=T0)

    def test_it_shows_reads_chosen_answers_and_prediction_against_result(self) -> None:
        self.sign_in(self.bob)
        response = self.client.get(reverse("teach:learner", args=[self.classroom.pk, self.alice.pk]))
        self.assertEqual(response.status_code, 200)
        html = response.content.decode()
        reads = html.split('id="lessons-read"')[1].split("</table>")[0]
        self.assertIn("Lesson 1.1", reads)
        self.assertNotIn("Lesson 1.2", reads)
        right_q, wrong_q = self.questions
        right_text = right_q.choices.get(correct=True).text
        wrong_text = wrong_q.choices.filter(correct=False).order_by("position").first().text
        self.assertIn(f"Chose: {right_text} <span class=\"meta\">(a right choice)", html)
        self.assertIn(f"Chose: {wrong_text} <span class=\"meta\">(a wrong choice)", html)
        self.assertIn("1 of 2 right", html)
        experiments = html.split('id="learner-experiments"')[1].split("</table>")[0]
        self.assertIn("<td>12</td>", experiments)
        self.assertIn("37 of 480", experiments)
        self.assertIn("0 of 500", experiments)
        self.assertIn("No lab step passed yet.", html)  # passes are listed (test_lab_passes.py)
        self.assertNoInlineScript(html)

    def test_a_learner_of_another_class_is_404_even_for_their_instructor_id(self) -> None:
        self.other_class.enroll(self.dave)
        self.sign_in(self.charlie)
        self.assertEqual(
            self.client.get(reverse("teach:learner", args=[self.other_class.pk, self.alice.pk])).status_code, 404
        )
        self.assertEqual(
            self.client.get(reverse("teach:learner", args=[self.classroom.pk, self.dave.pk])).status_code, 404
        )

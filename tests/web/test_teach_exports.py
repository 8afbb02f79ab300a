"""CSV exports of a class: exact contents, one row per answer, spreadsheet-safe
cells, a download name, streaming, and only the class's own active learners."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import AsyncClient
from django.urls import reverse

from quizzes.models import Attempt, AttemptItem, Learner, LessonRead
from sandbox.models import Experiment
from teach.models import Membership
from teach.views.exports import safe_cell

from .base import PASSWORD
from .teach_base import TeachTestCase
from .test_teach_roster import build_module, finished_attempt

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


class ExportTests(TeachTestCase):
    def setUp(self) -> None:
        self.module, self.lessons, self.quiz, self.questions = build_module(1, 2, 2)
        # A username may start with @, + or -, and a name with anything.
        self.mallory = User.objects.create_user("@mallory", "m@example.org", PASSWORD, first_name="=SUM(A1)")
        self.classroom.enroll(self.mallory)
        Membership.objects.filter(classroom=self.classroom).update(joined_at=T0)
        alice = Learner.objects.create(user=self.alice)
        LessonRead.objects.create(learner=alice, lesson=self.lessons[0], read_at=T0)
        finished_attempt(alice, self.quiz, self.questions, right=1, at=T0)
        first = self.questions[0].choices.get(correct=True)
        first.text = "-1 write is lost"
        first.save(update_fields=["text"])
        mallory = Learner.objects.create(user=self.mallory)
        attempt = Attempt.objects.create(learner=mallory, quiz=self.quiz, seed=1, started_at=T0, total=2)
        AttemptItem.objects.create(
            attempt=attempt, question=self.questions[1], position=1, correct=False, rating=1,
            free_text='+cmd|"/c calc"', answered_at=T0 + timedelta(hours=1),
        )  # fmt: skip
        AttemptItem.objects.create(attempt=attempt, question=self.questions[0], position=2)  # not answered
        Experiment.objects.create(
            owner_user=self.alice, fault="kill_primary", target="both", shards=1, replicas=1,
            replication_delay_ms=50, load_rate=25, prediction=-3,
            results={"durable": {"acknowledged": 500, "lost": 0}, "cache": {"acknowledged": 480, "lost": 37}},
        )  # fmt: skip
        # Someone outside the class, and dave once removed: neither may appear.
        outsider = Learner.objects.create(user=self.charlie)
        finished_attempt(outsider, self.quiz, self.questions, right=2, at=T0)
        Experiment.objects.create(
            owner_user=self.charlie, fault="kill_zone", target="both", shards=1, replicas=1,
            replication_delay_ms=50, results={},
        )  # fmt: skip
        Experiment.objects.update(created=T0)
        self.sign_in(self.bob)

    def download(self, name: str) -> list[list[str]]:
        response = self.client.get(reverse(f"teach:export_{name}", args=[self.classroom.pk]))
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.streaming)
        self.assertEqual(response["Content-Type"], "text/csv; charset=utf-8")
        self.assertEqual(
            response["Content-Disposition"],
            f'attachment; filename="databases-group-b-{self.classroom.pk}-{name}.csv"',
        )
        text = b"".join(response.streaming_content).decode()
        return list(csv.reader(io.StringIO(text)))

    def test_the_roster_csv_has_one_row_per_learner_with_progress(self) -> None:
        self.assertEqual(
            self.download("roster"),
            [
                ["username", "name", "joined", "last activity", "module 1 lessons read", "module 1 lessons",
                 "module 1 mastery %", "reviews due", "experiments", "sandbox"],
                ["'@mallory", "'=SUM(A1)", T0.isoformat(), (T0 + timedelta(hours=1)).isoformat(),
                 "0", "2", "", "0", "0", "none"],
                # alice's last activity: her last answer, after the read and the experiment.
                ["alice", "alice", T0.isoformat(), (T0 + timedelta(minutes=2)).isoformat(),
                 "1", "2", "50", "0", "1", "none"],
                ["dave", "dave", T0.isoformat(), "", "0", "2", "", "0", "0", "none"],
            ],
        )  # fmt: skip

    def test_the_answers_csv_has_one_row_per_answered_item_of_members(self) -> None:
        right, wrong = self.questions
        wrong_choice = wrong.choices.filter(correct=False).order_by("position").first().text
        alice_attempt = Attempt.objects.get(learner__user=self.alice).pk
        mallory_attempt = Attempt.objects.get(learner__user=self.mallory).pk
        self.assertEqual(
            self.download("answers"),
            [
                ["username", "attempt", "kind", "quiz", "module", "question", "position", "answered at",
                 "chosen", "correct", "rating", "written answer"],
                ["alice", str(alice_attempt), "quiz", self.quiz.slug, "1", right.slug, "1",
                 (T0 + timedelta(minutes=1)).isoformat(), "'-1 write is lost", "yes", "3", ""],
                ["alice", str(alice_attempt), "quiz", self.quiz.slug, "1", wrong.slug, "2",
                 (T0 + timedelta(minutes=2)).isoformat(), wrong_choice, "no", "1", ""],
                ["'@mallory", str(mallory_attempt), "quiz", self.quiz.slug, "1", wrong.slug, "1",
                 (T0 + timedelta(hours=1)).isoformat(), "", "no", "1", "'+cmd|\"/c calc\""],
            ],
        )  # fmt: skip

    def test_the_experiments_csv_has_prediction_and_losses_per_cluster(self) -> None:
        self.assertEqual(
            self.download("experiments"),
            [
                ["username", "when", "fault", "target", "shards", "replicas", "replication delay ms",
                 "load writes/s", "predicted cache loss", "durable acknowledged", "durable lost",
                 "cache acknowledged", "cache lost"],
                ["alice", T0.isoformat(), "kill_primary", "both", "1", "1", "50", "25", "-3",
                 "500", "0", "480", "37"],
            ],
        )  # fmt: skip

    def test_a_removed_learner_leaves_every_export(self) -> None:
        self.classroom.remove_member(self.alice.pk)
        for name in ("roster", "answers", "experiments"):
            rows = self.download(name)
            self.assertNotIn("alice", [row[0] for row in rows], name)

    def test_only_text_cells_that_a_spreadsheet_would_run_are_prefixed(self) -> None:
        for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
            self.assertEqual(safe_cell(text), "'" + text)
        self.assertEqual(safe_cell("1-1"), "1-1")
        self.assertEqual(safe_cell(-3), -3)  # a number stays a number
        self.assertEqual(safe_cell(None), "")

    async def test_under_asgi_the_export_is_an_async_stream_of_the_same_rows(self) -> None:
        """The site runs on daphne: a sync iterator would be read whole into memory
        there by Django first, so the ASGI path must get an async one."""
        expected = await sync_to_async(self.download)("answers")
        client = AsyncClient()
        await client.aforce_login(self.bob)
        response = await client.get(reverse("teach:export_answers", args=[self.classroom.pk]))
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.is_async)
        text = "".join([part.decode() async for part in response.streaming_content])
        self.assertEqual(list(csv.reader(io.StringIO(text))), expected)

"""Item analysis, the misconception heatmap and the class's experiments (teach.analysis
and its three pages): known results on a hand-built answer set, permissions, and a
fixed number of queries however many learners the class has."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone as dt_timezone

from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from quizzes.models import Attempt, Choice, Learner, Lesson, Module, Question, Quiz, QuizItem
from quizzes.models.content import Misconception
from quizzes.roles import make_instructor
from sandbox.models import Experiment
from teach.analysis import (
    Response,
    bucket,
    class_experiments,
    experiment_charts,
    item_analysis,
    item_summary,
    misconception_heatmap,
    point_biserial,
    upper_lower_index,
)
from teach.models import Classroom

from .base import PASSWORD, WebTestCase

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=dt_timezone.utc)

# The hand-built answer set: 1 = right first answer. Totals are over Q1-Q4.
#
#            Q1 Q2 Q3 Q4 | total
#   alice     1  1  1  1 |  4
#   dave      1  0  1  1 |  3
#   erin      1  1  0  1 |  3
#   frank     0  1  0  1 |  2
#   gina      1  0  0  1 |  2
#   hank      0  0  0  1 |  1
#
# Q5 is answered by nobody; Q6 only by alice (wrong).
MATRIX = {
    "alice": "1111",
    "dave": "1011",
    "erin": "1101",
    "frank": "0101",
    "gina": "1001",
    "hank": "0001",
}


class AnalysisTestCase(WebTestCase):
    dave: User
    classroom: Classroom
    other_class: Classroom
    quiz: Quiz
    questions: dict[str, Question]
    believes_memory: Misconception
    believes_snapshot: Misconception
    lesson: Lesson

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.dave = User.objects.create_user("dave", "dave@example.org", PASSWORD)
        make_instructor(cls.charlie)
        cls.classroom = Classroom.objects.create(name="Databases, group B", created_by=cls.bob)
        cls.classroom.instructors.add(cls.bob)
        cls.other_class = Classroom.objects.create(name="Charlie's class", created_by=cls.charlie)
        cls.other_class.instructors.add(cls.charlie)
        module = Module.objects.create(slug="basics", number=1, title="Basics", summary="-")
        cls.lesson = Lesson.objects.create(
            module=module, slug="write-acknowledgement", number=1, title="When OK is sent",
            summary="-", body_markdown="-",
        )  # fmt: skip
        cls.believes_memory = Misconception.objects.create(
            slug="ack-from-memory", title="OK means in memory", statement="-", lesson=cls.lesson, position=1
        )
        cls.believes_snapshot = Misconception.objects.create(
            slug="snapshot-makes-durable", title="Snapshots make writes durable", statement="-",
            lesson=cls.lesson, position=2,
        )  # fmt: skip
        cls.questions = {}
        cls.quiz = Quiz.objects.create(slug="basics-quiz", title="Basics quiz", mode=Quiz.Mode.MODULE)
        for n in range(1, 7):
            question = Question.objects.create(
                slug=f"q{n}", kind=Question.Kind.SINGLE, difficulty=1, prompt=f"Question {n}?",
                model_answer="-", follow_up="-", follow_up_answer="-", explanation="-", position=n,
                lesson=cls.lesson,
            )  # fmt: skip
            Choice.objects.create(question=question, position=1, text="Right", correct=True)
            Choice.objects.create(
                question=question, position=2, text="In memory", misconception=cls.believes_memory
            )
            Choice.objects.create(
                question=question, position=3, text="Snapshot", misconception=cls.believes_snapshot
            )
            QuizItem.objects.create(quiz=cls.quiz, question=question, position=n)
            cls.questions[f"q{n}"] = question

    # -- building answers through the real attempt code ---------------------------------

    @classmethod
    def member(cls, username: str) -> User:
        user = User.objects.filter(username=username).first() or User.objects.create_user(
            username, f"{username}@example.org", PASSWORD
        )
        cls.classroom.enroll(user)
        return user

    @classmethod
    def answer(cls, user: User, picks: dict[str, int], at: datetime, kind: str = Attempt.Kind.QUIZ) -> None:
        """One attempt of ``user`` answering each question with the choice at a position."""
        learner, _created = Learner.objects.get_or_create(user=user)
        questions = [cls.questions[slug] for slug in picks]
        attempt = Attempt.start(learner, questions, now=at, quiz=cls.quiz, kind=kind, seed=1)
        for item in attempt.items.select_related("question"):
            chosen = Choice.objects.get(question=item.question, position=picks[item.question.slug])
            attempt.answer_choices(item, [chosen.pk], at)

    @classmethod
    def answer_matrix(cls) -> dict[str, User]:
        users = {}
        for n, (username, row) in enumerate(MATRIX.items()):
            user = cls.member(username)
            users[username] = user
            # Wrong answers pick "In memory", except hank's, who picks "Snapshot" on Q3.
            picks = {f"q{i + 1}": 1 if bit == "1" else 2 for i, bit in enumerate(row)}
            if username == "hank":
                picks["q3"] = 3
            if username == "alice":
                picks["q6"] = 2
            cls.answer(user, picks, T0 + timedelta(minutes=n))
        return users


class DiscriminationFormulaTests(WebTestCase):
    """The two indices as pure functions, on totals worked out by hand."""

    TOTALS = {"alice": 4, "dave": 3, "erin": 3, "frank": 2, "gina": 2, "hank": 1}

    def responses(self, item: int) -> list[Response]:
        return [
            Response(n, self.TOTALS[name], MATRIX[name][item] == "1")
            for n, name in enumerate(MATRIX)
        ]

    def test_the_upper_lower_index_compares_the_top_and_bottom_27_percent(self) -> None:
        # n = 6, so each group is round(0.27 * 6) = round(1.62) = 2 learners:
        # upper = alice, dave (dave before erin on the tie); lower = gina, hank.
        # Q1: upper 2/2 right, lower 1/2 (gina) -> 1 - 0.5 = 0.5
        # Q2: upper 1/2 (alice), lower 0/2 -> 0.5
        # Q3: upper 2/2, lower 0/2 -> 1.0
        # Q4: everyone right -> 1 - 1 = 0
        self.assertEqual(
            [upper_lower_index(self.responses(i)) for i in range(4)], [0.5, 0.5, 1.0, 0.0]
        )

    def test_the_point_biserial_matches_the_hand_computed_value(self) -> None:
        # Totals 4,3,3,2,2,1: mean 2.5, squared deviations 2.25+.25+.25+.25+.25+2.25 = 5.5,
        # s = sqrt(5.5 / 6) = sqrt(11/12).
        # Q1: right {4,3,3,2} M1 = 3, wrong {2,1} M0 = 1.5, p = 2/3:
        #     r = 1.5 / sqrt(11/12) * sqrt(2/9) = sqrt(6/11)
        # Q2: right {4,3,2} M1 = 3, wrong {3,2,1} M0 = 2, p = 1/2:
        #     r = 1 / sqrt(11/12) * 1/2 = sqrt(3/11)
        # Q3: right {4,3} M1 = 3.5, wrong {3,2,2,1} M0 = 2, p = 1/3:
        #     r = 1.5 / sqrt(11/12) * sqrt(2/9) = sqrt(6/11)
        expected = [math.sqrt(6 / 11), math.sqrt(3 / 11), math.sqrt(6 / 11)]
        for item, value in enumerate(expected):
            self.assertAlmostEqual(point_biserial(self.responses(item)), value, places=9)

    def test_zero_variance_gives_none_instead_of_a_crash(self) -> None:
        # Q4: everyone right, so the item has no variance.
        self.assertIsNone(point_biserial(self.responses(3)))
        same_totals = [Response(1, 2, True), Response(2, 2, False), Response(3, 2, True)]
        self.assertIsNone(point_biserial(same_totals))
        self.assertIsNone(upper_lower_index(same_totals))
        self.assertIsNone(point_biserial([Response(1, 3, True)]))
        self.assertIsNone(upper_lower_index([]))


class ItemAnalysisTests(AnalysisTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.users = cls.answer_matrix()
        # hank retries Q1 and gets it right: the analysis keeps his first answer.
        cls.answer(cls.users["hank"], {"q1": 1}, T0 + timedelta(hours=1), kind=Attempt.Kind.RETRY)

    def test_it_reports_attempts_share_correct_and_discrimination_per_question(self) -> None:
        analysis = item_analysis(self.classroom)
        items = {item.slug: item for item in analysis.items}
        self.assertEqual(analysis.learners, 6)
        q1 = items["q1"]
        self.assertEqual((q1.attempts, q1.answers, q1.correct), (6, 7, 4))
        self.assertAlmostEqual(q1.share_correct, 4 / 6)
        self.assertEqual(q1.upper_lower, 0.5)
        self.assertAlmostEqual(q1.point_biserial, math.sqrt(6 / 11))
        self.assertAlmostEqual(items["q2"].point_biserial, math.sqrt(3 / 11))
        self.assertEqual(items["q3"].upper_lower, 1.0)
        self.assertIsNone(items["q4"].point_biserial)
        self.assertEqual((items["q5"].attempts, items["q5"].share_correct), (0, None))

    def test_it_counts_each_option_and_names_its_misconception(self) -> None:
        q3 = {item.slug: item for item in item_analysis(self.classroom).items}["q3"]
        options = {o.text: (o.chosen, o.misconception) for o in q3.options}
        # Right: alice, dave. In memory: erin, frank, gina. Snapshot: hank.
        self.assertEqual(
            options,
            {
                "Right": (2, ""),
                "In memory": (3, "ack-from-memory"),
                "Snapshot": (1, "snapshot-makes-durable"),
            },
        )

    def test_a_quiz_reports_its_passes_and_analyses_its_own_questions(self) -> None:
        quiz = item_analysis(self.classroom).quizzes[0]
        # Six full passes; hank's retry is not a pass. 4+3+3+2+2+1 right (+ alice's
        # wrong Q6) over 6*4 + 1 answers.
        self.assertEqual((quiz.started, quiz.finished), (6, 6))
        self.assertAlmostEqual(quiz.mean_score, 15 / 25)
        self.assertEqual([item.slug for item in quiz.items], ["q1", "q2", "q3", "q4", "q5", "q6"])
        self.assertAlmostEqual(quiz.items[1].point_biserial, math.sqrt(3 / 11))

    def test_the_hardest_questions_ignore_unattempted_and_rarely_attempted_ones(self) -> None:
        hardest = [item.slug for item in item_analysis(self.classroom).hardest]
        # q6 (1 learner, 0 right) is below the 3-learner threshold; q5 was never answered.
        self.assertEqual(hardest, ["q3", "q2", "q1", "q4"])
        with_one = [item.slug for item in item_analysis(self.classroom, min_attempts=1).hardest]
        self.assertEqual(with_one, ["q6", "q3", "q2", "q1", "q4"])
        self.assertNotIn("q5", with_one)

    def test_the_summary_for_the_live_dashboard_is_json_ready(self) -> None:
        summary = json.loads(json.dumps(item_summary(self.classroom)))
        self.assertEqual(summary["learners"], 6)
        self.assertEqual([q["slug"] for q in summary["hardest"]][:2], ["q3", "q2"])
        self.assertAlmostEqual(summary["questions"]["q3"]["share_correct"], 2 / 6)
        self.assertNotIn("q5", summary["questions"])

    def test_answers_of_another_class_do_not_count(self) -> None:
        outsider = User.objects.create_user("olga", "olga@example.org", PASSWORD)
        self.other_class.enroll(outsider)
        self.answer(outsider, {"q5": 1}, T0)
        self.assertEqual({i.slug: i for i in item_analysis(self.classroom).items}["q5"].attempts, 0)

    def test_a_removed_learner_still_counts_in_item_analysis_but_not_in_the_heatmap(self) -> None:
        self.classroom.remove_member(self.users["hank"].pk)
        self.assertEqual(item_analysis(self.classroom).learners, 6)
        self.assertNotIn("hank", [name for _id, name in misconception_heatmap(self.classroom).learners])


class HeatmapTests(AnalysisTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.users = cls.answer_matrix()
        cls.answer(cls.users["hank"], {"q1": 1}, T0 + timedelta(hours=1), kind=Attempt.Kind.RETRY)

    def cell(self, heatmap, slug: str, username: str):  # type: ignore[no-untyped-def]
        row = next(r for r in heatmap.rows if r.slug == slug)
        column = [name for _id, name in heatmap.learners].index(username)
        return row.cells[column]

    def test_each_cell_counts_the_picks_out_of_the_answers_that_offered_the_belief(self) -> None:
        heatmap = misconception_heatmap(self.classroom)
        self.assertEqual([name for _id, name in heatmap.learners], list(sorted(MATRIX)))
        # hank: wrong on Q1 and Q2 with "In memory", "Snapshot" on Q3, right on Q4,
        # then right on Q1 in a retry: 5 answers offered each belief.
        hank_memory = self.cell(heatmap, "ack-from-memory", "hank")
        self.assertEqual((hank_memory.count, hank_memory.offered), (2, 5))
        self.assertEqual(hank_memory.bucket, "2")
        hank_snapshot = self.cell(heatmap, "snapshot-makes-durable", "hank")
        self.assertEqual((hank_snapshot.count, hank_snapshot.offered), (1, 5))
        self.assertEqual(hank_snapshot.question_url, reverse("quizzes:question", args=["q3"]))
        alice = self.cell(heatmap, "ack-from-memory", "alice")
        self.assertEqual((alice.count, alice.offered, alice.bucket), (1, 5, "1"))
        self.assertEqual(alice.question_url, reverse("quizzes:question", args=["q6"]))
        row = next(r for r in heatmap.rows if r.slug == "ack-from-memory")
        self.assertEqual(row.count, 1 + 1 + 1 + 2 + 2 + 2)  # every "0" of MATRIX but hank's Q3, plus alice's Q6
        self.assertEqual(row.lesson_url, self.lesson.get_absolute_url())
        self.assertEqual(heatmap.rows[0].slug, "ack-from-memory", "the most picked belief comes first")

    def test_the_buckets_split_the_share_into_five_colours(self) -> None:
        self.assertEqual(
            [bucket(s) for s in (None, 0.0, 0.1, 0.25, 0.3, 0.5, 0.6, 0.75, 0.8, 1.0)],
            ["none", "0", "1", "1", "2", "2", "3", "3", "4", "4"],
        )

    def test_the_page_is_an_accessible_table_with_numbers_links_and_colours(self) -> None:
        self.client.force_login(self.bob)
        response = self.client.get(reverse("teach:misconceptions", args=[self.classroom.pk]))
        self.assertEqual(response.status_code, 200)
        html = response.content.decode()
        self.assertIn('<th scope="row" class="heat-belief">', html)
        self.assertIn('class="heat-cell heat-2"', html)
        self.assertIn(f'href="{reverse("quizzes:question", args=["q3"])}">1/5', html)
        self.assertIn(f'href="{self.lesson.get_absolute_url()}">Lesson: When OK is sent', html)
        self.assertNoInlineScript(html)


class ExperimentTests(AnalysisTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.classroom.enroll(cls.alice)
        cls.classroom.enroll(cls.dave)
        cls.other_class.enroll(cls.charlie)
        cls.experiment(cls.alice, prediction=40, durable=(0, 500), cache=(65, 500))
        cls.experiment(cls.dave, prediction=None, durable=(0, 300), cache=(12, 300))
        cls.experiment(cls.dave, prediction=5, durable=None, cache=(30, 200), target="cache")
        cls.experiment(cls.charlie, prediction=99, durable=(0, 10), cache=(99, 10))

    @classmethod
    def experiment(cls, user: User, prediction: int | None, durable, cache, target: str = "both") -> None:  # type: ignore[no-untyped-def]
        results = {}
        for lane, value in (("durable", durable), ("cache", cache)):
            if value is not None:
                results[lane] = {"lost": value[0], "acknowledged": value[1], "kept": value[1] - value[0]}
        Experiment.objects.create(
            owner_user=user, fault="kill_primary", target=target, shards=1, replicas=1,
            replication_delay_ms=50, load_rate=25, prediction=prediction, results=results,
        )  # fmt: skip

    def test_it_lists_every_members_experiments_and_nobody_elses(self) -> None:
        runs = class_experiments(self.classroom)
        self.assertEqual(sorted(e.username for e in runs), ["alice", "dave", "dave"])
        charts = experiment_charts(runs)
        self.assertCountEqual(
            charts["scatter"],
            [{"predicted": 40, "actual": 65, "learner": "alice"}, {"predicted": 5, "actual": 30, "learner": "dave"}],
        )
        self.assertCountEqual(charts["losses"]["durable"], [0, 0])
        self.assertCountEqual(charts["losses"]["cache"], [65, 12, 30])

    def test_the_page_loads_the_bundled_plotly_and_embeds_the_chart_data(self) -> None:
        self.client.force_login(self.bob)
        response = self.client.get(reverse("teach:experiments", args=[self.classroom.pk]))
        self.assertEqual(response.status_code, 200)
        html = response.content.decode()
        self.assertIn("/static/vendor/plotly/plotly.min.js", html)
        self.assertIn("/static/js/teach_charts.js", html)
        self.assertNotIn("cdn", html.lower())
        self.assertIn('id="class-experiment-charts"', html)
        self.assertIn("65 of 500", html)
        self.assertNotIn("charlie", html.split("<main", 1)[-1])
        self.assertNoInlineScript(html)


class PermissionTests(AnalysisTestCase):
    NAMES = ("teach:items", "teach:misconceptions", "teach:experiments")

    def test_charlie_gets_404_on_every_analysis_page_of_bobs_class(self) -> None:
        self.client.force_login(self.charlie)
        for name in self.NAMES:
            with self.subTest(name=name):
                response = self.client.get(reverse(name, args=[self.classroom.pk]))
                self.assertEqual(response.status_code, 404)
        for name in self.NAMES:
            response = self.client.get(reverse(name, args=[self.other_class.pk]))
            self.assertEqual(response.status_code, 200, "charlie's own class opens")

    def test_a_forged_class_id_is_404_and_a_learner_is_refused(self) -> None:
        self.client.force_login(self.bob)
        for name in self.NAMES:
            self.assertEqual(self.client.get(reverse(name, args=[999_999])).status_code, 404)
            self.assertEqual(self.client.get(reverse(name, args=[self.classroom.pk])).status_code, 200)
        self.client.force_login(self.alice)
        for name in self.NAMES:
            self.assertEqual(self.client.get(reverse(name, args=[self.classroom.pk])).status_code, 403)
        self.client.logout()
        for name in self.NAMES:
            self.assertEqual(self.client.get(reverse(name, args=[self.classroom.pk])).status_code, 302)


class QueryCountTests(AnalysisTestCase):
    """The number of queries does not grow with the class."""

    def add_learners(self, first: int, last: int) -> None:
        for n in range(first, last):
            user = self.member(f"learner{n:02d}")
            picks = {"q1": 1 + n % 3, "q2": 1 + (n // 3) % 3, "q3": 1, "q4": 2}
            self.answer(user, picks, T0 + timedelta(seconds=n))
            Experiment.objects.create(
                owner_user=user, fault="kill_primary", target="both", shards=1, replicas=1,
                replication_delay_ms=50, load_rate=25, prediction=n,
                results={"durable": {"lost": 0, "acknowledged": 100}, "cache": {"lost": n, "acknowledged": 100}},
            )  # fmt: skip

    def count(self, call) -> int:  # type: ignore[no-untyped-def]
        with CaptureQueriesContext(connection) as queries:
            call()
        return len(queries)

    def test_analysis_functions_and_pages_use_as_many_queries_for_30_learners_as_for_3(self) -> None:
        self.client.force_login(self.bob)
        calls = {
            "item_analysis": lambda: item_analysis(self.classroom),
            "item_summary": lambda: item_summary(self.classroom),
            "heatmap": lambda: misconception_heatmap(self.classroom),
            "experiments": lambda: class_experiments(self.classroom),
        }
        for name in ("teach:items", "teach:misconceptions", "teach:experiments"):
            url = reverse(name, args=[self.classroom.pk])
            calls[name] = lambda url=url: self.assertEqual(self.client.get(url).status_code, 200)
        self.add_learners(0, 3)
        for call in calls.values():
            call()  # the first page fills bob's cached teach standing (teach.standing)
        few = {name: self.count(call) for name, call in calls.items()}
        self.add_learners(3, 30)
        many = {name: self.count(call) for name, call in calls.items()}
        self.assertEqual(many, few)
        self.assertLessEqual(few["item_analysis"], 7)
        self.assertLessEqual(few["heatmap"], 4)
        self.assertEqual(few["experiments"], 1)
        for name in ("item_analysis", "heatmap"):
            with self.assertNumQueries(few[name]):
                calls[name]()

"""A lesson page is fast on the server and costs the same queries for every lesson.

The HTML is rendered once at load time, so a request only fetches rows and fills a
template. The median of 20 renders through the test client (which includes the
middleware and template rendering) must stay under 100 ms of CPU time; it is printed
so the number can be quoted. CPU time of this thread, which does all of the work
(the test client and SQLite run in it), so a loaded host can't fail it.
"""

from __future__ import annotations

import statistics
import time

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from quizzes.models import Lesson

from . import factories as make
from .base import WebTestCase
from .course import load_course

RENDERS = 20
BUDGET_SECONDS = 0.100


class LessonPerformanceTests(WebTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        load_course()

    def _queries(self, url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            self.assertEqual(self.client.get(url).status_code, 200)
        return len(captured.captured_queries)

    def test_the_median_lesson_render_is_well_under_100_ms(self) -> None:
        lesson = Lesson.objects.get(slug="memorydb-failover")  # the longest lesson
        url = lesson.get_absolute_url()
        self.client.force_login(self.alice)
        self.client.post(reverse("quizzes:mark_read", args=[lesson.module.slug, lesson.slug]))
        self.client.get(url)  # warm the template cache
        timings = []
        for _ in range(RENDERS):
            started = time.thread_time()
            response = self.client.get(url)
            timings.append(time.thread_time() - started)
            self.assertEqual(response.status_code, 200)
        median = statistics.median(timings)
        print(f"\nlesson page: median {median * 1000:.1f} ms CPU, max {max(timings) * 1000:.1f} ms over {RENDERS} renders")
        self.assertLess(median, BUDGET_SECONDS)

    def test_every_lesson_costs_the_same_number_of_queries(self) -> None:
        counts = {
            lesson.slug: self._queries(lesson.get_absolute_url())
            for lesson in Lesson.objects.select_related("module")
        }
        self.assertEqual(len(set(counts.values())), 1, counts)
        anonymous = next(iter(counts.values()))
        self.assertLessEqual(anonymous, 8)

    def test_a_signed_in_learner_with_history_costs_a_fixed_few_queries_more(self) -> None:
        lesson = Lesson.objects.get(slug="cluster-slots")
        url = lesson.get_absolute_url()
        anonymous = self._queries(url)
        self.client.force_login(self.alice)
        first = Lesson.objects.first()
        self.client.post(reverse("quizzes:mark_read", args=[first.module.slug, first.slug]))
        # The first page after sign-in also fills the user's cached teach standing
        # (teach.standing: two permission queries and a membership query); pages
        # after it read the cache.
        cold = self._queries(url)
        fresh = self._queries(url)
        self.assertEqual(cold - fresh, 3)
        # More history must not change the count: read lessons, a quiz, cards.
        for other in Lesson.objects.all()[:10]:
            self.client.post(reverse("quizzes:mark_read", args=[other.module.slug, other.slug]))
        question = make.question()
        self.client.post(reverse("quizzes:quiz", args=[make.quiz([question]).slug]))
        with self.assertNumQueries(fresh):
            self.client.get(url)
        self.assertLessEqual(fresh - anonymous, 4)

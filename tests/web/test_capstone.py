"""The interview capstone: write a design, compare it with the model answer, tick
the rubric; the score is kept and a low one sends the prompt's questions to review."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from quizzes.loader import DEFAULT_CONTENT_DIR, load_content
from quizzes.loader.capstone import parse_capstones
from quizzes.loader.questions import parse_questions
from quizzes.models import CapstoneAnswer, CapstonePrompt, ReviewCard

from .test_content_loader import LoaderTestCase

PROMPT = """
- slug: tiny-design
  title: "A tiny design"
  scenario: "Design a counter that survives a failover."
  requirements: ["1,000 increments per second.", "No acknowledged increment lost."]
  model_answer: "INCR on MemoryDB; the reply waits for the multi-AZ commit."
  rubric:
    - {point: "Uses INCR", weight: 1}
    - {point: "Chooses a durable store", weight: 3}
    - {point: "Explains the acknowledgement", weight: 3}
    - {point: "Sizes the shard", weight: 3}
  follow_ups:
    - {question: "And across Regions?", answer: "Asynchronous between Regions."}
  questions: [q-one]
"""


class CapstoneTestCase(LoaderTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.course.write("capstone.yaml", PROMPT)


class PageFlowTests(CapstoneTestCase):
    def setUp(self) -> None:
        super().setUp()
        load_content(self.course.root)
        self.prompt = CapstonePrompt.objects.get()
        self.url = reverse("quizzes:capstone", args=["tiny-design"])
        self.client.force_login(self.alice)

    def write(self) -> CapstoneAnswer:
        response = self.client.post(self.url, {"answer": "I would use INCR on a cache."})
        self.assertRedirects(response, self.url + "#model-answer", fetch_redirect_response=False)
        return CapstoneAnswer.objects.get(learner__user=self.alice)

    def test_the_page_shows_the_prompt_and_asks_for_an_answer_first(self) -> None:
        html = self.client.get(self.url).content.decode()
        self.assertIn("Design a counter that survives a failover.", html)
        self.assertIn("1,000 increments per second.", html)
        self.assertIn('data-stage="write"', html)
        self.assertNotIn("the reply waits for the multi-AZ commit", html)
        self.assertNoInlineScript(html)

    def test_after_writing_it_shows_the_model_answer_and_the_rubric(self) -> None:
        self.write()
        html = self.client.get(self.url).content.decode()
        self.assertIn('data-stage="grade"', html)
        self.assertIn("the reply waits for the multi-AZ commit", html)
        self.assertIn("I would use INCR on a cache.", html)
        for index in range(4):
            self.assertIn(f'name="covered" value="{index}"', html)

    def test_an_empty_answer_is_refused(self) -> None:
        response = self.client.post(self.url, {"answer": "  "})
        self.assertEqual(response.status_code, 200)
        self.assertFalse(CapstoneAnswer.objects.exists())

    def test_ticking_points_saves_the_weighted_score(self) -> None:
        answer = self.write()
        response = self.client.post(self.url, {"covered": ["1", "2", "3"]})
        self.assertRedirects(response, self.url + "#result", fetch_redirect_response=False)
        answer.refresh_from_db()
        self.assertEqual(answer.covered, [1, 2, 3])
        self.assertEqual(answer.score, 90)
        html = self.client.get(self.url).content.decode()
        self.assertIn("90%", html)
        self.assertIn("And across Regions?", html)

    def test_a_low_score_makes_the_linked_questions_due_now(self) -> None:
        self.write()
        before = timezone.now()
        self.client.post(self.url, {"covered": ["0"]})
        card = ReviewCard.objects.get(learner__user=self.alice)
        self.assertEqual(card.question.slug, "q-one")
        self.assertLessEqual(card.due, timezone.now())
        self.assertGreaterEqual(card.due, before)
        self.assertEqual(card.reviews, 0)  # no question was answered
        review = self.client.get(reverse("quizzes:review")).content.decode()
        self.assertIn("When is the reply sent?", review)

    def test_a_low_score_brings_an_existing_card_forward(self) -> None:
        learner = self.write().learner
        later = timezone.now() + timezone.timedelta(days=30)
        ReviewCard.objects.create(learner=learner, question=self.prompt.questions.get(), due=later)
        self.client.post(self.url, {"covered": []})
        self.assertLessEqual(ReviewCard.objects.get().due, timezone.now())

    def test_a_good_score_schedules_nothing(self) -> None:
        self.write()
        self.client.post(self.url, {"covered": ["0", "1", "2", "3"]})
        self.assertEqual(CapstoneAnswer.objects.get().score, 100)
        self.assertFalse(ReviewCard.objects.exists())

    def test_an_answer_is_graded_once(self) -> None:
        answer = self.write()
        self.assertTrue(answer.grade([1, 2, 3], timezone.now()))
        self.assertFalse(answer.grade([0], timezone.now()))
        answer.refresh_from_db()
        self.assertEqual(answer.score, 90)

    def test_another_user_does_not_see_alices_answer(self) -> None:
        self.write()
        self.client.force_login(self.charlie)
        html = self.client.get(self.url).content.decode()
        self.assertNotIn("I would use INCR on a cache.", html)
        self.assertIn('data-stage="write"', html)

    def test_the_list_links_every_prompt(self) -> None:
        response = self.client.get(reverse("quizzes:capstones"))
        self.assertContains(response, self.url)


class LoaderRefusalTests(CapstoneTestCase):
    def test_it_refuses_a_weight_that_is_not_positive(self) -> None:
        self.course.replace("capstone.yaml", '"Uses INCR", weight: 1', '"Uses INCR", weight: 0')
        self.assertRefused("tiny-design, rubric point 1: 'weight' must be a positive whole number")

    def test_it_refuses_fewer_than_four_rubric_points(self) -> None:
        self.course.replace("capstone.yaml", '    - {point: "Sizes the shard", weight: 3}\n', "")
        self.assertRefused("tiny-design: 'rubric' needs at least 4 points")

    def test_it_refuses_a_prompt_without_follow_ups(self) -> None:
        self.course.replace(
            "capstone.yaml",
            '  follow_ups:\n    - {question: "And across Regions?", answer: "Asynchronous between Regions."}\n',
            "",
        )
        self.assertRefused("tiny-design: 'follow_ups' needs at least one follow-up")

    def test_it_refuses_a_link_to_a_missing_question(self) -> None:
        self.course.replace("capstone.yaml", "questions: [q-one]", "questions: [q-nope]")
        self.assertRefused("tiny-design: question 'q-nope' does not exist")
        self.assertFalse(CapstonePrompt.objects.exists())


class CourseCapstoneTests(LoaderTestCase):
    def test_the_course_has_three_valid_prompts_linked_to_real_questions(self) -> None:
        problems: list[str] = []
        prompts = parse_capstones(DEFAULT_CONTENT_DIR, problems)
        slugs = {q.slug for q in parse_questions(DEFAULT_CONTENT_DIR, problems)}
        self.assertEqual(problems, [])
        self.assertEqual(len(prompts), 3)
        for prompt in prompts:
            self.assertGreaterEqual(len(prompt.rubric), 4)
            self.assertTrue(prompt.follow_ups)
            self.assertLessEqual(set(prompt.questions), slugs)

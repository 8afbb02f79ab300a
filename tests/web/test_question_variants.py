"""Parameterized questions: numbers drawn per attempt from its seed, the answer
computed from them, and a loader that refuses variants it cannot vouch for."""

from __future__ import annotations

import re

from django.urls import reverse

from quizzes import variants
from quizzes.loader import load_content
from quizzes.models import Attempt, Learner, Question, Quiz

from .test_content_loader import LoaderTestCase

SLOTS = """
- id: q-slots
  kind: single
  topics: [cluster]
  difficulty: 1
  prompt: "A cluster has {shards} shards. How many slots does each primary own?"
  model_answer: "16384 / {shards} = {answer}."
  follow_up: "And with more replicas?"
  follow_up_answer: "The same."
  lesson: first
  explanation: "Each of the {shards} primaries owns {answer} slots."
  variants:
    parameters:
      shards: [2, 4, 8, 16]
    answer: "16384 / shards"
  choices:
    - {text: "{value} slots", value: "16384 / shards", correct: true, why: "Split by {shards}."}
    - {text: "{value} slots", value: "16384", correct: false, why: "Every slot everywhere."}
    - {text: "{value} slots", value: "16384 / (shards * 2)", correct: false, why: "Per node."}
"""


class VariantTestCase(LoaderTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.course.write("questions/numbers.yaml", SLOTS)
        self.course.replace("quizzes.yaml", "[q-one, q-two]", "[q-one, q-two, q-slots]")


class DrawTests(VariantTestCase):
    def setUp(self) -> None:
        super().setUp()
        load_content(self.course.root)
        self.question = Question.objects.get(slug="q-slots")
        self.learner = Learner.new_visitor()

    def start(self, seed: int) -> Attempt:
        from django.utils import timezone

        return Attempt.start(self.learner, [self.question], now=timezone.now(), seed=seed)

    def test_the_same_seed_draws_the_same_numbers(self) -> None:
        first = self.start(seed=1234).items.get().parameters
        again = self.start(seed=1234).items.get().parameters
        self.assertIn(first["shards"], [2, 4, 8, 16])
        self.assertEqual(again, first)

    def test_different_seeds_draw_different_numbers(self) -> None:
        drawn = {self.start(seed=seed).items.get().parameters["shards"] for seed in range(40)}
        self.assertGreater(len(drawn), 1)

    def test_the_computed_answer_is_graded_right_and_a_distractor_wrong(self) -> None:
        for seed in range(8):
            attempt = self.start(seed=seed)
            item = attempt.items.get()
            shards = item.parameters["shards"]
            by_text = {c.text_html: c.pk for c in item.shown_choices()}
            right = by_text[f"{16384 // shards:,} slots"]
            self.assertTrue(attempt.answer_choices(item, [right], attempt.started_at))
            item.refresh_from_db()
            self.assertTrue(item.correct)
        attempt = self.start(seed=99)
        item = attempt.items.get()
        by_text = {c.text_html: c.pk for c in item.shown_choices()}
        attempt.answer_choices(item, [by_text["16,384 slots"]], attempt.started_at)
        item.refresh_from_db()
        self.assertFalse(item.correct)

    def test_grading_follows_the_computation_not_only_the_stored_flag(self) -> None:
        choices = list(self.question.choices.all())
        right = next(c for c in choices if c.position == 1)
        self.assertTrue(self.question.grade_choices([right.pk], choices, {"shards": 4}))
        # Were the numbers such that "16384" were the answer, the flag would not decide.
        spec = dict(self.question.variants, answer="16384")
        self.question.variants = spec
        self.assertFalse(self.question.grade_choices([right.pk], choices, {"shards": 4}))


class PageTests(VariantTestCase):
    def setUp(self) -> None:
        super().setUp()
        load_content(self.course.root)
        self.client.force_login(self.alice)

    def test_the_pages_show_the_numbers_this_attempt_drew(self) -> None:
        quiz = Quiz.objects.get()
        self.client.post(reverse("quizzes:quiz", args=[quiz.slug]))
        attempt = Attempt.objects.latest("pk")
        item = attempt.items.get(question__slug="q-slots")
        shards = item.parameters["shards"]
        url = reverse("quizzes:attempt_item", args=[attempt.pk, item.position])
        html = self.client.get(url).content.decode()
        self.assertIn(f"A cluster has {shards} shards", html)
        self.assertNotIn("{shards}", html)
        choice = re.search(rf'value="(\d+)" id="choice-\d+">\s*<label[^>]*>{16384 // shards:,} slots', html)
        self.assertIsNotNone(choice, html)
        self.client.post(url, {"choice": choice.group(1)})
        item.refresh_from_db()
        self.assertTrue(item.correct)
        feedback = self.client.get(url).content.decode()
        self.assertIn(f"Each of the {shards} primaries owns {16384 // shards:,} slots", feedback)
        self.assertIn("<strong>Right.</strong>", feedback)
        results = self.client.get(reverse("quizzes:attempt_results", args=[attempt.pk]))
        self.assertContains(results, f"A cluster has {shards} shards")

    def test_the_question_bank_shows_the_first_numbers(self) -> None:
        html = self.client.get(reverse("quizzes:question", args=["q-slots"])).content.decode()
        self.assertIn("A cluster has 2 shards", html)
        self.assertIn("8,192 slots", html)
        self.assertNotIn("{value}", html)


class RefusalTests(VariantTestCase):
    def test_it_loads_the_variant_and_stores_its_spec(self) -> None:
        load_content(self.course.root)
        spec = Question.objects.get(slug="q-slots").variants
        self.assertEqual(spec["parameters"], {"shards": [2, 4, 8, 16]})
        self.assertEqual(spec["values"][0], "16384 / shards")

    def test_it_refuses_an_undefined_placeholder(self) -> None:
        self.course.replace("questions/numbers.yaml", "has {shards} shards", "has {shard} shards")
        self.assertRefused("q-slots", "placeholder {shard} is not defined")

    def test_it_refuses_an_answer_that_matches_two_choices_for_some_numbers(self) -> None:
        # With 2 shards, 16384 / (shards * 2) is 4,096, and so is the new "4096" choice.
        self.course.replace("questions/numbers.yaml", 'value: "16384", correct', 'value: "4096 * 4 / shards * shards / shards", correct')
        self.assertRefused("q-slots", "the computed answer matches choice(s) [1, 2]")

    def test_it_refuses_distractors_that_show_the_same_value(self) -> None:
        self.course.replace("questions/numbers.yaml", 'value: "16384", correct', 'value: "8192 / shards", correct')
        self.assertRefused("q-slots", "two choices show the same value")

    def test_it_refuses_a_correct_flag_the_computation_contradicts(self) -> None:
        self.course.replace("questions/numbers.yaml", 'answer: "16384 / shards"', 'answer: "16384"')
        self.assertRefused("q-slots", "not the one marked correct")

    def test_it_refuses_code_in_an_expression(self) -> None:
        self.course.replace("questions/numbers.yaml", 'answer: "16384 / shards"', "answer: \"__import__('os').getpid()\"")
        self.assertRefused("q-slots", "answer:", "the only functions are")

    def test_it_refuses_a_choice_value_without_variants(self) -> None:
        self.course.replace("questions/basics.yaml", '{text: "After the commit", correct: true', '{text: "After the commit", value: "1", correct: true')
        self.assertRefused("q-one", "has a 'value' but the question has no 'variants'")

    def test_it_refuses_an_unknown_name_in_an_expression(self) -> None:
        self.course.replace("questions/numbers.yaml", 'value: "16384", correct', 'value: "16384 * replicas", correct')
        self.assertRefused("choice 2 value uses undefined name(s) replicas")


class ExpressionTests(LoaderTestCase):
    def test_division_is_exact_and_whole_results_are_integers(self) -> None:
        self.assertEqual(variants.compute("16384 / shards", {"shards": 4}), 4096)
        self.assertEqual(variants.show(variants.compute("10 / 3", {})), "3.33")
        self.assertEqual(variants.compute("max(2, ceil(7 / 2))", {}), 4)

    def test_attribute_access_and_calls_outside_the_list_are_refused(self) -> None:
        for text in ("().__class__", "open('x')", "2 ** 8", "1.5 * 2", "[1][0]", "x if 1 else 2"):
            with self.assertRaises(variants.ExpressionError, msg=text):
                variants.compile_expression(text)

"""Taking a quiz through the pages: answers, explanations, results, retry, access."""

from __future__ import annotations

from django.urls import reverse

from quizzes.models import Attempt, Learner, Question, Quiz

from . import factories as make
from .base import WebTestCase
from .test_rendering import XSS_PAYLOADS, ExecutableMarkupFinder


class QuizFlowTests(WebTestCase):
    def setUp(self) -> None:
        self.single = make.question(Question.Kind.SINGLE)
        self.multi = make.question(Question.Kind.MULTI, choices=(True, True, False))
        self.free = make.question(Question.Kind.INTERVIEW)
        self.quiz = make.quiz([self.single, self.multi, self.free], public=True)

    def start(self) -> Attempt:
        response = self.client.post(reverse("quizzes:quiz", args=[self.quiz.slug]))
        attempt = Attempt.objects.latest("pk")
        self.assertRedirects(response, reverse("quizzes:attempt_item", args=[attempt.pk, 1]))
        return attempt

    def item_url(self, attempt: Attempt, question: Question) -> str:
        position = attempt.items.get(question=question).position
        return reverse("quizzes:attempt_item", args=[attempt.pk, position])

    def test_a_visitor_can_take_the_public_quiz(self) -> None:
        html = self.client.get(reverse("quizzes:quiz", args=[self.quiz.slug])).content.decode()
        self.assertIn("Start the quiz", html)
        attempt = self.start()
        self.assertIsNone(attempt.learner.user)
        self.assertEqual(attempt.total, 3)

    def test_the_answer_page_offers_the_shown_choices_as_labelled_inputs(self) -> None:
        attempt = self.start()
        response = self.client.get(self.item_url(attempt, self.multi))
        html = response.content.decode()
        for choice in self.multi.choices.all():
            self.assertIn(f'type="checkbox" name="choice" value="{choice.pk}" id="choice-{choice.pk}"', html)
            self.assertIn(f'<label for="choice-{choice.pk}">', html)
        self.assertIn("Choose every right answer", html)
        self.assertNoInlineScript(html)

    def test_a_right_answer_still_shows_the_explanation(self) -> None:
        attempt = self.start()
        url = self.item_url(attempt, self.single)
        response = self.client.post(url, {"choice": make.correct_ids(self.single)})
        self.assertRedirects(response, url + "#feedback", fetch_redirect_response=False)
        html = self.client.get(url).content.decode()
        self.assertIn("<strong>Right.</strong>", html)
        self.assertIn(self.single.explanation_html, html)
        for choice in self.single.choices.all():
            self.assertIn(choice.why_html, html)
        self.assertIn("Your answer", html)

    def test_a_wrong_answer_marks_the_right_choice_and_explains(self) -> None:
        attempt = self.start()
        url = self.item_url(attempt, self.multi)
        self.client.post(url, {"choice": make.correct_ids(self.multi)[:1]})
        html = self.client.get(url).content.decode()
        self.assertIn("Not quite.", html)
        self.assertEqual(html.count('class="mark mark-correct"'), 2)
        self.assertIn(self.multi.explanation_html, html)

    def test_an_empty_answer_is_refused_with_a_message(self) -> None:
        attempt = self.start()
        url = self.item_url(attempt, self.single)
        response = self.client.post(url, {})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Pick an answer.")
        self.assertFalse(attempt.items.get(question=self.single).is_answered)

    def test_a_choice_from_another_question_is_refused(self) -> None:
        attempt = self.start()
        response = self.client.post(self.item_url(attempt, self.single), {"choice": make.correct_ids(self.multi)[0]})
        self.assertEqual(response.status_code, 200)
        self.assertFalse(attempt.items.get(question=self.single).is_answered)

    def test_a_free_text_answer_is_compared_with_the_model_then_self_graded(self) -> None:
        attempt = self.start()
        url = self.item_url(attempt, self.free)
        self.assertContains(self.client.get(url), "Answer in your own words")
        self.client.post(url, {"answer": "The log decides."})
        html = self.client.get(url).content.decode()
        self.assertIn("The log decides.", html)
        self.assertIn(self.free.model_answer_html, html)
        self.assertIn('name="rating" value="3"', html)
        self.client.post(url, {"rating": "3"})
        item = attempt.items.get(question=self.free)
        self.assertTrue(item.correct)
        html = self.client.get(url).content.decode()
        self.assertIn("You graded your answer: <strong>Got it</strong>", html)
        self.assertIn(self.free.explanation_html, html)

    def test_a_free_text_answer_cannot_inject_markup(self) -> None:
        attempt = self.start()
        url = self.item_url(attempt, self.free)
        payload = "\n\n".join(XSS_PAYLOADS)
        self.client.post(url, {"answer": payload})
        for page in (self.client.get(url), self.client.post(url, {"rating": "1"}, follow=True)):
            html = page.content.decode()
            start = html.index('<section class="your-answer"')
            body = html[start : html.index("</section>", start)]
            self.assertEqual(ExecutableMarkupFinder.problems_in(body), [])
            self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", body)

    def test_results_then_retry_only_the_missed_questions(self) -> None:
        attempt = self.start()
        self.client.post(self.item_url(attempt, self.single), {"choice": make.wrong_ids(self.single)})
        self.client.post(self.item_url(attempt, self.multi), {"choice": make.correct_ids(self.multi)})
        self.client.post(self.item_url(attempt, self.free), {"answer": "no idea"})
        self.client.post(self.item_url(attempt, self.free), {"rating": "1"})
        results = self.client.get(reverse("quizzes:attempt_results", args=[attempt.pk]))
        self.assertContains(results, "You got <strong>1 of 3</strong> right (33%).")
        self.assertContains(results, "Retry the 2 missed questions")
        response = self.client.post(reverse("quizzes:attempt_retry", args=[attempt.pk]))
        retry = Attempt.objects.latest("pk")
        self.assertRedirects(response, reverse("quizzes:attempt_item", args=[retry.pk, 1]))
        self.assertEqual(retry.kind, Attempt.Kind.RETRY)
        self.assertEqual(
            {item.question_id for item in retry.items.all()}, {self.single.pk, self.free.pk}
        )

    def test_the_resume_link_goes_to_the_first_unanswered_question(self) -> None:
        attempt = self.start()
        first = attempt.items.get(position=1)
        self.client.post(
            reverse("quizzes:attempt_item", args=[attempt.pk, 1]),
            {"choice": make.correct_ids(first.question)} if first.question.choices.exists() else {"answer": "x"},
        )
        response = self.client.get(reverse("quizzes:attempt", args=[attempt.pk]))
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("quizzes:attempt_item", args=[attempt.pk, 1 if first.question == self.free else 2]), response["Location"])

    def test_a_quiz_other_than_the_first_needs_an_account(self) -> None:
        private = make.quiz([self.single], public=False)
        url = reverse("quizzes:quiz", args=[private.slug])
        for method in (self.client.get, self.client.post):
            response = method(url)
            self.assertRedirects(response, f"{reverse('login')}?next={url}", fetch_redirect_response=False)
        self.assertEqual(Attempt.objects.count(), 0)
        self.client.force_login(self.alice)
        self.client.post(url)
        self.assertEqual(Attempt.objects.get().learner.user, self.alice)

    def test_the_quiz_list_shows_quizzes_and_the_best_score(self) -> None:
        attempt = self.start()
        for item in attempt.items.select_related("question"):
            if item.question == self.free:
                self.client.post(self.item_url(attempt, self.free), {"answer": "x"})
                self.client.post(self.item_url(attempt, self.free), {"rating": "4"})
            else:
                self.client.post(self.item_url(attempt, item.question), {"choice": make.correct_ids(item.question)})
        html = self.client.get(reverse("quizzes:quiz_list")).content.decode()
        self.assertIn(self.quiz.title, html)
        self.assertIn("<td>100%</td>", html)


class PrivacyTests(WebTestCase):
    """charlie, the outsider, sees nothing of alice's."""

    def setUp(self) -> None:
        self.question = make.question()
        self.quiz = make.quiz([self.question], public=False)
        self.client.force_login(self.alice)
        self.client.post(reverse("quizzes:quiz", args=[self.quiz.slug]))
        self.attempt = Attempt.objects.get()
        self.client.post(
            reverse("quizzes:attempt_item", args=[self.attempt.pk, 1]),
            {"choice": make.wrong_ids(self.question)},
        )
        self.client.force_login(self.charlie)

    def test_charlie_cannot_open_alice_s_attempt_pages(self) -> None:
        for name, args in (
            ("quizzes:attempt", [self.attempt.pk]),
            ("quizzes:attempt_item", [self.attempt.pk, 1]),
            ("quizzes:attempt_results", [self.attempt.pk]),
        ):
            with self.subTest(name=name):
                self.assertEqual(self.client.get(reverse(name, args=args)).status_code, 404)

    def test_charlie_cannot_answer_or_retry_alice_s_attempt(self) -> None:
        retry = self.client.post(reverse("quizzes:attempt_retry", args=[self.attempt.pk]))
        self.assertEqual(retry.status_code, 404)
        self.assertEqual(Attempt.objects.count(), 1)

    def test_a_visitor_without_a_learner_gets_404_too(self) -> None:
        self.client.logout()
        response = self.client.get(reverse("quizzes:attempt_results", args=[self.attempt.pk]))
        self.assertEqual(response.status_code, 404)

    def test_charlie_s_progress_page_shows_none_of_alice_s_progress(self) -> None:
        html = self.client.get(reverse("quizzes:me")).content.decode()
        self.assertIn("No quiz finished yet", html)
        self.assertNotIn(reverse("quizzes:attempt_results", args=[self.attempt.pk]), html)
        self.client.force_login(self.alice)
        html = self.client.get(reverse("quizzes:me")).content.decode()
        self.assertIn(reverse("quizzes:attempt_results", args=[self.attempt.pk]), html)
        self.assertEqual(Learner.objects.filter(user=self.charlie).count(), 0)
        self.assertEqual(Quiz.objects.count(), 1)

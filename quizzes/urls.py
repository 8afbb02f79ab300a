"""URL patterns of the quizzes app, mounted at the site root with names "quizzes:...".

Mounted at the root so that each pattern carries its full path.
"""

from django.urls import path

from quizzes.views import accounts, capstone, interview, learn, progress, quizzes

app_name = "quizzes"

urlpatterns = [
    # The learning path
    path("learn/", learn.path_index, name="path"),
    path("learn/<slug:module_slug>/", learn.module_detail, name="module"),
    path("learn/<slug:module_slug>/<slug:lesson_slug>/", learn.lesson_detail, name="lesson"),
    path("learn/<slug:module_slug>/<slug:lesson_slug>/read/", learn.mark_read, name="mark_read"),
    path("facts/", learn.fact_list, name="facts"),
    path("diagrams/<slug:name>.svg", learn.diagram, name="diagram"),
    # Interview prep (the capstone before <question_slug>, which would match it)
    path("interview/", interview.question_bank, name="interview"),
    path("interview/capstone/", capstone.capstone_list, name="capstones"),
    path("interview/capstone/<slug:slug>/", capstone.capstone_detail, name="capstone"),
    path("interview/<slug:question_slug>/", interview.question_detail, name="question"),
    # Quizzes, attempts and review
    path("quizzes/", quizzes.quiz_list, name="quiz_list"),
    path("quizzes/<slug:quiz_slug>/", quizzes.quiz_detail, name="quiz"),
    path("attempts/<int:attempt_id>/", quizzes.attempt_resume, name="attempt"),
    path("attempts/<int:attempt_id>/<int:position>/", quizzes.attempt_item, name="attempt_item"),
    path("attempts/<int:attempt_id>/results/", quizzes.attempt_results, name="attempt_results"),
    path("attempts/<int:attempt_id>/retry/", quizzes.attempt_retry, name="attempt_retry"),
    path("review/", quizzes.review_due, name="review"),
    path("review/anchors/", quizzes.review_add_anchors, name="review_anchors"),
    # Progress and accounts
    path("me/", progress.me, name="me"),
    path("accounts/signup/", accounts.signup, name="signup"),
]

"""URL patterns of the teach app, mounted at the site root with names "teach:...".

Mounted at the root (as quizzes is) because learners join at ``/join/``, outside
``/teach/``; every instructor page is under ``/teach/``. The live dashboard and the
item analysis add their routes here.
"""

from django.urls import path

from teach.views import analysis, classes, exports, join, learners
from teach.views import live as live_views

app_name = "teach"

urlpatterns = [
    # Learners
    path("join/", join.join_form, name="join"),
    path("join/<str:code>/", join.join_code, name="join_code"),
    # Instructors: classes and their settings
    path("teach/", classes.class_list, name="classes"),
    path("teach/new/", classes.class_create, name="create"),
    path("teach/<int:pk>/", classes.class_page, name="class"),
    path("teach/<int:pk>/code/rotate/", classes.rotate_code, name="rotate_code"),
    path("teach/<int:pk>/instructors/", classes.add_instructor, name="add_instructor"),
    path("teach/<int:pk>/archive/", classes.set_archived, name="archive"),
    # Instructors: learners
    path("teach/<int:pk>/learners/<int:user_id>/", learners.learner_detail, name="learner"),
    path("teach/<int:pk>/learners/<int:user_id>/remove/", classes.remove_learner, name="remove_learner"),
    # Instructors: the live dashboard's pages
    path("teach/<int:pk>/nudge/", live_views.nudge, name="nudge"),
    path("teach/<int:pk>/runs/<int:run_id>/", live_views.run_detail, name="run"),
    # Instructors: item analysis, misconceptions, the class's experiments
    path("teach/<int:pk>/items/", analysis.items, name="items"),
    path("teach/<int:pk>/misconceptions/", analysis.misconceptions, name="misconceptions"),
    path("teach/<int:pk>/experiments/", analysis.experiments, name="experiments"),
    # Instructors: exports
    path("teach/<int:pk>/export/roster.csv", exports.roster_csv, name="export_roster"),
    path("teach/<int:pk>/export/answers.csv", exports.answers_csv, name="export_answers"),
    path("teach/<int:pk>/export/experiments.csv", exports.experiments_csv, name="export_experiments"),
]

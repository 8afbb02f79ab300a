"""The shared setting of the teach tests: bob's class with alice and dave in it, and
charlie, an instructor too but of another class, who must get nothing of bob's."""

from __future__ import annotations

from django.contrib.auth.models import User

from quizzes.roles import make_instructor
from teach.models import Classroom

from .base import PASSWORD, WebTestCase


class TeachTestCase(WebTestCase):
    dave: User
    classroom: Classroom
    other_class: Classroom

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.dave = User.objects.create_user("dave", "dave@example.org", PASSWORD)
        make_instructor(cls.charlie)
        cls.classroom = Classroom.objects.create(name="Databases, group B", created_by=cls.bob)
        cls.classroom.instructors.add(cls.bob)
        cls.classroom.enroll(cls.alice)
        cls.classroom.enroll(cls.dave)
        cls.other_class = Classroom.objects.create(name="Charlie's class", created_by=cls.charlie)
        cls.other_class.instructors.add(cls.charlie)

    def sign_in(self, user: User) -> None:
        self.client.force_login(user)

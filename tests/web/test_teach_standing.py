"""The nav's Teach link and the class banner come from a cached standing
(teach.standing), which must follow changes at once: a new instructor sees the link
on their next page, a learner who joins or is removed, or whose class is archived,
gets or loses the class parts without signing in again."""

from __future__ import annotations

from django.urls import reverse

from quizzes.roles import instructors_group, make_instructor
from teach.standing import standing

from .teach_base import TeachTestCase

TEACH_LINK = 'href="/teach/"'
PRESENCE = "presence.js"


class StandingTests(TeachTestCase):
    def page(self) -> str:
        return self.client.get(reverse("home")).content.decode()

    def test_a_new_instructor_sees_the_teach_link_on_the_next_page(self) -> None:
        self.sign_in(self.dave)
        self.assertNotIn(TEACH_LINK, self.page())
        make_instructor(self.dave)
        self.assertIn(TEACH_LINK, self.page())
        instructors_group().user_set.remove(self.dave)
        self.assertNotIn(TEACH_LINK, self.page())

    def test_joining_leaving_and_archiving_change_the_class_parts_at_once(self) -> None:
        self.sign_in(self.alice)
        self.assertIn(PRESENCE, self.page(), "alice is in bob's class")
        self.classroom.remove_member(self.alice.pk)
        self.assertNotIn(PRESENCE, self.page())
        self.classroom.enroll(self.alice)
        self.assertIn(PRESENCE, self.page())
        self.classroom.set_archived(True)
        self.assertNotIn(PRESENCE, self.page())
        self.assertEqual(standing(self.alice).class_ids, ())

    def test_a_warm_standing_costs_a_page_no_query(self) -> None:
        self.sign_in(self.alice)
        self.page()
        with self.assertNumQueries(0):
            standing(self.alice)

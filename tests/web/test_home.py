"""The home page: it renders, links to what exists, and keeps to a strict CSP."""

from __future__ import annotations

from django.urls import reverse

from .base import InlineScriptFinder, WebTestCase


class HomePageTests(WebTestCase):
    def test_it_explains_the_site_to_an_anonymous_visitor(self) -> None:
        response = self.client.get("/")
        self.assertEqual(response.status_code, 200)
        self.assertTemplateUsed(response, "memorydb_lab/home.html")
        self.assertContains(response, "<h1", count=1)
        for topic in ("MemoryDB", "ElastiCache", "crash", "interview"):
            self.assertContains(response, topic)

    def test_it_links_to_the_parts_that_exist(self) -> None:
        response = self.client.get("/")
        self.assertContains(response, f'href="{reverse("home")}"')
        self.assertContains(response, f'href="{reverse("healthz")}"')
        self.assertContains(response, f'href="{reverse("login")}"')
        self.assertContains(response, 'aria-current="page"', count=1)

    def test_it_greets_a_signed_in_learner_and_offers_sign_out(self) -> None:
        self.client.force_login(self.alice)
        response = self.client.get("/")
        self.assertContains(response, "alice")
        self.assertContains(response, f'action="{reverse("logout")}"')
        self.assertNotContains(response, f'href="{reverse("login")}"')
        # Admin is for staff only; a learner is not shown the link.
        self.assertNotContains(response, f'href="{reverse("admin:index")}"')

    def test_it_shows_the_admin_link_to_staff(self) -> None:
        self.bob.is_staff = True
        self.bob.save(update_fields=["is_staff"])
        self.client.force_login(self.bob)
        response = self.client.get("/")
        self.assertContains(response, f'href="{reverse("admin:index")}"')

    def test_it_sends_a_content_security_policy_without_inline_script(self) -> None:
        response = self.client.get("/")
        policy = response["Content-Security-Policy"]
        directives = {
            part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()
        }
        self.assertEqual(directives["script-src"], ["'self'"])
        self.assertEqual(directives["object-src"], ["'none'"])
        self.assertEqual(directives["frame-ancestors"], ["'none'"])
        self.assertNotIn("'unsafe-inline'", policy)
        self.assertNotIn("'unsafe-eval'", policy)
        self.assertEqual(response["X-Frame-Options"], "DENY")
        self.assertEqual(response["X-Content-Type-Options"], "nosniff")
        self.assertIn("camera=()", response["Permissions-Policy"])

    def test_its_html_has_no_inline_script(self) -> None:
        for user in (None, self.alice):
            if user is not None:
                self.client.force_login(user)
            with self.subTest(user=user):
                self.assertNoInlineScript(self.client.get("/").content.decode())

    def test_it_refuses_to_change_state(self) -> None:
        response = self.client.post("/")
        self.assertEqual(response.status_code, 405)


class SignInTests(WebTestCase):
    def test_a_learner_can_sign_in_and_lands_on_the_home_page(self) -> None:
        page = self.client.get(reverse("login"))
        self.assertEqual(page.status_code, 200)
        self.assertNoInlineScript(page.content.decode())
        response = self.client.post(
            reverse("login"), {"username": "alice", "password": "correct horse battery staple"}
        )
        self.assertRedirects(response, reverse("home"))
        self.assertEqual(int(self.client.session["_auth_user_id"]), self.alice.pk)

    def test_it_rejects_a_wrong_password(self) -> None:
        response = self.client.post(
            reverse("login"), {"username": "alice", "password": "wrong"}
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "do not match")
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_an_unknown_page_is_a_404_in_the_site_layout(self) -> None:
        response = self.client.get("/no-such-page/")
        self.assertEqual(response.status_code, 404)
        self.assertContains(response, "Page not found", status_code=404)
        self.assertNoInlineScript(response.content.decode())


class InlineScriptFinderTests(WebTestCase):
    """The check above is only worth something if it catches what it looks for."""

    def test_it_flags_each_kind_of_inline_code(self) -> None:
        html = (
            "<script>alert(1)</script>"
            '<script src="/static/js/a.js">alert(2)</script>'
            '<button onclick="go()">x</button>'
            '<a href="javascript:go()">y</a>'
        )
        self.assertEqual(len(InlineScriptFinder.problems_in(html)), 5)

    def test_it_accepts_external_scripts_and_data_blocks(self) -> None:
        html = (
            '<script src="/static/js/a.js" defer></script>'
            '<script type="application/json" id="data">{"a": 1}</script>'
        )
        self.assertEqual(InlineScriptFinder.problems_in(html), [])

"""The shared base of the web tests: three users and checks every page must pass.

* alice — a learner, the everyday user;
* bob — an instructor (in the "Instructors" group, so he has ``quizzes.teach``);
* charlie — an outsider, the user every owner-only page must refuse.
"""

from __future__ import annotations

from html.parser import HTMLParser

from django.contrib.auth.models import User
from django.test import TestCase

from quizzes.roles import make_instructor

PASSWORD = "correct horse battery staple"


class WebTestCase(TestCase):
    alice: User
    bob: User
    charlie: User

    @classmethod
    def setUpTestData(cls) -> None:
        cls.alice = User.objects.create_user("alice", "alice@example.org", PASSWORD)
        cls.bob = User.objects.create_user("bob", "bob@example.org", PASSWORD)
        make_instructor(cls.bob)
        cls.charlie = User.objects.create_user("charlie", "charlie@example.org", PASSWORD)

    def assertNoInlineScript(self, html: str) -> None:
        """Fail if the page has code that a strict CSP (no 'unsafe-inline') blocks."""
        problems = InlineScriptFinder.problems_in(html)
        self.assertEqual(problems, [], "inline script found; move it to static/js/")


class InlineScriptFinder(HTMLParser):
    """Collects inline <script> bodies, on* event attributes and javascript: URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    @classmethod
    def problems_in(cls, html: str) -> list[str]:
        finder = cls()
        finder.feed(html)
        finder.close()
        return finder.problems

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            # A data block (JSON, templates) is not run, so CSP does not apply to it.
            kind = (values.get("type") or "").lower()
            executable = kind in ("", "module", "text/javascript", "application/javascript")
            self._in_script = executable
            if executable and not values.get("src"):
                self.problems.append(f"<script> without src: {values}")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> event handler attribute")
            if value and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"code inside <script>: {data.strip()[:60]!r}")

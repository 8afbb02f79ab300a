"""Markdown to HTML: the bleach allow-list holds against XSS payloads, in course
content and in what learners type, and the course's own markup survives it."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from django.test import SimpleTestCase

from quizzes.rendering import (
    ContentIndex,
    ContentRenderer,
    DiagramImage,
    FactCard,
    Target,
    render_learner_text,
)

from .base import InlineScriptFinder

# Each of these has run script in some browser or some sanitizer at some point.
XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '<img src=x onerror="alert(1)">',
    "<img src=javascript:alert(1)>",
    '<svg onload="alert(1)"><circle r="1"/></svg>',
    "<svg><script>alert(1)</script></svg>",
    '<iframe src="https://evil.example"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<a href="  javascript:alert(1)">click</a>',
    '<a href="jav&#x09;ascript:alert(1)">click</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    "[click](javascript:alert(1))",
    "[click](data:text/html,<script>alert(1)</script>)",
    "![x](javascript:alert(1))",
    '![x](data:image/svg+xml,<svg onload="alert(1)">)',
    "<object data=javascript:alert(1)></object>",
    '<embed src="javascript:alert(1)">',
    '<form action="javascript:alert(1)"><button>go</button></form>',
    '<input autofocus onfocus="alert(1)">',
    '<details open ontoggle="alert(1)">x</details>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    "<body onload=alert(1)>",
    '<p title="x" onmouseover="alert(1)">hover</p>',
    "<a href='x' onclick='alert(1)'>x</a>",
    '"><script>alert(1)</script>',
    "<<script>script>alert(1)<</script>/script>",
    "<!--<script>alert(1)</script>-->",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    '<code class="x" onclick="alert(1)">code</code>',
    "```redis\n</code></pre><script>alert(1)</script>\n```",
    '<pre><code class="language-redis"><img src=x onerror=alert(1)></code></pre>',
    "{{fact:f1}}<script>alert(1)</script>",
    "[[lesson:a]]<img src=x onerror=alert(1)>",
]

_EXECUTABLE_TAGS = {
    "script", "style", "iframe", "object", "embed", "form", "input", "meta", "base",
    "link", "svg", "math", "body", "frame", "frameset", "details", "noscript",
}  # fmt: skip
_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "srcdoc"}


class ExecutableMarkupFinder(HTMLParser):
    """Anything in parsed HTML that a browser could run or load as active content."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    @classmethod
    def problems_in(cls, html: str) -> list[str]:
        finder = cls()
        finder.feed(html)
        finder.close()
        return finder.problems + InlineScriptFinder.problems_in(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _EXECUTABLE_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.problems.append(f"<{tag} {name}>")
            if name in _URL_ATTRIBUTES and value is not None:
                scheme = re.sub(r"[\s\x00-\x1f]", "", value).lower().split(":", 1)
                if len(scheme) == 2 and scheme[0] not in ("http", "https", "mailto") and "/" not in scheme[0]:
                    self.problems.append(f"<{tag} {name}={value!r}>")


def _renderer() -> ContentRenderer:
    return ContentRenderer(
        ContentIndex(
            lessons={"a": Target("/learn/m/a/", "Lesson <A>")},
            questions={"q1": Target("/interview/q1/", 'What "is" <it>?')},
            facts={"f1": FactCard("f1", "A <b>claim</b>", "Src", "https://example.org/", "2024", "2026-11-26")},
            diagrams={"d": DiagramImage("/diagrams/d.svg?v=1", 10, 10)},
        )
    )


class AllowListTests(SimpleTestCase):
    def test_the_finder_catches_what_it_looks_for(self) -> None:
        """The checks below are only worth something if this one fails on bad HTML."""
        for bad in ('<a href="javascript:x()">', "<iframe>", '<p onclick="x">', '<img src="data:x">'):
            self.assertNotEqual(ExecutableMarkupFinder.problems_in(bad), [], bad)

    def test_lesson_markdown_payloads_leave_no_executable_markup(self) -> None:
        renderer = _renderer()
        for payload in XSS_PAYLOADS:
            with self.subTest(payload=payload):
                for text in (payload, f"Intro paragraph.\n\n{payload}\n\nOutro.", f"- item {payload}"):
                    html = renderer.render(text).html
                    self.assertEqual(ExecutableMarkupFinder.problems_in(html), [], html)

    def test_inline_fields_payloads_leave_no_executable_markup(self) -> None:
        renderer = _renderer()
        for payload in XSS_PAYLOADS:
            if "{{fact:" in payload:
                continue  # facts are cited in a question's list, not inline
            with self.subTest(payload=payload):
                for html in (renderer.render_inline(payload), renderer.render_text(payload)):
                    self.assertEqual(ExecutableMarkupFinder.problems_in(html), [], html)

    def test_learner_answers_payloads_leave_no_executable_markup(self) -> None:
        for payload in XSS_PAYLOADS:
            with self.subTest(payload=payload):
                html = render_learner_text(payload)
                self.assertEqual(ExecutableMarkupFinder.problems_in(html), [], html)
                self.assertNotIn("<img", html)

    def test_disallowed_markup_is_shown_as_text_not_dropped(self) -> None:
        html = render_learner_text("AUTH <user> <password>, then <script>alert(1)</script>")
        self.assertIn("AUTH &lt;user&gt; &lt;password&gt;", html)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", html)

    def test_learner_links_are_kept_but_marked_nofollow(self) -> None:
        html = render_learner_text("See https://redis.io/docs and [this](https://valkey.io).")
        self.assertIn('href="https://redis.io/docs"', html)
        self.assertIn('href="https://valkey.io"', html)
        self.assertEqual(html.count('rel="nofollow ugc noopener"'), 2)

    def test_titles_and_claims_from_the_index_are_escaped(self) -> None:
        html = _renderer().render("See [[lesson:a]], [[question:q1]] {{fact:f1}}").html
        self.assertIn("Lesson &lt;A&gt;", html)
        self.assertIn("What \"is\" &lt;it&gt;?", html)
        self.assertIn("A &lt;b&gt;claim&lt;/b&gt;", html)


class CourseMarkupTests(SimpleTestCase):
    def test_tables_code_and_links_survive(self) -> None:
        html = _renderer().render(
            "## Heading\n\n| a | b |\n|:--|--:|\n| `x` | **y** |\n\n"
            "A [link](https://redis.io/) and `code`.\n\n```text\nplain\n```\n"
        ).html
        self.assertIn("<h2>Heading</h2>", html)
        self.assertIn('<th align="left">a</th>', html)
        self.assertIn("<td align=\"left\"><code>x</code></td>", html)
        self.assertIn('<a href="https://redis.io/">link</a>', html)
        self.assertIn('<pre><code class="language-text">plain', html)
        self.assertNotIn("run-command", html)  # only redis blocks get a Run button

    def test_a_redis_block_gets_one_run_button_with_its_commands(self) -> None:
        html = _renderer().render('```redis\nSET greeting "<hi>"\nGET greeting\n```').html
        self.assertEqual(html.count('class="run-command"'), 1)
        self.assertIn('data-command="SET greeting &quot;&lt;hi&gt;&quot;\nGET greeting"', html)
        self.assertEqual(InlineScriptFinder.problems_in(html), [])

    def test_a_fact_is_numbered_and_its_card_follows_the_block_once(self) -> None:
        html = _renderer().render("One {{fact:f1}}.\n\nTwo {{fact:f1}}.").html
        self.assertEqual(html.count('id="fact-f1"'), 1)
        self.assertEqual(html.count('href="#fact-f1"'), 2)
        self.assertLess(html.index("One"), html.index('id="fact-f1"'))
        self.assertLess(html.index('id="fact-f1"'), html.index("Two"))
        self.assertIn('<time datetime="2026-11-26">', html)

    def test_images_other_than_our_diagrams_are_refused(self) -> None:
        html = _renderer().render("![ok](diagram:d) ![tracker](https://evil.example/p.gif)").html
        self.assertIn('src="/diagrams/d.svg?v=1"', html)
        self.assertNotIn("evil.example", html)

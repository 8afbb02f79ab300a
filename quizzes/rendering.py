"""Markdown to safe HTML, for course content and for what learners type.

Course content (lessons, questions) is Markdown with a few additions of our own:

* ``{{fact:id}}`` cites a fact: a numbered reference in the text, and the fact's card
  (claim, source, publication and check dates) right after the paragraph, list or
  table that cites it;
* ``[[lesson:slug]]`` and ``[[question:id]]`` link to a lesson or a question, with
  its title as the link text;
* ``![alt](diagram:name)`` shows a diagram of ``content/diagrams/`` as an <img>;
* a fenced ```` ```redis ```` block gets a "Run" button carrying its commands, and
  may say which cluster it runs on and which command fails on purpose
  (``quizzes.run_blocks``; a malformed note is a ``ContentError``).

Only the exact ``{{fact:...}}`` form is special: the lessons also contain literal
braces (the cluster spec's ``foo{{bar}}zap`` example). Code spans and blocks are
never scanned for any of these.

Pipeline and its invariant: Markdown (with the extension below) -> ``bleach`` with a
strict allow-list -> the Run-button wrapper. Everything an author can write passes
through bleach; the only markup added after it is the Run wrapper, built from the
already escaped text of a code block. So no script, style, iframe, event-handler
attribute, or javascript:/data: URL can reach a page, whatever the Markdown says.
Disallowed tags are escaped (shown as text) rather than dropped, so an author's
``AUTH <user> <password>`` outside backticks stays readable instead of vanishing.

Rendering happens once, when content is loaded or saved in the admin, never per
request.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as etree
from dataclasses import dataclass, field
from functools import partial

import bleach
import markdown
from bleach.linkifier import LinkifyFilter
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor
from markdown.treeprocessors import Treeprocessor
from markdown.util import AtomicString

from quizzes import run_blocks


class ContentError(Exception):
    """Course content that cannot be published: a broken reference, a bad field.

    ``problems`` lists every problem found, each naming its file or object, so one
    run of the loader reports them all.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class FactCard:
    slug: str
    claim: str
    source: str
    url: str  # as written in facts.yaml: a web address or a path in the repository
    published: str
    checked: str  # ISO date

    @property
    def link(self) -> str:
        """The address to link to, or '' when the source is not on the web."""
        return self.url if self.url.startswith(("https://", "http://")) else ""


@dataclass(frozen=True)
class Target:
    """Where an internal link points, and the words it shows."""

    url: str
    title: str


@dataclass(frozen=True)
class DiagramImage:
    url: str
    width: int
    height: int


@dataclass
class ContentIndex:
    """Everything a reference in the Markdown may name, for checking and linking."""

    lessons: dict[str, Target] = field(default_factory=dict)
    questions: dict[str, Target] = field(default_factory=dict)
    facts: dict[str, FactCard] = field(default_factory=dict)
    diagrams: dict[str, DiagramImage] = field(default_factory=dict)


@dataclass
class Rendered:
    html: str
    facts: list[str]  # fact ids cited, in order of first citation


# --------------------------------------------------------------------------------------
# The sanitizer
# --------------------------------------------------------------------------------------

CONTENT_TAGS = frozenset(
    {
        "a", "abbr", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt",
        "em", "h2", "h3", "h4", "h5", "h6", "hr", "img", "kbd", "li", "ol", "p", "pre",
        "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "time",
        "tr", "ul",
    }
)  # fmt: skip
LEARNER_TAGS = frozenset(
    {"a", "blockquote", "br", "code", "del", "em", "li", "ol", "p", "pre", "strong", "ul"}
)
PROTOCOLS = frozenset({"http", "https", "mailto"})

_CLASSES = {
    "a": {"fact-ref", "internal-link", "question-link"},
    "div": {"fact-cards", "fact-card"},
    "img": {"diagram"},
    "p": {"fact-claim", "fact-source"},
    "span": {"fact-number"},
}
_LANGUAGE = re.compile(r"language-[a-z0-9+-]{1,20}")
_FACT_ANCHOR = re.compile(r"fact-[a-z0-9-]{1,100}")
_SAFE_IMAGE = re.compile(r"/(?:diagrams|static)/[A-Za-z0-9._/?=-]+")


def _content_attribute(tag: str, name: str, value: str) -> bool:
    """The attribute allow-list for course content: a few per tag, some by value."""
    if name == "title" and tag in ("a", "abbr", "img"):
        return True
    if tag == "a":
        return name in ("href", "aria-label") or (name == "class" and value in _CLASSES["a"])
    if tag == "img":
        if name == "src":
            # Only our own diagrams: no tracking pixels, no data: documents.
            return bool(_SAFE_IMAGE.fullmatch(value))
        return name in ("alt", "width", "height", "loading") or (
            name == "class" and value in _CLASSES["img"]
        )
    if tag == "code":
        return name == "class" and bool(_LANGUAGE.fullmatch(value))
    if tag in ("th", "td"):
        return name == "align" and value in ("left", "center", "right")
    if tag == "ol":
        return name == "start" and value.isdigit()
    if tag == "time":
        return name == "datetime"
    if tag == "div":
        return (
            (name == "class" and value in _CLASSES["div"])
            or (name == "id" and bool(_FACT_ANCHOR.fullmatch(value)))
            or (name == "role" and value == "note")
        )
    if name == "class":
        return value in _CLASSES.get(tag, ())
    return False


def _learner_attribute(tag: str, name: str, value: str) -> bool:
    return tag == "a" and name in ("href", "rel")


def _nofollow(attrs: dict, new: bool = False) -> dict:
    """Links typed by learners carry no search-engine weight and no opener."""
    href_key = (None, "href")
    if href_key in attrs and not attrs[href_key].startswith(("http:", "https:", "mailto:")):
        return attrs
    attrs[(None, "rel")] = "nofollow ugc noopener"
    return attrs


def sanitize_content(fragment: str) -> str:
    cleaner = bleach.Cleaner(
        tags=CONTENT_TAGS,
        attributes=_content_attribute,
        protocols=PROTOCOLS,
        strip=False,
        strip_comments=True,
    )
    return cleaner.clean(fragment)


def sanitize_learner(fragment: str) -> str:
    cleaner = bleach.Cleaner(
        tags=LEARNER_TAGS,
        attributes=_learner_attribute,
        protocols=PROTOCOLS,
        strip=False,
        strip_comments=True,
        filters=[
            partial(
                LinkifyFilter, callbacks=[_nofollow], skip_tags=["pre", "code"], parse_email=False
            )
        ],
    )
    return cleaner.clean(fragment)


# --------------------------------------------------------------------------------------
# The Markdown extension
# --------------------------------------------------------------------------------------

FACT_PATTERN = r"\{\{fact:([^{}\s]*)\}\}"
LINK_PATTERN = r"\[\[([a-z]+):([^\[\]\s]*)\]\]"
DIAGRAM_SCHEME = "diagram:"
# Marks an element the tree processor must finish; removed before output.
_PENDING = "data-pending"


class FactReferenceProcessor(InlineProcessor):
    def __init__(self, pattern: str, ext: ContentExtension) -> None:
        super().__init__(pattern)
        self.ext = ext

    def handleMatch(  # noqa: N802 (Markdown's API)
        self, m: re.Match[str], data: str
    ) -> tuple[etree.Element, int, int]:
        slug = m.group(1)
        if not self.ext.allow_facts:
            self.ext.problems.append(f"{{{{fact:{slug}}}}}: cite facts in the 'facts:' list here")
        elif slug not in self.ext.index.facts:
            self.ext.problems.append(f"{{{{fact:{slug}}}}}: no fact has this id")
        ref = etree.Element("a", {"class": "fact-ref", "href": f"#fact-{slug}", _PENDING: slug})
        return ref, m.start(0), m.end(0)


class InternalLinkProcessor(InlineProcessor):
    def __init__(self, pattern: str, ext: ContentExtension) -> None:
        super().__init__(pattern)
        self.ext = ext

    def handleMatch(  # noqa: N802 (Markdown's API)
        self, m: re.Match[str], data: str
    ) -> tuple[etree.Element | str, int, int]:
        kind, key = m.group(1), m.group(2)
        targets = {"lesson": self.ext.index.lessons, "question": self.ext.index.questions}
        if kind not in targets:
            self.ext.problems.append(f"[[{kind}:{key}]]: unknown link kind {kind!r}")
            return m.group(0), m.start(0), m.end(0)
        target = targets[kind].get(key)
        if target is None:
            self.ext.problems.append(f"[[{kind}:{key}]]: no {kind} has this id")
            return m.group(0), m.start(0), m.end(0)
        # Atomic: a title is text, never more Markdown or HTML to interpret.
        if kind == "lesson":
            link = etree.Element("a", {"href": target.url, "class": "internal-link"})
            link.text = AtomicString(target.title)
        else:
            link = etree.Element("a", {"href": target.url, "class": "question-link"})
            link.text = AtomicString(f"“{target.title}”")
        return link, m.start(0), m.end(0)


class ContentTreeprocessor(Treeprocessor):
    """Numbers fact references, places fact cards, resolves diagram images."""

    def __init__(self, md: markdown.Markdown, ext: ContentExtension) -> None:
        super().__init__(md)
        self.ext = ext

    def run(self, root: etree.Element) -> None:
        numbers: dict[str, int] = {}
        cards_after: list[tuple[etree.Element, list[str]]] = []
        for block in list(root):
            new_in_block: list[str] = []
            for ref in block.iter("a"):
                slug = ref.attrib.pop(_PENDING, None)
                if slug is None:
                    continue
                if slug not in numbers:
                    numbers[slug] = len(numbers) + 1
                    new_in_block.append(slug)
                ref.text = f"[{numbers[slug]}]"
                ref.set("aria-label", f"Source {numbers[slug]}")
                self._wrap_in_sup(block, ref)
            if new_in_block:
                cards_after.append((block, new_in_block))
        for block, slugs in cards_after:
            cards = etree.Element("div", {"class": "fact-cards"})
            for slug in slugs:
                fact = self.ext.index.facts.get(slug)
                if fact is not None:
                    cards.append(fact_card_element(fact, numbers[slug]))
            position = list(root).index(block)
            root.insert(position + 1, cards)
        self.ext.cited = list(numbers)
        for image in root.iter("img"):
            self._resolve_diagram(image)

    @staticmethod
    def _wrap_in_sup(block: etree.Element, ref: etree.Element) -> None:
        for parent in block.iter():
            children = list(parent)
            if ref in children:
                position = children.index(ref)
                sup = etree.Element("sup")
                sup.tail, ref.tail = ref.tail, None
                parent.remove(ref)
                sup.append(ref)
                parent.insert(position, sup)
                return

    def _resolve_diagram(self, image: etree.Element) -> None:
        src = image.get("src", "")
        if not src.startswith(DIAGRAM_SCHEME):
            return
        name = src[len(DIAGRAM_SCHEME) :]
        diagram = self.ext.index.diagrams.get(name)
        if diagram is None:
            self.ext.problems.append(f"![...](diagram:{name}): no diagrams/{name}.svg")
            return
        if not image.get("alt", "").strip():
            self.ext.problems.append(f"![...](diagram:{name}): a diagram needs alt text")
        image.set("src", diagram.url)
        image.set("class", "diagram")
        image.set("width", str(diagram.width))
        image.set("height", str(diagram.height))
        image.set("loading", "lazy")


class ContentExtension(Extension):
    def __init__(self, index: ContentIndex, allow_facts: bool = True) -> None:
        super().__init__()
        self.index = index
        self.allow_facts = allow_facts
        self.problems: list[str] = []
        self.cited: list[str] = []

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802
        # After code spans (190) and backslash escapes (180), before links (160).
        md.inlinePatterns.register(FactReferenceProcessor(FACT_PATTERN, self), "fact-ref", 175)
        md.inlinePatterns.register(InternalLinkProcessor(LINK_PATTERN, self), "internal-link", 174)
        # After the inline processor (20) has built the links and references.
        md.treeprocessors.register(ContentTreeprocessor(md, self), "content", 15)

    def reset(self) -> None:
        self.problems = []
        self.cited = []


def fact_card_element(fact: FactCard, number: int | None = None) -> etree.Element:
    """``<div class="fact-card" role="note">``: the claim, then its source and dates.

    A note rather than an <aside>: a lesson cites dozens of facts, and as many
    complementary landmarks would swamp a screen reader's landmark list.

    A source with a web address is a link; one without (the course material, cited
    by its path in the repository) is plain text.
    """
    card = etree.Element("div", {"class": "fact-card", "id": f"fact-{fact.slug}", "role": "note"})
    claim = etree.SubElement(card, "p", {"class": "fact-claim"})
    if number is not None:
        badge = etree.SubElement(claim, "span", {"class": "fact-number"})
        badge.text = f"[{number}]"
        badge.tail = " " + fact.claim
    else:
        claim.text = fact.claim
    published = (
        "Publication date unknown" if fact.published == "unknown" else f"Published {fact.published}"
    )
    source = etree.SubElement(card, "p", {"class": "fact-source"})
    if fact.link:
        source.text = "Source: "
        link = etree.SubElement(source, "a", {"href": fact.link})
        link.text = fact.source
        link.tail = f". {published}. Checked "
    else:
        source.text = f"Source: {fact.source} ({fact.url}). {published}. Checked "
    checked = etree.SubElement(source, "time", {"datetime": fact.checked})
    checked.text = fact.checked
    checked.tail = "."
    return card


# --------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------

_RUN_BLOCK = re.compile(r'<pre><code class="language-redis">([^<]*)</code></pre>')


def _add_run_buttons(fragment: str, problems: list[str]) -> str:
    """Give each ```redis block a Run button carrying its commands.

    Runs after bleach on its output: the code text is already escaped and contains
    no tag (``[^<]*``), so this adds nothing an author controls beyond that text,
    escaped again for the attribute. The block's notes (``quizzes.run_blocks``: the
    cluster it runs on, a command that fails on purpose) stay in the shown code for
    the learner and are left out of what Run sends; a malformed note is a problem.
    """

    seen = 0

    def wrap(match: re.Match[str]) -> str:
        nonlocal seen
        seen += 1
        block, wrong = run_blocks.parse(html.unescape(match.group(1)))
        problems.extend(f"```redis block {seen}: {problem}" for problem in wrong)
        command = "\n".join(block.commands)
        cluster = f' data-cluster="{block.cluster}"' if block.cluster != "durable" else ""
        return (
            '<div class="run-block">'
            f"{match.group(0)}"
            '<p class="run-actions"><button type="button" class="run-command"'
            f' data-command="{html.escape(command, quote=True)}"{cluster}>Run'
            '<span class="visually-hidden"> these commands</span></button>'
            ' <span class="run-status" role="status"></span></p></div>'
        )

    return _RUN_BLOCK.sub(wrap, fragment)


class ContentRenderer:
    """Renders course Markdown against an index of what references may name.

    One instance renders many texts (the loader renders the whole course with one);
    not thread-safe, like the Markdown and bleach objects it holds.
    """

    def __init__(self, index: ContentIndex) -> None:
        self.index = index
        self._block = ContentExtension(index, allow_facts=True)
        self._inline = ContentExtension(index, allow_facts=False)
        self._block_md = self._markdown(self._block)
        self._inline_md = self._markdown(self._inline)

    @staticmethod
    def _markdown(ext: ContentExtension) -> markdown.Markdown:
        return markdown.Markdown(
            extensions=["tables", "fenced_code", "sane_lists", ext],
            extension_configs={"tables": {"use_align_attribute": True}},
            output_format="html",
        )

    def render(self, text: str, where: str = "") -> Rendered:
        """A whole lesson or answer: block Markdown with fact cards and Run buttons."""
        self._block_md.reset()
        self._block.reset()
        produced = self._block_md.convert(text)
        problems = list(self._block.problems)
        fragment = _add_run_buttons(sanitize_content(produced), problems)
        self._raise_problems(problems, where)
        return Rendered(fragment, list(self._block.cited))

    def render_inline(self, text: str, where: str = "") -> str:
        """A prompt, a choice or a lab step: one paragraph, returned without its <p>."""
        self._inline_md.reset()
        self._inline.reset()
        produced = self._inline_md.convert(text)
        self._raise_problems(self._inline.problems, where)
        return _unwrap_paragraph(sanitize_content(produced))

    def render_text(self, text: str, where: str = "") -> str:
        """Block Markdown where facts are cited elsewhere (question answers)."""
        self._inline_md.reset()
        self._inline.reset()
        produced = self._inline_md.convert(text)
        problems = list(self._inline.problems)
        fragment = _add_run_buttons(sanitize_content(produced), problems)
        self._raise_problems(problems, where)
        return fragment

    @staticmethod
    def _raise_problems(problems: list[str], where: str) -> None:
        if problems:
            prefix = f"{where}: " if where else ""
            raise ContentError([prefix + problem for problem in problems])


def _unwrap_paragraph(fragment: str) -> str:
    stripped = fragment.strip()
    if stripped.startswith("<p>") and stripped.endswith("</p>") and stripped.count("<p>") == 1:
        return stripped[3:-4]
    return stripped


def render_learner_text(text: str) -> str:
    """What a learner typed (a free-text answer): plain Markdown, stricter allow-list,
    links marked nofollow. Raw HTML is shown as text, never interpreted."""
    produced = markdown.markdown(text, extensions=["fenced_code", "sane_lists"])
    return sanitize_learner(produced)


def render_fact_card(fact: FactCard) -> str:
    """A fact's card on its own, for pages that list facts (the /facts/ page)."""
    return sanitize_content(etree.tostring(fact_card_element(fact), encoding="unicode"))


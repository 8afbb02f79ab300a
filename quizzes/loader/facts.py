"""Parses what lessons embed: the sourced, dated facts (``facts.yaml``, shown with
``{{fact:id}}``) and the SVG diagrams (``diagrams/<name>.svg``, shown with
``![alt](diagram:name)``).

Invariants: a fact's link is an http(s) address or a path in this repository, never
``javascript:`` or ``data:``; a diagram is well-formed SVG with a size and nothing
active in it (no script, event handler, external link or embedded object), since the
file is served from the site's own origin.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as etree
from datetime import date
from pathlib import Path
from typing import Any

from quizzes.loader.fields import REPO_PATH, SLUG, TOPIC_SLUGS, Fields, duplicates, read_yaml
from quizzes.loader.records import ParsedDiagram


def parse_facts(root: Path, problems: list[str]) -> list[dict[str, Any]]:
    """The facts of ``facts.yaml``, as the dicts sync stores."""
    data = read_yaml(root / "facts.yaml", root, problems)
    if not isinstance(data, list):
        problems.append("facts.yaml: expected a list of facts")
        return []
    facts = []
    allowed = ("id", "claim", "source", "url", "published", "checked", "topic")
    for number, entry in enumerate(data, start=1):
        where = f"facts.yaml, fact {entry.get('id') if isinstance(entry, dict) else number}"
        f = Fields(entry, where, problems, allowed)
        url = f.text("url")
        if url and not (url.startswith(("https://", "http://")) or REPO_PATH.fullmatch(url)):
            # Anything else (javascript:, data:, ...) could end up in a page.
            f.problem(f"'url' {url!r} must be an http(s) address or a path in the repository")
        checked = f.data.get("checked")
        try:
            checked_on = checked if isinstance(checked, date) else date.fromisoformat(str(checked))
        except ValueError:
            f.problem(f"'checked' {checked!r} must be a date such as 2026-11-26")
            checked_on = date.min
        topic = f.text("topic")
        if topic and topic not in TOPIC_SLUGS:
            f.problem(f"unknown topic {topic!r}")
        facts.append(
            {
                "slug": f.slug("id"),
                "claim": f.text("claim"),
                "source": f.text("source"),
                "url": url,
                "published": f.text("published"),
                "checked": checked_on,
                "topic": topic,
            }
        )
    for slug in duplicates(fact["slug"] for fact in facts):
        problems.append(f"facts.yaml: duplicate fact id {slug!r}")
    return facts


_SVG_NS = "{http://www.w3.org/2000/svg}"
_FORBIDDEN_SVG = {"script", "foreignObject", "iframe", "embed", "object", "image", "use"}


def parse_diagrams(root: Path, problems: list[str]) -> list[ParsedDiagram]:
    """Every ``diagrams/*.svg``, sized from its viewBox; the digest versions its URL."""
    diagrams = []
    for path in sorted((root / "diagrams").glob("*.svg")):
        where = f"diagrams/{path.name}"
        if not SLUG.fullmatch(path.stem):
            problems.append(f"{where}: a diagram name is lowercase letters, digits and dashes")
            continue
        svg = path.read_text(encoding="utf-8")
        try:
            tree = etree.fromstring(svg)
        except etree.ParseError as exc:
            problems.append(f"{where}: not well-formed XML: {exc}")
            continue
        if tree.tag != f"{_SVG_NS}svg":
            problems.append(f"{where}: the root element must be <svg> in the SVG namespace")
            continue
        # The file is served from our origin: if opened directly, a script in it would
        # run there. Diagrams are pictures, so anything active is refused.
        for element in tree.iter():
            local = element.tag.rsplit("}", 1)[-1]
            if local in _FORBIDDEN_SVG:
                problems.append(f"{where}: <{local}> is not allowed in a diagram")
            for name, value in element.attrib.items():
                attr = name.rsplit("}", 1)[-1].lower()
                if attr.startswith("on") or (attr == "href" and not value.startswith("#")):
                    problems.append(f"{where}: attribute {attr}={value!r} is not allowed")
        width, height = _svg_size(tree)
        if not width or not height:
            problems.append(f"{where}: needs a viewBox (or width and height) to be sized")
            continue
        digest = hashlib.sha256(svg.encode()).hexdigest()[:12]
        diagrams.append(ParsedDiagram(path.stem, svg, width, height, digest))
    return diagrams


def _svg_size(tree: etree.Element) -> tuple[int, int]:
    box = tree.get("viewBox", "").replace(",", " ").split()
    try:
        if len(box) == 4:
            return round(float(box[2])), round(float(box[3]))
        return round(float(tree.get("width", "0"))), round(float(tree.get("height", "0")))
    except ValueError:
        return 0, 0

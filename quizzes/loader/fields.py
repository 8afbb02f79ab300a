"""Shared checks of the content parsers: the known topics, the id patterns, YAML
reading, and ``Fields``, typed access to one YAML mapping.

Invariant: a check never raises on bad content. It appends one line naming the file
and entry to the caller's ``problems`` list and returns a harmless stand-in ("", None,
[]), so parsing goes on and a writer sees every problem of a run at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import yaml

# The topics content may be tagged with, in the order pages list them. A tag that
# is not here is refused, so a typo cannot create a topic of its own.
TOPICS: tuple[tuple[str, str], ...] = (
    ("durability", "Durability"),
    ("elasticache", "ElastiCache"),
    ("consistency", "Consistency"),
    ("architecture", "Architecture"),
    ("cluster", "Cluster slots and clients"),
    ("failover", "Failover"),
    ("use-cases", "Use cases"),
    ("snapshots", "Snapshots and restore"),
    ("security", "Security"),
    ("compatibility", "API compatibility"),
    ("performance", "Performance and latency"),
    ("pricing", "Pricing and cost"),
)
TOPIC_SLUGS = frozenset(slug for slug, _title in TOPICS)

# libyaml's safe loader when PyYAML was built with it: ten times faster, same result.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")
NUMBERED = re.compile(r"(\d+)-([a-z0-9][a-z0-9-]*)")
REPO_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*")


class Fields:
    """Typed access to one YAML mapping, recording problems instead of raising."""

    def __init__(self, data: Any, where: str, problems: list[str], allowed: Iterable[str]) -> None:
        self.where = where
        self.problems = problems
        if not isinstance(data, Mapping):
            self.problem(f"expected a mapping, found {type(data).__name__}")
            data = {}
        self.data = data
        unknown = sorted(set(map(str, data)) - set(allowed))
        if unknown:
            self.problem(f"unknown field(s) {', '.join(unknown)}")

    def problem(self, message: str) -> None:
        self.problems.append(f"{self.where}: {message}")

    def text(self, name: str, required: bool = True) -> str:
        value = self.data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(f"'{name}' is missing")
            return ""
        if not isinstance(value, (str, int, float, date)) or isinstance(value, bool):
            self.problem(f"'{name}' must be text")
            return ""
        return str(value).strip()

    def integer(self, name: str, low: int, high: int, required: bool = True) -> int | None:
        value = self.data.get(name)
        if value is None:
            if required:
                self.problem(f"'{name}' is missing")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.problem(f"'{name}' must be a whole number from {low} to {high}")
            return None
        return value

    def slug(self, name: str) -> str:
        value = self.text(name)
        if value and not SLUG.fullmatch(value):
            self.problem(f"'{name}' {value!r} must be lowercase letters, digits and dashes")
        return value

    def slugs(self, name: str, required: bool = True) -> list[str]:
        value = self.data.get(name)
        if value is None:
            if required:
                self.problem(f"'{name}' is missing")
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(f"'{name}' must be a list of ids")
            return []
        return list(value)

    def topics(self) -> list[str]:
        topics = self.slugs("topics")
        if not topics:
            self.problem("'topics' must name at least one topic")
        for topic in topics:
            if topic not in TOPIC_SLUGS:
                self.problem(f"unknown topic {topic!r} (known: {', '.join(sorted(TOPIC_SLUGS))})")
        return topics


def read_yaml(path: Path, root: Path, problems: list[str]) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"{path.relative_to(root)}: cannot be read: {exc}")
        return None


def duplicates(keys: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for key in keys:
        if key in seen and key not in repeated:
            repeated.append(key)
        seen.add(key)
    return repeated

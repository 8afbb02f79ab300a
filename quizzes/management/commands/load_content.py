"""``manage.py load_content``: publish the course files to the database.

Run by ``scripts/run`` on every start. Idempotent: unchanged files write nothing.
Any broken reference, unknown topic or duplicate id stops it with every problem
listed and the database untouched, and a non-zero exit status.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from quizzes.loader import DEFAULT_CONTENT_DIR, ContentError, load_content


class Command(BaseCommand):
    help = "Load lessons, questions, quizzes, facts and diagrams from quizzes/content/."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--content-dir",
            type=Path,
            default=DEFAULT_CONTENT_DIR,
            help=f"Folder to load (default: {DEFAULT_CONTENT_DIR}).",
        )

    def handle(self, *args: Any, content_dir: Path, **options: Any) -> None:
        try:
            report = load_content(content_dir)
        except ContentError as exc:
            count = len(exc.problems)
            listing = "\n".join(f"  - {problem}" for problem in exc.problems)
            raise CommandError(
                f"The course content has {count} problem{'s' if count != 1 else ''};"
                f" nothing was loaded:\n{listing}"
            ) from None
        self.stdout.write(self.style.SUCCESS(report.summary()))

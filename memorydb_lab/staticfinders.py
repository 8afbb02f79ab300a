"""A staticfiles finder that serves plotly.js from the installed plotly package.

plotly (the Python package, pinned in requirements.txt) ships the browser bundle as
``plotly/package_data/plotly.min.js``. Serving that very file means the charts work
offline, with no CDN, and the JavaScript always matches the pinned Python package.
Only that one file is exposed: the rest of ``package_data`` (a second 5 MB bundle,
sample data sets) has no business in STATIC_ROOT.

The file is published as ``vendor/plotly/plotly.min.js`` (see ``PLOTLY_STATIC_PATH``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import CheckMessage, Error
from django.core.files.storage import FileSystemStorage

PLOTLY_STATIC_PATH = "vendor/plotly/plotly.min.js"
PLOTLY_PACKAGE_DATA = Path(plotly.__file__).resolve().parent / "package_data"
_FILE_NAME = "plotly.min.js"
_PREFIX = PLOTLY_STATIC_PATH.rsplit("/", 1)[0]


class PlotlyFinder(BaseFinder):
    """Finds ``vendor/plotly/plotly.min.js`` inside the plotly package."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=PLOTLY_PACKAGE_DATA)
        # collectstatic joins this prefix to the listed name when it copies the file.
        self.storage.prefix = _PREFIX

    def check(self, **kwargs: Any) -> list[CheckMessage]:
        if not (PLOTLY_PACKAGE_DATA / _FILE_NAME).is_file():
            return [
                Error(
                    f"{PLOTLY_PACKAGE_DATA / _FILE_NAME} is missing; reinstall plotly.",
                    id="memorydb_lab.E001",
                )
            ]
        return []

    def find(self, path: str, find_all: bool = False) -> str | list[str]:
        match = str(PLOTLY_PACKAGE_DATA / _FILE_NAME)
        if path != PLOTLY_STATIC_PATH or not (PLOTLY_PACKAGE_DATA / _FILE_NAME).is_file():
            # An empty list means "no match" in both modes: django's finders.find()
            # would collect any other value as a (bogus) match.
            return []
        return [match] if find_all else match

    def list(self, ignore_patterns: list[str] | None) -> Iterator[tuple[str, FileSystemStorage]]:
        if (PLOTLY_PACKAGE_DATA / _FILE_NAME).is_file():
            yield _FILE_NAME, self.storage

"""Static files as production serves them: collected, hashed, compressed, offline."""

from __future__ import annotations

import json
from pathlib import Path

from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.template import engines
from pytest_django.fixtures import Settings

import memorydb_lab.settings as production
from memorydb_lab.staticfinders import PLOTLY_PACKAGE_DATA, PLOTLY_STATIC_PATH


def test_the_finder_exposes_plotly_min_js_and_nothing_else_of_the_package() -> None:
    assert finders.find(PLOTLY_STATIC_PATH) == str(PLOTLY_PACKAGE_DATA / "plotly.min.js")
    assert finders.find(PLOTLY_STATIC_PATH, find_all=True) == [
        str(PLOTLY_PACKAGE_DATA / "plotly.min.js")
    ]
    assert (PLOTLY_PACKAGE_DATA / "widgetbundle.js").is_file()  # it exists...
    assert finders.find("vendor/plotly/widgetbundle.js") is None  # ...but is not served


def test_collectstatic_publishes_hashed_compressed_files_with_plotly(
    tmp_path: Path, settings: Settings
) -> None:
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = production.STORAGES  # the whitenoise manifest storage
    call_command("collectstatic", interactive=False, verbosity=0)

    collected = tmp_path / PLOTLY_STATIC_PATH
    assert collected.read_bytes() == (PLOTLY_PACKAGE_DATA / "plotly.min.js").read_bytes()
    assert not (tmp_path / "vendor" / "plotly" / "widgetbundle.js").exists()

    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    hashed_css = manifest["css/base.css"]
    assert hashed_css != "css/base.css"
    assert (tmp_path / f"{hashed_css}.gz").is_file()
    assert (tmp_path / f"{manifest[PLOTLY_STATIC_PATH]}.gz").is_file()

    # Templates then link the hashed name, which browsers may cache for ever.
    html = engines["django"].from_string("{% load static %}{% static 'css/base.css' %}").render()
    assert html == f"/static/{hashed_css}"

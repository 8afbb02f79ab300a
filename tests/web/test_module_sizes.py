"""Every module of the project stays small and says what it is (issue 10).

A module over ~600 lines has stopped having one concern (the engine's model,
mini-redis, keeps each under ~400), and one without a docstring leaves a reader to
guess its role and invariants. Both are checked over every Python file outside
``tests/`` and ``migrations/``, in every app (memorydb_lab, quizzes, sandbox with its
engine, teach) and any new one, with nothing allow-listed: a module that grows past
the limit is split, not excused.

Pure tests: they read files and start nothing.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 600

# Not project modules: the tests themselves, generated migrations, and folders the
# project writes or installs into (the venv, collected static files, run-time data).
_SKIPPED_FOLDERS = frozenset({"tests", "migrations", "__pycache__", "node_modules", "var", "staticfiles"})


def project_modules(root: Path = ROOT) -> list[Path]:
    """Every .py file of the project, as paths relative to ``root``, sorted."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        # Hidden folders are the venv, git and tool caches, never project code.
        dirs[:] = [d for d in dirs if d not in _SKIPPED_FOLDERS and not d.startswith(".")]
        found += [(Path(folder) / name).relative_to(root) for name in files if name.endswith(".py")]
    return sorted(found)


def oversized_modules(root: Path = ROOT) -> dict[str, int]:
    """The modules longer than MAX_LINES, with their length in lines."""
    lengths = {str(path): len((root / path).read_text(encoding="utf-8").splitlines()) for path in project_modules(root)}
    return {name: n for name, n in lengths.items() if n > MAX_LINES}


def test_the_scan_sees_every_app_and_the_engine_but_no_tests_or_migrations() -> None:
    # Guards the size test against passing because it looked at nothing.
    modules = {str(path) for path in project_modules()}
    for expected in ("manage.py", "memorydb_lab/settings.py", "memorydb_lab/env.py", "quizzes/loader/parse.py",
                     "sandbox/manager.py", "sandbox/engine/server.py", "teach/models.py"):  # fmt: skip
        assert expected in modules
    assert not any(name.startswith("tests/") or "/migrations/" in name for name in modules)
    assert not any(name.startswith(".") for name in modules), "the venv is not the project"


def test_no_module_outside_tests_and_migrations_is_longer_than_600_lines() -> None:
    assert oversized_modules() == {}


def test_every_module_outside_tests_and_migrations_opens_with_a_docstring() -> None:
    undocumented = []
    for path in project_modules():
        source = (ROOT / path).read_text(encoding="utf-8")
        # An empty package __init__ has nothing to describe.
        if source.strip() and ast.get_docstring(ast.parse(source)) is None:
            undocumented.append(str(path))
    assert undocumented == []

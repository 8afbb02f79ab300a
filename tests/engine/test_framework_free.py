"""The engine is a plain Python package: importing all of it loads no web framework."""

import subprocess
import sys
from pathlib import Path

from .servers import ROOT

PROBE = """
import importlib, pkgutil, sys
import sandbox.engine as engine
for mod in pkgutil.walk_packages(engine.__path__, "sandbox.engine."):
    importlib.import_module(mod.name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("django", "channels", "daphne"))
print(",".join(bad))
"""


def test_importing_every_engine_module_loads_no_django_channels_or_daphne():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_no_engine_source_mentions_a_framework_import():
    offenders = []
    for path in Path(ROOT, "sandbox", "engine").rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")) and any(
                f" {name}" in stripped.split(" import ")[0] + " " for name in ("django", "channels", "daphne")
            ):
                offenders.append(f"{path}: {stripped}")
    assert offenders == []


def test_the_engine_reads_no_environment_variables():
    offenders = [
        str(p) for p in Path(ROOT, "sandbox", "engine").rglob("*.py")
        if "os.environ" in p.read_text() or "getenv(" in p.read_text()
    ]
    assert offenders == []

"""What the site keeps on disk is private to its own user: the data directory and
everything in it (database, its -wal/-shm files, secret key, sandboxes) is created
0700/0600 and an older install's looser modes are tightened at start-up; another
local user (``nobody``) cannot read the database or the key. Cluster passwords are
sealed in the database, a row written in clear by an older version is still read
and gets sealed by the migration, and a changed SECRET_KEY makes old credentials
read as lost (with a warning) instead of breaking anything.

Start-up runs in a fresh interpreter with a shell's usual umask (022), as daphne or
``manage.py`` would start, against a data directory of the test's own.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client, override_settings

from sandbox import encryption
from sandbox.models import Sandbox
from sandbox.owners import Owner
from sandbox.testing import Browser

PROJECT_ROOT = Path(settings.BASE_DIR)
TIGHTENED = "Removed group/other access from"

# migrate, one sign-in (a session row), and a write in WAL mode so -wal/-shm exist.
FIRST_START = """
import django
django.setup()
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client
call_command("migrate", verbosity=0)
User.objects.create_user("alice", "alice@example.org", "correct horse battery staple")
client = Client(HTTP_HOST="localhost")
assert client.login(username="alice", password="correct horse battery staple")
assert client.get("/").status_code == 200
with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("UPDATE auth_user SET first_name = 'Alice'")
    import os
    print(sorted(os.listdir(connection.settings_dict["NAME"].rsplit("/", 1)[0])))
"""

# The lanes a default sandbox runs (the third, async lane is off unless switched on).
CLUSTERS = ("durable", "cache")


def _start(data_dir: Path, code: str = "import django; django.setup()") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORYDB_LAB_")}
    env.update(DJANGO_SETTINGS_MODULE="memorydb_lab.settings", PYTHONPATH=str(PROJECT_ROOT),
               MEMORYDB_LAB_DATA_DIR=str(data_dir))
    return subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
        timeout=120, preexec_fn=lambda: os.umask(0o022),  # a login shell's usual umask
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _loose(root: Path) -> list[str]:
    """Everything at or under ``root`` that the group or others may use."""
    found = [root, *root.rglob("*")]
    return [f"{p} {_mode(p):04o}" for p in found if _mode(p) & 0o077]


@pytest.fixture
def reachable_dir() -> Iterator[Path]:
    """A folder other users can walk into (pytest's tmp_path is 0700 and would
    hide the data directory from them whatever its own mode)."""
    folder = Path(tempfile.mkdtemp(prefix="memorydb-lab-disk-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        subprocess.run(["rm", "-rf", str(folder)], check=True)


def _as_nobody(path: Path) -> str:
    """What happens when the ``nobody`` user opens ``path`` for reading."""
    code = (
        "import sys\n"
        "try:\n    open(sys.argv[1], 'rb').read(1)\nexcept PermissionError:\n    print('PermissionError')\n"
        "else:\n    print('read')\n"
    )
    # The system interpreter: the project's venv may sit where nobody cannot reach.
    python = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin") or "python3"
    result = subprocess.run(["runuser", "-u", "nobody", "--", python, "-c", code, str(path)],
                            capture_output=True, text=True, timeout=60, cwd="/")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_first_start_creates_the_data_directory_private_to_the_site(reachable_dir: Path) -> None:
    data = reachable_dir / "var"
    result = _start(data, FIRST_START)
    assert result.returncode == 0, result.stderr
    assert "'db.sqlite3-wal'" in result.stdout, result.stdout  # the WAL files existed
    assert _mode(data) == 0o700
    assert _mode(data / "db.sqlite3") == 0o600
    assert _mode(data / "secret_key") == 0o600
    assert _mode(data / "sandboxes") == 0o700
    assert _loose(data) == []
    assert TIGHTENED not in result.stderr  # nothing was loose, so nothing to say

    if os.geteuid() == 0:  # CI runs as root: try it as another user for real
        for secret in (data / "db.sqlite3", data / "secret_key"):
            assert _as_nobody(secret) == "PermissionError", secret
    else:  # nobody can't be become; the modes above are what protect the files
        assert _mode(data) & 0o005 == 0


def test_an_existing_install_with_loose_modes_is_tightened_once_and_says_so(reachable_dir: Path) -> None:
    data = reachable_dir / "var"
    assert _start(data).returncode == 0
    sqlite3.connect(data / "db.sqlite3").execute("CREATE TABLE t (x)").connection.close()
    sandbox = data / "sandboxes" / ("ab" * 16) / "durable"
    sandbox.mkdir(parents=True)
    (sandbox / "journal.log").write_bytes(b"AUTH user password")
    for path in (data, data / "sandboxes", sandbox.parent, sandbox):
        path.chmod(0o755)
    for path in (data / "db.sqlite3", data / "secret_key", sandbox / "journal.log"):
        path.chmod(0o644)
    if os.geteuid() == 0:
        assert _as_nobody(data / "db.sqlite3") == "read"  # the hole this closes

    first = _start(data)
    assert first.returncode == 0, first.stderr
    assert _loose(data) == []
    assert _mode(data / "db.sqlite3") == 0o600 and _mode(sandbox) == 0o700
    assert first.stderr.count(TIGHTENED) == 1, first.stderr
    assert f"{data / 'db.sqlite3'} (0644 -> 0600)" in first.stderr
    assert f"{data} (0755 -> 0700)" in first.stderr

    second = _start(data)
    assert second.returncode == 0, second.stderr
    assert TIGHTENED not in second.stderr
    if os.geteuid() == 0:
        assert _as_nobody(data / "db.sqlite3") == "PermissionError"


def test_tightening_does_not_follow_a_symlink_out_of_the_data_directory(reachable_dir: Path) -> None:
    data = reachable_dir / "var"
    assert _start(data).returncode == 0
    outside = reachable_dir / "shared.txt"
    outside.write_text("not the site's")
    outside.chmod(0o644)
    (data / "link").symlink_to(outside)
    assert _start(data).returncode == 0
    assert _mode(outside) == 0o644


def test_a_data_directory_set_to_a_shared_sticky_folder_is_left_as_it_is(reachable_dir: Path) -> None:
    shared = reachable_dir / "tmp"  # like /tmp: everyone's files, sticky
    shared.mkdir()
    shared.chmod(0o1777)
    theirs = shared / "someone-elses.txt"
    theirs.write_text("x")
    theirs.chmod(0o644)
    assert _start(shared).returncode == 0
    assert _mode(shared) == 0o1777 and _mode(theirs) == 0o644


# --- credentials sealed at rest ---------------------------------------------------------


def _raw_credentials() -> list[str]:
    """The credentials column as SQLite holds it, read with sqlite3 (not the ORM)."""
    name = connection.settings_dict["NAME"]
    raw = sqlite3.connect(name, uri=name.startswith("file:"))
    try:
        return [row[0] for row in raw.execute("SELECT credentials FROM sandbox_sandbox")]
    finally:
        raw.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("database_thread")
async def test_a_running_sandboxs_passwords_are_not_in_the_database_file_and_it_still_works(
    application: Any, sessions: dict[str, str], manager: Any
) -> None:
    async with Browser(application, sessions["alice"]) as alice:
        await alice.start_sandbox(shards=1, replicas=0)
        user = await User.objects.aget(username="alice")
        live = manager.live[Owner(user_id=user.id).key]
        stored = _raw_credentials()
        assert len(stored) == 1 and stored[0].startswith("v1:"), stored
        for cluster in CLUSTERS:
            assert live.users[cluster].password not in stored[0]
            assert live.users[cluster].username not in stored[0]
        row = await Sandbox.objects.aget(owner_user=user)
        assert row.credentials == {
            c: {"username": live.users[c].username, "password": live.users[c].password} for c in CLUSTERS
        }
        assert (await alice.command("SET greeting hello", id=1))["text"] == "OK\n"
        assert (await alice.command("GET greeting", id=2))["text"] == '"hello"\n'


def _migrate(executor: MigrationExecutor, target: list[tuple[str, str]]) -> Any:
    executor.loader.build_graph()
    executor.migrate(target)
    executor.loader.build_graph()
    return executor.loader.project_state(target).apps


@pytest.mark.django_db(transaction=True)
def test_rows_written_in_clear_by_an_older_version_are_read_and_sealed_by_the_migration() -> None:
    executor = MigrationExecutor(connection)
    old = _migrate(executor, [("sandbox", "0001_initial")])
    clear = {"durable": {"username": "u-durable", "password": "clear-password-1"}}
    OldSandbox = old.get_model("sandbox", "Sandbox")
    OldSandbox.objects.create(owner_token="t" * 64, last_activity="2024-01-01T00:00:00Z", credentials=clear)
    assert "clear-password-1" in _raw_credentials()[0]  # how an older version stored it

    # A clear row is readable through the new field even before the migration runs.
    field = Sandbox._meta.get_field("credentials")
    assert field.to_python(_raw_credentials()[0]) == clear

    _migrate(executor, executor.loader.graph.leaf_nodes("sandbox"))
    stored = _raw_credentials()
    assert stored[0].startswith("v1:") and "clear-password-1" not in stored[0]
    assert Sandbox.objects.get(owner_token="t" * 64).credentials == clear


@pytest.mark.django_db
def test_a_changed_secret_key_reads_old_credentials_as_lost_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = {"cache": {"username": "u", "password": "p" * 32}}
    with override_settings(SECRET_KEY="the key of last term " * 3):
        user = User.objects.create_user("alice", "alice@example.org", "pw")
        Sandbox.objects.create(owner_user=user, last_activity="2024-01-01T00:00:00Z", credentials=secret)
    with override_settings(SECRET_KEY="a brand new key " * 4), caplog.at_level(logging.WARNING):
        assert Sandbox.objects.get(owner_user=user).credentials == {}
        client = Client()
        client.force_login(user)
        assert client.get("/sandbox/").status_code == 200  # the learner's page still works
    assert any("cannot be decrypted" in r.getMessage() and "SECRET_KEY" in r.getMessage() for r in caplog.records)
    # Rotating with the old key among Django's fallbacks keeps them readable.
    with override_settings(SECRET_KEY="a brand new key " * 4, SECRET_KEY_FALLBACKS=["the key of last term " * 3]):
        assert Sandbox.objects.get(owner_user=user).credentials == secret


def test_a_sealed_value_that_was_altered_is_refused() -> None:
    sealed = encryption.seal({"durable": {"password": "x"}})
    flipped = sealed[:-4] + ("A" if sealed[-4] != "A" else "B") + sealed[-3:]
    with pytest.raises(encryption.Unreadable):
        encryption.unseal(flipped)
    assert encryption.unseal(sealed) == {"durable": {"password": "x"}}

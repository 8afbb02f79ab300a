"""The env-driven settings: typed readers, URL parsing, defaults, failing at start."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from channels.layers import InMemoryChannelLayer
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from memorydb_lab.env import (
    channel_layers_for,
    env_bool,
    env_int,
    env_list,
    env_secret,
    env_str,
    load_or_create_secret_key,
    parse_database_url,
)

PROJECT_ROOT = Path(settings.BASE_DIR)


# --- env_bool -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "on", " On "])
def test_env_bool_reads_true(value: str) -> None:
    assert env_bool("FLAG", False, environ={"FLAG": value}) is True


@pytest.mark.parametrize("value", ["0", "false", "no", "off", "OFF"])
def test_env_bool_reads_false(value: str) -> None:
    assert env_bool("FLAG", True, environ={"FLAG": value}) is False


@pytest.mark.parametrize("environ", [{}, {"FLAG": ""}, {"FLAG": "  "}])
def test_env_bool_falls_back_to_the_default_when_unset_or_empty(environ: dict[str, str]) -> None:
    assert env_bool("FLAG", True, environ=environ) is True


@pytest.mark.parametrize("value", ["2", "maybe", "enabled", "tru"])
def test_env_bool_rejects_anything_else(value: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="FLAG"):
        env_bool("FLAG", False, environ={"FLAG": value})


def test_env_bool_reads_the_process_environment_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEMORYDB_LAB_TEST_FLAG", "yes")
    assert env_bool("MEMORYDB_LAB_TEST_FLAG", False) is True


# --- env_int, env_str, env_list ------------------------------------------------------------


def test_env_int_parses_and_checks_bounds() -> None:
    assert env_int("N", 5, environ={"N": " 42 "}) == 42
    assert env_int("N", 5, environ={}) == 5
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("N", 5, environ={"N": "4.5"})
    with pytest.raises(ImproperlyConfigured, match="below the minimum"):
        env_int("N", 5, minimum=0, environ={"N": "-1"})
    with pytest.raises(ImproperlyConfigured, match="above the maximum"):
        env_int("N", 5, maximum=10, environ={"N": "11"})


def test_env_str_enforces_choices() -> None:
    assert env_str("LEVEL", "INFO", choices=("INFO", "DEBUG"), environ={"LEVEL": "DEBUG"}) == "DEBUG"
    with pytest.raises(ImproperlyConfigured, match="must be one of"):
        env_str("LEVEL", "INFO", choices=("INFO", "DEBUG"), environ={"LEVEL": "LOUD"})


def test_env_list_splits_on_commas_and_drops_blanks() -> None:
    assert env_list("HOSTS", ["x"], environ={"HOSTS": " a.example , ,b.example,"}) == [
        "a.example",
        "b.example",
    ]
    assert env_list("HOSTS", ["x"], environ={}) == ["x"]


# --- env_secret -----------------------------------------------------------------------


def test_env_secret_reads_the_variable() -> None:
    assert env_secret("TOKEN", environ={"TOKEN": "s3cret"}) == "s3cret"
    assert env_secret("TOKEN", "fallback", environ={}) == "fallback"


def test_env_secret_reads_name_file_without_its_trailing_newline(tmp_path: Path) -> None:
    secret_file = tmp_path / "token"
    secret_file.write_text("from-a-file \n")
    assert env_secret("TOKEN", environ={"TOKEN_FILE": str(secret_file)}) == "from-a-file "


def test_env_secret_rejects_a_missing_or_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env_secret("TOKEN", environ={"TOKEN_FILE": str(tmp_path / "absent")})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ImproperlyConfigured, match="is empty"):
        env_secret("TOKEN", environ={"TOKEN_FILE": str(tmp_path / "empty")})


def test_env_secret_refuses_both_forms_at_once(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("a")
    with pytest.raises(ImproperlyConfigured, match="not both"):
        env_secret("TOKEN", environ={"TOKEN": "b", "TOKEN_FILE": str(tmp_path / "token")})


# --- database URL and channel layer ---------------------------------------------------


def test_a_postgres_url_becomes_a_database_entry() -> None:
    entry = parse_database_url(
        "postgres://lab%40user:p%2Fss@db.internal:6543/memorydb_lab?sslmode=require",
        PROJECT_ROOT,
    )
    assert entry["ENGINE"] == "django.db.backends.postgresql"
    assert (entry["NAME"], entry["USER"], entry["PASSWORD"]) == ("memorydb_lab", "lab@user", "p/ss")
    assert (entry["HOST"], entry["PORT"]) == ("db.internal", "6543")
    assert entry["OPTIONS"] == {"sslmode": "require"}


def test_sqlite_urls_are_relative_to_the_project_unless_absolute() -> None:
    relative = parse_database_url("sqlite:///var/other.sqlite3", PROJECT_ROOT)
    assert relative["NAME"] == str(PROJECT_ROOT / "var" / "other.sqlite3")
    absolute = parse_database_url("sqlite:////srv/lab/db.sqlite3", PROJECT_ROOT)
    assert absolute["NAME"] == "/srv/lab/db.sqlite3"


@pytest.mark.parametrize(
    "url", ["mysql://u:p@h/db", "postgres://u:p@h:5432/", "sqlite://", "postgres://h:port/db"]
)
def test_a_database_url_that_cannot_work_is_refused(url: str) -> None:
    with pytest.raises(ImproperlyConfigured):
        parse_database_url(url, PROJECT_ROOT)


def test_the_channel_layer_is_in_memory_unless_a_redis_url_is_given() -> None:
    assert channel_layers_for(None)["default"]["BACKEND"] == (
        "channels.layers.InMemoryChannelLayer"
    )
    # The laptop defaults are what this test run uses.
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"].endswith("InMemoryChannelLayer")
    with pytest.raises(ImproperlyConfigured, match="redis://"):
        channel_layers_for("http://localhost:6379")


async def test_a_redis_channel_layer_delivers_through_a_real_redis(redis_server: str) -> None:
    config = channel_layers_for(redis_server)["default"]
    layer = import_string(config["BACKEND"])(**config["CONFIG"])
    assert not isinstance(layer, InMemoryChannelLayer)
    try:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "lab.ping", "n": 7})
        assert await layer.receive(channel) == {"type": "lab.ping", "n": 7}
    finally:
        await layer.flush()
        await layer.close_pools()


# --- secret key and start-up ----------------------------------------------------------


def test_the_secret_key_is_made_once_private_and_then_reused(tmp_path: Path) -> None:
    key_file = tmp_path / "nested" / "secret_key"
    first = load_or_create_secret_key(key_file)
    assert len(first) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_or_create_secret_key(key_file) == first
    assert [p.name for p in key_file.parent.iterdir()] == ["secret_key"]  # no temp left


DEFAULTS_SHOWN = "s.DEBUG, s.ALLOWED_HOSTS, s.DATABASES['default']['NAME']"


def _start_django(
    tmp_path: Path, show: str = DEFAULTS_SHOWN, cwd: Path = PROJECT_ROOT, **env: str
) -> subprocess.CompletedProcess[str]:
    """Import the settings in a fresh interpreter, as daphne or manage.py would, and
    print the settings named in ``show``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MEMORYDB_LAB_")}
    clean.update({"DJANGO_SETTINGS_MODULE": "memorydb_lab.settings",
                  "PYTHONPATH": str(PROJECT_ROOT),
                  "MEMORYDB_LAB_DATA_DIR": str(tmp_path / "var"), **env})
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        f"print({show})"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=clean,
        capture_output=True, text=True, timeout=60,
    )


def test_the_defaults_need_no_other_service(tmp_path: Path) -> None:
    result = _start_django(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == (
        f"False ['127.0.0.1', 'localhost'] {tmp_path / 'var' / 'db.sqlite3'}"
    )
    assert (tmp_path / "var" / "secret_key").is_file()


@pytest.mark.parametrize(
    "name, value",
    [
        ("MEMORYDB_LAB_DEBUG", "maybe"),
        ("MEMORYDB_LAB_HEALTHZ_CACHE_SECONDS", "soon"),
        ("MEMORYDB_LAB_DATABASE_URL", "mysql://u:p@h/db"),
        ("MEMORYDB_LAB_LOG_LEVEL", "LOUD"),
        ("MEMORYDB_LAB_SECRET_KEY_FILE", "/nonexistent/secret"),
    ],
)
def test_a_bad_value_stops_the_site_at_start(tmp_path: Path, name: str, value: str) -> None:
    result = _start_django(tmp_path, **{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name.removesuffix("_FILE") in result.stderr


def test_https_mode_secures_cookies_and_turns_on_hsts(tmp_path: Path) -> None:
    shown = "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS"
    assert _start_django(tmp_path, shown).stdout.strip() == "False False False 0"
    result = _start_django(tmp_path, shown, MEMORYDB_LAB_HTTPS="1")
    assert result.stdout.strip() == "True True True 31536000", result.stderr


def test_a_relative_data_dir_is_taken_from_the_project_root(tmp_path: Path) -> None:
    # Started from elsewhere, as a systemd unit without WorkingDirectory would be.
    result = _start_django(tmp_path, "s.DATA_DIR", cwd=tmp_path, MEMORYDB_LAB_DATA_DIR="var")
    assert result.stdout.strip() == str(PROJECT_ROOT / "var"), result.stderr


def test_the_sandbox_cap_follows_the_host_unless_set(tmp_path: Path) -> None:
    result = _start_django(tmp_path, "s.SANDBOX_MAX_RUNNING")
    assert result.stdout.strip() == str(5 * (os.cpu_count() or 1)), result.stderr
    result = _start_django(tmp_path, "s.SANDBOX_MAX_RUNNING", MEMORYDB_LAB_SANDBOX_MAX_RUNNING="3")
    assert result.stdout.strip() == "3", result.stderr


def test_the_sandbox_lease_is_a_setting_with_bounds(tmp_path: Path) -> None:
    assert _start_django(tmp_path, "s.SANDBOX_LEASE_MS").stdout.strip() == "1000"
    assert _start_django(tmp_path, "s.SANDBOX_LEASE_MS", MEMORYDB_LAB_SANDBOX_LEASE_MS="2000").stdout.strip() == "2000"
    refused = _start_django(tmp_path, "s.SANDBOX_LEASE_MS", MEMORYDB_LAB_SANDBOX_LEASE_MS="50")
    assert refused.returncode != 0 and "MEMORYDB_LAB_SANDBOX_LEASE_MS" in refused.stderr

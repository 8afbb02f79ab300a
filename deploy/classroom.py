"""The classroom host: PostgreSQL, Redis, daphne and nginx under one supervisord.

Run through ``scripts/classroom`` (which creates .venv first and becomes root with
sudo when it is not), with the venv's Python, so that it can import nothing but the
standard library and still run before requirements are installed.

    up [options]   install what is missing, configure, migrate, start everything
    status         one JSON object: URL, logs folder, every service's pid and state
    down           stop everything `up` started, by pid, and nothing else
    backup [DIR]   pg_dump of the site database and a copy of the sandboxes' data
    exec-env FILE -- CMD...   (used by supervisord) run CMD with FILE's settings

Everything lives in one state folder (``var/classroom`` by default, or
``--state-dir`` / ``MEMORYDB_LAB_CLASSROOM_DIR``): ``classroom.json`` (ports and
options, so later commands need none), ``site.env`` (the site's settings, 0600),
``secrets.json`` (database and Redis passwords, 0600), the generated configs,
``postgres/`` and ``redis/`` (data, owned by those service users), ``site/`` (the
site's MEMORYDB_LAB_DATA_DIR, holding the sandboxes), ``run/`` and ``logs/``.

Invariants:
- Every process is a child of the classroom's own supervisord (socket and pid file
  in ``run/``), so ``down`` stops exactly what ``up`` started, whatever else runs.
- Nothing listens beyond 127.0.0.1 unless ``--public`` or ``--listen`` says so.
- ``up`` is idempotent: secrets are generated once; a second ``up`` on a running
  classroom only re-applies migrations/content and starts what is stopped.
- Failures print one ``classroom: ...`` line saying what and what to do, exit 1.
- PostgreSQL refuses to run as root: its cluster is made and run as ``postgres``
  (and Redis as ``redis``), so the state folder and its parents get search
  permission (o+x, never read) for them; secrets stay 0600/0700.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

PROJECT = Path(__file__).resolve().parent.parent
DEPLOY = PROJECT / "deploy"
VENV = PROJECT / ".venv"
PYTHON = VENV / "bin" / "python"
STATIC_ROOT = PROJECT / "staticfiles"
# Debian package -> a file that proves it is installed.
PACKAGES: dict[str, str] = {
    "postgresql": "/usr/lib/postgresql",
    "redis-server": "/usr/bin/redis-server",
    "nginx": "/usr/sbin/nginx",
    "supervisor": "/usr/bin/supervisord",
}
DEFAULTS: dict[str, Any] = {
    "listen": "127.0.0.1", "port": 8080, "daphne_port": 8081,
    "postgres_port": 5433, "redis_port": 6380, "workers": 1,
    "allowed_hosts": "127.0.0.1,localhost",
}
PING_INTERVAL = 20  # daphne's websocket ping, s; nginx waits 3x that for a reply
SERVICES = ("postgres", "redis", "daphne", "nginx")


class Refused(Exception):
    """What went wrong and what to do; printed as one line, exit status 1."""


# ---------------------------------------------------------------------------- paths


def state_dir(arg: str | None) -> Path:
    raw = arg or os.environ.get("MEMORYDB_LAB_CLASSROOM_DIR") or "var/classroom"
    path = Path(raw)
    return (path if path.is_absolute() else PROJECT / path).resolve()


def load_config(state: Path) -> dict[str, Any]:
    try:
        return {**DEFAULTS, **json.loads((state / "classroom.json").read_text())}
    except FileNotFoundError:
        return dict(DEFAULTS)


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it may hold a password)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines; blank lines and ``#`` comments are skipped."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip().isidentifier():
            raise Refused(f"{path}:{number} is not NAME=value; fix or delete that line.")
        values[name.strip()] = value.strip()
    return values


def run(cmd: list[str], *, env: dict[str, str] | None = None, what: str, fix: str,
        user: str | None = None, timeout: float = 600) -> str:
    """Run a step; on failure raise Refused naming the step, its output's tail and the fix."""
    if user is not None and os.geteuid() == 0:
        cmd = ["runuser", "-u", user, "--", *cmd]
    try:
        done = subprocess.run(cmd, env=env, cwd=PROJECT, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Refused(f"{what} failed: {exc}. {fix}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-6:]
        raise Refused(f"{what} failed (exit {done.returncode}): {' | '.join(tail)}. {fix}")
    return done.stdout


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


# ----------------------------------------------------------------------- supervisord


def supervisorctl(state: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["supervisorctl", "-c", str(state / "supervisord.conf"), *args],
        capture_output=True, text=True, timeout=timeout,
    )


def supervisord_pid(state: Path) -> int | None:
    """The classroom's supervisord pid when it is alive (its pid file and /proc agree)."""
    try:
        pid = int((state / "run" / "supervisord.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return pid if b"supervisord" in cmdline else None


def services(state: Path) -> list[dict[str, Any]]:
    """Each supervised program's name, pid and state, from supervisorctl status."""
    found: dict[str, dict[str, Any]] = {}
    if supervisord_pid(state) is not None:
        for line in supervisorctl(state, "status").stdout.splitlines():
            words = line.split()
            if len(words) < 2:
                continue
            name = words[0].split(":")[-1]
            pid = int(words[3].rstrip(",")) if len(words) > 3 and words[2] == "pid" else None
            found[name] = {"name": name, "pid": pid, "state": words[1]}
    names = [n for n in found if n not in SERVICES]  # daphne0, daphne1, ...
    ordered = ["postgres", "redis", *sorted(names), "nginx"]
    return [found.get(n, {"name": n, "pid": None, "state": "STOPPED"}) for n in ordered]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def stop_pids(pids: list[int], grace: float = 20.0) -> None:
    """SIGTERM each pid, then SIGKILL what is left after the grace period."""
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def engine_pids(root: Path) -> list[int]:
    """Sandbox engine processes whose --dir lies under ``root`` (orphans of a killed worker)."""
    prefix, pids = str(root) + os.sep, []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            words = [w.decode() for w in (entry / "cmdline").read_bytes().split(b"\0") if w]
        except (OSError, UnicodeDecodeError):
            continue
        if "sandbox.engine" in words and any(
            a == "--dir" and b.startswith(prefix) for a, b in zip(words, words[1:])
        ):
            pids.append(int(entry.name))
    return [p for p in pids if alive(p)]


# --------------------------------------------------------------------------------- up


def ensure_packages() -> None:
    missing = [pkg for pkg, proof in PACKAGES.items() if not os.path.exists(proof)]
    if not missing:
        return
    say(f"Installing Debian packages: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    fix = f"Install them by hand (apt-get install {' '.join(missing)}) and run up again."
    run(["apt-get", "update"], env=env, what="apt-get update", fix=fix)
    run(["apt-get", "install", "-y", "--no-install-recommends", *missing], env=env,
        what=f"apt-get install {' '.join(missing)}", fix=fix)
    still = [pkg for pkg in missing if not os.path.exists(PACKAGES[pkg])]
    if still:
        raise Refused(f"apt-get did not install {' '.join(still)}. {fix}")


def ensure_requirements() -> None:
    say("Installing requirements-classroom.txt")
    run([str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", str(PROJECT / "requirements-classroom.txt")],
        what="pip install -r requirements-classroom.txt",
        fix="Check the network to PyPI, or install those pins into .venv by hand.")


def pg_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not versions:
        raise Refused("No PostgreSQL server under /usr/lib/postgresql; run: apt-get install postgresql")
    return versions[-1].parent


def check_port(service: str, option: str, address: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as exc:
            raise Refused(
                f"port {port} on {address} (for {service}) is already in use ({exc.strerror}); "
                f"stop whatever listens there (ss -ltnp 'sport = :{port}') or choose another "
                f"port with {option} N."
            ) from None


def open_search_path(path: Path) -> None:
    """Give other users search (x) permission on ``path`` and its parents, so the
    postgres/redis/nginx service users can reach their folders; never read."""
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & 0o001:
            os.chmod(folder, (mode & 0o7777) | 0o001)


def write_template(name: str, target: Path, values: dict[str, Any], private: bool = False) -> None:
    text = string.Template((DEPLOY / name).read_text()).substitute(values)
    if private:
        write_private(target, text)
    else:
        target.write_text(text)


def ensure_secrets(state: Path) -> dict[str, str]:
    path = state / "secrets.json"
    values = json.loads(path.read_text()) if path.exists() else {}
    for name in ("postgres_password", "redis_password", "secret_key"):
        values.setdefault(name, secrets.token_urlsafe(32 if name != "secret_key" else 50))
    write_private(path, json.dumps(values, indent=1) + "\n")
    return values


def write_site_env(state: Path, config: dict[str, Any], keys: dict[str, str]) -> dict[str, str]:
    """site.env: managed lines follow the classroom's ports; a teacher's own lines stay."""
    path = state / "site.env"
    current = read_env_file(path)
    redis_base = f"redis://:{quote(keys['redis_password'], safe='')}@127.0.0.1:{config['redis_port']}"
    managed = {
        "MEMORYDB_LAB_DATA_DIR": str(state / "site"),
        "MEMORYDB_LAB_DATABASE_URL": (
            f"postgres://memorydb_lab:{quote(keys['postgres_password'], safe='')}"
            f"@127.0.0.1:{config['postgres_port']}/memorydb_lab"
        ),
        "MEMORYDB_LAB_CHANNEL_REDIS_URL": f"{redis_base}/0",
        "MEMORYDB_LAB_CACHE_URL": f"{redis_base}/1",
        # nginx is the only peer; its X-Forwarded-For names the visitor.
        "MEMORYDB_LAB_TRUSTED_PROXIES": "127.0.0.1",
    }
    once = {
        "MEMORYDB_LAB_SECRET_KEY": keys["secret_key"],
        "MEMORYDB_LAB_ALLOWED_HOSTS": config["allowed_hosts"],
    }
    merged = {**once, **current, **managed}
    lines = ["# The classroom site's settings (README.md, Configuration). Lines named in",
             "# deploy/classroom.py's write_site_env are rewritten by every `up`; add your own.",
             *(f"{k}={v}" for k, v in merged.items())]
    write_private(path, "\n".join(lines) + "\n")
    return merged


def wait_for(check, what: str, fix: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise Refused(f"{what} did not come up within {timeout:.0f} s. {fix}")


def tcp_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 0.5):
            return True
    except OSError:
        return False


def start_program(state: Path, name: str) -> None:
    done = supervisorctl(state, "start", name)
    if done.returncode != 0 and "ALREADY_STARTED" not in done.stdout:
        log = state / "logs" / f"{name.split(':')[0]}.log"
        raise Refused(f"supervisord could not start {name}: {done.stdout.strip()}; see {log}.")


def up(args: list[str], state: Path) -> None:
    saved = load_config(state)
    config = parse_up_options(args, saved)
    if config["workers"] > 1:
        # sandboxd exists (MEMORYDB_LAB_SANDBOX_SERVICE=remote) but the classroom doesn't
        # run it yet, and it can't adopt running sandboxes after a restart (issue 12).
        raise Refused(
            f"--workers {config['workers']} is refused: the classroom runs the sandbox "
            "manager inside daphne today, so a second worker would not see the first one's "
            "sandboxes. Run one worker (--workers 1) until the classroom runs sandboxd."
        )
    running = supervisord_pid(state) is not None
    if running and config != saved:
        changed = ", ".join(f"{k} {saved[k]} -> {config[k]}" for k in config if config[k] != saved.get(k))
        raise Refused(f"the classroom is running; to change {changed}, run down first, then up again.")
    if not running:
        for service, option, key, address in (
            ("nginx", "--port", "port", config["listen"]),
            ("daphne", "--daphne-port", "daphne_port", "127.0.0.1"),
            ("PostgreSQL", "--postgres-port", "postgres_port", "127.0.0.1"),
            ("Redis", "--redis-port", "redis_port", "127.0.0.1"),
        ):
            check_port(service, option, address, config[key])
    ensure_packages()
    ensure_requirements()
    for folder in ("logs", "run", "site", "backups"):
        # Logs name visitors' addresses and backups hold the database: root only.
        (state / folder).mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(state, 0o711)
    os.chmod(state / "run", 0o711)
    (state / "classroom.json").write_text(json.dumps(config, indent=1) + "\n")
    keys = ensure_secrets(state)
    bindir = pg_bin()
    open_search_path(state)
    pg_data, pg_sock, redis_data = state / "postgres", state / "run" / "postgres", state / "redis"
    for folder, owner in ((pg_sock, "postgres"), (redis_data, "redis")):
        folder.mkdir(mode=0o700, exist_ok=True)
        shutil.chown(folder, owner, owner)
    if not (pg_data / "PG_VERSION").exists():
        say(f"Creating the PostgreSQL cluster in {pg_data}")
        pg_data.mkdir(mode=0o700, exist_ok=True)
        shutil.chown(pg_data, "postgres", "postgres")
        run([str(bindir / "initdb"), "-D", str(pg_data), "-U", "postgres", "--auth-local=peer",
             "--auth-host=scram-sha-256", "-E", "UTF8"], user="postgres",
            what="initdb", fix=f"Read the message above, then delete {pg_data} and run up again.")
    values = {
        **config, "state": state, "project": PROJECT, "venv": VENV, "python": PYTHON,
        "pg_bin": bindir, "redis_password": keys["redis_password"], "nginx_user": "www-data",
        "static_root": STATIC_ROOT, "ping_interval": PING_INTERVAL,
        "read_timeout": f"{PING_INTERVAL * 3}s",
    }
    write_template("redis.conf.in", state / "redis.conf", values, private=True)
    shutil.chown(state / "redis.conf", "redis", "redis")
    write_template("nginx.conf.in", state / "nginx.conf", values)
    write_template("supervisord.conf.in", state / "supervisord.conf", values, private=True)
    before = (state / "site.env").read_bytes() if (state / "site.env").exists() else b""
    env = {**os.environ, **write_site_env(state, config, keys)}
    settings_changed = (state / "site.env").read_bytes() != before
    env.pop("DJANGO_SETTINGS_MODULE", None)

    if not running:
        say("Starting supervisord")
        run(["supervisord", "-c", str(state / "supervisord.conf")], what="supervisord",
            fix=f"See {state / 'logs' / 'supervisord.log'}.")
        wait_for(lambda: supervisorctl(state, "pid").returncode == 0, "supervisord",
                 f"See {state / 'logs' / 'supervisord.log'}.", timeout=20)
    else:
        supervisorctl(state, "reread")
        supervisorctl(state, "update")
    start_program(state, "postgres")
    start_program(state, "redis")
    psql = [str(bindir / "psql"), "-h", str(pg_sock), "-p", str(config["postgres_port"]),
            "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-qAt"]
    wait_for(lambda: subprocess.run(
        ["runuser", "-u", "postgres", "--", str(bindir / "pg_isready"), "-q", "-h", str(pg_sock),
         "-p", str(config["postgres_port"])]).returncode == 0,
        "PostgreSQL", f"See {state / 'logs' / 'postgres.log'}.")
    wait_for(lambda: tcp_open(config["redis_port"]), "Redis", f"See {state / 'logs' / 'redis.log'}.")
    ensure_database(psql, keys["postgres_password"])

    say("Checking the site's settings")
    manage = [str(PYTHON), "manage.py"]
    run([*manage, "check"], env=env, what="The site's settings check",
        fix=f"Fix the setting it names in {state / 'site.env'} (README.md, Configuration), then run up again.")
    say("Migrating the database")
    run([*manage, "migrate", "--noinput"], env=env, what="manage.py migrate",
        fix=f"See the error; the database log is {state / 'logs' / 'postgres.log'}.")
    say("Loading the course content")
    run([*manage, "load_content"], env=env, what="manage.py load_content",
        fix="Fix the content files it names under quizzes/content/.")
    say("Collecting static files")
    run([*manage, "collectstatic", "--noinput", "--verbosity", "0"], env=env,
        what="manage.py collectstatic", fix="See the error above.")
    publish_static()
    if running and settings_changed:
        say("Restarting daphne: site.env changed")
        supervisorctl(state, "restart", "daphne:*")
    for worker in range(config["workers"]):
        start_program(state, f"daphne:daphne{worker}")
    run(["nginx", "-t", "-q", "-c", str(state / "nginx.conf")], what="nginx -t",
        fix=f"Check {state / 'nginx.conf'} (made from deploy/nginx.conf.in).")
    start_program(state, "nginx")
    if running:
        supervisorctl(state, "signal", "HUP", "nginx")  # re-read a changed template
    wait_for(lambda: tcp_open(config["port"]) if config["listen"] in ("127.0.0.1", "0.0.0.0")
             else True, "nginx", f"See {state / 'logs' / 'nginx-error.log'}.", timeout=20)
    say(f"The classroom serves {url(config)} (logs in {state / 'logs'})")


def ensure_database(psql: list[str], password: str) -> None:
    """The site's role and database, owned by it; the password follows secrets.json."""
    fix = "See the PostgreSQL log in the classroom's logs folder."
    exists = run([*psql, "-c", "SELECT 1 FROM pg_roles WHERE rolname = 'memorydb_lab'"],
                 user="postgres", what="psql (roles)", fix=fix).strip()
    verb = "ALTER" if exists == "1" else "CREATE"
    literal = "'" + password.replace("'", "''") + "'"
    run([*psql, "-c", f"{verb} ROLE memorydb_lab LOGIN PASSWORD {literal}"],
        user="postgres", what="psql (role)", fix=fix)
    if run([*psql, "-c", "SELECT 1 FROM pg_database WHERE datname = 'memorydb_lab'"],
           user="postgres", what="psql (databases)", fix=fix).strip() != "1":
        run([*psql, "-c", "CREATE DATABASE memorydb_lab OWNER memorydb_lab ENCODING 'UTF8'"],
            user="postgres", what="psql (database)", fix=fix)


def publish_static() -> None:
    """Let nginx's workers read STATIC_ROOT, and only it: the site runs with umask
    077, so collectstatic wrote 0700/0600; secrets elsewhere keep their modes."""
    open_search_path(STATIC_ROOT.parent)
    for folder, dirs, files in os.walk(STATIC_ROOT):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


def url(config: dict[str, Any]) -> str:
    host = "127.0.0.1" if config["listen"] in ("0.0.0.0", "::") else config["listen"]
    return f"http://{host}:{config['port']}/"


def parse_up_options(args: list[str], config: dict[str, Any]) -> dict[str, Any]:
    numbers = {"--port": "port", "--daphne-port": "daphne_port", "--postgres-port": "postgres_port",
               "--redis-port": "redis_port", "--workers": "workers"}
    config = dict(config)
    if os.environ.get("MEMORYDB_LAB_CLASSROOM_LISTEN"):
        config["listen"] = os.environ["MEMORYDB_LAB_CLASSROOM_LISTEN"]
    items = list(args)
    while items:
        option = items.pop(0)
        if option == "--public":
            config["listen"] = "0.0.0.0"
            continue
        if option not in (*numbers, "--listen", "--allowed-hosts") or not items:
            raise Refused(f"unknown or incomplete option {option!r}; see scripts/classroom --help.")
        value = items.pop(0)
        if option in numbers:
            top = 64 if option == "--workers" else 65535
            if not value.isdigit() or not 1 <= int(value) <= top:
                raise Refused(f"{option} {value!r} must be a number from 1 to {top}.")
            config[numbers[option]] = int(value)
        else:
            config[option[2:].replace("-", "_")] = value
    ports = [config[k] for k in ("port", "daphne_port", "postgres_port", "redis_port")]
    if len(set(ports)) != len(ports):
        raise Refused(f"the four ports must differ (nginx, daphne, PostgreSQL, Redis: {ports}).")
    return config


# ----------------------------------------------------------------- status/down/backup


def status(state: Path) -> dict[str, Any]:
    config = load_config(state)
    return {
        "url": url(config),
        "state_dir": str(state),
        "logs": str(state / "logs"),
        "supervisord": {"pid": supervisord_pid(state),
                        "state": "RUNNING" if supervisord_pid(state) else "STOPPED"},
        "services": services(state),
    }


def down(state: Path) -> None:
    pid = supervisord_pid(state)
    if pid is None:
        say("The classroom is not running")
    else:
        pids = [s["pid"] for s in services(state) if s["pid"]]
        say(f"Stopping supervisord (pid {pid}) and its programs")
        supervisorctl(state, "stop", "nginx")  # no new requests while daphne stops
        supervisorctl(state, "stop", "daphne:*")
        supervisorctl(state, "shutdown")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and alive(pid):
            time.sleep(0.1)
        stop_pids([pid, *pids], grace=5)  # only if shutdown left one behind
    # A worker SIGKILLed earlier may have left sandbox engine processes behind.
    stop_pids(engine_pids(state / "site"), grace=5)
    say("Stopped")


def backup(state: Path, target: str | None) -> Path:
    env = read_env_file(state / "site.env")
    if "MEMORYDB_LAB_DATABASE_URL" not in env:
        raise Refused(f"{state} holds no classroom (no site.env); run up first.")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder = (Path(target).resolve() if target else state / "backups") / stamp
    folder.mkdir(mode=0o700, parents=True)
    run([str(pg_bin() / "pg_dump"), "--format=custom", "--file", str(folder / "site.dump"),
         "--dbname", env["MEMORYDB_LAB_DATABASE_URL"]], what="pg_dump",
        fix="Is the classroom up? (scripts/classroom status)")
    sandboxes = Path(env.get("MEMORYDB_LAB_DATA_DIR", state / "site")) / "sandboxes"
    if sandboxes.is_dir():
        # Journal files and snapshots (and the sealed credentials beside them), modes kept.
        shutil.copytree(sandboxes, folder / "sandboxes", symlinks=True,
                        ignore=lambda d, names: [n for n in names if _not_data(Path(d) / n)])
    return folder


def _not_data(path: Path) -> bool:
    return not (path.is_dir() or path.is_file()) or path.suffix in (".sock", ".pid")


def exec_env(args: list[str]) -> None:
    """Replace this process with the command, its settings read from the env file
    (exec keeps the pid, so supervisord watches daphne itself)."""
    if len(args) < 3 or args[1] != "--":
        raise Refused("usage: exec-env FILE -- COMMAND ...")
    os.environ.update(read_env_file(Path(args[0])))
    os.execv(args[2], args[2:])


def main(argv: list[str]) -> int:
    state_arg = None
    if "--state-dir" in argv:
        at = argv.index("--state-dir")
        state_arg = argv[at + 1] if at + 1 < len(argv) else None
        del argv[at:at + 2]
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__.split("\n\n")[2] if argv else __doc__)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    # What this writes (backups, secrets, logs) is root's alone unless made otherwise.
    os.umask(0o077)
    state = state_dir(state_arg)
    try:
        if command == "exec-env":
            exec_env(rest)
        elif command == "up":
            up(rest, state)
        elif command == "status":
            print(json.dumps(status(state), indent=1))
        elif command == "down":
            down(state)
        elif command == "backup":
            print(f"Backup written to {backup(state, rest[0] if rest else None)}")
        else:
            raise Refused(f"unknown command {command!r}; use up, status, down or backup.")
    except Refused as exc:
        print(f"classroom: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

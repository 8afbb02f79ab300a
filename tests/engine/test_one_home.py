"""One home for each concern: a command's key access lives in its registry entry,
Redis's argument splitter exists once (checked against redis-cli), the journal
speaks RESP through the engine's parser and encoder, and every client reads
replies with the one reply parser."""

from __future__ import annotations

import ast
import asyncio
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import redis

from sandbox.engine import reply_parser, resp
from sandbox.engine.commands import load_all
from sandbox.engine.commands.keyspecs import key_specs
from sandbox.engine.commands.metadata import all_commands
from sandbox.engine.errors import RedisError
from sandbox.engine.resp import RequestParser
from sandbox.engine.splitargs import UnbalancedQuotes, split_args

from .servers import ROOT, Proc

ENGINE = Path(ROOT, "sandbox", "engine")

load_all()


def _imports(path: Path) -> list[str]:
    """The modules a file imports, relative ones written as ``.name``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            out += [base] if node.module else [f"{base}{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
    return out


# --- key access ------------------------------------------------------------------------------


def test_the_acl_model_reads_key_access_from_the_registry_not_from_command_modules() -> None:
    allowed = {".commands", ".commands.keyspecs"}
    for name in ("acl.py", "acl_catalog.py", "acl_users.py"):
        offenders = [m for m in _imports(ENGINE / name) if m.startswith(".commands") and m not in allowed]
        assert offenders == [], f"{name} imports {offenders}"


def test_every_declared_key_flag_list_has_one_entry_per_key_spec() -> None:
    # key_flags with the wrong count would be ignored silently: COMMAND INFO would
    # then show derived flags instead of Redis's.
    wrong = [
        (c.name, len(c.key_flags), len(key_specs(c)))
        for c in all_commands(True)
        if c.key_flags is not None and len(c.key_flags) != len(key_specs(c))
    ]
    assert wrong == []


# --- the argument splitter -------------------------------------------------------------------

LINES = [
    b'a "two words" c',
    b"  spaced   out  ",
    b'"tab\\there\\x41\\n" "\\xff" "\\q"',
    b"'it\\'s' 'back\\slash'",
    b'"" \'\'',
    b"caf\xc3\xa9 e\xc2\xa0f g\x1ch",  # only ASCII whitespace separates (NBSP, \x1c do not)
    b"a\tb\x0bc\x0cd \x0b\x0c lead",  # \v and \f are skipped before an argument, kept inside one
    b"nul\x00 ignored",  # a C string to Redis: the NUL ends the line
]
REFUSED = [b'"open', b"'open", b'"a"b', b"'a'b"]


def _cli_split(port: int, line: bytes) -> list[bytes] | None:
    """The arguments redis-cli reads from ``line``, found by letting it RPUSH them."""
    client = redis.Redis(port=port)
    client.delete("split")
    out = subprocess.run(
        ["redis-cli", "-p", str(port)], input=b"RPUSH split _ " + line + b"\n", capture_output=True, timeout=10,
    )
    if b"Invalid argument(s)" in out.stdout + out.stderr:
        return None
    return client.lrange("split", 0, -1)[1:]


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="needs redis-cli")
def test_the_splitter_reads_a_line_as_redis_cli_does(redis_proc: Proc) -> None:
    for line in LINES:
        assert split_args(line) == _cli_split(redis_proc.port, line), line
    for line in REFUSED:
        assert _cli_split(redis_proc.port, line) is None, line
        with pytest.raises(UnbalancedQuotes):
            split_args(line)


def _inline_split(port: int, line: bytes) -> list[bytes] | bytes:
    """The arguments a server reads from an inline ``RPUSH split _ <line>`` (or its error)."""
    client = redis.Redis(port=port)
    client.delete("split")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"RPUSH split _ " + line + b"\r\n")
        reply = sock.recv(1000)
    if reply.startswith(b"-"):
        return reply
    return client.lrange("split", 0, -1)[1:]


def test_an_inline_request_is_split_as_redis_server_splits_it(redis_proc: Proc, engine_proc: Proc) -> None:
    for line in LINES + REFUSED:
        if b"\0" in line:
            continue  # redis-server looks for the line's end with strchr: it waits forever
        assert _inline_split(engine_proc.port, line) == _inline_split(redis_proc.port, line), line


def test_an_inline_request_is_split_by_the_same_splitter() -> None:
    parser = RequestParser()
    parser.feed(b"\r\n".join(LINES) + b"\r\n")
    assert [parser.next_command() for _ in LINES] == [split_args(line) for line in LINES]
    assert parser.next_command() is None


def test_only_splitargs_defines_a_splitter() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in [*ENGINE.rglob("*.py"), Path(ROOT, "sandbox", "console.py")]
        if path.name != "splitargs.py"
        and any(isinstance(n, ast.FunctionDef) and "split" in n.name and "arg" in n.name
                and not _delegates(n) for n in ast.walk(ast.parse(path.read_text())))
    ]
    assert offenders == []


def _delegates(fn: ast.FunctionDef) -> bool:
    """A thin wrapper: it calls the engine's splitter instead of looping over the line."""
    return not any(isinstance(n, (ast.While, ast.For)) for n in ast.walk(fn))


# --- RESP on the wire ------------------------------------------------------------------------


def test_the_journal_and_the_engine_clients_use_the_engines_resp_modules() -> None:
    assert ".resp" in _imports(ENGINE / "journal_server.py") or any(
        m.startswith(".resp.") for m in _imports(ENGINE / "journal_server.py"))
    tree = ast.parse((ENGINE / "journal_server.py").read_text())
    own = [n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name in ("_encode", "_parse_command")]
    assert own == []
    client = _imports(ENGINE / "respclient.py")
    assert not any("hiredis" in m for m in client)
    assert any(m.startswith(".reply_parser") for m in client)


def test_the_site_reads_replies_with_the_engines_parser() -> None:
    from sandbox import resp as site_resp

    assert site_resp.ReplyParser is reply_parser.ReplyParser
    assert site_resp.encode is resp.encode_command


def test_the_one_reply_parser_reads_what_the_one_encoder_writes() -> None:
    value = [b"bulk", 7, None, [resp.Status(b"OK"), b""], RedisError("ERR nope")]
    parser = reply_parser.ReplyParser()
    data = resp.encode(value)
    for i in range(len(data)):  # one byte at a time: it resumes where it stopped
        parser.feed(data[i : i + 1])
        complete, got = parser.gets()
        if complete:
            break
    assert complete and i == len(data) - 1
    assert got == [b"bulk", 7, None, ["OK", b""], "ERR nope"]
    assert isinstance(got[3][0], reply_parser.Status) and isinstance(got[4], reply_parser.ErrorReply)


# --- error texts ---------------------------------------------------------------------------

# What a Redis-style error reply starts with: a code and a space (a bare code, compared
# by a client with ``RespError.code``, is not a text).
_WIRE_ERROR = re.compile(
    r"^-?(ERR|WRONGTYPE|NOPERM|NOAUTH|WRONGPASS|NOPROTO|EXECABORT|CLUSTERDOWN|CROSSSLOT|MOVED|ASK|TRYAGAIN|"
    r"READONLY|NOREPLICAS|MASTERDOWN|NOMASTERLINK|OOM|BUSY|BUSYGROUP|NOGROUP|NOSCRIPT|UNBLOCKED|LOADING|"
    r"NOTLEADER|CONDFAIL|FENCED|TOOBIG|QUOTA|TIMEOUT|TRIMMED) "
)
# Literals that look like error texts but must stay where they are, with the reason.
ALLOWED: dict[tuple[str, str], str] = {}


def _wire_error_literals(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        text = None
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
            text = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
        elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            text = str(node.values[0].value)
        if text is not None and _WIRE_ERROR.match(text):
            found.append((node.lineno, text))
    return sorted(set(found))


def test_every_wire_error_text_of_the_engine_lives_in_the_errors_package() -> None:
    offenders = []
    for path in sorted(ENGINE.rglob("*.py")):
        if ENGINE / "errors" in path.parents:
            continue
        rel = str(path.relative_to(ENGINE))
        offenders += [f"{rel}:{line}: {text[:60]!r}" for line, text in _wire_error_literals(path)
                      if (rel, text) not in ALLOWED]
    assert offenders == [], "name these in sandbox/engine/errors/:\n" + "\n".join(offenders)


def test_the_error_scan_finds_a_literal_error_text(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text('raise RedisError("ERR something new")\nx = b"-ERR raw"\ny = f"NOGROUP {1}"\nz = "QUOTA"\n')
    assert [line for line, _ in _wire_error_literals(probe)] == [1, 2, 3]


# --- the node's role: one declared seam, nothing attached from outside ------------------------

_ATTR_BUILTINS = {"getattr", "setattr", "hasattr", "delattr"}


def _names_bound_to_servers(tree: ast.AST) -> set[str]:
    """Variables assigned a ``Server(...)`` (``fresh = Server(config)``)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Name) and func.id == "Server":
                out |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return out


def _server_probes(source: str, in_server_module: bool) -> list[tuple[int, str]]:
    """Where code reaches into a data node by name: ``getattr(server, ...)`` and its
    kin, and attribute assignments to a server (``server.x = ...``, ``self.server.x``,
    ``ctx.server.x``, a variable holding a ``Server(...)``) outside ``Server`` itself."""
    tree = ast.parse(source)
    bound = _names_bound_to_servers(tree) | {"server", "srv"}
    inside_server_class: set[int] = set()
    if in_server_module:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name == "Server":
                inside_server_class |= {id(n) for n in ast.walk(node)}

    def is_server(expr: ast.expr, node: ast.AST) -> bool:
        if isinstance(expr, ast.Name):
            return expr.id in bound or (expr.id == "self" and id(node) in inside_server_class)
        return isinstance(expr, ast.Attribute) and expr.attr == "server"

    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _ATTR_BUILTINS
                and node.args and is_server(node.args[0], node)):
            found.append((node.lineno, f"{node.func.id}({ast.unparse(node.args[0])}, ...)"))
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            for t in ast.walk(target):
                if (isinstance(t, ast.Attribute) and isinstance(t.ctx, ast.Store) and is_server(t.value, node)
                        and id(node) not in inside_server_class):
                    found.append((node.lineno, ast.unparse(t)))
    return sorted(found)


def test_no_engine_module_probes_or_sets_attributes_of_a_server() -> None:
    # The node's role (roles.NodeRole) is the one seam between a Server and what
    # replicates or journals it; blocked clients enrol in server.blocked. A module that
    # attaches state to a server, or asks it with getattr, brings the hidden seams back.
    offenders = []
    for path in sorted(ENGINE.rglob("*.py")):
        rel = str(path.relative_to(ENGINE))
        offenders += [f"{rel}:{line}: {what}" for line, what in _server_probes(path.read_text(), rel == "server.py")]
    assert offenders == [], "go through server.role / server.blocked instead:\n" + "\n".join(offenders)


def test_the_server_probe_scan_finds_each_kind_of_reach(tmp_path: Path) -> None:
    probe = (
        "repl = getattr(server, 'replication', None)\n"
        "server.repl_info = fields\n"
        "self.server.refusal = None\n"
        "fresh = Server(config)\n"
        "fresh.expires_locally = False\n"
        "saved, ctx.server.log = ctx.server.log, None\n"
        "hasattr(ctx.server, 'x')\n"
        "class Server:\n"
        "    def f(self):\n"
        "        self.log = None\n"
        "        return getattr(self, '_master', None)\n"
        "client.db = 0\n"
    )
    assert [line for line, _ in _server_probes(probe, in_server_module=False)] == [1, 2, 3, 5, 6, 7]
    assert [line for line, _ in _server_probes(probe, in_server_module=True)] == [1, 2, 3, 5, 6, 7, 11]


async def test_a_server_ends_with_the_attributes_it_started_with_after_roles_and_blocking() -> None:
    # Dynamic twin of the scan: blocking reads, CLIENT UNBLOCK, XGROUP DESTROY, WAIT
    # (which makes a standalone node a cache primary), INFO, ROLE and SHUTDOWN used
    # to attach attributes to the node; now they go through its role and registry.
    import redis.asyncio as aioredis

    from sandbox.engine.config import EngineConfig
    from sandbox.engine.replication import Replication
    from sandbox.engine.roles import StandaloneRole
    from sandbox.engine.server import Server

    server = Server(EngineConfig(port=0))
    before = set(vars(server))
    assert type(server.role) is StandaloneRole
    port = await server.start()
    reader = aioredis.Redis(port=port, protocol=2)
    other = aioredis.Redis(port=port, protocol=2)
    try:
        await other.xgroup_create("s", "g", id="$", mkstream=True)
        reader_id = await reader.client_id()
        blocked = asyncio.ensure_future(reader.xread({"s": "$"}, block=0))
        for _ in range(1000):  # until the reader is parked (10 s at most)
            if any(c["id"] == str(reader_id) and "b" in c["flags"] for c in await other.client_list()):
                break
            await asyncio.sleep(0.01)
        assert await other.client_unblock(reader_id) == 1
        assert await blocked == []
        assert await other.xgroup_destroy("s", "g") == 1
        assert await other.execute_command("WAIT", 1, 10) == 0
        assert type(server.role) is Replication and server.role.role == "primary"
        info = await other.info("replication")
        assert info["role"] == "master" and info["connected_slaves"] == 0
        assert (await other.execute_command("ROLE"))[0] == b"master"
    finally:
        await reader.aclose()
        await other.aclose()
        await server.stop()
    assert set(vars(server)) == before

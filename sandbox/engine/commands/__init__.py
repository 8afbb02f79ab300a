"""The command registry: one entry per command, declared next to its body.

A registry entry says everything the dispatcher needs to enforce around a command:
its arity (Redis convention: N exact, -N at least N, counting the name), flags,
key positions (first, last, step — or ``getkeys`` for movable keys), ACL
categories, how far a write can grow a value (``grows``, for the OOM check) and its
documentation (for COMMAND DOCS and the sandbox console). A
command body is then only its logic: ``handler(ctx, argv) -> reply``.

The entry is also the one description of a command's key access. Its key specs
(COMMAND INFO, DOCS, GETKEYS) are derived from it in ``keyspecs.py``; where Redis
7.0 declares other flags than the derived ones, the entry says so
(``key_flags=("RW access delete", "RW insert")``, one string per spec). A command
whose key access depends on its arguments (SET ... GET, BITFIELD, SORT ... STORE)
names a ``key_access`` function; the ACL model asks ``keyspecs.key_permissions``,
which reads only this entry, so it needs no command module.

Container commands (CONFIG, CLIENT, ...) register their subcommands as
``"config|get"``; the container itself is created on first use.

Families live in sibling modules, each registering with ``@command``;
``load_all()`` imports them once.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

Handler = Callable[..., Any]

# Flags whose ACL category Redis derives automatically (see ``setImplicitACLCategories``).
_IMPLICIT_CATEGORIES = {
    "write": "write",
    "readonly": "read",
    "admin": "admin",
    "pubsub": "pubsub",
    "fast": "fast",
    "blocking": "blocking",
}


@dataclass(slots=True)
class Command:
    name: str  # lower case; "container|sub" for subcommands
    handler: Handler | None
    arity: int
    flags: frozenset[str]
    first_key: int = 0
    last_key: int = 0
    step: int = 0
    acl: tuple[str, ...] = ()
    getkeys: Callable[[list[bytes]], list[int]] | None = None
    summary: str = ""
    since: str = "1.0.0"
    group: str = "generic"
    complexity: str = ""
    args: str = ""  # argument syntax hint, e.g. "key value [NX | XX]"
    # denyoom commands that can grow a value beyond their arguments' size (SETRANGE's
    # offset): argv -> the bytes the write may add, for the dispatcher's OOM check.
    grows: Callable[[list[bytes]], int] | None = None
    # Redis 7.0's key-spec flags where they differ from the derived ones, one tuple
    # per spec; the keyword that movable keys follow ("STREAMS", startfrom); a note.
    key_flags: tuple[tuple[str, ...], ...] | None = None
    key_keyword: tuple[str, int] | None = None
    # Keywords each followed by one key, with where their search starts
    # (GEORADIUS ... STORE key): one keyword key spec each.
    key_keywords: tuple[tuple[str, int], ...] = ()
    key_notes: str = ""
    # argv -> (index, keyspecs.READ|WRITE) per key, for commands whose access varies.
    key_access: Callable[[list[bytes]], list[tuple[int, int]]] | None = None
    subcommands: dict[bytes, "Command"] = field(default_factory=dict)
    # Hot-path booleans derived from flags.
    write: bool = False
    denyoom: bool = False
    no_auth: bool = False
    pubsub_ok: bool = False
    no_multi: bool = False
    name_bytes: bytes = b""

    def __post_init__(self) -> None:
        self.name_bytes = self.name.encode()

    @property
    def container(self) -> str | None:
        return self.name.split("|", 1)[0] if "|" in self.name else None

    def key_indexes(self, argv: list[bytes]) -> list[int]:
        """Positions of the key arguments in ``argv`` (COMMAND GETKEYS semantics)."""
        if self.getkeys is not None:
            return self.getkeys(argv)
        if self.first_key <= 0:
            return []
        last = self.last_key if self.last_key >= 0 else len(argv) + self.last_key
        return list(range(self.first_key, min(last, len(argv) - 1) + 1, self.step or 1))

    def keys(self, argv: list[bytes]) -> list[bytes]:
        return [argv[i] for i in self.key_indexes(argv)]


REGISTRY: dict[bytes, Command] = {}


def command(
    name: str,
    arity: int,
    flags: str = "",
    keys: tuple[int, int, int] = (0, 0, 0),
    acl: str = "",
    getkeys: Callable[[list[bytes]], list[int]] | None = None,
    summary: str = "",
    since: str = "1.0.0",
    group: str = "generic",
    complexity: str = "O(1)",
    args: str = "",
    grows: Callable[[list[bytes]], int] | None = None,
    key_flags: tuple[str, ...] | None = None,
    key_keyword: tuple[str, int] | None = None,
    key_keywords: tuple[tuple[str, int], ...] = (),
    key_notes: str = "",
    key_access: Callable[[list[bytes]], list[tuple[int, int]]] | None = None,
) -> Callable[[Handler], Handler]:
    """Register the decorated function as the body of ``name``."""

    def register(fn: Handler) -> Handler:
        flagset = frozenset(flags.split())
        categories = [c.lstrip("@") for c in acl.split()]
        for flag, cat in _IMPLICIT_CATEGORIES.items():
            if flag in flagset and cat not in categories:
                categories.append(cat)
        if "fast" not in flagset and "slow" not in categories:
            categories.append("slow")
        if "admin" in flagset and "dangerous" not in categories:
            categories.append("dangerous")
        cmd = Command(
            name=name.lower(), handler=fn, arity=arity, flags=flagset,
            first_key=keys[0], last_key=keys[1], step=keys[2], acl=tuple(categories),
            getkeys=getkeys, summary=summary, since=since, group=group,
            complexity=complexity, args=args, grows=grows,
            key_flags=None if key_flags is None else tuple(tuple(spec.split()) for spec in key_flags),
            key_keyword=key_keyword, key_keywords=key_keywords, key_notes=key_notes, key_access=key_access,
            write="write" in flagset, denyoom="denyoom" in flagset,
            no_auth="no_auth" in flagset, pubsub_ok="pubsub_ok" in flagset,
            no_multi="no_multi" in flagset,
        )
        if "|" in cmd.name:
            parent_name, sub = cmd.name.split("|", 1)
            parent = REGISTRY.get(parent_name.encode())
            if parent is None:
                parent = Command(name=parent_name, handler=None, arity=-2, flags=frozenset(), group=group)
                REGISTRY[parent_name.encode()] = parent
            parent.subcommands[sub.encode()] = cmd
        else:
            existing = REGISTRY.get(cmd.name.encode())
            if existing is not None and existing.handler is None:
                cmd.subcommands = existing.subcommands  # container declared after its subcommands
            REGISTRY[cmd.name.encode()] = cmd
        fn.command = cmd  # type: ignore[attr-defined]
        return fn

    return register


def container(name: str, summary: str, since: str, group: str, flags: str = "", acl: str = "") -> None:
    """Declare a container command (its subcommands carry the real bodies)."""
    existing = REGISTRY.get(name.encode())
    cmd = Command(
        name=name, handler=None, arity=-2, flags=frozenset(flags.split()),
        acl=tuple(c.lstrip("@") for c in acl.split()), summary=summary, since=since, group=group,
    )
    if existing is not None:
        cmd.subcommands = existing.subcommands
    REGISTRY[name.encode()] = cmd


# Registration order is what COMMAND, COMMAND LIST and COMMAND DOCS list in.
FAMILIES = (
    "connection",
    "docs",
    "server",
    "info",
    "config_cmds",
    "admin",
    "latency_cmds",
    "memory",
    "keys",
    "dump_restore",
    "expire",
    "objectcmds",
    "sort",
    "strings",
    "strings_ranges",
    "bitops",
    "hyperloglog_cmds",
    "hashes",
    "lists",
    "sets",
    "zsets",
    "zsets_ranges",
    "zsets_algebra",
    "geo_cmds",
    "streams",
    "stream_groups",
    "stream_reads",
    "blocking",
    "transactions",
    "scripting_cmds",
    "functions",
    "pubsub",
    "cluster_cmds",
    "client_cmds",
    "replication_cmds",
    "acl_cmds",
)

_loaded = False


def load_all() -> dict[bytes, Command]:
    """Import every family module once (each registers its commands)."""
    global _loaded
    if not _loaded:
        for family in FAMILIES:
            try:
                importlib.import_module(f"{__name__}.{family}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{__name__}.{family}":
                    raise
        _loaded = True
    return REGISTRY

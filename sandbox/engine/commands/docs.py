"""COMMAND: the registry described to clients (COMMAND, INFO, DOCS, LIST, COUNT,
GETKEYS, GETKEYSANDFLAGS, HELP).

Everything here is derived from ``commands.REGISTRY``; nothing is declared twice.
The parts live where their concern does: flag/category orders, tips and lookups in
``metadata.py``, the argument grammar in ``syntax.py``, key specs in
``keyspecs.py``. This module builds the replies and holds the COMMAND bodies.

* COMMAND INFO has Redis 7.0's reply shape: name, arity, flags (status strings),
  first/last/step, ACL categories ("@cat"), tips, key specs, subcommands — in
  Redis's fixed orders, so redis-py's ``RedisCluster`` and redis-cli can read it.
* COMMAND DOCS ``arguments`` come from each command's ``args`` syntax string; a key
  argument carries the index of the key spec that finds it.
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..context import Ctx
from ..glob import match as glob_match
from ..resp import Map, SetReply, Status
from . import REGISTRY, Command, command
from .keyspecs import KeySpec, fixed_positions_of, has_keys, key_flags, key_specs
from .metadata import TIPS, all_commands, lookup, lookup_argv, reply_categories, reply_flags
from .syntax import Arg, parse_syntax
from .util import help_reply

def _spec_reply(spec: KeySpec) -> Map:
    notes = [(b"notes", spec.notes.encode())] if spec.notes else []
    return Map([
        *notes,
        (b"flags", SetReply([Status(f.encode()) for f in spec.flags])),
        (b"begin_search", Map([(b"type", spec.begin[0].encode()), (b"spec", _plain_map(spec.begin[1]))])),
        (b"find_keys", Map([(b"type", spec.find[0].encode()), (b"spec", _plain_map(spec.find[1]))])),
    ])


def _plain_map(d: dict[str, Any]) -> Map:
    return Map([(k.encode(), v) for k, v in d.items()])


def command_info(cmd: Command) -> list[Any]:
    return [
        cmd.name.encode(),
        cmd.arity,
        SetReply([Status(f.encode()) for f in reply_flags(cmd)]),
        cmd.first_key,
        cmd.last_key,
        cmd.step,
        SetReply([Status(b"@" + c.encode()) for c in reply_categories(cmd)]),
        SetReply([t.encode() for t in TIPS.get(cmd.name, ())]),
        SetReply([_spec_reply(s) for s in key_specs(cmd)]),
        SetReply([command_info(sub) for sub in cmd.subcommands.values()]),
    ]


def doc_arguments(cmd: Command) -> list[Arg]:
    """The parsed arguments of ``cmd`` with key_spec_index filled in: a key at a
    fixed place gets the spec that begins there; keys after ``numkeys`` or behind
    a token get the movable-keys spec; others the first range spec."""
    args = parse_syntax(cmd.args, cmd.name)
    specs = key_specs(cmd)
    by_index = {s.begin[1]["index"]: i for i, s in enumerate(specs) if s.begin[0] == "index" and s.find[0] == "range"}
    range_idx = 0 if by_index else -1
    movable = [i for i, s in enumerate(specs) if s.begin[0] != "index" or s.find[0] != "range"]
    movable_idx = movable[-1] if movable else range_idx
    # A key behind a keyword with its own spec (GEORADIUS's STORE key) points at that spec.
    by_keyword = {s.begin[1]["keyword"]: i for i, s in enumerate(specs) if s.begin[0] == "keyword"}
    fixed = {id(a): p for p, a in fixed_positions_of(args, cmd)}
    seen_numkeys = False

    def assign(a: Arg, top: bool) -> None:
        nonlocal seen_numkeys
        if a.name == "numkeys":
            seen_numkeys = True
        if a.type == "key":
            if top and id(a) in fixed and fixed[id(a)] in by_index:
                a.key_spec_index = by_index[fixed[id(a)]]
            elif a.token in by_keyword:
                a.key_spec_index = by_keyword[a.token]
            elif seen_numkeys or not top or a.token or a.optional:
                a.key_spec_index = movable_idx
            else:
                a.key_spec_index = range_idx
        for child in a.args:
            assign(child, False)

    for a in args:
        assign(a, True)
    return args


def _arg_reply(a: Arg) -> Map:
    pairs: list[tuple[bytes, Any]] = [(b"name", a.name.encode()), (b"type", a.type.encode())]
    if a.type == "key" and a.key_spec_index >= 0:
        pairs.append((b"key_spec_index", a.key_spec_index))
    if a.token is not None:
        pairs.append((b"token", a.token.encode()))
    flags = a.flags()
    if flags:
        pairs.append((b"flags", SetReply([Status(f.encode()) for f in flags])))
    if a.args:
        pairs.append((b"arguments", [_arg_reply(c) for c in a.args]))
    return Map(pairs)


def command_docs(cmd: Command) -> Map:
    pairs: list[tuple[bytes, Any]] = [
        (b"summary", cmd.summary.encode()),
        (b"since", cmd.since.encode()),
        (b"group", cmd.group.encode()),
    ]
    complexity = cmd.complexity or ("Depends on subcommand." if cmd.subcommands else "")
    if complexity:
        pairs.append((b"complexity", complexity.encode()))
    if cmd.args:
        pairs.append((b"arguments", [_arg_reply(a) for a in doc_arguments(cmd)]))
    if cmd.subcommands:
        pairs.append((b"subcommands", Map([(s.name.encode(), command_docs(s)) for s in cmd.subcommands.values()])))
    return Map(pairs)


# ---------------------------------------------------------------------------
# COMMAND and its subcommands

_HELP = [
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
]


@command("command", -1, "loading stale", acl="@connection", since="2.8.13", group="server",
         complexity="O(N) where N is the total number of Redis commands",
         summary="Describe every command: arity, flags, key positions, ACL categories, tips and key specs.")
def command_(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) > 1:
        raise errors.unknown_subcommand(argv, "command")
    return [command_info(cmd) for cmd in REGISTRY.values()]


@command("command|count", 2, "loading stale", acl="@connection", since="2.8.13", group="server",
         summary="Number of commands this node knows (subcommands not counted).")
def command_count(ctx: Ctx, argv: list[bytes]) -> Any:
    return len(REGISTRY)


@command("command|info", -2, "loading stale", acl="@connection", since="2.8.13", group="server",
         complexity="O(N) where N is the number of commands to look up",
         summary="Describe the named commands (all of them when none is named); nil for unknown names.",
         args="[command-name [command-name ...]]")
def command_info_(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) == 2:
        return [command_info(cmd) for cmd in REGISTRY.values()]
    out = []
    for name in argv[2:]:
        cmd = lookup(name)
        out.append(None if cmd is None else command_info(cmd))
    return out


@command("command|docs", -2, "loading stale", acl="@connection", since="7.0.0", group="server",
         complexity="O(N) where N is the number of commands to look up",
         summary="Documentation of the named commands (all when none is named): summary, since, group, complexity, arguments.",
         args="[command-name [command-name ...]]")
def command_docs_(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) == 2:
        return Map([(cmd.name.encode(), command_docs(cmd)) for cmd in REGISTRY.values()])
    pairs = []
    for name in argv[2:]:
        cmd = lookup(name)
        if cmd is not None:
            pairs.append((cmd.name.encode(), command_docs(cmd)))
    return Map(pairs)


@command("command|list", -2, "loading stale", acl="@connection", since="7.0.0", group="server",
         complexity="O(N) where N is the total number of Redis commands",
         summary="Names of all commands and subcommands, optionally filtered by module, ACL category or glob pattern.",
         args="[FILTERBY <MODULE module-name | ACLCAT category | PATTERN pattern>]")
def command_list(ctx: Ctx, argv: list[bytes]) -> Any:
    commands = all_commands(with_subcommands=True)
    if len(argv) == 2:
        return [c.name.encode() for c in commands]
    if len(argv) != 5 or argv[2].lower() != b"filterby":
        raise errors.SYNTAX
    kind, value = argv[3].lower(), argv[4]
    if kind == b"module":
        return []  # no modules are loaded
    if kind == b"aclcat":
        cat = value.decode(errors="replace").lower()
        return [c.name.encode() for c in commands if cat in reply_categories(c)]
    if kind == b"pattern":
        return [c.name.encode() for c in commands if glob_match(value, c.name.encode(), nocase=True)]
    raise errors.SYNTAX


def _target(argv: list[bytes]) -> tuple[Command, list[bytes], list[int]]:
    """The command named by GETKEYS' arguments and its key positions."""
    target = argv[2:]
    cmd = lookup_argv(target)
    if cmd is None:
        raise errors.GETKEYS_INVALID_COMMAND
    if not has_keys(cmd):
        raise errors.GETKEYS_NO_KEYS
    if (cmd.arity > 0 and cmd.arity != len(target)) or len(target) < -cmd.arity:
        raise errors.GETKEYS_BAD_ARITY
    try:
        indexes = cmd.key_indexes(target)
    except (errors.RedisError, IndexError, ValueError):
        indexes = []
    if not indexes:
        raise errors.GETKEYS_BAD_ARGS
    return cmd, target, indexes


@command("command|getkeys", -4, "loading stale", acl="@connection", since="2.8.13", group="server",
         complexity="O(N) where N is the number of arguments to the command",
         summary="The key names a full command line would access.", args="command [arg [arg ...]]")
def command_getkeys(ctx: Ctx, argv: list[bytes]) -> Any:
    _cmd, target, indexes = _target(argv)
    return [target[i] for i in indexes]


@command("command|getkeysandflags", -4, "loading stale", acl="@connection", since="7.0.0", group="server",
         complexity="O(N) where N is the number of arguments to the command",
         summary="The key names a full command line would access, each with its access flags.",
         args="command [arg [arg ...]]")
def command_getkeysandflags(ctx: Ctx, argv: list[bytes]) -> Any:
    cmd, target, indexes = _target(argv)
    return [[target[i], SetReply([Status(f.encode()) for f in key_flags(cmd, target, i)])] for i in indexes]


@command("command|help", 2, "loading stale", acl="@connection", since="5.0.0", group="server",
         summary="Show the COMMAND subcommands.")
def command_help(ctx: Ctx, argv: list[bytes]) -> Any:
    return help_reply(_HELP)

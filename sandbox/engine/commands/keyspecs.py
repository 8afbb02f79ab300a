"""Key specs: where a command finds its keys and what it does to them, derived from
its registry entry — for COMMAND INFO/DOCS/GETKEYS and for ACL key permissions.

A spec is Redis 7.0's: a ``begin_search`` (an index, or a keyword such as STREAMS),
a ``find_keys`` (a range, a key count, or unknown) and flags (RO/RW/OW/RM plus
access/insert/update/delete, or not_key for pub/sub channels).

Invariants:
* Everything comes from the ``Command`` entry; nothing here names a command.
  ``range`` specs come from first/last/step (one per key argument when the syntax
  shows distinct ones, ``source destination``); movable keys get a ``keyword``
  spec (``key_keyword``; one per keyword of ``key_keywords``), a ``keynum`` spec when the syntax has ``numkeys``, else
  an ``unknown`` one. Flags are RO/access for reads, RW/update for writes, not_key
  for channels, unless the entry declares Redis's own (``key_flags``, one tuple per
  spec; ignored if the count of specs differs).
* ``key_permissions`` is the ACL model's only view of keys: ``access`` needs READ;
  ``insert``, ``update`` and ``delete`` need WRITE; a key with neither (EXISTS,
  TYPE) only has to match a pattern. An entry whose access depends on the call
  (SET ... GET) answers through its ``key_access``.
* Specs are derived once per registered ``Command`` object and cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ..errors import RedisError
from . import Command
from .syntax import Arg, SyntaxParseError, parse_syntax

READ, WRITE = 1, 2
READ_WRITE = READ | WRITE


@dataclass
class KeySpec:
    flags: tuple[str, ...]
    begin: tuple[str, dict[str, Any]]  # ("index", {"index": 1}) / ("unknown", {})
    find: tuple[str, dict[str, Any]]  # ("range", {...}) / ("keynum", {...}) / ("unknown", {})
    notes: str = ""


def _spec_flags(cmd: Command) -> tuple[str, ...]:
    if "pubsub" in cmd.acl:
        return ("not_key",)
    if "write" in cmd.flags:
        return ("RW", "update")
    return ("RO", "access")


def _fixed_positions(cmd: Command) -> list[tuple[int, Arg]]:
    try:
        return fixed_positions_of(parse_syntax(cmd.args, cmd.name), cmd)
    except SyntaxParseError:
        return []


def fixed_positions_of(args: list[Arg], cmd: Command) -> list[tuple[int, Arg]]:
    """The leading arguments whose argv index is fixed, with that index: required,
    untokened, ungrouped ones, up to and including the first repeated one."""
    out = []
    pos = 2 if "|" in cmd.name else 1
    for a in args:
        one_word = a.type == "oneof" and all(c.type == "pure-token" for c in a.args)  # <AND | OR>
        if a.optional or a.token or (a.type in ("oneof", "block", "pure-token") and not one_word):
            break
        out.append((pos, a))
        pos += 1
        if a.multiple:
            break
    return out


def _range_specs(cmd: Command, flags: tuple[str, ...]) -> list[KeySpec]:
    """One spec for first/last/step — or, when the syntax shows distinct key
    arguments at fixed places (``source destination``, ``destination key [key ...]``),
    one spec per argument, as Redis declares them."""
    def spec(index: int, lastkey: int, step: int = 1) -> KeySpec:
        return KeySpec(flags, ("index", {"index": index}), ("range", {"lastkey": lastkey, "keystep": step, "limit": 0}))

    whole = spec(cmd.first_key, cmd.last_key - cmd.first_key if cmd.last_key >= 0 else cmd.last_key, cmd.step or 1)
    keys = [(p, a) for p, a in _fixed_positions(cmd) if a.type == "key"]
    if len(keys) < 2 or cmd.step != 1 or keys[0][0] != cmd.first_key:
        return [whole]
    if any(p != keys[0][0] + i for i, (p, _a) in enumerate(keys)):
        return [whole]
    last_pos, last_arg = keys[-1]
    if last_arg.multiple:
        if cmd.last_key >= 0:
            return [whole]
        return [spec(p, 0) for p, _a in keys[:-1]] + [spec(last_pos, cmd.last_key)]
    if last_pos != cmd.last_key or any(a.multiple for _p, a in keys):
        return [whole]
    return [spec(p, 0) for p, _a in keys]


_SPECS: dict[str, tuple[Command, list[KeySpec]]] = {}
_SPECS: dict[str, tuple[Command, list[KeySpec]]] = {}


def key_specs(cmd: Command) -> list[KeySpec]:
    """The command's key specs (derived once per registered command)."""
    cached = _SPECS.get(cmd.name)
    if cached is not None and cached[0] is cmd:
        return cached[1]
    specs = _derive_key_specs(cmd)
    _SPECS[cmd.name] = (cmd, specs)
    return specs


def _derive_key_specs(cmd: Command) -> list[KeySpec]:
    specs: list[KeySpec] = []
    flags = _spec_flags(cmd)
    if cmd.first_key > 0:
        specs += _range_specs(cmd, flags)
    if cmd.getkeys is not None:
        numkeys = next((p for p, a in _fixed_positions(cmd) if a.name == "numkeys"), 0)
        keyword = cmd.key_keyword
        if cmd.key_keywords:
            specs += [KeySpec(flags, ("keyword", {"keyword": word, "startfrom": start}),
                              ("range", {"lastkey": 0, "keystep": 1, "limit": 0}))
                      for word, start in cmd.key_keywords]
        elif keyword is not None:
            specs.append(KeySpec(flags, ("keyword", {"keyword": keyword[0], "startfrom": keyword[1]}),
                                 ("range", {"lastkey": -1, "keystep": 1, "limit": 2})))
        elif numkeys:
            specs.append(KeySpec(flags, ("index", {"index": numkeys}),
                                 ("keynum", {"keynumidx": 0, "firstkey": 1, "keystep": 1})))
        else:
            specs.append(KeySpec(flags, ("unknown", {}), ("unknown", {})))
    known = cmd.key_flags
    if known is not None and len(known) == len(specs):
        specs = [KeySpec(f, s.begin, s.find) for f, s in zip(known, specs)]
    if cmd.key_notes and len(specs) == 1:
        specs[0].notes = cmd.key_notes
    return specs


def key_flags(cmd: Command, argv: list[bytes], index: int) -> tuple[str, ...]:
    """The flags of the key spec that finds ``argv[index]`` (COMMAND GETKEYSANDFLAGS)."""
    specs = key_specs(cmd)
    for spec in specs:
        if spec.begin[0] != "index" or spec.find[0] != "range":
            continue
        start, last = spec.begin[1]["index"], spec.find[1]["lastkey"]
        end = start + last if last >= 0 else len(argv) + last
        if start <= index <= end and (index - start) % spec.find[1]["keystep"] == 0:
            return spec.flags
    movable = [s for s in specs if s.begin[0] != "index" or s.find[0] != "range"]
    return (movable or specs)[0].flags if specs else ()


def has_keys(cmd: Command) -> bool:
    """Redis's doesCommandHaveKeys: channels (not_key specs) don't count."""
    return cmd.getkeys is not None or any("not_key" not in s.flags for s in key_specs(cmd))


# ---------------------------------------------------------------------------------------
# What ACL key patterns must allow


def key_permissions(cmd: Command, argv: list[bytes]) -> list[tuple[int, int]]:
    """(argv index, READ|WRITE needed) for each key of the call, from its key specs."""
    if cmd.key_access is not None:
        return cmd.key_access(argv)
    try:
        indexes = cmd.key_indexes(argv)
    except (ValueError, IndexError, RedisError):
        return []  # malformed: the command itself will say so
    uniform = _UNIFORM_PERM.get(cmd.name, -1)
    if uniform == -1:  # first use: do all its key specs need the same?
        perms = {perm_of(spec.flags) for spec in key_specs(cmd)}
        uniform = _UNIFORM_PERM[cmd.name] = perms.pop() if len(perms) == 1 else None
    if uniform is not None:
        return [(i, uniform) for i in indexes if i < len(argv)]
    return [(i, perm_of(key_flags(cmd, argv, i))) for i in indexes if i < len(argv)]


_UNIFORM_PERM: dict[str, int | None] = {}


def perm_of(flags: Iterable[str]) -> int:
    """The ACL permission a key with these spec flags needs."""
    perm = 0
    for flag in flags:
        if flag == "access":
            perm |= READ
        elif flag in ("insert", "update", "delete"):
            perm |= WRITE
    return perm

"""Scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD/EXISTS/FLUSH/KILL/HELP.

A script body is compiled once into the node's EVAL Lua VM (``scripting.LuaVM``) and
cached by its SHA1; running it is ``scripting_run.ScriptRunner``'s job (atomicity,
effects as one unit, busy scripts). A body that starts with ``#!lua`` declares
Redis 7.0's script flags; one without runs in the compatible mode (may write, may
touch undeclared keys of other slots on this node).

Declared flags (EVAL's shebang, a function's ``flags``) replace the command's own
write/denyoom/stale flags, as Redis's ``scriptFlagsToCmdFlags`` does, so they are
checked here at the script's start (``start_flags``), in the dispatcher's order:
a script that may write (no ``no-writes``) and may not run out of memory (no
``allow-oom``) gets OOM over maxmemory, then READONLY on a replica; then
``no-cluster`` in cluster mode, then a write script called by a ``*_RO`` command.
``allow-stale`` only matters where a replica refuses stale reads
(replica-serve-stale-data no), which this engine never does: it always serves them,
so every script runs on a replica whose link is down, with or without the flag.
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..context import Ctx
from ..errors import RedisError
from ..resp import OK
from ..scripting import parse_shebang, sha1hex
from ..scripting_run import ScriptRun
from . import command, container
from .util import help_reply, numkeys_keys, to_int

container("script", "Manage the server-side Lua script cache.", "2.6.0", "scripting")

_HELP = [
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
]

_EVAL_FLAGS = "noscript stale skip_monitor no_mandatory_keys movablekeys"
_EVAL_NOTES = "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE flags"
_EVAL_RO_NOTES = "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS flags"


def split_keys(argv: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """``<script|sha|function> numkeys key... arg...``: (keys, args), Redis's checks."""
    numkeys = to_int(argv[2])
    if numkeys is None:
        raise errors.NOT_INTEGER
    if numkeys > len(argv) - 3:
        raise errors.TOO_MANY_KEYS
    if numkeys < 0:
        raise errors.NEGATIVE_KEYS
    return argv[3:3 + numkeys], argv[3 + numkeys:]


def load_script(ctx: Ctx, body: bytes) -> tuple[bytes, tuple[Any, frozenset[bytes] | None]]:
    """Compile and cache ``body``; (sha, (function, shebang flags))."""
    scripts = ctx.server.scripts
    sha = sha1hex(body)
    entry = scripts.cache.get(sha)
    if entry is None:
        code, flags = parse_shebang(body)
        fn = scripts.eval_vm().compile(code)
        if isinstance(fn, RedisError):
            raise fn
        entry = scripts.cache[sha] = (fn, flags)
    return sha, entry


def start_flags(ctx: Ctx, flags: frozenset[bytes], ro: bool) -> tuple[bool, bool, bool]:
    """Refuse a script with declared ``flags`` that may not start here (RedisError,
    Redis 7.0's text and order); else its (read_only, allow_oom, allow_cross_slot)."""
    server, client = ctx.server, ctx.client
    read_only, allow_oom = b"no-writes" in flags, b"allow-oom" in flags
    if not read_only and not allow_oom and server.maxmemory and not client.no_evict:
        if not server.evictor.admit(server.used_memory(), 0):
            raise errors.OOM
    if not read_only and server.read_only and not client.is_master:
        raise errors.READONLY
    if b"no-cluster" in flags and server.cluster is not None:
        raise errors.SCRIPT_NO_CLUSTER
    if ro and not read_only:
        raise errors.FUNCTION_NO_WRITES
    return read_only, allow_oom, b"allow-cross-slot-keys" in flags


def _eval(ctx: Ctx, argv: list[bytes], by_sha: bool, ro: bool) -> Any:
    keys, args = split_keys(argv)
    scripts = ctx.server.scripts
    if by_sha:
        sha = argv[1].lower()
        entry = scripts.cache.get(sha)
        if entry is None:
            raise errors.NOSCRIPT
    else:
        sha, entry = load_script(ctx, argv[1])
    fn, flags = entry
    if flags is None:  # no shebang: Redis 7.0's compatible mode
        read_only, allow_oom, cross_slot = ro, False, True
    else:
        read_only, allow_oom, cross_slot = start_flags(ctx, flags, ro)
    run = ScriptRun(scripts.eval_vm(), fn, sha, keys, args, ctx.client, True, read_only, allow_oom, cross_slot,
                    ctx.now_ms / 1000)
    return scripts.run(run)


@command("eval", -3, _EVAL_FLAGS, acl="@scripting", getkeys=numkeys_keys(3), since="2.6.0", group="scripting",
         summary="Run a Lua script on the server.", complexity="Depends on the script that is executed.",
         args="script numkeys [key [key ...]] [arg [arg ...]]", key_flags=("RW access update",),
         key_notes=_EVAL_NOTES)
def eval_(ctx: Ctx, argv: list[bytes]) -> Any:
    return _eval(ctx, argv, False, False)


@command("evalsha", -3, _EVAL_FLAGS, acl="@scripting", getkeys=numkeys_keys(3), since="2.6.0", group="scripting",
         summary="Run a cached Lua script by its SHA1.", complexity="Depends on the script that is executed.",
         args="sha1 numkeys [key [key ...]] [arg [arg ...]]", key_flags=("RW access update",))
def evalsha(ctx: Ctx, argv: list[bytes]) -> Any:
    return _eval(ctx, argv, True, False)


@command("eval_ro", -3, "readonly " + _EVAL_FLAGS, acl="@scripting", getkeys=numkeys_keys(3), since="7.0.0",
         group="scripting", summary="Run a read-only Lua script.", complexity="Depends on the script that is executed.",
         args="script numkeys [key [key ...]] [arg [arg ...]]", key_flags=("RO access",), key_notes=_EVAL_RO_NOTES)
def eval_ro(ctx: Ctx, argv: list[bytes]) -> Any:
    return _eval(ctx, argv, False, True)


@command("evalsha_ro", -3, "readonly " + _EVAL_FLAGS, acl="@scripting", getkeys=numkeys_keys(3), since="7.0.0",
         group="scripting", summary="Run a cached read-only Lua script by its SHA1.",
         complexity="Depends on the script that is executed.",
         args="sha1 numkeys [key [key ...]] [arg [arg ...]]", key_flags=("RO access",))
def evalsha_ro(ctx: Ctx, argv: list[bytes]) -> Any:
    return _eval(ctx, argv, True, True)


@command("script|load", 3, "noscript stale", acl="@scripting", since="2.6.0", group="scripting",
         summary="Compile a script into the cache without running it.", complexity="O(N) with N the script's length",
         args="script")
def script_load(ctx: Ctx, argv: list[bytes]) -> Any:
    sha, _entry = load_script(ctx, argv[2])
    return sha


@command("script|exists", -3, "noscript", acl="@scripting", since="2.6.0", group="scripting",
         summary="Whether each SHA1 is in the script cache.", complexity="O(N) with N the number of SHA1s",
         args="sha1 [sha1 ...]")
def script_exists(ctx: Ctx, argv: list[bytes]) -> Any:
    cache = ctx.server.scripts.cache
    return [1 if sha.lower() in cache else 0 for sha in argv[2:]]


@command("script|flush", -2, "noscript", acl="@scripting", since="2.6.0", group="scripting",
         summary="Empty the script cache.", complexity="O(N) with N the number of scripts in cache",
         args="[ASYNC | SYNC]")
def script_flush(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) > 3 or (len(argv) == 3 and argv[2].lower() not in (b"async", b"sync")):
        raise errors.SCRIPT_FLUSH_MODE
    ctx.server.scripts.flush_eval()
    return OK


@command("script|kill", 2, "noscript allow_busy", acl="@scripting", since="2.6.0", group="scripting",
         summary="Stop the running script if it has not written.")
def script_kill(ctx: Ctx, argv: list[bytes]) -> Any:
    return ctx.server.scripts.kill(True)


@command("script|help", 2, "loading stale", acl="@scripting", since="5.0.0", group="scripting",
         summary="Show the SCRIPT subcommands.")
def script_help(ctx: Ctx, argv: list[bytes]) -> Any:
    return help_reply(_HELP)


def without_read_category(*handlers: Any) -> None:
    """Redis 7.0 flags the *_RO script commands readonly but files them under
    @scripting and @slow only, not @read (ACL rules and COMMAND INFO see that)."""
    for handler in handlers:
        cmd = handler.command
        cmd.acl = tuple(c for c in cmd.acl if c != "read")


without_read_category(eval_ro, evalsha_ro)

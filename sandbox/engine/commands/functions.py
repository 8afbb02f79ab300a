"""Functions: FUNCTION LOAD/LIST/DELETE/FLUSH/STATS/KILL/HELP, FCALL and FCALL_RO.

Libraries live in ``scripting_functions.FunctionStore``; FCALL runs a function
through ``scripting_run.ScriptRunner`` like EVAL, its registered flags checked at
its start as a shebang's are (``scripting_cmds.start_flags``). FUNCTION LOAD/DELETE/FLUSH are
writes whose effect is their own argv (LOAD ... REPLACE, so a replay over an older
copy of the library succeeds), so a journal or a replica keeps the libraries.
FUNCTION DUMP/RESTORE use Redis 7.0's payload (``scripting_dump``); a RESTORE is
logged as itself (APPEND as REPLACE: on the state it succeeded on the two do the
same, and REPLACE also replays over a copy that has the libraries already).
"""

from __future__ import annotations

from typing import Any

from .. import errors, glob, scripting_dump
from ..context import Ctx
from ..resp import OK, Map, SetReply
from ..scripting_run import ScriptRun
from . import command, container
from .scripting_cmds import split_keys, start_flags, without_read_category
from .util import help_reply, numkeys_keys

container("function", "Manage Redis 7.0 function libraries.", "7.0.0", "scripting")

_FCALL_FLAGS = "noscript stale skip_monitor no_mandatory_keys movablekeys"
_HELP = [
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
]


def _fcall(ctx: Ctx, argv: list[bytes], ro: bool) -> Any:
    keys, args = split_keys(argv)
    scripts = ctx.server.scripts
    fn = scripts.functions.functions.get(argv[1])
    if fn is None:
        raise errors.FUNCTION_NOT_FOUND
    read_only, allow_oom, cross_slot = start_flags(ctx, fn.flags, ro)
    run = ScriptRun(scripts.functions.vm, fn.fn, fn.name, keys, args, ctx.client, False, read_only,
                    allow_oom, cross_slot, ctx.now_ms / 1000)
    return scripts.run(run)


@command("fcall", -3, _FCALL_FLAGS, acl="@scripting", getkeys=numkeys_keys(3), since="7.0.0", group="scripting",
         summary="Run a function of a loaded library.", complexity="Depends on the function that is executed.",
         args="function numkeys [key [key ...]] [arg [arg ...]]", key_flags=("RW access update",),
         key_notes="We cannot tell how the keys will be used so we assume the worst, RW and UPDATE flags")
def fcall(ctx: Ctx, argv: list[bytes]) -> Any:
    return _fcall(ctx, argv, False)


@command("fcall_ro", -3, "readonly " + _FCALL_FLAGS, acl="@scripting", getkeys=numkeys_keys(3), since="7.0.0",
         group="scripting", summary="Run a read-only function of a loaded library.",
         complexity="Depends on the function that is executed.",
         args="function numkeys [key [key ...]] [arg [arg ...]]", key_flags=("RO access",),
         key_notes="We cannot tell how the keys will be used so we assume the worst, RO and ACCESS flags")
def fcall_ro(ctx: Ctx, argv: list[bytes]) -> Any:
    return _fcall(ctx, argv, True)


@command("function|load", -3, "write denyoom noscript", acl="@scripting", since="7.0.0", group="scripting",
         summary="Load a library of functions.", complexity="O(1) (considering compilation time is redundant)",
         args="[REPLACE] function-code")
def function_load(ctx: Ctx, argv: list[bytes]) -> Any:
    replace = False
    rest = argv[2:]
    while len(rest) > 1:
        if rest[0].lower() != b"replace":
            raise errors.SYNTAX  # Redis: "ERR Unknown option given: ..."
        replace = True
        rest = rest[1:]
    name = ctx.server.scripts.functions.load(rest[0], replace)
    ctx.add_dirty(1)
    ctx.propagate([b"FUNCTION", b"LOAD", b"REPLACE", rest[0]])
    return name


@command("function|delete", 3, "write noscript", acl="@scripting", since="7.0.0", group="scripting",
         summary="Delete a library and its functions.", args="library-name")
def function_delete(ctx: Ctx, argv: list[bytes]) -> Any:
    store = ctx.server.scripts.functions
    lib = store.libraries.pop(argv[2], None)
    if lib is None:
        raise errors.FUNCTION_LIBRARY_NOT_FOUND
    for fname in lib.functions:
        store.functions.pop(fname, None)
    ctx.add_dirty(1)
    ctx.propagate(list(argv))
    return OK


@command("function|flush", -2, "write noscript", acl="@scripting", since="7.0.0", group="scripting",
         summary="Delete every library.", complexity="O(N) where N is the number of functions deleted",
         args="[ASYNC | SYNC]")
def function_flush(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) > 3 or (len(argv) == 3 and argv[2].lower() not in (b"async", b"sync")):
        raise errors.FUNCTION_FLUSH_MODE
    ctx.server.scripts.functions.flush()
    ctx.add_dirty(1)
    ctx.propagate([b"FUNCTION", b"FLUSH"])
    return OK


@command("function|list", -2, "noscript", acl="@scripting", since="7.0.0", group="scripting",
         summary="List the libraries and their functions.", complexity="O(N) where N is the number of functions",
         args="[LIBRARYNAME library-name-pattern] [WITHCODE]")
def function_list(ctx: Ctx, argv: list[bytes]) -> Any:
    pattern, with_code, i = None, False, 2
    while i < len(argv):
        opt = argv[i].lower()
        if opt == b"withcode" and not with_code:
            with_code = True
        elif opt == b"libraryname" and pattern is None and i + 1 < len(argv):
            i += 1
            pattern = argv[i]
        else:
            raise errors.script_error("list_argument", argv[i])
        i += 1
    out = []
    for lib in ctx.server.scripts.functions.libraries.values():
        if pattern is not None and not glob.match(pattern, lib.name):
            continue
        fns = [Map([(b"name", f.name), (b"description", f.description),
                    (b"flags", SetReply(sorted(f.flags)))]) for f in lib.functions.values()]
        fields = [(b"library_name", lib.name), (b"engine", b"LUA"), (b"functions", fns)]
        if with_code:
            fields.append((b"library_code", lib.code))
        out.append(Map(fields))
    return out


@command("function|dump", 2, "noscript", acl="@scripting", since="7.0.0", group="scripting",
         summary="Serialize every library in Redis's payload format.",
         complexity="O(N) where N is the number of functions")
def function_dump(ctx: Ctx, argv: list[bytes]) -> Any:
    libraries = ctx.server.scripts.functions.libraries.values()
    return scripting_dump.dump_payload(lib.code for lib in libraries)


@command("function|restore", -3, "write denyoom noscript", acl="@scripting", since="7.0.0", group="scripting",
         summary="Load the libraries of a FUNCTION DUMP payload.",
         complexity="O(N) where N is the number of functions on the payload",
         args="serialized-value [FLUSH | APPEND | REPLACE]")
def function_restore(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) > 4:
        raise errors.subcommand_syntax_error(argv, "function")
    policy = argv[3].lower() if len(argv) == 4 else b"append"
    if policy not in (b"flush", b"append", b"replace"):
        raise errors.FUNCTION_RESTORE_POLICY
    codes = scripting_dump.read_payload(argv[2], ctx.server.params.get_int("proto-max-bulk-len"))
    scripts = ctx.server.scripts
    scripts.functions = scripts.functions.restore(codes, policy)
    ctx.add_dirty(1)
    ctx.propagate([b"FUNCTION", b"RESTORE", argv[2], b"REPLACE" if policy == b"append" else policy.upper()])
    return OK


@command("function|stats", 2, "noscript allow_busy", acl="@scripting", since="7.0.0", group="scripting",
         summary="What function runs now, and the libraries' counts.")
def function_stats(ctx: Ctx, argv: list[bytes]) -> Any:
    scripts = ctx.server.scripts
    run = scripts.running
    if run is not None and scripts.busy and run.is_eval:
        raise errors.BUSY_SCRIPT
    store = scripts.functions
    running = None
    if run is not None and scripts.busy:
        import time

        running = Map([(b"name", run.name), (b"command", [b"fcall", run.name, *run.keys, *run.args]),
                       (b"duration_ms", int((time.monotonic() - run.started) * 1000))])
    engines = Map([(b"LUA", Map([(b"libraries_count", len(store.libraries)),
                                 (b"functions_count", len(store.functions))]))])
    return Map([(b"running_script", running), (b"engines", engines)])


@command("function|kill", 2, "noscript allow_busy", acl="@scripting", since="7.0.0", group="scripting",
         summary="Stop the running function if it has not written.")
def function_kill(ctx: Ctx, argv: list[bytes]) -> Any:
    return ctx.server.scripts.kill(False)


@command("function|help", 2, "loading stale", acl="@scripting", since="7.0.0", group="scripting",
         summary="Show the FUNCTION subcommands.")
def function_help(ctx: Ctx, argv: list[bytes]) -> Any:
    return help_reply(_HELP)


without_read_category(fcall_ro)

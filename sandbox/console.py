"""The console's text side: reading a command line as redis-cli does, refusing the
commands a sandbox must not run (and saying why), formatting replies exactly as
``redis-cli`` prints them on a terminal, and the help built from ``COMMAND DOCS``.

Pure functions, no I/O: tests compare ``format_reply`` with the real redis-cli.

A reply the link cut for display (``PartialArray``/``PartialBulk``, see
``sandbox.resp``) prints as the start of what redis-cli would print — the same
numbering, the same width — followed by one note that says how big the reply is
and how much is shown: ``(reply of 1000000 elements; showing the first 1000)``,
``(reply of 7000001 bytes; showing the first 65536)``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sandbox.engine.splitargs import UnbalancedQuotes
from sandbox.engine.splitargs import split_args as engine_split_args
from sandbox.resp import ErrorReply, PartialArray, PartialBulk, Reply, Status

# --------------------------------------------------------------------------------------
# Command lines (redis-cli's sdssplitargs)
# --------------------------------------------------------------------------------------


class BadCommandLine(ValueError):
    pass


def split_args(line: str) -> list[bytes]:
    """Split like redis-cli (the engine's ``sdssplitargs``, see sandbox.engine.splitargs):
    spaces separate; "double quotes" take \\n and \\xHH escapes; 'single quotes' take
    only \\'; a closing quote must end the argument.

    What the learner typed is UTF-8; a \\xHH escape is one raw byte.
    """
    try:
        return engine_split_args(line.encode())
    except UnbalancedQuotes as exc:
        raise BadCommandLine(str(exc)) from None


# --------------------------------------------------------------------------------------
# What the sandbox refuses, and why
# --------------------------------------------------------------------------------------

_WHY_ADMIN = "the sandbox's processes are run by the site; MemoryDB restricts it too"
REFUSED: dict[str, str] = {
    "SHUTDOWN": "Stopping a node is what the fault buttons are for (they kill it for real).",
    "DEBUG": "DEBUG can crash or freeze a node; use the fault buttons instead. MemoryDB restricts it.",
    "MIGRATE": "MIGRATE moves keys to another server; sandboxes reach no other server. MemoryDB restricts it.",
    "MODULE": "Loading modules runs native code on the host; MemoryDB restricts it.",
    "REPLICAOF": f"Replication is managed by the cluster: {_WHY_ADMIN}.",
    "SLAVEOF": f"Replication is managed by the cluster: {_WHY_ADMIN}.",
    "SYNC": f"SYNC is the replication handshake: {_WHY_ADMIN}.",
    "PSYNC": f"PSYNC is the replication handshake: {_WHY_ADMIN}.",
    "REPLCONF": f"REPLCONF is the replication handshake: {_WHY_ADMIN}.",
    "FAILOVER": "Failover is automatic here; crash the primary with the fault buttons to see it.",
    "BGSAVE": "Snapshots are taken off the data nodes, by the snapshotter; MemoryDB restricts BGSAVE.",
    "SAVE": "Snapshots are taken off the data nodes, by the snapshotter; MemoryDB restricts SAVE.",
    "BGREWRITEAOF": "Durability comes from the multi-zone journal, not an AOF; MemoryDB restricts it.",
    "MONITOR": "MONITOR streams every command forever; the web console shows one reply per command.",
    "SUBSCRIBE": "Subscriptions need a connection of their own; the web console shows one reply per command.",
    "PSUBSCRIBE": "Subscriptions need a connection of their own; the web console shows one reply per command.",
    "SSUBSCRIBE": "Subscriptions need a connection of their own; the web console shows one reply per command.",
    "AUTH": "The console is already signed in to your sandbox with a password only the server knows.",
    "HELLO": "The console speaks RESP2 and is already signed in; HELLO would change both.",
    "RESET": "RESET would sign the console out of your sandbox.",
    "QUIT": "Close the tab to leave; your sandbox keeps running.",
}
CLUSTER_ADMIN = frozenset(
    {
        "ADDSLOTS", "ADDSLOTSRANGE", "DELSLOTS", "DELSLOTSRANGE", "FLUSHSLOTS", "FAILOVER",
        "FORGET", "MEET", "REPLICATE", "RESET", "SETSLOT", "SET-CONFIG-EPOCH", "BUMPEPOCH",
        "SAVECONFIG", "SETTOPOLOGY",
    }
)  # fmt: skip
# What MemoryDB runs of ACL on its nodes: reading, never changing users.
ACL_READ_ONLY = frozenset({"WHOAMI", "USERS", "CAT", "LIST", "HELP"})
# The longest XREAD/XREADGROUP BLOCK the console accepts: well inside the time it
# waits for a reply (SandboxLimits.console_timeout_seconds, 10 s by default), after
# which it drops the connection.
CONSOLE_MAX_BLOCK_MS = 5000


def refusal(args: list[bytes]) -> str | None:
    """Why this command may not run in a sandbox, or None if it may."""
    if not args:
        return None
    name = args[0].decode("utf-8", "replace").upper()
    sub = args[1].decode("utf-8", "replace").upper() if len(args) > 1 else ""
    if name in REFUSED:
        return REFUSED[name]
    if name == "CLUSTER" and sub in CLUSTER_ADMIN:
        return (
            f"CLUSTER {sub} changes the cluster's layout, which the supervisor owns; "
            "MemoryDB restricts it too. Read-only CLUSTER subcommands work."
        )
    if name == "ACL" and sub not in ACL_READ_ONLY:
        return (
            f"ACL {sub or '(no subcommand)'} is not one MemoryDB runs: its nodes answer only ACL WHOAMI, "
            "USERS, CAT and LIST, and users are managed through its API. The site manages your "
            "sandbox's users the same way."
        )
    if name in ("XREAD", "XREADGROUP"):
        block = _block_ms(args)
        if block is not None and (block == 0 or block > CONSOLE_MAX_BLOCK_MS):
            wait = "forever" if block == 0 else f"{block} ms"
            return (
                f"BLOCK {block} would wait {wait} for new entries, but the web console runs one command "
                f"at a time and waits a few seconds at most for its reply. Use BLOCK {CONSOLE_MAX_BLOCK_MS} "
                "or less here, or run a long-lived consumer from a client of your own."
            )
    if name == "CONFIG":
        return (
            "MemoryDB restricts CONFIG: a cluster's settings live in its parameter group and "
            "change through the AWS API, not on a node. The sandbox follows that rule; INFO "
            "shows the values that matter (INFO memory for maxmemory)."
        )
    return None


def _block_ms(args: list[bytes]) -> int | None:
    """The BLOCK milliseconds of an XREAD/XREADGROUP line (options come before
    STREAMS), or None without a readable one (the node answers the errors)."""
    i = 1
    while i < len(args) - 1:
        option = args[i].upper()
        if option == b"STREAMS":
            return None
        if option == b"BLOCK":
            text = args[i + 1]
            return int(text) if text.isdigit() else None
        i += 3 if option == b"GROUP" else 2 if option == b"COUNT" else 1
    return None


_PASSWORD_HASH = re.compile(rb" #[0-9a-f]{64}")


def memorydb_view(args: list[bytes], reply: Any) -> Any:
    """The reply as MemoryDB shows it: its ACL LIST leaves out password hashes."""
    if len(args) == 2 and args[0].upper() == b"ACL" and args[1].upper() == b"LIST" and isinstance(reply, list):
        lines = [
            _PASSWORD_HASH.sub(b"", line) if isinstance(line, bytes) and not isinstance(line, PartialBulk) else line
            for line in reply
        ]
        return PartialArray(lines, reply.total) if isinstance(reply, PartialArray) else lines
    return reply


# --------------------------------------------------------------------------------------
# Replies, as redis-cli prints them on a terminal
# --------------------------------------------------------------------------------------


def _escape(byte: int) -> str:
    ch = chr(byte)
    if ch in ('\\', '"'):
        return "\\" + ch
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\a": "\\a", "\b": "\\b"}
    if ch in named:
        return named[ch]
    return ch if 32 <= byte < 127 else f"\\x{byte:02x}"


# One entry per byte value: str.translate escapes a string in C (a 64 KiB string of
# NULs in ~2 ms, where a Python loop over its bytes held the event loop 40 ms).
_REPR_TABLE = [_escape(byte) for byte in range(256)]


def _repr_bytes(data: bytes) -> str:
    """redis-cli's sdscatrepr: a quoted string with C-style escapes (a string cut
    for display has no closing quote: what is shown is where redis-cli's output begins)."""
    body = data.decode("latin-1").translate(_REPR_TABLE)
    return f'"{body}' if isinstance(data, PartialBulk) else f'"{body}"'


def prints_raw(args: list[bytes]) -> bool:
    """Whether redis-cli prints this command's reply raw even on a terminal: the
    commands whose reply is a report meant to be read as text (INFO, CLIENT LIST, ...)."""
    name = args[0].upper() if args else b""
    sub = args[1].upper() if len(args) > 1 else b""
    return (
        name in (b"INFO", b"LOLWUT")
        or (name == b"CLIENT" and sub in (b"LIST", b"INFO"))
        or (name == b"MEMORY" and sub in (b"DOCTOR", b"MALLOC-STATS"))
        or (name == b"CLUSTER" and len(args) == 2 and sub in (b"NODES", b"INFO"))
        or (name == b"LATENCY" and ((len(args) == 2 and sub == b"DOCTOR") or (len(args) == 3 and sub == b"GRAPH")))
    )


def format_raw(reply: Reply) -> str:
    """redis-cli's raw form: strings and errors as they are, array elements a line each."""
    if isinstance(reply, list):
        return "\n".join(format_raw(element) for element in reply)
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    if reply is None:
        return ""
    return str(reply)


def format_for(args: list[bytes], reply: Reply) -> str:
    """What redis-cli prints on a terminal for ``args``' reply, ending with a newline
    (a raw report ending in one already gets no second; its CRLFs show as lines)."""
    if prints_raw(args):
        text = format_raw(reply).replace("\r\n", "\n")
        text = text if text.endswith("\n") else text + "\n"
    else:
        text = format_reply(reply)
    note = cut_note(reply)
    return text if note is None else f"{text}{note}\n"


def cut_note(reply: Reply) -> str | None:
    """What the console says under a reply cut for display, or None for a whole one."""
    if isinstance(reply, PartialBulk):
        return f"(reply of {reply.total} bytes; showing the first {len(reply)})"
    if isinstance(reply, PartialArray):
        in_part = ", the last in part" if reply and isinstance(reply[-1], (PartialArray, PartialBulk)) else ""
        return f"(reply of {reply.total} elements; showing the first {len(reply)}{in_part})"
    return None


def fit_text(text: str, max_bytes: int) -> str:
    """``text``, or its first lines, so that it takes at most ``max_bytes`` as a JSON
    string: daphne closes a websocket (1011) rather than send a message over its
    limit. The display budget keeps replies well inside it; this is the backstop."""
    # No character takes more than 12 bytes in JSON (a \\uXXXX surrogate pair).
    if 12 * len(text) + 2 <= max_bytes or len(json.dumps(text)) <= max_bytes:
        return text
    note = f"(reply text longer than {max_bytes} bytes; showing its first lines)\n"
    room = max_bytes - len(json.dumps(note))
    kept: list[str] = []
    for line in text.splitlines(keepends=True):
        room -= len(json.dumps(line)) - 2
        if room < 0:
            break
        kept.append(line)
    return "".join(kept) + note


def format_reply(reply: Reply, prefix: str = "") -> str:
    """The text redis-cli prints for a reply, ending with a newline."""
    if isinstance(reply, ErrorReply):
        return f"(error) {reply}\n"
    if isinstance(reply, Status):
        return f"{reply}\n"
    if reply is None:
        return "(nil)\n"
    if isinstance(reply, bool):
        return f"({'true' if reply else 'false'})\n"
    if isinstance(reply, int):
        return f"(integer) {reply}\n"
    if isinstance(reply, float):
        return f"(double) {reply:.17g}\n"
    if isinstance(reply, bytes):
        return _repr_bytes(reply) + "\n"
    if isinstance(reply, list):
        if not reply:
            return "" if isinstance(reply, PartialArray) else "(empty array)\n"
        # A cut array is numbered for all its elements, as redis-cli numbers them.
        width = len(str(reply.total if isinstance(reply, PartialArray) else len(reply)))
        child_prefix = prefix + " " * (width + 2)
        lines = []
        for i, element in enumerate(reply):
            head = ("" if i == 0 else prefix) + f"{i + 1:>{width}}) "
            lines.append(head + format_reply(element, child_prefix))
        return "".join(lines)
    return f"{reply!r}\n"


# --------------------------------------------------------------------------------------
# Help from COMMAND DOCS
# --------------------------------------------------------------------------------------


def _pairs(value: Reply) -> dict[str, Reply]:
    """A RESP2 flat [k1, v1, k2, v2, ...] array as a dict with text keys."""
    if not isinstance(value, list):
        return {}
    return {
        (k.decode() if isinstance(k, bytes) else str(k)): v
        for k, v in zip(value[::2], value[1::2])
    }


def _text(value: Reply) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")


def argument_syntax(argument: dict[str, Reply]) -> str:
    """One argument as redis-cli's help writes it: ``[EX seconds | PX milliseconds]``."""
    kind = _text(argument.get("type"))
    token = _text(argument.get("token")) if argument.get("token") is not None else ""
    flags = {_text(f) for f in argument.get("flags") or []} if isinstance(argument.get("flags"), list) else set()
    children = [_pairs(a) for a in argument.get("arguments") or []] if isinstance(argument.get("arguments"), list) else []
    if kind == "pure-token":
        text = token
    elif kind == "oneof":
        text = " | ".join(argument_syntax(c) for c in children)
    elif kind == "block":
        text = " ".join(argument_syntax(c) for c in children)
    else:
        text = _text(argument.get("display_text")) or _text(argument.get("name"))
    if token and kind != "pure-token":
        text = f"{token} {text}"
    if "multiple" in flags:
        text = f"{text} [{text} ...]"
    if "optional" in flags:
        return f"[{text}]"
    if kind == "oneof" and len(children) > 1:
        return f"<{text}>"
    return text


def docs_from_reply(reply: Reply) -> dict[str, dict[str, str]]:
    """``COMMAND DOCS`` → {"SET": {"summary", "syntax", "group", "since", "complexity"}},
    subcommands flattened as "CONFIG GET"."""
    out: dict[str, dict[str, str]] = {}

    def add(name: str, doc: dict[str, Reply]) -> None:
        arguments = [_pairs(a) for a in doc.get("arguments") or []] if isinstance(doc.get("arguments"), list) else []
        out[name.upper().replace("|", " ")] = {
            "summary": _text(doc.get("summary")),
            "syntax": " ".join(argument_syntax(a) for a in arguments),
            "group": _text(doc.get("group")),
            "since": _text(doc.get("since")),
            "complexity": _text(doc.get("complexity")),
        }
        for sub_name, sub_doc in _pairs(doc.get("subcommands")).items():
            add(sub_name, _pairs(sub_doc))

    for name, doc in _pairs(reply).items():
        add(name, _pairs(doc))
    return dict(sorted(out.items()))


def reply_json(reply: Reply) -> Any:
    """A reply as plain JSON values (for lab checks and logs, not for display)."""
    if isinstance(reply, list):
        return [reply_json(r) for r in reply]
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    return reply

"""CONFIG: GET, SET, RESETSTAT, REWRITE, HELP over the node's runtime parameters.

Invariants:
* CONFIG SET is atomic: every pair is checked (names, then values, in Redis 7.0's
  order and with its error texts) before any value changes.
* Parameters are the node's ``params`` (config.py); this module only parses and
  validates what a client sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import errors
from ..context import Ctx
from ..encodings import refresh_limits
from ..errors import RedisError
from ..glob import match as glob_match
from ..resp import OK, Map, string2ll
from . import command, container
from .server import INT_MAX, LLONG_MAX, ULLONG_MAX, admin_state
from .util import help_reply

if TYPE_CHECKING:
    from ..server import Server


# ---------------------------------------------------------------------------
# CONFIG

container("config", "Read and change the node's runtime parameters.", "2.0.0", "server")

_CONFIG_HELP = [
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
]

_POLICIES = (
    "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru",
    "allkeys-lfu", "allkeys-random", "noeviction",
)
# How Redis 7.0 validates the parameters the engine has: (kind, low, high) for
# numbers, ("bool",) and ("enum", choices). Others fall back to Param's own check.
_RULES: dict[str, tuple] = {
    "maxmemory": ("memory", 0, ULLONG_MAX),
    "proto-max-bulk-len": ("memory", 1024 * 1024, LLONG_MAX),
    "client-query-buffer-limit": ("memory", 1024 * 1024, LLONG_MAX),
    "maxclients": ("int", 1, 4294967295),
    "hz": ("int", 0, INT_MAX),
    "timeout": ("int", 0, INT_MAX),
    "slowlog-log-slower-than": ("int", -1, LLONG_MAX),
    "slowlog-max-len": ("int", 0, LLONG_MAX),
    "min-replicas-to-write": ("int", 0, INT_MAX),
    "min-replicas-max-lag": ("int", 0, INT_MAX),
    "lazyfree-lazy-user-del": ("bool",),
    "lazyfree-lazy-user-flush": ("bool",),
    "maxmemory-policy": ("enum", _POLICIES),
    "maxmemory-samples": ("int", 1, INT_MAX),
    "lfu-log-factor": ("int", 0, INT_MAX),
    "lfu-decay-time": ("int", 0, INT_MAX),
    "latency-monitor-threshold": ("int", 0, LLONG_MAX),
    "hash-max-listpack-entries": ("int", 0, LLONG_MAX),
    "hash-max-listpack-value": ("memory", 0, LLONG_MAX),
    "zset-max-listpack-entries": ("int", 0, LLONG_MAX),
    "zset-max-listpack-value": ("memory", 0, LLONG_MAX),
    "list-max-listpack-size": ("int", -INT_MAX - 1, INT_MAX),
    "list-compress-depth": ("int", 0, INT_MAX),
    "set-max-intset-entries": ("int", 0, LLONG_MAX),
    "stream-node-max-bytes": ("memory", 0, LLONG_MAX),
    "stream-node-max-entries": ("int", 0, LLONG_MAX),
    "hll-sparse-max-bytes": ("memory", 0, LLONG_MAX),
    "requirepass": ("string",),
}
_MEMORY_UNITS = {b"": 1, b"b": 1, b"k": 1000, b"kb": 1024, b"m": 1000**2, b"mb": 1024**2, b"g": 1000**3, b"gb": 1024**3}


def _memtoull(value: bytes) -> int | None:
    """Redis's ``memtoull``: digits then an optional unit, nothing else."""
    digits = 0
    while digits < len(value) and 48 <= value[digits] <= 57:
        digits += 1
    mult = _MEMORY_UNITS.get(value[digits:].lower())
    if mult is None or digits == 0:
        return None
    v = int(value[:digits]) * mult
    return v if v <= ULLONG_MAX else None


def _config_error(name: str, why: str) -> RedisError:
    return errors.config_set_failed(name, why)


def _check_value(param: Any, value: bytes, server: "Server", shown: str = "") -> str:
    """The normalized value to store, or a RedisError with Redis's text (naming the
    parameter as the client did, lower-cased: an alias stays an alias)."""
    name = shown or param.name
    rule = _RULES.get(param.name)
    if rule is None:
        text = value.decode(errors="replace")
        if param.choices and text.lower() not in param.choices:
            if param.choices == ("yes", "no"):
                raise _config_error(name, "argument must be 'yes' or 'no'")
            raise _config_error(name, "argument(s) must be one of the following: " + ", ".join(param.choices))
        if param.parse is not None:
            try:
                param.parse(text)
            except ValueError:
                raise _config_error(name, "argument couldn't be parsed") from None
        return text.lower() if param.choices else text
    kind = rule[0]
    if kind in ("int", "memory"):
        if kind == "memory":
            n = _memtoull(value)
            if n is None:
                raise _config_error(name, "argument must be a memory value")
        else:
            n = string2ll(value)
            if n is None:
                raise _config_error(name, "argument couldn't be parsed into an integer")
        if not rule[1] <= n <= rule[2]:
            raise _config_error(name, f"argument must be between {rule[1]} and {rule[2]} inclusive")
        if param.name == "hz":
            n = min(max(n, 1), 500)  # Redis clamps the background frequency
        if param.parse is not None:
            try:
                param.parse(str(n))
            except ValueError:
                raise _config_error(name, "this engine doesn't support that value") from None
        return str(n)
    if kind == "bool":
        text = value.lower()
        if text not in (b"yes", b"no"):
            raise _config_error(name, "argument must be 'yes' or 'no'")
        return text.decode()
    if kind == "enum":
        text = value.decode(errors="replace").lower()
        if text not in rule[1]:
            raise _config_error(name, "argument(s) must be one of the following: " + ", ".join(rule[1]))
        if param.choices and text not in param.choices:
            raise _config_error(name, f"this engine only supports {', '.join(param.choices)}")
        return text
    return value.decode(errors="surrogateescape")


@command("config|get", -3, "admin noscript loading stale", group="server", since="2.0.0",
         complexity="O(N) when N is the number of configuration parameters provided",
         summary="Parameters whose names match any of the glob patterns, with their values.",
         args="parameter [parameter ...]")
def config_get(ctx: Ctx, argv: list[bytes]) -> Any:
    params = ctx.server.params.params
    found: dict[str, tuple[bytes, str]] = {}  # lower-case name -> (reply name, value)
    for pattern in argv[2:]:
        if not any(c in pattern for c in b"[*?"):
            key = pattern.decode(errors="replace").lower()
            if key in params and key not in found:
                found[key] = (pattern, params[key].value)
            continue
        for name, param in params.items():
            if name not in found and glob_match(pattern, name.encode(), nocase=True):
                found[name] = (name.encode(), param.value)
    return Map([(k, v.encode(errors="surrogateescape")) for k, v in found.values()])


@command("config|set", -4, "admin noscript loading stale", group="server", since="2.0.0",
         complexity="O(N) when N is the number of configuration parameters provided",
         summary="Change runtime parameters; all of them or none.",
         args="parameter value [parameter value ...]")
def config_set(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) % 2:
        raise errors.SYNTAX
    params = ctx.server.params.params
    chosen: list[tuple[Any, bytes, str]] = []
    seen: set[str] = set()
    for i in range(2, len(argv), 2):
        given = argv[i].decode(errors="replace")
        param = params.get(given.lower())
        if param is None:
            raise errors.config_set_unknown(given)
        if not param.mutable:
            raise _config_error(given, "can't set immutable config")
        # Redis checks duplicates by the name given: a name and its alias may both appear.
        if given.lower() in seen:
            raise _config_error(given, "duplicate parameter")
        seen.add(given.lower())
        chosen.append((param, argv[i + 1], given.lower()))
    values = [(param, _check_value(param, value, ctx.server, shown)) for param, value, shown in chosen]
    for param, value in values:
        param.value = value
    refresh_limits(ctx.server)
    return OK


@command("config|resetstat", 2, "admin noscript loading stale", group="server", since="2.0.0",
         summary="Reset the statistics INFO reports (commands, connections, hits, errors).")
def config_resetstat(ctx: Ctx, argv: list[bytes]) -> Any:
    stats = ctx.server.stats
    for name in vars(stats):
        setattr(stats, name, 0)
    for db in ctx.server.keyspace.dbs:
        db.hits = db.misses = 0
    ctx.server.telemetry.reset_stats()
    state = admin_state(ctx.server)
    state.peak_memory = 0
    state.ops_sample = (0.0, 0)
    state.ops_per_sec = 0
    return OK


@command("config|rewrite", 2, "admin noscript loading stale", group="server", since="2.8.0",
         summary="Would write the parameters back to the config file; this node has none.")
def config_rewrite(ctx: Ctx, argv: list[bytes]) -> Any:
    raise errors.CONFIG_NO_FILE


@command("config|help", 2, "loading stale", group="server", since="5.0.0", summary="Show the CONFIG subcommands.")
def config_help(ctx: Ctx, argv: list[bytes]) -> Any:
    return help_reply(_CONFIG_HELP)

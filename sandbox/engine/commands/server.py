"""Server administration: INFO, CONFIG, TIME, SWAPDB, MEMORY, SLOWLOG, SHUTDOWN,
LASTSAVE, the refused SAVE/BGSAVE/BGREWRITEAOF/DEBUG/MONITOR, and the keyspace-wide
writes FLUSHDB/FLUSHALL/DBSIZE.

Invariants:
* CONFIG SET is atomic: every pair is checked (names, then values, in Redis 7.0's
  order and with its error texts) before any value changes.
* Node-wide bookkeeping that the core doesn't keep (slowlog, peak memory, the
  ops/sec sample, the replication id) lives in ``AdminState``, one per ``Server``,
  created on first use.
* Snapshots are taken off-node from the transaction log in this engine (as in
  MemoryDB), so SAVE/BGSAVE answer an error instead of forking.
"""

from __future__ import annotations

import gc
import os
import platform
import resource
import sys
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import REDIS_COMPAT_VERSION, errors
from ..context import Ctx
from ..errors import RedisError
from ..glob import match as glob_match
from ..resp import OK, Double, Map, Verbatim, string2ll
from . import command, container
from .util import help_reply

if TYPE_CHECKING:
    from ..server import Server

LLONG_MAX = 2**63 - 1
ULLONG_MAX = 2**64 - 1
INT_MAX = 2**31 - 1


@dataclass
class AdminState:
    """Per-node bookkeeping for the commands of this module."""

    replid: str = field(default_factory=lambda: os.urandom(20).hex())
    lastsave: int = field(default_factory=lambda: int(time.time()))
    dirty_at_save: int = 0
    peak_memory: int = 0
    slowlog: deque = field(default_factory=deque)  # entries: [id, ts, usec, argv, addr, name]
    slowlog_next_id: int = 0
    ops_sample: tuple[float, int] = (0.0, 0)
    ops_per_sec: int = 0


_STATES: "weakref.WeakKeyDictionary[Server, AdminState]" = weakref.WeakKeyDictionary()


def admin_state(server: "Server") -> AdminState:
    state = _STATES.get(server)
    if state is None:
        state = _STATES[server] = AdminState(lastsave=int(server.start_time))
    return state


# ---------------------------------------------------------------------------
# FLUSHDB / FLUSHALL / DBSIZE / SWAPDB


def _flush_mode(argv: list[bytes]) -> None:
    if len(argv) > 2 or (len(argv) == 2 and argv[1].lower() not in (b"async", b"sync")):
        raise errors.SYNTAX


@command("flushdb", -1, "write", acl="@keyspace @dangerous", group="server", complexity="O(N) where N is the number of keys in the selected database",
         summary="Remove every key of the current database.", args="[ASYNC | SYNC]")
def flushdb(ctx: Ctx, argv: list[bytes]) -> Any:
    _flush_mode(argv)
    ctx.server.touch_watched_db(ctx.db.id)
    ctx.add_dirty(max(len(ctx.db), 1))
    ctx.db.clear()
    ctx.propagate([b"FLUSHDB"])
    return OK


@command("flushall", -1, "write", acl="@keyspace @dangerous", group="server", complexity="O(N) where N is the total number of keys in all databases",
         summary="Remove every key of every database.", args="[ASYNC | SYNC]")
def flushall(ctx: Ctx, argv: list[bytes]) -> Any:
    _flush_mode(argv)
    for db in ctx.server.keyspace.dbs:
        ctx.server.touch_watched_db(db.id)
        ctx.add_dirty(len(db))
        db.clear()
    ctx.add_dirty(1)
    ctx.propagate([b"FLUSHALL"])
    return OK


@command("dbsize", 1, "readonly fast", acl="@keyspace", group="server",
         summary="Number of keys in the current database.")
def dbsize(ctx: Ctx, argv: list[bytes]) -> Any:
    return len(ctx.db)


def _db_index(arg: bytes, error: RedisError, count: int) -> int:
    index = string2ll(arg)
    if index is None or not -(2**31) <= index <= INT_MAX:
        raise error
    if not 0 <= index < count:
        raise errors.DB_INDEX_OUT_OF_RANGE
    return index


@command("swapdb", 3, "write fast", acl="@keyspace @dangerous", since="4.0.0", group="server",
         complexity="O(N) where N is the count of clients watching or blocking on keys from both databases.",
         summary="Exchange the contents of two databases (clients keep their database number).",
         args="index1 index2")
def swapdb(ctx: Ctx, argv: list[bytes]) -> Any:
    server = ctx.server
    if server.config.cluster_enabled:
        raise errors.SWAPDB_IN_CLUSTER
    count = len(server.keyspace)
    a = _db_index(argv[1], errors.SWAPDB_FIRST_INDEX, count)
    b = _db_index(argv[2], errors.SWAPDB_SECOND_INDEX, count)
    if a != b:
        server.keyspace.swap(a, b)
        server.touch_watched_db(a)
        server.touch_watched_db(b)
    ctx.add_dirty(1)
    ctx.propagate([b"SWAPDB", b"%d" % a, b"%d" % b])
    return OK


# ---------------------------------------------------------------------------
# INFO

_DEFAULT_SECTIONS = (
    "server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules",
    "errorstats", "cluster", "keyspace",
)
_ALL_SECTIONS = (
    "server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules",
    "commandstats", "errorstats", "latencystats", "cluster", "keyspace",
)


def human_bytes(n: int) -> str:
    """Redis's bytesToHuman."""
    units = ((1024, "K"), (1024**2, "M"), (1024**3, "G"), (1024**4, "T"), (1024**5, "P"))
    if n < 1024:
        return f"{n}B"
    for i, (size, suffix) in enumerate(units):
        if i + 1 == len(units) or n < units[i + 1][0]:
            return "%.2f%s" % (n / size, suffix)
    return f"{n}B"


def _total_system_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


def _ops_per_sec(server: "Server", state: AdminState) -> int:
    """Commands per second since the previous sample (INFO calls refresh it)."""
    now = time.monotonic()
    then, count = state.ops_sample
    total = server.stats.total_commands_processed
    if then and now - then >= 0.1:
        state.ops_per_sec = int((total - count) / (now - then))
        state.ops_sample = (now, total)
    elif not then:
        state.ops_sample = (now, total)
    return state.ops_per_sec


def _section_server(server: "Server", state: AdminState) -> list[tuple[str, Any]]:
    now = time.time()
    uptime = int(now - server.start_time)
    uname = platform.uname()
    hz = server.params.get_int("hz")
    return [
        ("redis_version", REDIS_COMPAT_VERSION),
        ("redis_git_sha1", "00000000"),
        ("redis_git_dirty", 0),
        ("redis_build_id", server.info_version()),
        ("redis_mode", "cluster" if server.config.cluster_enabled else "standalone"),
        ("os", f"{uname.system} {uname.release} {uname.machine}"),
        ("arch_bits", 64 if sys.maxsize > 2**32 else 32),
        ("monotonic_clock", "POSIX clock_gettime"),
        ("multiplexing_api", "epoll" if sys.platform.startswith("linux") else "kqueue"),
        ("atomicvar_api", "c11-builtin"),
        ("gcc_version", "0.0.0"),
        ("process_id", os.getpid()),
        ("process_supervised", "no"),
        ("run_id", server.run_id),
        ("tcp_port", server.port),
        ("server_time_usec", int(now * 1_000_000)),
        ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400),
        ("hz", hz),
        ("configured_hz", hz),
        ("lru_clock", int(now) & ((1 << 24) - 1)),
        ("executable", sys.executable),
        ("config_file", ""),
        ("io_threads_active", 0),
    ]


def _section_clients(server: "Server", state: AdminState) -> list[tuple[str, Any]]:
    return [
        ("connected_clients", len(server.clients)),
        ("cluster_connections", 0),
        ("maxclients", server.params.get_int("maxclients")),
        ("client_recent_max_input_buffer", 0),
        ("client_recent_max_output_buffer", 0),
        ("blocked_clients", sum(1 for c in server.clients.values() if c.blocked)),
        ("tracking_clients", 0),
        ("clients_in_timeout_table", 0),
    ]


def _section_memory(server: "Server", state: AdminState) -> list[tuple[str, Any]]:
    used = server.used_memory()
    state.peak_memory = max(state.peak_memory, used)
    peak = state.peak_memory
    maxmemory = server.config_maxmemory()
    system = _total_system_memory()
    return [
        ("used_memory", used),
        ("used_memory_human", human_bytes(used)),
        ("used_memory_rss", used),
        ("used_memory_rss_human", human_bytes(used)),
        ("used_memory_peak", peak),
        ("used_memory_peak_human", human_bytes(peak)),
        ("used_memory_peak_perc", "%.2f%%" % (used * 100 / peak if peak else 100.0)),
        ("total_system_memory", system),
        ("total_system_memory_human", human_bytes(system)),
        ("maxmemory", maxmemory),
        ("maxmemory_human", human_bytes(maxmemory)),
        ("maxmemory_policy", server.params.get("maxmemory-policy")),
        ("mem_fragmentation_ratio", "1.00"),
        ("mem_allocator", "pymalloc"),
        ("lazyfree_pending_objects", 0),
    ]


def _section_persistence(server: "Server", state: AdminState) -> list[tuple[str, Any]]:
    return [
        ("loading", 0),
        ("async_loading", 0),
        ("rdb_changes_since_last_save", server.dirty - state.dirty_at_save),
        ("rdb_bgsave_in_progress", 0),
        ("rdb_last_save_time", state.lastsave),
        ("rdb_last_bgsave_status", "ok"),
        ("rdb_last_bgsave_time_sec", -1),
        ("rdb_current_bgsave_time_sec", -1),
        ("rdb_saves", 0),
        ("aof_enabled", 0),
        ("aof_rewrite_in_progress", 0),
        ("aof_rewrite_scheduled", 0),
        ("aof_last_rewrite_time_sec", -1),
        ("aof_current_rewrite_time_sec", -1),
        ("aof_last_bgrewrite_status", "ok"),
        ("aof_last_write_status", "ok"),
    ]


def _section_stats(server: "Server", state: AdminState) -> list[tuple[str, Any]]:
    s = server.stats
    pubsub = server.pubsub
    repl = getattr(server, "replication", None)
    syncs = repl.stats if repl is not None else None
    return [
        ("total_connections_received", s.total_connections_received),
        ("total_commands_processed", s.total_commands_processed),
        ("instantaneous_ops_per_sec", _ops_per_sec(server, state)),
        ("total_net_input_bytes", s.total_net_input_bytes),
        ("total_net_output_bytes", s.total_net_output_bytes),
        ("instantaneous_input_kbps", "0.00"),
        ("instantaneous_output_kbps", "0.00"),
        ("rejected_connections", s.rejected_connections),
        ("sync_full", syncs.full if syncs else 0),
        ("sync_partial_ok", syncs.partial_ok if syncs else 0),
        ("sync_partial_err", syncs.partial_err if syncs else 0),
        ("expired_keys", s.expired_keys),
        ("expired_stale_perc", "0.00"),
        ("expired_time_cap_reached_count", s.expired_time_cap_reached_count),
        ("expire_cycle_cpu_milliseconds", s.expire_cycle_cpu_us // 1000),
        ("evicted_keys", 0),
        ("evicted_clients", 0),
        ("keyspace_hits", s.keyspace_hits),
        ("keyspace_misses", s.keyspace_misses),
        ("pubsub_channels", len(pubsub.channels)),
        ("pubsub_patterns", len(pubsub.patterns)),
        ("pubsubshard_channels", len(pubsub.shard_channels)),
        ("latest_fork_usec", 0),
        ("total_forks", 0),
        ("tracking_total_keys", 0),
        ("tracking_total_items", 0),
        ("tracking_total_prefixes", 0),
        ("unexpected_error_replies", 0),
        ("total_error_replies", s.total_error_replies),
    ]


def _section_replication(server: "Server", state: AdminState) -> list[tuple[str, Any]]:
    # Cache mode (or a node that replicas connected to) describes itself; otherwise a
    # lone primary. A durability layer may add or override fields (``server.repl_info``).
    repl = getattr(server, "replication", None)
    if repl is not None:
        fields = repl.info_fields()
    else:
        fields = [
            ("role", "slave" if server.read_only else "master"),
            ("connected_slaves", 0),
            ("master_failover_state", "no-failover"),
            ("master_replid", state.replid),
            ("master_replid2", "0" * 40),
            ("master_repl_offset", 0),
            ("second_repl_offset", -1),
            ("repl_backlog_active", 0),
            ("repl_backlog_size", 1048576),
            ("repl_backlog_first_byte_offset", 0),
            ("repl_backlog_histlen", 0),
        ]
    extra = getattr(server, "repl_info", None)
    if callable(extra):
        overrides = dict(extra())
        fields = [(k, overrides.pop(k, v)) for k, v in fields] + list(overrides.items())
    return fields


def _section_cpu(server: "Server", state: AdminState) -> list[tuple[str, Any]]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    thread = resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF))
    return [
        ("used_cpu_sys", "%.6f" % me.ru_stime),
        ("used_cpu_user", "%.6f" % me.ru_utime),
        ("used_cpu_sys_children", "%.6f" % children.ru_stime),
        ("used_cpu_user_children", "%.6f" % children.ru_utime),
        ("used_cpu_sys_main_thread", "%.6f" % thread.ru_stime),
        ("used_cpu_user_main_thread", "%.6f" % thread.ru_utime),
    ]


def _section_cluster(server: "Server", state: AdminState) -> list[tuple[str, Any]]:
    return [("cluster_enabled", 1 if server.config.cluster_enabled else 0)]


def _section_keyspace(server: "Server", state: AdminState) -> list[tuple[str, Any]]:
    return [
        (f"db{db.id}", f"keys={len(db)},expires={len(db.expires)},avg_ttl=0")
        for db in server.keyspace.dbs if len(db)
    ]


def _empty(server: "Server", state: AdminState) -> list[tuple[str, Any]]:
    return []  # sections the engine doesn't measure (per-command stats, modules)


_SECTIONS = {
    "server": ("Server", _section_server),
    "clients": ("Clients", _section_clients),
    "memory": ("Memory", _section_memory),
    "persistence": ("Persistence", _section_persistence),
    "stats": ("Stats", _section_stats),
    "replication": ("Replication", _section_replication),
    "cpu": ("CPU", _section_cpu),
    "modules": ("Modules", _empty),
    "commandstats": ("Commandstats", _empty),
    "errorstats": ("Errorstats", _empty),
    "latencystats": ("Latencystats", _empty),
    "cluster": ("Cluster", _section_cluster),
    "keyspace": ("Keyspace", _section_keyspace),
}


def info_text(server: "Server", names: list[str]) -> str:
    """INFO's text for the requested section names (Redis's order, no duplicates)."""
    wanted: set[str] = set()
    for name in names or ["default"]:
        name = name.lower()
        if name in ("all", "everything"):
            wanted.update(_ALL_SECTIONS)
        elif name == "default":
            wanted.update(_DEFAULT_SECTIONS)
        elif name in _SECTIONS:
            wanted.add(name)
    state = admin_state(server)
    parts = []
    for name in _ALL_SECTIONS:
        if name in wanted:
            title, fields = _SECTIONS[name]
            parts.append(f"# {title}\r\n" + "".join(f"{k}:{v}\r\n" for k, v in fields(server, state)))
    return "\r\n".join(parts)


@command("info", -1, "loading stale", acl="@dangerous", group="server",
         complexity="O(1)", summary="Node information and statistics, by section (server, clients, memory, persistence, stats, replication, cpu, cluster, keyspace).",
         args="[section [section ...]]")
def info(ctx: Ctx, argv: list[bytes]) -> Any:
    names = [a.decode(errors="replace") for a in argv[1:]]
    return Verbatim(info_text(ctx.server, names).encode())


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


def _check_value(param: Any, value: bytes, server: "Server") -> str:
    """The normalized value to store, or a RedisError with Redis's text."""
    name = param.name
    rule = _RULES.get(name)
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
        if name == "hz":
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
    chosen: list[tuple[Any, bytes]] = []
    seen: set[str] = set()
    for i in range(2, len(argv), 2):
        given = argv[i].decode(errors="replace")
        param = params.get(given.lower())
        if param is None:
            raise errors.config_set_unknown(given)
        if not param.mutable:
            raise _config_error(given, "can't set immutable config")
        if param.name in seen:
            raise _config_error(given, "duplicate parameter")
        seen.add(param.name)
        chosen.append((param, argv[i + 1]))
    values = [(param, _check_value(param, value, ctx.server)) for param, value in chosen]
    for param, value in values:
        param.value = value
    return OK


@command("config|resetstat", 2, "admin noscript loading stale", group="server", since="2.0.0",
         summary="Reset the statistics INFO reports (commands, connections, hits, errors).")
def config_resetstat(ctx: Ctx, argv: list[bytes]) -> Any:
    stats = ctx.server.stats
    for name in vars(stats):
        setattr(stats, name, 0)
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


# ---------------------------------------------------------------------------
# TIME, LASTSAVE, SAVE/BGSAVE, SHUTDOWN, DEBUG, MONITOR


@command("time", 1, "loading stale fast", group="server", since="2.6.0",
         summary="The node's clock: unix seconds and the microseconds within that second.")
def time_(ctx: Ctx, argv: list[bytes]) -> Any:
    usec = int(ctx.server.clock() * 1_000_000)
    return [b"%d" % (usec // 1_000_000), b"%d" % (usec % 1_000_000)]


@command("lastsave", 1, "loading stale fast", acl="@admin @dangerous", since="1.0.0", group="server",
         summary="Unix time of the last successful snapshot (the node's start: snapshots are taken off-node).")
def lastsave(ctx: Ctx, argv: list[bytes]) -> Any:
    return admin_state(ctx.server).lastsave


def _no_snapshots(name: str) -> RedisError:
    return errors.no_snapshots(name)


@command("save", 1, "admin noscript no_async_loading no_multi", group="server",
         summary="Refused: snapshots are taken off-node from the transaction log in this engine.")
def save(ctx: Ctx, argv: list[bytes]) -> Any:
    raise _no_snapshots("SAVE")


@command("bgsave", -1, "admin noscript no_async_loading", group="server",
         summary="Refused: snapshots are taken off-node from the transaction log in this engine.",
         args="[SCHEDULE]")
def bgsave(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) > 2 or (len(argv) == 2 and argv[1].lower() != b"schedule"):
        raise errors.SYNTAX
    raise _no_snapshots("BGSAVE")


@command("bgrewriteaof", 1, "admin noscript no_async_loading", group="server",
         summary="Refused: the node has no append-only file; its durability is the transaction log.")
def bgrewriteaof(ctx: Ctx, argv: list[bytes]) -> Any:
    raise errors.BGREWRITEAOF_UNAVAILABLE


@command("shutdown", -1, "admin noscript loading stale no_multi allow_busy", group="server",
         complexity="O(N) when saving, where N is the total number of keys in all databases",
         summary="Stop the node: close every connection and the listening socket.",
         args="[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]")
def shutdown(ctx: Ctx, argv: list[bytes]) -> Any:
    opts = set()
    for arg in argv[1:]:
        opt = arg.lower()
        if opt not in (b"nosave", b"save", b"now", b"force", b"abort"):
            raise errors.SYNTAX
        opts.add(opt)
    if {b"nosave", b"save"} <= opts or (b"abort" in opts and len(argv) > 2):
        raise errors.SYNTAX
    if b"abort" in opts:
        raise errors.SHUTDOWN_NOT_IN_PROGRESS
    server = ctx.server
    server.log_event("User requested shutdown...")
    hook = getattr(server, "on_shutdown", None)
    if callable(hook):
        hook()  # the process that owns the node stops it (the CLI's node exits)
    else:
        import asyncio

        try:
            asyncio.get_running_loop().create_task(server.stop())
        except RuntimeError:
            raise errors.SHUTDOWN_FAILED from None
    # Like Redis, no reply: the connection just closes.
    ctx.client.kill()
    return OK


@command("debug", -2, "admin noscript loading stale", group="server",
         summary="Refused: DEBUG is not available on this engine.", args="subcommand [argument [argument ...]]")
def debug(ctx: Ctx, argv: list[bytes]) -> Any:
    raise errors.DEBUG_UNSUPPORTED


@command("monitor", 1, "admin noscript loading stale", group="server", since="1.0.0",
         summary="Refused: this engine doesn't stream the commands it processes.")
def monitor(ctx: Ctx, argv: list[bytes]) -> Any:
    raise errors.MONITOR_UNSUPPORTED


# ---------------------------------------------------------------------------
# SLOWLOG

container("slowlog", "Read or reset the log of slow commands.", "2.2.12", "server")

_SLOWLOG_HELP = [
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
]


@command("slowlog|get", -2, "admin loading stale", group="server", since="2.2.12",
         complexity="O(N) where N is the number of entries returned",
         summary="The most recent slow-command entries (10 by default, -1 for all).", args="[count]")
def slowlog_get(ctx: Ctx, argv: list[bytes]) -> Any:
    count = 10
    if len(argv) > 3:
        raise errors.subcommand_syntax_error(argv, "slowlog")
    if len(argv) == 3:
        n = string2ll(argv[2])
        if n is None or n < -1:
            raise errors.SLOWLOG_COUNT
        count = n
    entries = list(admin_state(ctx.server).slowlog)
    return entries if count == -1 else entries[:count]


@command("slowlog|len", 2, "admin loading stale", group="server", since="2.2.12",
         summary="Number of entries in the slow-command log.")
def slowlog_len(ctx: Ctx, argv: list[bytes]) -> Any:
    return len(admin_state(ctx.server).slowlog)


@command("slowlog|reset", 2, "admin loading stale", group="server", since="2.2.12",
         complexity="O(N) where N is the number of entries in the slowlog",
         summary="Empty the slow-command log.")
def slowlog_reset(ctx: Ctx, argv: list[bytes]) -> Any:
    admin_state(ctx.server).slowlog.clear()
    return OK


@command("slowlog|help", 2, "loading stale", group="server", since="6.2.0", summary="Show the SLOWLOG subcommands.")
def slowlog_help(ctx: Ctx, argv: list[bytes]) -> Any:
    return help_reply(_SLOWLOG_HELP)


# ---------------------------------------------------------------------------
# MEMORY

container("memory", "Inspect how the node uses memory.", "4.0.0", "server")

_MEMORY_HELP = [
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
]


def value_size(key: bytes, value: Any, samples: int) -> int:
    """Estimated bytes held for ``key``: Python's size of the key and the value
    object, plus the elements of a container, measured on up to ``samples`` of them
    (0 = all) and extrapolated to its length, as Redis's MEMORY USAGE samples."""
    size = sys.getsizeof(key) + sys.getsizeof(value)
    if isinstance(value, (bytes, bytearray)):
        return size
    scores = getattr(value, "scores", None)
    elements: Any = scores if scores is not None else value
    n = len(elements)
    if not n:
        return size
    taken, sampled = 0, 0
    items = elements.items() if isinstance(elements, dict) else elements
    for item in items:
        if isinstance(item, tuple):
            taken += sum(sys.getsizeof(part) for part in item)
        else:
            taken += sys.getsizeof(item)
        sampled += 1
        if samples and sampled >= samples:
            break
    per_element = taken / sampled
    if scores is not None:
        per_element *= 2  # the score index holds each member a second time
    return size + int(per_element * n)


@command("memory|usage", -3, "readonly", keys=(2, 2, 1), group="server", since="4.0.0",
         complexity="O(N) where N is the number of samples.",
         summary="Estimated bytes a key and its value take in this process (containers are sampled).",
         args="key [SAMPLES count]", key_flags=("RO",))
def memory_usage(ctx: Ctx, argv: list[bytes]) -> Any:
    samples = 5
    i = 3
    while i < len(argv):
        if argv[i].lower() == b"samples" and i + 1 < len(argv):
            samples = string2ll(argv[i + 1])  # type: ignore[assignment]
            if samples is None:
                raise errors.NOT_INTEGER
            if samples < 0:
                raise errors.SYNTAX
            i += 2
        else:
            raise errors.SYNTAX
    value = ctx.lookup(argv[2])
    if value is None:
        return None
    return value_size(argv[2], value, samples)


@command("memory|stats", 2, "", group="server", since="4.0.0",
         summary="Memory figures of the node: process size, peak, dataset estimate, keys.")
def memory_stats(ctx: Ctx, argv: list[bytes]) -> Any:
    server = ctx.server
    state = admin_state(server)
    used = server.used_memory()
    state.peak_memory = max(state.peak_memory, used)
    keys = sum(len(db) for db in server.keyspace.dbs)
    pairs: list[tuple[bytes, Any]] = [
        (b"peak.allocated", state.peak_memory),
        (b"total.allocated", used),
        (b"startup.allocated", 0),
        (b"replication.backlog", 0),
        (b"clients.slaves", 0),
        (b"clients.normal", 0),
        (b"cluster.links", 0),
        (b"aof.buffer", 0),
        (b"lua.caches", 0),
        (b"functions.caches", 0),
    ]
    for db in server.keyspace.dbs:
        if len(db):
            pairs.append((b"db.%d" % db.id, Map([
                (b"overhead.hashtable.main", sys.getsizeof(db.data)),
                (b"overhead.hashtable.expires", sys.getsizeof(db.expires)),
            ])))
    pairs += [
        (b"overhead.total", 0),
        (b"keys.count", keys),
        (b"keys.bytes-per-key", used // keys if keys else 0),
        (b"dataset.bytes", used),
        (b"dataset.percentage", Double(100.0)),
        (b"peak.percentage", Double(used * 100 / state.peak_memory if state.peak_memory else 100.0)),
        (b"fragmentation", Double(1.0)),
        (b"fragmentation.bytes", 0),
    ]
    return Map(pairs)


@command("memory|doctor", 2, "", group="server", since="4.0.0",
         summary="A short report on the node's memory use.")
def memory_doctor(ctx: Ctx, argv: list[bytes]) -> Any:
    server = ctx.server
    used = server.used_memory()
    limit = server.config_maxmemory()
    if limit and used > limit * 0.9:
        text = (f"Sam, this node uses {human_bytes(used)} of its {human_bytes(limit)} maxmemory: "
                "writes will soon be refused with OOM.\n")
    else:
        text = (f"Hi Sam, I can't find any memory issue in your instance. "
                f"It uses {human_bytes(used)} of process memory. I can only account for what is "
                "measured here, please stay alert.\n")
    return Verbatim(text.encode())


@command("memory|malloc-stats", 2, "", group="server", since="4.0.0",
         summary="Allocator statistics (not available for Python's allocator).")
def memory_malloc_stats(ctx: Ctx, argv: list[bytes]) -> Any:
    return Verbatim(b"Stats not supported for the current allocator")


@command("memory|purge", 2, "", group="server", since="4.0.0",
         summary="Run a garbage collection so freed memory can return to the allocator.")
def memory_purge(ctx: Ctx, argv: list[bytes]) -> Any:
    gc.collect()
    return OK


@command("memory|help", 2, "loading stale", group="server", since="4.0.0", summary="Show the MEMORY subcommands.")
def memory_help(ctx: Ctx, argv: list[bytes]) -> Any:
    return help_reply(_MEMORY_HELP)


"""INFO: the node described in Redis 7.0's sections and field names.

Invariants:
* Sections, their order and their field names are Redis 7.0's, so tools that read
  INFO (redis-cli, redis-py, the lessons' checks) find what they expect; values
  this engine doesn't have are Redis's idle defaults (0, "").
* Node-wide bookkeeping comes from ``server.AdminState`` (peak memory, the
  ops/sec sample, the replication id); nothing here keeps state of its own.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from typing import TYPE_CHECKING, Any

from .. import REDIS_COMPAT_VERSION
from ..context import Ctx
from ..latency import commandstats_fields, errorstats_fields, latencystats_fields
from ..resp import Verbatim
from . import command
from .server import AdminState, admin_state

if TYPE_CHECKING:
    from ..server import Server


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
    sync_full, sync_partial_ok, sync_partial_err = server.role.sync_counts()
    return [
        ("total_connections_received", s.total_connections_received),
        ("total_commands_processed", s.total_commands_processed),
        ("instantaneous_ops_per_sec", _ops_per_sec(server, state)),
        ("total_net_input_bytes", s.total_net_input_bytes),
        ("total_net_output_bytes", s.total_net_output_bytes),
        ("instantaneous_input_kbps", "0.00"),
        ("instantaneous_output_kbps", "0.00"),
        ("rejected_connections", s.rejected_connections),
        ("sync_full", sync_full),
        ("sync_partial_ok", sync_partial_ok),
        ("sync_partial_err", sync_partial_err),
        ("expired_keys", s.expired_keys),
        ("expired_stale_perc", "0.00"),
        ("expired_time_cap_reached_count", s.expired_time_cap_reached_count),
        ("expire_cycle_cpu_milliseconds", s.expire_cycle_cpu_us // 1000),
        ("evicted_keys", s.evicted_keys),
        ("evicted_clients", 0),
        ("keyspace_hits", sum(db.hits for db in server.keyspace.dbs)),
        ("keyspace_misses", sum(db.misses for db in server.keyspace.dbs)),
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
    # The node's role describes itself: a lone primary, cache replication, the journal.
    return server.role.info_fields()


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
    return []  # sections the engine doesn't measure (modules)


_SECTIONS = {
    "server": ("Server", _section_server),
    "clients": ("Clients", _section_clients),
    "memory": ("Memory", _section_memory),
    "persistence": ("Persistence", _section_persistence),
    "stats": ("Stats", _section_stats),
    "replication": ("Replication", _section_replication),
    "cpu": ("CPU", _section_cpu),
    "modules": ("Modules", _empty),
    "commandstats": ("Commandstats", lambda server, state: commandstats_fields(server)),
    "errorstats": ("Errorstats", lambda server, state: errorstats_fields(server)),
    "latencystats": ("Latencystats", lambda server, state: latencystats_fields(server)),
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

"""MEMORY: USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE, HELP.

Invariants:
* Sizes are estimates of this process's Python objects, computed the way Redis
  samples containers (``MEMORY USAGE key SAMPLES n``), so they move as Redis's do
  when values grow, without matching its allocator byte for byte.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

from .. import errors
from ..context import Ctx
from ..resp import OK, Double, Map, Verbatim, string2ll
from . import command, container
from .info import human_bytes
from .server import admin_state
from .util import help_reply


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

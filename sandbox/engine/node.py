"""A cache-mode data node (``python -m sandbox.engine node --mode cache ...``): the
ElastiCache comparison.

The node serves clients like any data node and replicates asynchronously
(``replication``): as a primary it acknowledges writes once applied in memory; with
``replica_of`` it starts as a replica of that primary. It never decides a failover
itself: the supervisor SIGKILLs or loses a primary, reads every replica's offset
with ``INFO replication``, sends ``REPLICAOF NO ONE`` to the most advanced one,
``REPLICAOF host port`` to the others, and pushes the new topology.

Events (one dict per call of ``emit``; the CLI prints each as a JSON line): first
``ready``, then ``role_changed``, ``replica_connected``, ``replica_synced``,
``replica_disconnected``, ``sync_done``, ``link_down``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Callable

from .config import NodeConfig, _parse_memory
from .replication import DEFAULT_BACKLOG_SIZE, Replication
from .server import Server

Emit = Callable[[dict[str, Any]], None]


def backlog_size(cfg: NodeConfig) -> int:
    """``repl-backlog-size`` from the node's passthrough config (bytes or 1mb-style)."""
    value = cfg.engine.extra.get("repl-backlog-size")
    return _parse_memory(value) if value else DEFAULT_BACKLOG_SIZE


async def run_cache_node(cfg: NodeConfig, emit: Emit) -> None:
    """Serve until SHUTDOWN or cancellation (the CLI cancels on SIGTERM/SIGINT)."""
    if cfg.data_dir:
        os.makedirs(cfg.data_dir, exist_ok=True)  # cache mode keeps nothing on disk; the dir is for logs
    stop = asyncio.Event()
    server = Server(cfg.engine, on_shutdown=stop.set)  # SHUTDOWN ends the process like a signal
    port = await server.start()
    repl = Replication(server, emit=emit, backlog_size=backlog_size(cfg), delay_ms=cfg.replication_delay_ms)
    if cfg.replica_of is not None:
        repl.follow(*cfg.replica_of, announce=False)
    emit({"event": "ready", "host": cfg.engine.bind, "port": port, "pid": os.getpid(), "node": server.node_id,
          "role": repl.role, "mode": "cache", "shard": cfg.shard, "zone": cfg.zone})
    try:
        await stop.wait()
    finally:
        await server.stop()  # closes its role (the replication links) first

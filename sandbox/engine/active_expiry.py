"""Active expiry: a node deletes keys whose TTL passed even if nobody reads them.

Runs from the node's cron (``hz`` times a second). Only a node that decides expiry
itself (``server.expires_locally``: a primary, standalone or durable leader) deletes;
each deletion is logged as ``DEL`` so replicas and the journal see the same data.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import Server


def active_expire_cycle(server: "Server") -> int:
    """Delete keys whose TTL passed even if nobody reads them.

    Works in batches until no key is due or the cycle's budget is spent, so
    a burst of expiries is cleared quickly while each cycle stays short enough
    that clients never wait long behind it. The budget is wall time (a cycle
    that was preempted yields sooner); what a cycle cost is measured as this
    thread's CPU time, so the stats say what the cycle did, not how busy the host was.
    """
    if not server.expires_locally:
        return 0
    cpu_started = time.thread_time_ns()
    now_ms = int(server.clock() * 1000)
    deadline = time.perf_counter() + server.config.active_expire_budget_ms / 1000
    batch = server.config.active_expire_keys_per_cycle
    removed = 0
    capped = False
    for db in server.keyspace.dbs:
        while db.expires:
            due = db.due_expiries(now_ms, batch)
            for key in due:
                db.remove(key)
                server.stats.expired_keys += 1
                server.touch_watched([(db.id, key)])
                if server.log is not None:
                    server.log.append(db.id, [[b"DEL", key]], [(db.id, key)])
            removed += len(due)
            if len(due) < batch:
                break
            if time.perf_counter() > deadline:
                capped = True  # stopped with due keys possibly left
                break
        if capped or time.perf_counter() > deadline:
            break
    stats = server.stats
    stats.expired_time_cap_reached_count += capped
    used_us = (time.thread_time_ns() - cpu_started) // 1000
    stats.expire_cycle_cpu_us += used_us
    stats.expire_cycle_cpu_max_us = max(stats.expire_cycle_cpu_max_us, used_us)
    return removed

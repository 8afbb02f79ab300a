"""What the page shows of a running sandbox besides events: each node's place in its
shard's stream (INFO replication), each journal replica's commit index (JROLE), and
the journal lane built from them — for every replica, the newest acknowledged write
it has applied and how many it still lacks.

An async-writes primary (the third lane) also reports its durability buffer (how
old its oldest write not yet in the journal is, how many wait): ``buffer_fields``.

The journal replicas are asked over links logged in with the cluster's journal
secret (``LiveSandbox.journal_secret``, which the lifecycle made and the supervisor
hands its processes in a 0600 file); it stays on the server like the ACL users.

A replica's position is a journal entry (durable) or a byte offset (cache); while a
load runs, ``mark_primaries`` samples each primary's position every
``MARK_INTERVAL_S`` next to the newest write acknowledged on that shard, which turns
a replica's position into write numbers (``WriteLoad.applied_through``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable

from sandbox.cluster_client import ClusterClient
from sandbox.resp import LinkDown, NodeLink

if TYPE_CHECKING:
    from sandbox.live import LiveSandbox
    from sandbox.load import WriteLoad

BUFFER_INFO_SECTION = "replication"  # where a durable node's INFO puts its durability buffer
MARK_INTERVAL_S = 0.2  # primary position samples for the journal lane, while a load runs


async def node_stats(live: LiveSandbox, now_ms: int) -> dict[str, Any]:
    """Each node's stream position and lag, each journal's commit index, and the
    journal lane: how far each replica has applied the acknowledged writes."""
    out: dict[str, Any] = {"type": "stats", "ts": now_ms, "clusters": {}}
    for name, topology in live.topologies().items():
        probe = live.clients.probe[name]
        data = [p for p in topology.data_nodes() if p.running]
        infos = await asyncio.gather(*(replication_info(probe, p.address) for p in data), return_exceptions=True)
        nodes: dict[str, Any] = {}
        for proc, fields in zip(data, infos):
            if isinstance(fields, BaseException):
                continue
            nodes[proc.id] = position(name, fields) | {"role": proc.role, "shard": proc.shard}
            buffer = buffer_fields(fields)
            if buffer is not None and proc.is_primary:
                nodes[proc.id]["buffer"] = buffer
        journals = {}
        for proc in topology.journals():
            if proc.running:
                role = await journal_role(live, proc.port)
                if role is not None:
                    journals[proc.zone] = role
        out["clusters"][name] = {"nodes": nodes, "journals": journals, "lane": lane(live, name, nodes)}
    if live.lab.load is not None:
        out["load"] = live.lab.load.progress()
    return out


def lane(live: LiveSandbox, cluster: str, nodes: dict[str, Any]) -> dict[str, Any] | None:
    """Per shard: the newest acknowledged write, and for each replica the newest
    write it has applied and how many acknowledged writes it still lacks."""
    load = live.lab.load
    if load is None:
        return None
    ledger = load.ledgers[cluster]
    shards: dict[str, Any] = {}
    for shard in range(live.shape["shards"]):
        replicas = {}
        for node_id, info in nodes.items():
            if info["shard"] != shard or info["role"] == "primary":
                continue
            applied = load.applied_through(cluster, shard, info["position"])
            replicas[node_id] = {
                "applied": int(applied),
                "missing": ledger.acked_after(shard, applied) if applied >= 0 else None,
            }
        shards[str(shard)] = {"acknowledged": ledger.last_on(shard), "replicas": replicas}
    return {"shards": shards}


async def mark_primaries(live: LiveSandbox, load: WriteLoad, watched: Callable[[], bool]) -> None:
    """While a load runs, sample each primary's stream position often, so that a
    replica's position translates into acknowledged writes (the journal lane)."""
    while load.running and live.handle is not None:
        if not watched():
            await asyncio.sleep(MARK_INTERVAL_S)
            continue  # nobody sees the lane
        for name, topology in live.topologies().items():
            primaries = [p for p in topology.data_nodes() if p.is_primary and p.running]
            infos = await asyncio.gather(
                *(replication_info(live.clients.probe[name], p.address) for p in primaries),
                return_exceptions=True,
            )
            for proc, fields in zip(primaries, infos):
                if not isinstance(fields, BaseException):
                    load.mark(name, int(proc.shard or 0), position(name, fields)["position"])
        await asyncio.sleep(MARK_INTERVAL_S)


async def replication_info(probe: ClusterClient, address: tuple[str, int]) -> dict[str, str]:
    reply = await asyncio.wait_for(probe.call(address, "INFO", "replication"), 1.0)
    if not isinstance(reply, bytes):
        raise LinkDown(str(reply))
    fields = {}
    for line in reply.decode("utf-8", "replace").splitlines():
        if ":" in line:
            key, _, value = line.partition(":")
            fields[key] = value
    return fields


def position(cluster: str, fields: dict[str, str]) -> dict[str, Any]:
    """A node's place in its shard's stream: journal entries (durable) or bytes (cache)."""
    def number(name: str) -> int:
        try:
            return int(fields.get(name, "0"))
        except ValueError:
            return 0

    if cluster in ("durable", "async"):
        return {
            "position": number("journal_applied"),
            "tail": number("journal_tail"),
            "lag_entries": number("journal_lag_entries"),
            "lag_ms": number("journal_lag_ms"),
        }
    offset = number("slave_repl_offset") if fields.get("role") == "slave" else number("master_repl_offset")
    return {"position": offset, "link": fields.get("master_link_status", "")}


def buffer_fields(fields: dict[str, str]) -> dict[str, Any] | None:
    """An async primary's durability buffer from its INFO: the age (ms) of its oldest
    write not yet in the journal, how many writes (and bytes) wait, and the limit
    past which it refuses writes. None for a node without one (sync, cache)."""
    if fields.get("durability_writes") != "async":
        return None

    def number(name: str) -> int:
        try:
            return int(float(fields.get(name, "0")))
        except ValueError:
            return 0

    return {
        "age_ms": number("durability_buffer_age_ms"),
        "writes": number("durability_buffer_writes"),
        "bytes": number("durability_buffer_bytes"),
        "limit_ms": number("durability_buffer_limit_ms"),
        "full": bool(number("durability_buffer_full")),
    }


async def buffer_now(probe: ClusterClient, address: tuple[str, int]) -> dict[str, Any] | None:
    """One async primary's durability buffer now (None: it did not say)."""
    try:
        fields = await replication_info(probe, address)
    except (LinkDown, asyncio.TimeoutError, OSError):
        return None
    return buffer_fields(fields)


async def journal_role(live: LiveSandbox, port: int) -> dict[str, Any] | None:
    """One journal replica's role, term and commit index (JROLE); None if it can't say."""
    links = live.clients.journal_links
    link = links.get(port)
    try:
        if link is None or not link.is_open:
            link = links[port] = await NodeLink.open("127.0.0.1", port, live.journal_secret, timeout=0.5)
        reply = await asyncio.wait_for(link.call("JROLE"), 0.5)
    except (LinkDown, asyncio.TimeoutError, OSError):
        return None
    if not isinstance(reply, list) or len(reply) < 5:
        return None
    text = [r.decode() if isinstance(r, bytes) else r for r in reply]
    return {"role": text[1], "term": text[2], "commit": text[4]}

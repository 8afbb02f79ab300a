"""Cluster commands: CLUSTER (SLOTS, SHARDS, NODES, INFO, KEYSLOT, MYID,
COUNTKEYSINSLOT, GETKEYSINSLOT, SETTOPOLOGY), READONLY, READWRITE, ASKING.

``CLUSTER SETTOPOLOGY <json>`` is this engine's own subcommand: the supervisor
uses it to hand every node the current shard map (MemoryDB and Redis spread it by
gossip; here the supervisor, which watches the journal, tells everyone). The
sandbox never lets a learner send it.
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..cluster import ClusterState, NodeInfo
from ..context import Ctx
from ..resp import OK, Map, Verbatim
from ..slots import SLOTS, key_slot
from . import command, container
from .util import parse_int

container("cluster", "Inspect the cluster: slots, shards, nodes and their roles.", "3.0.0", "cluster")


def _state(ctx: Ctx) -> ClusterState:
    if ctx.server.cluster is None:
        raise errors.CLUSTER_DISABLED
    return ctx.server.cluster


def _node_entry(node: NodeInfo) -> list[Any]:
    return [node.host.encode(), node.port, node.id.encode(), Map([])]


def _slot_arg(arg: bytes) -> int:
    slot = parse_int(arg)
    if not 0 <= slot < SLOTS:
        raise errors.CLUSTER_INVALID_SLOT
    return slot


@command("cluster|slots", 2, "stale", group="cluster", since="3.0.0",
         summary="Slot ranges with the primary and replicas that serve each.")
def cluster_slots(ctx: Ctx, argv: list[bytes]) -> Any:
    state = _state(ctx)
    out = []
    for shard in state.shards:
        primary = state.primary_of(shard)
        if primary is None:
            continue
        replicas = [state.nodes[r] for r in shard.replicas if state.nodes[r].health != "failed"]
        for a, b in shard.ranges:
            out.append([a, b, _node_entry(primary), *[_node_entry(r) for r in replicas]])
    return out


def _role(node: NodeInfo) -> bytes:
    return b"master" if node.role == "primary" else b"replica"


@command("cluster|shards", 2, "stale", group="cluster", since="7.0.0",
         summary="Every shard with its slot ranges and nodes (role, offset, health).")
def cluster_shards(ctx: Ctx, argv: list[bytes]) -> Any:
    state = _state(ctx)
    out = []
    for shard in state.shards:
        slots = [x for a, b in shard.ranges for x in (a, b)]
        ids = ([shard.primary] if shard.primary else []) + shard.replicas
        nodes = []
        for node_id in ids:
            n = state.nodes[node_id]
            nodes.append(Map([
                (b"id", n.id.encode()), (b"port", n.port), (b"ip", n.host.encode()),
                (b"endpoint", n.host.encode()), (b"role", _role(n)),
                (b"replication-offset", n.offset), (b"health", n.health.encode()),
            ]))
        out.append(Map([(b"slots", slots), (b"nodes", nodes)]))
    return out


@command("cluster|nodes", 2, "stale", group="cluster", since="3.0.0",
         summary="The cluster configuration as text, one node per line.")
def cluster_nodes(ctx: Ctx, argv: list[bytes]) -> Any:
    state = _state(ctx)
    lines = []
    for shard in state.shards:
        ids = ([shard.primary] if shard.primary else []) + shard.replicas
        for node_id in ids:
            n = state.nodes[node_id]
            flags = []
            if n.id == state.my_id:
                flags.append("myself")
            flags.append("master" if n.role == "primary" else "slave")
            if n.health == "failed":
                flags.append("fail")
            master = "-" if n.role == "primary" or not shard.primary else shard.primary
            slots = " ".join(f"{a}-{b}" if a != b else str(a) for a, b in shard.ranges) if n.role == "primary" else ""
            link = "disconnected" if n.health == "failed" else "connected"
            line = f"{n.id} {n.host}:{n.port}@{n.port + 10000} {','.join(flags)} {master} 0 0 {state.epoch} {link}"
            lines.append(line + (" " + slots if slots else ""))
    return Verbatim(("\n".join(lines) + "\n").encode())


@command("cluster|info", 2, "stale", group="cluster", since="3.0.0",
         summary="Cluster health: state, slots assigned, known nodes, size, epochs.")
def cluster_info(ctx: Ctx, argv: list[bytes]) -> Any:
    state = _state(ctx)
    assigned = sum(1 for o in state.slot_owner if o >= 0)
    ok = sum(1 for o in state.slot_owner if o >= 0 and state.shards[o].primary is not None)
    fields = [
        ("cluster_state", "ok" if state.is_ok() else "fail"),
        ("cluster_slots_assigned", assigned), ("cluster_slots_ok", ok),
        ("cluster_slots_pfail", 0), ("cluster_slots_fail", assigned - ok),
        ("cluster_known_nodes", len(state.nodes)), ("cluster_size", len(state.shards)),
        ("cluster_current_epoch", state.epoch), ("cluster_my_epoch", state.epoch),
        ("cluster_stats_messages_sent", 0), ("cluster_stats_messages_received", 0),
        ("total_cluster_links_buffer_limit_exceeded", 0),
    ]
    return Verbatim("".join(f"{k}:{v}\r\n" for k, v in fields).encode())


@command("cluster|keyslot", 3, "stale", group="cluster", since="3.0.0",
         summary="The hash slot a key maps to (CRC16 of the key or its {hash tag}, mod 16384).", args="key")
def cluster_keyslot(ctx: Ctx, argv: list[bytes]) -> Any:
    _state(ctx)
    return key_slot(argv[2])


@command("cluster|myid", 2, "stale", group="cluster", since="3.0.0", summary="This node's id.")
def cluster_myid(ctx: Ctx, argv: list[bytes]) -> Any:
    return _state(ctx).my_id.encode()


@command("cluster|countkeysinslot", 3, "stale", group="cluster", since="3.0.0",
         summary="How many keys this node holds in a slot.", args="slot")
def cluster_countkeysinslot(ctx: Ctx, argv: list[bytes]) -> Any:
    _state(ctx)
    slots = ctx.server.keyspace.dbs[0].slots or {}
    return len(slots.get(_slot_arg(argv[2]), ()))


@command("cluster|getkeysinslot", 4, "stale", group="cluster", since="3.0.0",
         summary="Up to count keys this node holds in a slot.", args="slot count")
def cluster_getkeysinslot(ctx: Ctx, argv: list[bytes]) -> Any:
    _state(ctx)
    slot, count = parse_int(argv[2]), parse_int(argv[3])
    if not 0 <= slot < SLOTS or count < 0:
        raise errors.CLUSTER_INVALID_SLOT_OR_COUNT
    keys = sorted((ctx.server.keyspace.dbs[0].slots or {}).get(slot, ()))
    return keys[:count]


@command("cluster|settopology", 3, "admin noscript loading stale", group="cluster", since="7.0.0",
         summary="(Supervisor only) Replace this node's view of shards, slots and roles.", args="json")
def cluster_settopology(ctx: Ctx, argv: list[bytes]) -> Any:
    state = _state(ctx)
    try:
        state.load_json(argv[2])
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.cluster_invalid_topology(str(exc))
    return OK


@command("readonly", 1, "loading stale fast", acl="@connection", group="cluster", since="3.0.0",
         summary="Allow reads from this replica on this connection (they may be slightly behind).")
def readonly(ctx: Ctx, argv: list[bytes]) -> Any:
    _state(ctx)
    ctx.client.readonly = True
    return OK


@command("readwrite", 1, "loading stale fast", acl="@connection", group="cluster", since="3.0.0",
         summary="Stop reading from replicas on this connection (the default).")
def readwrite(ctx: Ctx, argv: list[bytes]) -> Any:
    _state(ctx)
    ctx.client.readonly = False
    return OK


@command("asking", 1, "fast", acl="@connection", group="cluster", since="3.0.0",
         summary="Let the next command run on a slot being imported (after an ASK redirect).")
def asking(ctx: Ctx, argv: list[bytes]) -> Any:
    _state(ctx)
    ctx.client.asking = True
    return OK

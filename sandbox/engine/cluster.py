"""Cluster mode of a data node: who owns which slots, and the redirections.

The topology (shards, their slot ranges, primaries and replicas with zone, host
and port) is given to the node by its supervisor — at start and after every
failover, so every node's view follows the journal's choice of primary. The node
then answers as Redis Cluster does:

* keys of one command in different slots → ``-CROSSSLOT``;
* a slot of another shard → ``-MOVED slot host:port`` (its primary);
* on a replica: reads after READONLY are served, anything else → ``-MOVED`` to
  this shard's primary;
* a shard with no primary → ``-CLUSTERDOWN``.

Invariant: ``slot_owner[s]`` is the index in ``shards`` of the shard that serves
slot ``s``, or -1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import errors
from .errors import RedisError
from .slots import SLOTS, key_slot

if TYPE_CHECKING:
    from .client import Client
    from .commands import Command


@dataclass
class NodeInfo:
    id: str
    host: str
    port: int
    role: str  # "primary" | "replica"
    shard: int
    zone: str = ""
    health: str = "online"  # online | failed | loading
    offset: int = 0


@dataclass
class Shard:
    index: int
    ranges: list[tuple[int, int]]
    primary: str | None  # node id
    replicas: list[str] = field(default_factory=list)


class ClusterState:
    def __init__(self, my_id: str) -> None:
        self.my_id = my_id
        self.epoch = 0
        self.shards: list[Shard] = []
        self.nodes: dict[str, NodeInfo] = {}
        self.slot_owner: list[int] = [-1] * SLOTS
        # Set by the durable node while its journal is over the disk cap: writes to
        # this primary's slots answer it; reads go on.
        self.write_refusal: RedisError | None = None

    # -- topology ----------------------------------------------------------------------
    def load(self, topology: dict[str, Any]) -> None:
        """Replace the topology with ``{"epoch": n, "shards": [{"ranges": [[s, e]],
        "nodes": [{"id", "host", "port", "role", "zone", "health"}]}]}``."""
        epoch = int(topology.get("epoch", 0))
        if epoch < self.epoch:
            return  # an older view than ours: ignore (last failover wins)
        shards: list[Shard] = []
        nodes: dict[str, NodeInfo] = {}
        owner = [-1] * SLOTS
        for index, spec in enumerate(topology["shards"]):
            ranges = [(int(a), int(b)) for a, b in spec["ranges"]]
            shard = Shard(index=index, ranges=ranges, primary=None)
            for n in spec["nodes"]:
                info = NodeInfo(
                    id=n["id"], host=n.get("host", "127.0.0.1"), port=int(n["port"]),
                    role=n.get("role", "replica"), shard=index, zone=n.get("zone", ""),
                    health=n.get("health", "online"), offset=int(n.get("offset", 0)),
                )
                nodes[info.id] = info
                if info.role == "primary" and info.health != "failed":
                    shard.primary = info.id
                else:
                    shard.replicas.append(info.id)
            for a, b in ranges:
                for s in range(a, b + 1):
                    owner[s] = index
            shards.append(shard)
        self.epoch, self.shards, self.nodes, self.slot_owner = epoch, shards, nodes, owner

    def load_json(self, text: bytes | str) -> None:
        self.load(json.loads(text))

    def promote(self, node_id: str) -> None:
        """Make ``node_id`` its shard's primary in this node's view at once (the
        journal just elected it); the supervisor's next topology confirms it."""
        node = self.nodes.get(node_id)
        if node is None:
            return
        shard = self.shards[node.shard]
        old = shard.primary
        if old == node_id:
            return
        if old is not None and old in self.nodes:
            self.nodes[old].role = "replica"
            shard.replicas.append(old)
        if node_id in shard.replicas:
            shard.replicas.remove(node_id)
        node.role = "primary"
        node.health = "online"
        shard.primary = node_id

    @property
    def me(self) -> NodeInfo | None:
        return self.nodes.get(self.my_id)

    def primary_of(self, shard: Shard) -> NodeInfo | None:
        return self.nodes.get(shard.primary) if shard.primary else None

    def is_ok(self) -> bool:
        return all(s.primary is not None for s in self.shards) and -1 not in self.slot_owner

    # -- routing -------------------------------------------------------------------------
    def check_transaction(self, queued: list[tuple["Command", list[bytes]]]) -> RedisError | None:
        """EXEC's own check: every key the queued commands touch must be in one slot.

        Each command was checked alone when it was queued; like Redis, EXEC then
        refuses a transaction whose keys span slots (and the caller discards it).
        """
        slot = -1
        for cmd, argv in queued:
            if not (cmd.first_key or cmd.getkeys):
                continue
            for i in cmd.key_indexes(argv):
                s = key_slot(argv[i])
                if slot < 0:
                    slot = s
                elif s != slot:
                    return errors.CROSSSLOT
        return None

    def check(self, client: "Client", cmd: "Command", argv: list[bytes]) -> RedisError | None:
        """The redirection or refusal for this command on this node, or None to run it."""
        idx = cmd.key_indexes(argv) if (cmd.first_key or cmd.getkeys) else ()
        if not idx:
            return None
        slot = key_slot(argv[idx[0]])
        for i in idx[1:]:
            if key_slot(argv[i]) != slot:
                return errors.CROSSSLOT
        owner = self.slot_owner[slot]
        if owner < 0:
            return errors.CLUSTERDOWN_UNBOUND
        shard = self.shards[owner]
        primary = self.primary_of(shard)
        if primary is None:
            return errors.CLUSTERDOWN
        me = self.me
        if me is None or me.shard != owner:
            return errors.moved(slot, primary.host, primary.port)
        if me.role != "primary":
            if client.readonly and not cmd.write and "readonly" in cmd.flags:
                return None
            return errors.moved(slot, primary.host, primary.port)
        if cmd.write and self.write_refusal is not None:
            return self.write_refusal
        return None

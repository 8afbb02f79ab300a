"""Talking to one sandbox cluster: routing by hash slot, following redirects.

``ClusterClient`` keeps one ``NodeLink`` per node it has talked to, all logged in
as the cluster's own ACL user (``ClusterUser``), and the slot map from the cluster's
``Topology`` (refreshed by the live sessions after every failover and crash).

* ``route(key, *args)`` sends a keyed command straight to the primary that owns the
  key's slot (the write load, the lab checks, the verdict);
* ``console(args)`` behaves like ``redis-cli -c``: it sends to the node the console
  is on and follows ``-MOVED``/``-ASK``, staying on the new node after a ``MOVED``,
  and says where it went as redis-cli does, naming the node by its shard, role and
  zone instead of its address ("-> Redirected to slot [12739] located at shard 2,
  primary in az-c"): the browser never sees a node's port.

The console passes a ``DisplayBudget``: its reply may come back cut, the link it
came on is then closed, and the next command opens a new one (``link()`` reconnects
whenever the link it has is closed).

A node that refused a connection is skipped for ``DOWN_BACKOFF_S`` so that a load
aimed at a dead primary fails fast instead of reconnecting for every write.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from redis.crc import key_slot

from sandbox.backends import ClusterUser
from sandbox.resp import DisplayBudget, ErrorReply, LinkDown, NodeLink, Reply
from sandbox.topology import Process, Topology

DOWN_BACKOFF_S = 0.1
MAX_REDIRECTS = 5


class ClusterClient:
    def __init__(
        self,
        topology: Topology,
        user: ClusterUser,
        *,
        max_reply_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self.user = user
        self.max_reply_bytes = max_reply_bytes
        self.links: dict[tuple[str, int], NodeLink] = {}
        self._connecting: dict[tuple[str, int], asyncio.Future[NodeLink]] = {}
        self._down_until: dict[tuple[str, int], float] = {}
        self.current: tuple[str, int] | None = None  # the console's node
        self.slot_primary: list[tuple[str, int] | None] = []
        self.slot_shard: list[int] = []
        self.nodes: dict[tuple[str, int], Process] = {}  # data node by address
        self.refresh(topology)

    # -- topology ------------------------------------------------------------------------
    def refresh(self, topology: Topology) -> None:
        """Take the supervisor's view: which serving primary serves which slots."""
        primaries = {shard: proc.address for shard, proc in topology.serving_primaries().items()}
        self.nodes = {proc.address: proc for proc in topology.data_nodes()}
        table: list[tuple[str, int] | None] = [None] * 16384
        shards = [0] * 16384
        for shard, (low, high) in enumerate(topology.slots):
            table[low : high + 1] = [primaries.get(shard)] * (high - low + 1)
            shards[low : high + 1] = [shard] * (high - low + 1)
        self.slot_primary = table
        self.slot_shard = shards
        if self.current is None or self.current not in primaries.values():
            self.current = primaries.get(0) or next(iter(primaries.values()), None)

    def primary_for(self, key: bytes | str) -> tuple[str, int] | None:
        return self.slot_primary[key_slot(key.encode() if isinstance(key, str) else key)]

    def shard_of(self, key: bytes | str) -> int:
        return self.slot_shard[key_slot(key.encode() if isinstance(key, str) else key)]

    # -- links ---------------------------------------------------------------------------
    async def link(self, address: tuple[str, int]) -> NodeLink:
        link = self.links.get(address)
        if link is not None and link.is_open:
            return link
        if time.monotonic() < self._down_until.get(address, 0.0):
            raise LinkDown(f"{address[0]}:{address[1]} is not reachable")
        pending = self._connecting.get(address)
        if pending is None:
            pending = asyncio.ensure_future(
                NodeLink.open(
                    *address, self.user.password, username=self.user.username,
                    max_reply_bytes=self.max_reply_bytes,
                )
            )
            self._connecting[address] = pending
            pending.add_done_callback(lambda _f: self._connecting.pop(address, None))
        try:
            link = await asyncio.shield(pending)
        except LinkDown:
            self._down_until[address] = time.monotonic() + DOWN_BACKOFF_S
            raise
        self.links[address] = link
        return link

    def drop(self, address: tuple[str, int]) -> None:
        link = self.links.pop(address, None)
        if link is not None:
            link.close()

    async def close(self) -> None:
        for link in self.links.values():
            link.close()
        self.links.clear()
        for pending in list(self._connecting.values()):
            pending.cancel()

    # -- commands ------------------------------------------------------------------------
    async def call(self, address: tuple[str, int], *args: Any, budget: DisplayBudget | None = None) -> Reply:
        link = await self.link(address)
        return await link.call(*args, budget=budget)

    async def route(self, key: bytes | str, *args: Any) -> Reply:
        """A keyed command, sent to its slot's primary; one MOVED is followed."""
        address = self.primary_for(key)
        if address is None:
            return ErrorReply("CLUSTERDOWN The cluster is down (no primary for this slot)")
        reply = await self.call(address, *args)
        if isinstance(reply, ErrorReply) and reply.code == "MOVED":
            reply = await self.call(_address_of(reply), *args)
        return reply

    async def console(self, args: list[bytes], budget: DisplayBudget | None = None) -> tuple[Reply, list[str]]:
        """Run one console command as ``redis-cli -c`` would; (reply, redirect notes).
        With a ``budget`` the reply is read only that far (see ``sandbox.resp``)."""
        if self.current is None:
            return ErrorReply("CLUSTERDOWN No primary is running"), []
        notes: list[str] = []
        address = self.current
        asking = False
        for _ in range(MAX_REDIRECTS + 1):
            if asking:
                await self.call(address, "ASKING")
            reply = await self.call(address, *args, budget=budget)
            if not isinstance(reply, ErrorReply) or reply.code not in ("MOVED", "ASK"):
                return reply, notes
            slot = reply.split(" ")[1]
            address = _address_of(reply)
            notes.append(f"-> Redirected to slot [{slot}] located at {self.describe(address, int(slot))}")
            asking = reply.code == "ASK"
            if not asking:
                self.current = address
        return ErrorReply("ERR too many cluster redirections"), notes


    def describe(self, address: tuple[str, int], slot: int) -> str:
        """A node as the learner knows it (shard, role, zone), never its address."""
        node = self.nodes.get(address)
        if node is None:  # not in the topology we hold yet: the slot still names the shard
            return f"shard {self.slot_shard[slot]}" if 0 <= slot < len(self.slot_shard) else "another node"
        return f"shard {node.shard}, {node.role} in {node.zone}"


def _address_of(reply: ErrorReply) -> tuple[str, int]:
    host, _, port = reply.split(" ")[2].rpartition(":")
    return host or "127.0.0.1", int(port)

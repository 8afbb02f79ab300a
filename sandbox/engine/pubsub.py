"""Publish/subscribe state: who listens to which channel or pattern.

Invariant: ``channels[c]`` contains a client exactly when ``c`` is in that client's
``channels`` set (same for patterns and shard channels); the commands in
``commands/pubsub.py`` change both sides together through this class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .glob import match as glob_match
from .resp import Push

if TYPE_CHECKING:
    from .client import Client


class PubSub:
    def __init__(self) -> None:
        self.channels: dict[bytes, set["Client"]] = {}
        self.patterns: dict[bytes, set["Client"]] = {}
        self.shard_channels: dict[bytes, set["Client"]] = {}

    # -- membership ------------------------------------------------------------------
    def subscribe(self, client: "Client", channel: bytes, shard: bool = False) -> bool:
        table, mine = (self.shard_channels, client.shard_channels) if shard else (self.channels, client.channels)
        if channel in mine:
            return False
        mine.add(channel)
        table.setdefault(channel, set()).add(client)
        return True

    def unsubscribe(self, client: "Client", channel: bytes, shard: bool = False) -> bool:
        table, mine = (self.shard_channels, client.shard_channels) if shard else (self.channels, client.channels)
        if channel not in mine:
            return False
        mine.discard(channel)
        subs = table.get(channel)
        if subs is not None:
            subs.discard(client)
            if not subs:
                del table[channel]
        return True

    def psubscribe(self, client: "Client", pattern: bytes) -> bool:
        if pattern in client.patterns:
            return False
        client.patterns.add(pattern)
        self.patterns.setdefault(pattern, set()).add(client)
        return True

    def punsubscribe(self, client: "Client", pattern: bytes) -> bool:
        if pattern not in client.patterns:
            return False
        client.patterns.discard(pattern)
        subs = self.patterns.get(pattern)
        if subs is not None:
            subs.discard(client)
            if not subs:
                del self.patterns[pattern]
        return True

    def drop_client(self, client: "Client") -> None:
        for ch in list(client.channels):
            self.unsubscribe(client, ch)
        for ch in list(client.shard_channels):
            self.unsubscribe(client, ch, shard=True)
        for p in list(client.patterns):
            self.punsubscribe(client, p)

    # -- delivery ----------------------------------------------------------------------
    def publish(self, channel: bytes, message: bytes) -> int:
        """Deliver to channel and pattern subscribers; the number of receivers."""
        receivers = 0
        for client in list(self.channels.get(channel, ())):
            client.send(Push([b"message", channel, message]))
            receivers += 1
        if self.patterns:
            for pattern, clients in list(self.patterns.items()):
                if glob_match(pattern, channel):
                    for client in list(clients):
                        client.send(Push([b"pmessage", pattern, channel, message]))
                        receivers += 1
        return receivers

    def spublish(self, channel: bytes, message: bytes) -> int:
        receivers = 0
        for client in list(self.shard_channels.get(channel, ())):
            client.send(Push([b"smessage", channel, message]))
            receivers += 1
        return receivers

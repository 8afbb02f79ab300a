"""Publish/subscribe commands: (UN)SUBSCRIBE, P(UN)SUBSCRIBE, S(UN)SUBSCRIBE,
PUBLISH, SPUBLISH and PUBSUB CHANNELS/NUMSUB/NUMPAT/SHARDCHANNELS/SHARDNUMSUB.

Subscription state lives in ``engine.pubsub.PubSub``; these bodies only change it
and build replies. A (un)subscribe answers one frame per channel (arrays in RESP2,
push frames in RESP3): they are encoded together into one ``Raw`` reply so that
they keep their place among pipelined replies — exactly Redis's bytes, even
inside EXEC. The RESP2 "only (P|S)SUBSCRIBE / ... in this context" rule is the
dispatcher's (``pubsub_ok`` flags these commands as allowed there).

Counts: the (P)SUBSCRIBE family reports channels + patterns of the connection;
the shard family reports its shard channels only (Redis 7.0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import errors
from ..context import Ctx
from ..glob import match as glob_match
from ..resp import Push, Raw, encode
from . import command, container
from .util import help_reply

if TYPE_CHECKING:
    from ..client import Client


def _normal_count(client: "Client") -> int:
    return len(client.channels) + len(client.patterns)


def _frames(client: "Client", frames: list[list[Any]]) -> Raw:
    return Raw(b"".join(encode(Push(f), client.proto) for f in frames))


@command("subscribe", -2, "pubsub noscript loading stale pubsub_ok", group="pubsub", since="2.0.0",
         complexity="O(N) where N is the number of channels to subscribe to.",
         summary="Listen for messages published to the given channels.", args="channel [channel ...]")
def subscribe(ctx: Ctx, argv: list[bytes]) -> Any:
    client, pubsub = ctx.client, ctx.server.pubsub
    frames = []
    for channel in argv[1:]:
        pubsub.subscribe(client, channel)
        frames.append([b"subscribe", channel, _normal_count(client)])
    return _frames(client, frames)


@command("unsubscribe", -1, "pubsub noscript loading stale pubsub_ok", group="pubsub", since="2.0.0",
         complexity="O(N) where N is the number of clients already subscribed to a channel.",
         summary="Stop listening to the given channels, or to every channel when none is given.",
         args="[channel [channel ...]]")
def unsubscribe(ctx: Ctx, argv: list[bytes]) -> Any:
    client, pubsub = ctx.client, ctx.server.pubsub
    channels = argv[1:] or list(client.channels)
    frames = []
    for channel in channels:
        pubsub.unsubscribe(client, channel)
        frames.append([b"unsubscribe", channel, _normal_count(client)])
    if not frames:
        frames.append([b"unsubscribe", None, _normal_count(client)])
    return _frames(client, frames)


@command("psubscribe", -2, "pubsub noscript loading stale pubsub_ok", group="pubsub", since="2.0.0",
         complexity="O(N) where N is the number of patterns the client is already subscribed to.",
         summary="Listen for messages published to channels matching the given glob patterns.",
         args="pattern [pattern ...]")
def psubscribe(ctx: Ctx, argv: list[bytes]) -> Any:
    client, pubsub = ctx.client, ctx.server.pubsub
    frames = []
    for pattern in argv[1:]:
        pubsub.psubscribe(client, pattern)
        frames.append([b"psubscribe", pattern, _normal_count(client)])
    return _frames(client, frames)


@command("punsubscribe", -1, "pubsub noscript loading stale pubsub_ok", group="pubsub", since="2.0.0",
         complexity="O(N+M): N patterns this client has, M patterns subscribed on the server.",
         summary="Stop listening to the given patterns, or to every pattern when none is given.",
         args="[pattern [pattern ...]]")
def punsubscribe(ctx: Ctx, argv: list[bytes]) -> Any:
    client, pubsub = ctx.client, ctx.server.pubsub
    patterns = argv[1:] or list(client.patterns)
    frames = []
    for pattern in patterns:
        pubsub.punsubscribe(client, pattern)
        frames.append([b"punsubscribe", pattern, _normal_count(client)])
    if not frames:
        frames.append([b"punsubscribe", None, _normal_count(client)])
    return _frames(client, frames)


@command("ssubscribe", -2, "pubsub noscript loading stale pubsub_ok", keys=(1, -1, 1), group="pubsub", since="7.0.0",
         complexity="O(N) where N is the number of shard channels to subscribe to.",
         summary="Listen for messages published to the given shard channels (all in one slot in cluster mode).",
         args="shardchannel [shardchannel ...]")
def ssubscribe(ctx: Ctx, argv: list[bytes]) -> Any:
    client, pubsub = ctx.client, ctx.server.pubsub
    frames = []
    for channel in argv[1:]:
        pubsub.subscribe(client, channel, shard=True)
        frames.append([b"ssubscribe", channel, len(client.shard_channels)])
    return _frames(client, frames)


@command("sunsubscribe", -1, "pubsub noscript loading stale pubsub_ok", keys=(1, -1, 1), group="pubsub", since="7.0.0",
         complexity="O(N) where N is the number of clients already subscribed to a shard channel.",
         summary="Stop listening to the given shard channels, or to all of them when none is given.",
         args="[shardchannel [shardchannel ...]]")
def sunsubscribe(ctx: Ctx, argv: list[bytes]) -> Any:
    client, pubsub = ctx.client, ctx.server.pubsub
    channels = argv[1:] or list(client.shard_channels)
    frames = []
    for channel in channels:
        pubsub.unsubscribe(client, channel, shard=True)
        frames.append([b"sunsubscribe", channel, len(client.shard_channels)])
    if not frames:
        frames.append([b"sunsubscribe", None, len(client.shard_channels)])
    return _frames(client, frames)


def _own_copies(ctx: Ctx, channel: bytes, message: bytes, shard: bool) -> list[list[Any]]:
    """The frames a publisher subscribed to ``channel`` receives itself, in delivery order."""
    client, pubsub = ctx.client, ctx.server.pubsub
    if shard:
        return [[b"smessage", channel, message]] if channel in client.shard_channels else []
    frames: list[list[Any]] = []
    if channel in client.channels:
        frames.append([b"message", channel, message])
    for pattern, clients in pubsub.patterns.items():
        if client in clients and glob_match(pattern, channel):
            frames.append([b"pmessage", pattern, channel, message])
    return frames


def _publish(ctx: Ctx, channel: bytes, message: bytes, shard: bool) -> Any:
    client, pubsub = ctx.client, ctx.server.pubsub
    deliver = pubsub.spublish if shard else pubsub.publish
    if not client.in_pubsub:
        return deliver(channel, message)
    # A RESP3 subscriber publishing: its own copy must follow its earlier pipelined
    # replies, which are not written yet, so it travels in this reply instead.
    own = _own_copies(ctx, channel, message, shard)
    protocol, client.protocol = client.protocol, None
    try:
        receivers = deliver(channel, message)
    finally:
        client.protocol = protocol
    return Raw(_frames(client, own) + encode(receivers, client.proto))


@command("publish", 3, "pubsub loading stale fast may_replicate", group="pubsub", since="2.0.0",
         complexity="O(N+M): N subscribers of the channel, M patterns subscribed on the server.",
         summary="Send a message to a channel; returns how many subscribers received it.",
         args="channel message")
def publish(ctx: Ctx, argv: list[bytes]) -> Any:
    return _publish(ctx, argv[1], argv[2], shard=False)


@command("spublish", 3, "pubsub loading stale fast may_replicate", keys=(1, 1, 1), group="pubsub", since="7.0.0",
         complexity="O(N) where N is the number of clients subscribed to the receiving shard channel.",
         summary="Send a message to a shard channel; returns how many subscribers received it.",
         args="shardchannel message")
def spublish(ctx: Ctx, argv: list[bytes]) -> Any:
    return _publish(ctx, argv[1], argv[2], shard=True)


# ---------------------------------------------------------------------------
# PUBSUB introspection

container("pubsub", "Inspect the pub/sub state: channels, subscriber and pattern counts.", "2.8.0", "pubsub")

_HELP = [
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
]


def _active(table: dict[bytes, Any], argv: list[bytes]) -> list[bytes]:
    if len(argv) > 3:
        raise errors.subcommand_syntax_error(argv, "pubsub")
    pattern = argv[2] if len(argv) == 3 else None
    return [ch for ch in table if pattern is None or glob_match(pattern, ch)]


@command("pubsub|channels", -2, "pubsub loading stale", group="pubsub", since="2.8.0",
         complexity="O(N) over the N active channels (matching a short pattern counts as constant).",
         summary="Channels with at least one subscriber, optionally only those matching a glob pattern.",
         args="[pattern]")
def pubsub_channels(ctx: Ctx, argv: list[bytes]) -> Any:
    return _active(ctx.server.pubsub.channels, argv)


@command("pubsub|shardchannels", -2, "pubsub loading stale", group="pubsub", since="7.0.0",
         complexity="O(N) over the N active shard channels (matching a short pattern counts as constant).",
         summary="Shard channels with at least one subscriber, optionally only those matching a glob pattern.",
         args="[pattern]")
def pubsub_shardchannels(ctx: Ctx, argv: list[bytes]) -> Any:
    return _active(ctx.server.pubsub.shard_channels, argv)


@command("pubsub|numsub", -2, "pubsub loading stale", group="pubsub", since="2.8.0",
         complexity="O(N) for the NUMSUB subcommand, where N is the number of requested channels",
         summary="Subscriber counts of the given channels (pattern subscribers not counted).",
         args="[channel [channel ...]]")
def pubsub_numsub(ctx: Ctx, argv: list[bytes]) -> Any:
    table = ctx.server.pubsub.channels
    out: list[Any] = []
    for ch in argv[2:]:
        out += [ch, len(table.get(ch, ()))]
    return out


@command("pubsub|shardnumsub", -2, "pubsub loading stale", group="pubsub", since="7.0.0",
         complexity="O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
         summary="Subscriber counts of the given shard channels.", args="[shardchannel [shardchannel ...]]")
def pubsub_shardnumsub(ctx: Ctx, argv: list[bytes]) -> Any:
    table = ctx.server.pubsub.shard_channels
    out: list[Any] = []
    for ch in argv[2:]:
        out += [ch, len(table.get(ch, ()))]
    return out


@command("pubsub|numpat", 2, "pubsub loading stale", group="pubsub", since="2.8.0",
         summary="Number of distinct patterns subscribed to by any connection.")
def pubsub_numpat(ctx: Ctx, argv: list[bytes]) -> Any:
    return len(ctx.server.pubsub.patterns)


@command("pubsub|help", 2, "loading stale", group="pubsub", since="6.2.0", summary="Show the PUBSUB subcommands.")
def pubsub_help(ctx: Ctx, argv: list[bytes]) -> Any:
    return help_reply(_HELP)

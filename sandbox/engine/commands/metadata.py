"""What COMMAND says about a command besides its keys and arguments: Redis 7.0's
flag and ACL-category orders, its command tips, and lookups by name.

Invariants:
* The orders are Redis 7.0's (``replyFlagNames``, ``ACLCommandCategories``), so
  COMMAND INFO lists flags and categories as redis-server does; flags Redis does
  not show are hidden.
* Tips are Redis 7.0's table, by full command name ("config|set"); a command not
  in it has none.
* Lookups read ``commands.REGISTRY`` only.
"""

from __future__ import annotations

from . import REGISTRY, Command

# Redis 7.0's order of flags in COMMAND INFO (replyFlagNames); others are hidden.
FLAG_ORDER = (
    "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript", "blocking",
    "loading", "stale", "skip_monitor", "skip_slowlog", "asking", "fast", "no_auth",
    "no_mandatory_keys", "no_async_loading", "no_multi", "movablekeys", "allow_busy",
)
# Redis 7.0's ACL category bit order (ACLCommandCategories).
ACL_ORDER = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
    "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
    "dangerous", "connection", "transaction", "scripting",
)
_ACL_RANK = {c: i for i, c in enumerate(ACL_ORDER)}

# Redis 7.0's command tips (COMMAND INFO element 8), by full command name.
TIPS: dict[str, tuple[str, ...]] = {
    "client|info": ("nondeterministic_output",),
    "client|list": ("nondeterministic_output",),
    "cluster|bumpepoch": ("nondeterministic_output",),
    "cluster|count-failure-reports": ("nondeterministic_output",),
    "cluster|getkeysinslot": ("nondeterministic_output",),
    "cluster|info": ("nondeterministic_output",),
    "cluster|links": ("nondeterministic_output",),
    "cluster|nodes": ("nondeterministic_output",),
    "cluster|replicas": ("nondeterministic_output",),
    "cluster|shards": ("nondeterministic_output",),
    "cluster|slaves": ("nondeterministic_output",),
    "cluster|slots": ("nondeterministic_output",),
    "command": ("nondeterministic_output_order",),
    "command|docs": ("nondeterministic_output_order",),
    "command|info": ("nondeterministic_output_order",),
    "command|list": ("nondeterministic_output_order",),
    "config|set": ("request_policy:all_nodes", "response_policy:all_succeeded"),
    "dbsize": ("request_policy:all_shards", "response_policy:agg_sum"),
    "del": ("request_policy:multi_shard", "response_policy:agg_sum"),
    "dump": ("nondeterministic_output",),
    "exists": ("request_policy:multi_shard", "response_policy:agg_sum"),
    "flushall": ("request_policy:all_shards", "response_policy:all_succeeded"),
    "flushdb": ("request_policy:all_shards", "response_policy:all_succeeded"),
    "function|delete": ("request_policy:all_shards", "response_policy:all_succeeded"),
    "function|flush": ("request_policy:all_shards", "response_policy:all_succeeded"),
    "function|kill": ("request_policy:all_shards", "response_policy:one_succeeded"),
    "function|list": ("nondeterministic_output_order",),
    "function|load": ("request_policy:all_shards", "response_policy:all_succeeded"),
    "function|restore": ("request_policy:all_shards", "response_policy:all_succeeded"),
    "function|stats": ("nondeterministic_output", "request_policy:all_shards", "response_policy:special"),
    "hgetall": ("nondeterministic_output_order",),
    "hkeys": ("nondeterministic_output_order",),
    "hrandfield": ("nondeterministic_output",),
    "hscan": ("nondeterministic_output",),
    "hvals": ("nondeterministic_output_order",),
    "info": ("nondeterministic_output", "request_policy:all_shards", "response_policy:special"),
    "keys": ("request_policy:all_shards", "nondeterministic_output_order"),
    "lastsave": ("nondeterministic_output",),
    "latency|doctor": ("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"),
    "latency|graph": ("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"),
    "latency|histogram": ("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"),
    "latency|history": ("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"),
    "latency|latest": ("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"),
    "latency|reset": ("request_policy:all_nodes", "response_policy:all_succeeded"),
    "memory|doctor": ("nondeterministic_output", "request_policy:all_shards", "response_policy:special"),
    "memory|malloc-stats": ("nondeterministic_output", "request_policy:all_shards", "response_policy:special"),
    "memory|purge": ("request_policy:all_shards", "response_policy:all_succeeded"),
    "memory|stats": ("nondeterministic_output", "request_policy:all_shards", "response_policy:special"),
    "mget": ("request_policy:multi_shard",),
    "migrate": ("nondeterministic_output",),
    "module|list": ("nondeterministic_output_order",),
    "mset": ("request_policy:multi_shard", "response_policy:all_succeeded"),
    "msetnx": ("request_policy:multi_shard", "response_policy:agg_min"),
    "object|encoding": ("nondeterministic_output",),
    "object|freq": ("nondeterministic_output",),
    "object|idletime": ("nondeterministic_output",),
    "object|refcount": ("nondeterministic_output",),
    "ping": ("request_policy:all_shards", "response_policy:all_succeeded"),
    "pttl": ("nondeterministic_output",),
    "randomkey": ("request_policy:all_shards", "nondeterministic_output"),
    "scan": ("nondeterministic_output", "request_policy:special"),
    "script|exists": ("request_policy:all_shards", "response_policy:agg_logical_and"),
    "script|flush": ("request_policy:all_nodes", "response_policy:all_succeeded"),
    "script|kill": ("request_policy:all_shards", "response_policy:one_succeeded"),
    "script|load": ("request_policy:all_nodes", "response_policy:all_succeeded"),
    "sdiff": ("nondeterministic_output_order",),
    "sinter": ("nondeterministic_output_order",),
    "slowlog|get": ("request_policy:all_nodes", "nondeterministic_output"),
    "slowlog|len": ("request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"),
    "slowlog|reset": ("request_policy:all_nodes", "response_policy:all_succeeded"),
    "smembers": ("nondeterministic_output_order",),
    "spop": ("nondeterministic_output",),
    "srandmember": ("nondeterministic_output",),
    "sscan": ("nondeterministic_output",),
    "sunion": ("nondeterministic_output_order",),
    "time": ("nondeterministic_output",),
    "touch": ("request_policy:multi_shard", "response_policy:agg_sum"),
    "ttl": ("nondeterministic_output",),
    "unlink": ("request_policy:multi_shard", "response_policy:agg_sum"),
    "wait": ("request_policy:all_shards", "response_policy:agg_min"),
    "xadd": ("nondeterministic_output",),
    "xautoclaim": ("nondeterministic_output",),
    "xclaim": ("nondeterministic_output",),
    "xinfo|consumers": ("nondeterministic_output",),
    "xpending": ("nondeterministic_output",),
    "xtrim": ("nondeterministic_output",),
    "zrandmember": ("nondeterministic_output",),
    "zscan": ("nondeterministic_output",),
}


def reply_flags(cmd: Command) -> list[str]:
    """The flags COMMAND INFO shows, in Redis's order (movablekeys when keys move)."""
    present = set(cmd.flags)
    if cmd.getkeys is not None:
        present.add("movablekeys")
    return [f for f in FLAG_ORDER if f in present]


def reply_categories(cmd: Command) -> list[str]:
    """The ACL categories COMMAND INFO shows, in Redis's bit order."""
    cats = set(cmd.acl)
    if "fast" not in cmd.flags:
        cats.add("slow")
    return sorted(cats, key=lambda c: _ACL_RANK.get(c, len(ACL_ORDER)))


def lookup(name: bytes) -> Command | None:
    """A command or "container|sub" by full name (case-insensitive)."""
    name = name.lower()
    if b"|" in name:
        parent, _, sub = name.partition(b"|")
        container = REGISTRY.get(parent)
        return container.subcommands.get(sub) if container is not None else None
    return REGISTRY.get(name)


def lookup_argv(argv: list[bytes]) -> Command | None:
    """The command ``argv`` would run (its subcommand if it has one), or None."""
    cmd = REGISTRY.get(argv[0].lower())
    if cmd is None:
        return None
    if cmd.subcommands and len(argv) >= 2:
        sub = cmd.subcommands.get(argv[1].lower())
        if sub is not None:
            return sub
        if cmd.handler is None:
            return None
    return cmd


def all_commands(with_subcommands: bool) -> list[Command]:
    out = []
    for cmd in REGISTRY.values():
        out.append(cmd)
        if with_subcommands:
            out.extend(cmd.subcommands.values())
    return out


"""The command table ACL rules are written against: Redis 7.0's commands and categories.

ACL rules name Redis commands and categories, and ``ACL LIST`` describes a user by
fitting categories to the set of commands it may run, so both depend on the whole
command table. Redis 7.0 has commands this engine does not implement (scripting,
modules, ...); ``REDIS_ONLY`` lists them with the categories Redis
7.0 gives them (as its ``COMMAND INFO`` reports; a test checks them against a real
redis-server). A rule may name them (``+module|load``, ``-@dangerous``) and the descriptions
count them, so users read exactly as on Redis; running them still fails with
"unknown command".

``catalog()`` is the union: the registered commands (their own categories, which
``test_command_info`` holds to Redis's) plus the Redis-only ones. A family that
registers one of these commands later simply takes it over.

``fitting_categories`` picks the categories that best describe a set of commands
(ACL LIST's ``+@read +@write ...``), against this same table.

Invariants: names are lower case, subcommands are ``container|sub`` and listed under
their container; a category's members are every command or subcommand whose own
categories include it (a container is not a member of its subcommands' categories).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .commands import REGISTRY, Command, load_all

# Redis 7.0's categories, in the order ACL CAT lists them.
CATEGORIES = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
    "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
    "dangerous", "connection", "transaction", "scripting",
)  # fmt: skip

# Redis 7.0 commands this engine does not implement, with their categories.
REDIS_ONLY: dict[str, str] = {
    "cluster|addslots": "admin slow dangerous",
    "cluster|addslotsrange": "admin slow dangerous",
    "cluster|bumpepoch": "admin slow dangerous",
    "cluster|count-failure-reports": "admin slow dangerous",
    "cluster|delslots": "admin slow dangerous",
    "cluster|delslotsrange": "admin slow dangerous",
    "cluster|failover": "admin slow dangerous",
    "cluster|flushslots": "admin slow dangerous",
    "cluster|forget": "admin slow dangerous",
    "cluster|help": "slow",
    "cluster|links": "slow",
    "cluster|meet": "admin slow dangerous",
    "cluster|replicas": "admin slow dangerous",
    "cluster|replicate": "admin slow dangerous",
    "cluster|reset": "admin slow dangerous",
    "cluster|saveconfig": "admin slow dangerous",
    "cluster|set-config-epoch": "admin slow dangerous",
    "cluster|setslot": "admin slow dangerous",
    "cluster|slaves": "admin slow dangerous",
    "lolwut": "read fast",
    "migrate": "keyspace write slow dangerous",
    "module": "slow",
    "module|help": "slow",
    "module|list": "admin slow dangerous",
    "module|load": "admin slow dangerous",
    "module|loadex": "admin slow dangerous",
    "module|unload": "admin slow dangerous",
    "script|debug": "slow scripting",
    "sync": "admin slow dangerous",
    "xack": "write stream fast",
    "xadd": "write stream fast",
    "xautoclaim": "write stream fast",
    "xclaim": "write stream fast",
    "xdel": "write stream fast",
    "xgroup": "slow",
    "xgroup|create": "write stream slow",
    "xgroup|createconsumer": "write stream slow",
    "xgroup|delconsumer": "write stream slow",
    "xgroup|destroy": "write stream slow",
    "xgroup|help": "stream slow",
    "xgroup|setid": "write stream slow",
    "xinfo": "slow",
    "xinfo|consumers": "read stream slow",
    "xinfo|groups": "read stream slow",
    "xinfo|help": "stream slow",
    "xinfo|stream": "read stream slow",
    "xlen": "read stream fast",
    "xpending": "read stream slow",
    "xrange": "read stream slow",
    "xread": "read stream slow blocking",
    "xreadgroup": "write stream slow blocking",
    "xrevrange": "read stream slow",
    "xsetid": "write stream fast",
    "xtrim": "write stream slow",
}


@dataclass
class Catalog:
    """Every command an ACL rule may name."""

    subcommands: dict[str, list[str]] = field(default_factory=dict)  # top-level name -> its subcommands
    categories: dict[str, frozenset[str]] = field(default_factory=dict)  # any name -> its categories
    members: dict[str, list[str]] = field(default_factory=dict)  # category -> names, top-level order

    @property
    def names(self) -> list[str]:
        return list(self.categories)


def command_categories(cmd: Command) -> frozenset[str]:
    """A registered command's categories (``slow`` unless flagged ``fast``, as COMMAND INFO says)."""
    cats = set(cmd.acl)
    if "fast" not in cmd.flags:
        cats.add("slow")
    return frozenset(cats)


_cached: tuple[int, Catalog] | None = None


def catalog() -> Catalog:
    """The catalog for the registry as it is now (rebuilt when commands were added)."""
    global _cached
    load_all()
    size = sum(1 + len(c.subcommands) for c in REGISTRY.values())
    if _cached is None or _cached[0] != size:
        _cached = (size, _build())
    return _cached[1]


def _build() -> Catalog:
    cats: dict[str, frozenset[str]] = {}
    for name, text in REDIS_ONLY.items():
        cats[name] = frozenset(text.split())
    for cmd in REGISTRY.values():
        cats[cmd.name] = command_categories(cmd)
        for sub in cmd.subcommands.values():
            cats[sub.name] = command_categories(sub)
    out = Catalog()
    for name in sorted(n for n in cats if "|" not in n):
        out.subcommands[name] = sorted(n for n in cats if n.startswith(name + "|"))
    for top, subs in out.subcommands.items():
        for name in (top, *subs):
            out.categories[name] = cats[name]
    out.members = {cat: [n for n in out.categories if cat in out.categories[n]] for cat in CATEGORIES}
    return out


def fitting_categories(commands: set[str], additive: bool, cat: Catalog) -> list[str]:
    """The categories that best describe ``commands``, greedily: each round takes the
    category with the fewest commands it would get wrong (then the most it gets right),
    among those that get more right than wrong; its commands then count as settled."""
    left = set(commands)
    applied: list[str] = []
    while True:
        best, least_wrong, most_right = None, None, 0
        for category in CATEGORIES:
            if category in applied:
                continue
            members = cat.members[category]
            on = sum(1 for name in members if name in left)
            wrong, right = (len(members) - on, on) if additive else (on, len(members) - on)
            if right <= wrong:
                continue
            if least_wrong is None or wrong < least_wrong or (wrong == least_wrong and right > most_right):
                best, least_wrong, most_right = category, wrong, right
        if best is None:
            return applied
        applied.append(best)
        for name in cat.members[best]:
            names = (name, *cat.subcommands.get(name, ()))
            if additive:
                left.difference_update(names)
            else:
                left.update(names)

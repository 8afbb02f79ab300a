"""Engine configuration.

``EngineConfig`` is built by the caller (the CLI, the supervisor, tests); the
engine reads no environment variables. ``RuntimeParams`` is the CONFIG GET/SET view
of the parameters the engine really has, with Redis's names and formats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class EngineConfig:
    bind: str = "127.0.0.1"  # address to listen on; loopback unless the caller says otherwise
    port: int = 6379  # TCP port, 0 = any free port (printed when ready)
    databases: int = 16  # number of logical databases on a standalone node (1..1024)
    maxmemory: int = 0  # bytes of process memory before denyoom writes fail; 0 = no limit
    requirepass: str | None = None  # password of the default user; None = no auth needed
    aclfile: str = ""  # ACL file (Redis format, "user <name> <rules>" lines) loaded at start; "" = none
    masteruser: str = ""  # cache replicas: the user they log in as on their primary ("" = default)
    masterauth: str = ""  # cache replicas: its password ("" = this node's requirepass); never shown by CONFIG
    cluster_enabled: bool = False  # cluster mode: one database, slot checks, CLUSTER commands
    proto_max_bulk_len: int = 512 * 1024 * 1024  # largest bulk argument a client may send, bytes
    client_query_buffer_limit: int = 1024 * 1024 * 1024  # unparsed input per client, bytes
    client_output_buffer_limit: int = 256 * 1024 * 1024  # pending output per normal client, bytes; 0 = none
    pubsub_output_buffer_limit: int = 32 * 1024 * 1024  # pending output per subscriber, bytes
    maxclients: int = 10000  # simultaneous client connections
    hz: int = 10  # background cycles per second (active expiry, stats), 1..500
    active_expire_keys_per_cycle: int = 200  # keys deleted per batch; batches repeat within the budget
    active_expire_budget_ms: float = 10.0  # CPU budget of one background expiry cycle, ms (10% at hz=10)
    node_id: str = ""  # 40 hex chars; empty = random (cluster MYID)
    extra: dict[str, str] = field(default_factory=dict)  # passthrough CONFIG values (read-only)


def _parse_memory(value: str) -> int:
    """Redis memory units: 1k=1000, 1kb=1024, 1m, 1mb, 1g, 1gb."""
    v = value.strip().lower()
    units = {"kb": 1024, "k": 1000, "mb": 1024**2, "m": 1000**2, "gb": 1024**3, "g": 1000**3, "b": 1}
    for suffix, mult in units.items():
        if v.endswith(suffix):
            num = v[: -len(suffix)]
            if num.isdigit():
                return int(num) * mult
            raise ValueError(value)
    if v.isdigit():
        return int(v)
    raise ValueError(value)


@dataclass
class Param:
    name: str
    value: str
    mutable: bool = True
    parse: Callable[[str], object] | None = None  # validates on CONFIG SET; raises ValueError
    choices: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: object) -> None:
        # The parsed value is cached; changing the text drops the cache and tells
        # whoever keeps a copy of it (the dispatcher keeps maxmemory as an int).
        object.__setattr__(self, name, value)
        if name == "value":
            object.__setattr__(self, "_parsed", None)
            hook = getattr(self, "on_change", None)
            if hook is not None:
                hook()

    def parsed(self) -> object:
        cached = getattr(self, "_parsed", None)
        if cached is None:
            cached = self.parse(self.value) if self.parse else self.value
            object.__setattr__(self, "_parsed", cached)
        return cached


def _int_range(lo: int, hi: int) -> Callable[[str], int]:
    def parse(v: str) -> int:
        n = int(v)
        if not lo <= n <= hi:
            raise ValueError(v)
        return n

    return parse


# The encoding thresholds (Redis 7.0 defaults) OBJECT ENCODING reads through
# encodings.py: (name, default, the pre-7.0 alias or "").
ENCODING_PARAMS: tuple[tuple[str, str, str], ...] = (
    ("hash-max-listpack-entries", "512", "hash-max-ziplist-entries"),
    ("hash-max-listpack-value", "64", "hash-max-ziplist-value"),
    ("zset-max-listpack-entries", "128", "zset-max-ziplist-entries"),
    ("zset-max-listpack-value", "64", "zset-max-ziplist-value"),
    ("list-max-listpack-size", "-2", "list-max-ziplist-size"),
    ("list-compress-depth", "0", ""),
    ("set-max-intset-entries", "512", ""),
    ("stream-node-max-bytes", "4096", ""),
    ("stream-node-max-entries", "100", ""),
    ("hll-sparse-max-bytes", "3000", ""),
)


class RuntimeParams:
    """The CONFIG table: name -> string value, validated on set."""

    def __init__(self, cfg: EngineConfig, port: int) -> None:
        yn = ("yes", "no")
        params = [
            Param("bind", cfg.bind, mutable=False),
            Param("port", str(port), mutable=False),
            Param("databases", str(cfg.databases), mutable=False),
            Param("maxmemory", str(cfg.maxmemory), parse=_parse_memory),
            Param("maxmemory-policy", "noeviction"),
            Param("maxmemory-samples", "5", parse=_int_range(1, 2**31 - 1)),
            Param("lfu-log-factor", "10", parse=_int_range(0, 2**31 - 1)),
            Param("lfu-decay-time", "1", parse=_int_range(0, 2**31 - 1)),
            Param("requirepass", cfg.requirepass or ""),
            Param("cluster-enabled", "yes" if cfg.cluster_enabled else "no", mutable=False),
            Param("proto-max-bulk-len", str(cfg.proto_max_bulk_len), parse=_parse_memory),
            Param("client-query-buffer-limit", str(cfg.client_query_buffer_limit), parse=_parse_memory),
            Param(
                "client-output-buffer-limit",
                f"normal {cfg.client_output_buffer_limit} 0 0 replica 268435456 67108864 60 "
                f"pubsub {cfg.pubsub_output_buffer_limit} 8388608 60",
                mutable=False,
            ),
            Param("maxclients", str(cfg.maxclients), parse=_int_range(1, 1_000_000)),
            Param("hz", str(cfg.hz), parse=_int_range(1, 500)),
            Param("timeout", "0", parse=_int_range(0, 2**31 - 1)),
            Param("save", "", mutable=False),
            Param("appendonly", "no", mutable=False, choices=yn),
            Param("appendfsync", "everysec", mutable=False),
            Param("dir", "", mutable=False),
            Param("dbfilename", "", mutable=False),
            Param("lazyfree-lazy-user-del", "no", choices=yn),
            Param("lazyfree-lazy-user-flush", "no", choices=yn),
            Param("notify-keyspace-events", "", mutable=False),
            Param("slowlog-log-slower-than", "10000", parse=int),
            Param("slowlog-max-len", "128", parse=_int_range(0, 2**31 - 1)),
            Param("latency-monitor-threshold", "0", parse=_int_range(0, 2**63 - 1)),
            Param("replica-read-only", "yes", mutable=False, choices=yn),
            Param("min-replicas-to-write", "0", parse=_int_range(0, 2**31 - 1)),
            Param("min-replicas-max-lag", "10", parse=_int_range(0, 2**31 - 1)),
            # ms a script may run before other clients get BUSY (Redis's old name: lua-time-limit).
            Param("busy-reply-threshold", "5000", parse=_int_range(0, 2**63 - 1)),
        ]
        params += [Param(name, value, parse=int) for name, value, _alias in ENCODING_PARAMS]
        params += [Param(k, v, mutable=False) for k, v in cfg.extra.items()]
        self.params: dict[str, Param] = {p.name: p for p in params}
        self.params["lua-time-limit"] = self.params["busy-reply-threshold"]  # Redis's pre-7.0 name
        # Redis 7.0 still answers to the pre-7.0 names: the same parameter under two keys
        # (CONFIG GET <alias> answers with the alias; a glob lists both names).
        for name, _value, alias in ENCODING_PARAMS:
            if alias:
                self.params[alias] = self.params[name]

    def get(self, name: str) -> str:
        return self.params[name].value

    def get_int(self, name: str) -> int:
        return int(self.params[name].parsed())  # type: ignore[arg-type]


@dataclass(frozen=True)
class NodeConfig:
    """A data node of a cluster (``python -m sandbox.engine node ...``)."""

    engine: EngineConfig  # its listener and limits; cluster_enabled is set for cluster nodes
    mode: str  # "durable" (journal-backed, MemoryDB-like) or "cache" (async replication)
    shard: int  # shard index, 0..N-1
    zone: str  # availability zone name, e.g. "az-a"
    data_dir: str  # this node's directory (snapshots cache, logs); created if missing
    journal: tuple[tuple[str, int], ...] = ()  # durable: client addresses of the journal replicas
    journal_secret: str = field(default="", repr=False)  # durable: the journal's shared secret ("" = none)
    snapshot_dir: str = ""  # durable: where verified snapshots are published (shared by a cluster)
    replica_of: tuple[str, int] | None = None  # cache: start as a replica of this primary
    replication_delay_ms: int = 0  # cache: one-way delay on the primary->replica link, ms (0..60000)
    lease_ms: int = 1000  # durable: primary lease, ms (200..60000)
    renew_every_ms: int = 333  # durable: lease renewal period, ms (at most lease_ms / 3: two may fail within a lease)
    campaign_after_ms: int = 1500  # durable: silence before a replica campaigns, ms (> lease_ms)
    prefer_primary: bool = False  # campaign first when the shard has no primary yet
    durability: str = "sync"  # durable: "sync" (reply after the journal's commit) or "async" (durability_buffer.py)
    durability_buffer_limit_ms: int = 10_000  # durable async: buffer age over which writes are refused, ms (> 0)

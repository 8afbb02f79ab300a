"""A cluster's declaration (``ClusterSpec``), its zones, its users file and its
slot map: plain values the supervisor builds its processes from.

Invariants: ``users_file`` holds password hashes only, never a password; the
application user may not run what the supervisor owns (``APP_USER_RULES``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .acl import SetUserError, UnmatchedParenthesis, has_spaces, new_user, password_hash
from .slots import SLOTS

ZONES = ("az-a", "az-b", "az-c")
SUPERVISOR_USER = "supervisor"
JOURNAL_SECRET_FILE = "journal.secret"

# What the application user may not run: what the supervisor owns (the processes,
# replication, the slot map, users, configuration) and what could stall a node.
# MemoryDB restricts the same groups. CLIENT NO-EVICT too: a connection with it skips
# the maxmemory check, so SETRANGE could grow a "64mb" node to hundreds of MB.
_SUPERVISOR_ONLY = (
    "shutdown", "debug", "monitor", "migrate", "module", "replicaof", "slaveof", "sync", "psync", "replconf",
    "client|no-evict",
    "failover", "save", "bgsave", "bgrewriteaof", "config|set", "config|rewrite",
    "acl|setuser", "acl|deluser", "acl|load", "acl|save",
    "cluster|addslots", "cluster|addslotsrange", "cluster|delslots", "cluster|delslotsrange",
    "cluster|flushslots", "cluster|failover", "cluster|forget", "cluster|meet", "cluster|replicate",
    "cluster|reset", "cluster|setslot", "cluster|set-config-epoch", "cluster|bumpepoch",
    "cluster|saveconfig", "cluster|settopology",
)
APP_USER_RULES = "~* &* +@all " + " ".join("-" + name for name in _SUPERVISOR_ONLY)


@dataclass(frozen=True)
class ClusterSpec:
    mode: str  # "durable" or "cache"
    shards: int = 1  # 1..16
    replicas: int = 1  # replicas per shard, 0..5
    base_port: int = 0  # first port (journals, then data nodes); 0 = any free ports
    data_dir: str = "var/cluster"  # created if missing
    bind: str = "127.0.0.1"  # where every process listens
    replication_delay_ms: int = 0  # cache: one-way primary->replica delay, ms
    detection_timeout_ms: int = 1000  # cache: how long a dead primary goes unnoticed, ms
    lease_ms: int = 1000  # durable: primary lease, ms
    durability: str = "sync"  # durable: "sync" or "async" (ElastiCache's option; durability_buffer.py)
    durability_buffer_limit_ms: int = 10_000  # durable async: buffer age over which writes are refused, ms
    auto_restart: bool = True  # restart crashed processes (as replicas)
    restart_delay_ms: int = 1500  # wait before restarting a crashed process, ms (doubles, up to
    # RESTART_BACKOFF_MAX_S, while it keeps crashing within RESTART_STABLE_S of its start)
    maxmemory: str = "0"  # per data node (e.g. "100mb"); also sets every process's memory rlimit ("0": none)
    client_output_buffer_limit: str = ""  # data nodes: a normal client's pending output, e.g. "32mb" ("" = engine default)
    max_disk_bytes: int = 0  # durable: cap on the journal log plus snapshots, bytes (0 = no cap); over it
    # data writes are refused until a snapshot trims the log
    requirepass: str = ""  # default-user password of every data node ("" = none)
    username: str = ""  # the application user of every data node ("" = none); then the default user is off
    password: str = field(default="", repr=False)  # its password (only hashes reach the nodes)
    user_rules: str = APP_USER_RULES  # what it may run (ACL rules)
    snapshot_interval_s: int = 60  # durable: scheduled snapshots, s (0 = only on demand / threshold)
    snapshot_threshold_entries: int = 5000  # durable: snapshot when the log grows this much
    snapshotter: bool = True  # durable: run the off-node snapshotter process
    from_snapshot: str = ""  # durable: snapshot file that seeds a NEW cluster ("" = start empty)
    journal_secret: str = field(default="", repr=False)  # durable: the journal's ("" = keep DIR/journal.secret's)
    host_journal: str = ""  # durable: the host journal's zone client addresses "host:port,host:port,host:port"
    # (journal_host.py) instead of three journal processes of the cluster's own ("" = its own)
    host_journal_group: str = ""  # durable with host_journal: the cluster's group there; the caller creates it
    # (HostJournal.create_group) with journal_secret, which is how the nodes' AUTH finds it

    def __post_init__(self) -> None:
        if self.host_journal:
            from .journal_host_group import valid_group_id

            addrs = self.host_journal.split(",")
            if self.mode != "durable" or not self.journal_secret or not valid_group_id(self.host_journal_group):
                raise ValueError("host_journal needs mode='durable', a journal_secret and a host_journal_group")
            if len(addrs) != 3 or not all(a.rpartition(":")[2].isdigit() for a in addrs):
                raise ValueError(f"host_journal names the three zones' host:port, not {self.host_journal!r}")

    def durability_args(self) -> list[str]:
        """A durable data node's durability flags."""
        return ["--durability", self.durability, "--durability-buffer-limit-ms", str(self.durability_buffer_limit_ms)]


def users_file(spec: ClusterSpec, secret: str) -> str:
    """The cluster's ACL file (password hashes only). Raises ValueError for a user
    the nodes would refuse."""
    def digest(password: str) -> str:
        return password_hash(password.encode()).decode()

    if spec.requirepass:
        default = f"on #{digest(spec.requirepass)} ~* &* +@all"
    elif spec.username:
        default = "off resetchannels -@all"
    else:
        default = "on nopass ~* &* +@all"
    lines = [f"user default {default}", f"user {SUPERVISOR_USER} on #{digest(secret)} ~* &* +@all"]
    if spec.username:
        name = spec.username
        if name in ("default", SUPERVISOR_USER) or not name or has_spaces(name.encode()) or not spec.password:
            raise ValueError(f"unusable application user {name!r}: needs a name of its own without spaces, "
                             "and a password")
        try:
            new_user(name.encode(), spec.user_rules.encode().split(b" "))
        except (SetUserError, UnmatchedParenthesis) as exc:
            raise ValueError(f"bad user_rules {spec.user_rules!r}: {exc}") from None
        lines.append(f"user {name} on #{digest(spec.password)} {spec.user_rules}")
    return "\n".join(lines) + "\n"


def slot_ranges(shards: int) -> list[tuple[int, int]]:
    return [(i * SLOTS // shards, (i + 1) * SLOTS // shards - 1) for i in range(shards)]

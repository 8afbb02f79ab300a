"""Every error the engine sends, as data.

``RedisError`` carries the exact wire text (without the leading ``-`` and the
trailing CRLF). All texts live here as constants or small formatters so that the
engine matches Redis 7.0 byte for byte in one place.
"""

from __future__ import annotations


class RedisError(Exception):
    """An error reply. ``text`` is what follows ``-`` on the wire."""

    __slots__ = ("text",)

    def __init__(self, text: str | bytes) -> None:
        if isinstance(text, str):
            text = text.encode()
        # Redis never lets CR/LF into an error line (addReplyErrorLength).
        self.text: bytes = text.replace(b"\r", b" ").replace(b"\n", b" ")
        super().__init__(self.text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RedisError) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"RedisError({self.text!r})"


class ProtocolError(RedisError):
    """A malformed request: reply with the text, then close the connection."""


def _err(text: str) -> RedisError:
    return RedisError(text)


# Generic
SYNTAX = _err("ERR syntax error")
NOT_INTEGER = _err("ERR value is not an integer or out of range")
NOT_FLOAT = _err("ERR value is not a valid float")
OVERFLOW = _err("ERR increment or decrement would overflow")
WRONGTYPE = _err("WRONGTYPE Operation against a key holding the wrong kind of value")
NO_SUCH_KEY = _err("ERR no such key")
INDEX_OUT_OF_RANGE = _err("ERR index out of range")
DB_INDEX_OUT_OF_RANGE = _err("ERR DB index is out of range")
SELECT_NOT_ALLOWED_IN_CLUSTER = _err("ERR SELECT is not allowed in cluster mode")
SAME_OBJECT = _err("ERR source and destination objects are the same")
INVALID_EXPIRE = "ERR invalid expire time in '{}' command"
NAN_OR_INF = _err("ERR increment would produce NaN or Infinity")
NOT_INT_HASH = _err("ERR hash value is not an integer")
NOT_FLOAT_HASH = _err("ERR hash value is not a float")
MIN_MAX_NOT_FLOAT = _err("ERR min or max is not a float")
MIN_MAX_NOT_VALID_STRING = _err("ERR min or max not valid string range item")
BIT_OFFSET = _err("ERR bit offset is not an integer or out of range")
BIT_VALUE = _err("ERR bit is not an integer or out of range")
STRING_TOO_LONG = _err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
OFFSET_OUT_OF_RANGE = _err("ERR offset is out of range")
TIMEOUT_NEGATIVE = _err("ERR timeout is negative")
COUNT_NEGATIVE = _err("ERR value is out of range, must be positive")

# Connection / auth
NOAUTH = _err("NOAUTH Authentication required.")
WRONGPASS = _err("WRONGPASS invalid username-password pair or user is disabled.")
AUTH_NOT_CONFIGURED = _err(
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)
NOPROTO = _err("NOPROTO unsupported protocol version")

# Transactions
MULTI_NESTED = _err("ERR MULTI calls can not be nested")
EXEC_WITHOUT_MULTI = _err("ERR EXEC without MULTI")
DISCARD_WITHOUT_MULTI = _err("ERR DISCARD without MULTI")
WATCH_IN_MULTI = _err("ERR WATCH inside MULTI is not allowed")
EXECABORT = _err("EXECABORT Transaction discarded because of previous errors.")

# Memory
OOM = _err("OOM command not allowed when used memory > 'maxmemory'.")

# Replication / durability
READONLY = _err("READONLY You can't write against a read only replica.")
NOREPLICAS = _err("NOREPLICAS Not enough good replicas to write.")

# Cluster
CROSSSLOT = _err("CROSSSLOT Keys in request don't hash to the same slot")
CLUSTERDOWN = _err("CLUSTERDOWN The cluster is down")
CLUSTERDOWN_UNBOUND = _err("CLUSTERDOWN Hash slot not served")
CLUSTER_DISABLED = _err("ERR This instance has cluster support disabled")

# COMMAND GETKEYS / GETKEYSANDFLAGS
GETKEYS_INVALID_COMMAND = _err("ERR Invalid command specified")
GETKEYS_NO_KEYS = _err("ERR The command has no key arguments")
GETKEYS_BAD_ARITY = _err("ERR Invalid number of arguments specified for command")
GETKEYS_BAD_ARGS = _err("ERR Invalid arguments specified for command")


def moved(slot: int, host: str, port: int) -> RedisError:
    return RedisError(f"MOVED {slot} {host}:{port}")


def ask(slot: int, host: str, port: int) -> RedisError:
    return RedisError(f"ASK {slot} {host}:{port}")


def _preview(arg: bytes, room: int) -> bytes:
    return arg[: max(room, 0)]


def unknown_command(argv: list[bytes]) -> RedisError:
    """Redis 7.0 ``unknown command`` text with its argument preview (max 128 bytes)."""
    args = b""
    for arg in argv[1:]:
        if len(args) >= 128:
            break
        args += b"'" + _preview(arg, 128 - len(args)) + b"' "
    return RedisError(b"ERR unknown command '" + argv[0][:128] + b"', with args beginning with: " + args)


def unknown_subcommand(argv: list[bytes], container: str) -> RedisError:
    return RedisError(
        b"ERR unknown subcommand '" + argv[1][:128] + b"'. Try " + container.upper().encode() + b" HELP."
    )


def subcommand_syntax_error(argv: list[bytes], container: str) -> RedisError:
    """Redis's addReplySubcommandSyntaxError (a subcommand given too many arguments)."""
    return RedisError(
        b"ERR unknown subcommand or wrong number of arguments for '" + argv[1] + b"'. Try "
        + container.upper().encode() + b" HELP."
    )


def wrong_arity(fullname: str) -> RedisError:
    return RedisError(f"ERR wrong number of arguments for '{fullname}' command")


def pubsub_context(name: str) -> RedisError:
    return RedisError(
        f"ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
        "are allowed in this context"
    )


def invalid_expire(name: str) -> RedisError:
    return RedisError(INVALID_EXPIRE.format(name))


# Durable sandboxes: limits of this lab's journal (no Redis counterpart)
JOURNAL_ENTRY_TOO_LARGE = _err(
    "ERR the write's effects are larger than one journal entry holds; it was not acknowledged"
)


def disk_quota(used_bytes: int, cap_bytes: int) -> RedisError:
    """A durable sandbox's log (plus snapshots) reached its disk cap: writes wait for a trim."""
    mb = 1024 * 1024
    return RedisError(f"ERR the sandbox's disk quota is used up ({used_bytes // mb} MB of {cap_bytes // mb} MB); "
                      "writes resume after the next snapshot trims the log")


# Bits (BITOP, BITFIELD, SETBIT)
BIT_ARG = _err("ERR The bit argument must be 1 or 0.")
BIT_BITOP_NOT = _err("ERR BITOP NOT must be called with a single source key.")
BIT_BITFIELD_TYPE = _err(
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
)
BIT_OVERFLOW_TYPE = _err("ERR Invalid OVERFLOW type specified")
BIT_BITFIELD_RO = _err("ERR BITFIELD_RO only supports the GET subcommand")

# SCAN and its kin
SCAN_INVALID_CURSOR = _err("ERR invalid cursor")

# Expiry
EXPIRE_NX_XX_GT_LT = _err("ERR NX and XX, GT or LT options at the same time are not compatible")
EXPIRE_GT_LT = _err("ERR GT and LT options at the same time are not compatible")

# Hashes
HASH_NAN_OR_INF_VALUE = _err("ERR value is NaN or Infinity")

# Keys (COPY, MOVE, ...)
KEYS_INT_RANGE = _err("ERR value is out of range, value must between -2147483648 and 2147483647")
KEYS_COPY_CLUSTER = _err("ERR Copying to another database is not allowed in cluster mode")
KEYS_MOVE_CLUSTER = _err("ERR MOVE is not allowed in cluster mode")

# Lists
LIST_RANK_ZERO = _err(
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative "
    "to start from the end of the list"
)
LIST_COUNT_NEGATIVE = _err("ERR COUNT can't be negative")
LIST_MAXLEN_NEGATIVE = _err("ERR MAXLEN can't be negative")

# OBJECT
OBJECT_FREQ_NOT_LFU = _err(
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when "
    "switching between policies at runtime LRU and LFU data will take some time to adjust."
)
OBJECT_IDLE_LFU = _err(
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching "
    "between policies at runtime LRU and LFU data will take some time to adjust."
)

# Replication (WAIT, REPLICAOF, REPLCONF)
REPL_WAIT_ON_REPLICA = _err(
    "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica "
    "is configured to be writable (which is not the default) writes to replicas are just local and are "
    "not propagated."
)
REPL_WAIT_DURABLE = _err(
    "ERR WAIT is not needed in durable mode: a write is acknowledged only once the journal has committed "
    "it in a majority of zones"
)
TIMEOUT_NOT_INTEGER = _err("ERR timeout is not an integer or out of range")
REPL_NOMASTERLINK = _err("NOMASTERLINK Can't SYNC while not connected with my master")
REPL_NOT_WHILE_REPLICA_LINK = _err("ERR Command is not valid when client is a replica.")
REPL_INVALID_PORT = _err("ERR Invalid master port")

# Sets
SET_TOO_MANY_KEYS = _err("ERR Number of keys can't be greater than number of args")

# SORT
SORT_NOT_DOUBLE = _err("ERR One or more scores can't be converted into double")
SORT_BY_CLUSTER = _err("ERR BY option of SORT denied in Cluster mode.")
SORT_BY_ACL = _err("ERR BY option of SORT denied due to insufficient ACL permissions.")
SORT_GET_ACL = _err("ERR GET option of SORT denied due to insufficient ACL permissions.")
SORT_GET_CLUSTER = _err("ERR GET option of SORT denied in Cluster mode.")

# Stream consumer groups
XGROUP_BUSYGROUP = _err("BUSYGROUP Consumer Group name already exists")
XGROUP_NEEDS_KEY = _err(
    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the "
    "MKSTREAM option to create an empty stream automatically."
)
XGROUP_ENTRIES_READ = _err("ERR value for ENTRIESREAD must be positive or -1")
XGROUP_COUNT_POSITIVE = _err("ERR COUNT must be > 0")
XGROUP_COUNT_TOO_HIGH = _err("ERR Insufficient memory, failed allocating transient memory, COUNT too high.")

# Stream reads (XREAD, XREADGROUP)
XREAD_UNBALANCED = _err("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.")
XREAD_MISSING_GROUP = _err("ERR Missing GROUP option for XREADGROUP")
XREAD_GROUP_ON_XREAD = _err("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
XREAD_NOACK_ON_XREAD = _err("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
XREAD_GT_ON_XREAD = _err(
    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> "
    "option."
)
XREAD_DOLLAR_ON_GROUP = _err(
    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this "
    "consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return "
    "an empty result set."
)
XREAD_KEY_GONE = _err("UNBLOCKED the stream key no longer exists")
XREAD_GROUP_GONE = _err("NOGROUP the consumer group this client was blocked on no longer exists")
XREAD_UNBLOCKED = _err("UNBLOCKED client unblocked via CLIENT UNBLOCK")

# Streams
STREAM_ID_ZERO = _err("ERR The ID specified in XADD must be greater than 0-0")
STREAM_ID_TOO_SMALL = _err("ERR The ID specified in XADD is equal or smaller than the target stream top item")
STREAM_EXHAUSTED = _err("ERR The stream has exhausted the last possible ID, unable to add more items")
STREAM_TOO_LARGE = _err("ERR Elements are too large to be stored")
STREAM_MAXLEN_NEGATIVE = _err("ERR The MAXLEN argument must be >= 0.")
STREAM_LIMIT_NEGATIVE = _err("ERR The LIMIT argument must be >= 0.")
STREAM_BOTH_STRATEGIES = _err("ERR syntax error, MAXLEN and MINID options at the same time are not compatible")
STREAM_LIMIT_WITHOUT_STRATEGY = _err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
STREAM_XTRIM_WITHOUT_STRATEGY = _err("ERR syntax error, XTRIM must be called with a trimming strategy")
STREAM_LIMIT_WITHOUT_TILDE = _err("ERR syntax error, LIMIT cannot be used without the special ~ option")
STREAM_START_INTERVAL = _err("ERR invalid start ID for the interval")
STREAM_END_INTERVAL = _err("ERR invalid end ID for the interval")
STREAM_SETID_TOP = _err("ERR The ID specified in XSETID is smaller than the target stream top item")
STREAM_SETID_PROVIDED_MAXDELETED = _err(
    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
)
STREAM_SETID_ENTRIES_ADDED = _err("ERR The entries_added specified in XSETID is smaller than the target stream length")
STREAM_ENTRIES_ADDED_NEGATIVE = _err("ERR entries_added must be positive")

# Strings
STRING_DECR_OVERFLOW = _err("ERR decrement would overflow")

# Strings: LCS
STRING_LCS_TYPES = _err("ERR The specified keys must contain string values")
STRING_LCS_LEN_AND_IDX = _err("ERR If you want both the length and indexes, please just use IDX.")
STRING_LCS_TOO_LONG = _err("ERR String too long for LCS")
STRING_LCS_MEMORY = _err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")

# Arguments shared by families
NUMKEYS_NOT_POSITIVE = _err("ERR numkeys should be greater than 0")
COUNT_POSITIVE = _err("ERR count should be greater than 0")
LIMIT_NEGATIVE = _err("ERR LIMIT can't be negative")
COUNT_RANGE = _err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
OUT_OF_RANGE = _err("ERR value is out of range")

# Sorted sets
ZSET_XX_NX = _err("ERR XX and NX options at the same time are not compatible")
ZSET_GT_LT_NX = _err("ERR GT, LT, and/or NX options at the same time are not compatible")
ZSET_INCR_PAIR = _err("ERR INCR option supports a single increment-element pair")
ZSET_NAN = _err("ERR resulting score is not a number (NaN)")

# Sorted sets: algebra
ZSET_WEIGHT = _err("ERR weight value is not a float")

# Sorted sets: ranges
ZSET_LIMIT_NEEDS_BY = _err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
ZSET_WITHSCORES_BYLEX = _err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")

# ACL
ACL_NO_ACLFILE = _err(
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the "
    "ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file "
    "set) in order to store users in the Redis configuration."
)

# Stream IDs
STREAM_INVALID_ID = _err("ERR Invalid stream ID specified as stream command argument")

# The journal's client port (journal_server.py): this lab's own replies, one code each
# so the data node can tell them apart (``RespError.code``).
JOURNAL_WRONGPASS = _err("WRONGPASS invalid journal secret")
JOURNAL_TIMEOUT = _err("TIMEOUT the append may or may not have committed")


def journal_not_leader(hint: str) -> RedisError:
    """``hint`` is the leader's client address (host:port), or ``?``."""
    return RedisError(f"NOTLEADER {hint}")


def journal_too_big(max_bytes: int) -> RedisError:
    return RedisError(f"TOOBIG an entry holds at most {max_bytes} bytes")


def journal_quota(used_bytes: int, cap_bytes: int) -> RedisError:
    return RedisError(f"QUOTA {used_bytes} {cap_bytes}")


def journal_condfail(tail_id: int) -> RedisError:
    return RedisError(f"CONDFAIL {tail_id}")


def journal_fenced(leader: str | None, epoch: int) -> RedisError:
    return RedisError(f"FENCED {leader or '?'} {epoch}")


def journal_trimmed(upto_id: int, snapshot_id: str | None) -> RedisError:
    return RedisError(f"TRIMMED {upto_id} {snapshot_id or '?'}")


def journal_bad_argument(reason: str) -> RedisError:
    return RedisError(f"ERR {reason}")


def journal_unknown_command(name: bytes) -> RedisError:
    return RedisError(f"ERR unknown command or wrong number of arguments for '{name.decode(errors='replace')}'")

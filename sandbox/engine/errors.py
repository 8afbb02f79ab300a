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


# Malformed requests (resp.py): the reply, then the connection closes
PROTO_MBULK_COUNT_TOO_BIG = ProtocolError("ERR Protocol error: too big mbulk count string")
PROTO_BULK_COUNT_TOO_BIG = ProtocolError("ERR Protocol error: too big bulk count string")
PROTO_INLINE_TOO_BIG = ProtocolError("ERR Protocol error: too big inline request")
PROTO_INVALID_MBULK = ProtocolError("ERR Protocol error: invalid multibulk length")
PROTO_INVALID_BULK = ProtocolError("ERR Protocol error: invalid bulk length")
PROTO_UNBALANCED = ProtocolError("ERR Protocol error: unbalanced quotes in request")
PROTO_UNAUTH_MBULK = ProtocolError("ERR Protocol error: unauthenticated multibulk length")
PROTO_UNAUTH_BULK = ProtocolError("ERR Protocol error: unauthenticated bulk length")


def proto_expected_dollar(got: int) -> ProtocolError:
    return ProtocolError("ERR Protocol error: expected '$', got '%c'" % got)


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
TIMEOUT_NOT_FLOAT = _err("ERR timeout is not a float or out of range")  # blocking pops' seconds
COUNT_NEGATIVE = _err("ERR value is out of range, must be positive")

# Connection / auth
NOAUTH = _err("NOAUTH Authentication required.")
WRONGPASS = _err("WRONGPASS invalid username-password pair or user is disabled.")
AUTH_NOT_CONFIGURED = _err(
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)
NOPROTO = _err("NOPROTO unsupported protocol version")
MAX_CLIENTS = _err("ERR max number of clients reached")


def command_failed(reason: str) -> RedisError:
    """A blocked command's body failed unexpectedly: the client is told why, and stays connected."""
    return RedisError(f"ERR {reason}")


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

NOT_ALLOWED_IN_MULTI = _err("ERR Command not allowed inside a transaction")


def internal_error(command: str, exc_type: str) -> RedisError:
    """A command body raised something unexpected (a bug): the client gets this, the node logs it."""
    return RedisError(f"ERR internal error in '{command}': {exc_type}")


def acl_changed_before_exec(reason: str) -> RedisError:
    return RedisError(
        "NOPERM ACLs rules changed between the moment the transaction was accumulated "
        "and the EXEC call. This command is no longer allowed for the following reason: " + reason
    )

UNBLOCKED_DEMOTED = _err(
    "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"
)
REPLICATION_IN_DURABLE_MODE = _err(
    "ERR replication commands are not available in durable mode: replicas follow the journal"
)
# A durable shard's primary (durable.py): writes it could not acknowledge
LEASE_EXPIRED = _err("CLUSTERDOWN The primary's lease expired; a new primary is being elected")
NO_LONGER_PRIMARY = _err("CLUSTERDOWN Write not committed: this node is no longer the primary")
JOURNAL_NO_QUORUM = _err("CLUSTERDOWN The journal has no quorum; the write was not acknowledged")
DURABILITY_BUFFER_FULL = _err("CLUSTERDOWN Durability buffer full: writes are refused until the log catches up")

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

# HyperLogLog (PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST)
HLL_WRONGTYPE = _err("WRONGTYPE Key is not a valid HyperLogLog string value.")
HLL_INVALID = _err("INVALIDOBJ Corrupted HLL object detected")
HLL_NO_KEY = _err("ERR The specified key does not exist")
HLL_NOT_SPARSE = _err("ERR HLL encoding is not sparse")


def hll_unknown_debug(sub: bytes) -> RedisError:
    """PFDEBUG's unknown subcommand, printed as C prints it (up to a NUL byte)."""
    return RedisError(b"ERR Unknown PFDEBUG subcommand '" + sub.split(b"\0", 1)[0] + b"'")


def hll_selftest_failed(detail: str) -> RedisError:
    return RedisError(f"TESTFAILED {detail}")


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

# DUMP / RESTORE
RESTORE_BUSYKEY = _err("BUSYKEY Target key name already exists.")
RESTORE_INVALID_TTL = _err("ERR Invalid TTL value, must be >= 0")
RESTORE_INVALID_IDLETIME = _err("ERR Invalid IDLETIME value, must be >= 0")
RESTORE_INVALID_FREQ = _err("ERR Invalid FREQ value, must be >= 0 and <= 255")
RESTORE_BAD_PAYLOAD = _err("ERR DUMP payload version or checksum are wrong")
RESTORE_BAD_DATA = _err("ERR Bad data format")

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
CLIENT_UNBLOCKED = XREAD_UNBLOCKED  # every blocking family's answer to CLIENT UNBLOCK ... ERROR

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
STRING_LCS_SANDBOX_LIMIT = _err(
    "ERR LCS is limited here to 1000000 bytes of both strings together unless LEN is given (the string and IDX forms)"
)

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

# Connections, clients, server administration
ACL_SAVE_FAILED = _err(
    "ERR There was an error trying to save the ACLs. Please check the server logs for more information"
)
ACL_GENPASS_BITS = _err(
    "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to"
    " 4096"
)
ACL_DEFAULT_USER_UNDELETABLE = _err("ERR The 'default' user cannot be removed")
ACL_USERNAME_SPACES = _err("ERR Usernames can't contain spaces or null characters")
CLIENT_UNBLOCK_REASON = _err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
CLIENT_PAUSE_UNSUPPORTED = _err("ERR CLIENT PAUSE is not supported by this engine")
CLIENT_PAUSE_MODE = _err("ERR CLIENT PAUSE mode must be WRITE or ALL")
CLIENT_CACHING_NOT_TRACKING = _err(
    "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode "
    "enabled"
)
CLIENT_TRACKING_UNSUPPORTED = _err("ERR CLIENT TRACKING is not supported by this engine (no client-side caching)")
CLIENT_REPLY_UNSUPPORTED = _err("ERR CLIENT REPLY OFF and SKIP are not supported by this engine")
CLIENT_ID_NOT_POSITIVE = _err("ERR client-id should be greater than 0")
CLIENT_NO_SUCH_CLIENT = _err("ERR No such client")
CLIENT_INVALID_ID = _err("ERR Invalid client ID")
CLIENT_NAME_INVALID = _err("ERR Client names cannot contain spaces, newlines or special characters.")
CLUSTER_INVALID_SLOT_OR_COUNT = _err("ERR Invalid slot or number of keys")
CLUSTER_INVALID_SLOT = _err("ERR Invalid slot")
HELLO_NOAUTH = _err(
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> "
    "<pass> option can be used to authenticate the client and select the RESP protocol version at the "
    "same time"
)
HELLO_PROTOVER = _err("ERR Protocol version is not an integer or out of range")
SLOWLOG_COUNT = _err("ERR count should be greater than or equal to -1")
# A node of the sandbox is one member of a managed shard: like MemoryDB, it doesn't
# let a client move the primary; the service does (the console's fault buttons).
FAILOVER_MANAGED = _err(
    "ERR FAILOVER is not allowed on this node: failover is managed by the service "
    "(crash or pause the primary from the sandbox console to see one)"
)


def latency_no_samples(event: bytes) -> RedisError:
    return _err(f"ERR No samples available for event '{event.decode(errors='replace')}'")


MONITOR_UNSUPPORTED = _err("ERR MONITOR is not supported by this engine")
DEBUG_UNSUPPORTED = _err("ERR DEBUG is not supported by this engine")
SHUTDOWN_FAILED = _err("ERR Errors trying to SHUTDOWN. Check logs.")
SHUTDOWN_NOT_IN_PROGRESS = _err("ERR No shutdown in progress.")
BGREWRITEAOF_UNAVAILABLE = _err(
    "ERR BGREWRITEAOF is not available: this engine has no append-only file, its writes are made durable "
    "by the transaction log"
)
CONFIG_NO_FILE = _err("ERR The server is running without a config file")
SWAPDB_IN_CLUSTER = _err("ERR SWAPDB is not allowed in cluster mode")
XAUTOCLAIM_MIN_IDLE = _err("ERR Invalid min-idle-time argument for XAUTOCLAIM")
XCLAIM_MIN_IDLE = _err("ERR Invalid min-idle-time argument for XCLAIM")
COMMAND_ABORTED = _err("ERR command aborted")

SWAPDB_FIRST_INDEX = _err("ERR invalid first DB index")
SWAPDB_SECOND_INDEX = _err("ERR invalid second DB index")


def config_set_failed(name: str, why: str) -> RedisError:
    return RedisError(f"ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")


def config_set_unknown(given: str) -> RedisError:
    return RedisError(f"ERR Unknown option or number of arguments for CONFIG SET - '{given}'")


def no_snapshots(name: str) -> RedisError:
    """SAVE/BGSAVE: snapshots are taken off-node here (this lab's text)."""
    return RedisError(
        f"ERR {name} is not available: this engine takes snapshots off-node from its transaction log "
        "(as MemoryDB does), not by forking the node"
    )


def hello_syntax(option: bytes) -> RedisError:
    return RedisError(b"ERR Syntax error in HELLO option '" + option + b"'")


def client_unknown_type(kind: bytes) -> RedisError:
    return RedisError(b"ERR Unknown client type '" + kind + b"'")


def client_no_such_user(name: bytes) -> RedisError:
    return RedisError(b"ERR No such user '" + name + b"'")


def cluster_invalid_topology(reason: str) -> RedisError:
    return RedisError(f"ERR invalid topology: {reason}")


def replconf_unrecognized(option: bytes) -> RedisError:
    return RedisError(b"ERR Unrecognized REPLCONF option: " + option)


def acl_user_not_found(name: bytes) -> RedisError:
    return RedisError(b"ERR User '" + name + b"' not found")


def acl_command_not_found(name: bytes) -> RedisError:
    return RedisError(b"ERR Command '" + name + b"' not found")


def acl_file_error(reason: str) -> RedisError:
    """ACL LOAD: the file's first bad line, as acl_users.AclFileError words it."""
    return RedisError(f"ERR {reason}")


def acl_unknown_category(name: bytes) -> RedisError:
    return RedisError(b"ERR Unknown category '" + name + b"'")


def acl_unmatched_parenthesis(start: bytes) -> RedisError:
    return RedisError(b"ERR Unmatched parenthesis in acl selector starting at '" + start + b"'.")


def acl_setuser_error(rule: bytes, reason: str) -> RedisError:
    return RedisError(b"ERR Error in ACL SETUSER modifier '" + rule + b"': " + reason.encode())


def expire_unsupported_option(option: bytes) -> RedisError:
    return RedisError(b"ERR Unsupported option " + option)


def zset_no_input_key(command: str) -> RedisError:
    return RedisError(f"ERR at least 1 input key is needed for '{command}' command")


def xclaim_invalid_argument(option: bytes) -> RedisError:
    return RedisError(b"ERR Invalid " + option + b" option argument for XCLAIM")


def xclaim_unrecognized_option(option: bytes) -> RedisError:
    return RedisError(b"ERR Unrecognized XCLAIM option '" + option + b"'")


def nogroup_key_or_group(key: bytes, group: bytes, suffix: bytes = b"") -> RedisError:
    return RedisError(b"NOGROUP No such key '" + key + b"' or consumer group '" + group + b"'" + suffix)


def nogroup_for_key(group: bytes, key: bytes) -> RedisError:
    return RedisError(b"NOGROUP No such consumer group '" + group + b"' for key name '" + key + b"'")

# ACL: why a rule is invalid (inside ACL SETUSER's and ACL LOAD's texts), and denials
ACL_UNKNOWN = "Unknown command or category name in ACL"
ACL_SYNTAX = "Syntax error"
ACL_KEYS_AFTER_ALL = (
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any "
    "effect. Try 'resetkeys' to start with an empty list of patterns"
)
ACL_CHANNELS_AFTER_ALL = (
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any "
    "effect. Try 'resetchannels' to start with an empty list of channels"
)
ACL_NO_SUCH_PASSWORD = "The password you are trying to remove from the user does not exist"
ACL_BAD_HASH = "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
ACL_SUBCOMMAND_FIRST_ARG = "Allowing first-arg of a subcommand is not supported"

NOPERM_CMD = "NOPERM this user has no permissions to run the '{}' command"
NOPERM_KEY = _err("NOPERM this user has no permissions to access one of the keys used as arguments")
NOPERM_CHANNEL = _err(
    "NOPERM this user has no permissions to access one of the channels used as arguments"
)

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


# Geo (GEOADD, GEODIST, GEORADIUS*, GEOSEARCH*)
GEO_NO_MEMBER = _err("ERR could not decode requested zset member")
GEO_BAD_UNIT = _err("ERR unsupported unit provided. please use M, KM, FT, MI")
GEO_NEED_RADIUS = _err("ERR need numeric radius")
GEO_NEED_WIDTH = _err("ERR need numeric width")
GEO_NEED_HEIGHT = _err("ERR need numeric height")
GEO_RADIUS_NEGATIVE = _err("ERR radius cannot be negative")
GEO_BOX_NEGATIVE = _err("ERR height or width cannot be negative")
GEO_COUNT_POSITIVE = _err("ERR COUNT must be > 0")
GEO_ANY_NEEDS_COUNT = _err("ERR the ANY argument requires COUNT argument")


def geo_invalid_lonlat(lon: float, lat: float) -> RedisError:
    return RedisError("ERR invalid longitude,latitude pair %f,%f" % (lon, lat))


def geo_store_with_options(what: str) -> RedisError:
    return RedisError(f"ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options")


def geo_exactly_one(options: str, name: bytes) -> RedisError:
    """``name``: the command as the client spelled it."""
    return RedisError(b"ERR exactly one of %b can be specified for %b" % (options.encode(), name))


# Scripting (EVAL, SCRIPT, FUNCTION, FCALL) and what redis.call answers inside a script
NOSCRIPT = _err("NOSCRIPT No matching script. Please use EVAL.")
NEGATIVE_KEYS = _err("ERR Number of keys can't be negative")
TOO_MANY_KEYS = _err("ERR Number of keys can't be greater than number of args")
BUSY_SCRIPT = _err("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
BUSY_FUNCTION = _err("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.")
NOTBUSY = _err("NOTBUSY No scripts in execution right now.")
UNKILLABLE = _err(
    "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait "
    "the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
)
SCRIPT_FLUSH_MODE = _err("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
SCRIPT_UNKNOWN_COMMAND = _err("ERR Unknown Redis command called from script")
SCRIPT_WRONG_ARGS = _err("ERR Wrong number of args calling Redis command from script")
SCRIPT_NOT_ALLOWED = _err("ERR This Redis command is not allowed from script")
SCRIPT_WRITE_IN_READONLY = _err("ERR Write commands are not allowed from read-only scripts.")
SCRIPT_NON_LOCAL_KEY = _err("ERR Script attempted to access a non local key in a cluster node")
SCRIPT_CLUSTER_DOWN = _err("ERR Script attempted to execute a command while the cluster is down")
SCRIPT_CROSS_SLOT = _err("ERR Script attempted to access keys that do not hash to the same slot")
# redis.call refused by ACL, by the reason's number (acl.DENIED_CMD 1, DENIED_KEY 2, DENIED_CHANNEL 4).
SCRIPT_ACL_DENIALS = {
    1: _err("ERR The user executing the script can't run this command or subcommand"),
    2: _err("ERR The user executing the script can't access at least one of the keys mentioned in the "
            "command arguments"),
    4: _err("ERR The user executing the script can't publish to the channel mentioned in the command"),
}
FUNCTION_NOT_FOUND = _err("ERR Function not found")
FUNCTION_LIBRARY_NOT_FOUND = _err("ERR Library not found")
FUNCTION_NO_WRITES = _err("ERR Can not execute a script with write flag using *_ro command.")
FUNCTION_LIBRARY_NAME = _err("ERR Library names can only contain letters, numbers, or underscores(_) and must be at "
                             "least one character long")
FUNCTION_RESTORE_POLICY = _err("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
FUNCTION_RESTORE_NOT_A_FUNCTION = _err("ERR given type is not a function")
FUNCTION_RESTORE_NO_TYPE = _err("ERR can not read data type")
FUNCTION_RESTORE_NO_PAYLOAD = _err("ERR Failed loading library payload")
# FUNCTION RESTORE of Redis 7.0 rc1/rc2's library record (name, engine, description, code), by the field that failed.
FUNCTION_RESTORE_PRE_GA = {
    "name": _err("ERR Failed loading library name"),
    "engine": _err("ERR Failed loading engine name"),
    "description": _err("ERR Failed loading library description"),
    "blob": _err("ERR Failed loading library blob"),
}


# The Lua runtime's own refusals (EVAL's shebang, FUNCTION LOAD, redis.* calls), in Redis 7.0's words.
SCRIPT_LIB_NO_ARGS = _err("ERR Please specify at least one argument for this redis lib call")
SCRIPT_LIB_BAD_ARG = _err("ERR Lua redis lib command arguments must be strings or integers")
SCRIPT_RESP_VERSION = _err("ERR RESP version must be 2 or 3.")
SCRIPT_NO_CLUSTER = _err("ERR Can not run script on cluster, 'no-cluster' flag is set.")
FUNCTION_FLUSH_MODE = _err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
FUNCTION_NO_FUNCTIONS = _err("ERR No functions registered")
FUNCTION_NO_METADATA = _err("ERR Missing library metadata")
FUNCTION_NO_LIBRARY_NAME = _err("ERR Library name was not given")
FUNCTION_REGISTER_ARITY = _err("ERR wrong number of arguments to redis.register_function")
FUNCTION_REGISTER_ARGS = _err("ERR wrong arguments to redis.register_function")
# Errors Redis words as a fixed text followed by a detail (a name, a flag, Lua's own message).
_SCRIPT_DETAIL = {
    "compile_script": b"ERR Error compiling script (new function): ",
    "shebang_engine": b"ERR Unexpected engine in script shebang: ",
    "shebang_option": b"ERR Unknown lua shebang option: ",
    "shebang_flag": b"ERR Unexpected flag in script shebang: ",
    "compile_function": b"ERR Error compiling function: ",
    "register": b"ERR Error registering functions: ",
    "unknown_flag": b"ERR Unknown flag given: ",
    "metadata": b"ERR Invalid metadata value given: ",
    "list_argument": b"ERR Unknown argument ",
}


GENERIC_PREFIX = b"ERR "  # a Lua error raised as a plain string takes this code, as in Redis
WRONG_ARITY_PREFIX = b"ERR wrong number of arguments"


def script_error(kind: str, detail: bytes) -> RedisError:
    return RedisError(_SCRIPT_DETAIL[kind] + detail)


def script_run_failed(name: bytes) -> RedisError:
    return RedisError(b"ERR Error running script (call to %b): unknown error" % name)


def function_library_exists(name: bytes) -> RedisError:
    """FUNCTION LOAD without REPLACE meeting a library it has."""
    return RedisError(b"ERR Library '%b' already exists" % name)


def function_engine_not_found(engine: bytes) -> RedisError:
    return RedisError(b"ERR Engine '%b' not found" % engine)


def function_restore_library_exists(name: bytes) -> RedisError:
    """FUNCTION RESTORE APPEND meeting a library it has (no quotes, unlike FUNCTION LOAD's)."""
    return RedisError(b"ERR Library %b already exists" % name)


def function_exists(name: bytes) -> RedisError:
    return RedisError(b"ERR Function %b already exists" % name)

"""Errors of the command families (bits, HyperLogLog, keys, lists, sets, sorted sets,
streams, strings, DUMP/RESTORE, OBJECT, replication commands), of connections and
server administration, of ACL rules and of the journal's client port.
"""

from __future__ import annotations

from .base import ProtocolError, RedisError, _err

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
# The host journal (journal_host.py): a group that is not (or no longer) hosted here,
# and the control port's refusals.
JOURNAL_NO_GROUP = _err("NOGROUP no such journal group in this zone")
JOURNAL_GROUP_EXISTS = _err("EXISTS the journal group exists with another secret")
JOURNAL_SECRET_IN_USE = _err("EXISTS another journal group has this secret")
JOURNAL_BAD_GROUP_ID = _err("ERR a journal group id is 1-64 letters, digits, '_', '.' or '-'")


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

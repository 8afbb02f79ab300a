"""Errors of the protocol, the dispatcher and the node's role: malformed requests,
generic argument errors, authentication, transactions, memory, replication and the
durable shard, cluster redirections, COMMAND GETKEYS, the lab's journal limits.
"""

from __future__ import annotations

from .base import ProtocolError, RedisError, _err

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

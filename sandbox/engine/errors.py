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
NUMKEYS_ZERO = "ERR numkeys should be greater than 0"
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

"""Argument parsing shared by command bodies, with Redis's exact strictness.

Redis parses integers with ``string2ll`` (no spaces, no '+', no leading zeros) and
doubles with ``strtod`` (hex and ``inf`` accepted; NaN, spaces, trailing bytes and
overflow rejected). Python's ``int()``/``float()`` accept more ("1_000", " 1",
"nan"), so every command goes through these.

Also here, because several families read the same arguments the same way: option
keywords as C strings (``keyword``), ``numkeys key [key ...]`` positions, the
LMPOP/ZMPOP tail and key search, the count of the *RANDMEMBER/HRANDFIELD commands
and their repeated picks (weighed against the client's output limit),
the two ways Redis normalises ``start``/``end`` indexes, the size limits read from
CONFIG (encoding thresholds, proto-max-bulk-len), and how a *STORE command writes
its result. Invariant: each of those has exactly one
implementation, so a fix to Redis compatibility is made once.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeVar

from .. import errors
from ..client import OutputLimitReached
from ..errors import RedisError
from ..resp import Status, string2ll

if TYPE_CHECKING:
    from ..context import Ctx

T = TypeVar("T")

def help_reply(lines: list[str]) -> list[Status]:
    """A container's HELP: one status line each, like Redis's addReplyHelp."""
    return [Status(line.encode()) for line in lines]


LLONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)


_DEC_FLOAT = re.compile(rb"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)\Z")
_HEX_FLOAT = re.compile(rb"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?\Z")
_INF = {b"inf", b"+inf", b"infinity", b"+infinity"}
_NEG_INF = {b"-inf", b"-infinity"}


def to_int(arg: bytes) -> int | None:
    """``string2ll``: a signed 64-bit integer, or None.

    Plain digits (up to 18, no leading zero — which ``int()`` alone would accept)
    skip ``string2ll``'s per-byte loop: that is every counter and most indexes."""
    if arg.isdigit():
        n = len(arg)
        if n < 19 and (arg[0] != 48 or n == 1):
            return int(arg)
    return string2ll(arg)


def parse_int(arg: bytes, error: RedisError = errors.NOT_INTEGER) -> int:
    """A signed 64-bit integer, or ``error``."""
    v = to_int(arg)
    if v is None:
        raise error
    return v


def parse_nonneg_int(arg: bytes, error: RedisError | None = None) -> int:
    """Redis's ``getPositiveLongFromObjectOrReply``: an integer >= 0. With ``error``,
    that one error for both "not an integer" and "negative"; without, Redis's two."""
    v = to_int(arg)
    if v is None:
        raise error or errors.NOT_INTEGER
    if v < 0:
        raise error or errors.COUNT_NEGATIVE
    return v


def keyword(arg: bytes) -> bytes:
    """An option as Redis's ``strcasecmp`` sees it: lower case, cut at the first NUL."""
    if b"\0" in arg:
        arg = arg[: arg.index(b"\0")]
    return arg.lower()


def to_float(arg: bytes) -> float | None:
    """``strtod``-compatible parse; None where Redis would refuse the value."""
    if arg.isdigit() and len(arg) < 300:  # plain digits: no overflow, no underflow
        return float(arg)
    if not arg or len(arg) > 5000:
        return None
    low = arg.lower()
    if low in _INF:
        return math.inf
    if low in _NEG_INF:
        return -math.inf
    if _DEC_FLOAT.match(arg):
        v = float(arg)
        if math.isinf(v):
            return None  # overflow (ERANGE)
        if v == 0.0 and re.search(rb"[1-9]", arg.split(b"e")[0].split(b"E")[0]):
            return None  # underflow to zero (ERANGE)
        return v
    if _HEX_FLOAT.match(arg):
        text = arg.decode()
        sign = -1.0 if text.startswith("-") else 1.0
        try:
            v = float.fromhex(text.lstrip("+-")) * sign
        except OverflowError:
            return None
        return None if math.isinf(v) else v
    return None


def parse_float(arg: bytes, error: RedisError = errors.NOT_FLOAT) -> float:
    v = to_float(arg)
    if v is None:
        raise error
    return v


# -- key positions and multi-key tails ----------------------------------------------------


def numkeys_keys(first: int) -> Callable[[list[bytes]], list[int]]:
    """``getkeys`` (COMMAND GETKEYS, cluster routing) for ``... numkeys key [key ...]``
    with numkeys at ``first - 1``; [] when numkeys is malformed or too large."""

    def getkeys(argv: list[bytes]) -> list[int]:
        numkeys = to_int(argv[first - 1]) if len(argv) >= first else None
        if numkeys is None or numkeys < 1 or first + numkeys > len(argv):
            return []
        return list(range(first, first + numkeys))

    return getkeys


def parse_mpop(argv: list[bytes], ends: dict[bytes, bool]) -> tuple[list[bytes], bool, int]:
    """``numkeys key [key ...] <end> [COUNT count]`` of LMPOP/ZMPOP (Redis's
    ``mpopGenericCommand``): (keys, the chosen end's value in ``ends``, count)."""
    numkeys = to_int(argv[1])
    if numkeys is None or numkeys < 1:
        raise errors.NUMKEYS_NOT_POSITIVE
    where_at = numkeys + 2
    if where_at >= len(argv):
        raise errors.SYNTAX
    end = ends.get(argv[where_at].lower())
    if end is None:
        raise errors.SYNTAX
    count = -1
    j = where_at + 1
    while j < len(argv):
        if count == -1 and argv[j].lower() == b"count" and j + 1 < len(argv):
            count = to_int(argv[j + 1]) or 0
            if count < 1:
                raise errors.COUNT_POSITIVE
            j += 2
        else:
            raise errors.SYNTAX
    return argv[2:where_at], end, max(count, 1)


def first_existing(ctx: "Ctx", keys: list[bytes], tp: type) -> tuple[bytes, Any] | None:
    """The first of ``keys`` that holds a value, with it, as LMPOP/ZMPOP look them up:
    in order, raising WRONGTYPE at a non-``tp`` value met before one is found."""
    for key in keys:
        value = ctx.lookup_typed(key, tp)
        if value is not None:
            return key, value
    return None


def parse_random_count(argv: list[bytes], option: bytes | None = None) -> tuple[int, bool]:
    """``key count [option]`` of SRANDMEMBER (no option), HRANDFIELD (WITHVALUES) and
    ZRANDMEMBER (WITHSCORES): (count, option given), checked in Redis's order."""
    count = parse_int(argv[2])
    if count < -LLONG_MAX:
        raise errors.COUNT_RANGE
    with_option = len(argv) == 4
    if len(argv) > 4 or (with_option and argv[3].lower() != option):
        raise errors.SYNTAX
    if with_option and not -(LLONG_MAX // 2) <= count <= LLONG_MAX // 2:
        raise errors.OUT_OF_RANGE  # the reply would hold 2 * count entries
    return count, with_option


def repeated_picks(ctx: "Ctx", pool: Sequence[T], count: int, floor: int,
                   weigh: Callable[[list[T]], int]) -> list[T]:
    """``count`` random picks from ``pool``, repeats allowed: a negative count of
    SRANDMEMBER/HRANDFIELD/ZRANDMEMBER.

    The learner picks ``count`` freely (a 1-member set and -10000000 is legal), so the
    reply is weighed while it is drawn, in batches: once it passes the client's hard
    output limit, Redis would close the client, and so do we, before drawing the rest
    (``OutputLimitReached``). ``floor`` is the least bytes one pick encodes to (a
    count that passes the limit even at that size is refused at once); ``weigh``
    gives a lower bound of a batch's encoded size. With no limit, nothing is weighed.
    """
    randrange = ctx.server.rng.randrange
    n = len(pool)
    limit = ctx.client.output_limit()
    if not limit:
        return [pool[randrange(n)] for _ in range(count)]
    if count * floor > limit:
        raise OutputLimitReached
    picks: list[T] = []
    total = 0
    while len(picks) < count:
        batch = [pool[randrange(n)] for _ in range(min(_PICK_BATCH, count - len(picks)))]
        total += weigh(batch)
        if total > limit:
            raise OutputLimitReached
        picks += batch
    return picks


_PICK_BATCH = 4096
# The least bytes one bulk string of a reply encodes to: "$0\r\n\r\n".
BULK_FLOOR = 6


# -- start/end indexes ----------------------------------------------------------------------


def rank_range(start: int, end: int, n: int) -> tuple[int, int] | None:
    """LRANGE/LTRIM/ZRANGE's indexes over ``n`` elements: negatives count from the
    end, then clamp; ``(start, end)`` inclusive, or None for an empty range."""
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if start > end or start >= n:
        return None
    return start, (end if end < n else n - 1)


def string_range(start: int, end: int, n: int) -> tuple[int, int] | None:
    """GETRANGE/BITCOUNT/BITPOS's indexes over ``n`` bytes (or bits): negatives count
    from the end and, unlike ``rank_range``, a negative end clamps to 0 (GETRANGE s
    0 -100 is the first byte). ``(start, end)`` inclusive, or None when empty.
    (GETRANGE and BITCOUNT first answer "empty" for two negatives in the wrong
    order; BITPOS doesn't, so that test is theirs.)"""
    if start < 0:
        start = max(n + start, 0)
    if end < 0:
        end = max(n + end, 0)
    if end >= n:
        end = n - 1
    if start > end:
        return None
    return start, end


# -- configuration limits ----------------------------------------------------------------------


def config_limit(ctx: "Ctx", name: str, default: int) -> int:
    """An integer CONFIG parameter the engine may not define (encoding thresholds
    such as hash-max-listpack-entries): its value if set and valid, else ``default``."""
    param = ctx.server.params.params.get(name)
    if param is not None:
        v = to_int(str(param.value).encode())
        if v is not None:
            return v
    return default


_bulk_limits: dict[str, int] = {}


def max_bulk_len(ctx: "Ctx") -> int:
    """``proto-max-bulk-len`` in bytes: the largest string a write may produce."""
    text = ctx.server.params.get("proto-max-bulk-len")
    limit = _bulk_limits.get(text)
    if limit is None:
        limit = _bulk_limits[text] = ctx.server.params.get_int("proto-max-bulk-len")
    return limit


# -- results ------------------------------------------------------------------------------------


def store_or_delete(ctx: "Ctx", destination: bytes, value: Any) -> int:
    """How a *STORE command writes its result: a non-empty container replaces
    ``destination`` (TTL cleared), an empty one deletes it. Returns its size."""
    if value:
        ctx.store(destination, value)
        return len(value)
    ctx.delete(destination)
    return 0

"""DUMP, RESTORE and RESTORE-ASKING: a key's value in Redis 7.0's serialization
format, so values move between this engine and redis-server in both directions.

The payload format lives in ``rdb`` (framing, CRC64, strings, LZF),
``rdb_listpack``, ``rdb_values`` and ``rdb_stream``; which payloads are byte-equal
to redis-server's and which are only equal as data is said in ``rdb_values``.

Invariants:
* RESTORE checks in Redis's order: options, then BUSYKEY, then the TTL, then the
  version and CRC, then the value; a payload that does not decode is ``ERR Bad
  data format`` whatever is wrong in it, and decoding never allocates from a
  declared length (``rdb.Reader``).
* Its effect is deterministic: a relative TTL is propagated as RESTORE ... ABSTTL
  with the absolute time (what Redis sends its replicas); a TTL already in the
  past on a node that expires keys creates nothing and propagates DEL when REPLACE
  removed an old value, nothing otherwise. A replica applying its primary's
  stream keeps such a key until the primary's DEL arrives, as Redis does.
* IDLETIME and FREQ are validated as Redis validates them and then have no effect:
  the engine keeps no per-key access clock (OBJECT IDLETIME/FREQ say so).
* RESTORE-ASKING is RESTORE marked ``asking``; this engine never imports a slot,
  so in cluster mode it is redirected exactly as RESTORE is.
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..context import Ctx
from ..rdb import RdbError, Reader, open_payload, wrap_payload
from ..rdb_values import decode_value, encode_value, limits_of
from ..resp import OK
from . import command
from .util import parse_int

try:  # the encoding history OBJECT ENCODING keeps (a hash that outgrew its listpack)
    from .. import encodings as _encodings
except ImportError:  # not on this branch yet: DUMP decides from the value's shape
    _encodings = None  # type: ignore[assignment]

_RESTORE_ARGS = "key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]"
_RESTORE_COMPLEXITY = (
    "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, "
    "where N is the number of Redis objects composing the value and M their average size."
)


@command("dump", 2, "readonly", keys=(1, 1, 1), acl="@keyspace", since="2.6.0",
         complexity="O(1) to access the key and additional O(N*M) to serialize it",
         summary="The value at key in Redis's serialization format (for RESTORE), or nil.", args="key",
         key_flags=("RO access",))
def dump(ctx: Ctx, argv: list[bytes]) -> Any:
    value = ctx.lookup(argv[1])
    if value is None:
        return None
    encoding = _encodings.encoding_of(ctx.server, value) if _encodings is not None else None
    return wrap_payload(encode_value(value, limits_of(ctx.server.params), encoding))


def _restore(ctx: Ctx, argv: list[bytes]) -> Any:
    key = argv[1]
    replace = absttl = False
    idle = freq = None
    j = 4
    while j < len(argv):
        opt = argv[j].lower()
        has_value = j + 1 < len(argv)
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        elif opt == b"idletime" and has_value and freq is None:
            idle = parse_int(argv[j + 1])
            if idle < 0:
                raise errors.RESTORE_INVALID_IDLETIME
            j += 1
        elif opt == b"freq" and has_value and idle is None:
            freq = parse_int(argv[j + 1])
            if not 0 <= freq <= 255:
                raise errors.RESTORE_INVALID_FREQ
            j += 1
        else:
            raise errors.SYNTAX
        j += 1
    if not replace and ctx.lookup(key) is not None:
        raise errors.RESTORE_BUSYKEY
    ttl = parse_int(argv[2])
    if ttl < 0:
        raise errors.RESTORE_INVALID_TTL
    payload = argv[3]
    if not open_payload(payload):
        raise errors.RESTORE_BAD_PAYLOAD
    try:
        value = decode_value(Reader(payload, max_len=limits_of(ctx.server.params).max_len))
    except RdbError:
        raise errors.RESTORE_BAD_DATA from None
    deleted = ctx.delete(key) if replace else False
    when = ttl if absttl or not ttl else ttl + ctx.now_ms
    if when and when <= ctx.now_ms and ctx.server.expires_locally:
        if deleted:
            ctx.propagate([b"DEL", key])
        return OK
    ctx.store(key, value)
    if when:
        ctx.set_expire(key, when)
        if not absttl:
            ctx.propagate([argv[0], key, b"%d" % when, *argv[3:], b"ABSTTL"])
    return OK


@command("restore", -4, "write denyoom", keys=(1, 1, 1), acl="@keyspace @dangerous", since="2.6.0",
         complexity=_RESTORE_COMPLEXITY, args=_RESTORE_ARGS, key_flags=("OW update",),
         summary="Create a key from a DUMP payload, with a TTL in ms (0: none), optionally replacing it.")
def restore(ctx: Ctx, argv: list[bytes]) -> Any:
    return _restore(ctx, argv)


@command("restore-asking", -4, "write denyoom asking", keys=(1, 1, 1), acl="@keyspace @dangerous", since="3.0.0",
         complexity=_RESTORE_COMPLEXITY, args=_RESTORE_ARGS, key_flags=("OW update",),
         summary="RESTORE as a slot migration sends it (an internal command).")
def restore_asking(ctx: Ctx, argv: list[bytes]) -> Any:
    return _restore(ctx, argv)

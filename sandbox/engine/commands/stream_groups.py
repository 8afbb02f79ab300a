"""Consumer-group commands: XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM.

Group state (``streamtype.Group``): the last delivered ID and entries-read counter,
the consumers with their seen-times, and the PEL — per pending ID its consumer,
last delivery time and delivery count.

Effects carry every time the primary read from its clock, so replaying them never
consults the replica's clock (Redis 7.0 lets a replica use its own for seen-times
and clamps delivery times to it):

* a delivery or claim is logged as Redis propagates it, ``XCLAIM key group consumer
  0 id [id ...] TIME <delivery ms> RETRYCOUNT <count> FORCE JUSTID LASTID <group's
  last ID>``, plus the private option ``SEENTIME <ms>`` — the consumer's seen-time.
  ``SEENTIME`` is accepted only on the primary's stream (a client gets Redis's
  "Unrecognized XCLAIM option"); with it XCLAIM creates the consumer if needed and
  sets its seen-time even when it claims nothing (``XCLAIM key g c 0 SEENTIME t``
  is how a consumer's creation or a bare refresh is logged). On that stream
  XCLAIM also takes TIME as given, unclamped.
* a PEL entry whose stream entry is gone is dropped as ``XACK key group id``;
* a moved group position is ``XGROUP SETID key group id ENTRIESREAD n``.

The commands mark the key ``changed_quietly``: logged and held for the durable
tracker, but WATCH stays valid, as in Redis (see ``streams``).
"""

from __future__ import annotations

from typing import Any

from dataclasses import dataclass
from itertools import islice

from .. import errors
from ..context import Ctx
from ..errors import RedisError
from ..resp import NULL_ARRAY, OK
from ..streamtype import (
    ENTRIES_READ_UNKNOWN,
    UINT64_MAX,
    ZERO_ID,
    Consumer,
    Group,
    Stream,
    StreamID,
    decr_id,
    format_id,
    incr_id,
    parse_interval_id,
    parse_plain_id,
)
from . import container
from .util import help_reply
from .streams import cstr, entry_reply, lookup, nogroup_for_key, stream_command
from .util import LLONG_MAX, keyword, parse_int, to_int


_AUTOCLAIM_ATTEMPTS = 10  # XAUTOCLAIM looks at up to COUNT * 10 PEL entries per call
_AUTOCLAIM_MAX_COUNT = LLONG_MAX // 16  # LONG_MAX / max(sizeof(streamID), attempts factor)


def nogroup(key: bytes, group: bytes, suffix: bytes = b"") -> RedisError:
    return errors.nogroup_key_or_group(cstr(key), cstr(group), suffix)


def lookup_group(ctx: Ctx, key: bytes, name: bytes) -> tuple[Stream | None, Group | None]:
    s = lookup(ctx, key)
    return s, (s.groups.get(name) if s is not None else None)


# -- effects --------------------------------------------------------------------------------


def claim_effect(key: bytes, group: Group, consumer: Consumer, ids: list[StreamID], delivery_time: int,
                 count: int, seen: int) -> list[bytes]:
    """``ids`` pending for ``consumer`` as delivered at ``delivery_time``, ``count`` times."""
    return [b"XCLAIM", key, group.name, consumer.name, b"0", *map(format_id, ids),
            b"TIME", b"%d" % delivery_time, b"RETRYCOUNT", b"%d" % count, b"FORCE", b"JUSTID",
            b"LASTID", format_id(group.last_id), b"SEENTIME", b"%d" % seen]


def seen_effect(key: bytes, group: Group, consumer: Consumer) -> list[bytes]:
    """The consumer exists and was last seen at its seen-time."""
    return [b"XCLAIM", key, group.name, consumer.name, b"0", b"SEENTIME", b"%d" % consumer.seen_time]


def setid_effect(key: bytes, group: Group) -> list[bytes]:
    return [b"XGROUP", b"SETID", key, group.name, format_id(group.last_id),
            b"ENTRIESREAD", b"%d" % group.entries_read]


def propagate_claims(ctx: Ctx, key: bytes, group: Group, consumer: Consumer, ids: list[StreamID]) -> None:
    """Log the PEL state of ``ids`` (now ``consumer``'s), batched by delivery time and count."""
    batches: dict[tuple[int, int], list[StreamID]] = {}
    for sid in ids:
        nack = group.pel[sid]
        batches.setdefault((nack.delivery_time, nack.delivery_count), []).append(sid)
    for (when, count), batch in batches.items():
        ctx.propagate(claim_effect(key, group, consumer, batch, when, count, consumer.seen_time))


# -- XGROUP ------------------------------------------------------------------------------------

container("xgroup", "Manage the consumer groups of a stream.", "5.0.0", "stream", acl="@slow")

_XGROUP_HELP = [
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
]


def _entries_read(arg: bytes) -> int:
    n = parse_int(arg)
    if n < 0 and n != ENTRIES_READ_UNKNOWN:
        raise errors.XGROUP_ENTRIES_READ
    return n


def _existing_group(ctx: Ctx, argv: list[bytes]) -> tuple[Stream, Group]:
    """The stream and group of XGROUP SETID/CREATECONSUMER/DELCONSUMER, which need both."""
    s, g = lookup_group(ctx, argv[2], argv[3])
    if s is None:
        raise errors.XGROUP_NEEDS_KEY
    if g is None:
        raise nogroup_for_key(argv[3], argv[2])
    return s, g


def _group_target(s: Stream | None, arg: bytes, strict: bool) -> StreamID:
    """A group position: ``$`` is the stream's last ID (CREATE refuses ``-``/``+``,
    SETID takes them)."""
    if cstr(arg) == b"$":
        return s.last_id if s is not None else ZERO_ID
    return parse_plain_id(arg, strict=strict)


@stream_command("xgroup|create", -5, "write denyoom", keys=(2, 2, 1),
                complexity="O(1)",
                summary="Create a consumer group at an ID ($: the stream's end), MKSTREAM creating an empty stream.",
                args="key group <id | $> [MKSTREAM] [ENTRIESREAD entries-read]", key_flags=("RW insert",))
def xgroup_create(ctx: Ctx, argv: list[bytes]) -> Any:
    mkstream = False
    entries_read = ENTRIES_READ_UNKNOWN
    i = 5
    while i < len(argv):
        opt = keyword(argv[i])
        if opt == b"mkstream":
            mkstream = True
            i += 1
        elif opt == b"entriesread" and i + 1 < len(argv):
            entries_read = _entries_read(argv[i + 1])
            i += 2
        else:
            raise errors.subcommand_syntax_error(argv, "xgroup")
    s, g = lookup_group(ctx, argv[2], argv[3])
    if s is None and not mkstream:
        raise errors.XGROUP_NEEDS_KEY
    if len(argv) > 8:
        raise errors.subcommand_syntax_error(argv, "xgroup")
    sid = _group_target(s, argv[4], strict=True)
    key, name = argv[2], argv[3]
    created = s is None
    if s is None:
        s = Stream()
        ctx.db.put(key, s)
    if g is not None:
        raise errors.XGROUP_BUSYGROUP
    s.groups[name] = Group(name, sid, entries_read)
    if created:
        ctx.changed(key)  # a new key, which WATCH sees
    else:
        ctx.changed_quietly(key)
    return OK


@stream_command("xgroup|setid", -5, "write", keys=(2, 2, 1),
                summary="Move a consumer group's last delivered ID ($: the stream's end) and its entries-read counter.",
                args="key group <id | $> [ENTRIESREAD entries-read]")
def xgroup_setid(ctx: Ctx, argv: list[bytes]) -> Any:
    s, g = _existing_group(ctx, argv)
    if len(argv) not in (5, 7):
        raise errors.subcommand_syntax_error(argv, "xgroup")
    sid = _group_target(s, argv[4], strict=False)
    entries_read = ENTRIES_READ_UNKNOWN
    if len(argv) == 7:
        if keyword(argv[5]) != b"entriesread":
            raise errors.subcommand_syntax_error(argv, "xgroup")
        entries_read = _entries_read(argv[6])
    g.last_id = sid
    g.entries_read = entries_read
    ctx.changed_quietly(argv[2])
    return OK


@stream_command("xgroup|destroy", 4, "write", keys=(2, 2, 1),
                complexity="O(N) where N is the number of entries in the group's pending entries list (PEL).",
                summary="Delete a consumer group with its consumers and pending entries; 1 if it existed.",
                args="key group", key_flags=("RW delete",))
def xgroup_destroy(ctx: Ctx, argv: list[bytes]) -> Any:
    s, g = lookup_group(ctx, argv[2], argv[3])
    if s is None:
        raise errors.XGROUP_NEEDS_KEY
    if g is None:
        return 0
    del s.groups[argv[3]]
    ctx.changed_quietly(argv[2])
    s.signals += 1  # XREADGROUP clients blocked on the key look again (NOGROUP for this group's)
    ctx.server.blocked.key_changed((ctx.db.id, argv[2]))
    return 1


@stream_command("xgroup|createconsumer", 5, "write denyoom", keys=(2, 2, 1), since="6.2.0",
                summary="Create a consumer in a consumer group; 1 if created, 0 if it existed.",
                args="key group consumer", key_flags=("RW insert",))
def xgroup_createconsumer(ctx: Ctx, argv: list[bytes]) -> Any:
    s, g = _existing_group(ctx, argv)
    if argv[4] in g.consumers:
        return 0
    consumer, _ = g.consumer(argv[4], ctx.now_ms)
    ctx.changed_quietly(argv[2])
    ctx.propagate(seen_effect(argv[2], g, consumer))
    return 1


@stream_command("xgroup|delconsumer", 5, "write", keys=(2, 2, 1),
                complexity="O(1)",
                summary="Delete a consumer from a consumer group (its pending entries are dropped); returns how "
                        "many it had.",
                args="key group consumer", key_flags=("RW delete",))
def xgroup_delconsumer(ctx: Ctx, argv: list[bytes]) -> Any:
    s, g = _existing_group(ctx, argv)
    pending = g.delete_consumer(argv[4])
    if pending is None:
        return 0
    ctx.changed_quietly(argv[2])
    return pending


@stream_command("xgroup|help", 2, "loading stale", summary="Describe the XGROUP subcommands.")
def xgroup_help(ctx: Ctx, argv: list[bytes]) -> Any:
    return help_reply(_XGROUP_HELP)


# -- XACK / XPENDING ------------------------------------------------------------------------------


@stream_command("xack", -4, "write fast", keys=(1, 1, 1),
                complexity="O(1) for each message ID processed.",
                summary="Acknowledge pending entries of a consumer group; returns how many were pending.",
                args="key group id [id ...]")
def xack(ctx: Ctx, argv: list[bytes]) -> Any:
    s, g = lookup_group(ctx, argv[1], argv[2])
    if g is None:
        return 0
    ids = [parse_plain_id(arg, strict=True) for arg in argv[3:]]  # all or nothing
    acked = sum(1 for sid in ids if g.ack(sid))
    if acked:
        ctx.changed_quietly(argv[1])
    return acked


@stream_command("xpending", -3, "readonly", keys=(1, 1, 1),
                complexity="Extended form: O(N) for the N entries returned, O(M) for the M entries looked at with "
                           "IDLE. Summary: O(1) plus O(C) for listing the group's C consumers.",
                summary="A consumer group's pending entries: a summary, or [IDLE ms] start end count [consumer] "
                        "details.",
                args="key group [[IDLE min-idle-time] start end count [consumer]]")
def xpending(ctx: Ctx, argv: list[bytes]) -> Any:
    n = len(argv)
    if n != 3 and not 6 <= n <= 9:
        raise errors.SYNTAX
    if n == 3:
        s, g = _pending_group(ctx, argv)
        return _pending_summary(g)
    at = 3
    min_idle = 0
    if keyword(argv[3]) == b"idle":
        min_idle = parse_int(argv[4])
        if n < 8:
            raise errors.SYNTAX
        at = 5
    count = max(parse_int(argv[at + 2]), 0)
    start, exclusive = parse_interval_id(argv[at], 0)
    if exclusive:
        start = incr_id(start)  # type: ignore[assignment]
        if start is None:
            raise errors.STREAM_START_INTERVAL
    end, exclusive = parse_interval_id(argv[at + 1], UINT64_MAX)
    if exclusive:
        end = decr_id(end)  # type: ignore[assignment]
        if end is None:
            raise errors.STREAM_END_INTERVAL
    consumer_name = argv[at + 3] if at + 3 < n else None
    s, g = _pending_group(ctx, argv)
    pel = g.pel
    if consumer_name is not None:
        c = g.consumers.get(consumer_name)
        if c is None:
            return []
        pel = c.pel
    now = ctx.now_ms
    out: list[Any] = []
    if start > end:
        return out
    for sid in pel.irange(start, end):
        if not count:
            break
        nack = pel[sid]
        if min_idle and now - nack.delivery_time < min_idle:
            continue
        count -= 1
        out.append([format_id(sid), nack.consumer.name, max(now - nack.delivery_time, 0), nack.delivery_count])
    return out


def _pending_group(ctx: Ctx, argv: list[bytes]) -> tuple[Stream, Group]:
    s, g = lookup_group(ctx, argv[1], argv[2])
    if g is None:
        raise nogroup(argv[1], argv[2])
    return s, g  # type: ignore[return-value]


def _pending_summary(g: Group) -> list[Any]:
    if not g.pel:
        return [0, None, None, NULL_ARRAY]
    owners = [[c.name, b"%d" % len(c.pel)] for c in g.sorted_consumers() if c.pel]
    return [len(g.pel), format_id(g.pel.peekitem(0)[0]), format_id(g.pel.peekitem(-1)[0]), owners]


# -- XCLAIM / XAUTOCLAIM ------------------------------------------------------------------------------


def _claim_time(ctx: Ctx, when: int) -> int:
    """Redis replaces a delivery time in the future (or negative) with now; the
    primary's stream is applied as it was decided."""
    if ctx.client.is_master:
        return when
    return ctx.now_ms if when < 0 or when > ctx.now_ms else when


@dataclass
class ClaimOptions:
    force: bool = False
    justid: bool = False
    retrycount: int = -1  # -1: not given
    delivery: int = -1  # -1: neither IDLE nor TIME given
    last_id: StreamID = ZERO_ID
    seen: int | None = None  # SEENTIME (the primary's stream only)


def _claim_options(ctx: Ctx, argv: list[bytes], j: int) -> ClaimOptions:
    """XCLAIM's options from ``argv[j:]`` (what follows its IDs)."""
    o = ClaimOptions()
    while j < len(argv):
        more = len(argv) - 1 - j
        opt = keyword(argv[j])
        if opt == b"force":
            o.force = True
        elif opt == b"justid":
            o.justid = True
        elif opt == b"idle" and more:
            j += 1
            o.delivery = ctx.now_ms - _option_int(argv[j], b"IDLE")
        elif opt == b"time" and more:
            j += 1
            o.delivery = _option_int(argv[j], b"TIME")
        elif opt == b"retrycount" and more:
            j += 1
            o.retrycount = _option_int(argv[j], b"RETRYCOUNT")
        elif opt == b"lastid" and more:
            j += 1
            o.last_id = parse_plain_id(argv[j], strict=True)
        elif opt == b"seentime" and more and ctx.client.is_master:
            j += 1
            o.seen = _option_int(argv[j], b"SEENTIME")
        else:
            raise errors.xclaim_unrecognized_option(cstr(argv[j]))
        j += 1
    return o


def _log_claims(ctx: Ctx, key: bytes, g: Group, consumer: Consumer | None, claimed: list[StreamID],
                gone: list[StreamID]) -> None:
    """Effects of a claim: dropped PEL entries as XACK, claimed ones as XCLAIM."""
    ctx.changed_quietly(key)
    if gone:
        ctx.propagate([b"XACK", key, g.name, *map(format_id, gone)])
    if claimed:
        propagate_claims(ctx, key, g, consumer, claimed)  # type: ignore[arg-type]


@stream_command("xclaim", -6, "write fast", keys=(1, 1, 1),
                complexity="O(log N) with N being the number of messages in the PEL of the consumer group.",
                summary="Give pending entries idle for at least min-idle-time to another consumer; returns them "
                        "(or their IDs).",
                args="key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] "
                     "[RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]")
def xclaim(ctx: Ctx, argv: list[bytes]) -> Any:
    key = argv[1]
    s, g = lookup_group(ctx, key, argv[2])
    if g is None:
        raise nogroup(key, argv[2])
    min_idle = to_int(argv[4])
    if min_idle is None:
        raise errors.XCLAIM_MIN_IDLE
    ids: list[StreamID] = []
    j = 5
    while j < len(argv):  # IDs up to the first argument that isn't one
        try:
            ids.append(parse_plain_id(argv[j], strict=True))
        except RedisError:
            break
        j += 1
    o = _claim_options(ctx, argv, j)
    moved_last = o.last_id > g.last_id
    if moved_last:
        g.last_id = o.last_id
    now = ctx.now_ms
    delivery = now if o.delivery == -1 else _claim_time(ctx, o.delivery)
    consumer: Consumer | None = None
    claimed: list[StreamID] = []
    gone: list[StreamID] = []
    out: list[Any] = []
    for sid in ids:
        nack = g.pel.get(sid)
        flat = s.entries.get(sid)  # type: ignore[union-attr]
        if flat is None:
            if nack is not None:
                g.ack(sid)  # the entry was deleted: it can't be pending any more
                gone.append(sid)
            continue
        if nack is None:
            if not o.force:
                continue
        elif min_idle > 0 and now - nack.delivery_time < min_idle:
            continue
        if consumer is None:
            consumer, _ = g.consumer(argv[3], now)
        if o.retrycount >= 0:
            count = o.retrycount
        else:  # a PEL entry FORCE creates starts at one delivery, then counts this claim
            count = (nack.delivery_count if nack is not None else 1) + (0 if o.justid else 1)
        g.assign(sid, consumer, delivery, count)
        claimed.append(sid)
        out.append(format_id(sid) if o.justid else entry_reply(sid, flat))
    if o.seen is not None:
        consumer = consumer or g.consumer(argv[3], now)[0]
        consumer.seen_time = o.seen
    if claimed or gone:
        _log_claims(ctx, key, g, consumer, claimed, gone)
    if moved_last and not claimed:
        ctx.changed_quietly(key)
        ctx.propagate(setid_effect(key, g))
    if o.seen is not None and not claimed:
        ctx.changed_quietly(key)
        ctx.propagate(seen_effect(key, g, consumer))  # type: ignore[arg-type]
    return out


def _can_allocate(nbytes: int) -> bool:
    """Whether Redis's XAUTOCLAIM could allocate its ``COUNT * 16``-byte array of
    deleted IDs: Linux refuses an allocation above RAM + swap (heuristic overcommit)."""
    if nbytes <= 1 << 30:
        return True
    try:
        with open("/proc/meminfo", "rb") as f:
            info = dict(line.split(b":", 1) for line in f.read().splitlines() if b":" in line)
        total = (int(info[b"MemTotal"].split()[0]) + int(info[b"SwapTotal"].split()[0])) * 1024
    except (OSError, KeyError, ValueError):
        return nbytes <= 1 << 34
    return nbytes <= total


def _option_int(arg: bytes, name: bytes) -> int:
    v = to_int(arg)
    if v is None:
        raise errors.xclaim_invalid_argument(name)
    return v


@stream_command("xautoclaim", -6, "write fast", keys=(1, 1, 1), since="6.2.0",
                complexity="O(1) if COUNT is small.",
                summary="Claim pending entries idle for at least min-idle-time, scanning the PEL from start; returns "
                        "[next start, claimed entries, deleted IDs].",
                args="key group consumer min-idle-time start [COUNT count] [JUSTID]", key_flags=("RW delete",))
def xautoclaim(ctx: Ctx, argv: list[bytes]) -> Any:
    min_idle = to_int(argv[4])
    if min_idle is None:
        raise errors.XAUTOCLAIM_MIN_IDLE
    min_idle = max(min_idle, 0)
    start, exclusive = parse_interval_id(argv[5], 0)
    if exclusive:
        start = incr_id(start)  # type: ignore[assignment]
        if start is None:
            raise errors.STREAM_START_INTERVAL
    count = 100
    justid = False
    j = 6
    while j < len(argv):
        opt = keyword(argv[j])
        if opt == b"count" and j + 1 < len(argv):
            count = to_int(argv[j + 1])  # type: ignore[assignment]
            if count is None or not 1 <= count <= _AUTOCLAIM_MAX_COUNT:
                raise errors.XGROUP_COUNT_POSITIVE
            j += 1
        elif opt == b"justid":
            justid = True
        else:
            raise errors.SYNTAX
        j += 1
    key = argv[1]
    s, g = lookup_group(ctx, key, argv[2])
    if g is None:
        raise nogroup(key, argv[2])
    if not _can_allocate(count * 16):
        raise errors.XGROUP_COUNT_TOO_HIGH
    now = ctx.now_ms
    attempts = count * _AUTOCLAIM_ATTEMPTS
    consumer: Consumer | None = None
    claimed: list[StreamID] = []
    gone: list[StreamID] = []
    out: list[Any] = []
    cursor = ZERO_ID
    for sid in list(islice(g.pel.irange(start), attempts + 1)):
        if not attempts or not count:
            cursor = sid  # the next entry not looked at
            break
        attempts -= 1
        flat = s.entries.get(sid)  # type: ignore[union-attr]
        if flat is None:
            g.ack(sid)
            gone.append(sid)
            count -= 1
            continue
        nack = g.pel[sid]
        if min_idle and now - nack.delivery_time < min_idle:
            continue
        if consumer is None:
            consumer, _ = g.consumer(argv[3], now)
        g.assign(sid, consumer, now, nack.delivery_count + (0 if justid else 1))
        claimed.append(sid)
        out.append(format_id(sid) if justid else entry_reply(sid, flat))
        count -= 1
    if claimed or gone:
        _log_claims(ctx, key, g, consumer, claimed, gone)
    return [format_id(cursor), out, [format_id(sid) for sid in gone]]


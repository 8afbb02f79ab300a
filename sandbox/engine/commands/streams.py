"""Stream commands on entries: XADD, XTRIM, XDEL, XLEN, XRANGE, XREVRANGE, XSETID, XINFO.

The value is a ``streamtype.Stream`` (its invariants are documented there). This
module keeps Redis 7.0's argument order of checks, so the first error a command
meets is Redis's: options are parsed before the key is looked up where Redis does
so (XADD, XTRIM, XRANGE), after it where Redis does (XDEL, XSETID's key checks).

Effects (what a replica or the journal replays) are deterministic:

* XADD with ``*`` or ``ms-*`` logs the ID it assigned; an approximate trim
  (``~``, with or without LIMIT) is logged as the exact trim it amounted to
  (``MAXLEN = <length after>`` or ``MINID = <first ID after>``), so replay removes
  the same entries whatever node layout the replica has. XTRIM ``~`` likewise.
* Every other write here is deterministic as given and logs its own argv.

Every stream write marks the key changed for the durable tracker (which holds reads
of uncommitted writes); as in Redis 7.0, only changes to the entries (XADD, XDEL,
XTRIM) and a key's creation invalidate WATCH — XSETID and the consumer-group
bookkeeping are ``changed_quietly``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import errors
from ..context import Ctx
from ..errors import RedisError
from ..resp import NULL_ARRAY, OK, Map
from ..streamtype import (
    MAX_ID,
    NODE_MAX_BYTES,
    NODE_MAX_ENTRIES,
    UINT64_MAX,
    ZERO_ID,
    Stream,
    StreamID,
    decr_id,
    format_id,
    incr_id,
    parse_id,
    parse_interval_id,
    parse_plain_id,
)
from . import command, container
from .util import help_reply
from .util import config_limit, keyword, parse_int

def stream_command(name: str, arity: int, flags: str, since: str = "5.0.0", **kw: Any) -> Any:
    """``@command`` for the stream family (ACL category @stream, since 5.0.0 unless said)."""
    return command(name, arity, flags, acl="@stream", group="stream", since=since, **kw)


_TRIM_LIMIT_CAP = 10000  # Redis caps the default LIMIT of an approximate trim


# -- shared helpers -------------------------------------------------------------------------


def cstr(arg: bytes) -> bytes:
    """An argument as Redis's C string functions see it (cut at the first NUL)."""
    return arg[: arg.index(b"\0")] if b"\0" in arg else arg


def node_limits(ctx: Ctx) -> tuple[int, int]:
    return (config_limit(ctx, "stream-node-max-bytes", NODE_MAX_BYTES),
            config_limit(ctx, "stream-node-max-entries", NODE_MAX_ENTRIES))


def entry_reply(sid: StreamID, flat: tuple[bytes, ...]) -> list[Any]:
    """One entry as Redis replies it: [id, [field, value, ...]] (an array in RESP3 too)."""
    return [format_id(sid), list(flat)]


def lookup(ctx: Ctx, key: bytes) -> Stream | None:
    return ctx.lookup_typed(key, Stream)


# -- XADD / XTRIM ---------------------------------------------------------------------------


@dataclass
class TrimArgs:
    """The options shared by XADD and XTRIM (Redis's streamAddTrimArgs)."""

    strategy: bytes | None = None  # b"maxlen" / b"minid"
    maxlen: int = 0
    minid: StreamID = ZERO_ID
    approx: bool = False
    limit: int = 0  # 0 = no limit
    nomkstream: bool = False
    id_pos: int = 0  # XADD: where the ID argument is
    sid: StreamID = ZERO_ID
    id_given: bool = False
    seq_given: bool = True


def parse_add_trim(ctx: Ctx, argv: list[bytes], xadd: bool) -> TrimArgs:
    """Redis's streamParseAddOrTrimArgsOrReply, checks in its order."""
    a = TrimArgs()
    limit_given = False
    n = len(argv)
    i = 2
    while i < n:
        more = n - 1 - i
        arg = cstr(argv[i])
        opt = arg.lower()
        if xadd and arg == b"*":
            break
        if opt in (b"maxlen", b"minid") and more:
            if a.strategy is not None:
                raise errors.STREAM_BOTH_STRATEGIES
            a.approx = False
            nxt = cstr(argv[i + 1])
            if more >= 2 and nxt in (b"~", b"="):
                a.approx = nxt == b"~"
                i += 1
            if opt == b"maxlen":
                a.maxlen = parse_int(argv[i + 1])
                if a.maxlen < 0:
                    raise errors.STREAM_MAXLEN_NEGATIVE
            else:
                a.minid = parse_plain_id(argv[i + 1], strict=True)
            i += 1
            a.strategy = opt
        elif opt == b"limit" and more:
            a.limit = parse_int(argv[i + 1])
            if a.limit < 0:
                raise errors.STREAM_LIMIT_NEGATIVE
            limit_given = True
            i += 1
        elif xadd and opt == b"nomkstream":
            a.nomkstream = True
        elif xadd:
            a.sid, a.seq_given = parse_id(argv[i], strict=True)
            a.id_given = True
            break
        else:
            raise errors.SYNTAX
        i += 1
    a.id_pos = i
    if a.limit and a.strategy is None:
        raise errors.STREAM_LIMIT_WITHOUT_STRATEGY
    if not xadd and a.strategy is None:
        raise errors.STREAM_XTRIM_WITHOUT_STRATEGY
    if ctx.client.is_master:
        a.limit = 0  # the primary's stream is exact (its trims were rewritten)
    elif limit_given:
        if not a.approx:
            raise errors.STREAM_LIMIT_WITHOUT_TILDE
    elif a.approx:
        a.limit = 100 * node_limits(ctx)[1]
        if a.limit <= 0 or a.limit > _TRIM_LIMIT_CAP:
            a.limit = _TRIM_LIMIT_CAP
    else:
        a.limit = 0
    return a


def trim(s: Stream, a: TrimArgs) -> int:
    if a.strategy == b"maxlen":
        return s.trim(maxlen=a.maxlen, approx=a.approx, limit=a.limit)
    return s.trim(minid=a.minid, approx=a.approx, limit=a.limit)


def exact_trim_args(s: Stream, a: TrimArgs) -> list[bytes]:
    """The exact trim an approximate one amounted to (what replicas replay)."""
    if a.strategy == b"maxlen":
        return [b"MAXLEN", b"=", b"%d" % len(s)]
    return [b"MINID", b"=", format_id(s.first_id() if len(s) else MAX_ID)]


def _logged_trim(s: Stream, a: TrimArgs) -> list[bytes]:
    """XADD's trimming options as its effect states them: always exact."""
    if a.strategy is None:
        return []
    if a.approx:
        return exact_trim_args(s, a)
    if a.strategy == b"maxlen":
        return [b"MAXLEN", b"=", b"%d" % a.maxlen]
    return [b"MINID", b"=", format_id(a.minid)]


def next_id(s: Stream, a: TrimArgs, now_ms: int) -> StreamID:
    """The ID XADD assigns: explicit, ``ms-*`` (next sequence of that ms), or ``*``."""
    last = s.last_id
    if a.id_given:
        if a.seq_given:
            sid = a.sid
        elif last[0] == a.sid[0]:
            if last[1] == UINT64_MAX:
                raise errors.STREAM_TOO_LARGE  # sic: Redis 7.0 reports this overflow with that text
            sid = (last[0], last[1] + 1)
        else:
            sid = a.sid
    elif now_ms > last[0]:
        sid = (now_ms, 0)
    else:
        sid = incr_id(last) or MAX_ID  # an exhausted stream was refused before
    if sid <= last:
        raise errors.STREAM_ID_TOO_SMALL
    return sid


@stream_command("xadd", -5, "write denyoom fast", keys=(1, 1, 1),
                complexity="O(1) to append; trimming adds O(N) for the N entries it removes.",
                summary="Append an entry to a stream (created unless NOMKSTREAM), optionally trimming it; "
                        "returns the entry's ID.",
                args="key [NOMKSTREAM] [<MAXLEN | MINID> [= | ~] threshold [LIMIT count]] <* | id> field value "
                     "[field value ...]", key_notes="UPDATE instead of INSERT because of the optional trimming feature")
def xadd(ctx: Ctx, argv: list[bytes]) -> Any:
    a = parse_add_trim(ctx, argv, xadd=True)
    field_pos = a.id_pos + 1
    nfields = len(argv) - field_pos
    if nfields < 2 or nfields % 2:
        raise errors.wrong_arity("xadd")
    if a.id_given and a.seq_given and a.sid == ZERO_ID:
        raise errors.STREAM_ID_ZERO
    key = argv[1]
    s = lookup(ctx, key)
    if s is None:
        if a.nomkstream:
            return None
        s = Stream()
        ctx.db.put(key, s)
    if s.last_id == MAX_ID:
        raise errors.STREAM_EXHAUSTED
    flat = tuple(argv[field_pos:])
    if sum(map(len, flat)) > 1 << 30:
        raise errors.STREAM_TOO_LARGE
    sid = next_id(s, a, ctx.now_ms)
    s.append(sid, flat, *node_limits(ctx))
    ctx.changed(key)
    if a.strategy is not None:
        trim(s, a)
    if a.approx or not a.id_given or not a.seq_given:
        ctx.propagate([b"XADD", key, *_logged_trim(s, a), format_id(sid), *flat])
    return format_id(sid)


@stream_command("xtrim", -4, "write", keys=(1, 1, 1),
                complexity="O(N) for the N entries removed; whole nodes of entries go at once, so the constant "
                           "is small.",
                summary="Trim a stream to a maximum length or a minimum ID (~: whole nodes only); returns how "
                        "many entries went.",
                args="key <MAXLEN | MINID> [= | ~] threshold [LIMIT count]", key_flags=("RW delete",))
def xtrim(ctx: Ctx, argv: list[bytes]) -> Any:
    a = parse_add_trim(ctx, argv, xadd=False)
    key = argv[1]
    s = lookup(ctx, key)
    if s is None:
        return 0
    deleted = trim(s, a)
    if deleted:
        ctx.changed(key)
        if a.approx:
            ctx.propagate([b"XTRIM", key, *exact_trim_args(s, a)])
    return deleted


# -- XDEL / XLEN / XSETID --------------------------------------------------------------------


@stream_command("xdel", -3, "write fast", keys=(1, 1, 1),
                complexity="O(1) per ID, whatever the stream's length.",
                summary="Delete entries from a stream by ID; returns how many existed.", args="key id [id ...]",
                key_flags=("RW delete",))
def xdel(ctx: Ctx, argv: list[bytes]) -> Any:
    key = argv[1]
    s = lookup(ctx, key)
    if s is None:
        return 0
    ids = [parse_plain_id(arg, strict=True) for arg in argv[2:]]  # all or nothing
    deleted = sum(1 for sid in ids if s.delete(sid))
    if deleted:
        ctx.changed(key)
    return deleted


@stream_command("xlen", 2, "readonly fast", keys=(1, 1, 1),
                summary="The number of entries in a stream (0 if the key doesn't exist).", args="key",
                key_flags=("RO",))
def xlen(ctx: Ctx, argv: list[bytes]) -> Any:
    s = lookup(ctx, argv[1])
    return 0 if s is None else len(s)


@stream_command("xsetid", -3, "write denyoom fast", keys=(1, 1, 1),
                summary="Set a stream's last ID (and its entries-added counter and max deleted ID): internal, used by "
                        "replication.",
                args="key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]")
def xsetid(ctx: Ctx, argv: list[bytes]) -> Any:
    sid = parse_plain_id(argv[2], strict=True)
    entries_added = -1
    max_deleted = ZERO_ID
    i, n = 3, len(argv)
    while i < n:
        opt = keyword(argv[i])
        if opt == b"entriesadded" and i + 1 < n:
            entries_added = parse_int(argv[i + 1])
            if entries_added < 0:
                raise errors.STREAM_ENTRIES_ADDED_NEGATIVE
        elif opt == b"maxdeletedid" and i + 1 < n:
            max_deleted = parse_plain_id(argv[i + 1], strict=True)
            if sid < max_deleted:
                raise errors.STREAM_SETID_PROVIDED_MAXDELETED
        else:
            raise errors.SYNTAX
        i += 2
    key = argv[1]
    s = lookup(ctx, key)
    if s is None:
        raise errors.NO_SUCH_KEY
    if len(s):  # (Redis 7.0 doesn't hold the ID to the stream's own max deleted ID)
        if sid < s.last_entry_id():
            raise errors.STREAM_SETID_TOP
        if entries_added != -1 and len(s) > entries_added:
            raise errors.STREAM_SETID_ENTRIES_ADDED
    s.last_id = sid
    if entries_added != -1:
        s.entries_added = entries_added
    if max_deleted != ZERO_ID:
        s.max_deleted_id = max_deleted
    ctx.changed_quietly(key)  # Redis's XSETID leaves WATCH alone
    return OK


# -- XRANGE / XREVRANGE ------------------------------------------------------------------------


def _range(ctx: Ctx, argv: list[bytes], reverse: bool) -> Any:
    start_arg, end_arg = (argv[3], argv[2]) if reverse else (argv[2], argv[3])
    start, exclusive = parse_interval_id(start_arg, 0)
    if exclusive:
        start = incr_id(start)  # type: ignore[assignment]
        if start is None:
            raise errors.STREAM_START_INTERVAL
    end, exclusive = parse_interval_id(end_arg, UINT64_MAX)
    if exclusive:
        end = decr_id(end)  # type: ignore[assignment]
        if end is None:
            raise errors.STREAM_END_INTERVAL
    count = -1
    j = 4
    while j < len(argv):
        if keyword(argv[j]) == b"count" and j + 1 < len(argv):
            count = max(parse_int(argv[j + 1]), 0)
            j += 2
        else:
            raise errors.SYNTAX
    s = lookup(ctx, argv[1])
    if s is None:
        return []
    if count == 0:
        return NULL_ARRAY
    out = []
    for sid, flat in s.range(start, end, reverse):
        out.append(entry_reply(sid, flat))
        if len(out) == count:
            break
    return out


@stream_command("xrange", -4, "readonly", keys=(1, 1, 1),
                complexity="O(N) for the N entries returned: O(1) with a fixed COUNT.",
                summary="The entries of a stream between two IDs (- and + are the ends, ( excludes), oldest first.",
                args="key start end [COUNT count]")
def xrange(ctx: Ctx, argv: list[bytes]) -> Any:
    return _range(ctx, argv, reverse=False)


@stream_command("xrevrange", -4, "readonly", keys=(1, 1, 1),
                complexity="O(N) for the N entries returned: O(1) with a fixed COUNT.",
                summary="The entries of a stream between two IDs, newest first (end comes before start).",
                args="key end start [COUNT count]")
def xrevrange(ctx: Ctx, argv: list[bytes]) -> Any:
    return _range(ctx, argv, reverse=True)


# -- XINFO -------------------------------------------------------------------------------------

container("xinfo", "Inspect streams, their consumer groups and consumers.", "5.0.0", "stream", acl="@slow")

_XINFO_HELP = [
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
]


def nogroup_for_key(group: bytes, key: bytes) -> RedisError:
    return errors.nogroup_for_key(cstr(group), cstr(key))


def _info_lookup(ctx: Ctx, key: bytes) -> Stream:
    s = lookup(ctx, key)
    if s is None:
        raise errors.NO_SUCH_KEY
    return s


def _edge(s: Stream, last: bool) -> Any:
    if not len(s):
        return None
    sid, flat = s.entries.peekitem(-1 if last else 0)
    return entry_reply(sid, flat)


def _stream_header(s: Stream) -> list[tuple[bytes, Any]]:
    return [
        (b"length", len(s)),
        (b"radix-tree-keys", len(s.nodes)),
        (b"radix-tree-nodes", s.rax_nodes()),
        (b"last-generated-id", format_id(s.last_id)),
        (b"max-deleted-entry-id", format_id(s.max_deleted_id)),
        (b"entries-added", s.entries_added),
        (b"recorded-first-entry-id", format_id(s.first_id())),
    ]


def _full(s: Stream, count: int) -> Map:
    entries = []
    for sid, flat in s.entries.items():
        if count and len(entries) == count:
            break
        entries.append(entry_reply(sid, flat))
    groups = []
    for g in s.sorted_groups():
        pending = [[format_id(sid), nack.consumer.name, nack.delivery_time, nack.delivery_count]
                   for sid, nack in _first(g.pel.items(), count)]
        consumers = []
        for c in g.sorted_consumers():
            cpending = [[format_id(sid), nack.delivery_time, nack.delivery_count]
                        for sid, nack in _first(c.pel.items(), count)]
            consumers.append(Map([(b"name", c.name), (b"seen-time", c.seen_time),
                                  (b"pel-count", len(c.pel)), (b"pending", cpending)]))
        groups.append(Map([
            (b"name", g.name),
            (b"last-delivered-id", format_id(g.last_id)),
            (b"entries-read", None if g.entries_read < 0 else g.entries_read),
            (b"lag", s.lag(g)),
            (b"pel-count", len(g.pel)),
            (b"pending", pending),
            (b"consumers", consumers),
        ]))
    return Map(_stream_header(s) + [(b"entries", entries), (b"groups", groups)])


def _first(items: Any, count: int) -> list:
    out = []
    for item in items:
        if count and len(out) == count:
            break
        out.append(item)
    return out


@stream_command("xinfo|stream", -3, "readonly", keys=(2, 2, 1),
                summary="A stream's length, IDs, counters, first and last entries; FULL adds entries, groups and PELs.",
                args="key [FULL [COUNT count]]")
def xinfo_stream(ctx: Ctx, argv: list[bytes]) -> Any:
    s = _info_lookup(ctx, argv[2])
    extra = argv[3:]
    if not extra:
        return Map(_stream_header(s) + [
            (b"groups", len(s.groups)),
            (b"first-entry", _edge(s, last=False)),
            (b"last-entry", _edge(s, last=True)),
        ])
    count = 10  # Redis's default, so that FULL can't block the server on a big stream
    if keyword(extra[0]) != b"full" or len(extra) == 2 or len(extra) > 3:
        raise errors.subcommand_syntax_error(argv, "xinfo")
    if len(extra) == 3:
        if keyword(extra[1]) != b"count":
            raise errors.subcommand_syntax_error(argv, "xinfo")
        count = parse_int(extra[2])
        if count < 0:
            count = 10
    return _full(s, count)


@stream_command("xinfo|groups", 3, "readonly", keys=(2, 2, 1),
                summary="The consumer groups of a stream: consumers, pending count, last delivered ID, entries "
                        "read, lag.",
                args="key")
def xinfo_groups(ctx: Ctx, argv: list[bytes]) -> Any:
    s = _info_lookup(ctx, argv[2])
    return [Map([
        (b"name", g.name),
        (b"consumers", len(g.consumers)),
        (b"pending", len(g.pel)),
        (b"last-delivered-id", format_id(g.last_id)),
        (b"entries-read", None if g.entries_read < 0 else g.entries_read),
        (b"lag", s.lag(g)),
    ]) for g in s.sorted_groups()]


@stream_command("xinfo|consumers", 4, "readonly", keys=(2, 2, 1),
                summary="The consumers of a group: pending count and milliseconds since each was last seen.",
                args="key group")
def xinfo_consumers(ctx: Ctx, argv: list[bytes]) -> Any:
    s = _info_lookup(ctx, argv[2])
    g = s.groups.get(argv[3])
    if g is None:
        raise nogroup_for_key(argv[3], argv[2])
    return [Map([(b"name", c.name), (b"pending", len(c.pel)), (b"idle", max(ctx.now_ms - c.seen_time, 0))])
            for c in g.sorted_consumers()]


@stream_command("xinfo|help", 2, "loading stale", summary="Describe the XINFO subcommands.")
def xinfo_help(ctx: Ctx, argv: list[bytes]) -> Any:
    return help_reply(_XINFO_HELP)


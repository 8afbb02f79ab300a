"""RESP frames: the request parser and the reply encoder (RESP2 and RESP3).

Invariants:
* "Need more bytes" is not an error: ``RequestParser.next_command`` returns ``None``
  and keeps what it has. A malformed frame raises ``ProtocolError`` with Redis's
  exact text; the connection replies with it and closes (only that connection).
* The parser follows Redis 7.0's ``processMultibulkBuffer``/``processInlineBuffer``:
  the same limits, the same error texts, the same leniency (the two bytes after a
  bulk payload are skipped, not checked).
* Reply values are plain Python values; ``encode`` turns them into bytes for the
  client's protocol version. The mapping is documented on ``encode``.

Why not a reply parser (hiredis, reply_parser.py) for requests: it parses *replies*,
so it accepts request frames Redis refuses (nested arrays, integers as arguments,
lengths beyond ``proto-max-bulk-len``) and cannot tell which Redis error text
applies. Every RESP server of the project (data nodes, journal replicas) reads
requests with ``RequestParser`` and writes replies with ``encode``; every client
writes requests with ``encode_command`` and reads replies with
``reply_parser.ReplyParser``. Inline commands are split by ``splitargs``.
"""

from __future__ import annotations

from itertools import chain
from typing import Any, Iterable

from . import errors
from .errors import RedisError
from .splitargs import UnbalancedQuotes, split_args

PROTO_INLINE_MAX_SIZE = 64 * 1024
INT_MAX = 2**31 - 1

# RequestParser._batch: the canonical multibulk headers it takes, mapped to how many
# CRLF-separated tokens the command spans (header, then a length and a payload per
# argument); before AUTH Redis allows at most 10 arguments.
_SPANS = {b"*%d" % n: 1 + 2 * n for n in range(1, 1025)}
_STRICT_SPANS = {b"*%d" % n: 1 + 2 * n for n in range(1, 11)}
_bulk_head = b"$%d".__mod__
# Length tokens of short payloads, to check a whole batch's with one lookup each.
_SHORT_LIMIT = 1024
_SHORT_HEADS = {b"$%d" % n: n for n in range(_SHORT_LIMIT + 1)}
# Bytes of the buffer one batch looks at: it bounds the work a batch that ends early
# wastes, and _BATCH_PAUSE commands are then parsed one by one before the next try.
_BATCH_WINDOW = 16 * 1024
_BATCH_PAUSE = 16


def _frame_size(argv: list[bytes]) -> int:
    """Bytes of ``argv`` as a canonical multibulk frame (what ``_batch`` accepted)."""
    return len(b"*%d\r\n" % len(argv)) + sum(len(b"$%d\r\n" % len(a)) + len(a) + 2 for a in argv)


def string2ll(s: bytes) -> int | None:
    """Redis's strict integer parse: no spaces, no '+', no leading zeros, 64-bit."""
    n = len(s)
    if n == 0 or n > 20:
        return None
    if n == 1 and s == b"0":
        return 0
    start = 1 if s[0] == 45 else 0  # '-'
    if start == n or not (49 <= s[start] <= 57):  # first digit 1-9
        return None
    for c in s[start + 1 :]:
        if not 48 <= c <= 57:
            return None
    v = int(s)
    if v < -(2**63) or v > 2**63 - 1:
        return None
    return v


class RequestParser:
    """Incremental parser of client requests (multibulk and inline)."""

    __slots__ = ("buf", "pos", "max_bulk_len", "auth_required", "_argv", "_left", "_bulklen",
                 "_ready", "_ready_strict", "_batch_pause")

    def __init__(self, max_bulk_len: int = 512 * 1024 * 1024) -> None:
        self.buf = b""
        self.pos = 0
        self.max_bulk_len = max_bulk_len
        # Before AUTH, Redis caps frame sizes so an anonymous peer can't make it buffer much.
        self.auth_required = False
        self._argv: list[bytes] | None = None  # multibulk in progress
        self._left = 0
        self._bulklen = -1
        # Commands already split off the buffer by ``_batch``, last first (``pos`` is
        # past them); ``_ready_strict`` says whether the pre-AUTH limits applied.
        self._ready: list[list[bytes]] = []
        self._ready_strict = False
        self._batch_pause = 0  # commands to parse one by one after a batch found nothing

    def feed(self, data: bytes) -> None:
        rest = len(self.buf) - self.pos
        if rest == 0:
            self.buf = data
            self.pos = 0
        elif type(self.buf) is bytearray:
            self.buf += data  # a big frame in progress: append in amortized O(1)
        elif rest + len(data) > 65536:
            self.buf = bytearray(self.buf[self.pos :]) + data
            self.pos = 0
        else:
            self.buf = self.buf[self.pos :] + data
            self.pos = 0

    def buffered(self) -> int:
        """Bytes received and not yet returned as commands (ready ones count)."""
        if self._ready:
            return len(self.buf) - self.pos + sum(map(_frame_size, self._ready))
        return len(self.buf) - self.pos

    def next_command(self) -> list[bytes] | None:
        """The next complete command, or None when more bytes are needed.

        Empty commands (``*0``, ``*-1``, blank inline lines) are skipped, as Redis does.
        """
        ready = self._ready
        if ready:
            if self.auth_required and not self._ready_strict:
                self._unready()  # de-authenticated mid-batch: the pre-AUTH limits apply again
            else:
                return ready.pop()
        if self._argv is None:
            if self.pos >= len(self.buf):
                return None  # the common end of a batch: nothing buffered
            if self._batch_pause:
                self._batch_pause -= 1
            elif self._batch():
                return ready.pop()
            else:
                self._batch_pause = _BATCH_PAUSE
            argv = self._fast_multibulk()
            if argv is not None:
                return argv
        return self._next_exact()

    def _batch(self) -> bool:
        """Split the complete canonical multibulk commands at the front of the buffer
        into ``_ready`` in one pass; False if the first command is not one.

        A pipelined batch costs a few C-level calls per command, whatever its
        argument count: the buffer (a window of it) is split on CRLF once; a command
        is taken when its header is a known ``*N``, and the batch is kept when every
        length token is exactly ``$<len>`` of the payload that follows it (checked
        for the whole batch at once). That reading agrees with the exact parser's:
        each payload of the stated length is followed by CRLF, which is where the
        exact parser resumes too. A payload holding CRLF, a non-canonical length, a
        partial command or a limit ends the batch there, and the exact parsers take
        over at that command.
        """
        buf, pos = self.buf, self.pos
        if buf[pos] != 42 or type(buf) is not bytes:  # '*'; a big frame in progress is a bytearray
            return False
        window = buf if pos == 0 and len(buf) <= _BATCH_WINDOW else buf[pos : pos + _BATCH_WINDOW]
        parts = window.split(b"\r\n")
        last = len(parts) - 1  # parts[last] is not followed by CRLF: an unfinished tail
        strict = self.auth_required
        spans = _STRICT_SPANS if strict else _SPANS
        ready = self._ready
        if last == spans.get(parts[0]) and not parts[last] and self.max_bulk_len >= _SHORT_LIMIT:
            # Exactly one command, the shape of a client that waits for each reply.
            argv = parts[2:last:2]
            if [*map(_SHORT_HEADS.get, parts[1:last:2])] == [*map(len, argv)]:
                self.pos = pos + len(window)
                self._ready_strict = strict
                ready.append(argv)
                return True
        heads: list[list[bytes]] = []
        i = 0
        while i < last:
            span = spans.get(parts[i])
            if span is None:
                break
            j = i + span
            if j > last:
                break
            ready.append(parts[i + 2 : j : 2])
            heads.append(parts[i + 1 : j : 2])
            i = j
        if not ready:
            return False
        if self.max_bulk_len < _SHORT_LIMIT or (
            [*map(_SHORT_HEADS.get, chain.from_iterable(heads))] != [*map(len, chain.from_iterable(ready))]
        ):
            i = self._keep_valid(parts, heads, 16384 if strict else self.max_bulk_len)
            if not ready:
                return False
        # The tokens and their CRLFs make up the window: count what is left, usually
        # just the unfinished tail.
        self.pos = pos + len(window) - sum(map(len, parts[i:])) - 2 * (last - i)
        self._ready_strict = strict
        ready.reverse()
        return True

    def _keep_valid(self, parts: list[bytes], heads: list[list[bytes]], limit: int) -> int:
        """Cut ``_ready`` before its first command with a wrong length token (or
        one over ``limit``); the number of ``parts`` the kept commands span."""
        ready = self._ready
        i = 0
        for k, argv in enumerate(ready):
            if list(map(_bulk_head, map(len, argv))) != heads[k] or max(map(len, argv)) > limit:
                del ready[k:]
                break
            i += 1 + 2 * len(argv)
        return i

    def _unready(self) -> None:
        """Put the ready commands back into the buffer (they were canonical frames
        right before ``pos``), to be parsed again under the current limits."""
        self.pos -= sum(map(_frame_size, self._ready))
        self._ready.clear()

    def _fast_multibulk(self) -> list[bytes] | None:
        """The common case, a complete well-formed multibulk, parsed in one pass.

        Anything unusual (a partial frame, odd lengths, limits) returns None so the
        exact parser, which keeps Redis's error texts and incremental state, decides.
        """
        buf, pos = self.buf, self.pos
        if pos >= len(buf) or buf[pos] != 42 or type(buf) is not bytes:  # '*'
            return None
        nl = buf.find(b"\r\n", pos)
        head = buf[pos + 1 : nl]
        if nl < 0 or not head.isdigit() or head[0] == 48 or len(head) > 6:
            return None
        n = int(head)
        if n > 10 and self.auth_required:
            return None
        p = nl + 2
        end = len(buf)
        argv: list[bytes] = []
        append = argv.append
        limit = 16384 if self.auth_required else self.max_bulk_len
        for _ in range(n):
            if p >= end or buf[p] != 36:  # '$'
                return None
            nl = buf.find(b"\r\n", p)
            head = buf[p + 1 : nl]
            if nl < 0 or not head.isdigit() or (head[0] == 48 and len(head) > 1) or len(head) > 10:
                return None
            ln = int(head)
            start = nl + 2
            stop = start + ln
            if ln > limit or stop + 2 > end:
                return None
            append(buf[start:stop])
            p = stop + 2
        self.pos = p
        return argv

    def _next_exact(self) -> list[bytes] | None:
        while True:
            buf = self.buf
            if self._argv is None:
                if self.pos >= len(buf):
                    self._compact()
                    return None
                if buf[self.pos] == 42:  # '*'
                    started = self._start_multibulk()
                    if started is None:
                        return None
                    if started is False:
                        continue  # empty multibulk
                else:
                    argv = self._inline()
                    if argv is None:
                        return None
                    if not argv:
                        continue
                    return argv
            argv = self._multibulk_args()
            if argv is None:
                return None
            return argv

    def _compact(self) -> None:
        if self.pos > 65536 or self.pos == len(self.buf):
            if type(self.buf) is bytearray:
                del self.buf[: self.pos]
            else:
                self.buf = self.buf[self.pos :]
            self.pos = 0

    def _start_multibulk(self) -> bool | None:
        buf, pos = self.buf, self.pos
        nl = buf.find(b"\r", pos)
        if nl < 0:
            if len(buf) - pos > PROTO_INLINE_MAX_SIZE:
                raise errors.PROTO_MBULK_COUNT_TOO_BIG
            return None
        if nl + 2 > len(buf):
            return None
        ll = string2ll(bytes(buf[pos + 1 : nl]))
        if ll is None or ll > INT_MAX:
            raise errors.PROTO_INVALID_MBULK
        if ll > 10 and self.auth_required:
            raise errors.PROTO_UNAUTH_MBULK
        self.pos = nl + 2
        if ll <= 0:
            return False
        self._argv = []
        self._left = ll
        self._bulklen = -1
        return True

    def _multibulk_args(self) -> list[bytes] | None:
        buf = self.buf
        argv = self._argv
        assert argv is not None
        pos = self.pos
        end = len(buf)
        while self._left:
            if self._bulklen == -1:
                nl = buf.find(b"\r", pos)
                if nl < 0:
                    if end - pos > PROTO_INLINE_MAX_SIZE:
                        raise errors.PROTO_BULK_COUNT_TOO_BIG
                    break
                if nl + 2 > end:
                    break
                if buf[pos] != 36:  # '$'
                    raise errors.proto_expected_dollar(buf[pos])
                ll = string2ll(bytes(buf[pos + 1 : nl]))
                if ll is None or ll < 0 or ll > self.max_bulk_len:
                    raise errors.PROTO_INVALID_BULK
                if ll > 16384 and self.auth_required:
                    raise errors.PROTO_UNAUTH_BULK
                pos = nl + 2
                self._bulklen = ll
            if end - pos < self._bulklen + 2:
                break
            argv.append(bytes(buf[pos : pos + self._bulklen]))
            pos += self._bulklen + 2
            self._bulklen = -1
            self._left -= 1
        self.pos = pos
        if self._left:
            self._compact()
            return None
        self._argv = None
        return argv

    def _inline(self) -> list[bytes] | None:
        buf, pos = self.buf, self.pos
        nl = buf.find(b"\n", pos)
        if nl < 0:
            if len(buf) - pos > PROTO_INLINE_MAX_SIZE:
                raise errors.PROTO_INLINE_TOO_BIG
            return None
        line = bytes(buf[pos:nl])
        if line.endswith(b"\r"):
            line = line[:-1]
        self.pos = nl + 1
        try:
            return split_args(line)
        except UnbalancedQuotes:
            raise errors.PROTO_UNBALANCED from None


# ---------------------------------------------------------------------------
# Replies


class Status(bytes):
    """A simple string reply (``+OK``)."""


class Raw(bytes):
    """Bytes already encoded as a complete RESP reply (used for fixed replies)."""


class Double(float):
    """A double: RESP3 ``,``; RESP2 a bulk string (Redis 7.0 formats with %.17g)."""


class Map(list):
    """Pairs ``[(k, v), ...]``: RESP3 ``%``; RESP2 a flat array."""


class SetReply(list):
    """RESP3 ``~``; RESP2 an array."""


class Push(list):
    """An out-of-band message: RESP3 ``>``; RESP2 an array."""


class Verbatim(bytes):
    """Text: RESP3 ``=N\\r\\ntxt:...``; RESP2 a bulk string."""


class NullArray:
    """The RESP2 null array ``*-1`` (RESP3 ``_``)."""

    __slots__ = ()


class BigBool:
    """RESP3 boolean (``#t``/``#f``); RESP2 integer 1/0."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value


NULL_ARRAY = NullArray()
OK = Status(b"OK")
QUEUED = Status(b"QUEUED")
PONG = Status(b"PONG")


def format_double(v: float) -> bytes:
    """Redis 7.0 ``addReplyDouble``: %.17g, with inf spelled ``inf``/``-inf``."""
    if v != v:
        return b"nan"
    if v == float("inf"):
        return b"inf"
    if v == float("-inf"):
        return b"-inf"
    return (b"%.17g" % v)


def encode(value: Any, proto: int = 2) -> bytes:
    """Encode a reply. Mapping: bytes→bulk, int→integer, None→null bulk, Status→+,
    RedisError→-, list/tuple→array, and the marker types above."""
    t = type(value)
    if t is bytes:
        return b"$%d\r\n%b\r\n" % (len(value), value)
    if t is Status:
        return b"+%b\r\n" % value
    if t is int:
        return b":%d\r\n" % value
    out: list[bytes] = []
    _encode_into(value, proto, out)
    return b"".join(out)


def _encode_into(v: Any, proto: int, out: list[bytes]) -> None:
    t = type(v)
    if t is bytes or t is Verbatim and proto == 2:
        out.append(b"$%d\r\n%b\r\n" % (len(v), v))
    elif t is int:
        out.append(b":%d\r\n" % v)
    elif t is Status:
        out.append(b"+%b\r\n" % v)
    elif t is Raw:
        out.append(v)
    elif v is None:
        out.append(b"_\r\n" if proto == 3 else b"$-1\r\n")
    elif t is list or t is tuple or t is SetReply and proto == 2 or t is Push and proto == 2:
        out.append(b"*%d\r\n" % len(v))
        for item in v:
            _encode_into(item, proto, out)
    elif isinstance(v, RedisError):
        out.append(b"-%b\r\n" % v.text)
    elif t is Map:
        if proto == 3:
            out.append(b"%%%d\r\n" % len(v))
        else:
            out.append(b"*%d\r\n" % (2 * len(v)))
        for k, item in v:
            _encode_into(k, proto, out)
            _encode_into(item, proto, out)
    elif t is Double or t is float:
        s = format_double(v)
        out.append(b",%b\r\n" % s if proto == 3 else b"$%d\r\n%b\r\n" % (len(s), s))
    elif t is SetReply:
        out.append(b"~%d\r\n" % len(v))
        for item in v:
            _encode_into(item, proto, out)
    elif t is Push:
        out.append(b">%d\r\n" % len(v))
        for item in v:
            _encode_into(item, proto, out)
    elif t is Verbatim:
        out.append(b"=%d\r\ntxt:%b\r\n" % (len(v) + 4, v))
    elif t is NullArray:
        out.append(b"_\r\n" if proto == 3 else b"*-1\r\n")
    elif t is BigBool:
        out.append((b"#t\r\n" if v.value else b"#f\r\n") if proto == 3 else (b":1\r\n" if v.value else b":0\r\n"))
    elif t is str:
        b = v.encode()
        out.append(b"$%d\r\n%b\r\n" % (len(b), b))
    elif t is bool:
        out.append(b":1\r\n" if v else b":0\r\n")
    elif isinstance(v, (bytes, bytearray, memoryview)):
        b = bytes(v)
        out.append(b"$%d\r\n%b\r\n" % (len(b), b))
    elif isinstance(v, int):
        out.append(b":%d\r\n" % v)
    else:
        raise TypeError(f"cannot encode reply of type {t.__name__}")


def encode_command(args: Iterable[bytes | str | int | float]) -> bytes:
    """Encode a command as a RESP array of bulk strings (for every client of the
    project: the engine's, the site's); text is UTF-8, numbers are written in decimal."""
    parts: list[bytes] = []
    n = 0
    for a in args:
        if isinstance(a, bytes):
            pass
        elif isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = b"%d" % a
        else:
            a = str(a).encode()  # a float (the site's write load)
        parts.append(b"$%d\r\n%b\r\n" % (len(a), a))
        n += 1
    return b"*%d\r\n" % n + b"".join(parts)

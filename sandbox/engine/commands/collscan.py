"""What every SCAN-like command shares (SCAN, HSCAN, SSCAN, ZSCAN), and the cursor
over one big collection (HSCAN, SSCAN).

Shared: the cursor and the MATCH/COUNT (and, for SCAN, TYPE) options, parsed with
Redis 7.0's exact errors (``parseScanCursorOrReply``, ``scanGenericCommand``), the
pattern filter and the reply shape.

Redis answers a *small* collection (listpack hash, intset set) in one reply with
cursor 0 whatever cursor was given; the family modules decide what "small" is and
reply directly. This module serves the big ones.

The big-collection cursor is a *threshold* on a per-process ordering key,
``hash(element)`` truncated to 62 bits: a call returns the elements whose key is
``>= cursor``, at least ``COUNT`` of them when that many remain (ties with the last
key are always taken together), and the next cursor is that last key + 1, or 0 when
nothing is left. Invariant (Redis's SCAN guarantee): an element present from the
first call to the last is returned at least once, however many elements are added
or removed in between — its key never changes and the threshold only moves past
keys already returned. Elements added during the scan may or may not appear; an
element may appear twice only if it is removed and re-added.

Cost: Python's ``dict``/``set`` can't be walked from a position, so each call reads
the whole collection once (O(N), plus O(N log COUNT) to pick the next window): a
complete scan costs O(N²/COUNT). That is the price of not keeping a second index
beside every hash and set; small collections (the common case) never pay it.

Like Redis's (its siphash seed is random per process), the ordering key is only
meaningful within one process: a cursor handed to another node or after a restart
still terminates but may skip elements.
"""

from __future__ import annotations

import heapq
from typing import Iterable

from .. import errors
from .. import glob
from .util import parse_int

_KEY_MASK = (1 << 62) - 1  # keeps every cursor below 2**63, so it prints like Redis's
_ULONG_MAX = (1 << 64) - 1


def parse_cursor(arg: bytes) -> int:
    """Redis's ``parseScanCursorOrReply``: ``strtoul`` base 10, strictly checked.

    Accepted like C does: a sign ("-1" wraps to 2**64-1), an empty string (0), and
    anything after an embedded NUL (C stops reading there). Refused: leading
    whitespace, trailing garbage and values beyond 64 bits.
    """
    if arg[:1].isspace():
        raise errors.SCAN_INVALID_CURSOR
    text = arg.split(b"\0", 1)[0]
    if not text:
        return 0
    negative = text[:1] == b"-"
    digits = text[1:] if text[:1] in (b"-", b"+") else text
    if not digits or not digits.isdigit():
        raise errors.SCAN_INVALID_CURSOR
    digits = digits.lstrip(b"0") or b"0"
    if len(digits) > 20 or int(digits) > _ULONG_MAX:
        raise errors.SCAN_INVALID_CURSOR
    value = int(digits)
    return (-value) & _ULONG_MAX if negative else value


def parse_options(argv: list[bytes], start: int, with_type: bool = False) -> tuple[bytes | None, int, bytes | None]:
    """MATCH, COUNT and (SCAN only: ``with_type``) TYPE from ``argv[start:]``:
    (pattern or None for "match all", count, lower-case type name or None)."""
    pattern: bytes | None = None
    typename: bytes | None = None
    count = 10
    i, n = start, len(argv)
    while i < n:
        opt = argv[i].lower()
        if opt == b"count" and n - i >= 2:
            count = parse_int(argv[i + 1])
            if count < 1:
                raise errors.SYNTAX
        elif opt == b"match" and n - i >= 2:
            pattern = None if argv[i + 1] == b"*" else argv[i + 1]
        elif opt == b"type" and with_type and n - i >= 2:
            typename = argv[i + 1].lower()
        else:
            raise errors.SYNTAX
        i += 2
    return pattern, count, typename


def matching(elements: Iterable[bytes], pattern: bytes | None) -> list[bytes]:
    if pattern is None:
        return list(elements)
    test = glob.compile(pattern)  # once per call, not per element
    return [e for e in elements if test(e)]


def threshold_scan(elements: Iterable[bytes], cursor: int, count: int) -> tuple[int, list[bytes]]:
    """One call of a big-collection scan: (next cursor, elements of this window)."""
    mask = _KEY_MASK
    eligible: list[tuple[int, bytes]] = []
    for e in elements:
        k = hash(e) & mask
        if k >= cursor:
            eligible.append((k, e))
    if len(eligible) <= count:
        return 0, [e for _k, e in eligible]
    last = heapq.nsmallest(count, eligible)[-1][0]
    window = [e for k, e in eligible if k <= last]
    return (last + 1 if len(window) < len(eligible) else 0), window


def reply(cursor: int, items: list[bytes]) -> list:
    return [b"%d" % cursor, items]

"""SORT and SORT_RO: sort a list, set or sorted set, optionally by other keys' values
(``BY weight_*``, ``BY h_*->field``), fetching others (``GET``), and storing the
result as a list (``STORE``).

Invariants, as Redis 7.0 (``sort.c``):
* Options are parsed left to right before the key is read: a syntax error wins over
  WRONGTYPE. A missing key sorts as an empty list.
* Numeric sorting parses with C's ``strtod`` (leading spaces, hex and ``inf``
  accepted; trailing bytes, NaN and out-of-range values refused), and breaks score
  ties by comparing the elements, so the order is fully determined. ALPHA compares
  bytes up to the first NUL (``strcoll`` in the C/C.UTF-8 locale), or the whole
  string when storing (Redis then uses a binary compare).
* ``BY`` without ``*`` means "don't sort": lists and sorted sets keep their order
  (DESC walks from the tail), but a set is sorted ALPHA when storing so that the
  stored list doesn't depend on the set's internal order.
* The effect of ``SORT ... STORE`` is the stored list itself (``DEL`` + ``RPUSH``),
  never the SORT: replaying SORT would read BY/GET keys whose expiry, and ties
  between equal weights whose order (a set's iteration order), can differ elsewhere.
"""

from __future__ import annotations

import math
import re
from collections import deque
from fractions import Fraction
from itertools import islice
from typing import Any

from .. import errors
from ..context import Ctx
from ..client import OutputLimitReached
from ..datatypes import ZSet
from . import command
from .keyspecs import READ, WRITE
from .sets import intset_order
from .util import parse_int


_DBL_MIN = 2.2250738585072014e-308
_DEC = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_HEX = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]*)\.?([0-9a-fA-F]*)(?:[pP]([+-]?\d+))?\Z")
_INFS = {b"inf": math.inf, b"infinity": math.inf}


def strtod(value: bytes) -> float | None:
    """The score C's ``strtod`` gives ``value`` if it consumes it all without ERANGE, else None."""
    text = value.split(b"\0", 1)[0]
    if not text:
        return 0.0  # nothing parsed and nothing left over: Redis accepts it as 0
    body = text.lstrip(b" \t\n\v\f\r")
    unsigned = body[1:] if body[:1] in (b"+", b"-") else body
    if unsigned.lower() in _INFS:
        return -math.inf if body[:1] == b"-" else math.inf
    if _DEC.match(body):
        result = float(body)
        exact = Fraction(body.decode()) if abs(result) < _DBL_MIN else None
    else:
        m = _HEX.match(body)
        if m is None or not (m.group(2) or m.group(3)):
            return None
        mantissa = int(m.group(2) + m.group(3), 16)
        exponent = int(m.group(4) or 0) - 4 * len(m.group(3))
        if mantissa and mantissa.bit_length() + exponent > 1100:
            return None  # far beyond DBL_MAX
        if mantissa and mantissa.bit_length() + exponent < -1100:
            return None  # far below the smallest subnormal: underflows to 0
        exact = Fraction(mantissa) * Fraction(2) ** exponent
        if m.group(1) == b"-":
            exact = -exact
        try:
            result = float(exact)
        except OverflowError:
            return None  # ERANGE: overflow
    if math.isinf(result):
        return None  # ERANGE: overflow
    if abs(result) < _DBL_MIN and exact != Fraction(result):
        return None  # ERANGE: an inexact subnormal, or a non-zero value rounded to 0
    return result


def sort_getkeys(argv: list[bytes]) -> list[int]:
    """Key positions of SORT: the sorted key and the last STORE destination
    (``sortGetKeys``: LIMIT takes two arguments, GET and BY one)."""
    positions = [1]
    store = 0
    i = 2
    while i < len(argv):
        opt = argv[i].lower()
        if opt == b"limit":
            i += 2
        elif opt in (b"get", b"by"):
            i += 1
        elif opt == b"store" and i + 1 < len(argv):
            store = i + 1
        i += 1
    if store:
        positions.append(store)
    return positions


def _cstr(value: bytes) -> bytes:
    return value.split(b"\0", 1)[0]


def _by_pattern(ctx: Ctx, pattern: bytes, subst: bytes) -> bytes | None:
    """The value named by ``pattern`` for element ``subst`` (``lookupKeyByPattern``)."""
    c_pattern = _cstr(pattern)
    if c_pattern == b"#":
        return subst
    star = c_pattern.find(b"*")
    if star < 0:
        return None
    arrow = c_pattern.find(b"->", star + 1)
    field = None
    end = len(pattern)
    if arrow >= 0 and arrow + 2 < len(c_pattern):
        field = pattern[arrow + 2 :]
        end = arrow
    value = ctx.lookup(pattern[:star] + subst + pattern[star + 1 : end])
    if field is None:
        return value if type(value) is bytes else None
    return value.get(field) if type(value) is dict else None


def _reads_every_key(ctx: Ctx, readonly: bool) -> bool:
    """BY and GET patterns read keys the ACL check never saw: the user must be able
    to read every key (Redis 7.0)."""
    return ctx.client.user.full_read_access("sort_ro" if readonly else "sort")


def _parse(ctx: Ctx, argv: list[bytes], readonly: bool) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "desc": False, "alpha": False, "start": 0, "count": -1,
        "dontsort": False, "by": None, "store": None, "gets": [],
    }
    cluster = ctx.server.config.cluster_enabled
    n = len(argv)
    j = 2
    while j < n:
        left = n - j - 1
        opt = argv[j].lower()
        if opt == b"asc":
            opts["desc"] = False
        elif opt == b"desc":
            opts["desc"] = True
        elif opt == b"alpha":
            opts["alpha"] = True
        elif opt == b"limit" and left >= 2:
            opts["start"] = parse_int(argv[j + 1])
            opts["count"] = parse_int(argv[j + 2])
            j += 2
        elif opt == b"store" and left >= 1 and not readonly:
            opts["store"] = argv[j + 1]
            j += 1
        elif opt == b"by" and left >= 1:
            opts["by"] = argv[j + 1]
            if b"*" not in _cstr(argv[j + 1]):
                opts["dontsort"] = True
            elif cluster:
                raise errors.SORT_BY_CLUSTER
            elif not _reads_every_key(ctx, readonly):
                raise errors.SORT_BY_ACL
            j += 1
        elif opt == b"get" and left >= 1:
            if cluster:
                raise errors.SORT_GET_CLUSTER
            if not _reads_every_key(ctx, readonly):
                raise errors.SORT_GET_ACL
            opts["gets"].append(argv[j + 1])
            j += 1
        else:
            raise errors.SYNTAX
        j += 1
    return opts


def _check_multiplied(ctx: Ctx, entries: int, storing: bool) -> None:
    """GET patterns multiply the result: a few bytes of arguments times a collection.

    A reply that passes the client's output limit even if every entry were a null
    ("$-1\r\n", 5 bytes) closes the client before it is built, as Redis would close
    it; a STORE that would need more list slots (8 bytes each) than maxmemory is
    refused with the OOM error, before allocating (Redis would accept it).
    """
    if storing:
        maxmemory = ctx.server.maxmemory
        if maxmemory and entries * 8 > maxmemory:
            raise errors.OOM
        return
    limit = ctx.client.output_limit()
    if limit and entries * 5 > limit:
        raise OutputLimitReached


def _sort(ctx: Ctx, argv: list[bytes], readonly: bool) -> Any:
    o = _parse(ctx, argv, readonly)
    desc, alpha, dontsort, by, store, gets = o["desc"], o["alpha"], o["dontsort"], o["by"], o["store"], o["gets"]
    value = ctx.lookup(argv[1])
    if value is None:
        value = deque()
    elif type(value) not in (deque, set, ZSet):
        raise errors.WRONGTYPE
    if getattr(value, "listpack", False):
        value.listpack = False  # Redis converts a sorted set to a skiplist for good when sorting it
    if dontsort and type(value) is set and store is not None:
        dontsort, alpha, by = False, True, None

    size = len(value)
    start = min(max(o["start"], 0), size)
    count = min(max(o["count"], -1), size)
    end = size - 1 if count < 0 else start + count - 1
    if start >= size:
        start, end = size - 1, size - 2
    if end >= size:
        end = size - 1

    if dontsort and type(value) in (deque, ZSet):
        # Already ordered: take just the LIMIT range, from the tail when DESC.
        span = max(end - start + 1, 0)
        if type(value) is deque:
            source = reversed(value) if desc else iter(value)
            vector = list(islice(source, start, start + span)) if span else []
        else:
            if desc:
                items = value.ordered.islice(size - start - span, size - start, reverse=True)
            else:
                items = value.ordered.islice(start, start + span)
            vector = [member for _score, member in items] if span else []
        if span:
            end -= start
            start = 0
    elif type(value) is set:
        numeric = intset_order(value) if dontsort else None
        vector = list(value) if numeric is None else numeric  # an intset iterates in numeric order
    elif type(value) is ZSet:
        vector = list(value.scores)
    else:
        vector = list(value)

    if not dontsort:
        vector = _sorted(ctx, vector, by, alpha, desc, store is not None)

    selected = vector[start : end + 1] if end >= start else []
    if gets:
        _check_multiplied(ctx, len(selected) * len(gets), store is not None)
    if store is None:
        if not gets:
            return selected
        return [_by_pattern(ctx, pattern, elem) for elem in selected for pattern in gets]
    if gets:
        result = [_by_pattern(ctx, pattern, elem) or b"" for elem in selected for pattern in gets]
    else:
        result = selected
    existed = ctx.lookup(store) is not None
    if result:
        ctx.store(store, deque(result))
        if existed:
            ctx.propagate([b"DEL", store])
        ctx.propagate([b"RPUSH", store, *result])
    elif existed:
        ctx.delete(store)
        ctx.propagate([b"DEL", store])
    return len(result)


def _sorted(ctx: Ctx, vector: list[bytes], by: bytes | None, alpha: bool, desc: bool, binary: bool) -> list[bytes]:
    if alpha:
        compare = (lambda v: v) if binary else _cstr
        if by is None:
            return sorted(vector, key=compare, reverse=desc)
        weights = {}
        for elem in vector:
            w = _by_pattern(ctx, by, elem)
            weights[elem] = (0, b"") if w is None else (1, compare(w))
        # Stable, like glibc's merge sort: equal weights keep the vector's order.
        return sorted(vector, key=weights.__getitem__, reverse=desc)
    keyed = []
    bad = False
    for elem in vector:
        w = elem if by is None else _by_pattern(ctx, by, elem)
        score = 0.0 if w is None else strtod(w)
        if score is None:
            bad = True
            score = 0.0
        keyed.append((score, elem))
    if bad:
        raise errors.SORT_NOT_DOUBLE
    keyed.sort(reverse=desc)
    return [elem for _score, elem in keyed]


def _sort_key_access(argv: list[bytes]) -> list[tuple[int, int]]:
    """SORT reads its key; STORE's destination is written."""
    return [(i, READ if i == 1 else WRITE) for i in sort_getkeys(argv)]


@command("sort", -2, "write denyoom", keys=(1, 1, 1), getkeys=sort_getkeys, acl="@set @sortedset @list @dangerous",
         key_access=_sort_key_access,
         complexity="O(N+M*log(M))",
         summary="Sort a list, set or sorted set (numerically, ALPHA, or BY other keys), optionally storing the result.",
         args="key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA] "
              "[STORE destination]")
def sort(ctx: Ctx, argv: list[bytes]) -> Any:
    return _sort(ctx, argv, readonly=False)


@command("sort_ro", -2, "readonly", keys=(1, 1, 1), getkeys=lambda argv: [1],
         acl="@set @sortedset @list @dangerous", since="7.0.0", complexity="O(N+M*log(M))",
         summary="SORT without STORE, allowed on replicas and in read-only scripts.",
         args="key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA]")
def sort_ro(ctx: Ctx, argv: list[bytes]) -> Any:
    return _sort(ctx, argv, readonly=True)

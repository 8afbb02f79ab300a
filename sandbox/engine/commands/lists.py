"""List commands: pushes and pops at both ends, ranges, LPOS, LMOVE, LMPOP, ...

A list is a ``collections.deque`` (O(1) at both ends, like Redis's quicklist).
Invariants: a key never holds an empty deque — the command that removes the last
element removes the key; and every command parses its arguments in Redis's order
so that the *first* error a client sees is Redis's (e.g. LRANGE checks its indexes
before the key's type, LINDEX the other way round).

The blocking variants (BLPOP, BLMOVE, ...) live in ``blocking``. Effects: every command is
deterministic on identical state and propagates as itself, except LMPOP, which
replicas receive as the concrete ``LPOP``/``RPOP key n`` it performed.
"""

from __future__ import annotations

from collections import deque
from itertools import islice
from typing import Any, Callable

from .. import errors
from ..context import Ctx
from ..resp import NULL_ARRAY, OK
from . import command
from .util import LLONG_MIN, first_existing, numkeys_keys, parse_int, parse_mpop, parse_nonneg_int, rank_range


_ENDS = {b"left": True, b"right": False}  # True for the head


def _where(arg: bytes) -> bool:
    """LEFT/RIGHT -> True for the head."""
    head = _ENDS.get(arg.lower())
    if head is None:
        raise errors.SYNTAX
    return head


# -- push and pop -------------------------------------------------------------------
#
# One body per operation serves both ends: ``_push_body``/``_pop_body`` build it for
# a given end, so LPUSH and RPUSH run the same code without an extra call or a
# branch on the end in the hot path (Redis shares pushGenericCommand the same way).


def _push_body(head: bool, create: bool) -> Callable[[Ctx, list[bytes]], int]:
    """LPUSH/RPUSH (``create``) or LPUSHX/RPUSHX: the new length, 0 if not created."""
    add_one = deque.appendleft if head else deque.append
    add_many = deque.extendleft if head else deque.extend

    def push(ctx: Ctx, argv: list[bytes]) -> int:
        key = argv[1]
        dq = ctx.lookup_typed(key, deque)
        if dq is None:
            if not create:
                return 0
            dq = deque()
            ctx.db.put(key, dq)
        if len(argv) == 3:  # the usual single element: no slice to build
            add_one(dq, argv[2])
        else:
            add_many(dq, argv[2:])
        ctx.changed(key)
        return len(dq)

    return push


def _take(ctx: Ctx, key: bytes, dq: deque, count: int, head: bool) -> list[bytes]:
    """Pop up to ``count`` elements from one end (in pop order); the key goes with the last one."""
    take = dq.popleft if head else dq.pop
    out = [take() for _ in range(min(count, len(dq)))]
    if not dq:
        ctx.db.remove(key)
    ctx.changed(key)
    return out


def _pop_body(head: bool) -> Callable[[Ctx, list[bytes]], Any]:
    """LPOP/RPOP: one element (or nil), or with a count an array (nil array if missing)."""
    take_one = deque.popleft if head else deque.pop
    name = "lpop" if head else "rpop"

    def pop(ctx: Ctx, argv: list[bytes]) -> Any:
        key = argv[1]
        if len(argv) == 2:
            dq = ctx.lookup_typed(key, deque)
            if dq is None:
                return None
            value = take_one(dq)
            if not dq:
                ctx.db.remove(key)
            ctx.changed(key)
            return value
        if len(argv) > 3:
            raise errors.wrong_arity(name)
        count = parse_nonneg_int(argv[2], errors.COUNT_NEGATIVE)
        dq = ctx.lookup_typed(key, deque)
        if dq is None:
            return NULL_ARRAY
        return _take(ctx, key, dq, count, head) if count else []

    return pop


_ADDS = "O(1) for each element added"
_POPS = "O(N) where N is the number of elements returned"

lpush = command("lpush", -3, "write denyoom fast", keys=(1, 1, 1), acl="@list", group="list", complexity=_ADDS,
                summary="Insert elements at the head of a list (the last one ends up first); returns the new length.",
                args="key element [element ...]", key_flags=("RW insert",))(_push_body(head=True, create=True))
rpush = command("rpush", -3, "write denyoom fast", keys=(1, 1, 1), acl="@list", group="list", complexity=_ADDS,
                summary="Append elements at the tail of a list; returns the new length.",
                args="key element [element ...]", key_flags=("RW insert",))(_push_body(head=False, create=True))
lpushx = command("lpushx", -3, "write denyoom fast", keys=(1, 1, 1), acl="@list", since="2.2.0", group="list",
                 complexity=_ADDS, args="key element [element ...]",
                 summary="LPUSH, but only if the list already exists; returns the length (0 if missing).",
                 key_flags=("RW insert",))(_push_body(head=True, create=False))
rpushx = command("rpushx", -3, "write denyoom fast", keys=(1, 1, 1), acl="@list", since="2.2.0", group="list",
                 complexity=_ADDS, args="key element [element ...]",
                 summary="RPUSH, but only if the list already exists; returns the length (0 if missing).",
                 key_flags=("RW insert",))(_push_body(head=False, create=False))
lpop = command("lpop", -2, "write fast", keys=(1, 1, 1), acl="@list", group="list", complexity=_POPS,
               summary="Remove and return the first element (or the first COUNT elements) of a list.",
               args="key [count]", key_flags=("RW access delete",))(_pop_body(head=True))
rpop = command("rpop", -2, "write fast", keys=(1, 1, 1), acl="@list", group="list", complexity=_POPS,
               summary="Remove and return the last element (or the last COUNT elements, last first) of a list.",
               args="key [count]", key_flags=("RW access delete",))(_pop_body(head=False))


@command("lmpop", -4, "write movablekeys", acl="@list", getkeys=numkeys_keys(2), since="7.0.0", group="list",
         complexity="O(N+M) where N is the number of provided keys and M is the number of elements returned",
         summary="Pop up to COUNT elements from the first non-empty list among the given keys; returns [key, elements].",
         args="numkeys key [key ...] LEFT|RIGHT [COUNT count]", key_flags=("RW access delete",))
def lmpop(ctx: Ctx, argv: list[bytes]) -> Any:
    keys, head, count = parse_mpop(argv, _ENDS)
    found = first_existing(ctx, keys, deque)
    if found is None:
        return NULL_ARRAY
    key, dq = found
    out = _take(ctx, key, dq, count, head)
    ctx.propagate([b"LPOP" if head else b"RPOP", key, b"%d" % len(out)])
    return [key, out]


# -- reads ------------------------------------------------------------------------


@command("llen", 2, "readonly fast", keys=(1, 1, 1), acl="@list", group="list",
         summary="The length of a list (0 if missing).", args="key", key_flags=("RO",))
def llen(ctx: Ctx, argv: list[bytes]) -> Any:
    dq = ctx.lookup_typed(argv[1], deque)
    return 0 if dq is None else len(dq)


def _slice(dq: deque, start: int, end: int) -> list[bytes]:
    """Elements ``start..end`` inclusive, already clamped to the list; walks from the nearer end."""
    n = len(dq)
    if start > n - 1 - end:
        return list(islice(reversed(dq), n - 1 - end, n - start))[::-1]
    return list(islice(dq, start, end + 1))


@command("lrange", 4, "readonly", keys=(1, 1, 1), acl="@list", group="list",
         complexity="O(S+N): S to reach the start (from the nearer end of a big list), N for the elements returned.",
         summary="The elements between two indexes (inclusive, negative counts from the end).",
         args="key start stop")
def lrange(ctx: Ctx, argv: list[bytes]) -> Any:
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    dq = ctx.lookup_typed(argv[1], deque)
    if dq is None:
        return []
    span = rank_range(start, end, len(dq))
    return [] if span is None else _slice(dq, *span)


@command("lindex", 3, "readonly", keys=(1, 1, 1), acl="@list", group="list",
         complexity="O(N) where N is the number of elements to traverse to get to the element at index",
         summary="The element at an index (negative counts from the end), or nil.", args="key index")
def lindex(ctx: Ctx, argv: list[bytes]) -> Any:
    dq = ctx.lookup_typed(argv[1], deque)
    if dq is None:
        return None
    index = parse_int(argv[2])
    if index < 0:
        index += len(dq)
    if not 0 <= index < len(dq):
        return None
    return dq[index]


@command("lpos", -3, "readonly", keys=(1, 1, 1), acl="@list", since="6.0.6", group="list",
         complexity="O(N) where N is the number of elements in the list, for the average case",
         summary="The index of matching elements: the RANK-th match, COUNT matches, scanning at most MAXLEN elements.",
         args="key element [RANK rank] [COUNT num-matches] [MAXLEN len]")
def lpos(ctx: Ctx, argv: list[bytes]) -> Any:
    rank, count, maxlen = 1, -1, 0  # count -1: option absent (reply a single index)
    i = 3
    while i < len(argv):
        opt = argv[i].lower()
        if i + 1 >= len(argv):
            raise errors.SYNTAX
        if opt == b"rank":
            rank = parse_int(argv[i + 1])
            if rank == 0:
                raise errors.LIST_RANK_ZERO
        elif opt == b"count":
            count = parse_nonneg_int(argv[i + 1], errors.LIST_COUNT_NEGATIVE)
        elif opt == b"maxlen":
            maxlen = parse_nonneg_int(argv[i + 1], errors.LIST_MAXLEN_NEGATIVE)
        else:
            raise errors.SYNTAX
        i += 2
    dq = ctx.lookup_typed(argv[1], deque)
    if dq is None:
        return [] if count != -1 else None
    from_tail = rank < 0
    limit = count
    if rank == LLONG_MIN:
        # Redis negates LLONG_MIN in C (it stays negative): every match qualifies and
        # COUNT's stop test overflows, so all matches are returned.
        rank, limit = 1, 0
    elif from_tail:
        rank = -rank
    element = argv[2]
    n = len(dq)
    items = reversed(dq) if from_tail else iter(dq)
    if maxlen:
        items = islice(items, maxlen)
    matches = 0
    found: list[int] = []
    for index, item in enumerate(items):
        if item == element:
            matches += 1
            if matches >= rank:
                pos = n - index - 1 if from_tail else index
                if count == -1:
                    return pos
                found.append(pos)
                if limit and matches - rank + 1 >= limit:
                    break
    return found if count != -1 else None


# -- edits ------------------------------------------------------------------------


@command("lset", 4, "write denyoom", keys=(1, 1, 1), acl="@list", group="list",
         complexity="O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1)",
         summary="Replace the element at an index.", args="key index element")
def lset(ctx: Ctx, argv: list[bytes]) -> Any:
    key = argv[1]
    dq = ctx.lookup_typed(key, deque)
    if dq is None:
        raise errors.NO_SUCH_KEY
    index = parse_int(argv[2])
    if index < 0:
        index += len(dq)
    if not 0 <= index < len(dq):
        raise errors.INDEX_OUT_OF_RANGE
    dq[index] = argv[3]
    ctx.changed(key)
    return OK


@command("linsert", 5, "write denyoom", keys=(1, 1, 1), acl="@list", since="2.2.0", group="list",
         complexity="O(N) where N is the number of elements to traverse before seeing the value pivot",
         summary="Insert an element before or after the first occurrence of a pivot; returns the length, -1 if no pivot.",
         args="key BEFORE|AFTER pivot element", key_flags=("RW insert",))
def linsert(ctx: Ctx, argv: list[bytes]) -> Any:
    where = argv[2].lower()
    if where == b"after":
        after = True
    elif where == b"before":
        after = False
    else:
        raise errors.SYNTAX
    key = argv[1]
    dq = ctx.lookup_typed(key, deque)
    if dq is None:
        return 0
    try:
        index = dq.index(argv[3])
    except ValueError:
        return -1
    dq.insert(index + 1 if after else index, argv[4])
    ctx.changed(key)
    return len(dq)


@command("lrem", 4, "write", keys=(1, 1, 1), acl="@list", group="list",
         complexity="O(N+M) where N is the length of the list and M is the number of elements removed",
         summary="Remove occurrences of an element: the first COUNT, the last -COUNT, or all for 0.",
         args="key count element", key_flags=("RW delete",))
def lrem(ctx: Ctx, argv: list[bytes]) -> Any:
    count = parse_int(argv[2])
    key = argv[1]
    dq = ctx.lookup_typed(key, deque)
    if dq is None:
        return 0
    element = argv[3]
    limit = abs(count)  # 0: no limit (Redis's LLONG_MIN also ends up removing all)
    kept: list[bytes] = []
    removed = 0
    for item in (reversed(dq) if count < 0 else dq):
        if item == element and (not limit or removed < limit):
            removed += 1
        else:
            kept.append(item)
    if not removed:
        return 0
    if count < 0:
        kept.reverse()
    dq.clear()
    dq.extend(kept)
    if not dq:
        ctx.db.remove(key)
    ctx.changed(key)
    return removed


@command("ltrim", 4, "write", keys=(1, 1, 1), acl="@list", group="list",
         complexity="O(N) where N is the number of elements to be removed by the operation",
         summary="Keep only the elements between two indexes.", args="key start stop", key_flags=("RW delete",))
def ltrim(ctx: Ctx, argv: list[bytes]) -> Any:
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    key = argv[1]
    dq = ctx.lookup_typed(key, deque)
    if dq is None:
        return OK
    n = len(dq)
    span = rank_range(start, end, n)
    left, right = (n, 0) if span is None else (span[0], n - span[1] - 1)
    if left + right:
        if left + right >= n:
            dq.clear()
        else:
            for _ in range(left):
                dq.popleft()
            for _ in range(right):
                dq.pop()
        if not dq:
            ctx.db.remove(key)
        ctx.changed(key)
    else:
        # Redis signals the key (WATCH sees a write) but its dirty count stays 0, so
        # nothing is propagated: mark it touched without counting a change.
        ctx.dirty_keys.append((ctx.db.id, key))
    return OK


# -- moves ------------------------------------------------------------------------


def _move(ctx: Ctx, source: bytes, destination: bytes, from_head: bool, to_head: bool) -> Any:
    src = ctx.lookup_typed(source, deque)
    if src is None:
        return None
    dst = ctx.lookup_typed(destination, deque)
    value = src.popleft() if from_head else src.pop()
    if dst is None:
        dst = deque()
        ctx.db.put(destination, dst)
    if to_head:
        dst.appendleft(value)
    else:
        dst.append(value)
    ctx.changed(destination)
    if not src:
        ctx.db.remove(source)
    if source != destination:
        ctx.changed(source)
    return value


@command("lmove", 5, "write denyoom", keys=(1, 2, 1), acl="@list", since="6.2.0", group="list",
         summary="Pop an element from one end of a list and push it at one end of another (or the same) list.",
         args="source destination LEFT|RIGHT LEFT|RIGHT", key_flags=("RW access delete", "RW insert"))
def lmove(ctx: Ctx, argv: list[bytes]) -> Any:
    from_head = _where(argv[3])
    to_head = _where(argv[4])
    return _move(ctx, argv[1], argv[2], from_head, to_head)


@command("rpoplpush", 3, "write denyoom", keys=(1, 2, 1), acl="@list", since="1.2.0", group="list",
         summary="Pop the last element of a list and push it at the head of another (deprecated form of LMOVE).",
         args="source destination", key_flags=("RW access delete", "RW insert"))
def rpoplpush(ctx: Ctx, argv: list[bytes]) -> Any:
    return _move(ctx, argv[1], argv[2], False, True)

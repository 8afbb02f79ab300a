"""Sorted-set algebra: ZUNION, ZINTER, ZDIFF, their *STORE forms, and ZINTERCARD.

Inputs may be sorted sets or plain sets (every member scoring 1). The arithmetic
follows Redis 7.0's ``zunionInterDiffGenericCommand`` so that results agree to the
last bit:

* for UNION and INTER the inputs are taken smallest first (a stable sort by size:
  float sums depend on their order);
* a weighted score that is NaN (0 * inf) counts as 0, and so does a SUM that is
  NaN (inf + -inf); MIN and MAX keep the current value against a NaN;
* a stored result is built as a skiplist and turned into a listpack when small
  (``ZSet.convert_to_listpack_if_small``), which is where a -0 score becomes 0.

Effects: all of them are deterministic, so they propagate as their own argv.
"""

from __future__ import annotations

from typing import Any, Iterator

from .. import errors
from ..context import Ctx
from ..datatypes import ZSet
from . import command
from .util import numkeys_keys, parse_float, parse_int, parse_nonneg_int, store_or_delete
from .zsets import SORTED_SET, members_reply, scored_reply


_UNION, _INTER, _DIFF = 0, 1, 2
_SUM, _MIN, _MAX = 0, 1, 2
_AGGREGATES = {b"sum": _SUM, b"min": _MIN, b"max": _MAX}


class _Source:
    """One input: a ZSet, a set (scores of 1) or nothing (a missing key)."""

    __slots__ = ("value", "weight")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.weight = 1.0

    def __len__(self) -> int:
        return 0 if self.value is None else len(self.value)

    def items(self) -> Iterator[tuple[bytes, float]]:
        v = self.value
        if type(v) is ZSet:
            return iter(v.scores.items())
        if v is None:
            return iter(())
        return ((m, 1.0) for m in v)

    def score(self, member: bytes) -> float | None:
        v = self.value
        if type(v) is ZSet:
            return v.scores.get(member)
        return 1.0 if v is not None and member in v else None


def _aggregate(target: float, value: float, how: int) -> float:
    if how == _SUM:
        target += value
        return 0.0 if target != target else target
    if how == _MIN:
        return value if value < target else target
    return value if value > target else target


def _setop(ctx: Ctx, argv: list[bytes], op: int, numkeys_idx: int, store: bool = False,
           cardinality: bool = False) -> tuple[dict[bytes, float] | int, bool]:
    """Parse and compute; returns (member -> score, withscores), or (count, False)
    for ZINTERCARD."""
    setnum = parse_int(argv[numkeys_idx])
    if setnum < 1:
        name = argv[0].lower().decode(errors="replace")
        raise errors.zset_no_input_key(name)
    if setnum > len(argv) - numkeys_idx - 1:
        raise errors.SYNTAX
    sources = []
    for key in argv[numkeys_idx + 1 : numkeys_idx + 1 + setnum]:
        value = ctx.lookup(key)
        if value is not None and type(value) is not ZSet and type(value) is not set:
            raise errors.WRONGTYPE
        sources.append(_Source(value))

    how, withscores, limit = _SUM, False, 0
    j = numkeys_idx + 1 + setnum
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        remaining = n - j
        if op != _DIFF and not cardinality and remaining >= setnum + 1 and opt == b"weights":
            for i, src in enumerate(sources):
                src.weight = parse_float(argv[j + 1 + i], errors.ZSET_WEIGHT)
            j += setnum + 1
        elif op != _DIFF and not cardinality and remaining >= 2 and opt == b"aggregate":
            agg = _AGGREGATES.get(argv[j + 1].lower())
            if agg is None:
                raise errors.SYNTAX
            how = agg
            j += 2
        elif not store and not cardinality and opt == b"withscores":
            withscores = True
            j += 1
        elif cardinality and remaining >= 2 and opt == b"limit":
            limit = parse_nonneg_int(argv[j + 1], errors.LIMIT_NEGATIVE)
            j += 2
        else:
            raise errors.SYNTAX

    if op == _DIFF:
        return _diff(sources), withscores
    sources.sort(key=len)  # stable, like glibc's merge-sort qsort: sums depend on the order
    if op == _UNION:
        return _union(sources, how), withscores
    return _inter(sources, how, cardinality, limit), withscores


def _union(sources: list[_Source], how: int) -> dict[bytes, float]:
    acc: dict[bytes, float] = {}
    for src in sources:
        w = src.weight
        for member, score in src.items():
            score *= w
            if score != score:
                score = 0.0
            cur = acc.get(member)
            acc[member] = score if cur is None else _aggregate(cur, score, how)
    return acc


def _inter(sources: list[_Source], how: int, cardinality: bool, limit: int) -> Any:
    first, rest = sources[0], sources[1:]
    acc: dict[bytes, float] = {}
    count = 0
    if not len(first):
        return 0 if cardinality else acc
    w0 = first.weight
    for member, score in first.items():
        score *= w0
        if score != score:
            score = 0.0
        for src in rest:
            value = src.score(member)
            if value is None:
                break
            score = _aggregate(score, value * src.weight, how)
        else:
            if cardinality:
                count += 1
                if limit and count >= limit:
                    break
            else:
                acc[member] = score
    return count if cardinality else acc


def _diff(sources: list[_Source]) -> dict[bytes, float]:
    first, rest = sources[0], [s for s in sources[1:] if len(s)]
    return {m: s for m, s in first.items() if all(src.score(m) is None for src in rest)}


def _reply(ctx: Ctx, argv: list[bytes], op: int) -> Any:
    result, withscores = _setop(ctx, argv, op, 1)
    items = sorted((s, m) for m, s in result.items())  # type: ignore[union-attr]
    return scored_reply(items, ctx.client.proto) if withscores else members_reply(items)


def _store(ctx: Ctx, argv: list[bytes], op: int) -> Any:
    result, _ = _setop(ctx, argv, op, 2, store=True)
    zs = ZSet.from_scores(result)  # type: ignore[arg-type]
    zs.convert_to_listpack_if_small()
    return store_or_delete(ctx, argv[1], zs)


def _store_keys(argv: list[bytes]) -> list[int]:
    return [1, *numkeys_keys(3)(argv)] if len(argv) > 1 else []


_CPLX_UNION = ("O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, "
               "and M being the number of elements in the resulting sorted set.")
_CPLX_INTER = ("O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being "
               "the number of input sorted sets and M being the number of elements in the resulting sorted set.")
_CPLX_DIFF = ("O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, "
              "N is the size of the first set, and K is the size of the result set.")


@command("zunion", -3, "readonly", getkeys=numkeys_keys(2), since="6.2.0", **SORTED_SET, complexity=_CPLX_UNION,
         summary="The union of sorted sets (or sets), with weights and an aggregate for shared members.",
         args="numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]")
def zunion(ctx: Ctx, argv: list[bytes]) -> Any:
    return _reply(ctx, argv, _UNION)


@command("zinter", -3, "readonly", getkeys=numkeys_keys(2), since="6.2.0", **SORTED_SET, complexity=_CPLX_INTER,
         summary="The members present in every input, with weights and an aggregate of their scores.",
         args="numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]")
def zinter(ctx: Ctx, argv: list[bytes]) -> Any:
    return _reply(ctx, argv, _INTER)


@command("zdiff", -3, "readonly", getkeys=numkeys_keys(2), since="6.2.0", **SORTED_SET, complexity=_CPLX_DIFF,
         summary="The members of the first input that no other input has, with their scores.",
         args="numkeys key [key ...] [WITHSCORES]")
def zdiff(ctx: Ctx, argv: list[bytes]) -> Any:
    return _reply(ctx, argv, _DIFF)


@command("zunionstore", -4, "write denyoom", keys=(1, 1, 1), getkeys=_store_keys, since="2.0.0", **SORTED_SET,
         complexity=_CPLX_UNION,
         summary="Store the union of sorted sets (or sets) in a key; returns its size.",
         args="destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]",
         key_flags=("OW update", "RO access"))
def zunionstore(ctx: Ctx, argv: list[bytes]) -> Any:
    return _store(ctx, argv, _UNION)


@command("zinterstore", -4, "write denyoom", keys=(1, 1, 1), getkeys=_store_keys, since="2.0.0", **SORTED_SET,
         complexity=_CPLX_INTER,
         summary="Store the intersection of sorted sets (or sets) in a key; returns its size.",
         args="destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]",
         key_flags=("OW update", "RO access"))
def zinterstore(ctx: Ctx, argv: list[bytes]) -> Any:
    return _store(ctx, argv, _INTER)


@command("zdiffstore", -4, "write denyoom", keys=(1, 1, 1), getkeys=_store_keys, since="6.2.0", **SORTED_SET,
         complexity=_CPLX_DIFF,
         summary="Store the difference of the first input and the others in a key; returns its size.",
         args="destination numkeys key [key ...]", key_flags=("OW update", "RO access"))
def zdiffstore(ctx: Ctx, argv: list[bytes]) -> Any:
    return _store(ctx, argv, _DIFF)


@command("zintercard", -3, "readonly", getkeys=numkeys_keys(2), since="7.0.0", **SORTED_SET,
         complexity="O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
         summary="The size of the intersection, optionally stopping at LIMIT.",
         args="numkeys key [key ...] [LIMIT limit]")
def zintercard(ctx: Ctx, argv: list[bytes]) -> Any:
    return _setop(ctx, argv, _INTER, 1, cardinality=True)[0]

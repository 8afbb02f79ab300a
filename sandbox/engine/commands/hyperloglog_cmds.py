"""HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.

An HLL is a string value in Redis 7.0's byte layout (``hyperloglog.py``): GET shows
the same bytes as redis-server, and a value copied either way (GET there, SET here)
reads the same. A command copies the value into a ``bytearray``, patches registers
in place and stores the result as a new ``bytes`` (strings stay immutable here).

Invariants kept as Redis 7.0 keeps them:
* Every check happens before any change: a non-string is ``WRONGTYPE``, a string
  without the HLL header (or a dense one of the wrong size) is the HLL variant of
  ``WRONGTYPE``, corrupted sparse opcodes are ``INVALIDOBJ``.
* Writes keep the key's TTL (Redis edits the value in place).
* Effects: PFADD, PFMERGE and PFDEBUG are logged as their own argv, and only when
  they changed something; they replay to the same bytes given the same
  ``hll-sparse-max-bytes``. PFCOUNT of one key with a stale cache stores the count
  in the value and, like Redis (which propagates a read that dirtied the dataset),
  logs ``PFCOUNT key``, which recomputes the same count on a replica. A PFADD that
  hits corrupted opcodes after changing registers keeps the changes (as Redis does)
  and logs them as ``SET key value KEEPTTL`` — Redis logs nothing there, which
  leaves its replicas behind.
* PFSELFTEST runs Redis's two tests (register access, then estimates of 1 to 10**4
  distinct elements in sparse and dense form against each other and the error
  bound) on a smaller scale than Redis's 10**7 elements, so a call stays ~0.1 s.
"""

from __future__ import annotations

import math
import random
from typing import Any

from .. import errors
from .. import hyperloglog as hll
from ..context import Ctx
from ..resp import OK, Status
from . import command
from .util import keyword


def _sparse_limit(ctx: Ctx) -> int:
    return ctx.server.params.get_int("hll-sparse-max-bytes")


def _hll_or_none(ctx: Ctx, key: bytes) -> bytes | None:
    """The HLL at ``key`` (None if missing), after Redis's type and shape checks."""
    value = ctx.lookup_typed(key, bytes)
    if value is not None and not hll.is_hll(value):
        raise errors.HLL_WRONGTYPE
    return value


def _union(ctx: Ctx, keys: list[bytes]) -> tuple[bytes | None, bool]:
    """Register-wise maximum of the HLLs at ``keys`` (missing keys are empty), and
    whether any of them is dense."""
    regs: bytes | None = None
    dense = False
    for key in keys:
        value = _hll_or_none(ctx, key)
        if value is None:
            continue
        dense = dense or value[4] == hll.DENSE
        these = hll.registers(value)
        if these is None:
            raise errors.HLL_INVALID
        regs = these if regs is None else hll.max_registers(regs, these)
    return regs, dense


def _signed(card: int) -> int:
    """Redis replies the uint64 count as a long long."""
    return card - (1 << 64) if card >= 1 << 63 else card


@command("pfadd", -2, "write denyoom fast", keys=(1, 1, 1), acl="@hyperloglog", since="2.8.9", group="hyperloglog",
         complexity="O(1) to add every element.", args="key [element [element ...]]", key_flags=("RW insert",),
         summary="Add elements to the HyperLogLog at a key (creating it); 1 if its estimate may have changed.")
def pfadd(ctx: Ctx, argv: list[bytes]) -> Any:
    key = argv[1]
    value = _hll_or_none(ctx, key)
    updated = 0
    if value is None:
        buf = hll.new_sparse()
        updated = 1
    else:
        buf = bytearray(value)
    limit = _sparse_limit(ctx)
    add = hll.add
    for element in argv[2:]:
        result = add(buf, element, limit)
        if result == 1:
            updated += 1
        elif result < 0:
            if value is not None and buf != value:
                changed = bytes(buf)
                ctx.store(key, changed, keep_ttl=True)
                ctx.propagate([b"SET", key, changed, b"KEEPTTL"])
            raise errors.HLL_INVALID
    if not updated:
        return 0
    hll.invalidate(buf)
    ctx.store(key, bytes(buf), keep_ttl=True)
    ctx.add_dirty(updated - 1)  # Redis counts one change per updated register
    return 1


@command("pfcount", -2, "readonly", keys=(1, -1, 1), acl="@hyperloglog", since="2.8.9", group="hyperloglog",
         complexity="O(1) with a very small average constant time when called with a single key. O(N) with N "
                    "being the number of keys, and much bigger constant times, when called with multiple keys.",
         args="key [key ...]", key_flags=("RW access",),
         key_notes="RW because it may change the internal representation of the key, and propagate to replicas",
         summary="Estimated number of distinct elements added to the HyperLogLogs at the keys (their union).")
def pfcount(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) > 2:
        regs, _dense = _union(ctx, argv[1:])
        if regs is None:
            return 0
        return _signed(hll.estimate(hll.register_histogram(regs)))
    key = argv[1]
    value = _hll_or_none(ctx, key)
    if value is None:
        return 0
    card = hll.cached_count(value)
    if card is not None:
        return card
    card = hll.count(value)
    if card is None:
        raise errors.HLL_INVALID
    buf = bytearray(value)
    hll.store_count(buf, card)
    ctx.store(key, bytes(buf), keep_ttl=True)
    ctx.propagate(argv)  # a replica recomputes the same count into the same bytes
    return _signed(card)


@command("pfmerge", -2, "write denyoom", keys=(1, -1, 1), acl="@hyperloglog", since="2.8.9", group="hyperloglog",
         complexity="O(N) to merge N HyperLogLogs, but with high constant times.",
         args="destkey sourcekey [sourcekey ...]", key_flags=("RW access insert", "RO access"),
         summary="Store the union of HyperLogLogs (the destination's own included) at the destination key.")
def pfmerge(ctx: Ctx, argv: list[bytes]) -> Any:
    dest = argv[1]
    regs, dense = _union(ctx, argv[1:])
    current = ctx.lookup(dest)
    buf = hll.new_sparse() if current is None else bytearray(current)
    if dense:
        # The destination's registers are part of the union: the result is the union.
        if not hll.to_dense(buf):
            raise errors.HLL_INVALID
        if regs is not None:
            buf[hll.HEADER:] = hll.pack_dense(regs)
    elif regs is not None:
        # Register by register, in order, as Redis does: the sparse opcodes (and where
        # the value turns dense) depend on that order.
        limit = _sparse_limit(ctx)
        hint = [hll.HEADER, 0]
        for index, reg in enumerate(regs):
            if reg:
                if buf[4] == hll.DENSE:
                    hll.dense_set(buf, index, reg)
                else:
                    hll.sparse_set(buf, index, reg, limit, hint)
    hll.invalidate(buf)
    ctx.store(dest, bytes(buf), keep_ttl=True)
    return OK


@command("pfdebug", 3, "write denyoom admin", keys=(2, 2, 1), acl="@hyperloglog", since="2.8.9", group="hyperloglog",
         complexity="N/A", args="subcommand key", key_flags=("RW access",),
         summary="Inspect a HyperLogLog: GETREG (registers), DECODE (sparse opcodes), ENCODING, TODENSE.")
def pfdebug(ctx: Ctx, argv: list[bytes]) -> Any:
    key = argv[2]
    value = _hll_or_none(ctx, key)
    if value is None:
        raise errors.HLL_NO_KEY
    sub = keyword(argv[1])
    sparse = value[4] == hll.SPARSE
    if sub in (b"getreg", b"todense"):
        if sparse:
            # Converting is a write (logged as this command), even for GETREG.
            buf = bytearray(value)
            if not hll.to_dense(buf):
                raise errors.HLL_INVALID
            value = bytes(buf)
            ctx.store(key, value, keep_ttl=True)
        if sub == b"todense":
            return 1 if sparse else 0
        return list(hll.unpack_dense(value[hll.HEADER:]))
    if sub == b"decode":
        if not sparse:
            raise errors.HLL_NOT_SPARSE
        return hll.decode_sparse(value)
    if sub == b"encoding":
        return Status(b"sparse" if sparse else b"dense")
    raise errors.hll_unknown_debug(argv[1])


@command("pfselftest", 1, "admin", acl="@hyperloglog", since="2.8.9", group="hyperloglog", complexity="N/A",
         summary="Test the HyperLogLog implementation (register access, estimate error): OK or TESTFAILED.")
def pfselftest(ctx: Ctx, argv: list[bytes]) -> Any:
    failure = selftest(random.Random(), _sparse_limit(ctx))
    if failure:
        raise errors.hll_selftest_failed(failure)
    return OK


def selftest(rng: random.Random, sparse_limit: int, cycles: int = 3, elements: int = 10_000) -> str:
    """Redis's PFSELFTEST checks, scaled down; '' on success, else what failed."""
    dense = bytearray(hll.DENSE_SIZE)
    for _ in range(cycles):
        regs = bytes(b & 63 for b in rng.randbytes(hll.REGISTERS))
        dense[hll.HEADER:] = hll.pack_dense(regs)
        for i in range(hll.REGISTERS):
            got = hll.dense_get(dense, i)
            if got != regs[i]:
                return f"Register {i} should be {regs[i]} but is {got}"
        if hll.unpack_dense(dense[hll.HEADER:]) != regs:
            return "Registers don't unpack as they were packed"
    dense = bytearray(hll.DENSE_SIZE)
    dense[0:4] = hll.MAGIC
    sparse = hll.new_sparse()
    relerr = 1.04 / math.sqrt(hll.REGISTERS)
    seed = rng.getrandbits(64)
    checkpoint = 1
    for j in range(1, elements + 1):
        element = (j ^ seed).to_bytes(8, "little")
        hll.add(dense, element, sparse_limit)
        hll.add(sparse, element, sparse_limit)
        if j != checkpoint:
            continue
        if j < sparse_limit // 2 and sparse[4] != hll.SPARSE:
            return "sparse encoding not used"
        estimate = hll.count(dense)
        if estimate != hll.count(sparse):
            return "dense/sparse disagree"
        maxerr = 1 if j == 10 else math.ceil(relerr * 6 * checkpoint)
        if abs(checkpoint - (estimate or 0)) > maxerr:
            return f"Too big error. card:{checkpoint} abserr:{abs(checkpoint - (estimate or 0))}"
        checkpoint *= 10
    return ""

"""Redis's glob matcher (``stringmatchlen``) for KEYS, SCAN MATCH, PSUBSCRIBE, ACL ...

Semantics, exactly as Redis 7.0 on x86-64:
* ``*`` any run of bytes, ``?`` one byte, ``\\x`` the byte x (a trailing ``\\`` is
  itself), ``[...]`` one byte from a class: ``^`` first negates, ``\\x`` is x, ``a-b``
  a range in either order, and a ``[`` without its ``]`` runs to the end of the pattern.
* An empty string matches only the empty pattern (not even ``*``): Redis's loop
  never runs on an empty string. Callers special-case a bare ``*`` where Redis does.
* ``nocase`` folds ASCII letters, except an escaped byte inside a class, which Redis
  compares exactly; range bounds are swapped before folding, and compared as C's
  signed ``char`` (so a byte >= 0x80 is below ``a``).

Invariant: matching costs O(len(pattern) * len(string)) at worst, never
exponential. The pattern is compiled once into literal/one-byte tokens split at the
stars; the part before the first star must match at the start, the part after the
last star at the end, and every part in between is placed at its leftmost fit. Taking
the leftmost fit is always safe: a later fit leaves less room for what follows, so
no choice ever needs to be undone (the same reason Redis 7.0's "skipLongerMatches"
prunes its recursion). A part with ``?`` or classes is placed by a bit-parallel
search, one Python step per byte of the string however long the part is, so the
longest pattern a console line can hold costs a node milliseconds per string.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, Union

Matcher = Callable[[bytes], bool]


class _Class:
    """One byte out of a ``[...]`` class (or a case-folded literal)."""

    __slots__ = ("exact", "ranges", "negate", "nocase")

    def __init__(self, exact: frozenset[int], ranges: tuple[tuple[int, int], ...], negate: bool,
                 nocase: bool) -> None:
        self.exact = exact  # bytes that match as they are (already folded into both cases)
        self.ranges = ranges  # (lo, hi) in signed-char space, bounds already folded
        self.negate = negate
        self.nocase = nocase

    def __call__(self, c: int) -> bool:
        hit = c in self.exact
        if not hit and self.ranges:
            v = c - 256 if c > 127 else c  # C's signed char
            if self.nocase:
                v = _fold(v)
            for lo, hi in self.ranges:
                if lo <= v <= hi:
                    hit = True
                    break
        return hit != self.negate


# A token is one byte's test: an int (that exact byte), None ('?'), or a _Class.
Token = Union[int, None, _Class]


def _fold(c: int) -> int:
    """C's ``tolower`` in the C locale (ASCII only; other values unchanged)."""
    return c + 32 if 65 <= c <= 90 else c


def _letter_cases(c: int) -> frozenset[int]:
    return frozenset((c, c + 32)) if 65 <= c <= 90 else frozenset((c, c - 32)) if 97 <= c <= 122 else frozenset((c,))


def _tokens(p: bytes, nocase: bool) -> list[Token | str]:
    """The pattern as tokens, ``"*"`` for each run of stars."""
    out: list[Token | str] = []
    plen = len(p)
    i = 0
    while i < plen:
        c = p[i]
        if c == 42:  # '*'
            if not out or out[-1] != "*":
                out.append("*")
        elif c == 63:  # '?'
            out.append(None)
        elif c == 91:  # '['
            i = _parse_class(p, i + 1, nocase, out)
        else:
            if c == 92 and i + 1 < plen:  # '\' escapes the next byte
                i += 1
                c = p[i]
            out.append(_Class(_letter_cases(c), (), False, False) if nocase and c in _FOLDABLE else c)
        i += 1
    return out


_FOLDABLE = frozenset(range(65, 91)) | frozenset(range(97, 123))


def _parse_class(p: bytes, i: int, nocase: bool, out: list[Token | str]) -> int:
    """Parse a class starting after its ``[``; append its token; return the index of
    its last pattern byte (the ``]``, or the pattern's last byte if unterminated)."""
    plen = len(p)
    negate = i < plen and p[i] == 94  # '^'
    if negate:
        i += 1
    exact: set[int] = set()
    ranges: list[tuple[int, int]] = []
    while True:
        if i < plen and p[i] == 92 and plen - i >= 2:  # '\x': exactly x, even with nocase
            i += 1
            exact.add(p[i])
        elif i < plen and p[i] == 93:  # ']'
            break
        elif i >= plen:  # unterminated: the class ends with the pattern
            i = plen - 1
            break
        elif plen - i >= 3 and p[i + 1] == 45:  # 'a-b'
            lo, hi = p[i], p[i + 2]
            lo, hi = (lo - 256 if lo > 127 else lo), (hi - 256 if hi > 127 else hi)
            if lo > hi:
                lo, hi = hi, lo
            if nocase:
                lo, hi = _fold(lo), _fold(hi)
            ranges.append((lo, hi))
            i += 2
        else:
            exact.update(_letter_cases(p[i]) if nocase else (p[i],))
        i += 1
    out.append(_Class(frozenset(exact), tuple(ranges), negate, nocase))
    return i


def _literal(segment: list[Token]) -> bytes | None:
    """The segment as plain bytes when every token is an exact byte."""
    if all(type(t) is int for t in segment):
        return bytes(segment)  # type: ignore[arg-type]
    return None


def _fits(segment: list[Token], s: bytes, at: int) -> bool:
    for k, tok in enumerate(segment):
        if tok is None:
            continue
        c = s[at + k]
        if type(tok) is int:
            if c != tok:
                return False
        elif not tok(c):  # type: ignore[operator]
            return False
    return True


def _masks(segment: list[Token]) -> list[int]:
    """For each byte value, the bits of the segment's positions that accept it (bit k
    for token k), for the bit-parallel search in ``_find``."""
    masks = [0] * 256
    any_byte = 0
    # Equal classes (a pattern of 3000 "[a]") are tested against the 256 bytes once.
    classes: dict[tuple[object, ...], tuple[_Class, int]] = {}
    for k, tok in enumerate(segment):
        if tok is None:
            any_byte |= 1 << k
        elif type(tok) is int:
            masks[tok] |= 1 << k
        else:
            assert isinstance(tok, _Class)
            key = (tok.exact, tok.ranges, tok.negate, tok.nocase)
            first, bits = classes.get(key, (tok, 0))
            classes[key] = (first, bits | 1 << k)
    for accepts, bits in classes.values():
        for c in range(256):
            if accepts(c):
                masks[c] |= bits
    return [m | any_byte for m in masks]


def _find(segment: list[Token], literal: bytes | None, masks: list[int] | None, s: bytes, start: int,
          stop: int) -> int:
    """Leftmost position in ``s[start:stop]`` where ``segment`` fits entirely, or -1.

    A segment with ``?`` or classes is searched bit-parallel (shift-and): one step per
    byte of ``s`` whatever the segment's length, so a long segment of classes against
    a long string costs O(len(string)) Python steps, not O(len(pattern)*len(string)).
    """
    if literal is not None:
        return s.find(literal, start, stop)
    assert masks is not None
    size = len(segment)
    done = 1 << (size - 1)
    state = 0
    for at in range(start, stop):
        state = ((state << 1) | 1) & masks[s[at]]
        if state & done:
            return at - size + 1
    return -1


def _build(pattern: bytes, nocase: bool) -> Matcher:
    tokens = _tokens(pattern, nocase)
    segments: list[list[Token]] = [[]]
    for tok in tokens:
        if type(tok) is str:
            segments.append([])
        else:
            segments[-1].append(tok)  # type: ignore[arg-type]
    literals = [_literal(seg) for seg in segments]

    if len(segments) == 1:  # no star: the whole string, byte for byte
        seg, lit = segments[0], literals[0]
        if lit is not None:
            return lit.__eq__
        return lambda s: len(s) == len(seg) and _fits(seg, s, 0)

    head, tail = segments[0], segments[-1]
    head_lit, tail_lit = literals[0], literals[-1]
    middle = [
        (seg, lit, None if lit is not None else _masks(seg))
        for seg, lit in zip(segments[1:-1], literals[1:-1])
    ]
    # Fast shapes (the common ones): 'prefix*', '*suffix', '*part*'. A non-empty
    # string is required in every starred shape (see the module docstring).
    if not middle and head_lit is not None and not tail:
        return (lambda s: s.startswith(head_lit)) if head_lit else (lambda s: s != b"")
    if not middle and not head and tail_lit is not None:
        return lambda s: s != b"" and s.endswith(tail_lit)
    if len(middle) == 1 and not head and not tail and middle[0][1] is not None:
        part = middle[0][1]
        return lambda s: part in s

    hlen, tlen = len(head), len(tail)

    def match(s: bytes) -> bool:
        slen = len(s)
        if slen == 0 or hlen + tlen > slen:
            return False
        if head and not (s.startswith(head_lit) if head_lit is not None else _fits(head, s, 0)):
            return False
        stop = slen - tlen
        if tail and not (s.endswith(tail_lit) if tail_lit is not None else _fits(tail, s, stop)):
            return False
        pos = hlen
        for seg, lit, masks in middle:
            at = _find(seg, lit, masks, s, pos, stop)
            if at < 0:
                return False
            pos = at + len(seg)
        return True

    return match


@lru_cache(maxsize=256)
def _cached(pattern: bytes, nocase: bool) -> Matcher:
    return _build(pattern, nocase)


def compile(pattern: bytes, nocase: bool = False) -> Matcher:
    """A test for ``pattern`` to apply to many strings (KEYS, SCAN, PUBLISH)."""
    # Only short patterns are cached: a huge one would pin its memory.
    return _cached(pattern, nocase) if len(pattern) <= 1024 else _build(pattern, nocase)


def match(pattern: bytes, string: bytes, nocase: bool = False) -> bool:
    return compile(pattern, nocase)(string)

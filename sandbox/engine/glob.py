"""Redis's glob matcher (``stringmatchlen``) for KEYS, SCAN MATCH, PSUBSCRIBE, ...

Differences from ``fnmatch``: ``\\`` escapes, ``[^...]`` negation, ranges in either
order, and a ``[`` without its ``]`` matches literally up to the end of the pattern.
"""

from __future__ import annotations


def match(pattern: bytes, string: bytes, nocase: bool = False) -> bool:
    if nocase:
        pattern, string = pattern.lower(), string.lower()
    return _match(pattern, 0, string, 0)


def _match(p: bytes, pi: int, s: bytes, si: int) -> bool:
    plen, slen = len(p), len(s)
    while pi < plen and si < slen:
        c = p[pi]
        if c == 42:  # '*'
            while pi + 1 < plen and p[pi + 1] == 42:
                pi += 1
            if pi + 1 == plen:
                return True
            for start in range(si, slen):
                if _match(p, pi + 1, s, start):
                    return True
            return False
        if c == 63:  # '?'
            si += 1
        elif c == 91:  # '['
            pi += 1
            negate = pi < plen and p[pi] == 94
            if negate:
                pi += 1
            matched = False
            while True:
                if pi >= plen:
                    pi -= 1  # unterminated: Redis stops at the end of the pattern
                    break
                if p[pi] == 93:  # ']'
                    break
                if p[pi] == 92 and plen - pi >= 2:  # escaped char
                    pi += 1
                    if p[pi] == s[si]:
                        matched = True
                elif pi + 2 < plen and p[pi + 1] == 45:  # range a-b
                    lo, hi = p[pi], p[pi + 2]
                    if lo > hi:
                        lo, hi = hi, lo
                    pi += 2
                    if lo <= s[si] <= hi:
                        matched = True
                elif p[pi] == s[si]:
                    matched = True
                pi += 1
            if negate:
                matched = not matched
            if not matched:
                return False
            si += 1
        elif c == 92 and pi + 1 < plen:  # '\'
            pi += 1
            if p[pi] != s[si]:
                return False
            si += 1
        else:
            if c != s[si]:
                return False
            si += 1
        pi += 1
        if si == slen:
            while pi < plen and p[pi] == 42:
                pi += 1
            break
    return pi == plen and si == slen

"""Redis's argument splitter (``sdssplitargs``): one implementation for the engine's
inline commands and the site's console, which reads a line as redis-cli does.

Rules (Redis 7.0's, quirks included): whitespace (``isspace``: space, \\t \\n \\v
\\f \\r) before an argument is skipped, but an unquoted argument ends only at a
space, \\t, \\n or \\r (\\v and \\f are part of it); "double quotes" take ``\\n \\r
\\t \\b \\a``, ``\\xHH`` (one raw byte) and ``\\<any>`` (that byte); 'single quotes'
take only ``\\'``; a closing quote must be followed by whitespace or the end. The
line is a C string to Redis: a NUL byte ends it.

Invariants:
* Bytes in, bytes out: a caller holding text encodes it first (the console sends
  what the learner typed as UTF-8, like a terminal does).
* An unbalanced line raises ``UnbalancedQuotes`` with a reason a person can read;
  the inline request parser answers it with Redis's protocol error.
"""

from __future__ import annotations

_SPACE = frozenset(b" \n\r\t\v\f")  # C's isspace()
_ENDS_ARG = frozenset(b" \n\r\t")  # what ends an unquoted argument
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_HEX = frozenset(b"0123456789abcdefABCDEF")


class UnbalancedQuotes(ValueError):
    """The line's quotes don't close, or a closing quote is not followed by a space."""


def split_args(line: bytes) -> list[bytes]:
    """The arguments of ``line`` as ``sdssplitargs`` finds them (raises UnbalancedQuotes)."""
    out: list[bytes] = []
    i, n = 0, len(line)
    nul = line.find(b"\0")
    if nul >= 0:
        n = nul
    while True:
        while i < n and line[i] in _SPACE:
            i += 1
        if i >= n:
            return out
        cur = bytearray()
        inq = insq = False
        while True:
            if inq:
                if i >= n:
                    raise UnbalancedQuotes("unbalanced quotes")
                c = line[i]
                if c == 92 and i + 3 < n and line[i + 1] == 120 and line[i + 2] in _HEX and line[i + 3] in _HEX:
                    cur.append(int(line[i + 2 : i + 4], 16))  # \xHH
                    i += 3
                elif c == 92 and i + 1 < n:  # backslash
                    i += 1
                    cur.append(_ESCAPES.get(line[i], line[i]))
                elif c == 34:  # closing "
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        raise UnbalancedQuotes("a closing quote must be followed by a space")
                    i += 1
                    break
                else:
                    cur.append(c)
            elif insq:
                if i >= n:
                    raise UnbalancedQuotes("unbalanced quotes")
                c = line[i]
                if c == 92 and i + 1 < n and line[i + 1] == 39:  # \'
                    i += 1
                    cur.append(39)
                elif c == 39:  # closing '
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        raise UnbalancedQuotes("a closing quote must be followed by a space")
                    i += 1
                    break
                else:
                    cur.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in _ENDS_ARG:
                    break
                if c == 34:
                    inq = True
                elif c == 39:
                    insq = True
                else:
                    cur.append(c)
            i += 1
        out.append(bytes(cur))

"""The argument syntax of a registry entry, as a tree (COMMAND DOCS ``arguments``).

A family writes each command's syntax once, as the ``args`` string of its
``@command`` (``"key value [NX | XX] [GET]"``); ``parse_syntax`` turns it into
Redis's argument tree (``Arg``, the shape of redisCommandArg) and ``render_syntax``
writes a tree back as the one-line hint redis-cli prints. The grammar is documented
on ``_Parser``.

Invariants:
* Pure: a syntax string and a command name in, a tree out; no registry access.
* Argument types are guessed from names (``key``, ``count``, ``timeout``...); a
  family can force one with ``name:type`` (``timeout:double``), and
  ``render_syntax(..., annotate=True)`` writes that form so a tree survives a round
  trip.
* A string that doesn't follow the grammar raises ``SyntaxParseError`` (a test
  parses every registered command's syntax).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class Arg:
    """One node of COMMAND DOCS ``arguments`` (Redis's redisCommandArg)."""

    name: str
    type: str  # string integer double key pattern unix-time pure-token oneof block
    token: str | None = None
    optional: bool = False
    multiple: bool = False
    multiple_token: bool = False
    args: list["Arg"] = field(default_factory=list)
    key_spec_index: int = -1

    def shape(self) -> tuple:
        """Structure without flags, to recognise ``x [x ...]``."""
        return (self.name, self.type, self.token, tuple(a.shape() for a in self.args))

    def flags(self) -> list[str]:
        out = []
        if self.optional:
            out.append("optional")
        if self.multiple:
            out.append("multiple")
        if self.multiple_token:
            out.append("multiple_token")
        return out


ARG_TYPES = ("string", "integer", "double", "key", "pattern", "unix-time", "pure-token", "oneof", "block")

_INTEGER_NAMES = {
    "count", "numkeys", "offset", "start", "stop", "end", "index", "db", "seconds",
    "milliseconds", "cursor", "port", "numreplicas", "rank", "len", "maxlen", "ttl",
    "client-id", "increment", "decrement", "bit", "timeout-ms", "index1", "index2",
    "weight", "samples", "limit", "slot", "protover", "num-matches", "min-match-len",
}
_DOUBLE_NAMES = {"score", "timeout", "latitude", "longitude", "radius", "width", "height", "min", "max"}
_KEY_NAMES = {"destination", "source", "newkey", "dst", "src"}
_KEY_NAME = re.compile(r"[a-z]*key\d*")
_SPLIT = re.compile(r"\.\.\.|[\[\](){}<>|]|[^\s\[\](){}<>|.]+(?:\.[^\s\[\](){}<>|.]+)*|\S")
_OPEN = {"[": "]", "(": ")", "<": ">", "{": "}"}
_CLOSE = set(_OPEN.values())


class SyntaxParseError(ValueError):
    """An ``args`` string that doesn't follow the grammar of ``parse_syntax``."""


def _is_token(word: str) -> bool:
    # A literal the client types as is (NX, WITHSCORES, *, ~); placeholders have lower case.
    return not any(c.islower() for c in word)


def _placeholder(word: str, command: str) -> Arg:
    """A placeholder's argument, its type guessed from its name (and the command's)."""
    name, _, declared = word.rpartition(":")
    if name and declared in ARG_TYPES[:6]:
        return Arg(name, declared)  # an explicit "name:type"
    name = word
    if name in _KEY_NAMES or _KEY_NAME.fullmatch(name):
        kind = "key"
    elif name.endswith("pattern"):
        kind = "pattern"
    elif name.startswith("unix-time"):
        kind = "unix-time"
    elif name in ("increment", "decrement") and "float" in command:
        kind = "double"
    elif name in ("min", "max") and "lex" in command:
        kind = "string"
    elif name in _INTEGER_NAMES or name.endswith("-db"):
        kind = "integer"
    elif name in _DOUBLE_NAMES:
        kind = "double"
    else:
        kind = "string"
    return Arg(name, kind)


_TIGHT = "\x00|"  # "a|b" written without spaces: alternation of the two neighbours only


def _lex(text: str) -> list[str]:
    tokens = []
    for m in _SPLIT.finditer(text):
        tok = m.group()
        if tok == "|" and 0 < m.start() and m.end() < len(text) and not text[m.start() - 1].isspace() \
                and not text[m.end()].isspace():
            tok = _TIGHT
        tokens.append(tok)
    return tokens


class _Parser:
    """Recursive descent over the tokens of one syntax string.

    Grammar (Redis's documentation conventions)::

        alternatives := sequence (' | ' sequence)*
        sequence     := (item ('|' item)* ['...'])*
        item         := WORD | '[' alternatives ']' | '<' alternatives '>'
                      | '(' alternatives ')' | '{' alternatives '}'

    A WORD without lower-case letters is a literal token (``NX``, ``*``), others
    are placeholders (``key``). ``[...]`` is optional, the other brackets only
    group. ``x [x ...]`` and ``x ...`` repeat ``x``; a ``...`` just before a
    closing bracket repeats the whole bracket (``[field value ...]``). A token
    followed by placeholders takes them (``EX seconds``, ``LIMIT offset count``,
    ``AGGREGATE <SUM | MIN | MAX>``).

    Two leniencies for hand-written syntax: ``LEFT|RIGHT`` without spaces
    alternates only its neighbours, and a spaced alternation of single tokens
    inside a longer sequence (``[AGGREGATE SUM | MIN | MAX]``,
    ``AND | OR | NOT destkey key``) is read as an alternation of those tokens.
    """

    def __init__(self, text: str, command: str = "") -> None:
        self.text = text
        self.command = command
        self.tokens = _lex(text)
        self.pos = 0
        self.repeat_group = False

    def fail(self, why: str) -> SyntaxParseError:
        return SyntaxParseError(f"{why} in {self.text!r}")

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse(self) -> list[Arg]:
        args = self.alternatives(None)
        if self.pos != len(self.tokens):
            raise self.fail(f"unexpected {self.tokens[self.pos]!r}")
        return args

    def alternatives(self, closer: str | None) -> list[Arg]:
        branches = [self.sequence(closer)]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.sequence(closer))
        if len(branches) == 1:
            return _bind_tokens(branches[0])
        if any(not b for b in branches):
            raise self.fail("empty alternative")
        repaired = _token_alternation(branches)
        if repaired is not None:
            return _bind_tokens(repaired)
        choices = [_as_one(_bind_tokens(b)) for b in branches]
        return [_oneof(choices)]

    def sequence(self, closer: str | None) -> list[Arg]:
        out: list[Arg] = []
        while self.pos < len(self.tokens):
            tok = self.tokens[self.pos]
            if tok == "|" or tok == closer:
                break
            if tok == "...":
                self.pos += 1
                if closer is not None and self.peek() == closer:
                    self.repeat_group = True  # "[field value ...]": the bracket repeats
                elif out:
                    out[-1].multiple = True
                else:
                    raise self.fail("'...' without an argument")
                continue
            item = self.item(out)
            while self.peek() == _TIGHT:
                self.pos += 1
                other = self.item(None)
                if item is None or other is None:
                    raise self.fail("'|' between repetitions")
                item = _oneof((item.args if item.type == "oneof" and not item.token else [item]) + [other])
            if item is not None:
                out.append(item)
        return out

    def item(self, out: list[Arg] | None) -> Arg | None:
        """One word or bracket; None when a bracket only repeats what precedes it."""
        tok = self.tokens[self.pos]
        self.pos += 1
        if tok in _OPEN:
            saved, self.repeat_group = self.repeat_group, False
            inner = self.alternatives(_OPEN[tok])
            if self.peek() != _OPEN[tok]:
                raise self.fail(f"unbalanced {tok!r}")
            self.pos += 1
            repeats, self.repeat_group = self.repeat_group, saved
            if not inner:
                raise self.fail("empty group")
            return _group(out, inner, optional=tok == "[", repeats=repeats)
        if tok in _CLOSE or tok in ("|", _TIGHT, "..."):
            raise self.fail(f"unexpected {tok!r}")
        return Arg(tok.lower(), "pure-token", token=tok) if _is_token(tok) else _placeholder(tok, self.command)


def _oneof(choices: list[Arg]) -> Arg:
    return Arg("_".join(c.name for c in choices), "oneof", args=choices)


def _plain_token(a: Arg) -> bool:
    return a.type == "pure-token" and not a.optional and not a.multiple


def _token_alternation(branches: list[list[Arg]]) -> list[Arg] | None:
    """``P T1 | T2 | T3 S`` where the middle branches are single tokens: P <T1|T2|T3> S."""
    first, middle, last = branches[0], branches[1:-1], branches[-1]
    if len(first) + len(last) <= 2:
        return None
    if not all(len(b) == 1 and _plain_token(b[0]) for b in middle):
        return None
    if not (_plain_token(first[-1]) and _plain_token(last[0])):
        return None
    return first[:-1] + [_oneof([first[-1], *(b[0] for b in middle), last[0]])] + last[1:]


def _group(out: list[Arg] | None, inner: list[Arg], optional: bool, repeats: bool) -> Arg | None:
    if repeats:
        if len(inner) == 1:
            inner[0].multiple = True
            inner[0].multiple_token = inner[0].token is not None and inner[0].type != "pure-token"
        else:
            inner = [Arg("_".join(a.name for a in inner), "block", args=inner, multiple=True,
                         multiple_token=inner[0].type == "pure-token")]
    group = _as_one(inner)
    if optional and group.multiple and out:
        # "x [x ...]": the group only says that what precedes it may repeat. Try
        # before binding tokens ("WEIGHTS weight [weight ...]"), then after
        # ("GET pattern [GET pattern ...]").
        if _repeat_previous(out, group):
            return None
        out[:] = _bind_tokens(out)
        if _repeat_previous(out, group):
            return None
    if optional:
        group.optional = True
    return group


def _repeat_previous(out: list[Arg], group: Arg) -> bool:
    if out[-1].shape() == group.shape():
        out[-1].multiple = True
        out[-1].multiple_token = group.multiple_token or group.token is not None
        return True
    n = len(group.args)
    if group.type == "block" and 0 < n <= len(out):
        tail = out[-n:]
        if [a.shape() for a in tail] == [a.shape() for a in group.args]:
            del out[-n:]
            out.append(Arg(group.name, "block", args=tail, multiple=True, multiple_token=group.multiple_token))
            return True
    return False


def _as_one(args: list[Arg]) -> Arg:
    if len(args) == 1:
        return args[0]
    return Arg("_".join(a.name for a in args), "block", args=args)


def _takes_token(a: Arg) -> bool:
    return a.type != "pure-token" and a.token is None and not a.optional


def _bind_tokens(items: list[Arg]) -> list[Arg]:
    """``EX seconds`` → seconds with token EX; ``LIMIT offset count`` → a block."""
    out: list[Arg] = []
    i = 0
    while i < len(items):
        item = items[i]
        if item.type == "pure-token" and not item.optional and not item.multiple:
            j = i + 1
            while j < len(items) and _takes_token(items[j]):
                j += 1
                if items[j - 1].multiple:
                    break  # "WEIGHTS weight [weight ...]": nothing follows a repetition
            bound = items[i + 1 : j]
            if bound:
                if len(bound) == 1:
                    bound[0].token = item.token
                    out.append(bound[0])
                else:
                    out.append(Arg("_".join(a.name for a in bound), "block", token=item.token, args=bound))
                i = j
                continue
        out.append(item)
        i += 1
    return out


def parse_syntax(text: str, command: str = "") -> list[Arg]:
    """The argument tree of an ``args`` syntax string (see ``_Parser``); ``command``
    (its name) refines type guesses (``increment`` is a double in INCRBYFLOAT)."""
    return _Parser(text, command).parse() if text.strip() else []


def render_syntax(args: list[Arg], annotate: bool = False) -> str:
    """The syntax line of an argument tree, as redis-cli prints hints.

    ``annotate`` writes placeholders as ``name:type`` so that parsing the line
    again gives the same tree.
    """
    return " ".join(_render(a, annotate) for a in args)


def _render(a: Arg, annotate: bool) -> str:
    if a.type == "pure-token":
        body = a.token or a.name
    elif a.type == "oneof":
        inner = " | ".join(_render(c, annotate) for c in a.args)
        bare = a.optional and not a.multiple and not a.token
        body = inner if bare else f"<{inner}>"
    elif a.type == "block":
        body = " ".join(_render(c, annotate) for c in a.args)
    else:
        body = f"{a.name}:{a.type}" if annotate else a.name
    if a.token and a.type != "pure-token":
        body = f"{a.token} {body}"
    if a.multiple:
        repeat = body if a.multiple_token or not a.token else body[len(a.token) + 1 :]
        body = f"{body} [{repeat} ...]"
    return f"[{body}]" if a.optional else body


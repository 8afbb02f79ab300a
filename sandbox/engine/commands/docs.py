"""COMMAND: the registry described to clients (COMMAND, INFO, DOCS, LIST, COUNT,
GETKEYS, GETKEYSANDFLAGS, HELP).

Everything here is derived from ``commands.REGISTRY``; nothing is declared twice.

* COMMAND INFO has Redis 7.0's reply shape: name, arity, flags (status strings),
  first/last/step, ACL categories ("@cat"), tips, key specs, subcommands — in
  Redis's fixed orders, so redis-py's ``RedisCluster`` and redis-cli can read it.
* Key specs are derived: ``range`` specs from first/last/step (one per key
  argument when the syntax shows distinct ones, ``source destination``), then for
  movable keys a ``keynum`` spec when the syntax has a ``numkeys`` argument, else
  an ``unknown`` one. Their flags come from Redis 7.0's table (KEY_SPEC_FLAGS)
  when the spec count agrees, else RO/access for reads, RW/update for writes and
  not_key for pub/sub channels. Tips come from Redis 7.0's table (TIPS).
* COMMAND DOCS ``arguments`` come from each command's ``args`` syntax string,
  parsed by ``parse_syntax`` (the grammar is documented there). Argument types are
  guessed from names (``key``, ``count``, ``timeout``...); a family can force one
  with ``name:type`` in its syntax (``timeout:double``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .. import errors
from ..context import Ctx
from ..errors import RedisError
from ..glob import match as glob_match
from ..resp import Map, SetReply, Status
from . import REGISTRY, Command, command

# Redis 7.0's order of flags in COMMAND INFO (replyFlagNames); others are hidden.
FLAG_ORDER = (
    "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript", "blocking",
    "loading", "stale", "skip_monitor", "skip_slowlog", "asking", "fast", "no_auth",
    "no_mandatory_keys", "no_async_loading", "no_multi", "movablekeys", "allow_busy",
)
# Redis 7.0's ACL category bit order (ACLCommandCategories).
ACL_ORDER = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
    "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
    "dangerous", "connection", "transaction", "scripting",
)
_ACL_RANK = {c: i for i, c in enumerate(ACL_ORDER)}

# Redis 7.0's command tips (COMMAND INFO element 8), by full command name.
TIPS: dict[str, tuple[str, ...]] = {
    "client|info": ("nondeterministic_output",),
    "client|list": ("nondeterministic_output",),
    "cluster|bumpepoch": ("nondeterministic_output",),
    "cluster|count-failure-reports": ("nondeterministic_output",),
    "cluster|getkeysinslot": ("nondeterministic_output",),
    "cluster|info": ("nondeterministic_output",),
    "cluster|links": ("nondeterministic_output",),
    "cluster|nodes": ("nondeterministic_output",),
    "cluster|replicas": ("nondeterministic_output",),
    "cluster|shards": ("nondeterministic_output",),
    "cluster|slaves": ("nondeterministic_output",),
    "cluster|slots": ("nondeterministic_output",),
    "command": ("nondeterministic_output_order",),
    "command|docs": ("nondeterministic_output_order",),
    "command|info": ("nondeterministic_output_order",),
    "command|list": ("nondeterministic_output_order",),
    "config|set": ("request_policy:all_nodes", "response_policy:all_succeeded"),
    "dbsize": ("request_policy:all_shards", "response_policy:agg_sum"),
    "del": ("request_policy:multi_shard", "response_policy:agg_sum"),
    "dump": ("nondeterministic_output",),
    "exists": ("request_policy:multi_shard", "response_policy:agg_sum"),
    "flushall": ("request_policy:all_shards", "response_policy:all_succeeded"),
    "flushdb": ("request_policy:all_shards", "response_policy:all_succeeded"),
    "function|delete": ("request_policy:all_shards", "response_policy:all_succeeded"),
    "function|flush": ("request_policy:all_shards", "response_policy:all_succeeded"),
    "function|kill": ("request_policy:all_shards", "response_policy:one_succeeded"),
    "function|list": ("nondeterministic_output_order",),
    "function|load": ("request_policy:all_shards", "response_policy:all_succeeded"),
    "function|restore": ("request_policy:all_shards", "response_policy:all_succeeded"),
    "function|stats": ("nondeterministic_output", "request_policy:all_shards", "response_policy:special"),
    "hgetall": ("nondeterministic_output_order",),
    "hkeys": ("nondeterministic_output_order",),
    "hrandfield": ("nondeterministic_output",),
    "hscan": ("nondeterministic_output",),
    "hvals": ("nondeterministic_output_order",),
    "info": ("nondeterministic_output", "request_policy:all_shards", "response_policy:special"),
    "keys": ("request_policy:all_shards", "nondeterministic_output_order"),
    "lastsave": ("nondeterministic_output",),
    "latency|doctor": ("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"),
    "latency|graph": ("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"),
    "latency|histogram": ("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"),
    "latency|history": ("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"),
    "latency|latest": ("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"),
    "latency|reset": ("request_policy:all_nodes", "response_policy:all_succeeded"),
    "memory|doctor": ("nondeterministic_output", "request_policy:all_shards", "response_policy:special"),
    "memory|malloc-stats": ("nondeterministic_output", "request_policy:all_shards", "response_policy:special"),
    "memory|purge": ("request_policy:all_shards", "response_policy:all_succeeded"),
    "memory|stats": ("nondeterministic_output", "request_policy:all_shards", "response_policy:special"),
    "mget": ("request_policy:multi_shard",),
    "migrate": ("nondeterministic_output",),
    "module|list": ("nondeterministic_output_order",),
    "mset": ("request_policy:multi_shard", "response_policy:all_succeeded"),
    "msetnx": ("request_policy:multi_shard", "response_policy:agg_min"),
    "object|encoding": ("nondeterministic_output",),
    "object|freq": ("nondeterministic_output",),
    "object|idletime": ("nondeterministic_output",),
    "object|refcount": ("nondeterministic_output",),
    "ping": ("request_policy:all_shards", "response_policy:all_succeeded"),
    "pttl": ("nondeterministic_output",),
    "randomkey": ("request_policy:all_shards", "nondeterministic_output"),
    "scan": ("nondeterministic_output", "request_policy:special"),
    "script|exists": ("request_policy:all_shards", "response_policy:agg_logical_and"),
    "script|flush": ("request_policy:all_nodes", "response_policy:all_succeeded"),
    "script|kill": ("request_policy:all_shards", "response_policy:one_succeeded"),
    "script|load": ("request_policy:all_nodes", "response_policy:all_succeeded"),
    "sdiff": ("nondeterministic_output_order",),
    "sinter": ("nondeterministic_output_order",),
    "slowlog|get": ("request_policy:all_nodes", "nondeterministic_output"),
    "slowlog|len": ("request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"),
    "slowlog|reset": ("request_policy:all_nodes", "response_policy:all_succeeded"),
    "smembers": ("nondeterministic_output_order",),
    "spop": ("nondeterministic_output",),
    "srandmember": ("nondeterministic_output",),
    "sscan": ("nondeterministic_output",),
    "sunion": ("nondeterministic_output_order",),
    "time": ("nondeterministic_output",),
    "touch": ("request_policy:multi_shard", "response_policy:agg_sum"),
    "ttl": ("nondeterministic_output",),
    "unlink": ("request_policy:multi_shard", "response_policy:agg_sum"),
    "wait": ("request_policy:all_shards", "response_policy:agg_min"),
    "xadd": ("nondeterministic_output",),
    "xautoclaim": ("nondeterministic_output",),
    "xclaim": ("nondeterministic_output",),
    "xinfo|consumers": ("nondeterministic_output",),
    "xpending": ("nondeterministic_output",),
    "xtrim": ("nondeterministic_output",),
    "zrandmember": ("nondeterministic_output",),
    "zscan": ("nondeterministic_output",),
}

# Redis 7.0's key-spec flags where they differ from what we derive (RO/access for
# reads, RW/update for writes, not_key for channels): one tuple per key spec.
KEY_SPEC_FLAGS: dict[str, tuple[tuple[str, ...], ...]] = {
    "append": (("RW", "insert"),),
    "bitfield": (("RW", "access", "update", "variable_flags"),),
    "bitop": (("OW", "update"), ("RO", "access")),
    "blmove": (("RW", "access", "delete"), ("RW", "insert")),
    "blmpop": (("RW", "access", "delete"),),
    "blpop": (("RW", "access", "delete"),),
    "brpop": (("RW", "access", "delete"),),
    "brpoplpush": (("RW", "access", "delete"), ("RW", "insert")),
    "bzmpop": (("RW", "access", "delete"),),
    "bzpopmax": (("RW", "access", "delete"),),
    "bzpopmin": (("RW", "access", "delete"),),
    "copy": (("RO", "access"), ("OW", "update")),
    "decr": (("RW", "access", "update"),),
    "decrby": (("RW", "access", "update"),),
    "del": (("RM", "delete"),),
    "eval": (("RW", "access", "update"),),
    "evalsha": (("RW", "access", "update"),),
    "exists": (("RO",),),
    "fcall": (("RW", "access", "update"),),
    "georadius": (("RO", "access"), ("OW", "update"), ("OW", "update")),
    "georadiusbymember": (("RO", "access"), ("OW", "update"), ("OW", "update")),
    "geosearchstore": (("OW", "update"), ("RO", "access")),
    "getdel": (("RW", "access", "delete"),),
    "getex": (("RW", "access", "update"),),
    "getset": (("RW", "access", "update"),),
    "hdel": (("RW", "delete"),),
    "hexists": (("RO",),),
    "hincrby": (("RW", "access", "update"),),
    "hincrbyfloat": (("RW", "access", "update"),),
    "hlen": (("RO",),),
    "hsetnx": (("RW", "insert"),),
    "hstrlen": (("RO",),),
    "incr": (("RW", "access", "update"),),
    "incrby": (("RW", "access", "update"),),
    "incrbyfloat": (("RW", "access", "update"),),
    "linsert": (("RW", "insert"),),
    "llen": (("RO",),),
    "lmove": (("RW", "access", "delete"), ("RW", "insert")),
    "lmpop": (("RW", "access", "delete"),),
    "lpop": (("RW", "access", "delete"),),
    "lpush": (("RW", "insert"),),
    "lpushx": (("RW", "insert"),),
    "lrem": (("RW", "delete"),),
    "ltrim": (("RW", "delete"),),
    "memory|usage": (("RO",),),
    "migrate": (("RW", "access", "delete"), ("RW", "access", "delete", "incomplete")),
    "move": (("RW", "access", "update"),),
    "mset": (("OW", "update"),),
    "msetnx": (("OW", "insert"),),
    "object|encoding": (("RO",),),
    "object|freq": (("RO",),),
    "object|idletime": (("RO",),),
    "object|refcount": (("RO",),),
    "pfadd": (("RW", "insert"),),
    "pfcount": (("RW", "access"),),
    "pfdebug": (("RW", "access"),),
    "pfmerge": (("RW", "access", "insert"), ("RO", "access")),
    "psetex": (("OW", "update"),),
    "rename": (("RW", "access", "delete"), ("OW", "update")),
    "renamenx": (("RW", "access", "delete"), ("OW", "insert")),
    "restore": (("OW", "update"),),
    "restore-asking": (("OW", "update"),),
    "rpop": (("RW", "access", "delete"),),
    "rpoplpush": (("RW", "access", "delete"), ("RW", "insert")),
    "rpush": (("RW", "insert"),),
    "rpushx": (("RW", "insert"),),
    "sadd": (("RW", "insert"),),
    "scard": (("RO",),),
    "sdiffstore": (("OW", "update"), ("RO", "access")),
    "set": (("RW", "access", "update", "variable_flags"),),
    "setbit": (("RW", "access", "update"),),
    "setex": (("OW", "update"),),
    "setnx": (("OW", "insert"),),
    "sinterstore": (("RW", "update"), ("RO", "access")),
    "sismember": (("RO",),),
    "smove": (("RW", "access", "delete"), ("RW", "insert")),
    "sort": (("RO", "access"), ("RO", "access"), ("OW", "update")),
    "spop": (("RW", "access", "delete"),),
    "srem": (("RW", "delete"),),
    "strlen": (("RO",),),
    "sunionstore": (("OW", "update"), ("RO", "access")),
    "touch": (("RO",),),
    "type": (("RO",),),
    "unlink": (("RM", "delete"),),
    "watch": (("RO",),),
    "xautoclaim": (("RW", "delete"),),
    "xdel": (("RW", "delete"),),
    "xgroup|create": (("RW", "insert"),),
    "xgroup|createconsumer": (("RW", "insert"),),
    "xgroup|delconsumer": (("RW", "delete"),),
    "xgroup|destroy": (("RW", "delete"),),
    "xlen": (("RO",),),
    "xtrim": (("RW", "delete"),),
    "zcard": (("RO",),),
    "zdiffstore": (("OW", "update"), ("RO", "access")),
    "zincrby": (("RW", "access", "update"),),
    "zinterstore": (("OW", "update"), ("RO", "access")),
    "zmpop": (("RW", "access", "delete"),),
    "zpopmax": (("RW", "access", "delete"),),
    "zpopmin": (("RW", "access", "delete"),),
    "zrangestore": (("OW", "update"), ("RO", "access")),
    "zrem": (("RW", "delete"),),
    "zremrangebylex": (("RW", "delete"),),
    "zremrangebyrank": (("RW", "delete"),),
    "zremrangebyscore": (("RW", "delete"),),
    "zunionstore": (("OW", "update"), ("RO", "access")),
    "xreadgroup": (("RO", "access"),),
}

# Movable keys Redis 7.0 finds after a keyword (the streams of XREAD/XREADGROUP:
# the first half of what follows STREAMS): command -> (keyword, startfrom).
KEYWORD_KEY_SPECS: dict[str, tuple[str, int]] = {
    "xread": ("STREAMS", 1),
    "xreadgroup": ("STREAMS", 4),
}

# Redis 7.0's key-spec notes.
KEY_SPEC_NOTES: dict[str, str] = {
    "xadd": "UPDATE instead of INSERT because of the optional trimming feature",
}


# ---------------------------------------------------------------------------
# The argument syntax parser


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


# ---------------------------------------------------------------------------
# Key specs and the replies built from them


@dataclass
class KeySpec:
    flags: tuple[str, ...]
    begin: tuple[str, dict[str, Any]]  # ("index", {"index": 1}) / ("unknown", {})
    find: tuple[str, dict[str, Any]]  # ("range", {...}) / ("keynum", {...}) / ("unknown", {})
    notes: str = ""


def _spec_flags(cmd: Command) -> tuple[str, ...]:
    if "pubsub" in cmd.acl:
        return ("not_key",)
    if "write" in cmd.flags:
        return ("RW", "update")
    return ("RO", "access")


def _fixed_positions(cmd: Command) -> list[tuple[int, Arg]]:
    try:
        return _fixed_positions_of(parse_syntax(cmd.args, cmd.name), cmd)
    except SyntaxParseError:
        return []


def _fixed_positions_of(args: list[Arg], cmd: Command) -> list[tuple[int, Arg]]:
    """The leading arguments whose argv index is fixed, with that index: required,
    untokened, ungrouped ones, up to and including the first repeated one."""
    out = []
    pos = 2 if "|" in cmd.name else 1
    for a in args:
        one_word = a.type == "oneof" and all(c.type == "pure-token" for c in a.args)  # <AND | OR>
        if a.optional or a.token or (a.type in ("oneof", "block", "pure-token") and not one_word):
            break
        out.append((pos, a))
        pos += 1
        if a.multiple:
            break
    return out


def _range_specs(cmd: Command, flags: tuple[str, ...]) -> list[KeySpec]:
    """One spec for first/last/step — or, when the syntax shows distinct key
    arguments at fixed places (``source destination``, ``destination key [key ...]``),
    one spec per argument, as Redis declares them."""
    def spec(index: int, lastkey: int, step: int = 1) -> KeySpec:
        return KeySpec(flags, ("index", {"index": index}), ("range", {"lastkey": lastkey, "keystep": step, "limit": 0}))

    whole = spec(cmd.first_key, cmd.last_key - cmd.first_key if cmd.last_key >= 0 else cmd.last_key, cmd.step or 1)
    keys = [(p, a) for p, a in _fixed_positions(cmd) if a.type == "key"]
    if len(keys) < 2 or cmd.step != 1 or keys[0][0] != cmd.first_key:
        return [whole]
    if any(p != keys[0][0] + i for i, (p, _a) in enumerate(keys)):
        return [whole]
    last_pos, last_arg = keys[-1]
    if last_arg.multiple:
        if cmd.last_key >= 0:
            return [whole]
        return [spec(p, 0) for p, _a in keys[:-1]] + [spec(last_pos, cmd.last_key)]
    if last_pos != cmd.last_key or any(a.multiple for _p, a in keys):
        return [whole]
    return [spec(p, 0) for p, _a in keys]


_SPECS: dict[str, tuple[Command, list[KeySpec]]] = {}


def key_specs(cmd: Command) -> list[KeySpec]:
    """The command's key specs (derived once per registered command)."""
    cached = _SPECS.get(cmd.name)
    if cached is not None and cached[0] is cmd:
        return cached[1]
    specs = _derive_key_specs(cmd)
    _SPECS[cmd.name] = (cmd, specs)
    return specs


def _derive_key_specs(cmd: Command) -> list[KeySpec]:
    specs: list[KeySpec] = []
    flags = _spec_flags(cmd)
    if cmd.first_key > 0:
        specs += _range_specs(cmd, flags)
    if cmd.getkeys is not None:
        numkeys = next((p for p, a in _fixed_positions(cmd) if a.name == "numkeys"), 0)
        keyword = KEYWORD_KEY_SPECS.get(cmd.name)
        if keyword is not None:
            specs.append(KeySpec(flags, ("keyword", {"keyword": keyword[0], "startfrom": keyword[1]}),
                                 ("range", {"lastkey": -1, "keystep": 1, "limit": 2})))
        elif numkeys:
            specs.append(KeySpec(flags, ("index", {"index": numkeys}),
                                 ("keynum", {"keynumidx": 0, "firstkey": 1, "keystep": 1})))
        else:
            specs.append(KeySpec(flags, ("unknown", {}), ("unknown", {})))
    known = KEY_SPEC_FLAGS.get(cmd.name)
    if known is not None and len(known) == len(specs):
        specs = [KeySpec(f, s.begin, s.find) for f, s in zip(known, specs)]
    notes = KEY_SPEC_NOTES.get(cmd.name)
    if notes and len(specs) == 1:
        specs[0].notes = notes
    return specs


def key_flags(cmd: Command, argv: list[bytes], index: int) -> tuple[str, ...]:
    """The flags of the key spec that finds ``argv[index]`` (COMMAND GETKEYSANDFLAGS)."""
    specs = key_specs(cmd)
    for spec in specs:
        if spec.begin[0] != "index" or spec.find[0] != "range":
            continue
        start, last = spec.begin[1]["index"], spec.find[1]["lastkey"]
        end = start + last if last >= 0 else len(argv) + last
        if start <= index <= end and (index - start) % spec.find[1]["keystep"] == 0:
            return spec.flags
    movable = [s for s in specs if s.find[0] != "range"]
    return (movable or specs)[0].flags if specs else ()


def _spec_reply(spec: KeySpec) -> Map:
    notes = [(b"notes", spec.notes.encode())] if spec.notes else []
    return Map([
        *notes,
        (b"flags", SetReply([Status(f.encode()) for f in spec.flags])),
        (b"begin_search", Map([(b"type", spec.begin[0].encode()), (b"spec", _plain_map(spec.begin[1]))])),
        (b"find_keys", Map([(b"type", spec.find[0].encode()), (b"spec", _plain_map(spec.find[1]))])),
    ])


def _plain_map(d: dict[str, Any]) -> Map:
    return Map([(k.encode(), v) for k, v in d.items()])


def reply_flags(cmd: Command) -> list[str]:
    present = set(cmd.flags)
    if cmd.getkeys is not None:
        present.add("movablekeys")
    return [f for f in FLAG_ORDER if f in present]


def reply_categories(cmd: Command) -> list[str]:
    cats = set(cmd.acl)
    if "fast" not in cmd.flags:
        cats.add("slow")
    return sorted(cats, key=lambda c: _ACL_RANK.get(c, len(ACL_ORDER)))


def command_info(cmd: Command) -> list[Any]:
    return [
        cmd.name.encode(),
        cmd.arity,
        SetReply([Status(f.encode()) for f in reply_flags(cmd)]),
        cmd.first_key,
        cmd.last_key,
        cmd.step,
        SetReply([Status(b"@" + c.encode()) for c in reply_categories(cmd)]),
        SetReply([t.encode() for t in TIPS.get(cmd.name, ())]),
        SetReply([_spec_reply(s) for s in key_specs(cmd)]),
        SetReply([command_info(sub) for sub in cmd.subcommands.values()]),
    ]


def doc_arguments(cmd: Command) -> list[Arg]:
    """The parsed arguments of ``cmd`` with key_spec_index filled in: a key at a
    fixed place gets the spec that begins there; keys after ``numkeys`` or behind
    a token get the movable-keys spec; others the first range spec."""
    args = parse_syntax(cmd.args, cmd.name)
    specs = key_specs(cmd)
    by_index = {s.begin[1]["index"]: i for i, s in enumerate(specs) if s.begin[0] == "index" and s.find[0] == "range"}
    range_idx = 0 if by_index else -1
    movable = [i for i, s in enumerate(specs) if s.begin[0] != "index" or s.find[0] != "range"]
    movable_idx = movable[-1] if movable else range_idx
    fixed = {id(a): p for p, a in _fixed_positions_of(args, cmd)}
    seen_numkeys = False

    def assign(a: Arg, top: bool) -> None:
        nonlocal seen_numkeys
        if a.name == "numkeys":
            seen_numkeys = True
        if a.type == "key":
            if top and id(a) in fixed and fixed[id(a)] in by_index:
                a.key_spec_index = by_index[fixed[id(a)]]
            elif seen_numkeys or not top or a.token or a.optional:
                a.key_spec_index = movable_idx
            else:
                a.key_spec_index = range_idx
        for child in a.args:
            assign(child, False)

    for a in args:
        assign(a, True)
    return args


def _arg_reply(a: Arg) -> Map:
    pairs: list[tuple[bytes, Any]] = [(b"name", a.name.encode()), (b"type", a.type.encode())]
    if a.type == "key" and a.key_spec_index >= 0:
        pairs.append((b"key_spec_index", a.key_spec_index))
    if a.token is not None:
        pairs.append((b"token", a.token.encode()))
    flags = a.flags()
    if flags:
        pairs.append((b"flags", SetReply([Status(f.encode()) for f in flags])))
    if a.args:
        pairs.append((b"arguments", [_arg_reply(c) for c in a.args]))
    return Map(pairs)


def command_docs(cmd: Command) -> Map:
    pairs: list[tuple[bytes, Any]] = [
        (b"summary", cmd.summary.encode()),
        (b"since", cmd.since.encode()),
        (b"group", cmd.group.encode()),
    ]
    complexity = cmd.complexity or ("Depends on subcommand." if cmd.subcommands else "")
    if complexity:
        pairs.append((b"complexity", complexity.encode()))
    if cmd.args:
        pairs.append((b"arguments", [_arg_reply(a) for a in doc_arguments(cmd)]))
    if cmd.subcommands:
        pairs.append((b"subcommands", Map([(s.name.encode(), command_docs(s)) for s in cmd.subcommands.values()])))
    return Map(pairs)


# ---------------------------------------------------------------------------
# Lookup helpers


def lookup(name: bytes) -> Command | None:
    """A command or "container|sub" by full name (case-insensitive)."""
    name = name.lower()
    if b"|" in name:
        parent, _, sub = name.partition(b"|")
        container = REGISTRY.get(parent)
        return container.subcommands.get(sub) if container is not None else None
    return REGISTRY.get(name)


def lookup_argv(argv: list[bytes]) -> Command | None:
    """The command ``argv`` would run (its subcommand if it has one), or None."""
    cmd = REGISTRY.get(argv[0].lower())
    if cmd is None:
        return None
    if cmd.subcommands and len(argv) >= 2:
        sub = cmd.subcommands.get(argv[1].lower())
        if sub is not None:
            return sub
        if cmd.handler is None:
            return None
    return cmd


def all_commands(with_subcommands: bool) -> list[Command]:
    out = []
    for cmd in REGISTRY.values():
        out.append(cmd)
        if with_subcommands:
            out.extend(cmd.subcommands.values())
    return out


def has_keys(cmd: Command) -> bool:
    """Redis's doesCommandHaveKeys: channels (not_key specs) don't count."""
    return cmd.getkeys is not None or any("not_key" not in s.flags for s in key_specs(cmd))


# ---------------------------------------------------------------------------
# COMMAND and its subcommands

_HELP = [
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
]


def help_reply(lines: list[str]) -> list[Status]:
    """A container's HELP: one status line each, like Redis's addReplyHelp."""
    return [Status(line.encode()) for line in lines]


def subcommand_syntax_error(argv: list[bytes], container: str) -> RedisError:
    """Redis's addReplySubcommandSyntaxError (a subcommand given too many arguments)."""
    return RedisError(
        b"ERR unknown subcommand or wrong number of arguments for '" + argv[1] + b"'. Try "
        + container.upper().encode() + b" HELP."
    )


@command("command", -1, "loading stale", acl="@connection", since="2.8.13", group="server",
         complexity="O(N) where N is the total number of Redis commands",
         summary="Describe every command: arity, flags, key positions, ACL categories, tips and key specs.")
def command_(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) > 1:
        raise errors.unknown_subcommand(argv, "command")
    return [command_info(cmd) for cmd in REGISTRY.values()]


@command("command|count", 2, "loading stale", acl="@connection", since="2.8.13", group="server",
         summary="Number of commands this node knows (subcommands not counted).")
def command_count(ctx: Ctx, argv: list[bytes]) -> Any:
    return len(REGISTRY)


@command("command|info", -2, "loading stale", acl="@connection", since="2.8.13", group="server",
         complexity="O(N) where N is the number of commands to look up",
         summary="Describe the named commands (all of them when none is named); nil for unknown names.",
         args="[command-name [command-name ...]]")
def command_info_(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) == 2:
        return [command_info(cmd) for cmd in REGISTRY.values()]
    out = []
    for name in argv[2:]:
        cmd = lookup(name)
        out.append(None if cmd is None else command_info(cmd))
    return out


@command("command|docs", -2, "loading stale", acl="@connection", since="7.0.0", group="server",
         complexity="O(N) where N is the number of commands to look up",
         summary="Documentation of the named commands (all when none is named): summary, since, group, complexity, arguments.",
         args="[command-name [command-name ...]]")
def command_docs_(ctx: Ctx, argv: list[bytes]) -> Any:
    if len(argv) == 2:
        return Map([(cmd.name.encode(), command_docs(cmd)) for cmd in REGISTRY.values()])
    pairs = []
    for name in argv[2:]:
        cmd = lookup(name)
        if cmd is not None:
            pairs.append((cmd.name.encode(), command_docs(cmd)))
    return Map(pairs)


@command("command|list", -2, "loading stale", acl="@connection", since="7.0.0", group="server",
         complexity="O(N) where N is the total number of Redis commands",
         summary="Names of all commands and subcommands, optionally filtered by module, ACL category or glob pattern.",
         args="[FILTERBY <MODULE module-name | ACLCAT category | PATTERN pattern>]")
def command_list(ctx: Ctx, argv: list[bytes]) -> Any:
    commands = all_commands(with_subcommands=True)
    if len(argv) == 2:
        return [c.name.encode() for c in commands]
    if len(argv) != 5 or argv[2].lower() != b"filterby":
        raise errors.SYNTAX
    kind, value = argv[3].lower(), argv[4]
    if kind == b"module":
        return []  # no modules are loaded
    if kind == b"aclcat":
        cat = value.decode(errors="replace").lower()
        return [c.name.encode() for c in commands if cat in reply_categories(c)]
    if kind == b"pattern":
        return [c.name.encode() for c in commands if glob_match(value, c.name.encode(), nocase=True)]
    raise errors.SYNTAX


def _target(argv: list[bytes]) -> tuple[Command, list[bytes], list[int]]:
    """The command named by GETKEYS' arguments and its key positions."""
    target = argv[2:]
    cmd = lookup_argv(target)
    if cmd is None:
        raise RedisError("ERR Invalid command specified")
    if not has_keys(cmd):
        raise RedisError("ERR The command has no key arguments")
    if (cmd.arity > 0 and cmd.arity != len(target)) or len(target) < -cmd.arity:
        raise RedisError("ERR Invalid number of arguments specified for command")
    try:
        indexes = cmd.key_indexes(target)
    except (RedisError, IndexError, ValueError):
        indexes = []
    if not indexes:
        raise RedisError("ERR Invalid arguments specified for command")
    return cmd, target, indexes


@command("command|getkeys", -4, "loading stale", acl="@connection", since="2.8.13", group="server",
         complexity="O(N) where N is the number of arguments to the command",
         summary="The key names a full command line would access.", args="command [arg [arg ...]]")
def command_getkeys(ctx: Ctx, argv: list[bytes]) -> Any:
    _cmd, target, indexes = _target(argv)
    return [target[i] for i in indexes]


@command("command|getkeysandflags", -4, "loading stale", acl="@connection", since="7.0.0", group="server",
         complexity="O(N) where N is the number of arguments to the command",
         summary="The key names a full command line would access, each with its access flags.",
         args="command [arg [arg ...]]")
def command_getkeysandflags(ctx: Ctx, argv: list[bytes]) -> Any:
    cmd, target, indexes = _target(argv)
    return [[target[i], SetReply([Status(f.encode()) for f in key_flags(cmd, target, i)])] for i in indexes]


@command("command|help", 2, "loading stale", acl="@connection", since="5.0.0", group="server",
         summary="Show the COMMAND subcommands.")
def command_help(ctx: Ctx, argv: list[bytes]) -> Any:
    return help_reply(_HELP)

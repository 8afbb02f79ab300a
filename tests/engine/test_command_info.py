"""COMMAND and its subcommands: Redis 7.0's reply shapes (checked against a real
redis-server), the argument-syntax parser behind COMMAND DOCS (run on every
registered command), and redis-py's cluster key router reading our COMMAND."""

from __future__ import annotations

import dataclasses

import hiredis
import pytest
import redis
from redis._parsers.commands import CommandsParser

from sandbox.engine.commands import REGISTRY, load_all
from sandbox.engine.commands.docs import doc_arguments
from sandbox.engine.commands.keyspecs import key_specs
from sandbox.engine.commands.metadata import FLAG_ORDER, all_commands
from sandbox.engine.commands.syntax import Arg, SyntaxParseError, parse_syntax, render_syntax

from .conftest import Differ
from .rawclient import RawClient
from .servers import Proc

load_all()

# The families this file holds to Redis's metadata exactly.
MINE = {"server", "connection", "pubsub"}
OWN_COMMANDS = [
    c.name for c in all_commands(True)
    if c.name.split("|")[0] in {
        "command", "info", "config", "time", "swapdb", "memory", "slowlog", "shutdown", "lastsave",
        "save", "bgsave", "bgrewriteaof", "debug", "monitor", "flushdb", "flushall", "dbsize",
        "client", "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe",
        "sunsubscribe", "publish", "spublish", "pubsub",
    }
]


def parse(frame: bytes) -> object:
    reader = hiredis.Reader()
    reader.feed(frame)
    return reader.gets()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request: pytest.FixtureRequest, diff: Differ) -> Differ:
    if request.param == 3:
        diff.resp3()
    return diff


def shape(a: Arg) -> tuple:
    return dataclasses.astuple(a)


# ---------------------------------------------------------------------------
# Differential


def test_it_answers_command_errors_and_help_like_redis(d: Differ) -> None:
    d.many("""
        COMMAND HELP
        COMMAND NOSUCH
        COMMAND COUNT extra
        COMMAND HELP extra
        COMMAND GETKEYS
        COMMAND GETKEYS get
        COMMAND GETKEYS nosuch a
        COMMAND GETKEYS ping x
        COMMAND GETKEYS set a
        COMMAND GETKEYS get a b
        COMMAND GETKEYS "config|get" x
        COMMAND GETKEYS config get maxmemory
        COMMAND GETKEYS client list
        COMMAND GETKEYS get k
        COMMAND GETKEYS GET k
        COMMAND GETKEYS set k v EX 10
        COMMAND GETKEYS mset a 1 b 2
        COMMAND GETKEYS mset a 1 b
        COMMAND GETKEYS del a b c
        COMMAND GETKEYS memory usage k
        COMMAND GETKEYSANDFLAGS get
        COMMAND GETKEYSANDFLAGS nosuch a
        COMMAND GETKEYSANDFLAGS ping x
        COMMAND LIST FILTERBY
        COMMAND LIST FILTERBY pattern
        COMMAND LIST FILTERBY nosuch x
        COMMAND LIST extra
        COMMAND LIST FILTERBY MODULE json
        COMMAND LIST FILTERBY ACLCAT nosuchcategory
        COMMAND LIST FILTERBY PATTERN nosuchcommand*
        COMMAND INFO nosuch
        COMMAND DOCS nosuch
    """)


def test_it_describes_its_own_commands_exactly_like_redis(d: Differ) -> None:
    for name in OWN_COMMANDS:
        cmd = REGISTRY[name.split("|")[0].encode()]
        if "|" in name or not cmd.subcommands:
            d("COMMAND", "INFO", name)


def test_it_finds_keys_of_commands_from_other_families_like_redis(diff: Differ) -> None:
    present = [
        ("get", "k"), ("set", "k", "v", "NX"), ("mget", "a", "b"), ("mset", "a", "1", "b", "2"),
        ("del", "a", "b"), ("rename", "a", "b"), ("lmove", "a", "b", "LEFT", "RIGHT"),
        ("zunionstore", "d", "2", "a", "b", "WEIGHTS", "1", "2"),
        ("lmpop", "2", "a", "b", "LEFT"), ("sintercard", "2", "a", "b", "LIMIT", "1"),
        ("zinter", "2", "a", "b"), ("bitop", "AND", "d", "a", "b"), ("sort", "k", "STORE", "d"),
        ("ssubscribe", "a", "b"), ("spublish", "a", "m"), ("subscribe", "a"), ("watch", "a", "b"),
    ]
    for args in present:
        if args[0].encode() in REGISTRY:
            diff("COMMAND", "GETKEYS", *args)


def test_it_lists_and_counts_the_registry(raw: RawClient) -> None:
    names = parse(raw.call("COMMAND", "LIST"))
    assert len(names) == len(set(names)) == sum(1 + len(c.subcommands) for c in REGISTRY.values())
    assert b"client|list" in names and b"get" in names
    assert parse(raw.call("COMMAND", "COUNT")) == len(REGISTRY) == len(parse(raw.call("COMMAND")))
    pubsub = parse(raw.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "PUBSUB"))
    assert {b"subscribe", b"publish", b"pubsub|numsub"} <= set(pubsub) and b"get" not in pubsub
    cl = parse(raw.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "CL*"))
    assert b"client" in cl and b"client|kill" in cl and all(n.startswith(b"cl") for n in cl)
    assert parse(raw.call("COMMAND", "INFO")) == parse(raw.call("COMMAND"))


def test_command_info_has_redis_7_shape_in_both_protocols(raw: RawClient) -> None:
    for proto in (2, 3):
        raw.call("HELLO", str(proto))
        reply = raw.call("COMMAND", "INFO", "get", "nosuch", "client", "config|get")
        got = parse(reply)
        assert got[1] is None
        get = got[0]
        assert get[:7] == [b"get", 2, [b"readonly", b"fast"], 1, 1, 1, [b"@read", b"@string", b"@fast"]]
        assert get[7] == [] and get[9] == []
        spec = get[8][0]
        if proto == 2:
            spec = dict(zip(spec[::2], spec[1::2]))
        assert spec[b"flags"] == [b"RO", b"access"]
        client = got[2]
        assert client[2] == [] and client[6] == [b"@slow"]
        assert {sub[0] for sub in client[9]} >= {b"client|list", b"client|kill", b"client|id"}
        assert got[3][0] == b"config|get"
        if proto == 3:
            assert reply.startswith(b"*4\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n")


def test_command_docs_are_maps_with_parsed_arguments(raw: RawClient) -> None:
    for proto in (2, 3):
        raw.call("HELLO", str(proto))
        got = parse(raw.call("COMMAND", "DOCS", "set", "nosuch", "config"))
        if proto == 2:
            got = dict(zip(got[::2], got[1::2]))
            docs = dict(zip(got[b"set"][::2], got[b"set"][1::2]))
        else:
            docs = got[b"set"]
        assert set(got) == {b"set", b"config"}
        assert docs[b"group"] == b"string" and docs[b"since"] == b"1.0.0" and docs[b"summary"]
        args = docs[b"arguments"]
        first = args[0] if proto == 3 else dict(zip(args[0][::2], args[0][1::2]))
        assert first == {b"name": b"key", b"type": b"key", b"key_spec_index": 0}
    everything = parse(raw.call("COMMAND", "DOCS"))
    assert len(everything) == len(REGISTRY)


def test_every_registered_command_is_described(raw: RawClient) -> None:
    """COMMAND DOCS parses every family's syntax; every command has a summary."""
    missing = [c.name for c in all_commands(True) if not c.summary]
    assert not missing, f"commands without a summary: {missing}"
    for cmd in all_commands(True):
        args = doc_arguments(cmd)
        again = parse_syntax(render_syntax(args, annotate=True), cmd.name)
        strip = [dataclasses.replace(a) for a in args]
        for a in strip:
            _clear_specs(a)
        assert [shape(a) for a in again] == [shape(a) for a in strip], cmd.name
        for a in args:
            _check_well_formed(cmd.name, a, top=True)
        specs = key_specs(cmd)
        if cmd.first_key > 0 or cmd.getkeys is not None:
            assert specs, cmd.name
    docs = parse(raw.call("COMMAND", "DOCS"))
    for name, body in zip(docs[::2], docs[1::2]):
        fields = dict(zip(body[::2], body[1::2]))
        assert fields[b"summary"], name


def _clear_specs(a: Arg) -> None:
    a.key_spec_index = -1
    for c in a.args:
        _clear_specs(c)


def _check_well_formed(name: str, a: Arg, top: bool) -> None:
    assert a.name and a.type in ("string", "integer", "double", "key", "pattern", "unix-time",
                                 "pure-token", "oneof", "block"), (name, a)
    if a.type in ("oneof", "block"):
        assert len(a.args) >= (2 if a.type == "oneof" else 1), (name, a)
    else:
        assert not a.args, (name, a)
    if a.type == "pure-token":
        assert a.token and not any(ch.islower() for ch in a.token), (name, a)
    if a.multiple_token:
        assert a.multiple, (name, a)
    for c in a.args:
        _check_well_formed(name, c, top=False)


def test_its_own_flags_are_real_redis_flags() -> None:
    from sandbox.engine.commands.metadata import reply_flags

    for cmd in all_commands(True):
        for flag in reply_flags(cmd):
            assert flag in FLAG_ORDER


# ---------------------------------------------------------------------------
# The syntax parser against Redis's own COMMAND DOCS


def _norm_redis(args: list) -> list:
    out = []
    for a in args or []:
        a = dict(zip(a[::2], a[1::2])) if isinstance(a, list) else a
        t = a[b"type"].decode()
        item = [t, a.get(b"token"), sorted(a.get(b"flags", []))]
        item.append(_norm_redis(a.get(b"arguments")) if t in ("oneof", "block") else a[b"name"].decode())
        out.append(item)
    return out


def _norm_ours(args: list[Arg]) -> list:
    out = []
    for a in args:
        token = a.token.encode() if a.token and a.type != "pure-token" or a.type == "pure-token" else None
        item = [a.type, token, sorted(f.encode() for f in a.flags())]
        item.append(_norm_ours(a.args) if a.type in ("oneof", "block") else a.name)
        out.append(item)
    return out


SYNTAXES = {
    "set": "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | "
           "PXAT unix-time-milliseconds | KEEPTTL]",
    "zunionstore": "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>]",
    "zinterstore": "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]",
    "hset": "key field value [field value ...]",
    "getex": "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]",
    "lpos": "key element [RANK rank] [COUNT num-matches] [MAXLEN len]",
    "scan": "cursor [MATCH pattern] [COUNT count] [TYPE type]",
    "blpop": "key [key ...] timeout",
    "lmove": "source destination LEFT|RIGHT LEFT|RIGHT",
    "zmpop": "numkeys key [key ...] MIN | MAX [COUNT count]",
    "expire": "key seconds [NX | XX | GT | LT]",
    "copy": "source destination [DB destination-db] [REPLACE]",
    "migrate": None,
    "shutdown": "[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]",
    "client|pause": "timeout:integer [WRITE | ALL]",
    "client|no-evict": "ON|OFF",
    "command|list": "[FILTERBY <MODULE module-name | ACLCAT category | PATTERN pattern>]",
    "slowlog|get": "[count]",
    "memory|usage": "key [SAMPLES count]",
    "subscribe": "channel [channel ...]",
    "pubsub|numsub": "[channel [channel ...]]",
    "bitfield_ro": "key [GET encoding offset ...]",
}


@pytest.mark.parametrize("name", [n for n, s in SYNTAXES.items() if s])
def test_the_parser_reads_syntax_as_redis_documents_it(name: str, redis_proc: Proc) -> None:
    with RawClient(redis_proc.port) as ref:
        docs = parse(ref.call("COMMAND", "DOCS", name))
    fields = dict(zip(docs[1][::2], docs[1][1::2]))
    ours = _norm_ours(parse_syntax(SYNTAXES[name], name))
    theirs = _norm_redis(fields[b"arguments"])
    # Redis names its pure tokens freely (ALPHA is "sorting"); compare the tokens instead.
    assert _drop_token_names(ours) == _drop_token_names(theirs)


def _drop_token_names(args: list) -> list:
    out = []
    for t, token, flags, rest in args:
        if isinstance(token, str):
            token = token.encode()
        out.append([t, token, flags, _drop_token_names(rest) if isinstance(rest, list) else
                    (None if t == "pure-token" else rest)])
    return out


def test_the_parser_handles_groups_repetitions_and_tokens() -> None:
    args = parse_syntax("key [GET pattern [GET pattern ...]] [LIMIT offset count] [field value ...] name:double")
    assert [(a.name, a.type, a.token, a.flags()) for a in args] == [
        ("key", "key", None, []),
        ("pattern", "pattern", "GET", ["optional", "multiple", "multiple_token"]),
        ("offset_count", "block", "LIMIT", ["optional"]),
        ("field_value", "block", None, ["optional", "multiple"]),
        ("name", "double", None, []),
    ]
    bitop = parse_syntax("AND | OR | XOR | NOT destkey key [key ...]")
    assert [a.type for a in bitop] == ["oneof", "key", "key"] and len(bitop[0].args) == 4
    assert render_syntax(parse_syntax("numkeys key [key ...] LEFT|RIGHT [COUNT count]")) == \
        "numkeys key [key ...] <LEFT | RIGHT> [COUNT count]"
    assert render_syntax(parse_syntax("key...")) == "key [key ...]"
    assert parse_syntax("") == []


@pytest.mark.parametrize("bad", ["[key", "key]", "a | | b", "[]", "...", "a |", "<a | b"])
def test_the_parser_rejects_malformed_syntax(bad: str) -> None:
    with pytest.raises(SyntaxParseError):
        parse_syntax(bad)


# ---------------------------------------------------------------------------
# Clients reading COMMAND


def test_redis_py_reads_command_and_routes_keys_with_it(engine_proc: Proc) -> None:
    r = redis.Redis(port=engine_proc.port)
    try:
        info = r.command()
        assert info["get"]["first_key_pos"] == 1 and "readonly" in info["get"]["flags"]
        parser = CommandsParser(r)
        assert parser.get_keys(r, "SET", "k", "v") == ["k"]
        assert parser.get_keys(r, "MSET", "a", "1", "b", "2") == ["a", "b"]
        assert parser.get_keys(r, "DEL", "a", "b") == ["a", "b"]
        assert parser.get_keys(r, "CONFIG", "GET", "x") is None
        assert parser.get_keys(r, "MEMORY USAGE", "k") == ["k"]
        assert parser.get_keys(r, "PUBLISH", "ch", "m") == ["ch"]
        assert parser.get_keys(r, "PUBSUB", "NUMSUB", "a", "b") == ["a", "b"]
        if b"zunionstore" in REGISTRY:
            assert _text(parser.get_keys(r, "ZUNIONSTORE", "d", "2", "a", "b")) == ["d", "a", "b"]
        if b"lmpop" in REGISTRY:
            assert _text(parser.get_keys(r, "LMPOP", "2", "a", "b", "LEFT")) == ["a", "b"]
        policies = parser.get_command_policies()
        assert policies["core"]["dbsize"].request_policy.value == "all_shards"
        assert r.command_count() == len(REGISTRY)
        assert _text(r.command_getkeys("SET", "k", "v")) == ["k"]
        assert _text(r.command_list(pattern="clie*"))[0] == "client"
    finally:
        r.close()


def _text(keys: list) -> list[str]:
    return [k.decode() if isinstance(k, bytes) else k for k in keys]


def test_every_registered_command_has_redis_metadata(redis_proc: Proc, engine_proc: Proc) -> None:
    """Every command Redis 7.0 also has carries its name, arity, flags, key positions,
    ACL categories and tips exactly as Redis reports them in COMMAND INFO."""
    names = [c.name for c in all_commands(True)]
    with RawClient(redis_proc.port) as ref, RawClient(engine_proc.port) as eng:
        theirs = parse(ref.call("COMMAND", "INFO", *names))
        ours = parse(eng.call("COMMAND", "INFO", *names))
    diffs = []
    for name, a, b in zip(names, theirs, ours):
        if a is None:
            continue
        for i, field in enumerate(("name", "arity", "flags", "first", "last", "step", "acl", "tips")):
            x, y = (sorted(a[i]), sorted(b[i])) if i in (2, 6, 7) else (a[i], b[i])
            if x != y:
                diffs.append(f"{name} {field}: redis={x} engine={y}")
    assert diffs == []

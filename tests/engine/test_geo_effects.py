"""What geo writes hand to the log, and how the geo commands describe their keys.

Redis 7.0 propagates GEOADD as the ZADD it amounts to (computed scores, the same
NX/XX/CH) and the STORE forms as typed, only when they changed something; the
engine does the same, and replaying the log rebuilds identical sorted sets
(scores, encoding). COMMAND INFO, GETKEYS, GETKEYSANDFLAGS and the DOCS argument
trees of the geo commands are compared with redis-server.
"""

from __future__ import annotations

import hiredis
import pytest

from sandbox.engine import geo

from .conftest import Differ
from .effects import EffectNode
from .rawclient import RawClient
from .servers import Proc
from .test_command_info import _drop_token_names, _norm_ours, _norm_redis
from .test_zsets_effects import assert_replays

GEO_COMMANDS = ("geoadd", "geopos", "geodist", "geohash", "geosearch", "geosearchstore", "georadius",
                "georadius_ro", "georadiusbymember", "georadiusbymember_ro")


def b(*args: object) -> list[bytes]:
    return [a if isinstance(a, bytes) else str(a).encode() for a in args]


def test_geoadd_logs_the_zadd_it_amounts_to() -> None:
    node = EffectNode()
    node.run("GEOADD", "g", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania")
    palermo, catania = geo.score_of(13.361389, 38.115556), geo.score_of(15.087269, 37.502669)
    assert palermo == 3479099956230698 and catania == 3479447370796909  # Redis's own scores
    assert node.effects() == [b("ZADD", "g", palermo, "Palermo", catania, "Catania")]
    assert node.run("GEOADD", "g", "CH", "XX", "13.5", "38.1", "Palermo", "1", "2", "new") == 1
    assert node.effects() == [b("ZADD", "g", "CH", "XX", geo.score_of(13.5, 38.1), "Palermo", geo.score_of(1, 2), "new")]
    assert node.run("GEOADD", "g", "NX", "13.5", "38.1", "Palermo") == 0
    assert node.effects() == []  # nothing changed, nothing logged
    node.run("GEOADD", "g", "500", "1", "bad")
    assert node.effects() == []


def test_store_forms_log_themselves_only_when_they_change_something() -> None:
    node = EffectNode()
    node.run("GEOADD", "g", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania")
    node.effects()
    reads = [
        ("GEORADIUS", "g", 15, 37, 200, "km"),
        ("GEOSEARCH", "g", "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km"),
        ("GEOSEARCHSTORE", "none", "g", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km"),
        ("GEORADIUS", "g", 15, 37, 1, "km", "STORE", "none"),
    ]
    for args in reads:
        node.run(*args)
        assert node.effects() == [], args
    writes = [
        ("GEOSEARCHSTORE", "d1", "g", "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km"),
        ("GEOSEARCHSTORE", "d2", "g", "FROMMEMBER", "Palermo", "BYBOX", 400, 400, "km", "STOREDIST", "COUNT", 1),
        ("GEORADIUS", "g", 15, 37, 200, "km", "STORE", "d3"),
        ("GEORADIUSBYMEMBER", "g", "Palermo", 300, "mi", "STOREDIST", "d4", "DESC"),
        ("GEORADIUS", "g", 15, 37, 1, "km", "STORE", "d1"),  # empty result: deletes d1
    ]
    for args in writes:
        node.run(*args)
        assert node.effects() == [b(*args)], args
    assert node.run("EXISTS", "d1") == 0 and node.run("ZCARD", "d2") == 1


def test_replaying_geo_writes_rebuilds_the_same_sets() -> None:
    node = EffectNode()
    cloud = [x for i in range(150) for x in (f"{-179.5 + i * 0.01}", f"{84 - i * 0.02}", f"m{i}")]
    node.run("GEOADD", "big", *cloud)
    node.run("GEOADD", "g", "0", "0", "zero", "180", "85.05112878", "corner", "13.4", "38.1", "p")
    node.run("GEOADD", "g", "XX", "CH", "1", "1", "zero", "2", "2", "absent")
    node.run("GEOSEARCHSTORE", "near", "big", "FROMLONLAT", "-179", "83", "BYRADIUS", "200", "km", "STOREDIST")
    node.run("GEOSEARCHSTORE", "all", "big", "FROMMEMBER", "m0", "BYBOX", "900", "900", "km")
    node.run("GEORADIUS", "g", "0", "0", "20000", "km", "STORE", "copy", "COUNT", "2")
    node.run("GEORADIUSBYMEMBER", "big", "m3", "10", "km", "STOREDIST", "small")
    node.run("ZREM", "g", "p")
    assert node.run("ZCARD", "all") > 128  # a skiplist: the replica must agree on that too
    assert_replays(node)


# ---------------------------------------------------------------------------
# Key specs and documentation


def test_geo_commands_describe_themselves_like_redis(diff: Differ) -> None:
    for proto in (2, 3):
        if proto == 3:
            diff.resp3()
        for name in GEO_COMMANDS:
            diff("COMMAND", "INFO", name)


@pytest.mark.parametrize("args", [
    ("georadius", "k", "0", "0", "10", "km"),
    ("georadius", "k", "0", "0", "10", "km", "STORE", "a"),
    ("georadius", "k", "0", "0", "10", "km", "STORE"),
    ("georadius", "k", "0", "0", "10", "km", "STORE", "a", "STOREDIST", "b"),
    ("georadius", "k", "0", "0", "10", "km", "storedist", "a", "store", "b", "STORE", "c"),
    ("georadius", "k", "0", "0", "10", "km", "COUNT", "3", "STORE", "a", "WITHDIST"),
    ("georadiusbymember", "k", "store", "10", "km", "STOREDIST", "x"),
    ("georadiusbymember", "k", "m", "10", "km"),
    ("georadius_ro", "k", "0", "0", "10", "km"),
    ("geosearchstore", "d", "s", "FROMMEMBER", "m", "BYRADIUS", "1", "km"),
    ("geosearch", "k", "FROMMEMBER", "m", "BYRADIUS", "1", "km"),
    ("geoadd", "k", "1", "2", "m"),
    ("geodist", "k", "a", "b"),
])
def test_geo_keys_are_found_like_redis(diff: Differ, args: tuple[str, ...]) -> None:
    diff("COMMAND", "GETKEYS", *args)
    diff("COMMAND", "GETKEYSANDFLAGS", *args)


def _parse(frame: bytes) -> object:
    reader = hiredis.Reader()
    reader.feed(frame)
    return reader.gets()


@pytest.mark.parametrize("name", GEO_COMMANDS)
def test_geo_argument_trees_match_redis_docs(name: str, redis_proc: Proc, engine_proc: Proc) -> None:
    with RawClient(redis_proc.port) as ref, RawClient(engine_proc.port) as eng:
        theirs = _parse(ref.call("COMMAND", "DOCS", name))
        ours = _parse(eng.call("COMMAND", "DOCS", name))
    redis_fields = dict(zip(theirs[1][::2], theirs[1][1::2]))
    our_fields = dict(zip(ours[1][::2], ours[1][1::2]))
    assert our_fields[b"group"] == redis_fields[b"group"] == b"geo"
    assert our_fields[b"since"] == redis_fields[b"since"]
    assert our_fields[b"complexity"] == redis_fields[b"complexity"]
    from sandbox.engine.commands import REGISTRY
    from sandbox.engine.commands.syntax import parse_syntax

    mine = [_hoist_first_token(a) for a in _norm_ours(parse_syntax(REGISTRY[name.encode()].args, name))]
    theirs = [_hoist_first_token(a) for a in _norm_redis(redis_fields[b"arguments"])]
    assert _drop_token_names(mine) == _drop_token_names(theirs)
    assert _key_spec_indexes(our_fields[b"arguments"]) == _key_spec_indexes(redis_fields[b"arguments"])


def _key_spec_indexes(args: list) -> list:
    """(name, key_spec_index) of every key argument, depth first."""
    out = []
    for a in args or []:
        fields = dict(zip(a[::2], a[1::2]))
        if fields[b"type"] == b"key":
            out.append((fields[b"name"], fields.get(b"key_spec_index")))
        out += _key_spec_indexes(fields.get(b"arguments"))
    return out


def _hoist_first_token(arg: list) -> list:
    """Redis tokens GEOSEARCH's BYRADIUS/BYBOX blocks on their first argument
    (``radius`` carries BYRADIUS); the syntax strings can only write a token on the
    block itself, which reads the same. Move such tokens up on both sides before comparing."""
    kind, token, flags, rest = arg
    if not isinstance(rest, list):
        return arg
    rest = [_hoist_first_token(a) for a in rest]
    if kind == "block" and token is None and rest and rest[0][0] != "pure-token" and rest[0][1] is not None:
        token = rest[0][1]
        rest = [[rest[0][0], None, rest[0][2], rest[0][3]], *rest[1:]]
    return [kind, token, flags, rest]

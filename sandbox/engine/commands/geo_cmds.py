"""Geo commands: GEOADD, GEOPOS, GEODIST, GEOHASH, GEOSEARCH, GEOSEARCHSTORE and the
older GEORADIUS, GEORADIUS_RO, GEORADIUSBYMEMBER, GEORADIUSBYMEMBER_RO.

A geo index is an ordinary sorted set (``datatypes.ZSet``) whose scores are 52-bit
geohashes; the arithmetic (encoding, cells, distances, ordering) is ``geo.py``'s.
This module parses arguments in Redis 7.0's order (``georadiusGeneric``: WRONGTYPE,
then the centre and radius of the GEORADIUS forms, then the options left to right,
then the checks between options), scans the set and shapes the replies.

Replies: a coordinate prints like Redis's human long double (a bulk string in
RESP2, a RESP3 double); a distance with four decimals, always a bulk string; a
hash as an integer.

Effects: GEOADD becomes the ZADD it amounts to (its computed scores, its NX/XX/CH
options), as Redis 7.0 propagates it; the STORE forms propagate as their own argv
(deterministic on the same data; Redis sends them as typed too) and only when they
changed something.
"""

from __future__ import annotations

from typing import Any

from .. import errors, geo
from ..context import Ctx
from ..datatypes import ZSet
from ..resp import NULL_ARRAY, Raw
from . import command
from .util import keyword, parse_float, parse_int, store_or_delete
from .zsets import zadd

GEO = dict(acl="@geo", group="geo")
_UNIT_ARGS = "M | KM | FT | MI"
_RESULT_OPTS = "[WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]"


# -- arguments ---------------------------------------------------------------------------------


def _lonlat(lon_arg: bytes, lat_arg: bytes) -> tuple[float, float]:
    lon, lat = parse_float(lon_arg), parse_float(lat_arg)
    if not geo.valid_lonlat(lon, lat):
        raise errors.geo_invalid_lonlat(lon, lat)
    return lon, lat


def _unit(arg: bytes) -> float:
    to_metres = geo.UNITS.get(keyword(arg))
    if to_metres is None:
        raise errors.GEO_BAD_UNIT
    return to_metres


def _radius(value: bytes, unit: bytes) -> tuple[float, float]:
    """(radius, metres per unit) of ``radius unit``."""
    radius = parse_float(value, errors.GEO_NEED_RADIUS)
    if radius < 0:
        raise errors.GEO_RADIUS_NEGATIVE
    return radius, _unit(unit)


def _member_point(zs: ZSet, member: bytes) -> tuple[float, float]:
    score = zs.scores.get(member)
    if score is None:
        raise errors.GEO_NO_MEMBER
    return geo.point_of(score)


def _coordinates(ctx: Ctx, lon: float, lat: float) -> list:
    if ctx.client.proto == 2:
        return [geo.human_coordinate(lon), geo.human_coordinate(lat)]
    return [Raw(b",%b\r\n" % geo.human_coordinate(lon)), Raw(b",%b\r\n" % geo.human_coordinate(lat))]


# -- GEOADD and the per-member reads -------------------------------------------------------------


@command("geoadd", -5, "write denyoom", keys=(1, 1, 1), since="3.2.0", **GEO,
         complexity="O(log(N)) for each item added, where N is the number of elements in the sorted set.",
         summary="Add members at (longitude, latitude) to a geo index (a sorted set); NX/XX/CH as in ZADD.",
         args="key [NX | XX] [CH] longitude:double latitude:double member [longitude:double latitude:double member ...]")
def geoadd(ctx: Ctx, argv: list[bytes]) -> Any:
    i, n = 2, len(argv)
    nx = xx = False
    while i < n:
        opt = argv[i].lower()
        if opt == b"nx":
            nx = True
        elif opt == b"xx":
            xx = True
        elif opt != b"ch":
            break
        i += 1
    if (n - i) % 3 or (nx and xx):
        raise errors.SYNTAX
    zargv = [b"ZADD", *argv[1:i]]
    for j in range(i, n, 3):
        lon, lat = _lonlat(argv[j], argv[j + 1])
        zargv += [b"%d" % geo.score_of(lon, lat), argv[j + 2]]
    before = ctx.dirty
    reply = zadd(ctx, zargv)
    if ctx.dirty != before:
        ctx.propagate(zargv)
    return reply


@command("geopos", -2, "readonly", keys=(1, 1, 1), since="3.2.0", **GEO,
         complexity="O(N) where N is the number of members requested.",
         summary="The (longitude, latitude) of members, as the centres of their cells; nil for missing ones.",
         args="key member [member ...]")
def geopos(ctx: Ctx, argv: list[bytes]) -> Any:
    zs = ctx.lookup_typed(argv[1], ZSet)
    scores = {} if zs is None else zs.scores
    out: list = []
    for member in argv[2:]:
        score = scores.get(member)
        out.append(NULL_ARRAY if score is None else _coordinates(ctx, *geo.point_of(score)))
    return out


@command("geodist", -4, "readonly", keys=(1, 1, 1), since="3.2.0", **GEO,
         complexity="O(log(N))",
         summary="The distance between two members, in M (default), KM, FT or MI; nil if one is missing.",
         args="key member1:string member2:string [M | KM | FT | MI]")
def geodist(ctx: Ctx, argv: list[bytes]) -> Any:
    to_metres = 1.0
    if len(argv) == 5:
        to_metres = _unit(argv[4])
    elif len(argv) > 5:
        raise errors.SYNTAX
    zs = ctx.lookup_typed(argv[1], ZSet)
    if zs is None:
        return None
    s1, s2 = zs.scores.get(argv[2]), zs.scores.get(argv[3])
    if s1 is None or s2 is None:
        return None
    (lon1, lat1), (lon2, lat2) = geo.point_of(s1), geo.point_of(s2)
    return geo.format_distance(geo.distance(lon1, lat1, lon2, lat2) / to_metres)


@command("geohash", -2, "readonly", keys=(1, 1, 1), since="3.2.0", **GEO,
         complexity="O(log(N)) for each member requested, where N is the number of elements in the sorted set.",
         summary="Members' positions as standard 11-character geohash strings; nil for missing ones.",
         args="key member [member ...]")
def geohash(ctx: Ctx, argv: list[bytes]) -> Any:
    zs = ctx.lookup_typed(argv[1], ZSet)
    scores = {} if zs is None else zs.scores
    out: list = []
    for member in argv[2:]:
        score = scores.get(member)
        out.append(None if score is None else geo.geohash_string(score))
    return out


# -- searches ---------------------------------------------------------------------------------

# How a search names its centre and shape (Redis's RADIUS_COORDS, RADIUS_MEMBER, GEOSEARCH).
_COORDS, _MEMBER, _SEARCH = 0, 1, 2


def _search(ctx: Ctx, argv: list[bytes], kind: int, store_allowed: bool = False, search_store: bool = False) -> Any:
    """``georadiusGeneric``: every GEORADIUS* and GEOSEARCH* form."""
    src = 2 if search_store else 1
    zs = ctx.lookup_typed(argv[src], ZSet)
    lon = lat = radius = width = height = 0.0
    conversion = 1.0
    store_key: bytes | None = argv[1] if search_store else None
    store_dist = False
    if kind == _COORDS:
        base = 6
        lon, lat = _lonlat(argv[2], argv[3])
        radius, conversion = _radius(argv[4], argv[5])
    elif kind == _MEMBER:
        base = 5
        if zs is not None:  # without a set, only the options are checked
            lon, lat = _member_point(zs, argv[2])
            radius, conversion = _radius(argv[3], argv[4])
    else:
        base = 3 if search_store else 2

    withdist = withhash = withcoord = any_ = False
    from_member = from_lonlat = by_radius = by_box = False
    order = 0  # 0 none, 1 ascending, -1 descending
    count = 0
    n = len(argv)
    i = base
    while i < n:
        opt = keyword(argv[i])
        left = n - i - 1  # arguments after this one
        if opt == b"withdist":
            withdist = True
        elif opt == b"withhash":
            withhash = True
        elif opt == b"withcoord":
            withcoord = True
        elif opt == b"any":
            any_ = True
        elif opt == b"asc":
            order = 1
        elif opt == b"desc":
            order = -1
        elif opt == b"count" and left >= 1:
            count = parse_int(argv[i + 1])
            if count <= 0:
                raise errors.GEO_COUNT_POSITIVE
            i += 1
        elif opt in (b"store", b"storedist") and left >= 1 and store_allowed:
            store_key = argv[i + 1]
            store_dist = opt == b"storedist"
            i += 1
        elif opt == b"storedist" and search_store:
            store_dist = True
        elif opt == b"frommember" and left >= 1 and kind == _SEARCH and not from_lonlat:
            if zs is not None:
                lon, lat = _member_point(zs, argv[i + 1])
            from_member = True
            i += 1
        elif opt == b"fromlonlat" and left >= 2 and kind == _SEARCH and not from_member:
            lon, lat = _lonlat(argv[i + 1], argv[i + 2])
            from_lonlat = True
            i += 2
        elif opt == b"byradius" and left >= 2 and kind == _SEARCH and not by_box:
            radius, conversion = _radius(argv[i + 1], argv[i + 2])
            by_radius = True
            i += 2
        elif opt == b"bybox" and left >= 3 and kind == _SEARCH and not by_radius:
            width = parse_float(argv[i + 1], errors.GEO_NEED_WIDTH)
            height = parse_float(argv[i + 2], errors.GEO_NEED_HEIGHT)
            if height < 0 or width < 0:
                raise errors.GEO_BOX_NEGATIVE
            conversion = _unit(argv[i + 3])
            by_box = True
            i += 3
        else:
            raise errors.SYNTAX
        i += 1

    if store_key is not None and (withdist or withhash or withcoord):
        raise errors.geo_store_with_options("GEOSEARCHSTORE" if search_store else "STORE option in GEORADIUS")
    if kind == _SEARCH and not (from_member or from_lonlat):
        raise errors.geo_exactly_one("FROMMEMBER or FROMLONLAT", argv[0])
    if kind == _SEARCH and not (by_radius or by_box):
        raise errors.geo_exactly_one("BYRADIUS and BYBOX", argv[0])
    if any_ and not count:
        raise errors.GEO_ANY_NEEDS_COUNT

    if zs is None:
        if store_key is not None:
            ctx.delete(store_key)
            return 0
        return []
    if count and not order and not any_:
        order = 1  # the nearest N need a sort
    shape = geo.Shape(lon, lat, conversion, radius, width, height, by_box)
    points = _scan(zs, shape, count if any_ else 0)
    if not points and store_key is None:
        return []
    returned = len(points) if count == 0 or len(points) < count else count
    if order:
        geo.sort_by_distance(points, order < 0, returned)
    points = points[:returned]

    if store_key is not None:
        stored = {member: (dist / conversion if store_dist else score) for dist, _x, _y, score, member in points}
        result = ZSet.from_scores(stored)
        result.convert_to_listpack_if_small()
        return store_or_delete(ctx, store_key, result)
    if not (withdist or withhash or withcoord):
        return [member for *_rest, member in points]
    out: list = []
    for dist, plon, plat, score, member in points:
        item: list = [member]
        if withdist:
            item.append(geo.format_distance(dist / conversion))
        if withhash:
            item.append(geo.c_long_long(score))
        if withcoord:
            item.append(_coordinates(ctx, plon, plat))
        out.append(item)
    return out


def _scan(zs: ZSet, shape: geo.Shape, limit: int) -> list[tuple[float, float, float, float, bytes]]:
    """Members inside ``shape``, as (metres, lon, lat, score, member), in the order
    Redis finds them: cell by cell, by score within a cell; with ``limit`` (ANY), the
    first ``limit`` found."""
    found: list[tuple[float, float, float, float, bytes]] = []
    point_of, contains = geo.point_of, shape.contains
    for lo, hi in geo.score_ranges(shape):
        if found and limit and len(found) >= limit:
            break
        for score, member in zs.ordered.irange((lo,), (hi,), inclusive=(True, False)):
            lon, lat = point_of(score)
            dist = contains(lon, lat)
            if dist is not None:
                found.append((dist, lon, lat, score, member))
            if found and limit and len(found) >= limit:
                break
    return found


def _store_keys(start: int) -> Any:
    """GEORADIUS's keys (COMMAND GETKEYS, cluster routing, ACL): the source, then
    the key after the first STORE and after the first STOREDIST from ``start`` on,
    as Redis 7.0's keyword key specs find them."""

    def getkeys(argv: list[bytes]) -> list[int]:
        keys = [1] if len(argv) > 1 else []
        for word in (b"store", b"storedist"):
            for i in range(start, len(argv) - 1):
                if keyword(argv[i]) == word:
                    keys.append(i + 1)
                    break
        return keys

    return getkeys


_CPLX_RADIUS = ("O(N+log(M)) where N is the number of elements inside the bounding box of the circular "
                "area delimited by center and radius and M is the number of items inside the index.")
_CPLX_SEARCH = ("O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around "
                "the shape provided as the filter and M is the number of items inside the shape")
_FROM_BY = (f"<FROMMEMBER member | FROMLONLAT longitude:double latitude:double> "
            f"<BYRADIUS radius:double <{_UNIT_ARGS}> | BYBOX width:double height:double <{_UNIT_ARGS}>>")
_RADIUS_ARGS = f"radius:double {_UNIT_ARGS} {_RESULT_OPTS}"


@command("georadius", -6, "write denyoom", keys=(1, 1, 1), getkeys=_store_keys(6), since="3.2.0", **GEO,
         complexity=_CPLX_RADIUS,
         summary="Members within a radius of a point (deprecated: GEOSEARCH); STORE/STOREDIST save them.",
         args=f"key longitude:double latitude:double {_RADIUS_ARGS} [STORE key] [STOREDIST key]",
         key_flags=("RO access", "OW update", "OW update"), key_keywords=(("STORE", 6), ("STOREDIST", 6)))
def georadius(ctx: Ctx, argv: list[bytes]) -> Any:
    return _search(ctx, argv, _COORDS, store_allowed=True)


@command("georadius_ro", -6, "readonly", keys=(1, 1, 1), since="3.2.10", **GEO,
         complexity=_CPLX_RADIUS,
         summary="Members within a radius of a point, read-only (deprecated: GEOSEARCH).",
         args=f"key longitude:double latitude:double {_RADIUS_ARGS}")
def georadius_ro(ctx: Ctx, argv: list[bytes]) -> Any:
    return _search(ctx, argv, _COORDS)


@command("georadiusbymember", -5, "write denyoom", keys=(1, 1, 1), getkeys=_store_keys(5), since="3.2.0", **GEO,
         complexity=_CPLX_RADIUS,
         summary="Members within a radius of a member (deprecated: GEOSEARCH); STORE/STOREDIST save them.",
         args=f"key member:string {_RADIUS_ARGS} [STORE key] [STOREDIST key]",
         key_flags=("RO access", "OW update", "OW update"), key_keywords=(("STORE", 5), ("STOREDIST", 5)))
def georadiusbymember(ctx: Ctx, argv: list[bytes]) -> Any:
    return _search(ctx, argv, _MEMBER, store_allowed=True)


@command("georadiusbymember_ro", -5, "readonly", keys=(1, 1, 1), since="3.2.10", **GEO,
         complexity=_CPLX_RADIUS,
         summary="Members within a radius of a member, read-only (deprecated: GEOSEARCH).",
         args=f"key member:string {_RADIUS_ARGS}")
def georadiusbymember_ro(ctx: Ctx, argv: list[bytes]) -> Any:
    return _search(ctx, argv, _MEMBER)


@command("geosearch", -7, "readonly", keys=(1, 1, 1), since="6.2.0", **GEO,
         complexity=_CPLX_SEARCH,
         summary="Members inside a circle or a box around a member or a point, optionally sorted and limited.",
         args=f"key {_FROM_BY} [ASC | DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]")
def geosearch(ctx: Ctx, argv: list[bytes]) -> Any:
    return _search(ctx, argv, _SEARCH)


@command("geosearchstore", -8, "write denyoom", keys=(1, 2, 1), since="6.2.0", **GEO,
         complexity=_CPLX_SEARCH,
         summary="Store a GEOSEARCH result in a key (scores: geohashes, or distances with STOREDIST); returns its size.",
         args=f"destination source {_FROM_BY} [ASC | DESC] [COUNT count [ANY]] [STOREDIST]",
         key_flags=("OW update", "RO access"))
def geosearchstore(ctx: Ctx, argv: list[bytes]) -> Any:
    return _search(ctx, argv, _SEARCH, search_store=True)

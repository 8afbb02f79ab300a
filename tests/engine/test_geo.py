"""Geo commands against a real redis-server 7.0, byte for byte, in RESP2 and RESP3:
GEOADD (NX/XX/CH), GEOPOS, GEODIST, GEOHASH, GEOSEARCH, GEOSEARCHSTORE, GEORADIUS*,
their errors, and the awkward places (poles, the antimeridian, huge and zero radii,
boxes, equal distances cut by COUNT). Random searches are in test_geo_random.py,
the logged effects and key specs in test_geo_effects.py.
"""

from __future__ import annotations

import pytest

from .conftest import Differ


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request: pytest.FixtureRequest, diff: Differ) -> Differ:
    if request.param == 3:
        diff.resp3()
    return diff


SICILY = "GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania 12.758489 38.788135 edge1 17.241510 38.788135 edge2"


def test_it_adds_points_with_geoadd_options_like_redis(d: Differ) -> None:
    d.many(f"""
        {SICILY}
        GEOADD Sicily 13.361389 38.115556 Palermo
        GEOADD Sicily CH 13.5 38.1 Palermo 1 2 newone
        GEOADD Sicily NX CH 13.6 38.1 Palermo 3 4 other
        GEOADD Sicily XX CH 13.7 38.1 Palermo 5 6 nothere
        GEOADD Sicily xx nx 1 2 a
        GEOADD Sicily ch ch nx 1 2 b
        GEOADD Sicily 1 2
        GEOADD Sicily 1 2 a 3
        GEOADD Sicily GT 1 2 a
        GEOADD Sicily 181 10 a
        GEOADD Sicily -180.0000001 10 a
        GEOADD Sicily 10 85.05112879 a
        GEOADD Sicily 10 -85.06 a
        GEOADD Sicily 180 85.05112878 corner -180 -85.05112878 corner2
        GEOADD Sicily inf 1 a
        GEOADD Sicily 1 -inf a
        GEOADD Sicily nan 1 a
        GEOADD Sicily abc 1 a
        GEOADD Sicily 1 abc a
        GEOADD Sicily 0x10 0 hex
        GEOADD Sicily 1 2 ok 500 1 bad
        ZRANGE Sicily 0 -1 WITHSCORES
        SET str x
        GEOADD str 1 2 a
        GEOADD str 500 2 a
        GEOADD
        GEOADD k 1 2
    """)


def test_it_reads_positions_hashes_and_distances_like_redis(d: Differ) -> None:
    d.many(f"""
        {SICILY}
        GEOADD Sicily 180 85.05112878 corner -180 -85.05112878 corner2 0 0 zero -0.0000001 -0.0000001 neg
        GEOPOS Sicily Palermo Catania nosuch corner corner2 zero neg
        GEOPOS Sicily
        GEOPOS nokey a b
        GEOHASH Sicily Palermo Catania nosuch corner corner2 zero neg edge1
        GEOHASH nokey a
        GEOHASH Sicily
        GEODIST Sicily Palermo Catania
        GEODIST Sicily Palermo Catania km
        GEODIST Sicily Palermo Catania KM
        GEODIST Sicily Palermo Catania mi
        GEODIST Sicily Palermo Catania Ft
        GEODIST Sicily Palermo Catania m
        GEODIST Sicily Palermo Palermo
        GEODIST Sicily corner corner2 km
        GEODIST Sicily Palermo nosuch
        GEODIST nokey a b
        GEODIST Sicily Palermo Catania yards
        GEODIST nokey a b yards
        GEODIST Sicily Palermo Catania km extra
        SET str x
        GEOPOS str a
        GEOHASH str a
        GEODIST str a b
        GEODIST str a b furlongs
    """)


def test_it_decodes_scores_that_geoadd_never_wrote(d: Differ) -> None:
    d.many("""
        ZADD z 0 zero 1.5 half -1 minus 4503599627370496 big 9007199254740992 bigger 1e300 huge -inf ninf inf pinf
        GEOPOS z zero half minus big bigger huge ninf pinf
        GEOHASH z zero half minus big bigger huge ninf pinf
        GEODIST z zero big
        GEOSEARCH z FROMLONLAT 0 0 BYRADIUS 30000 km WITHHASH WITHCOORD ASC
        GEOSEARCH z FROMMEMBER zero BYBOX 100 100 km WITHHASH
    """)


def test_it_searches_by_radius_and_box_like_redis(d: Differ) -> None:
    d.many(f"""
        {SICILY}
        GEORADIUS Sicily 15 37 200 km
        GEORADIUS Sicily 15 37 200 km WITHDIST WITHCOORD WITHHASH
        GEORADIUS Sicily 15 37 200 km WITHDIST ASC
        GEORADIUS Sicily 15 37 200 km WITHDIST DESC
        GEORADIUS Sicily 15 37 200 km COUNT 1
        GEORADIUS Sicily 15 37 200 km COUNT 1 DESC
        GEORADIUS Sicily 15 37 400 km COUNT 2 ANY
        GEORADIUS Sicily 15 37 400 km COUNT 2 ANY ASC WITHDIST
        GEORADIUS Sicily 15 37 400 km COUNT 99 WITHHASH
        GEORADIUS Sicily 15 37 0 km
        GEORADIUS Sicily 15 37 1 m
        GEORADIUS Sicily 15 37 200 KM withcoord
        GEORADIUS Sicily 15 37 200 mi WITHDIST
        GEORADIUS Sicily 15 37 200000 ft WITHDIST
        GEORADIUS_RO Sicily 15 37 200 km WITHDIST
        GEORADIUSBYMEMBER Sicily Palermo 200 km WITHDIST
        GEORADIUSBYMEMBER_RO Sicily Palermo 200 km WITHDIST WITHCOORD
        GEORADIUSBYMEMBER Sicily nosuch 200 km
        GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 200 km ASC WITHDIST
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km DESC WITHCOORD WITHDIST WITHHASH
        GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC WITHCOORD WITHDIST
        GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 200 200 km ASC
        GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 0 0 km
        GEOSEARCH Sicily FROMMEMBER Catania BYBOX 0 0 km WITHDIST
        GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 100 800 km COUNT 2 WITHDIST
        GEOSEARCH Sicily BYBOX 100 800 km FROMMEMBER Palermo
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 20000 km
        GEOSEARCH Sicily FROMLONLAT -165 -37 BYRADIUS 20000 km WITHDIST
        GEOSEARCH nokey FROMLONLAT 15 37 BYRADIUS 200 km
        GEOSEARCH nokey FROMMEMBER nobody BYRADIUS 200 km
        GEORADIUS nokey 15 37 200 km
        GEORADIUSBYMEMBER nokey nobody 200 km
        GEORADIUSBYMEMBER nokey nobody abc furlongs
    """)


def test_it_finds_points_at_the_poles_and_the_antimeridian(d: Differ) -> None:
    d.many("""
        GEOADD w 179.9999 0 east -179.9999 0 west 180 0 e180 -180 0 w180 0 85.05112878 np 0 -85.05112878 sp 90 85 np90 -90 -85 sp90 179.5 84.9 ne -179.5 -84.9 sw
        GEOSEARCH w FROMLONLAT 180 0 BYRADIUS 50 km WITHDIST ASC
        GEOSEARCH w FROMLONLAT -180 0 BYRADIUS 50 km WITHDIST ASC
        GEOSEARCH w FROMLONLAT 179.99 0 BYBOX 10 10 km WITHDIST ASC
        GEOSEARCH w FROMLONLAT -179.99 0 BYBOX 10 10 km WITHDIST ASC
        GEOSEARCH w FROMLONLAT 0 85 BYRADIUS 1000 km WITHDIST ASC
        GEOSEARCH w FROMLONLAT 0 85.05112878 BYRADIUS 3000 km WITHDIST ASC
        GEOSEARCH w FROMLONLAT 0 -85.05112878 BYRADIUS 3000 km WITHDIST ASC
        GEOSEARCH w FROMLONLAT 180 85 BYBOX 2000 2000 km WITHDIST ASC
        GEOSEARCH w FROMLONLAT -180 -85 BYBOX 5000 500 km WITHDIST ASC
        GEOSEARCH w FROMMEMBER np BYRADIUS 10000 km WITHDIST WITHHASH ASC
        GEOSEARCH w FROMMEMBER sp BYBOX 40000 40000 km WITHDIST DESC
        GEOSEARCH w FROMMEMBER e180 BYRADIUS 1 m WITHCOORD
        GEORADIUS w 0 0 25000 km ASC WITHDIST
        GEORADIUS w 0 0 25000 km DESC COUNT 3 WITHDIST
    """)


def test_it_orders_equal_distances_like_redis_when_count_cuts(d: Differ) -> None:
    # Many members on one spot: their distances tie, and a COUNT below the total
    # makes Redis use its partial quicksort, which leaves ties in its own order.
    points = " ".join(f"13.361389 38.115556 same{i}" for i in range(60))
    ring = " ".join(f"{13 + (i % 7) * 0.01} {38 + (i % 5) * 0.01} ring{i}" for i in range(60))
    d.many(f"""
        GEOADD t {points}
        GEOADD t {ring}
        GEOSEARCH t FROMLONLAT 13.361389 38.115556 BYRADIUS 100 km ASC COUNT 10
        GEOSEARCH t FROMLONLAT 13.361389 38.115556 BYRADIUS 100 km DESC COUNT 10
        GEOSEARCH t FROMLONLAT 13.361389 38.115556 BYRADIUS 100 km ASC COUNT 45 WITHDIST
        GEOSEARCH t FROMLONLAT 13.361389 38.115556 BYRADIUS 100 km COUNT 3
        GEOSEARCH t FROMLONLAT 13.361389 38.115556 BYRADIUS 100 km COUNT 6 DESC
        GEOSEARCH t FROMLONLAT 13.361389 38.115556 BYRADIUS 100 km COUNT 119
        GEOSEARCH t FROMLONLAT 13.361389 38.115556 BYRADIUS 100 km ASC
        GEOSEARCH t FROMLONLAT 13.361389 38.115556 BYRADIUS 100 km DESC
        GEOSEARCH t FROMLONLAT 13 38 BYBOX 50 50 km COUNT 7 ANY
        GEOSEARCH t FROMLONLAT 13 38 BYBOX 50 50 km COUNT 7 ANY DESC WITHDIST
    """)


def test_it_stores_search_results_like_redis(d: Differ) -> None:
    d.many(f"""
        {SICILY}
        GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km
        ZRANGE dst 0 -1 WITHSCORES
        GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km STOREDIST ASC COUNT 2
        ZRANGE dst 0 -1 WITHSCORES
        GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYRADIUS 1 km
        EXISTS dst
        GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYRADIUS 1 km
        GEOSEARCHSTORE dst nokey FROMLONLAT 15 37 BYRADIUS 1 km
        SET dst x
        GEOSEARCHSTORE dst nokey FROMLONLAT 15 37 BYRADIUS 1 km
        EXISTS dst
        SET dst x
        EXPIRE dst 1000
        GEOSEARCHSTORE dst Sicily FROMMEMBER Palermo BYRADIUS 100 mi STOREDIST
        TTL dst
        ZRANGE dst 0 -1 WITHSCORES
        GEORADIUS Sicily 15 37 200 km STORE r1
        ZRANGE r1 0 -1 WITHSCORES
        GEORADIUS Sicily 15 37 200 km STOREDIST r2
        ZRANGE r2 0 -1 WITHSCORES
        GEORADIUS Sicily 15 37 200 km STORE r3 STOREDIST r4
        EXISTS r3 r4
        GEORADIUS Sicily 15 37 200 km STOREDIST r5 STORE r6 COUNT 1
        ZRANGE r6 0 -1 WITHSCORES
        GEORADIUSBYMEMBER Sicily Palermo 300 km STORE r7 DESC
        ZRANGE r7 0 -1 WITHSCORES
        GEORADIUSBYMEMBER nokey nobody 300 km STORE r7
        EXISTS r7
        GEORADIUS Sicily 15 37 1 km STORE r1
        EXISTS r1
        OBJECT ENCODING r2
        SET str x
        GEOSEARCHSTORE dst str FROMLONLAT 15 37 BYRADIUS 1 km
        GEORADIUS str 15 37 1 km STORE x
    """)


def test_it_rejects_bad_searches_with_redis_texts(d: Differ) -> None:
    d.many(f"""
        {SICILY}
        GEORADIUS Sicily 15 37 200 km STORE
        GEORADIUS Sicily 15 37 200 km STOREDIST
        GEORADIUS Sicily 15 37 200 km STORE x WITHDIST
        GEORADIUS Sicily 15 37 200 km WITHHASH STOREDIST x
        GEORADIUS_RO Sicily 15 37 200 km STORE x
        GEORADIUSBYMEMBER_RO Sicily Palermo 200 km STORE x
        GEORADIUS Sicily 15 37 -1 km
        GEORADIUS Sicily 15 37 abc km
        GEORADIUS Sicily 15 37 200 yards
        GEORADIUS Sicily 200 37 200 km
        GEORADIUS Sicily 15 91 200 km
        GEORADIUS Sicily x 37 200 km
        GEORADIUS Sicily 15 37 200 km COUNT 0
        GEORADIUS Sicily 15 37 200 km COUNT -1
        GEORADIUS Sicily 15 37 200 km COUNT x
        GEORADIUS Sicily 15 37 200 km COUNT
        GEORADIUS Sicily 15 37 200 km ANY
        GEORADIUS Sicily 15 37 200 km ANY COUNT 1 extra
        GEORADIUS Sicily 15 37 200 km FROMMEMBER Palermo
        GEORADIUSBYMEMBER Sicily Palermo -5 km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km STORE x
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST
        GEOSEARCH Sicily BYRADIUS 200 km ASC
        geosearch Sicily BYRADIUS 200 km ASC
        GeoSearch Sicily FROMLONLAT 15 37 ASC
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km BYBOX 1 1 km
        GEOSEARCH Sicily BYBOX 1 1 km BYRADIUS 200 km FROMLONLAT 15 37
        GEOSEARCH Sicily FROMMEMBER Palermo FROMLONLAT 15 37 BYRADIUS 200 km
        GEOSEARCH Sicily FROMLONLAT 15 37 FROMMEMBER Palermo BYRADIUS 200 km
        GEOSEARCH Sicily FROMMEMBER Palermo FROMMEMBER Catania BYRADIUS 200 km
        GEOSEARCH Sicily FROMMEMBER nosuch BYRADIUS 200 km
        GEOSEARCH Sicily FROMMEMBER nosuch BYRADIUS -1 km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX -1 1 km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 -1 km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX x 1 km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 x km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 1 parsecs
        GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 1
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1
        GEOSEARCH Sicily FROMLONLAT 15 BYRADIUS 1 km
        GEOSEARCH Sicily FROMLONLAT 1000 37 BYRADIUS 1 km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1 km ANY
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1 km COUNT 0 ANY
        GEOSEARCH nokey FROMLONLAT 15 37 BYRADIUS 1 km ANY
        GEOSEARCH nokey FROMLONLAT 1000 37 BYRADIUS 1 km
        GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km WITHDIST
        GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km STORE x
        GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST x
        GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 WITHCOORD
        GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km WITHDIST WITHDIST COUNT 1 COUNT 2
        GEOSEARCH Sicily
        GEORADIUS Sicily 15 37 200
        GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37
    """)

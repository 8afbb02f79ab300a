"""Random geo searches, compared byte for byte with redis-server 7.0.

Hypothesis builds a cloud of points around a centre (anywhere, poles and the
antimeridian included; some points repeated, so distances tie), then a search:
from the centre or a member, by radius or box, in any unit, with any ordering,
COUNT (with or without ANY) and WITH* options. GEOSEARCH, GEOSEARCHSTORE (read back
with ZRANGE ... WITHSCORES) and GEOPOS/GEOHASH of every member must answer exactly
as Redis does. A failure prints the shortest command sequence hypothesis found.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.engine.geo import LAT_MAX, LAT_MIN

from .conftest import Differ

UNITS = ("m", "km", "ft", "mi")


def _clamp(v: float, lo: float, hi: float) -> float:
    return min(max(v, lo), hi)


@st.composite
def clouds(draw: st.DrawFn) -> tuple[float, float, list[tuple[float, float]]]:
    lon = draw(st.one_of(st.floats(-180, 180), st.sampled_from([-180.0, 180.0, 179.99, -179.99, 0.0])))
    lat = draw(st.one_of(st.floats(LAT_MIN, LAT_MAX), st.sampled_from([LAT_MIN, LAT_MAX, 84.9, -84.9, 0.0, 66.5])))
    spread = draw(st.sampled_from([0.0001, 0.01, 0.5, 5.0, 40.0, 180.0]))
    offsets = st.tuples(st.floats(-spread, spread), st.floats(-spread, spread))
    points = [(_clamp(lon + dx, -180, 180), _clamp(lat + dy, LAT_MIN, LAT_MAX))
              for dx, dy in draw(st.lists(offsets, min_size=1, max_size=40))]
    repeats = draw(st.lists(st.integers(0, len(points) - 1), max_size=8))
    points += [points[i] for i in repeats]
    return lon, lat, points


@st.composite
def searches(draw: st.DrawFn, members: int) -> list[str]:
    if draw(st.booleans()):
        source = ["FROMMEMBER", f"p{draw(st.integers(0, members - 1))}"]
    else:
        source = ["FROMLONLAT", draw(st.sampled_from(["CENTRE"])), ""]
    unit = draw(st.sampled_from(UNITS))
    size = st.one_of(st.just(0.0), st.floats(0.001, 30000.0))
    to_unit = {"m": 1000.0, "km": 1.0, "ft": 3280.84, "mi": 0.621371}[unit]
    if draw(st.booleans()):
        shape = ["BYRADIUS", f"{draw(size) * to_unit:.6g}", unit]
    else:
        shape = ["BYBOX", f"{draw(size) * to_unit:.6g}", f"{draw(size) * to_unit:.6g}", unit]
    opts: list[str] = []
    order = draw(st.sampled_from(["", "ASC", "DESC"]))
    if order:
        opts.append(order)
    if draw(st.booleans()):
        opts += ["COUNT", str(draw(st.integers(1, members + 5)))]
        if draw(st.booleans()):
            opts.append("ANY")
    return source + shape + opts


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(cloud=clouds(), data=st.data())
def test_random_searches_answer_like_redis(diff: Differ, cloud: tuple, data: st.DataObject) -> None:
    lon, lat, points = cloud
    diff("FLUSHALL")
    args: list[str] = []
    for i, (plon, plat) in enumerate(points):
        args += [repr(plon), repr(plat), f"p{i}"]
    diff("GEOADD", "g", *args)
    members = [f"p{i}" for i in range(len(points))]
    diff("GEOPOS", "g", *members)
    diff("GEOHASH", "g", *members)
    diff("GEODIST", "g", members[0], members[-1], "km")
    search = data.draw(searches(len(points)))
    if search[0] == "FROMLONLAT":
        search[1:3] = [repr(lon), repr(lat)]
    withs = data.draw(st.lists(st.sampled_from(["WITHDIST", "WITHCOORD", "WITHHASH"]), max_size=3, unique=True))
    diff("GEOSEARCH", "g", *search, *withs)
    diff.resp3()
    diff("GEOSEARCH", "g", *search, *withs)
    store = [a for a in search]
    if data.draw(st.booleans()):
        store.append("STOREDIST")
    diff("GEOSEARCHSTORE", "dst", "g", *store)
    diff("ZRANGE", "dst", "0", "-1", "WITHSCORES")

"""Geospatial arithmetic, as Redis 7.0 does it: pure functions, no keyspace.

A point is stored in a sorted set under a 52-bit score: its longitude and latitude,
each scaled to 26 bits over their range (longitude -180..180, latitude
-85.05112878..85.05112878, the Web-Mercator limits), interleaved bit by bit
(latitude in the even bits, longitude in the odd ones). Decoding gives the cell
that score names, and a point is reported at that cell's centre, so GEOPOS never
returns exactly what GEOADD was given.

A search (radius or box) never scans the whole set: it picks a cell size from
the search's extent, takes the cell holding the centre and its eight neighbours
(dropping those the bounding box cannot reach, skipping a neighbour equal to the
one before it), turns each cell into a score range, and tests every member in
those ranges against the shape with the haversine distance (Earth radius
6372797.560856 m).

Invariants:
* Every floating-point step is written in the same order as Redis's C code, so
  that scores, coordinates and distances agree to the last bit; the libm
  functions (sin, cos, asin, sqrt) are the same C library's.
* Integer steps emulate C's unsigned 64-bit arithmetic (masks after each add),
  which is how neighbours wrap around the antimeridian and over the poles.
* Order matters: results come out in score order per cell, cells in Redis's
  order; the caller sorts by distance with ``sort_by_distance``, which
  reproduces glibc's stable qsort or, when only the first N are wanted, Redis's
  partial quicksort (``pqsort``), whose order of equal distances differs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LONG_MIN, LONG_MAX = -180.0, 180.0
LAT_MIN, LAT_MAX = -85.05112878, 85.05112878
STEP_MAX = 26  # bits per coordinate: 52-bit scores, exact in a double
EARTH_RADIUS_M = 6372797.560856
MERCATOR_MAX = 20037726.37
_D_R = math.pi / 180.0
_U64 = (1 << 64) - 1
_EVEN = 0x5555555555555555  # latitude bits
_ODD = 0xAAAAAAAAAAAAAAAA  # longitude bits

# Units and how many metres each is (GEODIST, GEORADIUS, GEOSEARCH).
UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}


def valid_lonlat(lon: float, lat: float) -> bool:
    return LONG_MIN <= lon <= LONG_MAX and LAT_MIN <= lat <= LAT_MAX


# -- bit interleaving ------------------------------------------------------------------------


def _spread(v: int) -> int:
    """The 32 bits of ``v`` moved to the even bit positions of a 64-bit word."""
    v &= 0xFFFFFFFF
    v = (v | (v << 16)) & 0x0000FFFF0000FFFF
    v = (v | (v << 8)) & 0x00FF00FF00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v << 2)) & 0x3333333333333333
    return (v | (v << 1)) & _EVEN


def _squash(v: int) -> int:
    """The inverse of ``_spread``: the even bits of ``v`` packed into 32 bits."""
    v &= _EVEN
    v = (v | (v >> 1)) & 0x3333333333333333
    v = (v | (v >> 2)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v >> 4)) & 0x00FF00FF00FF00FF
    v = (v | (v >> 8)) & 0x0000FFFF0000FFFF
    return (v | (v >> 16)) & 0xFFFFFFFF


def encode(lon: float, lat: float, step: int = STEP_MAX,
           lat_min: float = LAT_MIN, lat_max: float = LAT_MAX) -> int | None:
    """The cell of ``step`` bits per coordinate holding the point, as interleaved
    bits; None outside the limits (Redis's geohashEncode)."""
    if not valid_lonlat(lon, lat) or not (lat_min <= lat <= lat_max):
        return None
    lat_offset = (lat - lat_min) / (lat_max - lat_min) * float(1 << step)
    lon_offset = (lon - LONG_MIN) / (LONG_MAX - LONG_MIN) * float(1 << step)
    # C converts the offsets to uint32_t: truncation towards zero.
    return _spread(int(lat_offset)) | (_spread(int(lon_offset)) << 1)


def score_of(lon: float, lat: float) -> int:
    """The sorted-set score GEOADD stores for a valid point."""
    bits = encode(lon, lat)
    assert bits is not None
    return bits


def _c_uint64(score: float) -> int:
    """``(uint64_t)score`` as x86-64 code compiled by GCC computes it: a score that
    is not a geohash (any ZADD can put one there) still decodes to something."""
    if score != score or score == math.inf:
        return 0
    if score < 2.0**63:
        return (int(score) & _U64) if score > -2.0**63 else 1 << 63
    return 0 if score >= 2.0**64 else int(score)


def c_long_long(score: float) -> int:
    """``(long long)score`` (WITHHASH), with x86's "integer indefinite" for overflow."""
    if score != score or not -2.0**63 <= score < 2.0**63:
        return -(1 << 63)
    return int(score)


@dataclass(frozen=True, slots=True)
class Area:
    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float


def decode(bits: int, step: int = STEP_MAX, lat_min: float = LAT_MIN, lat_max: float = LAT_MAX) -> Area:
    """The cell named by ``bits`` at ``step`` (Redis's geohashDecode)."""
    ilat, ilon = _squash(bits), _squash(bits >> 1)
    lat_scale = lat_max - lat_min
    lon_scale = LONG_MAX - LONG_MIN
    cells = float(1 << step)
    return Area(
        LONG_MIN + (ilon * 1.0 / cells) * lon_scale,
        LONG_MIN + ((ilon + 1) * 1.0 / cells) * lon_scale,
        lat_min + (ilat * 1.0 / cells) * lat_scale,
        lat_min + ((ilat + 1) * 1.0 / cells) * lat_scale,
    )


def point_of(score: float) -> tuple[float, float]:
    """(longitude, latitude) a score stands for: its cell's centre, clamped to the limits."""
    area = decode(_c_uint64(score))
    lon = (area.lon_min + area.lon_max) / 2
    lon = min(max(lon, LONG_MIN), LONG_MAX)
    lat = (area.lat_min + area.lat_max) / 2
    lat = min(max(lat, LAT_MIN), LAT_MAX)
    return lon, lat


_BASE32 = b"0123456789bcdefghjkmnpqrstuvwxyz"


def geohash_string(score: float) -> bytes:
    """GEOHASH's 11-character standard geohash: the decoded point re-encoded over
    latitude -90..90 (not the Mercator limits), its 52 bits read 5 at a time, and
    a last character of 0 (there is no 53rd bit)."""
    lon, lat = point_of(score)
    bits = encode(lon, lat, STEP_MAX, -90.0, 90.0) or 0
    chars = bytearray(_BASE32[(bits >> (52 - (i + 1) * 5)) & 0x1F] for i in range(10))
    chars.append(_BASE32[0])
    return bytes(chars)


# -- distances -----------------------------------------------------------------------------------


def lat_distance(lat1: float, lat2: float) -> float:
    return EARTH_RADIUS_M * abs(lat2 * _D_R - lat1 * _D_R)


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Haversine distance in metres."""
    lon1r, lon2r = lon1 * _D_R, lon2 * _D_R
    v = math.sin((lon2r - lon1r) / 2)
    if v == 0.0:  # same meridian: Redis skips the trigonometry
        return lat_distance(lat1, lat2)
    lat1r, lat2r = lat1 * _D_R, lat2 * _D_R
    u = math.sin((lat2r - lat1r) / 2)
    a = u * u + math.cos(lat1r) * math.cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


# -- shapes and the cells that cover them ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shape:
    """A search area: a circle (``radius``) or a box (``width`` x ``height``),
    centred at (lon, lat); sizes in ``unit``s of ``conversion`` metres each."""

    lon: float
    lat: float
    conversion: float
    radius: float = 0.0
    width: float = 0.0
    height: float = 0.0
    box: bool = False

    def contains(self, lon: float, lat: float) -> float | None:
        """The distance from the centre in metres if the point is inside, else None."""
        if not self.box:
            d = distance(self.lon, self.lat, lon, lat)
            return None if d > self.radius * self.conversion else d
        # Latitude first: it is the cheaper test.
        if lat_distance(lat, self.lat) > self.height * self.conversion / 2:
            return None
        if distance(lon, lat, self.lon, lat) > self.width * self.conversion / 2:
            return None
        return distance(self.lon, self.lat, lon, lat)

    def bounding_box(self) -> tuple[float, float, float, float]:
        """(min lon, min lat, max lon, max lat), widest on the side nearer the pole."""
        half_h = self.conversion * (self.height / 2 if self.box else self.radius)
        half_w = self.conversion * (self.width / 2 if self.box else self.radius)
        lat_delta = half_h / EARTH_RADIUS_M / _D_R
        top = half_w / EARTH_RADIUS_M / math.cos((self.lat + lat_delta) * _D_R) / _D_R
        bottom = half_w / EARTH_RADIUS_M / math.cos((self.lat - lat_delta) * _D_R) / _D_R
        lon_delta = bottom if self.lat < 0 else top
        return self.lon - lon_delta, self.lat - lat_delta, self.lon + lon_delta, self.lat + lat_delta

    def reach_m(self) -> float:
        """How far the shape reaches from its centre: the radius, or half the box's diagonal."""
        if self.box:
            r = math.sqrt((self.width / 2) * (self.width / 2) + (self.height / 2) * (self.height / 2))
        else:
            r = self.radius
        return r * self.conversion


def steps_for(reach_m: float, lat: float) -> int:
    """Bits per coordinate for cells about as large as the search (fewer near the poles)."""
    if reach_m == 0:
        return STEP_MAX
    step = 1
    while reach_m < MERCATOR_MAX:
        reach_m *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    return max(1, min(step, STEP_MAX))


def _move(bits: int, step: int, dlon: int, dlat: int) -> int:
    """The neighbouring cell, with C's wrap-around (geohash_move_x / _y)."""
    lon, lat = bits & _ODD, bits & _EVEN
    if dlon:
        zz = _EVEN >> (64 - step * 2)
        lon = ((lon + zz + 1) if dlon > 0 else ((lon | zz) - (zz + 1))) & _U64
        lon &= _ODD >> (64 - step * 2)
    if dlat:
        zz = _ODD >> (64 - step * 2)
        lat = ((lat + zz + 1) if dlat > 0 else ((lat | zz) - (zz + 1))) & _U64
        lat &= _EVEN >> (64 - step * 2)
    return lon | lat


# The order Redis visits the centre cell and its neighbours: (d lon, d lat).
_NEIGHBOURS = ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1))


def score_ranges(shape: Shape) -> list[tuple[int, int]]:
    """The [min, max) score ranges to scan, in Redis's order, after dropping the
    neighbours the bounding box misses and any equal to the one scanned before."""
    min_lon, min_lat, max_lon, max_lat = shape.bounding_box()
    step = steps_for(shape.reach_m(), shape.lat)
    bits = encode(shape.lon, shape.lat, step)
    assert bits is not None
    if step > 1:
        # A cell too small at the edges of the box: one step coarser.
        north = decode(_move(bits, step, 0, 1), step)
        south = decode(_move(bits, step, 0, -1), step)
        east = decode(_move(bits, step, 1, 0), step)
        west = decode(_move(bits, step, -1, 0), step)
        if (north.lat_max < max_lat or south.lat_min > min_lat
                or east.lon_max < max_lon or west.lon_min > min_lon):
            step -= 1
            bits = encode(shape.lon, shape.lat, step)
            assert bits is not None
    area = decode(bits, step)
    cells: list[int | None] = [_move(bits, step, dx, dy) for dx, dy in _NEIGHBOURS]
    if step >= 2:
        dropped = set()
        if area.lat_min < min_lat:
            dropped |= {2, 7, 8}  # south, south-east, south-west
        if area.lat_max > max_lat:
            dropped |= {1, 5, 6}
        if area.lon_min < min_lon:
            dropped |= {4, 6, 8}
        if area.lon_max > max_lon:
            dropped |= {3, 5, 7}
        for i in dropped:
            cells[i] = None
    shift = 52 - step * 2
    ranges: list[tuple[int, int]] = []
    last: int | None = None
    for i, cell in enumerate(cells):
        if cell is None:
            continue
        # Redis compares with the previous scanned cell, but never with the centre.
        if last is not None and last != 0 and cell == cells[last]:
            continue
        ranges.append((cell << shift, (cell + 1) << shift))
        last = i
    return ranges


# -- ordering by distance ----------------------------------------------------------------------


def _cmp(a: float, b: float) -> int:
    return 0 if a == b else (1 if a > b else -1)


def _pqsort(d: list, lo: int, n: int, left: int, right: int, sign: int) -> None:
    """Redis's pqsort (a Bentley-McIlroy quicksort that only recurses into parts
    overlapping [left, right]) over d[lo:lo+n], each item's distance at [0]."""

    def cmp(i: int, j: int) -> int:
        return sign * _cmp(d[i][0], d[j][0])

    def swap(i: int, j: int) -> None:
        d[i], d[j] = d[j], d[i]

    def med3(a: int, b: int, c: int) -> int:
        if cmp(a, b) < 0:
            return b if cmp(b, c) < 0 else (c if cmp(a, c) < 0 else a)
        return b if cmp(b, c) > 0 else (a if cmp(a, c) < 0 else c)

    while True:
        if n < 7:
            for pm in range(lo + 1, lo + n):
                pl = pm
                while pl > lo and cmp(pl - 1, pl) > 0:
                    swap(pl, pl - 1)
                    pl -= 1
            return
        pm = lo + n // 2
        if n > 7:
            pl, pn = lo, lo + n - 1
            if n > 40:
                s = n // 8
                pl = med3(pl, pl + s, pl + 2 * s)
                pm = med3(pm - s, pm, pm + s)
                pn = med3(pn - 2 * s, pn - s, pn)
            pm = med3(pl, pm, pn)
        swap(lo, pm)
        pa = pb = lo + 1
        pc = pd = lo + n - 1
        while True:
            while pb <= pc:
                r = cmp(pb, lo)
                if r > 0:
                    break
                if r == 0:
                    swap(pa, pb)
                    pa += 1
                pb += 1
            while pb <= pc:
                r = cmp(pc, lo)
                if r < 0:
                    break
                if r == 0:
                    swap(pc, pd)
                    pd -= 1
                pc -= 1
            if pb > pc:
                break
            swap(pb, pc)
            pb += 1
            pc -= 1
        pn = lo + n
        r = min(pa - lo, pb - pa)
        for k in range(r):
            swap(lo + k, pb - r + k)
        r = min(pd - pc, pn - pd - 1)
        for k in range(r):
            swap(pb + k, pn - r + k)
        r = pb - pa
        if r > 1 and not (right < lo or left >= lo + r):
            _pqsort(d, lo, r, left, right, sign)
        r = pd - pc
        if r <= 1:
            return
        lo, n = pn - r, r
        if right < lo or left >= lo + n:
            return


def sort_by_distance(points: list, descending: bool, wanted: int) -> None:
    """Sort ``points`` (tuples whose [0] is the distance) in place as Redis would:
    all of them with glibc's stable qsort, or — when fewer than all are wanted —
    only enough of them with pqsort, which leaves equal distances in its own order."""
    if wanted >= len(points):
        points.sort(key=lambda p: p[0], reverse=descending)
    else:
        _pqsort(points, 0, len(points), 0, wanted - 1, -1 if descending else 1)


# -- formatting ----------------------------------------------------------------------------------


def human_coordinate(value: float) -> bytes:
    """A coordinate as Redis prints it (ld2string's human mode: %.17Lf, trailing
    zeros and a bare dot dropped, -0 as 0)."""
    text = b"%.17f" % value
    if b"." in text:
        text = text.rstrip(b"0").rstrip(b".")
    return b"0" if text == b"-0" else text


def format_distance(metres_in_unit: float) -> bytes:
    """A distance with four decimals (GEODIST, WITHDIST)."""
    return b"%.4f" % metres_in_unit

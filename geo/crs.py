"""Coordinate systems used by phones in China: WGS84, GCJ-02 (Amap, Tencent) and BD-09 (Baidu).

GCJ-02 is WGS84 with a deliberate, smooth offset of a few hundred metres that is applied only
in mainland China; BD-09 is Baidu's further shift of GCJ-02. Every function here takes and
returns (lon, lat). Outside mainland China, as judged by :func:`in_china`, all three systems
are treated as WGS84: the conversions are the identity there.

The conversions are prcoords' formulas. The inverses (GCJ-02/BD-09 to WGS84) are solved by
fixed-point iteration to below 1e-9 degree (sub-millimetre), not by the one-step approximation
that is off by up to a few metres.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final, Literal, cast, get_args

import numpy as np
import numpy.typing as npt
import prcoords
import shapely
from shapely.geometry import Polygon

from geo.errors import GeoError

CoordSys = Literal["wgs84", "gcj02", "bd09"]
SUPPORTED: Final[tuple[CoordSys, ...]] = cast(tuple[CoordSys, ...], get_args(CoordSys))

_ALIASES: Final[dict[str, CoordSys]] = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "wgs_84": "wgs84",
    "epsg:4326": "wgs84",
    "4326": "wgs84",
    "gps": "wgs84",
    # CGCS2000 differs from WGS84 by centimetres; phones never know the difference.
    "cgcs2000": "wgs84",
    "epsg:4490": "wgs84",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "gcj_02": "gcj02",
    "gcj": "gcj02",
    "amap": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "bd_09": "bd09",
    "bd09ll": "bd09",
    "baidu": "bd09",
}

# A coarse, hand-drawn outline of mainland China (lon, lat), clockwise from the Amur near
# Mohe. Hainan is inside; Taiwan, Hong Kong and Macau are outside because the GCJ-02 offset
# is not applied there. Along land borders it is good to a few tens of kilometres, so towns
# facing each other across a border river (Heihe and Blagoveshchensk, Dandong and Sinuiju,
# Dongxing and Mong Cai) are not told apart; offshore it runs through the sea to take in
# coastal islands (Kinmen and Matsu fall inside). Only points near a border are misjudged.
_CHINA_OUTLINE: Final[tuple[tuple[float, float], ...]] = (
    # Russia: Amur and Ussuri
    (121.2, 53.35),
    (123.3, 53.6),
    (125.7, 53.05),
    (127.6, 50.2),
    (130.6, 48.9),
    (132.6, 47.75),
    (134.0, 48.45),
    (134.75, 48.35),
    (134.0, 47.0),
    (133.1, 45.3),
    (132.0, 45.2),
    (131.1, 44.8),
    (131.3, 44.0),
    (131.0, 42.9),
    (130.6, 42.4),
    # North Korea: Tumen and Yalu
    (129.8, 42.95),
    (129.0, 42.2),
    (128.1, 41.95),
    (128.2, 41.4),
    (126.9, 41.75),
    (126.1, 41.1),
    (124.3, 39.8),
    # Coast of the Yellow Sea and the East China Sea
    (122.5, 39.1),
    (121.7, 38.75),
    (121.0, 38.65),
    (121.0, 37.95),
    (122.8, 37.45),
    (122.6, 36.8),
    (120.9, 36.1),
    (119.9, 34.9),
    (120.6, 34.2),
    (121.4, 32.6),
    (122.1, 31.9),
    (122.6, 31.0),
    (122.8, 30.0),
    (122.2, 29.0),
    (121.3, 27.9),
    (120.5, 26.9),
    # Taiwan Strait: the line keeps to the mainland side, leaving Taiwan and Penghu out
    (119.9, 25.45),
    (119.1, 24.5),
    (117.6, 23.4),
    (116.9, 23.0),
    (115.5, 22.65),
    # Pearl River estuary: Hong Kong and Macau cut out
    (114.55, 22.5),
    (114.3, 22.57),
    (114.05, 22.51),
    (113.92, 22.49),
    (113.75, 22.6),
    (113.65, 22.35),
    (113.53, 22.225),
    (113.5, 22.12),
    (113.2, 21.9),
    (112.0, 21.65),
    # Leizhou peninsula and Hainan
    (110.7, 20.9),
    (111.2, 20.2),
    (111.25, 19.5),
    (110.3, 18.3),
    (109.5, 18.0),
    (108.5, 18.4),
    (108.4, 19.3),
    (109.3, 20.05),
    (109.6, 20.6),
    (109.0, 21.35),
    # Vietnam, Laos, Myanmar
    (108.0, 21.45),
    (106.7, 21.95),
    (106.65, 22.55),
    (106.0, 22.95),
    (105.3, 23.35),
    (104.4, 22.8),
    (103.9, 22.55),
    (102.9, 22.7),
    (102.2, 22.4),
    (101.75, 22.45),
    (101.55, 21.15),
    (100.2, 21.4),
    (99.2, 22.1),
    (99.5, 22.95),
    (98.6, 24.1),
    (97.55, 23.95),
    (97.55, 24.8),
    (98.5, 25.6),
    (98.7, 27.5),
    # India (line of actual control), Bhutan, Nepal
    (97.35, 28.2),
    (96.2, 28.6),
    (95.3, 29.15),
    (94.3, 29.2),
    (93.0, 28.1),
    (91.6, 27.9),
    (90.4, 28.25),
    (89.1, 27.4),
    (88.8, 27.95),
    (88.0, 27.9),
    (86.9, 28.0),
    (85.4, 28.3),
    (84.0, 28.9),
    (81.5, 30.3),
    (79.0, 31.3),
    (78.8, 32.6),
    (79.5, 33.0),
    (78.4, 34.0),
    (77.8, 35.5),
    # Pakistan, Afghanistan, Tajikistan, Kyrgyzstan, Kazakhstan
    (76.2, 35.9),
    (75.3, 36.7),
    (74.6, 37.1),
    (74.8, 38.5),
    (73.6, 39.3),
    (73.9, 39.8),
    (75.6, 40.5),
    (78.0, 41.0),
    (79.9, 42.0),
    (80.2, 42.7),
    (80.15, 44.25),
    (80.8, 45.0),
    (82.5, 45.3),
    (82.3, 46.3),
    (83.0, 47.2),
    (85.5, 47.05),
    (86.8, 49.1),
    # Mongolia
    (87.35, 49.15),
    (88.9, 48.1),
    (90.1, 47.8),
    (91.0, 46.6),
    (91.0, 45.2),
    (93.5, 44.95),
    (95.4, 44.3),
    (96.4, 42.7),
    (100.5, 42.6),
    (105.0, 41.6),
    (107.3, 42.4),
    (110.4, 42.7),
    (111.9, 43.65),
    (113.8, 44.4),
    (116.0, 44.95),
    (117.4, 46.6),
    (119.9, 46.7),
    (119.7, 47.2),
    (118.5, 47.95),
    (117.4, 47.65),
    (115.6, 47.9),
    # Russia: Argun
    (116.7, 49.85),
    (117.9, 49.55),
    (119.2, 50.3),
    (120.1, 51.7),
)

CHINA_OUTLINE: Final[Polygon] = Polygon(_CHINA_OUTLINE)
shapely.prepare(CHINA_OUTLINE)

# Below this the inverse is exact to well under a millimetre (1e-9 degree is about 0.1 mm).
_INVERSE_EPS_DEG: Final = 1e-9
_INVERSE_MAX_ITER: Final = 20


def in_china(lon: float, lat: float) -> bool:
    """Whether the Chinese offset applies at (lon, lat): inside the coarse mainland outline."""
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return False
    return bool(shapely.intersects_xy(CHINA_OUTLINE, lon, lat))


def in_china_xy(lons: npt.ArrayLike, lats: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Vectorised :func:`in_china` over arrays of longitudes and latitudes."""
    lon_arr = np.asarray(lons, dtype=float)
    lat_arr = np.asarray(lats, dtype=float)
    return np.asarray(shapely.intersects_xy(CHINA_OUTLINE, lon_arr, lat_arr), dtype=bool)


def normalize_crs(crs: str) -> CoordSys:
    """The canonical name of a coordinate-system hint (``"GCJ-02"``, ``"baidu"``, ...)."""
    key = crs.strip().lower() if isinstance(crs, str) else ""
    found = _ALIASES.get(key)
    if found is None:
        supported = ", ".join(SUPPORTED)
        raise GeoError(
            "unsupported_crs",
            f"Unsupported coordinate system {crs!r}; use one of: {supported}.",
            f"不支持的坐标系 {crs!r}；请使用：{supported}。",
        )
    return found


# prcoords works in (lat, lon) named tuples; the wrappers below keep (lon, lat) everywhere else.
_Fwd = Callable[[float, float], tuple[float, float]]


def _near_china(lon: float, lat: float) -> bool:
    # prcoords' own sanity box, wider than the outline: outside it nothing is ever converted,
    # so prcoords never sees (and never warns about) a foreign or non-finite point.
    return 72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271


def _wgs_to_gcj_raw(lon: float, lat: float) -> tuple[float, float]:
    c = prcoords.wgs_gcj((lat, lon), False)
    return float(c.lon), float(c.lat)


def _gcj_to_bd_raw(lon: float, lat: float) -> tuple[float, float]:
    c = prcoords.gcj_bd((lat, lon))
    return float(c.lon), float(c.lat)


def _wgs_to_bd_raw(lon: float, lat: float) -> tuple[float, float]:
    return _gcj_to_bd_raw(*_wgs_to_gcj_raw(lon, lat))


def _refine(
    fwd: _Fwd, target: tuple[float, float], guess: tuple[float, float]
) -> tuple[float, float]:
    """Polish an inverse so that ``fwd(result)`` hits ``target`` to within 1e-9 degree."""
    lon, lat = guess
    for _ in range(_INVERSE_MAX_ITER):
        f_lon, f_lat = fwd(lon, lat)
        d_lon, d_lat = f_lon - target[0], f_lat - target[1]
        if math.hypot(d_lon, d_lat) < _INVERSE_EPS_DEG:
            break
        lon, lat = lon - d_lon, lat - d_lat
    return lon, lat


def _gcj_to_wgs_raw(lon: float, lat: float) -> tuple[float, float]:
    c = prcoords.gcj_wgs_bored((lat, lon), False)
    return _refine(_wgs_to_gcj_raw, (lon, lat), (float(c.lon), float(c.lat)))


def _bd_to_gcj_raw(lon: float, lat: float) -> tuple[float, float]:
    c = prcoords.bd_gcj_bored((lat, lon), False)
    return _refine(_gcj_to_bd_raw, (lon, lat), (float(c.lon), float(c.lat)))


def _bd_to_wgs_raw(lon: float, lat: float) -> tuple[float, float]:
    c = prcoords.bd_wgs_bored((lat, lon), False)
    return _refine(_wgs_to_bd_raw, (lon, lat), (float(c.lon), float(c.lat)))


# Whether the offset applies is always judged on the true (WGS84) position, so every round
# trip is exact for points in China. Within about a kilometre of the outline a shifted point
# has two readings (offset from inside, or unshifted from outside); the one in China wins.
# A solved inverse lands within 1e-9 degree of the true point, hence the slack below.
_INVERSE_SLACK_DEG: Final = 1e-8


def _solved_in_china(lon: float, lat: float) -> bool:
    return bool(shapely.dwithin(CHINA_OUTLINE, shapely.Point(lon, lat), _INVERSE_SLACK_DEG))


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS84 to GCJ-02 (Amap, Tencent); identity outside mainland China."""
    if not in_china(lon, lat):
        return lon, lat
    return _wgs_to_gcj_raw(lon, lat)


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 to WGS84 by iteration (sub-millimetre); identity outside mainland China."""
    if not _near_china(lon, lat):
        return lon, lat
    wgs = _gcj_to_wgs_raw(lon, lat)
    return wgs if _solved_in_china(*wgs) else (lon, lat)


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 to BD-09 (Baidu); identity outside mainland China."""
    if not _near_china(lon, lat) or not _solved_in_china(*_gcj_to_wgs_raw(lon, lat)):
        return lon, lat
    return _gcj_to_bd_raw(lon, lat)


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 to GCJ-02 by iteration; identity outside mainland China."""
    if not _near_china(lon, lat):
        return lon, lat
    gcj = _bd_to_gcj_raw(lon, lat)
    return gcj if _solved_in_china(*_gcj_to_wgs_raw(*gcj)) else (lon, lat)


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """WGS84 to BD-09 (through GCJ-02); identity outside mainland China."""
    if not in_china(lon, lat):
        return lon, lat
    return _wgs_to_bd_raw(lon, lat)


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 to WGS84 by iteration (sub-millimetre); identity outside mainland China."""
    if not _near_china(lon, lat):
        return lon, lat
    wgs = _bd_to_wgs_raw(lon, lat)
    return wgs if _solved_in_china(*wgs) else (lon, lat)


_TO_WGS84: Final[dict[CoordSys, _Fwd]] = {
    "wgs84": lambda lon, lat: (lon, lat),
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}
_FROM_WGS84: Final[dict[CoordSys, _Fwd]] = {
    "wgs84": lambda lon, lat: (lon, lat),
    "gcj02": wgs84_to_gcj02,
    "bd09": wgs84_to_bd09,
}


def to_wgs84(lon: float, lat: float, crs: CoordSys | str) -> tuple[float, float]:
    """(lon, lat) given in ``crs`` as WGS84: the one conversion done at the API edge."""
    return _TO_WGS84[normalize_crs(crs)](float(lon), float(lat))


def from_wgs84(lon: float, lat: float, crs: CoordSys | str) -> tuple[float, float]:
    """WGS84 (lon, lat) expressed in ``crs``, e.g. to draw on an Amap or Baidu base map."""
    return _FROM_WGS84[normalize_crs(crs)](float(lon), float(lat))


def geometry_from_wgs84(geometry: shapely.Geometry, crs: CoordSys | str) -> shapely.Geometry:
    """A WGS84 geometry with every vertex expressed in ``crs`` (to draw it over GCJ-02 or
    BD-09 tiles); the same object when ``crs`` is WGS84."""
    target = normalize_crs(crs)
    if target == "wgs84":
        return geometry
    fwd = _FROM_WGS84[target]

    def convert(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.array([fwd(float(x), float(y)) for x, y in coords], dtype=float).reshape(
            coords.shape
        )

    return shapely.transform(geometry, convert)

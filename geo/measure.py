"""Metric measures of WGS84 geometries: distances, areas, lengths and buffers in metres.

Planar measures go through a conformal projection chosen from the geometry's location:
inside mainland China the CGCS2000 3-degree Gauss-Kruger zone (scale error below 3e-4 at a
zone edge, less than 1e-4 for a city near its central meridian), elsewhere the WGS84 UTM zone.
They are meant for city-scale shapes; a geometry spanning several zones is measured in the
zone of its centre. Point-to-point distance is geodesic on the WGS84 ellipsoid.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Final, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt
import pyproj
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from geo.crs import in_china
from geo.errors import GeoError

G = TypeVar("G", bound=BaseGeometry)
_Floats: TypeAlias = npt.NDArray[np.float64]
_XYFn: TypeAlias = Callable[[npt.ArrayLike, npt.ArrayLike], tuple[_Floats, _Floats]]

WGS84: Final = pyproj.CRS.from_epsg(4326)
_GEOD: Final = pyproj.Geod(ellps="WGS84")

_GK_FIRST_EPSG: Final = 4534  # CGCS2000 / 3-degree Gauss-Kruger CM 75E
_GK_FIRST_CM: Final = 75
_GK_LAST_CM: Final = 135


def metric_epsg_for(lon: float, lat: float) -> int:
    """EPSG code of the metric CRS for a place: a CGCS2000 GK zone in China, else UTM."""
    if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lat) > 90 or abs(lon) > 180:
        raise GeoError(
            "out_of_range",
            f"Cannot choose a projection for ({lon}, {lat}): not a longitude/latitude.",
            f"无法为 ({lon}, {lat}) 选择投影：不是有效的经纬度。",
            location=(lon, lat) if math.isfinite(lon) and math.isfinite(lat) else None,
        )
    if in_china(lon, lat):
        # Halfway meridians (76.5E, ...) go east, the same way every time.
        central_meridian = min(max(3 * math.floor(lon / 3 + 0.5), _GK_FIRST_CM), _GK_LAST_CM)
        return _GK_FIRST_EPSG + (central_meridian - _GK_FIRST_CM) // 3
    zone = min(int((lon + 180) // 6) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


@lru_cache(maxsize=128)
def _crs(epsg: int) -> pyproj.CRS:
    return pyproj.CRS.from_epsg(epsg)


@lru_cache(maxsize=128)
def _transformers(epsg: int) -> tuple[pyproj.Transformer, pyproj.Transformer]:
    # pyproj >= 3.1 transformers are safe to share between threads.
    forward = pyproj.Transformer.from_crs(WGS84, _crs(epsg), always_xy=True)
    inverse = pyproj.Transformer.from_crs(_crs(epsg), WGS84, always_xy=True)
    return forward, inverse


def metric_crs_for(lon: float, lat: float) -> pyproj.CRS:
    """The metric CRS for a place: CGCS2000 3-degree GK in China (Yangzhou: EPSG:4549), else UTM."""
    return _crs(metric_epsg_for(lon, lat))


class MetricProjection:
    """A WGS84 ⇄ metres projection fitted to a place, with cached transformers."""

    epsg: int
    crs: pyproj.CRS

    def __init__(self, lon0: float, lat0: float) -> None:
        self._use(metric_epsg_for(lon0, lat0))

    @classmethod
    def from_epsg(cls, epsg: int) -> MetricProjection:
        """The projection onto a given metric CRS."""
        projection = cls.__new__(cls)
        projection._use(epsg)
        return projection

    def _use(self, epsg: int) -> None:
        self.epsg = epsg
        self.crs = _crs(epsg)
        self._forward, self._inverse = _transformers(epsg)

    def __repr__(self) -> str:
        return f"MetricProjection(EPSG:{self.epsg} {self.crs.name})"

    def project_xy(self, lons: npt.ArrayLike, lats: npt.ArrayLike) -> tuple[_Floats, _Floats]:
        """Longitudes and latitudes to eastings and northings in metres (vectorised)."""
        x, y = self._forward.transform(
            np.asarray(lons, dtype=np.float64), np.asarray(lats, dtype=np.float64)
        )
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def unproject_xy(self, xs: npt.ArrayLike, ys: npt.ArrayLike) -> tuple[_Floats, _Floats]:
        """Eastings and northings in metres back to longitudes and latitudes (vectorised)."""
        lon, lat = self._inverse.transform(
            np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
        )
        return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)

    def project(self, geom: G) -> G:
        """A lon/lat geometry in metres."""
        return _apply(geom, self.project_xy)

    def unproject(self, geom: G) -> G:
        """A geometry in metres back in lon/lat."""
        return _apply(geom, self.unproject_xy)


def _apply(geom: G, fn: _XYFn) -> G:
    def on_coords(coords: _Floats) -> _Floats:
        x, y = fn(coords[:, 0], coords[:, 1])
        return np.column_stack((x, y))

    result: G = shapely.transform(geom, on_coords)
    return result


@lru_cache(maxsize=128)
def _projection_for_epsg(epsg: int) -> MetricProjection:
    return MetricProjection.from_epsg(epsg)


def projection_for(geom: BaseGeometry) -> MetricProjection:
    """The metric projection for a geometry, chosen at its centroid (one per zone, cached)."""
    if geom.is_empty:
        raise GeoError(
            "empty",
            "Cannot measure an empty geometry.",
            "无法度量空几何。",
        )
    centroid = shapely.centroid(geom)
    return _projection_for_epsg(metric_epsg_for(centroid.x, centroid.y))


def _lonlat(p: tuple[float, float] | Point) -> tuple[float, float]:
    if isinstance(p, Point):
        return float(p.x), float(p.y)
    return float(p[0]), float(p[1])


def distance_m(a: tuple[float, float] | Point, b: tuple[float, float] | Point) -> float:
    """Geodesic distance in metres between two (lon, lat) points on the WGS84 ellipsoid."""
    lon1, lat1 = _lonlat(a)
    lon2, lat2 = _lonlat(b)
    _, _, dist = _GEOD.inv(lon1, lat1, lon2, lat2)
    return float(dist)


def area_m2(geom: BaseGeometry) -> float:
    """Area in square metres, measured in the geometry's metric projection."""
    if geom.is_empty:
        return 0.0
    return float(projection_for(geom).project(geom).area)


def length_m(geom: BaseGeometry) -> float:
    """Length in metres (the perimeter for polygons), measured in the metric projection."""
    if geom.is_empty:
        return 0.0
    return float(projection_for(geom).project(geom).length)


def buffer_m(geom: BaseGeometry, metres: float, *, quad_segs: int = 16) -> BaseGeometry:
    """The geometry grown (or, for negative ``metres``, shrunk) by a distance in metres.

    The buffer is built in the metric projection and returned in WGS84 lon/lat.
    """
    projection = projection_for(geom)
    grown = projection.project(geom).buffer(metres, quad_segs=quad_segs)
    return projection.unproject(grown)

"""Metric measures: the zone chosen for a place, and areas, lengths and buffers in metres."""

from __future__ import annotations

import math

import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon, box

from geo.errors import GeoError
from geo.measure import (
    MetricProjection,
    area_m2,
    buffer_m,
    distance_m,
    length_m,
    metric_crs_for,
    metric_epsg_for,
    projection_for,
)

GEOD = pyproj.Geod(ellps="WGS84")
YANGZHOU = (119.43, 32.39)


def geodesic_area(geom: Polygon) -> float:
    return abs(float(GEOD.geometry_area_perimeter(geom)[0]))


def square_km(lon: float, lat: float) -> Polygon:
    """A 1 km × 1 km square laid out in the metric projection of (lon, lat), in lon/lat."""
    projection = MetricProjection(lon, lat)
    x, y = projection.project_xy([lon], [lat])
    return projection.unproject(box(x[0], y[0], x[0] + 1000, y[0] + 1000))


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (119.43, 32.39, 4549),  # Yangzhou: CGCS2000 GK CM 120E
        (116.40, 39.90, 4548),  # Beijing: CM 117E
        (87.60, 43.80, 4538),  # Urumqi: CM 87E
        (75.99, 39.47, 4534),  # Kashgar: CM 75E, the first zone
        (134.29, 48.36, 4554),  # Fuyuan: CM 135E, the last zone
        (121.56, 25.03, 32651),  # Taipei: outside the mainland outline, UTM 51N
        (2.35, 48.85, 32631),  # Paris: UTM 31N
        (151.21, -33.87, 32756),  # Sydney: UTM 56S
    ],
)
def test_metric_crs_for(lon: float, lat: float, epsg: int) -> None:
    assert metric_epsg_for(lon, lat) == epsg
    crs = metric_crs_for(lon, lat)
    assert crs.to_epsg() == epsg
    assert crs.is_projected
    assert crs.axis_info[0].unit_name == "metre"


def test_yangzhou_is_in_the_120e_gauss_kruger_zone() -> None:
    crs = metric_crs_for(*YANGZHOU)
    assert "Gauss-Kruger CM 120E" in crs.name
    assert "CGCS2000" in crs.name


def test_not_a_place() -> None:
    for lon, lat in [(float("nan"), 30.0), (500000.0, 3500000.0)]:
        with pytest.raises(GeoError) as info:
            metric_epsg_for(lon, lat)
        assert info.value.code == "out_of_range"


def test_projection_axes_are_easting_then_northing() -> None:
    projection = MetricProjection(*YANGZHOU)
    x, y = projection.project_xy([YANGZHOU[0]], [YANGZHOU[1]])
    # GK without zone prefix: easting around the 500 km false easting, northing ~3585 km.
    assert 440_000 < x[0] < 500_000
    assert 3_550_000 < y[0] < 3_600_000


def test_project_unproject_round_trip_vectorised() -> None:
    projection = MetricProjection(*YANGZHOU)
    rng = np.random.default_rng(3)
    lons = YANGZHOU[0] + rng.uniform(-0.1, 0.1, 1000)
    lats = YANGZHOU[1] + rng.uniform(-0.1, 0.1, 1000)
    x, y = projection.project_xy(lons, lats)
    assert x.shape == (1000,) and y.shape == (1000,)
    back_lon, back_lat = projection.unproject_xy(x, y)
    np.testing.assert_allclose(back_lon, lons, atol=1e-9)
    np.testing.assert_allclose(back_lat, lats, atol=1e-9)
    geom = Polygon(list(zip(lons[:3], lats[:3], strict=True)))
    assert projection.unproject(projection.project(geom)).equals_exact(geom, 1e-9)


def test_projection_for_is_cached_per_zone() -> None:
    a = projection_for(Point(119.1, 32.1))
    b = projection_for(box(119.4, 32.3, 119.5, 32.4))
    c = projection_for(Point(116.4, 39.9))
    assert a is b
    assert a.epsg == 4549 and c.epsg == 4548
    with pytest.raises(GeoError) as info:
        projection_for(Polygon())
    assert info.value.code == "empty"


@pytest.mark.parametrize("lon", [118.6, 119.43, 120.0, 121.45, 87.6, 2.35])
def test_square_kilometre(lon: float) -> None:
    square = square_km(lon, 32.39)
    assert area_m2(square) == pytest.approx(1e6, rel=1e-3)
    # Against the ellipsoid, not only against the projection it was built in: the GK zones
    # keep the scale error of a 3-degree zone within 0.1 % in area.
    assert geodesic_area(square) == pytest.approx(1e6, rel=1e-3)
    assert length_m(square) == pytest.approx(4000, rel=1e-3)


def test_area_of_a_lon_lat_box_is_not_in_degrees() -> None:
    cell = box(119.42, 32.38, 119.43, 32.39)  # about 940 m × 1110 m
    assert area_m2(cell) == pytest.approx(geodesic_area(cell), rel=1e-3)
    assert 1.0e6 < area_m2(cell) < 1.1e6


def test_distance_between_points_one_kilometre_apart() -> None:
    lon2, lat2, _ = GEOD.fwd(*YANGZHOU, 37.0, 1000.0)
    assert distance_m(YANGZHOU, (lon2, lat2)) == pytest.approx(1000.0, abs=1e-6)
    assert distance_m(Point(YANGZHOU), Point(lon2, lat2)) == pytest.approx(1000.0, abs=1e-6)
    line = LineString([YANGZHOU, (lon2, lat2)])
    assert length_m(line) == pytest.approx(1000.0, rel=1e-3)


def test_distance_across_a_degree_of_latitude() -> None:
    # One degree of latitude at 32°N is about 110.9 km on the WGS84 ellipsoid.
    assert distance_m((119.43, 32.0), (119.43, 33.0)) == pytest.approx(110_900, rel=2e-3)


def test_buffer_of_a_point() -> None:
    disc = buffer_m(Point(*YANGZHOU), 50)
    assert area_m2(disc) == pytest.approx(math.pi * 50**2, rel=5e-3)
    # Every vertex of the disc is 50 m from the centre, measured on the ellipsoid.
    for x, y in shapely.get_coordinates(disc):
        assert distance_m(YANGZHOU, (float(x), float(y))) == pytest.approx(50, abs=0.05)


def test_negative_buffer_shrinks() -> None:
    square = square_km(*YANGZHOU)
    inner = buffer_m(square, -100)
    assert area_m2(inner) == pytest.approx(800 * 800, rel=1e-3)


def test_empty_measures_are_zero() -> None:
    assert area_m2(Polygon()) == 0.0
    assert length_m(LineString()) == 0.0

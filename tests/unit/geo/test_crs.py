"""WGS84 ⇄ GCJ-02 ⇄ BD-09: published vectors, sub-metre round trips, identity abroad."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import pyproj
import pytest
import shapely

from geo.crs import (
    CHINA_OUTLINE,
    SUPPORTED,
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    in_china_xy,
    normalize_crs,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from geo.errors import GeoError

GEOD = pyproj.Geod(ellps="WGS84")
YANGZHOU = (119.43, 32.39)
Conv = Callable[[float, float], tuple[float, float]]


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[0], a[1], b[0], b[1])[2])


def east_north(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    azimuth, _, dist = GEOD.inv(a[0], a[1], b[0], b[1])
    return dist * math.sin(math.radians(azimuth)), dist * math.cos(math.radians(azimuth))


# --------------------------------------------------------------------------- in_china

INSIDE = {
    "Beijing": (116.40, 39.90),
    "Shanghai": (121.47, 31.23),
    "Yangzhou": YANGZHOU,
    "Urumqi": (87.6, 43.8),
    "Lhasa": (91.1, 29.65),
    "Harbin": (126.6, 45.75),
    "Haikou": (110.3, 20.0),
    "Sanya": (109.51, 18.25),
    "Kashgar": (75.99, 39.47),
    "Shenzhen": (114.06, 22.54),
    "Zhuhai": (113.57, 22.27),
    "Dalian": (121.6, 38.91),
    "Xiamen": (118.09, 24.48),
    "Kunming": (102.83, 24.88),
    "Manzhouli": (117.43, 49.6),
    "Mohe": (122.54, 52.97),
    "Altay": (88.13, 47.85),
}
OUTSIDE = {
    "Seoul": (126.98, 37.57),
    "Pyongyang": (125.75, 39.03),
    "Tokyo": (139.69, 35.69),
    "Ulaanbaatar": (106.9, 47.9),
    "Hanoi": (105.85, 21.03),
    "Taipei": (121.56, 25.03),
    "Kaohsiung": (120.3, 22.62),
    "Hong Kong": (114.17, 22.32),
    "Macau": (113.545, 22.19),
    "Vladivostok": (131.89, 43.12),
    "Almaty": (76.9, 43.25),
    "Kathmandu": (85.3, 27.7),
    "Paris": (2.35, 48.85),
}


@pytest.mark.parametrize("name", sorted(INSIDE))
def test_inside_mainland_china(name: str) -> None:
    assert in_china(*INSIDE[name])


@pytest.mark.parametrize("name", sorted(OUTSIDE))
def test_outside_mainland_china(name: str) -> None:
    assert not in_china(*OUTSIDE[name])


def test_in_china_xy_agrees_with_in_china() -> None:
    places = list(INSIDE.values()) + list(OUTSIDE.values())
    lons, lats = zip(*places, strict=True)
    expected = [in_china(lon, lat) for lon, lat in places]
    assert in_china_xy(lons, lats).tolist() == expected
    assert not in_china(float("nan"), 32.0)


def test_outline_is_valid_and_inside_the_range_prcoords_handles() -> None:
    assert CHINA_OUTLINE.is_valid
    minx, miny, maxx, maxy = CHINA_OUTLINE.bounds
    assert minx >= 72.004 and maxx <= 137.8347
    assert miny >= 0.8293 and maxy <= 55.8271
    # The outline covers roughly the 9.6 million km² of China: a sanity check on its shape.
    area_km2 = abs(GEOD.geometry_area_perimeter(CHINA_OUTLINE)[0]) / 1e6
    assert 9.0e6 < area_km2 < 11.5e6


# --------------------------------------------------------------------------- published vectors

# googollee/eviltransform, python/test.py and go/transform_test.go: (wgs lat, wgs lng,
# gcj lat, gcj lng) for Shanghai, Shenzhen and Beijing.
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),
]


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVILTRANSFORM)
def test_eviltransform_vectors(wlat: float, wlon: float, glat: float, glon: float) -> None:
    assert wgs84_to_gcj02(wlon, wlat) == pytest.approx((glon, glat), abs=1e-6)
    # The published GCJ point taken back lands on the published WGS point (their test allows
    # 0.5 m for the "exact" inverse; ours is iterated to 1e-9 degree).
    assert gcj02_to_wgs84(glon, glat) == pytest.approx((wlon, wlat), abs=1e-7)


# wandergis/coordtransform README, all for the input (116.404, 39.915), (lng, lat) order.
WANDERGIS_INPUT = (116.404, 39.915)


def test_wandergis_forward_vectors() -> None:
    assert wgs84_to_gcj02(*WANDERGIS_INPUT) == pytest.approx(
        (116.41024449916938, 39.91640428150164), abs=1e-6
    )
    assert gcj02_to_bd09(*WANDERGIS_INPUT) == pytest.approx(
        (116.41036949371029, 39.92133699351021), abs=1e-6
    )


@pytest.mark.parametrize(
    ("inverse", "forward", "one_step"),
    [
        (gcj02_to_wgs84, wgs84_to_gcj02, (116.39775550083061, 39.91359571849836)),
        (bd09_to_gcj02, gcj02_to_bd09, (116.39762729119315, 39.90865673957631)),
    ],
)
def test_wandergis_inverse_vectors(
    inverse: Conv, forward: Conv, one_step: tuple[float, float]
) -> None:
    solved = inverse(*WANDERGIS_INPUT)
    # The README's inverses are one-step approximations, good to about 1e-6 degree ...
    assert solved == pytest.approx(one_step, abs=1e-6)
    # ... ours is iterated until the forward transform gives the input back.
    assert forward(*solved) == pytest.approx(WANDERGIS_INPUT, abs=1e-9)
    assert forward(*one_step) != pytest.approx(WANDERGIS_INPUT, abs=1e-9)


# --------------------------------------------------------------------------- offsets


def test_gcj02_offset_near_yangzhou_is_a_few_hundred_metres_east_south_east() -> None:
    east, north = east_north(YANGZHOU, wgs84_to_gcj02(*YANGZHOU))
    # Observed with prcoords: about 512 m east and 210 m south (555 m in all).
    assert 450 < east < 580
    assert -260 < north < -160
    assert 400 < math.hypot(east, north) < 700


def test_gcj02_offset_at_tiananmen() -> None:
    tiananmen = (116.397, 39.908)
    east, north = east_north(tiananmen, wgs84_to_gcj02(*tiananmen))
    # Observed: about 534 m east and 156 m north (556 m in all).
    assert 400 < math.hypot(east, north) < 700
    assert east > 450 and 100 < north < 220


def test_bd09_offset_near_yangzhou_is_about_a_kilometre_north_east() -> None:
    east, north = east_north(YANGZHOU, wgs84_to_bd09(*YANGZHOU))
    assert 1000 < east < 1300 and 300 < north < 600


# --------------------------------------------------------------------------- round trips

PAIRS = [
    ("gcj02", wgs84_to_gcj02, gcj02_to_wgs84),
    ("bd09", wgs84_to_bd09, bd09_to_wgs84),
]


def china_grid(step: float) -> list[tuple[float, float]]:
    return [
        (float(lon), float(lat))
        for lon in np.arange(73.5, 135.0, step)
        for lat in np.arange(18.0, 53.6, step)
        if in_china(float(lon), float(lat))
    ]


@pytest.mark.parametrize(("name", "forward", "inverse"), PAIRS)
def test_round_trip_across_china_is_sub_centimetre(name: str, forward: Conv, inverse: Conv) -> None:
    points = china_grid(1.0)
    assert len(points) > 800
    worst = max(metres(p, inverse(*forward(*p))) for p in points)
    assert worst < 0.01, f"{name}: {worst} m"


@pytest.mark.parametrize(("name", "forward", "inverse"), PAIRS)
def test_round_trip_around_yangzhou(name: str, forward: Conv, inverse: Conv) -> None:
    rng = np.random.default_rng(7)
    lons = YANGZHOU[0] + rng.uniform(-0.05, 0.05, 500)
    lats = YANGZHOU[1] + rng.uniform(-0.05, 0.05, 500)
    for p in zip(lons.tolist(), lats.tolist(), strict=True):
        assert metres(p, inverse(*forward(*p))) < 0.01
        # and the other way: a phone's GCJ-02/BD-09 reading taken to WGS84 and back
        assert metres(p, forward(*inverse(*p))) < 0.01


def test_round_trip_gcj02_bd09() -> None:
    for p in china_grid(2.0):
        assert metres(p, bd09_to_gcj02(*gcj02_to_bd09(*p))) < 0.01


def test_bd09_is_gcj02_then_baidu_shift() -> None:
    for p in china_grid(3.0):
        assert wgs84_to_bd09(*p) == gcj02_to_bd09(*wgs84_to_gcj02(*p))


def test_round_trip_is_exact_right_at_the_outline() -> None:
    # Points a hair inside the outline, where the shifted point may fall outside it.
    inner = CHINA_OUTLINE.buffer(-1e-6)
    for x, y in shapely.get_coordinates(inner.exterior)[::7]:
        p = (float(x), float(y))
        assert in_china(*p)
        assert metres(p, gcj02_to_wgs84(*wgs84_to_gcj02(*p))) < 0.01
        assert metres(p, bd09_to_wgs84(*wgs84_to_bd09(*p))) < 0.01


# --------------------------------------------------------------------------- abroad and API


@pytest.mark.parametrize("name", sorted(OUTSIDE))
def test_identity_outside_china(name: str) -> None:
    p = OUTSIDE[name]
    for crs in SUPPORTED:
        assert to_wgs84(*p, crs) == p
        assert from_wgs84(*p, crs) == p


def test_no_warnings_anywhere() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for p in [*OUTSIDE.values(), (0.0, 0.0), (179.9, -89.9), (float("nan"), 1.0)]:
            for crs in SUPPORTED:
                to_wgs84(*p, crs)
                from_wgs84(*p, crs)


def test_to_and_from_wgs84_dispatch() -> None:
    assert to_wgs84(*YANGZHOU, "wgs84") == YANGZHOU
    gcj = from_wgs84(*YANGZHOU, "gcj02")
    assert gcj == wgs84_to_gcj02(*YANGZHOU)
    assert to_wgs84(*gcj, "gcj02") == pytest.approx(YANGZHOU, abs=1e-9)
    bd = from_wgs84(*YANGZHOU, "bd09")
    assert to_wgs84(*bd, "bd09") == pytest.approx(YANGZHOU, abs=1e-9)


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [("GCJ-02", "gcj02"), ("amap", "gcj02"), ("BD09", "bd09"), ("baidu", "bd09"),
     ("WGS84", "wgs84"), ("EPSG:4326", "wgs84"), ("cgcs2000", "wgs84")],
)  # fmt: skip
def test_aliases(alias: str, canonical: str) -> None:
    assert normalize_crs(alias) == canonical


@pytest.mark.parametrize("bad", ["epsg3857", "mercator", "", "gcj03"])
def test_unsupported_crs(bad: str) -> None:
    with pytest.raises(GeoError) as info:
        to_wgs84(*YANGZHOU, bad)
    assert info.value.code == "unsupported_crs"
    assert info.value.message_zh
    with pytest.raises(GeoError):
        from_wgs84(*YANGZHOU, bad)

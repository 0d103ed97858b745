"""GeoJSON parsing: every kind of bad input gets its own code, path and (where it has one) place."""

from __future__ import annotations

import json
import pickle
from fractions import Fraction
from typing import Any

import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from geo.errors import GeoError
from geo.geojson import (
    ensure_multipolygon,
    ensure_polygon,
    parse_feature_collection,
    parse_geometry,
    round_geometry,
    to_geojson,
    validate_lonlat,
)

# A block in Yangzhou, about 400 m across.
SQUARE = [[119.425, 32.385], [119.429, 32.385], [119.429, 32.389], [119.425, 32.389]]
HOLE = [[119.426, 32.386], [119.427, 32.386], [119.427, 32.387], [119.426, 32.387]]


def ring(points: list[list[float]]) -> list[list[float]]:
    return [*points, points[0]]


def polygon(*rings: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring(r) for r in rings]}


def feature(geometry: Any, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": props}


def collection(*features: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features), **extra}


def fails(obj: Any, code: str, **kwargs: Any) -> GeoError:
    with pytest.raises(GeoError) as info:
        parse_geometry(obj, **kwargs)
    err = info.value
    assert err.code == code, f"{err.code}: {err.message}"
    assert err.message and err.message_zh and err.message != err.message_zh
    assert str(err) == err.message
    return err


# --------------------------------------------------------------------------- good input


def test_polygon_parses_from_mapping_and_from_text() -> None:
    doc = polygon(SQUARE, HOLE)
    for source in (doc, json.dumps(doc), json.dumps(doc).encode()):
        geom = parse_geometry(source)
        assert isinstance(geom, Polygon)
        assert len(geom.interiors) == 1
        assert geom.bounds == (119.425, 32.385, 119.429, 32.389)


def test_multipolygon_parses() -> None:
    far = [[x + 0.01, y] for x, y in SQUARE]
    geom = parse_geometry({"type": "MultiPolygon", "coordinates": [[ring(SQUARE)], [ring(far)]]})
    assert isinstance(geom, MultiPolygon)
    assert len(geom.geoms) == 2


def test_altitude_is_dropped() -> None:
    geom = parse_geometry(polygon([[x, y, 12.5] for x, y in SQUARE]))
    assert not geom.has_z


def test_other_types_when_allowed() -> None:
    line = parse_geometry({"type": "LineString", "coordinates": SQUARE}, allowed=("LineString",))
    assert isinstance(line, LineString)
    point = parse_geometry({"type": "Point", "coordinates": [119.43, 32.39]}, allowed=("Point",))
    assert isinstance(point, Point)


@pytest.mark.parametrize(
    "name",
    [
        "EPSG:4326",
        "urn:ogc:def:crs:EPSG::4326",
        "urn:ogc:def:crs:OGC:1.3:CRS84",
        "http://www.opengis.net/def/crs/EPSG/0/4326",
        "EPSG:4490",  # CGCS2000: centimetres from WGS84, accepted as the same
        "urn:ogc:def:crs:EPSG::4490",
    ],
)
def test_legacy_crs_naming_wgs84_or_cgcs2000_is_accepted(name: str) -> None:
    doc = {**polygon(SQUARE), "crs": {"type": "name", "properties": {"name": name}}}
    assert isinstance(parse_geometry(doc), Polygon)


def test_a_polygon_outside_china_is_not_taken_for_swapped() -> None:
    paris = [[2.29, 48.85], [2.30, 48.85], [2.30, 48.86], [2.29, 48.86]]
    assert isinstance(parse_geometry(polygon(paris)), Polygon)


def test_western_china_is_not_taken_for_swapped() -> None:
    kashgar = [[75.98, 39.46], [76.0, 39.46], [76.0, 39.48], [75.98, 39.48]]
    assert isinstance(parse_geometry(polygon(kashgar)), Polygon)


# --------------------------------------------------------------------------- bad input


def test_invalid_json() -> None:
    err = fails('{"type": "Polygon", "coordinates": [[[119.4, 32.3],', "invalid_json")
    assert "line 1" in err.message


@pytest.mark.parametrize(
    ("doc", "found"),
    [
        ({"type": "LineString", "coordinates": SQUARE}, "LineString"),
        ({"type": "Point", "coordinates": [119.43, 32.39]}, "Point"),
        (feature(polygon(SQUARE)), "Feature"),
        ({"type": "Polygonn", "coordinates": []}, "Polygonn"),
    ],
)
def test_wrong_type_names_what_was_found_and_what_is_allowed(doc: Any, found: str) -> None:
    err = fails(doc, "wrong_type")
    assert found in err.message
    assert "Polygon or MultiPolygon" in err.message
    assert err.path == "type"


def test_wrong_type_for_a_json_array() -> None:
    err = fails("[1, 2]", "wrong_type")
    assert "array" in err.message


def test_ensure_polygon_and_multipolygon() -> None:
    square = Polygon(SQUARE)
    assert ensure_polygon(MultiPolygon([square])).equals(square)
    assert ensure_polygon(square) is square
    assert isinstance(ensure_multipolygon(square), MultiPolygon)
    two = MultiPolygon([square, Polygon([(x + 0.01, y) for x, y in SQUARE])])
    assert ensure_multipolygon(two) is two
    with pytest.raises(GeoError) as info:
        ensure_polygon(two)
    assert info.value.code == "wrong_type"
    assert "2 parts" in info.value.message
    with pytest.raises(GeoError) as info:
        ensure_multipolygon(LineString(SQUARE))
    assert info.value.code == "wrong_type"


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"type": "Polygon", "coordinates": []}, "coordinates"),
        ({"type": "Polygon", "coordinates": [[]]}, "coordinates[0]"),
        ({"type": "Polygon"}, "coordinates"),
        ({"type": "Polygon", "coordinates": None}, "coordinates"),
        ({"type": "MultiPolygon", "coordinates": []}, "coordinates"),
        ({"type": "MultiPolygon", "coordinates": [[ring(SQUARE)], []]}, "coordinates[1]"),
    ],
)
def test_empty(doc: Any, path: str) -> None:
    assert fails(doc, "empty").path == path


def test_too_few_points() -> None:
    doc = {"type": "Polygon", "coordinates": [[SQUARE[0], SQUARE[1], SQUARE[0]]]}
    err = fails(doc, "too_few_points")
    assert err.path == "coordinates[0]"
    assert "3 positions" in err.message


def test_too_few_distinct_points() -> None:
    same = [SQUARE[0]] * 4
    fails({"type": "Polygon", "coordinates": [same]}, "too_few_points")


def test_unclosed_exterior_ring() -> None:
    err = fails({"type": "Polygon", "coordinates": [SQUARE]}, "unclosed_ring")
    assert "exterior ring" in err.message
    assert "外环" in err.message_zh
    assert err.path == "coordinates[0]"
    assert err.location == (119.425, 32.389)


def test_unclosed_hole_of_a_multipolygon_part_is_named() -> None:
    doc = {"type": "MultiPolygon", "coordinates": [[ring(SQUARE)], [ring(SQUARE), HOLE]]}
    err = fails(doc, "unclosed_ring")
    assert "hole 1 of polygon 1" in err.message.lower()
    assert "第 1 个多边形的第 1 个内环" in err.message_zh
    assert err.path == "coordinates[1][1]"


def crossing(
    a: tuple[str, str], b: tuple[str, str], c: tuple[str, str], d: tuple[str, str]
) -> tuple[float, float]:
    """Where segment ab crosses segment cd, in exact rational arithmetic."""
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = ((Fraction(x), Fraction(y)) for x, y in (a, b, c, d))
    denom = (bx - ax) * (dy - cy) - (by - ay) * (dx - cx)
    t = ((cx - ax) * (dy - cy) - (cy - ay) * (dx - cx)) / denom
    assert 0 < t < 1
    return float(ax + t * (bx - ax)), float(ay + t * (by - ay))


def test_self_intersection_reports_the_crossing_point() -> None:
    # A lopsided bow-tie: the edge a→b crosses the edge c→d.
    a, b, c, d = (
        ("119.401", "32.381"),
        ("119.447", "32.402"),
        ("119.443", "32.379"),
        ("119.405", "32.406"),
    )
    coords = [[float(x), float(y)] for x, y in (a, b, c, d, a)]
    err = fails({"type": "Polygon", "coordinates": [coords]}, "self_intersection")
    expected = crossing(a, b, c, d)
    assert err.location is not None
    assert err.location == pytest.approx(expected, abs=1e-6)
    shown = f"({err.location[0]:.7f}, {err.location[1]:.7f})"
    assert shown in err.message
    assert shown in err.message_zh
    assert err.path == "coordinates"


def test_self_intersection_in_one_part_names_the_part() -> None:
    bow = [[119.40, 32.38], [119.42, 32.40], [119.42, 32.38], [119.40, 32.40], [119.40, 32.38]]
    far = ring([[x + 0.1, y] for x, y in SQUARE])
    err = fails({"type": "MultiPolygon", "coordinates": [[far], [bow]]}, "self_intersection")
    assert err.path == "coordinates[1]"
    assert err.location == pytest.approx((119.41, 32.39), abs=1e-9)


def test_ring_touching_itself_is_invalid_geometry() -> None:
    # The exterior ring comes back to one of its own corners (a pinched ring).
    pinched = [
        [119.40, 32.38],
        [119.44, 32.38],
        [119.42, 32.40],
        [119.44, 32.42],
        [119.40, 32.42],
        [119.42, 32.40],
        [119.40, 32.38],
    ]
    err = fails({"type": "Polygon", "coordinates": [pinched]}, "invalid_geometry")
    assert err.location == pytest.approx((119.42, 32.40), abs=1e-9)


def test_hole_outside_shell_is_invalid_geometry() -> None:
    outside = [[x + 0.01, y] for x, y in HOLE]
    err = fails(polygon(SQUARE, outside), "invalid_geometry")
    assert "outside" in err.message
    assert err.location is not None


def test_overlapping_parts_of_a_multipolygon_are_invalid_geometry() -> None:
    shifted = [[x + 0.002, y] for x, y in SQUARE]
    doc = {"type": "MultiPolygon", "coordinates": [[ring(SQUARE)], [ring(shifted)]]}
    err = fails(doc, "invalid_geometry")
    assert "0 and 1" in err.message
    assert err.location is not None
    assert Polygon(SQUARE).intersects(Point(err.location))


@pytest.mark.parametrize(
    ("position", "hint"),
    [
        ([500000.0, 3584000.0], "metres"),  # a Gauss-Kruger easting/northing
        ([190.0, 32.39], ""),
        ([119.43, -95.0], ""),
    ],
)
def test_out_of_range(position: list[float], hint: str) -> None:
    coords = [position, *SQUARE[1:], position]
    err = fails({"type": "Polygon", "coordinates": [coords]}, "out_of_range")
    assert err.location == tuple(position)
    assert err.path == "coordinates[0][0]"
    assert hint in err.message


def test_swapped_lat_lon_in_eastern_china() -> None:
    swapped = [[y, x] for x, y in SQUARE]  # [32.385, 119.425]: latitude beyond 90
    err = fails(polygon(swapped), "swapped_lonlat")
    assert err.location == (32.385, 119.425)
    assert "[119.425, 32.385]" in err.message


def test_swapped_lat_lon_in_western_china() -> None:
    # Urumqi as [lat, lon]: both numbers are valid, but only the swapped reading is in China.
    urumqi = [[43.80, 87.60], [43.80, 87.62], [43.82, 87.62], [43.82, 87.60]]
    fails(polygon(urumqi), "swapped_lonlat")


@pytest.mark.parametrize(
    "name",
    ["EPSG:3857", "urn:ogc:def:crs:EPSG::32650", "EPSG:4549", "urn:ogc:def:crs:OGC:1.3:CRS83"],
)
def test_wrong_crs(name: str) -> None:
    doc = {**polygon(SQUARE), "crs": {"type": "name", "properties": {"name": name}}}
    err = fails(doc, "wrong_crs")
    assert name in err.message
    assert err.path == "crs"


def test_link_crs_is_refused() -> None:
    doc = {**polygon(SQUARE), "crs": {"type": "link", "properties": {"href": "x.prj"}}}
    fails(doc, "wrong_crs")


@pytest.mark.parametrize("bad", ["119.43", None, True, float("nan"), float("inf")])
def test_not_a_number(bad: Any) -> None:
    coords = ring([[119.425, bad], *SQUARE[1:]])
    err = fails({"type": "Polygon", "coordinates": [coords]}, "not_a_number")
    assert err.path == "coordinates[0][0][1]"


def test_nan_in_json_text_is_not_a_number() -> None:
    text = '{"type": "Polygon", "coordinates": [[[NaN, 32.3], [1, 2], [3, 4], [NaN, 32.3]]]}'
    fails(text, "not_a_number")


@pytest.mark.parametrize(
    ("coordinates", "path"),
    [
        (ring(SQUARE), "coordinates[0]"),  # a Polygon written as one ring: a level missing
        ([[ring(SQUARE)]], "coordinates[0][0]"),  # one level too many: a ring for a position
        ([[[119.43], *SQUARE[1:], [119.43]]], "coordinates[0][0]"),  # one number only
        ([119.43, 32.39], "coordinates"),
        ([[119.43, [ring(SQUARE)]]], "coordinates[0][0]"),
        ("119.43,32.39", "coordinates"),
    ],
)
def test_bad_nesting(coordinates: Any, path: str) -> None:
    err = fails({"type": "Polygon", "coordinates": coordinates}, "bad_nesting")
    assert err.path == path


# --------------------------------------------------------------------------- collections


def test_feature_collection_collects_every_bad_feature() -> None:
    doc = collection(
        feature(polygon(SQUARE), code="321002006001001", name="一网格"),
        feature({"type": "Polygon", "coordinates": [SQUARE]}, code="321002006001002"),
        feature(None, name="没有几何"),
        feature(polygon([[y, x] for x, y in SQUARE]), id=7),
        {"type": "Feature", "id": "f-5", "geometry": {"type": "Point"}, "properties": None},
        feature(polygon([[x + 0.01, y] for x, y in SQUARE])),
        {"type": "Polygon", "coordinates": []},
    )
    result = parse_feature_collection(doc)
    assert not result.ok
    assert [f.index for f in result.features] == [0, 5]
    assert result.features[0].properties == {"code": "321002006001001", "name": "一网格"}
    got = [(e.index, e.label, e.error.code, e.error.path) for e in result.errors]
    assert got == [
        (1, "321002006001002", "unclosed_ring", "features[1].geometry.coordinates[0]"),
        (2, "没有几何", "missing_geometry", "features[2].geometry"),
        (3, "7", "swapped_lonlat", "features[3].geometry.coordinates[0][0]"),
        (4, "f-5", "wrong_type", "features[4].geometry.type"),
        (6, "#6", "wrong_type", "features[6]"),
    ]
    body = result.errors[0].to_dict()
    assert body["label"] == "321002006001002" and body["message_zh"]


def test_feature_collection_all_good() -> None:
    result = parse_feature_collection(json.dumps(collection(feature(polygon(SQUARE), code="a"))))
    assert result.ok
    assert len(result.features) == 1
    assert isinstance(result.features[0].geometry, Polygon)


def test_single_feature_is_a_collection_of_one() -> None:
    result = parse_feature_collection(feature({"type": "Polygon", "coordinates": [SQUARE]}))
    assert [(e.index, e.label, e.error.path) for e in result.errors] == [
        (0, "#0", "geometry.coordinates[0]")
    ]


@pytest.mark.parametrize(
    ("doc", "code"),
    [
        ("not json", "invalid_json"),
        (polygon(SQUARE), "wrong_type"),
        ({"type": "FeatureCollection"}, "wrong_type"),
        (
            collection(
                feature(polygon(SQUARE)), crs={"type": "name", "properties": {"name": "EPSG:3857"}}
            ),
            "wrong_crs",
        ),
    ],
)
def test_document_level_errors(doc: Any, code: str) -> None:
    result = parse_feature_collection(doc)
    assert result.features == []
    assert [(e.index, e.label, e.error.code) for e in result.errors] == [(None, "document", code)]


def test_top_level_crs_naming_wgs84_applies_to_all() -> None:
    doc = collection(
        feature(polygon(SQUARE)), crs={"type": "name", "properties": {"name": "EPSG:4326"}}
    )
    assert parse_feature_collection(doc).ok


def test_allowed_types_reach_the_features() -> None:
    doc = collection(feature({"type": "Point", "coordinates": [119.43, 32.39]}))
    assert not parse_feature_collection(doc).ok
    assert parse_feature_collection(doc, allowed=("Point",)).ok


# --------------------------------------------------------------------------- output


def test_to_geojson_lists_rounded_and_counter_clockwise() -> None:
    clockwise = Polygon([(119.4, 32.3), (119.4, 32.31), (119.41, 32.31), (119.410000004, 32.3)])
    out = to_geojson(clockwise)
    assert out["type"] == "Polygon"
    exterior = out["coordinates"][0]
    assert isinstance(out["coordinates"], list) and isinstance(exterior[0], list)
    assert [119.41, 32.3] in exterior
    assert shapely.is_ccw(shapely.LinearRing(exterior))
    assert json.loads(json.dumps(out)) == out


def test_to_geojson_round_trips_through_the_parser() -> None:
    geom = parse_geometry(polygon(SQUARE, HOLE))
    again = parse_geometry(to_geojson(geom))
    assert again.equals(geom)
    assert round_geometry(geom).equals_exact(geom, 0)


def test_validate_lonlat() -> None:
    assert validate_lonlat(119.43, 32.39) == (119.43, 32.39)
    with pytest.raises(GeoError) as info:
        validate_lonlat(32.39, 119.43)
    assert info.value.code == "swapped_lonlat"
    with pytest.raises(GeoError) as info:
        validate_lonlat("x", 32.39)
    assert info.value.code == "not_a_number"


def test_geo_error_pickles_and_serialises() -> None:
    err = GeoError("out_of_range", "bad", "坏", location=(1.0, 2.0), path="coordinates[0]")
    again = pickle.loads(pickle.dumps(err))
    assert again.to_dict() == err.to_dict()
    assert err.to_dict()["location"] == [1.0, 2.0]
    assert err.with_path_prefix("features[2].geometry").path == (
        "features[2].geometry.coordinates[0]"
    )

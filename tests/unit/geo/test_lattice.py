"""Demo partitions: exact tilings, one Polygon per part, the same output for the same seed."""

from __future__ import annotations

import time
from itertools import combinations

import pytest
import shapely
from shapely.geometry import Point, Polygon, box

from geo.errors import GeoError
from geo.geojson import parse_geometry, to_geojson
from geo.lattice import DemoArea, demo_subdistrict, irregular_partition
from geo.measure import area_m2

# Outlines in metres: a U (its arms make Voronoi cells fall apart), a square with a hole,
# a crescent and a comb of narrow teeth.
U_SHAPE = Polygon(
    [(0, 0), (1000, 0), (1000, 1000), (700, 1000), (700, 300), (300, 300), (300, 1000), (0, 1000)]
)
WITH_HOLE = box(0, 0, 1000, 1000).difference(box(400, 400, 600, 600))
CRESCENT = Point(0, 0).buffer(500).difference(Point(200, 0).buffer(350))
COMB = Polygon(
    [(0, 0), (1000, 0), (1000, 1000), (900, 1000), (900, 100), (800, 100), (800, 1000),
     (700, 1000), (700, 100), (600, 100), (600, 1000), (0, 1000)]
)  # fmt: skip
OUTLINES = {"u": U_SHAPE, "hole": WITH_HOLE, "crescent": CRESCENT, "comb": COMB}


def assert_tiles(boundary: Polygon, parts: list[Polygon]) -> None:
    for part in parts:
        assert isinstance(part, Polygon), part.geom_type
        assert part.is_valid, shapely.is_valid_reason(part)
        assert not part.is_empty
    union = shapely.unary_union(parts)
    assert union.area == pytest.approx(boundary.area, rel=1e-6)
    assert union.symmetric_difference(boundary).area <= 1e-6 * boundary.area
    assert sum(p.area for p in parts) == pytest.approx(boundary.area, rel=1e-6)
    for a, b in combinations(parts, 2):
        assert a.intersection(b).area <= 1e-9 * boundary.area
    assert shapely.coverage_is_valid(parts)  # neighbours share their border vertex for vertex


def coordinates(area: DemoArea) -> list[list[tuple[float, float]]]:
    shapes = [area.boundary]
    for community in area.communities:
        shapes += [community.polygon, *community.grids]
    return [[(x, y) for x, y in shapely.get_coordinates(s).tolist()] for s in shapes]


# --------------------------------------------------------------------------- irregular_partition


@pytest.mark.parametrize("name", sorted(OUTLINES))
@pytest.mark.parametrize("n", [2, 7, 25])
def test_partition_tiles_awkward_outlines(name: str, n: int) -> None:
    boundary = OUTLINES[name]
    for seed in range(3):
        parts = irregular_partition(boundary, n, seed)
        assert len(parts) == n
        assert_tiles(boundary, parts)


def test_partition_in_lon_lat_units() -> None:
    boundary = box(119.42, 32.38, 119.44, 32.40)
    parts = irregular_partition(boundary, 12, seed=4)
    assert len(parts) == 12
    assert_tiles(boundary, parts)


def test_partition_parts_are_of_similar_size() -> None:
    boundary = box(0, 0, 2000, 2000)
    areas = [p.area for p in irregular_partition(boundary, 30, seed=9)]
    # Lloyd relaxation evens the cells out; raw random Voronoi cells differ tenfold and more.
    assert max(areas) / min(areas) < 4
    raw = [p.area for p in irregular_partition(boundary, 30, seed=9, lloyd_iterations=0)]
    assert max(raw) / min(raw) > max(areas) / min(areas)


def test_partition_is_deterministic() -> None:
    first = irregular_partition(U_SHAPE, 9, seed=1)
    again = irregular_partition(U_SHAPE, 9, seed=1)
    other = irregular_partition(U_SHAPE, 9, seed=2)
    assert all(a.equals_exact(b, 0) for a, b in zip(first, again, strict=True))
    assert not all(a.equals_exact(b, 1e-6) for a, b in zip(first, other, strict=True))


def test_partition_of_one_and_bad_arguments() -> None:
    assert irregular_partition(U_SHAPE, 1, seed=0) == [U_SHAPE]
    for bad_n in (0, -3):
        with pytest.raises(GeoError) as info:
            irregular_partition(U_SHAPE, bad_n, seed=0)
        assert info.value.code == "out_of_range"
    bow_tie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    with pytest.raises(GeoError) as info:
        irregular_partition(bow_tie, 3, seed=0)
    assert info.value.code == "invalid_geometry"


# --------------------------------------------------------------------------- demo_subdistrict


@pytest.fixture(scope="module")
def demo() -> DemoArea:
    return demo_subdistrict()


def test_demo_size_and_counts(demo: DemoArea) -> None:
    assert area_m2(demo.boundary) == pytest.approx(12.4e6, rel=1e-3)
    assert demo.boundary.contains(Point(119.43, 32.39))
    assert len(demo.communities) == 20
    assert [c.index for c in demo.communities] == list(range(20))
    assert all(10 <= len(c.grids) <= 20 for c in demo.communities)
    assert 200 <= len(demo.grids) <= 400
    assert len({len(c.grids) for c in demo.communities}) > 3  # counts vary


def test_demo_everything_valid_polygons(demo: DemoArea) -> None:
    shapes = [demo.boundary, *(c.polygon for c in demo.communities), *demo.grids]
    for shape in shapes:
        assert isinstance(shape, Polygon)
        assert shape.is_valid, shapely.is_valid_reason(shape)
        assert shapely.is_ccw(shape.exterior)


def test_demo_grids_tile_their_community(demo: DemoArea) -> None:
    for community in demo.communities:
        assert_tiles(community.polygon, community.grids)
        assert all(community.polygon.covers(grid) for grid in community.grids)


def test_demo_communities_tile_the_boundary(demo: DemoArea) -> None:
    polygons = [c.polygon for c in demo.communities]
    assert_tiles(demo.boundary, polygons)
    assert all(demo.boundary.covers(p) for p in polygons)
    # Across community borders too, grids meet vertex for vertex.
    assert shapely.coverage_is_valid(demo.grids)


def test_demo_grids_are_of_a_plausible_size(demo: DemoArea) -> None:
    areas = [area_m2(g) for g in demo.grids]
    assert min(areas) > 5_000  # half a hectare
    assert max(areas) < 200_000  # 20 hectares


def test_demo_coordinates_have_seven_decimals_and_survive_geojson(demo: DemoArea) -> None:
    for ring in coordinates(demo):
        assert all(round(x, 7) == x and round(y, 7) == y for x, y in ring)
    for shape in [demo.boundary, *demo.grids]:
        assert parse_geometry(to_geojson(shape)).equals_exact(shape, 0)


def test_demo_communities_north_first(demo: DemoArea) -> None:
    northings = [c.polygon.centroid.y for c in demo.communities]
    assert northings[0] == max(northings)
    assert northings[-1] == min(northings)


def test_demo_same_seed_same_coordinates(demo: DemoArea) -> None:
    assert coordinates(demo_subdistrict(seed=2026)) == coordinates(demo)
    assert coordinates(demo_subdistrict(seed=2027)) != coordinates(demo)


def test_demo_elsewhere_and_smaller() -> None:
    beijing = demo_subdistrict(116.40, 39.90, area_km2=3.0, n_communities=4,
                               grids_per_community=(3, 5), seed=1)  # fmt: skip
    assert area_m2(beijing.boundary) == pytest.approx(3.0e6, rel=1e-3)
    assert all(3 <= len(c.grids) <= 5 for c in beijing.communities)
    assert_tiles(beijing.boundary, [c.polygon for c in beijing.communities])
    paris = demo_subdistrict(2.35, 48.85, area_km2=1.0, n_communities=1,
                             grids_per_community=(1, 1), seed=0)  # fmt: skip
    assert len(paris.grids) == 1
    assert paris.grids[0].equals_exact(paris.boundary, 0)


def test_demo_bad_arguments() -> None:
    with pytest.raises(GeoError):
        demo_subdistrict(grids_per_community=(5, 2))
    with pytest.raises(GeoError):
        demo_subdistrict(area_km2=0)


def test_demo_is_fast() -> None:
    start = time.perf_counter()
    demo_subdistrict(seed=77)
    assert time.perf_counter() - start < 3.0

"""GridLocator: one point, many points and brute force agree, borders go to the lowest key."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import pytest
import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from geo.errors import GeoError
from geo.lattice import demo_subdistrict
from geo.locator import GridLocator

# A 10 × 10 lattice of 0.001-degree squares near Yangzhou.
X0, Y0, STEP = 119.42, 32.38, 0.001


def lattice_items(key: Any = None) -> list[tuple[Any, BaseGeometry]]:
    items = []
    for i in range(10):
        for j in range(10):
            cell = box(X0 + i * STEP, Y0 + j * STEP, X0 + (i + 1) * STEP, Y0 + (j + 1) * STEP)
            items.append((key(i, j) if key else f"321002006001{i * 10 + j:03d}", cell))
    return items


def brute_force(items: list[tuple[Any, BaseGeometry]], lon: float, lat: float) -> Any:
    point = shapely.Point(lon, lat)
    hits = [key for key, geom in items if geom.intersects(point)]
    return min(hits) if hits else None


def test_random_points_agree_with_brute_force() -> None:
    items = lattice_items()
    rng = np.random.default_rng(11)
    rng.shuffle(items)  # insertion order must not matter
    locator = GridLocator(items)
    lons = rng.uniform(X0 - 0.002, X0 + 0.012, 3000)
    lats = rng.uniform(Y0 - 0.002, Y0 + 0.012, 3000)
    many = locator.locate_many(lons, lats)
    one = [locator.locate(x, y) for x, y in zip(lons.tolist(), lats.tolist(), strict=True)]
    truth = [brute_force(items, x, y) for x, y in zip(lons.tolist(), lats.tolist(), strict=True)]
    assert many == one == truth
    assert sum(k is None for k in truth) > 300  # the test does cover points outside
    assert len({k for k in truth if k is not None}) == 100  # and every grid


def border_points() -> tuple[list[float], list[float]]:
    """Every lattice corner and the midpoint of every lattice edge, on and beyond the rim."""
    # The same expressions as the cell corners, so the points sit exactly on the edges.
    xs = [X0 + k * STEP for k in range(11)]
    ys = [Y0 + k * STEP for k in range(11)]
    x_mid = [(a + b) / 2 for a, b in pairwise(xs)]
    y_mid = [(a + b) / 2 for a, b in pairwise(ys)]
    points = [(x, y) for x in xs for y in ys]  # corners
    points += [(x, y) for x in x_mid for y in ys]  # midpoints of east-west edges
    points += [(x, y) for x in xs for y in y_mid]  # midpoints of north-south edges
    return [x for x, _ in points], [y for _, y in points]


def test_border_points_really_are_on_borders() -> None:
    items = lattice_items()
    lons, lats = border_points()
    shared = [
        sum(geom.intersects(shapely.Point(x, y)) for _, geom in items)
        for x, y in zip(lons, lats, strict=True)
    ]
    assert shared.count(4) == 81 and shared.count(2) == 2 * 9 * 10 + 4 * 9


def test_shared_edges_and_corners_go_to_the_lowest_code() -> None:
    items = lattice_items()
    locator = GridLocator(items)
    lons, lats = border_points()
    many = locator.locate_many(lons, lats)
    one = [locator.locate(x, y) for x, y in zip(lons, lats, strict=True)]
    truth = [brute_force(items, x, y) for x, y in zip(lons, lats, strict=True)]
    assert many == one == truth
    # An inner corner touches four cells; the one with the lowest code (south-west) wins.
    assert locator.locate(X0 + 5 * STEP, Y0 + 5 * STEP) == "321002006001044"
    # A point on the rim still belongs to its cell: borders are inclusive.
    assert locator.locate(X0, Y0 + 0.5 * STEP) == "321002006001000"


def test_lowest_key_wins_whatever_the_geometry_order() -> None:
    # Integer ids numbered against the lattice: the south-west cell has the highest id.
    items = lattice_items(key=lambda i, j: 1000 - (i * 10 + j))
    locator: GridLocator[int] = GridLocator(items)
    corner = (X0 + 5 * STEP, Y0 + 5 * STEP)  # shared by cells (4,4), (4,5), (5,4), (5,5)
    assert locator.locate(*corner) == 1000 - 55
    assert locator.locate_many([corner[0]], [corner[1]]) == [1000 - 55]
    lons, lats = border_points()
    truth = [brute_force(items, x, y) for x, y in zip(lons, lats, strict=True)]
    assert locator.locate_many(lons, lats) == truth


def test_points_outside_and_not_numbers() -> None:
    locator = GridLocator(lattice_items())
    assert locator.locate(0.0, 0.0) is None
    assert locator.locate(float("nan"), Y0) is None
    assert locator.locate_many([0.0, float("nan"), X0 + 0.0005], [0.0, Y0, Y0 + 0.0005]) == [
        None,
        None,
        "321002006001000",
    ]
    assert locator.locate_many(np.array([]), np.array([])) == []


def test_demo_grids_agree_with_brute_force_on_vertices_and_inside() -> None:
    area = demo_subdistrict()
    items = [(f"g{n:04d}", grid) for n, grid in enumerate(area.grids)]
    locator = GridLocator(items)
    # Every grid vertex lies on a border shared by up to three or four grids.
    coords = np.unique(shapely.get_coordinates([g for _, g in items]), axis=0)[::3]
    rng = np.random.default_rng(5)
    minx, miny, maxx, maxy = area.boundary.bounds
    lons = np.concatenate([coords[:, 0], rng.uniform(minx, maxx, 2000)])
    lats = np.concatenate([coords[:, 1], rng.uniform(miny, maxy, 2000)])
    many = locator.locate_many(lons, lats)
    truth = [brute_force(items, x, y) for x, y in zip(lons.tolist(), lats.tolist(), strict=True)]
    assert many == truth
    assert many[: len(coords)] == [locator.locate(x, y) for x, y in coords[: len(coords)].tolist()]
    assert all(key is not None for key in many[: len(coords)])


def test_keys_len_iteration_and_lookup() -> None:
    items = lattice_items()
    locator = GridLocator(reversed(items))
    assert len(locator) == 100
    assert locator.keys() == tuple(sorted(key for key, _ in items))
    assert list(locator) == list(locator.keys())
    assert "321002006001042" in locator
    assert locator.geometry("321002006001000").equals(items[0][1])
    with pytest.raises(KeyError):
        locator.geometry("nope")


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(GeoError) as info:
        GridLocator([("a", box(0, 0, 1, 1)), ("a", box(1, 0, 2, 1))])
    assert info.value.code == "duplicate_key"


def test_empty_locator() -> None:
    locator: GridLocator[str] = GridLocator([])
    assert len(locator) == 0
    assert locator.locate(X0, Y0) is None
    assert locator.locate_many([X0], [Y0]) == [None]


def test_mismatched_arrays() -> None:
    with pytest.raises(GeoError) as info:
        GridLocator(lattice_items()).locate_many([1.0, 2.0], [1.0])
    assert info.value.code == "shape_mismatch"

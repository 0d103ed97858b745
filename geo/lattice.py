"""Demo partitions: a plausible sub-district split into communities and grids, from a seed.

Parts are seeded Voronoi cells relaxed by Lloyd iterations (12 by default) to even out sizes,
cut along the outline. All parts are built from one noded set of lines, so neighbours share
exactly the same vertices along a common border: they tile their parent with no gap and no
overlap, and ``community.covers(grid)`` holds exactly, also after rounding to 7 decimals.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPolygon, Polygon

from geo.errors import GeoError
from geo.geojson import round_geometry
from geo.measure import MetricProjection

__all__ = [
    "DemoArea",
    "DemoCommunity",
    "demo_subdistrict",
    "irregular_partition",
]

_Floats = npt.NDArray[np.float64]

_DECIMALS: Final = 7
# The demo is built in metres and snap-rounded to this grid before it is turned into lon/lat,
# so vertices stay well apart (and away from other edges) when rounded to 7 decimals (~1 cm).
_SNAP_M: Final = 0.05
_OUTLINE_VERTICES: Final = 72


@dataclass(frozen=True)
class DemoCommunity:
    """One community of the demo: its outline and its grids, in WGS84 lon/lat."""

    index: int
    polygon: Polygon
    grids: list[Polygon]


@dataclass(frozen=True)
class DemoArea:
    """A demo sub-district: outline and communities (north first), in WGS84 lon/lat."""

    boundary: Polygon
    communities: list[DemoCommunity]

    @property
    def grids(self) -> list[Polygon]:
        """Every grid, community by community."""
        return [grid for community in self.communities for grid in community.grids]


def irregular_partition(
    boundary: Polygon, n: int, seed: int, *, lloyd_iterations: int = 12
) -> list[Polygon]:
    """Split a polygon into ``n`` contiguous, valid, non-overlapping Polygons that cover it.

    Works in the boundary's own planar units (use metres for similar-sized parts).
    The same boundary, ``n`` and ``seed`` always give the same parts.
    """
    if not isinstance(boundary, Polygon) or boundary.is_empty or not boundary.is_valid:
        raise GeoError(
            "invalid_geometry",
            "Only a valid, non-empty Polygon can be partitioned.",
            "只能划分有效且非空的多边形（Polygon）。",
        )
    if n < 1:
        raise GeoError(
            "out_of_range",
            f"The number of parts must be at least 1, got {n}.",
            f"划分数量至少为 1，实际为 {n}。",
        )
    if n == 1:
        return [boundary]
    rng = np.random.default_rng(seed)
    sites = _sample_inside(boundary, n, rng)
    for _ in range(lloyd_iterations):
        sites = _relax(sites, boundary)
    return _cut(boundary, sites)


def demo_subdistrict(
    center_lon: float = 119.43,
    center_lat: float = 32.39,
    area_km2: float = 12.4,
    n_communities: int = 20,
    grids_per_community: tuple[int, int] = (10, 20),
    seed: int = 2026,
) -> DemoArea:
    """A plausible sub-district of about ``area_km2`` around a centre, for demos and tests.

    Each community gets between ``grids_per_community[0]`` and ``[1]`` grids (inclusive).
    Coordinates are rounded to 7 decimals; the same arguments give identical coordinates.
    """
    low, high = grids_per_community
    if not (1 <= low <= high) or n_communities < 1 or area_km2 <= 0 or seed < 0:
        raise GeoError(
            "out_of_range",
            "Need area_km2 > 0, n_communities >= 1, 1 <= grids_per_community[0] <= [1] and "
            "seed >= 0.",
            "参数要求：area_km2 > 0，n_communities >= 1，"
            "1 <= grids_per_community[0] <= grids_per_community[1]，seed >= 0。",
        )
    rng = np.random.default_rng(seed)
    projection = MetricProjection(center_lon, center_lat)
    cx, cy = projection.project_xy([center_lon], [center_lat])
    outline = _outline(float(cx[0]), float(cy[0]), area_km2 * 1e6, rng)

    communities_m = irregular_partition(outline, n_communities, seed)
    counts = rng.integers(low, high + 1, size=n_communities)
    grids_m: list[Polygon] = []
    owner: list[int] = []
    for c, community in enumerate(communities_m):
        child_seed = int(rng.integers(0, 2**32))
        parts = irregular_partition(community, int(counts[c]), child_seed)
        grids_m.extend(parts)
        owner.extend([c] * len(parts))

    grids = [_to_lonlat(grid, projection) for grid in _noded_coverage(grids_m)]
    by_community: dict[int, list[Polygon]] = defaultdict(list)
    for grid, c in zip(grids, owner, strict=True):
        by_community[c].append(grid)

    communities = [
        (_ccw(_union(members)), _north_first(members))
        for _, members in sorted(by_community.items())
    ]
    boundary = _ccw(_union([polygon for polygon, _ in communities]))
    ordered = sorted(communities, key=lambda item: _reading_order(item[0]))
    return DemoArea(
        boundary=boundary,
        communities=[
            DemoCommunity(index=i, polygon=polygon, grids=members)
            for i, (polygon, members) in enumerate(ordered)
        ],
    )


# --------------------------------------------------------------------------- partition steps


def _sample_inside(boundary: Polygon, n: int, rng: np.random.Generator) -> _Floats:
    minx, miny, maxx, maxy = boundary.bounds
    found: list[_Floats] = []
    total = 0
    while total < n:
        xs = rng.uniform(minx, maxx, size=4 * n)
        ys = rng.uniform(miny, maxy, size=4 * n)
        keep = shapely.contains_xy(boundary, xs, ys)
        batch = np.column_stack((xs[keep], ys[keep]))
        found.append(batch)
        total += len(batch)
    return np.vstack(found)[:n]


def _relax(sites: _Floats, boundary: Polygon) -> _Floats:
    """One Lloyd step: move each site to the centroid of its cell within the boundary."""
    diagram = shapely.voronoi_polygons(shapely.multipoints(sites), extend_to=boundary, ordered=True)
    cells = shapely.intersection(shapely.get_parts(diagram), boundary)
    centroids: _Floats = np.asarray(shapely.get_coordinates(shapely.centroid(cells)), dtype=float)
    inside = shapely.contains_xy(boundary, centroids[:, 0], centroids[:, 1])
    for i in np.flatnonzero(~inside):
        # A cell bent around a bay can have its centroid outside; take a point on it instead.
        spot = shapely.point_on_surface(cells[i])
        centroids[i] = (spot.x, spot.y)
    return centroids


def _cut(boundary: Polygon, sites: _Floats) -> list[Polygon]:
    """The boundary cut along the Voronoi edges of the sites, one Polygon per site."""
    edges = shapely.voronoi_polygons(
        shapely.multipoints(sites), extend_to=boundary, only_edges=True
    )
    linework = shapely.unary_union([boundary.boundary, edges])
    faces = [
        face
        for face in shapely.get_parts(shapely.polygonize(shapely.get_parts(linework)))
        if boundary.contains(shapely.point_on_surface(face))
    ]
    reps = shapely.point_on_surface(faces)
    site_tree = shapely.STRtree(shapely.points(sites))
    nearest = site_tree.query_nearest(reps, all_matches=False)
    face_site = np.empty(len(faces), dtype=np.intp)
    face_site[nearest[0]] = nearest[1]

    # Each site keeps the face that holds it; pieces cut off by the outline are orphans.
    owner = np.full(len(faces), -1, dtype=np.intp)
    face_tree = shapely.STRtree(faces)
    for s, (x, y) in enumerate(sites):
        candidates = [int(f) for f in face_tree.query(shapely.points(x, y)) if face_site[f] == s]
        holder = next((f for f in candidates if faces[f].intersects(shapely.points(x, y))), None)
        if holder is None:
            mine = np.flatnonzero(face_site == s)
            holder = int(mine[np.argmax(shapely.area([faces[f] for f in mine]))])
        owner[holder] = s
    _adopt_orphans(faces, owner, face_tree)

    parts: list[Polygon] = []
    for s in range(len(sites)):
        parts.append(_union([faces[f] for f in np.flatnonzero(owner == s)]))
    return parts


def _adopt_orphans(
    faces: Sequence[Polygon], owner: npt.NDArray[np.intp], tree: shapely.STRtree
) -> None:
    """Give every orphan face to the neighbour it shares the longest border with."""
    while (orphans := np.flatnonzero(owner < 0)).size:
        progress = False
        for f in orphans.tolist():
            best, best_len = -1, 0.0
            for g in tree.query(faces[f], predicate="intersects").tolist():
                if owner[g] < 0:
                    continue
                shared = shapely.length(shapely.intersection(faces[f].boundary, faces[g].boundary))
                if shared > best_len:
                    best, best_len = int(g), float(shared)
            if best >= 0:
                owner[f] = owner[best]
                progress = True
        if not progress:
            raise RuntimeError("partition left a face with no neighbour to join")


def _union(polygons: Sequence[Polygon]) -> Polygon:
    if len(polygons) == 1:
        return polygons[0]
    merged = shapely.coverage_union_all(list(polygons))
    if not isinstance(merged, Polygon):
        merged = shapely.unary_union(list(polygons))
    if isinstance(merged, MultiPolygon) or not isinstance(merged, Polygon):
        raise RuntimeError(f"parts did not join into one Polygon ({merged.geom_type})")
    return merged


# --------------------------------------------------------------------------- demo steps


def _outline(cx: float, cy: float, area_m2: float, rng: np.random.Generator) -> Polygon:
    """A smooth, irregular, star-shaped outline of the given area (metres)."""
    theta = np.linspace(0.0, 2 * math.pi, _OUTLINE_VERTICES, endpoint=False)
    theta += rng.uniform(-0.3, 0.3, size=theta.size) * (2 * math.pi / _OUTLINE_VERTICES)
    radius = np.ones_like(theta)
    for harmonic in range(2, 6):
        amplitude = rng.uniform(0.04, 0.16) / harmonic
        radius += amplitude * np.cos(harmonic * theta + rng.uniform(0, 2 * math.pi))
    radius *= 1 + rng.normal(0.0, 0.015, size=theta.size)
    stretch = rng.uniform(1.1, 1.4)
    turn = rng.uniform(0, math.pi)
    x = radius * np.cos(theta) * stretch
    y = radius * np.sin(theta) / stretch
    xr = x * math.cos(turn) - y * math.sin(turn)
    yr = x * math.sin(turn) + y * math.cos(turn)
    unit = Polygon(np.column_stack((xr, yr)))
    scale = math.sqrt(area_m2 / unit.area)
    return Polygon(np.column_stack((cx + xr * scale, cy + yr * scale)))


def _noded_coverage(polygons: Sequence[Polygon]) -> list[Polygon]:
    """The polygons rebuilt from one snap-rounded set of lines, so borders match vertex for
    vertex (a community's grids otherwise carry vertices its neighbour's grids lack)."""
    linework = shapely.unary_union(shapely.boundary(list(polygons)), grid_size=_SNAP_M)
    faces = list(shapely.get_parts(shapely.polygonize(shapely.get_parts(linework))))
    tree = shapely.STRtree(list(polygons))
    assigned: dict[int, list[Polygon]] = defaultdict(list)
    for face in faces:
        spot = shapely.point_on_surface(face)
        hits = tree.query(spot, predicate="intersects")
        if hits.size == 0:
            continue  # a hole in the union, never a piece of a polygon
        assigned[int(hits.min())].append(face)
    if len(assigned) != len(polygons):
        raise RuntimeError("snap-rounding swallowed a part")
    return [_union(assigned[i]) for i in range(len(polygons))]


def _to_lonlat(polygon: Polygon, projection: MetricProjection) -> Polygon:
    lonlat = projection.unproject(polygon)
    rounded = _ccw(round_geometry(lonlat, _DECIMALS))
    if not rounded.is_valid:
        raise RuntimeError(f"rounding broke a demo polygon: {shapely.is_valid_reason(rounded)}")
    return rounded


def _ccw(polygon: Polygon) -> Polygon:
    # RFC 7946 winding, so that to_geojson hands the coordinates back unchanged.
    oriented: Polygon = shapely.orient_polygons(polygon)
    return oriented


def _reading_order(polygon: Polygon) -> tuple[float, float]:
    c = polygon.centroid
    return (-round(c.y, 3), round(c.x, 3))


def _north_first(polygons: Sequence[Polygon]) -> list[Polygon]:
    return sorted(polygons, key=_reading_order)

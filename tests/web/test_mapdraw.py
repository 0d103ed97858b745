"""The console map's drawing: projection, paths, clustering, tiles (pure, no database)."""

from __future__ import annotations

from dataclasses import dataclass

from shapely.geometry import Polygon

from server.web.console import mapdraw


@dataclass
class P:
    lon: float
    lat: float


def test_frame_spans_the_target_width_at_a_whole_zoom() -> None:
    frame = mapdraw.frame_for((119.40, 32.36, 119.47, 32.41), pad=0)
    assert mapdraw.TARGET_WIDTH / 2 < frame.width <= mapdraw.TARGET_WIDTH
    assert frame.xy(119.40, 32.41) == (0.0, 0.0)  # north-west corner at the origin
    x, y = frame.xy(119.47, 32.36)
    assert abs(x - frame.width) < 0.2 and abs(y - frame.height) < 0.2


def test_paths_close_every_ring_including_holes() -> None:
    frame = mapdraw.frame_for((0, 0, 1, 1))
    ring = [(0, 0), (1, 0), (1, 1), (0, 1)]
    hole = [(0.4, 0.4), (0.6, 0.4), (0.6, 0.6), (0.4, 0.6)]
    path = mapdraw.svg_path(Polygon(ring, [hole]), frame)
    assert path.count("M") == 2 and path.count("Z") == 2


def test_near_pins_cluster_and_far_ones_do_not() -> None:
    frame = mapdraw.frame_for((119.40, 32.36, 119.47, 32.41))
    pins = [P(119.43, 32.38), P(119.43001, 32.38001), P(119.46, 32.40)]
    clusters = mapdraw.cluster(pins, frame)
    assert sorted(c.size for c in clusters) == [1, 2]


def test_colours_by_bins_and_no_data() -> None:
    assert mapdraw.colour(None, mapdraw.INDEX_BINS) == mapdraw.NO_DATA
    assert mapdraw.colour(95, mapdraw.INDEX_BINS) == mapdraw.INDEX_BINS[-1][1]
    assert mapdraw.colour(0, mapdraw.COUNT_BINS) == mapdraw.COUNT_BINS[0][1]
    assert mapdraw.colour(50, mapdraw.COUNT_BINS) == mapdraw.COUNT_BINS[-1][1]


def test_tiles_cover_the_frame_at_its_zoom() -> None:
    frame = mapdraw.frame_for((119.40, 32.36, 119.47, 32.41))
    tiles = mapdraw.tiles(frame, "https://t.example/{z}/{x}/{y}.png")
    assert tiles and all(f"/{frame.zoom}/" in t["href"] for t in tiles)
    assert min(t["x"] for t in tiles) <= 0 and min(t["y"] for t in tiles) <= 0
    assert max(t["x"] for t in tiles) + 256 >= frame.width

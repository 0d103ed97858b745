"""Patrol tracks: hand-built walks near Yangzhou whose figures are worked out in each test.

Tracks and grids are laid out in metres in the metric projection of (119.43, 32.39) — the one
the module picks for them — and unprojected, so the expected figures are exact geometry.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise

import numpy as np
import numpy.typing as npt
import pytest
import shapely
from shapely.geometry import LineString, Polygon, box

from geo.errors import GeoError
from geo.measure import MetricProjection, distance_m
from geo.tracks import (
    Flag,
    TrackPoint,
    clean,
    coverage,
    distance_walked_m,
    from_geojson_coords,
    plausibility,
    simplify_for_display,
    summarize,
    time_inside_s,
    to_linestring_wkt,
)

PROJ = MetricProjection(119.43, 32.39)
_X, _Y = PROJ.project_xy([119.43], [32.39])
X0, Y0 = float(_X[0]), float(_Y[0])
T0 = datetime(2024, 5, 6, 8, 30, tzinfo=timezone(timedelta(hours=8)))
SIDE = 200.0
WALK = 1.2  # m/s
Floats = npt.NDArray[np.float64]


def grid(dx: float = 0.0, dy: float = 0.0, side: float = SIDE) -> Polygon:
    """A square grid, ``side`` metres across, its south-west corner (dx, dy) from the origin."""
    return PROJ.unproject(box(X0 + dx, Y0 + dy, X0 + dx + side, Y0 + dy + side))


def track(
    xy: Floats | list[tuple[float, float]], seconds: Floats | list[float]
) -> list[TrackPoint]:
    """Fixes at local metres (x east, y north of the origin) and seconds after T0."""
    local = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    lons, lats = PROJ.unproject_xy(local[:, 0] + X0, local[:, 1] + Y0)
    return [
        TrackPoint(lon, lat, T0 + timedelta(seconds=s))
        for lon, lat, s in zip(lons.tolist(), lats.tolist(), list(seconds), strict=True)
    ]


def local_xy(points: list[TrackPoint]) -> Floats:
    x, y = PROJ.project_xy([p.lon for p in points], [p.lat for p in points])
    return np.column_stack((x - X0, y - Y0))


def perimeter(s: Floats, dx: float = 0.0) -> Floats:
    """Positions at arc length ``s`` round the grid's edge, anticlockwise from its SW corner."""
    side, u = np.divmod(np.asarray(s, dtype=np.float64) % (4 * SIDE), SIDE)
    x = np.select([side == 0, side == 1, side == 2], [u, SIDE + 0 * u, SIDE - u], 0 * u)
    y = np.select([side == 0, side == 1, side == 2], [0 * u, u, SIDE + 0 * u], SIDE - u)
    return np.column_stack((x + dx, y))


def square_walk() -> tuple[Floats, Floats]:
    """Once round the grid's edge at 1.2 m/s, a fix every 10 m: 81 fixes, back at the start."""
    s = np.arange(0.0, 4 * SIDE + 1, 10.0)
    return perimeter(s), s / WALK


def codes(flags: list[Flag]) -> list[str]:
    return [flag.code for flag in flags]


def flag(flags: list[Flag], code: str) -> Flag:
    return next(f for f in flags if f.code == code)


def drift(n: int, rng: np.random.Generator, bound: float = 5.0) -> Floats:
    """GPS error within ±``bound`` m per axis that wanders from fix to fix, as a phone's does."""
    error = np.zeros((n, 2))
    for i in range(1, n):
        error[i] = 0.9 * error[i - 1] + math.sqrt(1 - 0.81) * 2.5 * rng.standard_normal(2)
    return np.clip(error, -bound, bound)


# --------------------------------------------------------------------------- the square walk


def test_square_walk_figures() -> None:
    xy, t = square_walk()
    points = track(xy, t)
    polygon = grid()
    duration = 4 * SIDE / WALK  # 666.7 s

    assert distance_walked_m(points) == pytest.approx(800.0, rel=0.01)
    # The projection's metres are the ellipsoid's: the geodesic sum agrees to 0.01 %.
    geodesic = sum(distance_m((a.lon, a.lat), (b.lon, b.lat)) for a, b in pairwise(points))
    assert geodesic == pytest.approx(800.0, rel=1e-4)
    # Walking on the border all the time is inside all the time.
    assert time_inside_s(points, polygon) == pytest.approx(duration, abs=0.01)
    # Within 30 m of the edge, inside the square: 200² − 140² = 20,400 of 40,000 m².
    assert coverage(points, polygon) == pytest.approx(20_400 / 40_000, rel=0.01)
    # A 50 m swath: 200² − 100² = 30,000 m².
    assert coverage(points, polygon, buffer_m=50.0) == pytest.approx(0.75, rel=0.01)
    assert plausibility(points, polygon) == []

    summary = summarize(points, polygon)
    assert summary.points == summary.used_points == 81
    assert summary.distance_m == pytest.approx(800.0, rel=0.01)
    assert summary.duration_s == pytest.approx(duration)
    assert summary.time_inside_s == pytest.approx(duration, abs=0.01)
    assert summary.coverage == pytest.approx(0.51, rel=0.01)
    assert summary.flags == []


def test_a_segment_crossing_the_border_counts_for_its_share_inside() -> None:
    # West to east across the middle at 1 m/s, a fix every 40 m: -100, -60, ..., 300.
    # The borders x = 0 and x = 200 fall mid-segment; 200 of the 400 m are inside.
    x = np.arange(-100.0, 301.0, 40.0)
    points = track(np.column_stack((x, np.full_like(x, 100.0))), x + 100)
    assert time_inside_s(points, grid()) == pytest.approx(200.0, abs=0.05)
    assert distance_walked_m(points) == pytest.approx(400.0, rel=1e-6)
    # Only the 200 m inside, 30 m either side: 200 × 60 = 12,000 of 40,000 m².
    assert coverage(points, grid()) == pytest.approx(0.30, rel=0.01)


def test_time_inside_a_neighbouring_grid_is_zero() -> None:
    xy, t = square_walk()
    assert time_inside_s(track(xy, t), grid(dx=1000)) == 0.0
    assert coverage(track(xy, t), grid(dx=1000)) == 0.0


# --------------------------------------------------------------------------- flags


def straight(start: tuple[float, float], n: int, t0: float, step_s: float = 10.0) -> Floats:
    """``n`` fixes walking east from ``start`` at 1.2 m/s, one every ``step_s`` seconds."""
    k = np.arange(n, dtype=np.float64)
    return np.column_stack((start[0] + WALK * step_s * k, np.full(n, start[1]), t0 + step_s * k))


def test_teleport() -> None:
    # 14 fixes walking east inside (130 s), then a 2 km jump north in 10 s, then 5 more fixes.
    before = straight((20.0, 100.0), 14, 0.0)
    after = straight((before[-1, 0], 2100.0), 5, 140.0)
    rows = np.vstack((before, after))
    points = track(rows[:, :2], rows[:, 2])

    assert len(clean(points)) == 19  # a jump the track never comes back from is no spike
    flags = plausibility(points, grid())
    # Inside: 130 s, plus 100 m of the 2 km jump = 0.5 s, of 180 s: 73 %, not mostly outside.
    assert codes(flags) == ["teleport"]
    evidence = flag(flags, "teleport").evidence
    assert evidence["jumps"] == 1
    assert evidence["distance_m"] == pytest.approx(2000.0, rel=1e-3)
    assert evidence["speed_mps"] == pytest.approx(200.0, rel=1e-3)
    assert evidence["at_s"] == pytest.approx(130.0)
    assert "jumps 2000 m in 10 s" in flag(flags, "teleport").message
    assert "2000 米" in flag(flags, "teleport").message_zh
    # Below the thresholds, the same jump is not a teleport.
    assert plausibility(points, grid(), teleport_m=2500.0) == []


def test_a_gps_gap_at_walking_pace_is_no_teleport() -> None:
    # The same walk, but the 600 m to the next fix take 500 s: 1.2 m/s, a gap, not a jump.
    before = straight((20.0, 100.0), 14, 0.0)
    after = straight((before[-1, 0], 700.0), 5, 630.0)
    rows = np.vstack((before, after))
    points = track(rows[:, :2], rows[:, 2])
    assert plausibility(points, grid(side=1000.0)) == []
    # And walked faster than cycling pace (600 m in 60 s) it is one.
    rows[14:, 2] -= 440.0
    assert codes(plausibility(track(rows[:, :2], rows[:, 2]), grid(side=1000.0))) == ["teleport"]


def test_car_speed_is_too_fast_and_cycling_is_not() -> None:
    # Three times round the grid at 15 m/s, a fix every 2 s (30 m): 81 fixes in 160 s.
    s = np.arange(0.0, 3 * 4 * SIDE + 1, 30.0)
    points = track(perimeter(s), s / 15.0)
    flags = plausibility(points, grid())
    assert codes(flags) == ["too_fast"]
    evidence = flag(flags, "too_fast").evidence
    # Only segments cutting a corner are slower (e.g. 190→220 m: a 22.4 m chord, 11.2 m/s).
    assert evidence["fast_share"] > 0.8
    assert evidence["median_speed_mps"] == pytest.approx(15.0, rel=1e-6)
    assert evidence["walk_share"] == 0.0
    assert "likely in a vehicle" in flag(flags, "too_fast").message
    # The same route at 5 m/s (a bicycle) is plausible.
    assert plausibility(track(perimeter(s), s / 5.0), grid()) == []


def test_phone_left_still_for_40_minutes() -> None:
    rng = np.random.default_rng(7)
    walk_in = straight((0.0, 100.0), 9, 0.0)  # (0,100) → (96,100) by t = 80 s
    still = np.column_stack(  # 40 min at the centre, a fix every 30 s, ±3 m jitter
        (100 + rng.uniform(-3, 3, 81), 100 + rng.uniform(-3, 3, 81), 90 + 30.0 * np.arange(81))
    )
    walk_out = np.column_stack(  # then north at 1.2 m/s: (100,112) ... (100,196)
        (np.full(8, 100.0), 112 + 12.0 * np.arange(8), 2500 + 10.0 * np.arange(8))
    )
    rows = np.vstack((walk_in, still, walk_out))
    flags = plausibility(track(rows[:, :2], rows[:, 2]), grid())
    assert codes(flags) == ["stationary"]
    evidence = flag(flags, "stationary").evidence
    # The still fixes span 2,400 s. A 25 m radius is 50 m across, so the last walking fixes in
    # and the first out can join the stretch: under 50 m (42 s at 1.2 m/s) on either side.
    assert 2400.0 <= evidence["duration_s"] <= 2400.0 + 2 * 50 / WALK
    assert evidence["radius_m"] <= 25.0
    assert flag(flags, "stationary").message.startswith("The phone stayed within 25 m for 4")
    assert "25 米范围内停留了 4" in flag(flags, "stationary").message_zh

    # Twenty minutes still is a pause, not a phone on a desk.
    short = np.vstack((walk_in, still[:41], walk_out - [0, 0, 1200]))
    assert plausibility(track(short[:, :2], short[:, 2]), grid()) == []


def test_walking_the_neighbouring_grid_is_mostly_outside() -> None:
    # Round the grid east of ours; its west edge is our east edge, and the border is inside:
    # 200 of the 800 m. With the flag's 10 m slack, also the first and last 10 m of its south
    # and north edges: 220 of 800 m.
    s = np.arange(0.0, 4 * SIDE + 1, 10.0)
    points = track(perimeter(s, dx=SIDE), s / WALK)
    # (The 1 cm border tolerance adds 2 cm of the other edges: 0.02 s.)
    assert time_inside_s(points, grid()) == pytest.approx(4 * SIDE / WALK * 0.25, abs=0.05)
    flags = plausibility(points, grid())
    assert codes(flags) == ["mostly_outside"]
    evidence = flag(flags, "mostly_outside").evidence
    assert evidence["inside_share"] == pytest.approx(0.275, abs=1e-4)
    assert evidence["strict_inside_share"] == pytest.approx(0.25, abs=1e-4)
    assert "28%" in flag(flags, "mostly_outside").message_zh
    # Without slack the share is the strict one; with d m of slack it is (200 + 2d) / 800.
    no_slack = plausibility(points, grid(), border_slack_m=0.0)
    assert flag(no_slack, "mostly_outside").evidence["inside_share"] == pytest.approx(0.25, 1e-3)
    assert plausibility(points, grid(), border_slack_m=110.0) == []
    # Our grid is covered only along that shared edge: 200 × 30 = 6,000 of 40,000 m².
    assert coverage(points, grid()) == pytest.approx(0.15, rel=0.01)
    assert plausibility(points, grid(dx=SIDE)) == []


def test_noisy_genuine_walk_gets_no_flags() -> None:
    rng = np.random.default_rng(2024)
    xy, t = square_walk()
    noisy = xy + drift(len(xy), rng)
    spikes = rng.choice(np.arange(2, len(xy) - 2), size=3, replace=False)
    angles = rng.uniform(0, 2 * math.pi, 3)
    noisy[spikes] = xy[spikes] + 300 * np.column_stack((np.cos(angles), np.sin(angles)))
    points = track(noisy, t)

    # Each spike is ≥ 290 m from fixes 8.3 s away (≥ 35 m/s): dropped, and nothing else.
    kept = clean(points)
    assert {p.t for p in points} - {p.t for p in kept} == {points[i].t for i in spikes}
    raw = float(shapely.length(LineString(noisy)))
    assert raw > 800 + 3 * 2 * 280  # what the spikes would have added
    assert distance_walked_m(points) == pytest.approx(800.0, rel=0.03)
    assert plausibility(points, grid()) == []
    assert summarize(points, grid()).flags == []


def test_too_few_points() -> None:
    assert codes(plausibility([], grid())) == ["too_few_points"]
    two = track([(10.0, 10.0), (20.0, 10.0)], [0.0, 10.0])
    flags = plausibility(two, grid())
    assert codes(flags) == ["too_few_points"]
    assert flags[0].evidence == {"used_points": 2.0, "points": 2.0}
    assert "不足以核验" in flags[0].message_zh
    # Three fixes, one with a useless accuracy: two usable.
    three = [*two, TrackPoint(two[0].lon, two[0].lat, T0 + timedelta(seconds=20), 120.0)]
    assert flag(plausibility(three, grid()), "too_few_points").evidence["points"] == 3.0


# --------------------------------------------------------------------------- edge cases


def test_coverage_of_one_fix_is_its_disc() -> None:
    points = track([(100.0, 100.0)], [0.0])
    assert coverage(points, grid()) == pytest.approx(math.pi * 30**2 / 40_000, rel=0.01)
    # The same place fixed again and again is still a disc.
    again = track([(100.0, 100.0)] * 3, [0.0, 60.0, 120.0])
    assert coverage(again, grid()) == pytest.approx(math.pi * 30**2 / 40_000, rel=0.01)
    summary = summarize(points, grid())
    assert (summary.distance_m, summary.duration_s, summary.time_inside_s) == (0.0, 0.0, 0.0)
    assert codes(summary.flags) == ["too_few_points"]


def test_empty_track() -> None:
    assert coverage([], grid()) == 0.0
    assert distance_walked_m([]) == 0.0
    assert time_inside_s([], grid()) == 0.0
    summary = summarize([], grid())
    assert (summary.points, summary.used_points, summary.coverage) == (0, 0, 0.0)
    assert codes(summary.flags) == ["too_few_points"]
    assert simplify_for_display([]) == []


def test_bad_buffer() -> None:
    xy, t = square_walk()
    with pytest.raises(GeoError) as info:
        coverage(track(xy, t), grid(), buffer_m=-1.0)
    assert info.value.code == "bad_buffer"


# --------------------------------------------------------------------------- cleaning


def test_clean_sorts_drops_duplicates_and_inaccurate_fixes() -> None:
    rows = straight((10.0, 100.0), 10, 0.0)
    points = track(rows[:, :2], rows[:, 2])  # accuracy unknown
    sharper = TrackPoint(points[2].lon, points[2].lat, points[2].t, 10.0)  # same time, 10 m
    vague = TrackPoint(points[5].lon, points[5].lat + 0.001, T0 + timedelta(seconds=55), 80.0)
    nowhere = TrackPoint(float("nan"), 32.39, T0 + timedelta(seconds=57))
    mixed = [points[9], *points[:5], points[0], vague, nowhere, sharper, *points[5:9]]

    cleaned = clean(mixed)
    # Sorted; the duplicate of fix 0, the 80 m fix and the NaN gone; at fix 2's time the 10 m
    # fix beats the one of unknown accuracy.
    assert cleaned == [*points[:2], sharper, *points[3:]]
    assert clean(cleaned) == cleaned  # idempotent
    # The threshold is a parameter: at 5 m the 10 m fix goes too, and fix 2 is back.
    assert clean(mixed, max_accuracy_m=5.0) == points


def test_clean_keeps_time_order_across_time_zones() -> None:
    a = TrackPoint(119.43, 32.39, datetime(2024, 5, 6, 0, 0, 10, tzinfo=UTC))
    b = TrackPoint(
        119.43, 32.39001, datetime(2024, 5, 6, 8, 0, 5, tzinfo=timezone(timedelta(hours=8)))
    )
    assert clean([a, b]) == [b, a]


def test_a_cold_start_fix_is_a_spike() -> None:
    rows = straight((10.0, 100.0), 10, 0.0)
    rows[0, :2] = (10.0, 900.0)  # the first fix 800 m off, 10 s before the next: 80 m/s
    points = track(rows[:, :2], rows[:, 2])
    assert clean(points) == points[1:]
    # The last fix likewise.
    rows = straight((10.0, 100.0), 10, 0.0)
    rows[-1, :2] = (10.0, 900.0)
    points = track(rows[:, :2], rows[:, 2])
    assert clean(points) == points[:-1]


def test_a_run_of_spikes_is_dropped_but_a_car_is_not() -> None:
    rows = straight((10.0, 100.0), 12, 0.0)
    rows[4:6, 1] += 400.0  # two fixes in a row 400 m north: 40 m/s there and back
    points = track(rows[:, :2], rows[:, 2])
    assert clean(points) == points[:4] + points[6:]
    # Two spikes in a row, 350 m north then 350 m south: from fix 4, fix 6 is only 17.5 m/s
    # away (350 m in 20 s), but it is 35 m/s from fix 7, so both go.
    rows = straight((10.0, 100.0), 12, 0.0)
    rows[5, 1] += 350.0
    rows[6, 1] -= 350.0
    points = track(rows[:, :2], rows[:, 2])
    assert clean(points) == points[:5] + points[7:]
    # Two spikes with two good fixes between them: the good ones stay.
    rows = straight((10.0, 100.0), 12, 0.0)
    rows[[3, 6], 0] += 350.0
    points = track(rows[:, :2], rows[:, 2])
    assert clean(points) == points[:3] + points[4:6] + points[7:]
    # Steady 35 m/s is fast but consistent: no fix is a spike (it is too_fast instead).
    k = np.arange(12.0)
    fast = track(np.column_stack((350 * k, np.zeros(12))), 10 * k)
    assert clean(fast) == fast


# --------------------------------------------------------------------------- simplification


def wiggly_walk(rng: np.random.Generator) -> tuple[Floats, Floats]:
    """2,000 fixes about a second apart at 1.2 m/s, up and down five winding lanes 100 m apart
    across a 500 m grid (the lanes wiggle ±6 m every 60 m), with ±2 m GPS drift."""
    x = np.linspace(30.0, 470.0, 221)
    nodes = []
    for lane in range(5):
        y = 50 + 100 * lane + 6 * np.sin(2 * math.pi * x / 60)
        nodes.append(np.column_stack((x, y))[:: 1 if lane % 2 == 0 else -1])
    route = LineString(np.vstack(nodes))  # 5 lanes joined at alternate ends
    s = np.linspace(0.0, route.length, 2000)
    xy = shapely.get_coordinates(shapely.line_interpolate_point(route, s))
    return xy + drift(len(s), rng, bound=2.0), s / WALK


def test_simplification_keeps_the_figures() -> None:
    rng = np.random.default_rng(5)
    xy, t = wiggly_walk(rng)
    points = track(xy, t)
    polygon = grid(side=500.0)
    simple = simplify_for_display(points)

    assert len(simple) < 200  # far fewer than 2,000
    assert simple[0] == points[0] and simple[-1] == points[-1]
    assert set(simple) <= set(points)  # original fixes, original times, in order
    assert [p.t for p in simple] == sorted(p.t for p in simple)
    # Every dropped fix is within the 5 m tolerance of the drawn line.
    drawn = LineString(local_xy(simple))
    assert float(shapely.distance(drawn, shapely.points(local_xy(points))).max()) <= 5.0 + 1e-6

    # The stored figures come from the full cleaned track, not from the drawing.
    summary = summarize(points, polygon)
    assert summary.distance_m == pytest.approx(distance_walked_m(points))
    assert summary.coverage == pytest.approx(coverage(points, polygon))
    assert distance_walked_m(simple) < 0.97 * summary.distance_m  # the drawing is shorter
    # The full track's swath is widened by the GPS drift on both sides of each lane; the drawing
    # runs through the middle, so it covers a little less (1.4–1.8 points over seeds 0–9).
    assert abs(coverage(simple, polygon) - summary.coverage) < 0.02


def test_simplifying_the_square_walk_keeps_its_corners() -> None:
    xy, t = square_walk()
    points = track(xy, t)
    simple = simplify_for_display(points)
    assert simple == [points[i] for i in (0, 20, 40, 60, 80)]
    assert distance_walked_m(simple) == pytest.approx(800.0, rel=1e-6)
    assert coverage(simple, grid()) == pytest.approx(coverage(points, grid()), abs=1e-9)
    with pytest.raises(GeoError) as info:
        simplify_for_display(points, tolerance_m=-1.0)
    assert info.value.code == "bad_tolerance"


# --------------------------------------------------------------------------- I/O


def test_linestring_wkt_is_lon_lat() -> None:
    xy, t = square_walk()
    points = track(xy, t)
    wkt = to_linestring_wkt(points)
    assert wkt.startswith("LINESTRING (119.43")
    line = shapely.from_wkt(wkt)
    assert np.array_equal(
        np.asarray(line.coords), np.array([(p.lon, p.lat) for p in points])
    )  # full precision
    assert to_linestring_wkt([]) == "LINESTRING EMPTY"
    one = to_linestring_wkt(points[:1])
    assert shapely.from_wkt(one).coords[0] == shapely.from_wkt(one).coords[1]


def test_from_geojson_coords() -> None:
    times = [T0 + timedelta(seconds=10 * i) for i in range(3)]
    points = from_geojson_coords([[119.43, 32.39], [119.431, 32.39, 12.5], (119.432, 32.39)], times)
    assert points == [
        TrackPoint(119.43, 32.39, times[0]),
        TrackPoint(119.431, 32.39, times[1]),
        TrackPoint(119.432, 32.39, times[2]),
    ]


@pytest.mark.parametrize(
    ("coords", "path"),
    [
        ([[119.43, 32.39], [float("nan"), 32.39]], "coordinates[1]"),
        ([[119.43, 32.39], [119.43, 95.0]], "coordinates[1]"),
        ([[119.43, 32.39], [119.43]], "coordinates[1]"),
        ([[119.43, 32.39], "119.43,32.39"], "coordinates[1]"),
        ([[119.43, 32.39], [119.43, "32.39"]], "coordinates[1]"),
        ([[119.43, 32.39], [119.43, 32.39, 1.0, 2.0]], "coordinates[1]"),
    ],
)
def test_from_geojson_coords_rejects_bad_positions(coords: list[object], path: str) -> None:
    times = [T0, T0 + timedelta(seconds=10)]
    with pytest.raises(GeoError) as info:
        from_geojson_coords(coords, times)  # type: ignore[arg-type]
    assert info.value.code == "bad_track"
    assert info.value.path == path
    assert info.value.message_zh.startswith("轨迹坐标 1")


def test_from_geojson_coords_rejects_mismatched_lengths_and_naive_times() -> None:
    with pytest.raises(GeoError) as info:
        from_geojson_coords([[119.43, 32.39], [119.431, 32.39]], [T0])
    assert info.value.code == "bad_track"
    assert "2 个坐标却有 1 个时间" in info.value.message_zh
    with pytest.raises(GeoError) as info:
        from_geojson_coords([[119.43, 32.39]], [datetime(2024, 5, 6, 8, 30)])
    assert (info.value.code, info.value.path) == ("bad_track", "times[0]")
    with pytest.raises(GeoError) as info:
        TrackPoint(119.43, 32.39, datetime(2024, 5, 6, 8, 30))
    assert info.value.code == "bad_track"


def test_coverage_of_many_laps_round_the_same_streets() -> None:
    # 5,000 fixes a second apart, seven laps of the edge with ±5 m drift. (As one GEOS buffer
    # this took 25 s and 1.4 GB; the module builds the swath piece by piece.)
    s = WALK * np.arange(5000.0)
    points = track(perimeter(s) + drift(len(s), np.random.default_rng(3)), s / WALK)
    # Between the clean lap's 20,400 m² and a swath 5 m wider inside: 200² − 130² = 23,100 m².
    assert 0.51 <= coverage(points, grid()) <= 23_100 / 40_000
    assert time_inside_s(points, grid()) > 0.5 * 4999

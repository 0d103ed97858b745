"""A collector's patrol GPS track: cleaning, distance walked, time in the grid, coverage,
plausibility flags and a lighter copy for drawing.

Every figure is computed on the *cleaned* track (see :func:`clean`; the public functions clean
their input themselves, and cleaning twice changes nothing) and in metres, in the metric
projection chosen at the centre of the track (:func:`geo.measure.projection_for`); the grid
polygon is projected into the same frame. :func:`simplify_for_display` is for drawing only:
:func:`summarize` never sees the simplified track.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, TypeAlias

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from geo.errors import GeoError
from geo.geojson import validate_lonlat
from geo.measure import MetricProjection, projection_for

__all__ = [
    "Flag",
    "TrackPoint",
    "TrackSummary",
    "clean",
    "coverage",
    "distance_walked_m",
    "from_geojson_coords",
    "plausibility",
    "simplify_for_display",
    "summarize",
    "time_inside_s",
    "to_linestring_wkt",
]

_Floats: TypeAlias = npt.NDArray[np.float64]

MAX_ACCURACY_M: Final = 50.0
"""Fixes reporting a worse accuracy than this are dropped."""
SPIKE_SPEED_MPS: Final = 30.0
"""A step between fixes faster than this (108 km/h) is impossible: it marks a GPS spike."""
MAX_SPIKE_RUN: Final = 3
"""At most this many consecutive fixes are dropped as one spike."""
MOVING_SPEED_MPS: Final = 0.5
"""Slower segments are standing still (GPS drift), not moving time."""
FAST_SHARE: Final = 0.3
"""``too_fast`` when more than this share of the moving time is above cycling pace."""
BORDER_TOLERANCE_M: Final = 0.01
"""A position this close to the grid border is on it, and on the border counts as inside."""
BORDER_SLACK_M: Final = 10.0
"""For ``mostly_outside`` only: time this close to the grid counts as in it (GPS error)."""
_QUAD_SEGS: Final = 16  # a buffer disc is a 64-gon: its area is 0.16 % short of πr²
_PIECE: Final = 32  # segments per piece of the coverage swath


@dataclass(frozen=True)
class TrackPoint:
    """One GPS fix: WGS84 lon/lat, a timezone-aware time and the reported accuracy in metres."""

    lon: float
    lat: float
    t: datetime
    accuracy_m: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.t, datetime) or self.t.utcoffset() is None:
            raise GeoError(
                "bad_track",
                f"A track point needs a timezone-aware time, found {self.t!r}.",
                f"轨迹点的时间必须带时区，实际为 {self.t!r}。",
                location=(self.lon, self.lat) if _finite(self.lon, self.lat) else None,
            )


@dataclass(frozen=True)
class Flag:
    """A reason to doubt a patrol: a stable code, the reason in English and Chinese, figures."""

    code: str
    message: str
    message_zh: str
    evidence: dict[str, float]


@dataclass(frozen=True)
class TrackSummary:
    """The figures stored with a patrol, all computed on the full cleaned track."""

    points: int
    used_points: int
    distance_m: float
    duration_s: float
    time_inside_s: float
    coverage: float
    flags: list[Flag]


@dataclass(frozen=True)
class _Track:
    """A cleaned track with its positions in metres and its times in POSIX seconds."""

    points: list[TrackPoint]
    x: _Floats
    y: _Floats
    t: _Floats
    projection: MetricProjection | None

    def __len__(self) -> int:
        return len(self.points)

    @property
    def duration_s(self) -> float:
        return float(self.t[-1] - self.t[0]) if len(self) > 1 else 0.0

    def segment_lengths(self) -> _Floats:
        return np.hypot(np.diff(self.x), np.diff(self.y))

    def project(self, polygon: BaseGeometry) -> BaseGeometry:
        """The grid polygon in this track's metres (valid, possibly empty)."""
        if self.projection is None or polygon.is_empty:
            return Point()
        projected = self.projection.project(polygon)
        return projected if projected.is_valid else shapely.make_valid(projected)


# --------------------------------------------------------------------------- cleaning


def clean(
    points: Sequence[TrackPoint],
    *,
    max_accuracy_m: float = MAX_ACCURACY_M,
    spike_speed_mps: float = SPIKE_SPEED_MPS,
) -> list[TrackPoint]:
    """The fixes a patrol's figures are computed from, in time order.

    Dropped: fixes that are not a longitude/latitude; fixes with ``accuracy_m`` worse than
    ``max_accuracy_m`` (unknown accuracy is kept, and loses to any known one); of several fixes
    with the same time, all but the most accurate (the first on a tie — this drops exact
    duplicates); and GPS spikes. A step between consecutive fixes faster than
    ``spike_speed_mps`` is impossible and cuts the track. A run of at most three fixes cut off
    on both sides goes when the fixes either side of it agree (at either end of the track: when
    the rest follows), keeping as many fixes as possible; a jump the track does not come back
    from stays: it is a ``teleport``.
    """
    return _clean(points, max_accuracy_m, spike_speed_mps).points


def _clean(points: Sequence[TrackPoint], max_accuracy_m: float, spike_speed_mps: float) -> _Track:
    usable = [
        (p.t, p.accuracy_m if p.accuracy_m is not None else math.inf, i, p)
        for i, p in enumerate(points)
        if _finite(p.lon, p.lat)
        and abs(p.lon) <= 180
        and abs(p.lat) <= 90
        and (p.accuracy_m is None or p.accuracy_m <= max_accuracy_m)  # NaN is dropped too
    ]
    usable.sort(key=lambda item: item[:3])
    by_time: list[TrackPoint] = []
    for t, _, _, p in usable:
        if not by_time or by_time[-1].t != t:
            by_time.append(p)
    track = _project(by_time)
    if len(track) < 3:
        return track
    kept = _drop_spikes(track.x.tolist(), track.y.tolist(), track.t.tolist(), spike_speed_mps)
    if len(kept) == len(track):
        return track
    index = np.asarray(kept, dtype=np.intp)
    return _Track(
        [track.points[i] for i in kept],
        track.x[index],
        track.y[index],
        track.t[index],
        track.projection,
    )


def _project(points: list[TrackPoint]) -> _Track:
    lons = np.array([p.lon for p in points], dtype=np.float64)
    lats = np.array([p.lat for p in points], dtype=np.float64)
    t = np.array([p.t.timestamp() for p in points], dtype=np.float64)
    if not points:
        return _Track(points, lons, lats, t, None)
    projection = projection_for(shapely.multipoints(np.column_stack((lons, lats))))
    x, y = projection.project_xy(lons, lats)
    return _Track(points, x, y, t, projection)


def _drop_spikes(x: list[float], y: list[float], t: list[float], limit: float) -> list[int]:
    """Indices of the fixes that are not spikes (times strictly increasing).

    The track is cut at every impossible step into pieces of mutually consistent fixes. Pieces
    of more than ``MAX_SPIKE_RUN`` fixes are trusted. Between two trusted pieces (or before the
    first, after the last) the short pieces are kept or dropped whole: the most fixes are kept
    such that no impossible step remains and no more than ``MAX_SPIKE_RUN`` fixes in a row go.
    If no choice achieves that (the track jumps and never comes back), all are kept.
    """
    n = len(t)

    def possible(a: int, b: int) -> bool:
        return math.hypot(x[b] - x[a], y[b] - y[a]) <= limit * (t[b] - t[a])

    cuts = [i for i in range(1, n) if not possible(i - 1, i)]
    pieces = list(zip([0, *cuts], [*cuts, n], strict=True))  # half-open index ranges
    trusted = [end - start > MAX_SPIKE_RUN for start, end in pieces]
    if not any(trusted):
        return list(range(n))
    keep: list[int] = []
    k = 0
    while k < len(pieces):
        if trusted[k]:
            keep.extend(range(*pieces[k]))
            k += 1
            continue
        j = k
        while j < len(pieces) and not trusted[j]:
            j += 1
        left = pieces[k - 1][1] - 1 if k > 0 else None
        right = pieces[j][0] if j < len(pieces) else None
        keep.extend(_keep_in_stretch(pieces[k:j], left, right, possible))
        k = j
    return keep


def _keep_in_stretch(
    pieces: list[tuple[int, int]],
    left: int | None,
    right: int | None,
    possible: Callable[[int, int], bool],
) -> list[int]:
    """The fixes kept among short pieces between trusted fixes ``left`` and ``right``."""
    # Nodes: 0 = the left anchor, 1..m = the pieces, m + 1 = the right anchor. A missing anchor
    # is virtual (every step from or to it is possible) and sits just outside the stretch.
    m = len(pieces)
    first, last = pieces[0][0], pieces[-1][1] - 1
    exits: list[int | None] = [left, *(end - 1 for _, end in pieces)]
    entries: list[int | None] = [*(start for start, _ in pieces), right]
    exit_at = [first - 1 if left is None else left, *(end - 1 for _, end in pieces)]
    entry_at = [start for start, _ in pieces] + [last + 1 if right is None else right]
    sizes = [end - start for start, end in pieces] + [0]
    best: list[int | None] = [0] + [None] * (m + 1)  # most fixes kept on a path to the node
    came_from = [-1] * (m + 2)
    for v in range(1, m + 2):
        for u in range(v - 1, -1, -1):
            if entry_at[v - 1] - exit_at[u] - 1 > MAX_SPIKE_RUN:
                break  # too many fixes dropped in a row; earlier nodes drop even more
            kept, a, b = best[u], exits[u], entries[v - 1]
            if kept is None or (a is not None and b is not None and not possible(a, b)):
                continue
            so_far = best[v]
            if so_far is None or kept + sizes[v - 1] > so_far:
                best[v] = kept + sizes[v - 1]
                came_from[v] = u
    if best[m + 1] is None:
        return list(range(first, last + 1))
    chosen: list[int] = []
    v = came_from[m + 1]
    while v > 0:
        chosen.extend(range(pieces[v - 1][1] - 1, pieces[v - 1][0] - 1, -1))
        v = came_from[v]
    return chosen[::-1]


# --------------------------------------------------------------------------- figures


def distance_walked_m(points: Sequence[TrackPoint]) -> float:
    """Metres walked: the sum of the cleaned track's segment lengths."""
    return _distance(_clean(points, MAX_ACCURACY_M, SPIKE_SPEED_MPS))


def _distance(track: _Track) -> float:
    return float(track.segment_lengths().sum()) if len(track) > 1 else 0.0


def time_inside_s(points: Sequence[TrackPoint], polygon: BaseGeometry) -> float:
    """Seconds spent inside the grid, on its border included.

    Between two fixes the collector is taken to walk straight at an even pace, so a segment
    crossing the border counts for the share of its length inside the grid.
    """
    track = _clean(points, MAX_ACCURACY_M, SPIKE_SPEED_MPS)
    return _time_inside(track, track.project(polygon))


def _time_inside(track: _Track, grid: BaseGeometry) -> float:
    if len(track) < 2 or grid.is_empty:
        return 0.0
    zone = grid.buffer(BORDER_TOLERANCE_M)
    shapely.prepare(zone)
    xy = np.column_stack((track.x, track.y))
    segments = shapely.linestrings(np.stack((xy[:-1], xy[1:]), axis=1))
    lengths = track.segment_lengths()
    inside = shapely.length(shapely.intersection(segments, zone))
    still_inside = shapely.contains_xy(zone, track.x[:-1], track.y[:-1]).astype(np.float64)
    share = np.divide(inside, lengths, out=still_inside, where=lengths > 0)
    return float(np.sum(np.clip(share, 0.0, 1.0) * np.diff(track.t)))


def coverage(points: Sequence[TrackPoint], polygon: BaseGeometry, buffer_m: float = 30.0) -> float:
    """Share (0..1) of the grid's area within ``buffer_m`` metres of the cleaned track."""
    track = _clean(points, MAX_ACCURACY_M, SPIKE_SPEED_MPS)
    return _coverage(track, track.project(polygon), buffer_m)


def _coverage(track: _Track, grid: BaseGeometry, buffer_m: float) -> float:
    if not (math.isfinite(buffer_m) and buffer_m >= 0):
        raise GeoError(
            "bad_buffer",
            f"The coverage distance must be a non-negative number of metres, found {buffer_m!r}.",
            f"覆盖距离必须是非负的米数，实际为 {buffer_m!r}。",
        )
    area = grid.area if not grid.is_empty else 0.0
    if len(track) == 0 or area <= 0:
        return 0.0
    xy = np.column_stack((track.x, track.y))
    moved = np.any(xy[1:] != xy[:-1], axis=1)
    distinct = xy[np.concatenate(([True], moved))]
    if len(distinct) == 1:
        covered = shapely.intersection(
            Point(distinct[0]).buffer(buffer_m, quad_segs=_QUAD_SEGS), grid
        )
    else:
        # The swath is built piece by piece and merged: the same area, but one buffer of a long
        # track that walks the same streets again and again costs minutes and gigabytes in GEOS.
        pieces = [
            LineString(distinct[i : i + _PIECE + 1]) for i in range(0, len(distinct) - 1, _PIECE)
        ]
        swaths = shapely.buffer(np.array(pieces, dtype=object), buffer_m, quad_segs=_QUAD_SEGS)
        covered = shapely.union_all(shapely.intersection(swaths, grid))
    return min(1.0, float(covered.area) / area)


# --------------------------------------------------------------------------- plausibility


def plausibility(
    points: Sequence[TrackPoint],
    polygon: BaseGeometry,
    *,
    max_walk_speed_mps: float = 2.5,
    max_cycle_speed_mps: float = 7.0,
    teleport_m: float = 500.0,
    stationary_s: float = 1800.0,
    stationary_radius_m: float = 25.0,
    min_inside_share: float = 0.5,
    border_slack_m: float = BORDER_SLACK_M,
) -> list[Flag]:
    """Reasons to doubt that the track is a collector patrolling this grid; none for a real walk.

    On the cleaned track, segment speed = length / time between fixes:

    - ``too_few_points``: fewer than 3 cleaned fixes (then no other check is made);
    - ``teleport``: a segment longer than ``teleport_m`` and faster than
      ``max_cycle_speed_mps`` (a GPS gap crossed at walking or cycling pace is not one);
    - ``too_fast``: of the moving time (segments at 0.5 m/s or more), more than 30 % faster
      than ``max_cycle_speed_mps`` — this includes a time-weighted median above it;
    - ``stationary``: a stretch longer than ``stationary_s`` whose fixes all lie within
      ``stationary_radius_m`` of the centre of their bounding box;
    - ``mostly_outside``: time inside the grid, or within ``border_slack_m`` of it, below
      ``min_inside_share`` of the duration (the slack keeps a walk along a border street, whose
      fixes wander a few metres either side, from being half outside).

    ``max_walk_speed_mps`` only sets the walking share reported with ``too_fast``.
    """
    track = _clean(points, MAX_ACCURACY_M, SPIKE_SPEED_MPS)
    return _flags(
        track,
        len(points),
        track.project(polygon),
        max_walk_speed_mps=max_walk_speed_mps,
        max_cycle_speed_mps=max_cycle_speed_mps,
        teleport_m=teleport_m,
        stationary_s=stationary_s,
        stationary_radius_m=stationary_radius_m,
        min_inside_share=min_inside_share,
        border_slack_m=border_slack_m,
    )


def _flags(
    track: _Track,
    received: int,
    grid: BaseGeometry,
    *,
    max_walk_speed_mps: float = 2.5,
    max_cycle_speed_mps: float = 7.0,
    teleport_m: float = 500.0,
    stationary_s: float = 1800.0,
    stationary_radius_m: float = 25.0,
    min_inside_share: float = 0.5,
    border_slack_m: float = BORDER_SLACK_M,
) -> list[Flag]:
    n = len(track)
    if n < 3:
        return [
            Flag(
                "too_few_points",
                f"Only {n} usable GPS fixes ({received} received): too few to check the patrol.",
                f"仅有 {n} 个可用定位点（共收到 {received} 个），不足以核验巡逻。",
                {"used_points": float(n), "points": float(received)},
            )
        ]
    lengths = track.segment_lengths()
    dt = np.diff(track.t)
    speed = lengths / dt
    flags: list[Flag] = []

    jumps = np.flatnonzero((lengths > teleport_m) & (speed > max_cycle_speed_mps))
    if len(jumps):
        k = int(jumps[np.argmax(lengths[jumps])])
        more = len(jumps) - 1
        flags.append(
            Flag(
                "teleport",
                f"The track jumps {lengths[k]:.0f} m in {dt[k]:.0f} s ({speed[k]:.0f} m/s)"
                + (f", and {more} more such jump{'s' if more > 1 else ''}." if more else "."),
                f"轨迹在 {dt[k]:.0f} 秒内跳跃 {lengths[k]:.0f} 米（{speed[k]:.0f} 米/秒）"
                + (f"，另有 {more} 处类似跳跃。" if more else "。"),
                {
                    "jumps": float(len(jumps)),
                    "distance_m": float(lengths[k]),
                    "seconds": float(dt[k]),
                    "speed_mps": float(speed[k]),
                    "at_s": float(track.t[k] - track.t[0]),
                },
            )
        )

    moving = speed >= MOVING_SPEED_MPS
    moving_s = float(dt[moving].sum())
    if moving_s > 0:
        fast_share = float(dt[moving & (speed > max_cycle_speed_mps)].sum()) / moving_s
        if fast_share > FAST_SHARE:
            walk_share = float(dt[moving & (speed <= max_walk_speed_mps)].sum()) / moving_s
            median = _weighted_median(speed[moving], dt[moving])
            flags.append(
                Flag(
                    "too_fast",
                    f"Faster than cycling pace ({max_cycle_speed_mps:g} m/s) for "
                    f"{fast_share:.0%} of the moving time, median {median:.1f} m/s: "
                    "likely in a vehicle.",
                    f"{fast_share:.0%} 的移动时间快于骑行速度（{max_cycle_speed_mps:g} 米/秒），"
                    f"中位速度 {median:.1f} 米/秒，疑似乘车。",
                    {
                        "fast_share": fast_share,
                        "median_speed_mps": median,
                        "max_speed_mps": float(speed.max()),
                        "walk_share": walk_share,
                        "moving_s": moving_s,
                    },
                )
            )

    start, end, radius = _longest_still(track, stationary_radius_m)
    still_s = float(track.t[end] - track.t[start])
    if still_s > stationary_s:
        flags.append(
            Flag(
                "stationary",
                f"The phone stayed within {stationary_radius_m:g} m for {still_s / 60:.0f} min.",
                f"手机在 {stationary_radius_m:g} 米范围内停留了 {still_s / 60:.0f} 分钟未移动。",
                {
                    "duration_s": still_s,
                    "radius_m": radius,
                    "points": float(end - start + 1),
                    "at_s": float(track.t[start] - track.t[0]),
                },
            )
        )

    duration = track.duration_s
    near = grid.buffer(max(border_slack_m, 0.0)) if not grid.is_empty else grid
    inside_share = _time_inside(track, near) / duration if duration > 0 else 0.0
    if inside_share < min_inside_share:
        flags.append(
            Flag(
                "mostly_outside",
                f"Only {inside_share:.0%} of the patrol time was in the grid or within "
                f"{border_slack_m:g} m of it (at least {min_inside_share:.0%} expected).",
                f"巡逻时间仅有 {inside_share:.0%} 在本网格内或距边界 {border_slack_m:g} 米以内"
                f"（应不少于 {min_inside_share:.0%}）。",
                {
                    "inside_share": inside_share,
                    "strict_inside_share": _time_inside(track, grid) / duration,
                    "duration_s": duration,
                    "border_slack_m": border_slack_m,
                },
            )
        )
    return flags


def _weighted_median(values: _Floats, weights: _Floats) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def _longest_still(track: _Track, radius_m: float) -> tuple[int, int, float]:
    """The longest stretch (first, last index, radius) that fits in a disc of ``radius_m``.

    "Fits" means every fix is within ``radius_m`` of the centre of the stretch's bounding box,
    i.e. half its diagonal is at most ``radius_m``. Two pointers and monotone queues: O(n).
    """
    x, y, t = track.x.tolist(), track.y.tolist(), track.t.tolist()
    queues: list[tuple[deque[int], list[float], int]] = [
        (deque(), x, 1),  # max x
        (deque(), x, -1),  # min x
        (deque(), y, 1),  # max y
        (deque(), y, -1),  # min y
    ]

    def half_diagonal() -> float:
        (hx, _, _), (lx, _, _), (hy, _, _), (ly, _, _) = queues
        return 0.5 * math.hypot(x[hx[0]] - x[lx[0]], y[hy[0]] - y[ly[0]])

    best = (0, 0, 0.0)
    left = 0
    for right in range(len(t)):
        for queue, values, sign in queues:
            while queue and sign * values[queue[-1]] <= sign * values[right]:
                queue.pop()
            queue.append(right)
        while half_diagonal() > radius_m:
            left += 1
            for queue, _, _ in queues:
                if queue[0] < left:
                    queue.popleft()
        if t[right] - t[left] > t[best[1]] - t[best[0]]:
            best = (left, right, half_diagonal())
    return best


# --------------------------------------------------------------------------- summary


def summarize(
    points: Sequence[TrackPoint], polygon: BaseGeometry, *, buffer_m: float = 30.0
) -> TrackSummary:
    """All of a patrol's track figures and flags in one pass over the full cleaned track."""
    track = _clean(points, MAX_ACCURACY_M, SPIKE_SPEED_MPS)
    grid = track.project(polygon)
    inside = _time_inside(track, grid)
    return TrackSummary(
        points=len(points),
        used_points=len(track),
        distance_m=_distance(track),
        duration_s=track.duration_s,
        time_inside_s=inside,
        coverage=_coverage(track, grid, buffer_m),
        flags=_flags(track, len(points), grid),
    )


# --------------------------------------------------------------------------- display and I/O


def simplify_for_display(
    points: Sequence[TrackPoint], tolerance_m: float = 5.0
) -> list[TrackPoint]:
    """A lighter copy of the cleaned track for drawing: Douglas-Peucker in metres.

    Keeps the first and last fix and the original fixes (with their times) that the line needs
    to stay within ``tolerance_m`` of every dropped fix. For drawing only: stored figures come
    from :func:`summarize`, which uses the full cleaned track.
    """
    if not (math.isfinite(tolerance_m) and tolerance_m >= 0):
        raise GeoError(
            "bad_tolerance",
            f"The simplification tolerance must be a non-negative number of metres, "
            f"found {tolerance_m!r}.",
            f"简化容差必须是非负的米数，实际为 {tolerance_m!r}。",
        )
    track = _clean(points, MAX_ACCURACY_M, SPIKE_SPEED_MPS)
    if len(track) < 3:
        return track.points
    keep = np.zeros(len(track), dtype=bool)
    keep[[0, -1]] = True
    stack = [(0, len(track) - 1)]
    while stack:
        first, last = stack.pop()
        if last - first < 2:
            continue
        gaps = _distance_to_segment(track.x, track.y, first, last)
        k = int(np.argmax(gaps))
        if gaps[k] > tolerance_m:
            middle = first + 1 + k
            keep[middle] = True
            stack += [(first, middle), (middle, last)]
    return [p for p, kept in zip(track.points, keep.tolist(), strict=True) if kept]


def _distance_to_segment(x: _Floats, y: _Floats, first: int, last: int) -> _Floats:
    """Distances in metres of the fixes strictly between ``first`` and ``last`` to their chord."""
    ax, ay, bx, by = x[first], y[first], x[last], y[last]
    px, py = x[first + 1 : last] - ax, y[first + 1 : last] - ay
    dx, dy = bx - ax, by - ay
    chord2 = dx * dx + dy * dy
    along = np.clip((px * dx + py * dy) / chord2, 0.0, 1.0) if chord2 > 0 else np.zeros_like(px)
    return np.asarray(np.hypot(px - along * dx, py - along * dy), dtype=np.float64)


def to_linestring_wkt(points: Sequence[TrackPoint]) -> str:
    """The fixes as WKT ``LINESTRING (lon lat, ...)`` in full precision, as given.

    No fix gives ``LINESTRING EMPTY``; a single fix is repeated, so the line stays valid WKT.
    """
    if not points:
        return "LINESTRING EMPTY"
    for i, p in enumerate(points):
        if not (_finite(p.lon, p.lat) and abs(p.lon) <= 180 and abs(p.lat) <= 90):
            raise GeoError(
                "bad_track",
                f"Track point {i} ({p.lon}, {p.lat}) is not a longitude/latitude.",
                f"轨迹点 {i} ({p.lon}, {p.lat}) 不是有效的经纬度。",
                path=f"[{i}]",
            )
    coords = [(p.lon, p.lat) for p in points]
    if len(coords) == 1:
        coords.append(coords[0])
    return str(shapely.to_wkt(LineString(coords), rounding_precision=-1, output_dimension=2))


def from_geojson_coords(
    coords: Sequence[Sequence[float]], times: Sequence[datetime]
) -> list[TrackPoint]:
    """Track points from GeoJSON LineString positions ([lon, lat] or [lon, lat, alt]) and one
    timezone-aware time per position, in the given order (altitudes are dropped).

    Raises :class:`GeoError` ``bad_track`` naming the faulty member (``coordinates[i]`` or
    ``times[i]``) for mismatched lengths, a position that is not a longitude/latitude, or a
    time without a timezone.
    """
    if len(coords) != len(times):
        raise GeoError(
            "bad_track",
            f"The track has {len(coords)} positions but {len(times)} times; "
            "each position needs exactly one time.",
            f"轨迹有 {len(coords)} 个坐标却有 {len(times)} 个时间，每个坐标须对应一个时间。",
        )
    points: list[TrackPoint] = []
    for i, (position, t) in enumerate(zip(coords, times, strict=True)):
        path = f"coordinates[{i}]"
        if isinstance(position, str | bytes) or not hasattr(position, "__len__"):
            raise _bad_position(i, path, "it is not a list of numbers", "不是数值数组")
        if len(position) not in (2, 3):
            raise _bad_position(
                i, path, f"it has {len(position)} numbers, not 2 or 3", f"含 {len(position)} 个数"
            )
        try:
            lon, lat = validate_lonlat(position[0], position[1])
        except GeoError as error:
            raise GeoError(
                "bad_track",
                f"Track position {i}: {error.message}",
                f"轨迹坐标 {i}：{error.message_zh}",
                location=error.location,
                path=path,
            ) from error
        if not isinstance(t, datetime) or t.utcoffset() is None:
            raise GeoError(
                "bad_track",
                f"Track time {i} must be a timezone-aware time, found {t!r}.",
                f"轨迹时间 {i} 必须带时区，实际为 {t!r}。",
                location=(lon, lat),
                path=f"times[{i}]",
            )
        points.append(TrackPoint(lon, lat, t))
    return points


def _bad_position(i: int, path: str, why: str, why_zh: str) -> GeoError:
    return GeoError(
        "bad_track",
        f"Track position {i} must be [lon, lat] or [lon, lat, altitude]: {why}.",
        f"轨迹坐标 {i} 应为 [经度, 纬度] 或 [经度, 纬度, 高度]：{why_zh}。",
        path=path,
    )


def _finite(*values: float) -> bool:
    try:
        return all(math.isfinite(v) for v in values)
    except TypeError:
        return False

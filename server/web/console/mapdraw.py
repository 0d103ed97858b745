"""Drawing the map ourselves (no tiles needed): Web Mercator pixels at a whole zoom level, so
that optional XYZ tiles line up exactly; SVG paths, colour bins and clustered pins."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

TILE = 256
TARGET_WIDTH = 1000  # pixels the subdistrict should span at the chosen zoom
CLUSTER_PX = 28  # pins closer than this (in map pixels) merge into one marker

# Colour-blind-safe sequential bins (ColorBrewer YlGnBu / OrRd), dark text stays readable.
INDEX_BINS: tuple[tuple[float, str, str, str], ...] = (
    (60, "#d7301f", "< 60", "< 60"),
    (70, "#fc8d59", "60–69", "60–69"),
    (80, "#fdcc8a", "70–79", "70–79"),
    (90, "#a1dab4", "80–89", "80–89"),
    (101, "#41b6c4", "≥ 90", "≥ 90"),
)
COUNT_BINS: tuple[tuple[float, str, str, str], ...] = (
    (1, "#f7f7f7", "0", "0"),
    (3, "#fee5d9", "1–2", "1–2"),
    (6, "#fcae91", "3–5", "3–5"),
    (11, "#fb6a4a", "6–10", "6–10"),
    (math.inf, "#cb181d", "> 10", "> 10"),
)
NO_DATA = "#e0e0e0"


def mercator(lon: float, lat: float, zoom: int) -> tuple[float, float]:
    scale = TILE * 2**zoom
    lat = max(min(lat, 85.0511), -85.0511)
    x = (lon + 180.0) / 360.0 * scale
    rad = math.radians(lat)
    y = (1 - math.log(math.tan(rad) + 1 / math.cos(rad)) / math.pi) / 2 * scale
    return x, y


@dataclass
class Frame:
    """Pixel frame of the drawn area: zoom, origin and size (the SVG viewBox)."""

    zoom: int
    x0: float
    y0: float
    width: float
    height: float

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = mercator(lon, lat, self.zoom)
        return round(x - self.x0, 1), round(y - self.y0, 1)


def frame_for(bounds: tuple[float, float, float, float], pad: float = 12) -> Frame:
    minx, miny, maxx, maxy = bounds
    zoom = 1
    for z in range(1, 20):
        x1, _ = mercator(minx, miny, z)
        x2, _ = mercator(maxx, maxy, z)
        if x2 - x1 > TARGET_WIDTH:
            break
        zoom = z
    x1, y2 = mercator(minx, miny, zoom)
    x2, y1 = mercator(maxx, maxy, zoom)
    return Frame(zoom, x1 - pad, y1 - pad, x2 - x1 + 2 * pad, y2 - y1 + 2 * pad)


def svg_path(geometry: Any, frame: Frame) -> str:
    """An SVG path for a (multi)polygon, holes included (fill-rule evenodd)."""
    polygons = getattr(geometry, "geoms", [geometry])
    parts = []
    for polygon in polygons:
        for ring in [polygon.exterior, *polygon.interiors]:
            points = [frame.xy(x, y) for x, y in ring.coords]
            parts.append("M" + " L".join(f"{x},{y}" for x, y in points) + " Z")
    return " ".join(parts)


def colour(value: float | None, bins: Sequence[tuple[float, str, str, str]]) -> str:
    if value is None:
        return NO_DATA
    for upper, fill, _zh, _en in bins:
        if value < upper:
            return fill
    return bins[-1][1]


@dataclass
class Cluster:
    x: float
    y: float
    pins: list[Any] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.pins)


def cluster(pins: Iterable[Any], frame: Frame) -> list[Cluster]:
    """Greedy clustering in screen space: each pin joins the first cluster within reach."""
    clusters: list[Cluster] = []
    cells: dict[tuple[int, int], list[Cluster]] = {}
    for pin in pins:
        x, y = frame.xy(pin.lon, pin.lat)
        key = (int(x // CLUSTER_PX), int(y // CLUSTER_PX))
        home = None
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for c in cells.get((key[0] + dx, key[1] + dy), []):
                    if (c.x - x) ** 2 + (c.y - y) ** 2 <= CLUSTER_PX**2:
                        home = c
                        break
                if home:
                    break
            if home:
                break
        if home is None:
            home = Cluster(x, y)
            clusters.append(home)
            cells.setdefault(key, []).append(home)
        home.pins.append(pin)
    return clusters


def tiles(frame: Frame, url: str) -> list[dict[str, Any]]:
    """The XYZ tiles covering the frame, placed in frame pixels."""
    out = []
    n = 2**frame.zoom
    for tx in range(int(frame.x0 // TILE), int((frame.x0 + frame.width) // TILE) + 1):
        for ty in range(int(frame.y0 // TILE), int((frame.y0 + frame.height) // TILE) + 1):
            if 0 <= tx < n and 0 <= ty < n:
                href = url.replace("{z}", str(frame.zoom)).replace("{x}", str(tx))
                out.append(
                    {
                        "href": href.replace("{y}", str(ty)),
                        "x": round(tx * TILE - frame.x0, 1),
                        "y": round(ty * TILE - frame.y0, 1),
                    }
                )
    return out

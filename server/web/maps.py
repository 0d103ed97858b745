"""The pages' map (Leaflet, static/map.js): its settings and the GeoJSON it draws.

Every page with a map renders `map_attrs(...)` into a `<div data-map='…'>`: the base layer
from server/maptiles.py (or none: a plain background under our own outlines), the coordinate
system the map draws in, the GeoJSON sources, the legend and the texts. The GeoJSON comes
from our own endpoints (console/map.py for signed-in pages, public.py and board.py for the
public ones), each scoped like the API, and is converted here from our WGS84 to the tiles'
GCJ-02 or BD-09 when the tiles need it — so the outlines, pins and taps all live in the map's
own coordinate system, and a tap is sent back with that `crs` (the API converts it back).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from flask import current_app
from shapely.geometry import mapping, shape

from geo.crs import from_wgs84, geometry_from_wgs84
from server.maptiles import display_crs, tile_layer
from server.web.assets import maps_available
from server.web.i18n import t

OUTLINE_TOLERANCE = 0.00002  # degrees, about 2 m: plenty for outlines on a screen

# Colour-blind-safe sequential bins (ColorBrewer OrRd / YlGnBu); dark text stays readable.
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


def colour(value: float | None, bins: Sequence[tuple[float, str, str, str]]) -> str:
    if value is None:
        return NO_DATA
    for upper, fill, _zh, _en in bins:
        if value < upper:
            return fill
    return bins[-1][1]


def legend(bins: Sequence[tuple[float, str, str, str]], *, no_data: bool) -> list[dict[str, str]]:
    items = [{"fill": fill, "label": t(zh, en)} for _upper, fill, zh, en in bins]
    if no_data:
        items.append({"fill": NO_DATA, "label": t("无数据", "no data")})
    return items


def crs() -> str:
    """The coordinate system of this app's maps (the tiles', or WGS84)."""
    return display_crs(current_app.config)


def feature(geometry: Any, properties: dict[str, Any], *, simplify: bool = True) -> dict[str, Any]:
    """A GeoJSON feature of a WGS84 Shapely geometry, in the map's coordinate system."""
    if simplify:
        geometry = geometry.simplify(OUTLINE_TOLERANCE, preserve_topology=True)
    return {
        "type": "Feature",
        "geometry": mapping(geometry_from_wgs84(geometry, crs())),
        "properties": properties,
    }


def converted(collection_: dict[str, Any]) -> dict[str, Any]:
    """A WGS84 FeatureCollection (as dicts) in the map's coordinate system."""
    target = crs()
    if target == "wgs84":
        return {**collection_, "crs_name": target}
    features = [
        {**f, "geometry": mapping(geometry_from_wgs84(shape(f["geometry"]), target))}
        for f in collection_["features"]
    ]
    return {**collection_, "crs_name": target, "features": features}


def point(lon: float, lat: float) -> tuple[float, float]:
    """A WGS84 point in the map's coordinate system, as (lon, lat)."""
    return from_wgs84(lon, lat, crs())


def collection(features: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "crs_name": crs(), "features": list(features)}


def map_attrs(**layers: Any) -> dict[str, Any] | None:
    """Everything static/map.js needs for one map; None when Leaflet is not installed (the
    page then shows its table or the typed coordinates only)."""
    if not maps_available():
        return None
    layer = tile_layer(current_app.config)
    return {
        "tiles": layer.for_browser() if layer else None,
        "crs": crs(),
        "text": {
            "zoomIn": t("放大", "Zoom in"),
            "zoomOut": t("缩小", "Zoom out"),
            "cases": t("{n} 个事项", "{n} cases"),
            "legend": t("图例", "Legend"),
            "index": t("指数", "index"),
            "open": t("未结", "open"),
            "showCases": t("查看该网格事项", "Cases of this grid"),
            "map": t("地图", "Map"),
        },
        **{k: v for k, v in layers.items() if v is not None},
    }

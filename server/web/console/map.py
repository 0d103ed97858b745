"""The console map (Leaflet, static/map.js): grid and community outlines with names, coloured
by the latest 民情指数 or by open cases with the legend on the map, clustered case pins, and
the optional tile base layer (server/maptiles.py). The page itself carries the same figures as
a table; the shapes come from the GeoJSON endpoints below, scoped like the API (a principal
sees the grids, communities and cases of their own scope only) and in the map's coordinate
system (server/web/maps.py)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, render_template, request, url_for

from server.domain.roles import Role
from server.errors import Invalid
from server.services.caseloop import case_map
from server.services.patrolling import index
from server.services.territory import org
from server.web import forms, maps
from server.web.console import bp
from server.web.i18n import t
from server.web.session import page, signed_in

MAX_GRIDS = 5000
NEAR_DEGREES = 0.004  # about 400 m each way around a case: its nearby grids


def _all_grids(principal: Any, bbox: tuple[float, float, float, float] | None = None) -> list[Any]:
    grids: list[Any] = []
    cursor = None
    while len(grids) < MAX_GRIDS:
        result = org.list_grids(principal, bbox=bbox, cursor=cursor, limit=1000)
        grids.extend(result.items)
        cursor = result.next_cursor
        if not cursor:
            break
    return grids


def _mode() -> str:
    return forms.choice(request.args, "colour", ["index", "cases", "none"]) or "index"


def _bbox() -> tuple[float, float, float, float] | None:
    raw = request.args.get("bbox", "").strip()
    if not raw:
        return None
    try:
        box = tuple(float(v) for v in raw.split(","))
    except ValueError:
        box = ()
    if (
        len(box) != 4
        or not (-180 <= box[0] < box[2] <= 180 and -90 <= box[1] < box[3] <= 90)
        or box[2] - box[0] > 1
        or box[3] - box[1] > 1
    ):
        raise Invalid(
            "validation_error",
            "bbox: minLon,minLat,maxLon,maxLat (WGS84, at most 1 degree wide)",
            "参数 bbox：最小经度,最小纬度,最大经度,最大纬度（WGS84，跨度不超过 1 度）",
            field="bbox",
        )
    return box  # type: ignore[return-value]


def _grid_rows(principal: Any, mode: str) -> list[dict[str, Any]]:
    grids = _all_grids(principal)
    counts = case_map.open_counts_by_grid(principal)
    _day, scores = index.published(None, "grid", principal.subdistrict_id)
    score_of = {row["area_id"]: row["score"] for row in scores}
    bins = maps.INDEX_BINS if mode == "index" else maps.COUNT_BINS
    rows = []
    for g in grids:
        value = score_of.get(g.grid.id) if mode == "index" else counts.get(g.grid.id, 0)
        rows.append(
            {
                "view": g,
                "id": g.grid.id,
                "name": g.grid.name,
                "code": g.grid.code,
                "fill": maps.colour(value, bins),
                "score": score_of.get(g.grid.id),
                "open": counts.get(g.grid.id, 0),
                "href": url_for("console.cases", grid=g.grid.id),
            }
        )
    return rows


@bp.get("/map", endpoint="map_page")
@page(Role.DISPATCHER, Role.ADMIN)
def map_page() -> Any:
    principal = signed_in()
    mode = _mode()
    if mode == "none":
        mode = "index"
    rows = _grid_rows(principal, mode)
    if not rows:
        return render_template("console/map.html", empty=True, mode=mode)
    day, _scores = index.published(None, "grid", principal.subdistrict_id)
    bins = maps.INDEX_BINS if mode == "index" else maps.COUNT_BINS
    legend = [
        *maps.legend(bins, no_data=mode == "index"),
        {
            "fill": "#0b57a4",
            "label": t("未结事项（数字为聚合数量）", "open cases (numbers: clustered)"),
            "pin": True,
        },
        {"fill": "#b00020", "label": t("含超期事项", "with overdue cases"), "pin": True},
    ]
    attrs = maps.map_attrs(
        grids=url_for("console.map_grids", colour=mode),
        communities=url_for("console.map_communities"),
        pins=url_for("console.map_cases"),
        legend=legend,
        legendTitle=t("最新民情指数", "Latest index")
        if mode == "index"
        else t("未结事项数", "Open cases"),
        label=t("网格与未结事项地图", "Map of grids and open cases"),
    )
    return render_template(
        "console/map.html",
        empty=False,
        mode=mode,
        rows=rows,
        legend=legend,
        map_attrs=attrs,
        index_day=day,
        pins_cut=sum(r["open"] for r in rows) > case_map.MAX_PINS,
    )


def _geojson(data: dict[str, Any]) -> Any:
    response = jsonify(data)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/map/grids.geojson", endpoint="map_grids")
@page(Role.DISPATCHER, Role.ADMIN, Role.UNIT_STAFF)
def map_grids() -> Any:
    """The grids the caller may see (all of them, or those near `bbox`), coloured by `colour`
    (index, cases, or none); `highlight` marks one grid (a case's)."""
    principal = signed_in()
    mode = _mode()
    bbox = _bbox()
    highlight = forms.integer(request.args, "highlight")
    if mode == "none":
        views = _all_grids(principal, bbox)
        rows: list[dict[str, Any]] = [
            {
                "view": v,
                "id": v.grid.id,
                "name": v.grid.name,
                "code": v.grid.code,
                "fill": "#fdcc8a" if v.grid.id == highlight else "#f4f6f8",
            }
            for v in views
        ]
    else:
        rows = _grid_rows(principal, mode)
    names = {c.id: c.name for c in org.list_communities(principal)}
    features = []
    for row in rows:
        view = row.pop("view")
        row["community"] = names.get(view.grid.community_id, "")
        if highlight is not None:
            row["own"] = view.grid.id == highlight
        features.append(maps.feature(view.geometry, row))
    return _geojson(maps.collection(features))


@bp.get("/map/communities.geojson", endpoint="map_communities")
@page(Role.DISPATCHER, Role.ADMIN, Role.UNIT_STAFF)
def map_communities() -> Any:
    """Community outlines with their names (the caller's subdistrict)."""
    from geoalchemy2.shape import to_shape

    principal = signed_in()
    return _geojson(
        maps.collection(
            maps.feature(to_shape(c.geom), {"id": c.id, "name": c.name, "code": c.code})
            for c in org.list_communities(principal)
            if c.geom is not None
        )
    )


@bp.get("/map/cases.geojson", endpoint="map_cases")
@page(Role.DISPATCHER, Role.ADMIN)
def map_cases() -> Any:
    """Open cases the caller may see, as points (the map clusters them)."""
    principal = signed_in()
    features = []
    for pin in case_map.open_pins(principal):
        lon, lat = maps.point(pin.lon, pin.lat)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "number": pin.number,
                    "status": pin.status,
                    "overdue": pin.overdue,
                    "href": url_for("console.case_page", case_id=pin.id),
                },
            }
        )
    return _geojson(maps.collection(features))


def location_map(lon: float, lat: float, grid_id: int, label: str) -> dict[str, Any] | None:
    """The case page's map: the case's place, its grid highlighted among the nearby ones."""
    d = NEAR_DEGREES
    bbox = f"{lon - d:.6f},{lat - d:.6f},{lon + d:.6f},{lat + d:.6f}"
    x, y = maps.point(lon, lat)
    return maps.map_attrs(
        grids=url_for("console.map_grids", colour="none", bbox=bbox, highlight=grid_id),
        focus={"lon": x, "lat": y, "label": label, "zoom": 16},
        label=t("事项位置地图", "Map of the case's place"),
    )

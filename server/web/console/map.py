"""The console map: grid polygons coloured by the latest 民情指数 or by open cases, case pins
clustered; drawn as SVG by the server, so it works with no internet at all."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request, url_for
from shapely.ops import unary_union

from server.domain.roles import Role
from server.services.caseloop import case_map
from server.services.patrolling import index
from server.services.territory import org
from server.web import forms
from server.web.console import bp, mapdraw
from server.web.i18n import t
from server.web.session import page, signed_in

MAX_GRIDS = 5000


def _all_grids(principal: Any) -> list[Any]:
    grids: list[Any] = []
    cursor = None
    while len(grids) < MAX_GRIDS:
        result = org.list_grids(principal, cursor=cursor, limit=1000)
        grids.extend(result.items)
        cursor = result.next_cursor
        if not cursor:
            break
    return grids


@bp.get("/map", endpoint="map_page")
@page(Role.DISPATCHER, Role.ADMIN)
def map_page() -> Any:
    principal = signed_in()
    mode = forms.choice(request.args, "colour", ["index", "cases"]) or "index"
    grids = _all_grids(principal)
    counts = case_map.open_counts_by_grid(principal)
    day, scores = index.published(None, "grid", principal.subdistrict_id)
    score_of = {row["area_id"]: row["score"] for row in scores}
    pins = case_map.open_pins(principal)
    if not grids:
        return render_template("console/map.html", empty=True, mode=mode)
    frame = mapdraw.frame_for(unary_union([g.geometry for g in grids]).bounds)
    bins = mapdraw.INDEX_BINS if mode == "index" else mapdraw.COUNT_BINS
    shapes = []
    for g in grids:
        value = score_of.get(g.grid.id) if mode == "index" else counts.get(g.grid.id, 0)
        shapes.append(
            {
                "id": g.grid.id,
                "name": g.grid.name,
                "code": g.grid.code,
                "path": mapdraw.svg_path(g.geometry, frame),
                "fill": mapdraw.colour(value, bins),
                "score": score_of.get(g.grid.id),
                "open": counts.get(g.grid.id, 0),
                "href": url_for("console.cases", grid=g.grid.id),
            }
        )
    markers = []
    for c in mapdraw.cluster(pins, frame):
        first = c.pins[0]
        if c.size == 1:
            href = url_for("console.case_page", case_id=first.id)
            label = f"{first.number}"
        else:
            href = url_for("console.cases", grid=first.grid_id)
            label = t(f"{c.size} 个事项", f"{c.size} cases")
        markers.append(
            {
                "x": c.x,
                "y": c.y,
                "size": c.size,
                "href": href,
                "label": label,
                "overdue": any(p.overdue for p in c.pins),
            }
        )
    tile_url = current_app.config.get("MAP_TILE_URL")
    return render_template(
        "console/map.html",
        empty=False,
        mode=mode,
        frame=frame,
        shapes=shapes,
        markers=markers,
        legend=[(fill, t(zh, en)) for _upper, fill, zh, en in bins],
        no_data=mapdraw.NO_DATA,
        index_day=day,
        pins_cut=len(pins) >= case_map.MAX_PINS,
        tiles=mapdraw.tiles(frame, tile_url) if tile_url else [],
    )


SKETCH_DEGREES = 0.003  # about 300 m each way around a case


def location_sketch(principal: Any, lon: float, lat: float, grid_id: int) -> dict[str, Any]:
    """A small map for the case page: nearby grids (the case's highlighted) and the point."""
    d = SKETCH_DEGREES
    frame = mapdraw.frame_for((lon - d, lat - d, lon + d, lat + d), pad=0)
    near = org.list_grids(principal, bbox=(lon - d, lat - d, lon + d, lat + d), limit=200).items
    x, y = frame.xy(lon, lat)
    return {
        "frame": frame,
        "grids": [
            {
                "path": mapdraw.svg_path(g.geometry, frame),
                "own": g.grid.id == grid_id,
                "name": g.grid.name,
            }
            for g in near
        ],
        "x": x,
        "y": y,
    }

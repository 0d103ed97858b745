"""/board: the public board — the latest 民情指数 of every community with the day's bulletin,
the 30-day trend, and closed-case statistics (阳光公开). No personal data anywhere."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import jsonify, render_template, request, url_for
from geoalchemy2.shape import to_shape

from server.domain.index import COMPONENTS, LABELS
from server.errors import Invalid
from server.services.caseloop import sunshine
from server.services.civic import deliberation, notices
from server.services.patrolling import index
from server.services.territory import org
from server.services.uow import unit_of_work
from server.services.upkeep import audit
from server.web import maps, web_blueprint
from server.web.assets import echarts_available
from server.web.forms import local_time
from server.web.i18n import t

bp = web_blueprint("web_board", __name__, error_template="public/error.html")

TREND_DAYS = 30
MAX_ID = 2**31 - 1


def _subdistrict() -> int | None:
    raw = request.args.get("subdistrict", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise Invalid(
            "validation_error",
            "subdistrict: a positive whole number",
            "参数 subdistrict：必须是正整数",
            field="subdistrict",
        )
    return int(raw)


@bp.get("/board")
def board() -> Any:
    """The board as a resident or a journalist sees it."""
    subdistrict_id = _subdistrict()
    day, rows = index.published(None, "community", subdistrict_id)
    _, bulletins = index.bulletins_of(day, subdistrict_id)
    by_community = {b.community_id: b for b in bulletins}
    trend: list[dict[str, Any]] = []
    if day is not None:
        first = day - timedelta(days=TREND_DAYS - 1)
        for row in rows:
            points = index.history("community", row["area_id"], first, day)
            trend.append(
                {
                    "name": row["name"],
                    "points": [[p["day"].isoformat(), p["score"]] for p in points],
                }
            )
    stats = sunshine.closed_case_statistics(subdistrict_id)
    with unit_of_work() as uow:
        topics = deliberation.board_topics(uow, subdistrict_id)
        notice_rows = [
            notices.present(uow, n, staff=False)
            for n in notices.published(uow)
            if subdistrict_id is None or n.subdistrict_id == subdistrict_id
        ]
        latest_root = audit.latest_root(uow)
    return render_template(
        "public/board.html",
        day=day,
        rows=rows,
        bulletins=by_community,
        trend=trend,
        trend_days=[(day - timedelta(days=n)).isoformat() for n in range(TREND_DAYS - 1, -1, -1)]
        if day
        else [],
        components=[(name, LABELS[name]) for name in COMPONENTS],
        stats=stats,
        topics=topics,
        notices=notice_rows,
        local_time=local_time,
        charts=echarts_available(),
        pct=_percent,
        subdistricts=org.list_subdistricts(None),
        subdistrict_id=subdistrict_id,
        audit_root=latest_root,
        map_attrs=maps.map_attrs(
            communities=url_for("web_board.communities_geojson", subdistrict=subdistrict_id),
            legend=maps.legend(maps.INDEX_BINS, no_data=True),
            legendTitle=t("最新民情指数", "Latest index"),
        )
        if day
        else None,
    )


@bp.get("/board/communities.geojson")
def communities_geojson() -> Any:
    """Community outlines with their names and latest 民情指数 (public: no personal data)."""
    subdistrict_id = _subdistrict()
    _day, rows = index.published(None, "community", subdistrict_id)
    score_of = {row["area_id"]: row["score"] for row in rows}
    features = [
        maps.feature(
            to_shape(c.geom),
            {
                "name": c.name,
                "code": c.code,
                "score": score_of.get(c.id),
                "fill": maps.colour(score_of.get(c.id), maps.INDEX_BINS),
            },
        )
        for c in org.list_communities(None)
        if c.geom is not None and (subdistrict_id is None or c.subdistrict_id == subdistrict_id)
    ]
    response = jsonify(maps.collection(features))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:g}%"

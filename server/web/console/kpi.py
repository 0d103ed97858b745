"""The KPI dashboard: case-loop figures per community or unit over a period, collectors'
patrol figures, and the 民情指数 trend per community — charts (ECharts) plus tables."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import render_template, request

from server.domain.kpis import LABELS
from server.domain.roles import Role
from server.errors import Invalid
from server.services.caseloop import kpi
from server.services.patrolling import index, schedules
from server.services.territory import org
from server.web import forms
from server.web.assets import echarts_available
from server.web.console import bp
from server.web.i18n import t
from server.web.session import page, signed_in

RATES = (
    "filing_rate",
    "handled_on_time_rate",
    "closure_rate",
    "closed_on_time_rate",
    "rework_rate",
    "satisfaction_rate",
)
COUNTS = ("reported", "accepted", "handled", "closed", "due_count", "overdue_unhandled")
HOURS = ("avg_hours_to_accept", "avg_hours_to_handle")
MAX_TREND_COMMUNITIES = 12
MAX_DAYS = 366


def period() -> tuple[date, date]:
    today = forms.local_time(datetime.now(UTC), "%Y-%m-%d")
    last = forms.day(request.args, "to") or date.fromisoformat(today)
    first = forms.day(request.args, "from") or last - timedelta(days=29)
    if first > last:
        raise Invalid(
            "invalid_value", "from: after to", "字段 from：开始日期晚于结束日期", field="from"
        )
    if (last - first).days >= MAX_DAYS:
        raise Invalid(
            "invalid_value", "from: at most a year", "字段 from：最多查询一年", field="from"
        )
    return first, last


def _row(name: str, figures: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "rates": {k: figures[k].get("percent") for k in RATES},
        "counts": {k: figures[k]["value"] for k in COUNTS},
        "hours": {k: figures[k]["value"] for k in HOURS},
    }


@bp.get("/kpis", endpoint="kpis")
@page(Role.DISPATCHER, Role.ADMIN, Role.UNIT_STAFF)
def kpis() -> Any:
    principal = signed_in()
    first, last = period()
    group = forms.choice(request.args, "by", ["community", "unit"]) or "community"
    start, end = forms.day_start(first), forms.day_end(last)
    overall = kpi.key_figures(principal, date_from=start, date_to=end)
    rows = []
    if principal.role is Role.UNIT_STAFF:
        group = "unit"  # their own unit's cases only; the overall row says it all
    elif group == "community":
        for c in org.list_communities(principal):
            figures = kpi.key_figures(principal, date_from=start, date_to=end, community=c.id)
            rows.append(_row(c.name, figures))
    else:
        for u in org.list_units(principal):
            figures = kpi.key_figures(principal, date_from=start, date_to=end, unit=u.id)
            rows.append(_row(u.name, figures))
    patrols = []
    trend: dict[str, Any] = {"days": [], "series": []}
    if principal.role in (Role.DISPATCHER, Role.ADMIN):
        patrols = schedules.collector_figures(principal, date_from=start, date_to=end)
        communities = org.list_communities(principal)[:MAX_TREND_COMMUNITIES]
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        trend["days"] = [d.isoformat() for d in days]
        for c in communities:
            by_day = {r["day"]: r["score"] for r in index.history("community", c.id, first, last)}
            trend["series"].append({"name": c.name, "data": [by_day.get(d) for d in days]})
    labels = {k: t(*_label(k)) for k in (*RATES, *COUNTS, *HOURS)}
    return render_template(
        "console/kpis.html",
        first=first.isoformat(),
        last=last.isoformat(),
        group=group,
        overall=_row(t("合计", "Total"), overall),
        rows=rows,
        patrols=patrols,
        trend=trend,
        labels=labels,
        rates=RATES,
        counts=COUNTS,
        hours=HOURS,
        charts=echarts_available(),
        is_staff=principal.role is Role.UNIT_STAFF,
    )


def _label(key: str) -> tuple[str, str]:
    zh, en = LABELS[key]
    return zh, en[:1].upper() + en[1:]

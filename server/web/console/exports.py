"""Console exports: the queue and the KPI page's 台账 as XLSX or CSV (the same use cases as
/api/v1/exports)."""

from __future__ import annotations

from typing import Any

from flask import request

from server.domain.roles import Role
from server.services.caseloop import case_queries
from server.services.interop import exports
from server.services.patrolling.patrols import PatrolFilter
from server.services.uow import unit_of_work
from server.web import forms
from server.web.console import bp
from server.web.console.cases import filter_from
from server.web.console.kpi import period
from server.web.session import page, signed_in

FMT = "<any(xlsx,csv):fmt>"


@bp.get(f"/exports/cases.{FMT}", endpoint="export_cases")
@page()
def export_cases(fmt: str) -> Any:
    """The queue as the user sees it, with its filters and sort, every page."""
    sort = forms.choice(request.args, "sort", list(case_queries.SORTS)) or "-created_at"
    with unit_of_work() as uow:
        export = exports.export_cases(uow, signed_in(), fmt, filter_from(request.args), sort)
    return exports.response_for(export)


@bp.get(f"/exports/kpis.{FMT}", endpoint="export_kpis")
@page(Role.DISPATCHER, Role.ADMIN, Role.UNIT_STAFF)
def export_kpis(fmt: str) -> Any:
    """The KPI page's period and grouping."""
    first, last = period()
    by = forms.choice(request.args, "by", ["community", "unit"]) or "community"
    with unit_of_work() as uow:
        export = exports.export_kpis(
            uow,
            signed_in(),
            fmt,
            date_from=forms.day_start(first),
            date_to=forms.day_end(last),
            by=by,
        )
    return exports.response_for(export)


@bp.get(f"/exports/patrols.{FMT}", endpoint="export_patrols")
@page(Role.DISPATCHER, Role.ADMIN, Role.COLLECTOR)
def export_patrols(fmt: str) -> Any:
    """Patrols started in the KPI page's period."""
    first, last = period()
    f = PatrolFilter(since=forms.day_start(first), until=forms.day_end(last))
    with unit_of_work() as uow:
        export = exports.export_patrols(uow, signed_in(), fmt, f)
    return exports.response_for(export)


@bp.get(f"/exports/index.{FMT}", endpoint="export_index")
@page()
def export_index(fmt: str) -> Any:
    """The daily index per community over the KPI page's period."""
    first, last = period()
    level = forms.choice(request.args, "level", ["community", "grid"]) or "community"
    with unit_of_work() as uow:
        export = exports.export_index(uow, signed_in(), fmt, level=level, first=first, last=last)
    return exports.response_for(export)

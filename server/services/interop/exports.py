"""台账 exports: the queue, KPIs, patrols and the index as XLSX or CSV, streamed and logged.

Each subject yields its rows lazily with the same scope and masking as the API: the queue's
rows are `case_present.present_row()` of the API's own rows (`case_queries.list_case_rows`),
read a keyset page at a time, so an export of any size holds one page in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from flask import Response, stream_with_context
from sqlalchemy import select

from server.domain.cases import VERDICT_ZH
from server.domain.index import COMPONENTS as INDEX_COMPONENTS
from server.domain.index import LABELS as INDEX_LABELS
from server.domain.kpis import LABELS
from server.domain.masking import mask_name
from server.domain.roles import Role
from server.errors import Forbidden, Invalid
from server.extensions import db
from server.models import Community, ExportLog, Grid, Patrol, SentimentIndex, User
from server.services.caseloop import case_present, case_queries, kpi
from server.services.caseloop.case_deadlines import local_zone
from server.services.interop.tabular import (
    CSV_MIME,
    XLSX_MIME,
    Column,
    Sheet,
    csv_chunks,
    xlsx_chunks,
)
from server.services.patrolling.patrols import PatrolFilter, scope_patrols
from server.services.people.principal import Principal
from server.services.territory import org
from server.services.uow import UnitOfWork

FORMATS = ("xlsx", "csv")
SUBJECTS = ("cases", "kpis", "patrols", "index")
PAGE = 500  # rows read per query while streaming

SOURCE_ZH = {
    "patrol": "巡查发现",
    "resident": "居民上报",
    "hotline": "12345热线",
    "wechat": "微信",
    "visit": "来访",
    "deliberation": "议事会",
}
PRIORITY_ZH = {"low": "低", "normal": "一般", "high": "高", "urgent": "紧急"}


@dataclass(frozen=True)
class Export:
    """A file ready to stream: its name, type and the chunks that make it."""

    filename: str
    mimetype: str
    chunks: Iterator[bytes]


def response_for(export: Export) -> Response:
    """The file as a streamed attachment (the unit of work that logged it has committed)."""
    response = Response(stream_with_context(export.chunks), mimetype=export.mimetype)
    if export.mimetype == CSV_MIME:
        response.headers["Content-Type"] = CSV_MIME
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{export.filename}\"; filename*=UTF-8''{quote(export.filename)}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def log_export(
    uow: UnitOfWork, principal: Principal, subject: str, fmt: str, filters: dict[str, Any]
) -> ExportLog:
    """Record who exported what, when (written before the file streams)."""
    entry = ExportLog(
        user_id=principal.user_id,
        role=principal.role.value,
        subject=subject,
        format=fmt,
        filters={k: _plain(v) for k, v in filters.items() if v not in (None, [], "")},
        created_at=uow.now,
    )
    uow.session.add(entry)
    uow.session.flush()
    return entry


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _file(subject: str, fmt: str, sheets: list[Sheet]) -> Export:
    stamp = datetime.now(local_zone()).strftime("%Y%m%d-%H%M")
    zone = local_zone()
    if fmt == "csv":
        return Export(f"minqing-{subject}-{stamp}.csv", CSV_MIME, csv_chunks(sheets[0], zone))
    return Export(f"minqing-{subject}-{stamp}.xlsx", XLSX_MIME, xlsx_chunks(sheets, zone))


# ---------------------------------------------------------------------------------- cases

CASE_COLUMNS = (
    Column("编号 Number", 18),
    Column("状态 Status", 14),
    Column("阶段 Stage", 8),
    Column("来源 Source", 10),
    Column("优先级 Priority", 8),
    Column("分类 Category", 12),
    Column("社区 Community", 14),
    Column("网格编码 Grid code", 18),
    Column("网格 Grid", 14),
    Column("问题描述 Description", 40),
    Column("地址 Address", 24),
    Column("经度 Lon", 11, "number"),
    Column("纬度 Lat", 11, "number"),
    Column("上报人 Reporter", 10),
    Column("上报人电话 Phone", 15),
    Column("办理单位 Unit", 16),
    Column("上报时间 Reported", 17, "datetime"),
    Column("受理时间 Accepted", 17, "datetime"),
    Column("派遣时间 Dispatched", 17, "datetime"),
    Column("办理期限 Deadline", 17, "datetime"),
    Column("办结时间 Handled", 17, "datetime"),
    Column("结案时间 Closed", 17, "datetime"),
    Column("超期 Overdue", 8),
    Column("返工次数 Reworks", 9, "integer"),
    Column("评价 Rating", 10),
)


def case_row(body: dict[str, Any]) -> list[Any]:
    """One row of the 台账 from the API's presentation of a case (same masking)."""
    return [
        body["number"],
        body["status_zh"],
        body["stage_zh"],
        SOURCE_ZH.get(body["source"], body["source"]),
        PRIORITY_ZH.get(body["priority"], body["priority"]),
        body["category"]["name_zh"],
        body["community"]["name"] if body["community"] else None,
        body["grid"]["code"] if body["grid"] else None,
        body["grid"]["name"] if body["grid"] else "待定位 unlocated",
        body["description"],
        body["address"],
        body["lon"],
        body["lat"],
        body["reporter"]["name"],
        body["reporter"]["phone"],
        body["unit"]["name"] if body["unit"] else None,
        body["reported_at"],
        body["accepted_at"],
        body["dispatched_at"],
        body["deadline_at"],
        body["handled_at"],
        body["closed_at"],
        body["overdue"],
        body["rework_count"],
        VERDICT_ZH.get(body["rating"], body["rating"]) if body["rating"] else None,
    ]


def case_rows(
    principal: Principal, f: case_queries.CaseFilter, sort: str = "-created_at"
) -> Iterator[list[Any]]:
    """Every case of the queue with its filters, in its order, a keyset page at a time."""
    cursor: str | None = None
    while True:
        page = case_queries.list_case_rows(principal, f, sort=sort, cursor=cursor, limit=PAGE)
        for row in page.items:
            yield case_row(case_present.present_row(row, principal))
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def export_cases(
    uow: UnitOfWork,
    principal: Principal,
    fmt: str,
    f: case_queries.CaseFilter,
    sort: str = "-created_at",
) -> Export:
    """The queue as a 台账, logged."""
    log_export(uow, principal, "cases", fmt, {**asdict(f), "sort": sort})
    return _file("cases", fmt, [Sheet("事项台账", CASE_COLUMNS, case_rows(principal, f, sort))])


# ---------------------------------------------------------------------------------- KPIs

KPI_COLUMNS = (
    Column("指标 Figure", 16),
    Column("English", 30),
    Column("数值 Value", 10, "number"),
    Column("分子 Numerator", 10, "integer"),
    Column("分母 Denominator", 10, "integer"),
    Column("百分比 Percent", 10, "number"),
)


def _kpi_rows(figures: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for key, (zh, en) in LABELS.items():
        entry = figures[key]
        rows.append(
            [
                zh,
                en,
                entry.get("value"),
                entry.get("numerator"),
                entry.get("denominator"),
                entry.get("percent"),
            ]
        )
    return rows


def export_kpis(
    uow: UnitOfWork,
    principal: Principal,
    fmt: str,
    *,
    date_from: datetime,
    date_to: datetime,
    by: str = "community",
) -> Export:
    """The key figures over a period: the total, and (XLSX) one row per community or unit."""
    log_export(uow, principal, "kpis", fmt, {"from": date_from, "to": date_to, "by": by})
    overall = kpi.key_figures(principal, date_from=date_from, date_to=date_to)
    sheets = [Sheet("关键指标", KPI_COLUMNS, _kpi_rows(overall))]
    if fmt == "xlsx" and principal.role is not Role.UNIT_STAFF:
        areas: list[tuple[str, dict[str, Any]]]
        if by == "unit":
            areas = [(u.name, {"unit": u.id}) for u in org.list_units(principal)]
        else:
            areas = [(c.name, {"community": c.id}) for c in org.list_communities(principal)]
        keys = list(LABELS)
        columns = [Column("名称 Name", 16)] + [Column(LABELS[k][0], 11, "number") for k in keys]

        def rows() -> Iterator[list[Any]]:
            for name, where in areas:
                figures = kpi.key_figures(principal, date_from=date_from, date_to=date_to, **where)
                yield [name] + [figures[k].get("percent", figures[k].get("value")) for k in keys]

        sheets.append(Sheet("分社区" if by == "community" else "分单位", columns, rows()))
    return _file("kpis", fmt, sheets)


# ---------------------------------------------------------------------------------- patrols

PATROL_COLUMNS = (
    Column("巡逻编号 Patrol", 34),
    Column("收集员 Collector", 10),
    Column("网格编码 Grid code", 18),
    Column("网格 Grid", 14),
    Column("开始 Started", 17, "datetime"),
    Column("结束 Ended", 17, "datetime"),
    Column("状态 Status", 8),
    Column("里程(米) Distance m", 11, "number"),
    Column("时长(分) Minutes", 10, "number"),
    Column("网格内(分) Inside min", 10, "number"),
    Column("覆盖率 Coverage", 10, "percent"),
    Column("可信 Plausible", 8),
    Column("异常标记 Flags", 30),
)


def patrol_rows(principal: Principal, f: PatrolFilter) -> Iterator[list[Any]]:
    """Patrols the principal may read (no tracks), newest first, a page at a time."""
    stmt = scope_patrols(
        select(
            Patrol.id,
            Patrol.collector_id,
            User.display_name,
            Grid.code,
            Grid.name,
            Patrol.started_at,
            Patrol.ended_at,
            Patrol.status,
            Patrol.distance_m,
            Patrol.duration_s,
            Patrol.time_inside_s,
            Patrol.coverage,
            Patrol.plausible,
            Patrol.flags,
        )
        .join(User, User.id == Patrol.collector_id)
        .join(Grid, Grid.id == Patrol.grid_id),
        principal,
    )
    if f.collector_id is not None:
        stmt = stmt.where(Patrol.collector_id == f.collector_id)
    if f.grid_id is not None:
        stmt = stmt.where(Patrol.grid_id == f.grid_id)
    if f.since is not None:
        stmt = stmt.where(Patrol.started_at >= f.since)
    if f.until is not None:
        stmt = stmt.where(Patrol.started_at < f.until)
    stmt = stmt.order_by(Patrol.started_at.desc(), Patrol.id.desc())
    for row in db.session.execute(stmt.execution_options(yield_per=PAGE)):
        own = row.collector_id == principal.user_id
        name = (
            row.display_name if own or principal.sees_personal_data else mask_name(row.display_name)
        )
        yield [
            row.id,
            name,
            row.code,
            row.name,
            row.started_at,
            row.ended_at,
            "进行中" if row.status == "active" else "已结束",
            row.distance_m,
            round(row.duration_s / 60, 1) if row.duration_s is not None else None,
            round(row.time_inside_s / 60, 1) if row.time_inside_s is not None else None,
            row.coverage,
            row.plausible,
            "；".join(flag.get("message_zh", flag.get("code", "")) for flag in row.flags or [])
            or None,
        ]


def export_patrols(uow: UnitOfWork, principal: Principal, fmt: str, f: PatrolFilter) -> Export:
    """Patrols as a 台账, logged; collectors get their own."""
    if principal.role not in (Role.COLLECTOR, Role.DISPATCHER, Role.ADMIN):
        raise Forbidden("Your role may not read patrols", "您的角色无权查看巡逻记录")
    log_export(uow, principal, "patrols", fmt, asdict(f))
    return _file("patrols", fmt, [Sheet("巡逻台账", PATROL_COLUMNS, patrol_rows(principal, f))])


# ---------------------------------------------------------------------------------- the index


def index_rows(principal: Principal, level: str, first: date, last: date) -> Iterator[list[Any]]:
    model = Grid if level == "grid" else Community
    stmt = (
        select(SentimentIndex, model.code, model.name)
        .join(model, model.id == SentimentIndex.area_id)
        .where(
            SentimentIndex.level == level, SentimentIndex.day >= first, SentimentIndex.day <= last
        )
        .order_by(SentimentIndex.day, model.code)
    )
    if principal.subdistrict_id is not None:
        stmt = stmt.where(SentimentIndex.subdistrict_id == principal.subdistrict_id)
    for row, code, name in db.session.execute(stmt.execution_options(yield_per=PAGE)):
        components = row.components or {}
        yield [row.day, code, name, row.score] + [
            _component_score(components.get(k)) for k in INDEX_COMPONENTS
        ]


def _component_score(component: Any) -> Any:
    return component.get("score") if isinstance(component, dict) else component


def export_index(
    uow: UnitOfWork, principal: Principal, fmt: str, *, level: str, first: date, last: date
) -> Export:
    """The daily 民情指数 of every community (or grid) over [first, last], logged."""
    if first > last:
        raise Invalid("invalid_value", "from: after to", "字段 from：晚于 to", field="from")
    if last - first > timedelta(days=731):
        raise Invalid("invalid_value", "from: at most two years", "最多导出两年", field="from")
    log_export(uow, principal, "index", fmt, {"level": level, "from": first, "to": last})
    columns = [
        Column("日期 Day", 11, "date"),
        Column("编码 Code", 18),
        Column("名称 Name", 14),
        Column("民情指数 Score", 10, "number"),
    ] + [Column(f"{INDEX_LABELS[k][0]} {k}", 12, "number") for k in INDEX_COMPONENTS]
    return _file(
        "index", fmt, [Sheet("民情指数", columns, index_rows(principal, level, first, last))]
    )

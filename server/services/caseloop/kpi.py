"""The key figures (立案率, 按期结案率, 满意率 …) over the cases a principal may see."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select

from server.domain.kpis import CaseFacts, compute_kpis
from server.extensions import db
from server.models import Case, Category
from server.models.base import utcnow
from server.services.caseloop.case_queries import scope
from server.services.people.principal import Principal

FACT_COLUMNS = (
    Case.id,
    Case.reported_at,
    Case.status,
    Case.accepted_at,
    Case.first_dispatched_at,
    Case.send_back_count,
    Case.deadline_at,
    Case.handled_at,
    Case.handled_on_time,
    Case.closed_at,
    Case.rework_count,
    Case.rating,
)


def case_facts(rows: Any) -> Iterator[CaseFacts]:
    for (
        case_id,
        reported_at,
        status,
        accepted_at,
        first_dispatched_at,
        send_backs,
        deadline_at,
        handled_at,
        on_time,
        closed_at,
        reworks,
        rating,
    ) in rows:
        yield CaseFacts(
            id=case_id,
            reported_at=reported_at,
            status=status,
            accepted_at=accepted_at,
            rejected=status == "rejected",
            merged=status == "merged",
            first_dispatched_at=first_dispatched_at,
            send_back_count=send_backs,
            deadline_at=deadline_at,
            handled_at=handled_at,
            handled_on_time=on_time,
            closed_at=closed_at,
            rework_count=reworks,
            rating=rating,
        )


def key_figures(
    principal: Principal,
    *,
    date_from: datetime,
    date_to: datetime,
    community: int | None = None,
    grid: int | None = None,
    unit: int | None = None,
    category: str | None = None,
) -> dict[str, Any]:
    """KPIs over the cases reported in [date_from, date_to), each with numerator and
    denominator, as of now (so overdue-unhandled cases count against the rates)."""
    stmt = scope(select(*FACT_COLUMNS), principal).where(
        Case.reported_at >= date_from, Case.reported_at < date_to
    )
    if community is not None:
        stmt = stmt.where(Case.community_id == community)
    if grid is not None:
        stmt = stmt.where(Case.grid_id == grid)
    if unit is not None:
        stmt = stmt.where(Case.unit_id == unit)
    if category:
        stmt = stmt.where(
            Case.category_id.in_(
                select(Category.id).where(Category.code == category).scalar_subquery()
            )
        )
    rows = db.session.execute(stmt.execution_options(yield_per=2000))
    report = compute_kpis(case_facts(rows), as_of=utcnow())
    return {"from": date_from, "to": date_to, **report.as_dict()}

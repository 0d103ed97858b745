"""阳光公开: closed-case statistics per community for the public board — counts only, no
personal data, no descriptions."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from server.domain.kpis import CaseFacts, compute_kpis
from server.extensions import db
from server.models import Case, Category, Community
from server.models.base import utcnow
from server.services.caseloop.kpi import FACT_COLUMNS, case_facts

WINDOW_DAYS = 30  # what the board shows: the cases reported in the last 30 days


@dataclass(frozen=True)
class CommunityFigures:
    community_id: int
    code: str
    name: str
    reported: int
    closed: int
    closure_percent: float | None
    closed_on_time_percent: float | None
    satisfaction_percent: float | None
    avg_hours_to_handle: float | None


@dataclass(frozen=True)
class Sunshine:
    date_from: datetime
    date_to: datetime
    total: CommunityFigures
    communities: list[CommunityFigures]
    closed_by_category: list[dict[str, Any]]


def _figures(cid: int, code: str, name: str, facts: list[CaseFacts], now: datetime) -> Any:
    report = compute_kpis(facts, as_of=now)
    return CommunityFigures(
        community_id=cid,
        code=code,
        name=name,
        reported=report.reported,
        closed=report.closed,
        closure_percent=report.closure_rate.percent,
        closed_on_time_percent=report.closed_on_time_rate.percent,
        satisfaction_percent=report.satisfaction_rate.percent,
        avg_hours_to_handle=(
            round(report.avg_hours_to_handle, 1) if report.avg_hours_to_handle else None
        ),
    )


def closed_case_statistics(
    subdistrict_id: int | None = None, *, days: int = WINDOW_DAYS
) -> Sunshine:
    """Per community and in total, over the cases reported in the last `days` days, as of
    now: reported, closed, 结案率, 按期结案率, 满意率 and the average hours to handle;
    and the cases closed in that window per category."""
    now = utcnow()
    since = now - timedelta(days=days)
    communities_stmt = select(Community.id, Community.code, Community.name).order_by(Community.code)
    cases_stmt = select(Case.community_id, *FACT_COLUMNS).where(Case.reported_at >= since)
    if subdistrict_id is not None:
        communities_stmt = communities_stmt.where(Community.subdistrict_id == subdistrict_id)
        cases_stmt = cases_stmt.where(Case.subdistrict_id == subdistrict_id)
    by_community: dict[int, list[CaseFacts]] = defaultdict(list)
    everything: list[CaseFacts] = []
    for row in db.session.execute(cases_stmt.execution_options(yield_per=2000)):
        fact = next(case_facts([tuple(row)[1:]]))
        by_community[row[0]].append(fact)
        everything.append(fact)
    rows = [
        _figures(cid, code, name, by_community.get(cid, []), now)
        for cid, code, name in db.session.execute(communities_stmt)
    ]
    category_stmt = (
        select(Category.name_zh, Category.name_en, func.count())
        .join(Case, Case.category_id == Category.id)
        .where(Case.status == "closed", Case.closed_at >= since)
        .group_by(Category.name_zh, Category.name_en)
        .order_by(func.count().desc())
    )
    if subdistrict_id is not None:
        category_stmt = category_stmt.where(Case.subdistrict_id == subdistrict_id)
    by_category = [
        {"name_zh": zh, "name_en": en, "closed": n}
        for zh, en, n in db.session.execute(category_stmt)
    ]
    return Sunshine(
        date_from=since,
        date_to=now,
        total=_figures(0, "", "全部", everything, now),
        communities=rows,
        closed_by_category=by_category,
    )

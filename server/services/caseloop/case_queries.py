"""Finding cases: the scoped, filtered, keyset-paginated queue, and counts per stage."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, case, false, func, or_, select, text
from sqlalchemy.orm import selectinload

from server.domain.cases import Stage, Status, stage_of, statuses_in
from server.domain.roles import Role
from server.extensions import db
from server.models import Case, Category, Community, Grid, HotlineOrder, Unit
from server.models.base import utcnow
from server.services.caseloop import case_search
from server.services.pagination import keyset_page
from server.services.people.principal import Principal

NEAR_DEADLINE = timedelta(hours=24)

# What presenting a case reads, loaded in one batch per page instead of once per case
# (and without the grid and community polygons).
PRESENT_OPTIONS = (
    selectinload(Case.category),
    selectinload(Case.unit),
    selectinload(Case.grid).load_only(Grid.id, Grid.code, Grid.name),
    selectinload(Case.community).load_only(Community.id, Community.code, Community.name),
)

# What a queue row shows (`case_present.present_row`): exactly the columns a page reads, its
# category, grid, community and unit joined in; no ORM objects, no polygons.
ROW_COLUMNS = (
    Case.id,
    Case.number,
    Case.status,
    Case.source,
    Case.channel,
    Case.priority,
    Category.code.label("category_code"),
    Category.name_zh.label("category_name_zh"),
    Category.name_en.label("category_name_en"),
    Case.description,
    Case.address,
    Case.lon,
    Case.lat,
    Grid.id.label("grid_id"),
    Grid.code.label("grid_code"),
    Grid.name.label("grid_name"),
    Community.id.label("community_id"),
    Community.code.label("community_code"),
    Community.name.label("community_name"),
    Case.reporter_id,
    Case.reporter_role,
    Case.reporter_name,
    Case.reporter_phone,
    Case.phone_consent,
    Case.unit_id,
    Unit.name.label("unit_name"),
    Case.deadline_at,
    Case.overdue,
    Case.overdue_at,
    Case.escalated_at,
    Case.rework_count,
    Case.send_back_count,
    Case.extension_count,
    Case.extension_requested_until,
    Case.extension_reason,
    Case.result,
    Case.rating,
    Case.merged_into_id,
    Case.version,
    Case.reported_at,
    Case.created_at,
    Case.updated_at,
    Case.accepted_at,
    Case.dispatched_at,
    Case.handled_at,
    Case.closed_at,
    Case.public_token,
)


@cache
def rows_select() -> Select[Any]:
    """The queue's Core select of `ROW_COLUMNS`; `scope` and the filters apply to it as they
    do to `select(Case)` (they only add WHERE clauses on `Case`). Built once: selects are
    immutable, each `.where` makes a new one."""
    return (
        select(*ROW_COLUMNS)
        .select_from(Case)
        .join(Category, Category.id == Case.category_id)
        # outer: an unlocated case (待定位) has no grid and no community yet
        .outerjoin(Grid, Grid.id == Case.grid_id)
        .outerjoin(Community, Community.id == Case.community_id)
        .outerjoin(Unit, Unit.id == Case.unit_id)
    )


# sort name -> (column, descending)
SORTS: dict[str, tuple[Any, bool]] = {
    "-created_at": (Case.created_at, True),
    "created_at": (Case.created_at, False),
    "deadline_at": (Case.deadline_at, False),
    "-updated_at": (Case.updated_at, True),
}


@dataclass
class CaseFilter:
    status: list[str] | None = None
    stage: str | None = None
    community: int | None = None
    grid: int | None = None
    category: str | None = None
    unit: int | None = None
    source: str | None = None
    overdue: bool | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    q: str | None = None
    # views (branch dispatch): "near deadline" = what stage_counts' due_within_24h counts
    due_soon: bool | None = None
    # True: only the unlocated cases (待定位, no point nor grid); False: only located ones
    unlocated: bool | None = None
    # the cases of one 12345 import: its orders' `imported_at` (an instant, to the microsecond)
    imported_at: datetime | None = None


@dataclass(frozen=True)
class CasePage:
    items: list[Case]
    next_cursor: str | None


@dataclass(frozen=True)
class RowPage:
    items: list[Any]  # rows of ROW_COLUMNS
    next_cursor: str | None


def scope(stmt: Select[Any], principal: Principal) -> Select[Any]:
    """Collectors: their grids (and what they reported); unit staff: their unit's cases;
    dispatchers and admins: their subdistrict (a city admin: everything)."""
    if principal.subdistrict_id is not None:
        stmt = stmt.where(Case.subdistrict_id == principal.subdistrict_id)
    if principal.role is Role.COLLECTOR:
        mine = Case.reporter_id == principal.user_id
        if principal.grid_ids:
            return stmt.where(or_(Case.grid_id.in_(principal.grid_ids), mine))
        return stmt.where(mine)
    if principal.role is Role.UNIT_STAFF:
        if principal.unit_id is None:
            return stmt.where(false())
        return stmt.where(Case.unit_id == principal.unit_id)
    return stmt


def _filtered(stmt: Select[Any], f: CaseFilter) -> Select[Any]:
    if f.status:
        stmt = stmt.where(Case.status.in_(f.status))
    if f.stage:
        stmt = stmt.where(Case.status.in_([s.value for s in statuses_in(f.stage)]))
    if f.community is not None:
        stmt = stmt.where(Case.community_id == f.community)
    if f.grid is not None:
        stmt = stmt.where(Case.grid_id == f.grid)
    if f.category:
        stmt = stmt.where(
            Case.category_id.in_(
                select(Category.id).where(Category.code == f.category).scalar_subquery()
            )
        )
    if f.unit is not None:
        stmt = stmt.where(Case.unit_id == f.unit)
    if f.source:
        stmt = stmt.where(Case.source == f.source)
    if f.overdue is not None:
        stmt = stmt.where(Case.overdue.is_(f.overdue))
    if f.created_from is not None:
        stmt = stmt.where(Case.created_at >= f.created_from)
    if f.created_to is not None:
        stmt = stmt.where(Case.created_at < f.created_to)
    if f.q:
        stmt = stmt.where(case_search.matches(f.q))
    if f.unlocated is not None:
        stmt = stmt.where(Case.grid_id.is_(None) if f.unlocated else Case.grid_id.is_not(None))
    if f.imported_at is not None:
        # a range one microsecond wide: equality of stored instants, on both backends
        imported = select(HotlineOrder.case_id).where(
            HotlineOrder.imported_at >= f.imported_at,
            HotlineOrder.imported_at < f.imported_at + timedelta(microseconds=1),
        )
        stmt = stmt.where(Case.id.in_(imported))
    return _view_filtered(stmt, f)


def _view_filtered(stmt: Select[Any], f: CaseFilter) -> Select[Any]:
    """The views' filters (branch dispatch), apart from the field filters above."""
    if f.due_soon:
        stmt = stmt.where(*_due_soon())
    return stmt


def _due_soon() -> tuple[Any, ...]:
    """On the clock, not yet overdue, due within 24 hours."""
    return (
        Case.overdue.is_(False),
        Case.status.in_([Status.DISPATCHED.value, Status.IN_PROGRESS.value]),
        Case.deadline_at.is_not(None),
        Case.deadline_at < utcnow() + NEAR_DEADLINE,
    )


def list_cases(
    principal: Principal,
    f: CaseFilter,
    *,
    sort: str = "-created_at",
    cursor: str | None = None,
    limit: int = 50,
) -> CasePage:
    """One page of the queue. Keyset pagination on (sort column, id): a deep page costs
    what the first does."""
    column, desc = SORTS[sort]
    stmt = _filtered(scope(select(Case), principal), f)
    if sort == "deadline_at":
        stmt = stmt.where(Case.deadline_at.is_not(None))  # only cases on the clock have one
    page = keyset_page(
        stmt.options(*PRESENT_OPTIONS),
        Case.id,
        column,
        sort=sort,
        desc=desc,
        cursor=cursor,
        limit=limit,
    )
    return CasePage(items=page.items, next_cursor=page.next_cursor)


def list_case_rows(
    principal: Principal,
    f: CaseFilter,
    *,
    sort: str = "-created_at",
    cursor: str | None = None,
    limit: int = 50,
) -> RowPage:
    """`list_cases` as plain rows of `ROW_COLUMNS` (for `case_present.present_row`): the same
    cases in the same order with the same cursors, without building ORM objects."""
    column, desc = SORTS[sort]
    stmt = _filtered(scope(rows_select(), principal), f)
    if sort == "deadline_at":
        stmt = stmt.where(Case.deadline_at.is_not(None))
    plain = _plain_page(principal, f)
    if plain:
        db.session.execute(text("SET LOCAL plan_cache_mode = auto"))
    page = keyset_page(
        stmt, Case.id, column, sort=sort, desc=desc, cursor=cursor, limit=limit, rows=True
    )
    if plain:
        db.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    return RowPage(items=page.items, next_cursor=page.next_cursor)


def _plain_page(principal: Principal, f: CaseFilter) -> bool:
    """Whether the page may use PostgreSQL's generic plan: the connections force a custom
    plan per execution (config.engine_options: a generic plan made without a search's or a
    rare filter's values took seconds), and planning the page's five-table join costs more
    than running it (~1.3 ms against ~0.4 ms at 1M cases). A dispatcher's or admin's page
    without filters has no value whose rarity could change the best plan (its scope is the
    whole subdistrict, or everything), so it keeps the plan prepared on the connection."""
    if principal.role not in (Role.DISPATCHER, Role.ADMIN):
        return False
    if db.session.get_bind().dialect.name != "postgresql":
        return False
    return all(getattr(f, field.name) is None for field in fields(f))


def stage_counts(principal: Principal, f: CaseFilter) -> dict[str, Any]:
    """How many cases the principal sees per stage and status, and how many are overdue: one
    grouped query (the overdue and due-soon counts are sums per status)."""
    on_clock = Case.status.in_([Status.DISPATCHED.value, Status.IN_PROGRESS.value])
    overdue = func.sum(case((Case.overdue.is_(True) & on_clock, 1), else_=0))
    due_soon = func.sum(
        case(
            (
                Case.overdue.is_(False)
                & on_clock
                & Case.deadline_at.is_not(None)
                & (Case.deadline_at < utcnow() + NEAR_DEADLINE),
                1,
            ),
            else_=0,
        )
    )
    unlocated = func.sum(case((Case.grid_id.is_(None), 1), else_=0))
    stmt = _filtered(
        scope(select(Case.status, func.count(), overdue, due_soon, unlocated), principal), f
    )
    by_status: dict[str, int] = {}
    n_overdue = n_due_soon = n_unlocated = 0
    for status, n, n_over, n_soon, n_unloc in db.session.execute(stmt.group_by(Case.status)):
        by_status[status] = n
        n_overdue += int(n_over or 0)
        n_due_soon += int(n_soon or 0)
        n_unlocated += int(n_unloc or 0)
    by_stage: dict[str, int] = {stage.value: 0 for stage in Stage}
    for status, n in by_status.items():
        by_stage[stage_of(status).value] += n
    return {
        "by_stage": by_stage,
        "by_status": {s.value: by_status.get(s.value, 0) for s in Status},
        "overdue": n_overdue,
        "due_within_24h": n_due_soon,
        "unlocated": n_unlocated,  # 待定位: no point nor grid yet
    }

"""The daily sentiment index (民情指数): gather each area's counts, score, store, publish.

Recomputing a day replaces that day's rows with the same numbers (the inputs are read from
the records, never from the clock), so the beat, the on-demand call and the backfill agree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, delete, distinct, func, insert, or_, select

from server.domain.index import (
    FORMULA_VERSION,
    IndexInputs,
    IndexResult,
    Weights,
    bulletin_zh,
    combine_inputs,
    compute_index,
)
from server.errors import Invalid, NotFound
from server.extensions import db
from server.models import (
    Bulletin,
    Case,
    CaseEvent,
    Community,
    Grid,
    Patrol,
    PatrolSlot,
    Rating,
    SentimentIndex,
    Subdistrict,
)
from server.models.base import utcnow
from server.services.caseloop.case_deadlines import local_zone
from server.services.messaging import notify
from server.services.uow import UnitOfWork

NOT_NEW = ("rejected", "merged")


@dataclass(frozen=True)
class DayResult:
    day: date
    grids: int
    communities: int
    bulletins: int


def weights() -> Weights:
    return Weights.from_mapping(current_app.config.get("INDEX_WEIGHTS") or {})


def local_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """UTC instants of local midnight starting `first` and ending `last`."""
    tz = local_zone()
    start = datetime.combine(first, time(), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)
    return start, end


def yesterday() -> date:
    return (utcnow().astimezone(local_zone()) - timedelta(days=1)).date()


def _by_grid(stmt: Any) -> dict[int, int]:
    return {gid: n for gid, n in db.session.execute(stmt).all()}


def grid_inputs(day: date, subdistrict_id: int, grid_ids: list[int]) -> dict[int, IndexInputs]:
    """Each grid's counts for `day` over the trailing window (grouped queries, one per kind:
    the cost follows the window's records, not the whole history)."""
    window = current_app.config["INDEX_WINDOW_DAYS"]
    w_start, w_end = local_bounds(day - timedelta(days=window - 1), day)
    d_start, d_end = local_bounds(day, day)
    # Cases of the subdistrict, through its (subdistrict, time) indexes; counts of grids not
    # in `grid_ids` (inactive ones) are simply not read out below.
    in_grids = Case.subdistrict_id == subdistrict_id

    new: dict[int, dict[str, int]] = defaultdict(dict)
    for gid, priority, n in db.session.execute(
        select(Case.grid_id, Case.priority, func.count())
        .where(
            in_grids,
            Case.reported_at >= w_start,
            Case.reported_at < w_end,
            Case.status.not_in(NOT_NEW),
        )
        .group_by(Case.grid_id, Case.priority)
    ):
        new[gid][priority] = n
    due_window = and_(
        in_grids, Case.deadline_at >= w_start, Case.deadline_at < w_end, Case.status.not_in(NOT_NEW)
    )
    due = _by_grid(select(Case.grid_id, func.count()).where(due_window).group_by(Case.grid_id))
    on_time = _by_grid(
        select(Case.grid_id, func.count())
        .where(due_window, Case.handled_on_time.is_(True))
        .group_by(Case.grid_id)
    )
    ratings: dict[int, dict[str, int]] = defaultdict(dict)
    for gid, verdict, n in db.session.execute(
        select(Case.grid_id, Rating.verdict, func.count())
        .join(Case, Case.id == Rating.case_id)
        .where(
            in_grids,
            Rating.created_at >= w_start,
            Rating.created_at < w_end,
            Rating.verdict != "none",
        )
        .group_by(Case.grid_id, Rating.verdict)
    ):
        ratings[gid][verdict] = n
    handled: dict[int, int] = {}
    reworked: dict[int, int] = {}
    for gid, n_handled, n_reworked in db.session.execute(
        select(
            Case.grid_id,
            func.count(distinct(Case.id)),
            func.count(distinct(Case.id)).filter(Case.rework_count > 0),
        )
        .select_from(CaseEvent)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(
            in_grids,
            CaseEvent.action == "report_done",
            CaseEvent.created_at >= w_start,
            CaseEvent.created_at < w_end,
        )
        .group_by(Case.grid_id)
    ):
        handled[gid], reworked[gid] = n_handled, n_reworked
    coverage = {
        gid: float(c)
        for gid, c in db.session.execute(
            select(Patrol.grid_id, func.max(Patrol.coverage))
            .where(
                Patrol.grid_id.in_(grid_ids),
                Patrol.started_at >= d_start,
                Patrol.started_at < d_end,
                Patrol.status == "ended",
            )
            .group_by(Patrol.grid_id)
        ).all()
        if c is not None
    }
    slots: dict[int, dict[str, int]] = defaultdict(lambda: {"done": 0, "missed": 0})
    for gid, status, n in db.session.execute(
        select(PatrolSlot.grid_id, PatrolSlot.status, func.count())
        .where(
            PatrolSlot.grid_id.in_(grid_ids),
            PatrolSlot.due_at >= w_start,
            PatrolSlot.due_at < w_end,
        )
        .group_by(PatrolSlot.grid_id, PatrolSlot.status)
    ):
        slots[gid][status] = n
    scheduled_today = set(
        db.session.scalars(
            select(PatrolSlot.grid_id)
            .distinct()
            .where(
                PatrolSlot.grid_id.in_(grid_ids),
                PatrolSlot.due_at >= d_start,
                PatrolSlot.due_at < d_end,
            )
        )
    )
    populations = dict(
        db.session.execute(select(Grid.id, Grid.population).where(Grid.id.in_(grid_ids))).all()
    )

    out = {}
    for gid in grid_ids:
        # Coverage counts on a day with a patrol due or done; a due day without one is 0.
        cov = coverage.get(gid)
        if cov is None and gid in scheduled_today:
            cov = 0.0
        out[gid] = IndexInputs(
            population=populations.get(gid, 0) or 0,
            window_days=window,
            new_cases_by_priority=dict(sorted(new[gid].items())),
            due_count=due.get(gid, 0),
            closed_on_time=on_time.get(gid, 0),
            ratings_satisfied=ratings[gid].get("satisfied", 0),
            ratings_basic=ratings[gid].get("basic", 0),
            ratings_unsatisfied=ratings[gid].get("unsatisfied", 0),
            handled_count=handled.get(gid, 0),
            reworked_count=reworked.get(gid, 0),
            patrol_coverage=min(cov, 1.0) if cov is not None else None,
            scheduled_patrols=slots[gid]["done"] + slots[gid]["missed"],
            patrols_done_on_time=slots[gid]["done"],
        )
    return out


def compute_day(
    uow: UnitOfWork, day: date, *, subdistrict_id: int | None = None, publish: bool = True
) -> DayResult:
    """Compute and store the index of `day` for every grid and community (of one
    subdistrict, or all), then the communities' bulletins. Idempotent."""
    if day > (uow.now.astimezone(local_zone())).date():
        raise Invalid(
            "validation_error",
            "date: the day has not happened yet",
            "字段 date：该日期尚未到来",
            field="date",
        )
    wts = weights()
    subdistricts = (
        [subdistrict_id]
        if subdistrict_id
        else list(db.session.scalars(select(Subdistrict.id).order_by(Subdistrict.id)))
    )
    grids_done = communities_done = bulletins = 0
    for sid in subdistricts:
        grids = db.session.execute(
            select(Grid.id, Grid.community_id, Grid.area_m2)
            .where(Grid.subdistrict_id == sid, Grid.active.is_(True))
            .order_by(Grid.id)
        ).all()
        if not grids:
            continue
        inputs = grid_inputs(day, sid, [g.id for g in grids])
        db.session.execute(
            delete(SentimentIndex).where(
                SentimentIndex.day == day, SentimentIndex.subdistrict_id == sid
            )
        )
        members: dict[int, list[Any]] = defaultdict(list)
        rows: list[dict[str, Any]] = []
        for g in grids:
            result = compute_index(inputs[g.id], wts)
            rows.append(_row(day, "grid", g.id, sid, inputs[g.id], result))
            members[g.community_id].append(g)
        grids_done += len(grids)
        community_results = {}
        for cid in sorted(members):
            parts = members[cid]
            combined = combine_inputs([inputs[g.id] for g in parts], [g.area_m2 for g in parts])
            result = compute_index(combined, wts)
            rows.append(_row(day, "community", cid, sid, combined, result))
            community_results[cid] = result
        # one multi-row INSERT: a year of backfill writes about a thousand rows a day
        db.session.execute(insert(SentimentIndex), rows)
        communities_done += len(community_results)
        bulletins += _bulletins(day, sid, community_results, publish)
    uow.session.flush()
    return DayResult(day=day, grids=grids_done, communities=communities_done, bulletins=bulletins)


def _row(
    day: date,
    level: str,
    area_id: int,
    subdistrict_id: int,
    inputs: IndexInputs,
    result: IndexResult,
) -> dict[str, Any]:
    return {
        "day": day,
        "level": level,
        "area_id": area_id,
        "subdistrict_id": subdistrict_id,
        "score": result.score,
        "components": result.as_dict()["components"],
        "inputs": inputs.as_dict(),
        "formula_version": FORMULA_VERSION,
        "computed_at": utcnow(),
    }


def _bulletins(
    day: date, subdistrict_id: int, results: dict[int, IndexResult], publish: bool
) -> int:
    d_start, d_end = local_bounds(day, day)
    previous = dict(
        db.session.execute(
            select(SentimentIndex.area_id, SentimentIndex.score).where(
                SentimentIndex.day == day - timedelta(days=1),
                SentimentIndex.level == "community",
                SentimentIndex.subdistrict_id == subdistrict_id,
            )
        ).all()
    )

    def per_community(*conditions: Any) -> dict[int, int]:
        return dict(
            db.session.execute(
                select(Case.community_id, func.count())
                .where(Case.subdistrict_id == subdistrict_id, *conditions)
                .group_by(Case.community_id)
            ).all()
        )

    new = per_community(
        Case.reported_at >= d_start, Case.reported_at < d_end, Case.status.not_in(NOT_NEW)
    )
    closed = per_community(
        Case.closed_at >= d_start, Case.closed_at < d_end, Case.status == "closed"
    )
    overdue = per_community(
        Case.deadline_at >= d_start,
        Case.deadline_at < d_end,
        or_(Case.handled_at.is_(None), Case.handled_at > Case.deadline_at),
        Case.status.not_in(NOT_NEW),
    )
    names = dict(
        db.session.execute(
            select(Community.id, Community.name).where(Community.id.in_(list(results)))
        ).all()
    )
    db.session.execute(
        delete(Bulletin).where(Bulletin.day == day, Bulletin.subdistrict_id == subdistrict_id)
    )
    texts = []
    for cid, result in results.items():
        text = bulletin_zh(
            names[cid],
            day,
            result,
            previous.get(cid),
            new.get(cid, 0),
            closed.get(cid, 0),
            overdue.get(cid, 0),
        )
        db.session.add(
            Bulletin(
                day=day,
                community_id=cid,
                subdistrict_id=subdistrict_id,
                text=text,
                score=result.score,
                previous=previous.get(cid),
            )
        )
        texts.append(
            {"community_id": cid, "community": names[cid], "score": result.score, "text": text}
        )
    if publish and texts:
        notify.publish_bulletin(subdistrict_id, day, texts)
    return len(texts)


def backfill(
    uow: UnitOfWork,
    first: date,
    last: date,
    *,
    progress: Callable[[int], None] | None = None,
    subdistrict_id: int | None = None,
) -> int:
    """Compute every day from `first` to `last` in order (each day's bulletin compares with
    the day before, so order matters); webhooks are not sent for past days."""
    if last < first:
        raise Invalid("validation_error", "to: before from", "字段 to：早于 from", field="to")
    day, n = first, 0
    while day <= last:
        compute_day(uow, day, subdistrict_id=subdistrict_id, publish=False)
        n += 1
        if progress:
            progress(1)
        day += timedelta(days=1)
    return n


# ---------------------------------------------------------------------------------- reading


def latest_day(subdistrict_id: int | None = None) -> date | None:
    stmt = select(func.max(SentimentIndex.day))
    if subdistrict_id is not None:
        stmt = stmt.where(SentimentIndex.subdistrict_id == subdistrict_id)
    return db.session.scalar(stmt)


def published(
    day: date | None, level: str, subdistrict_id: int | None = None
) -> tuple[date | None, list[dict[str, Any]]]:
    """The index of every area at `level` on `day` (default: the latest computed day)."""
    day = day or latest_day(subdistrict_id)
    if day is None:
        return None, []
    model = Grid if level == "grid" else Community
    stmt = (
        select(SentimentIndex, model.code, model.name)
        .join(model, model.id == SentimentIndex.area_id)
        .where(SentimentIndex.day == day, SentimentIndex.level == level)
        .order_by(model.code)
    )
    if subdistrict_id is not None:
        stmt = stmt.where(SentimentIndex.subdistrict_id == subdistrict_id)
    previous = dict(
        db.session.execute(
            select(SentimentIndex.area_id, SentimentIndex.score).where(
                SentimentIndex.day == day - timedelta(days=1), SentimentIndex.level == level
            )
        ).all()
    )
    rows = []
    for row, code, name in db.session.execute(stmt):
        before = previous.get(row.area_id)
        change = (
            round(row.score - before, 1) if row.score is not None and before is not None else None
        )
        rows.append(
            {
                "area_id": row.area_id,
                "code": code,
                "name": name,
                "score": row.score,
                "change": change,
                "components": row.components,
                "formula_version": row.formula_version,
            }
        )
    return day, rows


def history_of(
    community: int | None, grid: int | None, first: date | None, last: date | None
) -> tuple[str, int, list[dict[str, Any]]]:
    """Exactly one of a community or a grid, day by day over [first, last]; by default the
    30 days up to the latest computed day."""
    if (community is None) == (grid is None):
        raise Invalid(
            "validation_error",
            "give exactly one of community, grid",
            "请指定 community 或 grid 之一",
            field="community",
        )
    level, area_id = ("community", community) if community is not None else ("grid", grid)
    assert area_id is not None
    last = last or latest_day() or yesterday()
    first = first or last - timedelta(days=29)
    if first > last:
        raise Invalid("validation_error", "from: after to", "字段 from：晚于 to", field="from")
    return level, area_id, history(level, area_id, first, last)


def history(level: str, area_id: int, first: date, last: date) -> list[dict[str, Any]]:
    if (last - first).days > 731:
        raise Invalid(
            "validation_error",
            "the range may span at most two years",
            "查询范围最多两年",
            field="from",
        )
    model = Grid if level == "grid" else Community
    if db.session.get(model, area_id) is None:
        raise NotFound("Area", "区域", field=level)
    rows = db.session.execute(
        select(SentimentIndex.day, SentimentIndex.score, SentimentIndex.components)
        .where(
            SentimentIndex.level == level,
            SentimentIndex.area_id == area_id,
            SentimentIndex.day >= first,
            SentimentIndex.day <= last,
        )
        .order_by(SentimentIndex.day)
    )
    return [{"day": d, "score": s, "components": c} for d, s, c in rows]


def bulletins_of(
    day: date | None, subdistrict_id: int | None = None
) -> tuple[date | None, list[Bulletin]]:
    day = day or db.session.scalar(select(func.max(Bulletin.day)))
    if day is None:
        return None, []
    stmt = select(Bulletin).where(Bulletin.day == day).order_by(Bulletin.community_id)
    if subdistrict_id is not None:
        stmt = stmt.where(Bulletin.subdistrict_id == subdistrict_id)
    return day, list(db.session.scalars(stmt))

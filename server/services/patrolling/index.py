"""The daily sentiment index (民情指数): gather each area's counts, score, store, publish.

Recomputing a day replaces that day's rows with the same numbers (the inputs are read from
the records, never from the clock), so the beat, the on-demand call and the backfill agree.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from flask import current_app
from sqlalchemy import and_, delete, distinct, func, insert, select

from server.domain import index_vector
from server.domain.index import (
    FORMULA_VERSION,
    TOPIC_WINDOW_DAYS,
    IndexInputs,
    IndexResult,
    Weights,
    bulletin_zh,
    combine_inputs,
)
from server.errors import Invalid, NotFound
from server.extensions import db
from server.models import (
    Bulletin,
    Case,
    CaseEvent,
    Community,
    Grid,
    IndexFormula,
    Patrol,
    PatrolSlot,
    Rating,
    SentimentIndex,
    Topic,
    TopicRating,
)
from server.models.base import utcnow
from server.models.deliberation import TOPIC_VERDICTS
from server.services.caseloop.case_deadlines import local_zone
from server.services.messaging import notify
from server.services.patrolling import index_sets, index_store
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


def topic_counts_reference(day: date, subdistrict_id: int) -> dict[int, dict[str, int]]:
    """Residents' evaluations of each community's topics over the topic window ending on
    `day` (the per-day reference for the set-wise `topic_day_counts`)."""
    w_start, w_end = local_bounds(day - timedelta(days=TOPIC_WINDOW_DAYS - 1), day)
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for cid, verdict, n in db.session.execute(
        select(Topic.community_id, TopicRating.verdict, func.count())
        .join(Topic, Topic.id == TopicRating.topic_id)
        .where(
            Topic.subdistrict_id == subdistrict_id,
            TopicRating.created_at >= w_start,
            TopicRating.created_at < w_end,
        )
        .group_by(Topic.community_id, TopicRating.verdict)
    ):
        out[cid][verdict] = n
    return out


def reference_day(day: date, subdistrict_id: int) -> dict[tuple[str, int], IndexInputs]:
    """The inputs of every grid and community of a subdistrict for `day`, by the per-day
    queries (`grid_inputs`, `combine_inputs`): the reference the set-wise pass must equal."""
    grids = db.session.execute(
        select(Grid.id, Grid.community_id, Grid.area_m2)
        .where(Grid.subdistrict_id == subdistrict_id, Grid.active.is_(True))
        .order_by(Grid.id)
    ).all()
    inputs = grid_inputs(day, subdistrict_id, [g.id for g in grids])
    topics = topic_counts_reference(day, subdistrict_id)
    out: dict[tuple[str, int], IndexInputs] = {("grid", g.id): inputs[g.id] for g in grids}
    members: dict[int, list[Any]] = defaultdict(list)
    for g in grids:
        members[g.community_id].append(g)
    for cid, parts in sorted(members.items()):
        combined = combine_inputs([inputs[g.id] for g in parts], [g.area_m2 for g in parts])
        t = topics.get(cid, {})
        out[("community", cid)] = replace(
            combined,
            topic_satisfied=t.get("satisfied", 0),
            topic_basic=t.get("basic", 0),
            topic_unsatisfied=t.get("unsatisfied", 0),
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
    return compute_range(uow, day, day, subdistrict_id=subdistrict_id, publish=publish)[0]


BACKFILL_CHUNK_DAYS = 183
"""A backfill computes this many days per set-wise pass (bounds the arrays in memory)."""


def backfill(
    uow: UnitOfWork,
    first: date,
    last: date,
    *,
    progress: Callable[[int], None] | None = None,
    subdistrict_id: int | None = None,
) -> int:
    """Compute every day from `first` to `last`, set-wise in chunks, oldest first (each
    day's bulletin compares with the day before); webhooks are not sent for past days."""
    if last < first:
        raise Invalid("validation_error", "to: before from", "字段 to：早于 from", field="to")
    if last > (uow.now.astimezone(local_zone())).date():
        raise Invalid(
            "validation_error",
            "to: the day has not happened yet",
            "字段 to：该日期尚未到来",
            field="to",
        )
    start, n = first, 0
    while start <= last:
        end = min(last, start + timedelta(days=BACKFILL_CHUNK_DAYS - 1))
        done = compute_range(uow, start, end, subdistrict_id=subdistrict_id, publish=False)
        n += len(done)
        if progress:
            progress(len(done))
        start = end + timedelta(days=1)
    return n


def formula_id(weights: Weights) -> int:
    """The id of the (formula version, weights) row, created at its first use."""
    key = json.dumps(weights.as_dict(), sort_keys=True)
    found = db.session.scalar(
        select(IndexFormula.id).where(
            IndexFormula.version == FORMULA_VERSION, IndexFormula.weights_key == key
        )
    )
    if found is not None:
        return found
    row = IndexFormula(version=FORMULA_VERSION, weights=weights.as_dict(), weights_key=key)
    db.session.add(row)
    db.session.flush()
    return row.id


def compute_range(
    uow: UnitOfWork,
    first: date,
    last: date,
    *,
    subdistrict_id: int | None = None,
    publish: bool = False,
) -> list[DayResult]:
    """The index of every day of [first, last] for every active grid and community (of one
    subdistrict, or all), set-wise: the inputs of the whole range from one SQL pass
    (`index_sets`), scored by the vectorised formula (`index_vector`), stored as slim
    numeric rows; then each day's bulletins. Replaces what was stored for those days."""
    tz = local_zone()
    window = int(current_app.config["INDEX_WINDOW_DAYS"])
    wts = weights()
    stmt = select(
        Grid.id, Grid.community_id, Grid.subdistrict_id, Grid.area_m2, Grid.population
    ).where(Grid.active.is_(True))
    if subdistrict_id:
        stmt = stmt.where(Grid.subdistrict_id == subdistrict_id)
    grids = db.session.execute(stmt.order_by(Grid.id)).all()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    if not grids:
        return [DayResult(day=d, grids=0, communities=0, bulletins=0) for d in days]
    gd = index_sets.grid_day_inputs(first, last, window, tz, [g.id for g in grids], subdistrict_id)
    n_days = len(days)
    c = gd.counts
    population = np.asarray([g.population or 0 for g in grids], dtype=np.int64)
    coverage = np.where(np.isnan(gd.coverage) & (c["slot_today"] > 0), 0.0, gd.coverage)
    coverage = np.minimum(coverage, 1.0)
    grid_cols: dict[str, Any] = {
        "population": np.repeat(population[:, None], n_days, axis=1),
        "window_days": np.full(coverage.shape, window, dtype=np.int64),
        **{f: c[f] for f in index_sets.FIELDS[:11]},
        "patrol_coverage": coverage,
        "scheduled_patrols": c["slots_done"] + c["slots_missed"],
        "patrols_done_on_time": c["slots_done"],
        "topic_satisfied": np.zeros(coverage.shape, dtype=np.int64),
        "topic_basic": np.zeros(coverage.shape, dtype=np.int64),
        "topic_unsatisfied": np.zeros(coverage.shape, dtype=np.int64),
    }

    # communities: the grids' inputs pooled (counts add up, coverage area-weighted)
    community_ids = sorted({g.community_id for g in grids})
    k_of = {cid: k for k, cid in enumerate(community_ids)}
    member = np.zeros((len(community_ids), len(grids)), dtype=np.int64)
    for j, g in enumerate(grids):
        member[k_of[g.community_id], j] = 1
    comm_cols: dict[str, Any] = {
        name: member @ value
        for name, value in grid_cols.items()
        if name not in ("patrol_coverage", "window_days")
    }
    comm_cols["window_days"] = np.full((len(community_ids), n_days), window, dtype=np.int64)
    comm_cols["patrol_coverage"] = _pooled_coverage(member, grids, coverage)
    topics = topic_day_counts(first, last, tz, community_ids, subdistrict_id)
    for verdict in ("satisfied", "basic", "unsatisfied"):
        comm_cols[f"topic_{verdict}"] = topics[verdict]
    comm_sid = np.asarray(
        [next(g.subdistrict_id for g in grids if g.community_id == cid) for cid in community_ids],
        dtype=np.int64,
    )
    grid_sid = np.asarray([g.subdistrict_id for g in grids], dtype=np.int64)

    # score, store
    fid = formula_id(wts)
    sids = sorted(set(grid_sid.tolist()))
    db.session.execute(
        delete(SentimentIndex).where(
            SentimentIndex.day >= first,
            SentimentIndex.day <= last,
            SentimentIndex.subdistrict_id.in_(sids),
        )
    )
    scores: dict[str, Any] = {}
    for level, cols, ids, sid_of in (
        ("grid", grid_cols, [g.id for g in grids], grid_sid),
        ("community", comm_cols, community_ids, comm_sid),
    ):
        flat = index_vector.InputArrays(
            **{
                name: np.ascontiguousarray(cols[name]).reshape(-1)
                for name in index_vector.InputArrays.__dataclass_fields__
            }
        )
        tenths, _ = index_vector.score_many(flat, wts)
        scores[level] = tenths.reshape(len(ids), n_days)
        index_store.write_rows(level, ids, sid_of, days, cols, scores[level], fid, first)
    bulletins = _bulletins_range(
        days, community_ids, comm_sid, scores["community"], subdistrict_id, publish
    )
    uow.session.flush()
    return [
        DayResult(day=d, grids=len(grids), communities=len(community_ids), bulletins=bulletins[i])
        for i, d in enumerate(days)
    ]


def _pooled_coverage(member: Any, grids: list[Any], coverage: Any) -> Any:
    """Each community's coverage per day: Σ area·coverage ÷ Σ area over its grids with a
    coverage figure that day, exactly rounded (`math.fsum`, as `combine_inputs`)."""
    areas = np.asarray([float(g.area_m2) for g in grids], dtype=np.float64)
    weighted = areas[:, None] * coverage
    out = np.full((member.shape[0], coverage.shape[1]), np.nan)
    for k in range(member.shape[0]):
        rows = np.flatnonzero(member[k])
        has = ~np.isnan(coverage[rows])
        for d in np.flatnonzero(has.any(axis=0)).tolist():
            mask = has[:, d]
            value = math.fsum(weighted[rows[mask], d].tolist()) / math.fsum(
                areas[rows[mask]].tolist()
            )
            out[k, d] = min(1.0, max(0.0, value))
    return out


def topic_day_counts(
    first: date,
    last: date,
    tz: Any,
    community_ids: list[int],
    subdistrict_id: int | None,
) -> dict[str, Any]:
    """Evaluations of each community's topics over the topic window ending on each day of
    [first, last]: daily counts from one grouped query, trailing sums by cumulative sums."""
    span = TOPIC_WINDOW_DAYS
    d0 = first - timedelta(days=span - 1)
    w_start, w_end = local_bounds(d0, last)
    n = (last - d0).days + 1
    daily = {v: np.zeros((len(community_ids), n + 1), dtype=np.int64) for v in TOPIC_VERDICTS}
    k_of = {cid: k for k, cid in enumerate(community_ids)}
    stmt = (
        select(Topic.community_id, TopicRating.verdict, TopicRating.created_at)
        .join(Topic, Topic.id == TopicRating.topic_id)
        .where(TopicRating.created_at >= w_start, TopicRating.created_at < w_end)
    )
    if subdistrict_id:
        stmt = stmt.where(Topic.subdistrict_id == subdistrict_id)
    for cid, verdict, at in db.session.execute(stmt):  # a few a year per community
        k = k_of.get(cid)
        if k is None or verdict not in daily:
            continue
        daily[verdict][k, (at.astimezone(tz).date() - d0).days + 1] += 1
    out = {}
    for verdict, counts in daily.items():
        cum = np.cumsum(counts, axis=1)  # cum[:, i] = days 0 .. i-1
        ends = np.arange(span, n + 1)  # day index + 1 of each day of [first, last]
        out[verdict] = cum[:, ends] - cum[:, ends - span]
    return out


def _bulletins_range(
    days: list[date],
    community_ids: list[int],
    comm_sid: Any,
    tenths: Any,
    subdistrict_id: int | None,
    publish: bool,
) -> list[int]:
    """Every community's bulletin for every day of the range (set-wise counts); the number
    written per day."""
    first, last = days[0], days[-1]
    tz = local_zone()
    names = dict(
        db.session.execute(
            select(Community.id, Community.name).where(Community.id.in_(community_ids))
        ).all()
    )
    before = first - timedelta(days=1)
    previous_day = {
        (sid, area): score
        for sid, area, score in db.session.execute(
            select(
                SentimentIndex.subdistrict_id, SentimentIndex.area_id, SentimentIndex.score
            ).where(SentimentIndex.day == before, SentimentIndex.level == "community")
        )
    }

    counts = index_sets.community_day_counts(first, last, tz, subdistrict_id)
    sids = sorted(set(comm_sid.tolist()))
    db.session.execute(
        delete(Bulletin).where(
            Bulletin.day >= first, Bulletin.day <= last, Bulletin.subdistrict_id.in_(sids)
        )
    )
    figures = index_vector.tenths_to_float(tenths.reshape(-1))
    width = len(days)
    rows: list[dict[str, Any]] = []
    written = [0] * width
    for i, day in enumerate(days):
        by_sid: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for k, cid in enumerate(community_ids):
            sid = int(comm_sid[k])
            score = figures[k * width + i]
            prev = previous_day.get((sid, cid)) if i == 0 else figures[k * width + i - 1]
            new, closed, overdue = counts.get((sid, cid, day), (0, 0, 0))
            text = bulletin_zh(
                names[cid], day, IndexResult(score=score, components={}), prev, new, closed, overdue
            )
            rows.append(
                {
                    "day": day,
                    "community_id": cid,
                    "subdistrict_id": sid,
                    "text": text,
                    "score": score,
                    "previous": prev,
                    "created_at": utcnow(),
                }
            )
            by_sid[sid].append(
                {"community_id": cid, "community": names[cid], "score": score, "text": text}
            )
            written[i] += 1
        if publish:
            for sid, texts in sorted(by_sid.items()):
                notify.publish_bulletin(sid, day, texts)
    if rows:
        db.session.execute(insert(Bulletin), rows)
    return written


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
    rows = db.session.scalars(
        select(SentimentIndex)
        .where(
            SentimentIndex.level == level,
            SentimentIndex.area_id == area_id,
            SentimentIndex.day >= first,
            SentimentIndex.day <= last,
        )
        .order_by(SentimentIndex.day)
    )
    return [{"day": r.day, "score": r.score, "components": r.components} for r in rows]


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

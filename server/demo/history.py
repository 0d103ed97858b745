"""A few months of plausible demo history: schedules, patrols with tracks, logs, cases
through every stage, ratings — and the index computed for it.

Everything is generated from a seeded random source and written through the same models
and state machine as real work (each case's events follow the transition table), so the
console, the board and the KPIs show something true from the first minute.
"""

from __future__ import annotations

import random
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from geoalchemy2.shape import from_shape, to_shape
from shapely import wkt
from shapely.geometry import Point, Polygon
from sqlalchemy import func, select

from geo.measure import MetricProjection
from geo.tracks import TrackPoint, simplify_for_display, summarize, to_linestring_wkt
from server.domain.cases import Action, Status, decide, rating_target
from server.extensions import db
from server.models import (
    Case,
    CaseEvent,
    Category,
    CollectorGrid,
    Grid,
    Patrol,
    PatrolLog,
    PatrolSchedule,
    PatrolSlot,
    Rating,
    Subdistrict,
    Unit,
    User,
)
from server.models.base import SRID, utcnow
from server.services.caseloop.case_deadlines import calendar, case_deadline, local_zone
from server.services.caseloop.case_numbers import next_number
from server.services.patrolling.index import backfill
from server.services.uow import UnitOfWork

OBSERVATIONS = [
    ("sanitation", "小区垃圾桶满溢，周边有散落垃圾"),
    ("sanitation", "绿化带内有建筑垃圾堆放"),
    ("facility_repair", "路灯不亮，夜间行人不便"),
    ("facility_repair", "单元门禁损坏无法关闭"),
    ("old_estate", "老旧小区楼道杂物堆积，存在消防隐患"),
    ("property_service", "物业未按时清理化粪池，有异味"),
    ("public_security", "非机动车乱停放堵塞消防通道"),
    ("neighbour_dispute", "楼上漏水影响楼下住户，双方协商未果"),
    ("hardship_aid", "独居老人反映行动不便，需要上门帮扶"),
    ("other", "井盖松动，车辆经过有异响"),
]
QUIET = ["巡查正常，无异常", "走访居民，未发现问题", "检查消防通道，畅通"]


@dataclass
class HistoryReport:
    days: int = 0
    patrols: int = 0
    logs: int = 0
    cases: int = 0
    events: int = 0
    ratings: int = 0
    slots: int = 0
    index_days: int = 0
    skipped: bool = False
    by_status: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Climate:
    """Why the demo's figures differ like a real sub-district's: each community has its own
    standing (-1 struggling … +1 exemplary: some committees and units simply work better),
    and a few bad weeks (a storm, a staff shortage, the run-up to a holiday) hit everyone.
    Every probability of the history is nudged by both; README "Demo data" gives the ranges
    this produces."""

    quality: dict[int, float]  # community id → -1 … +1
    bad_weeks: frozenset[date]  # the Monday of each bad week (local dates)
    zone: tzinfo = UTC

    def of(self, community_id: int, at: datetime) -> tuple[float, float]:
        """(quality, 1.0 in a bad week else 0.0) for a case of this community at `at`."""
        day = at.astimezone(self.zone).date()
        monday = day - timedelta(days=day.weekday())
        return self.quality.get(community_id, 0.0), 1.0 if monday in self.bad_weeks else 0.0


def _climate(
    rng: random.Random, community_ids: list[int], first: date, days: int, zone: tzinfo = UTC
) -> Climate:
    spread = [(-1 + 2 * i / max(1, len(community_ids) - 1)) for i in range(len(community_ids))]
    rng.shuffle(spread)
    mondays = sorted(
        {
            first + timedelta(days=d) - timedelta(days=(first + timedelta(days=d)).weekday())
            for d in range(days)
        }
    )[1:-1]
    bad = rng.sample(mondays, min(len(mondays), max(1, days // 25)))
    return Climate(dict(zip(community_ids, spread, strict=True)), frozenset(bad), zone)


def _p(base: float, quality: float, bad: float, *, better: float, worse: float) -> float:
    """A probability: `base`, lower by `better` for the best community (higher for the
    worst), higher by `worse` in a bad week; kept within 1–90 %."""
    return min(0.9, max(0.01, base - better * quality + worse * bad))


def _local(day: date, hour: float) -> datetime:
    base = datetime.combine(day, time(), tzinfo=local_zone())
    return (base + timedelta(hours=hour)).astimezone(UTC)


def _route(grid: Grid, rng: random.Random) -> list[tuple[float, float]]:
    """A walking loop inside the grid: its outline pulled in by 20 m, densified every 12 m."""
    polygon = to_shape(grid.geom)
    proj = MetricProjection(polygon.centroid.x, polygon.centroid.y)
    inner = proj.project(polygon).buffer(-20)
    if inner.is_empty or inner.geom_type != "Polygon":
        inner = proj.project(polygon).buffer(-5)
    ring = inner.exterior if isinstance(inner, Polygon) else proj.project(polygon).exterior
    n = max(8, int(ring.length // 12))
    out = []
    for i in range(n + 1):
        p = ring.interpolate(i * ring.length / n)
        jitter = (rng.gauss(0, 3), rng.gauss(0, 3))
        q = proj.unproject(Point(p.x + jitter[0], p.y + jitter[1]))
        out.append((round(q.x, 7), round(q.y, 7)))
    return out


def _track(
    route: list[tuple[float, float]], start: datetime, rng: random.Random, fake: str | None
) -> list[TrackPoint]:
    speed = {"car": 14.0}.get(fake or "", rng.uniform(0.9, 1.3))
    points, t = [], start
    for i, (lon, lat) in enumerate(route):
        points.append(TrackPoint(lon=lon, lat=lat, t=t, accuracy_m=rng.uniform(4, 12)))
        if i + 1 < len(route):
            t += timedelta(seconds=12 / speed)
    if fake == "still":  # the phone left on a desk for 40 minutes
        lon, lat = route[0]
        points = [
            TrackPoint(lon=lon, lat=lat, t=start + timedelta(minutes=m), accuracy_m=8)
            for m in range(0, 41, 2)
        ]
    return points


def seed_history(uow: UnitOfWork, days: int = 60, seed: int = 2026) -> HistoryReport:
    """Generate `days` of history up to yesterday for the demo subdistrict, once."""
    report = HistoryReport()
    if db.session.scalar(select(func.count()).select_from(Patrol)):
        report.skipped = True
        return report
    rng = random.Random(seed)
    subdistrict = db.session.scalar(select(Subdistrict).order_by(Subdistrict.id))
    if subdistrict is None:
        return report
    today = utcnow().astimezone(local_zone()).date()
    first = today - timedelta(days=days)
    collectors = list(
        db.session.scalars(
            select(User)
            .where(User.role == "collector", User.subdistrict_id == subdistrict.id)
            .order_by(User.username)
        )
    )
    dispatcher = db.session.scalar(
        select(User).where(User.role == "dispatcher", User.subdistrict_id == subdistrict.id)
    )
    staff = {
        u.unit_id: u
        for u in db.session.scalars(
            select(User).where(User.role == "unit_staff", User.subdistrict_id == subdistrict.id)
        )
    }
    units = [
        u
        for u in db.session.scalars(
            select(Unit).where(Unit.subdistrict_id == subdistrict.id).order_by(Unit.id)
        )
        if u.id in staff
    ]
    categories = {c.code: c for c in db.session.scalars(select(Category))}
    grids_of: dict[int, list[Grid]] = {}
    for cg, grid in db.session.execute(
        select(CollectorGrid, Grid).join(Grid, Grid.id == CollectorGrid.grid_id).order_by(Grid.code)
    ):
        grids_of.setdefault(cg.collector_id, []).append(grid)
    if dispatcher is None or not units or not collectors:
        return report

    # one daily 09:00 schedule per collector, for their first grid
    primary = {c.id: grids_of[c.id][0] for c in collectors if grids_of.get(c.id)}
    schedules = {}
    for collector in collectors:
        if collector.id not in primary:
            continue
        schedule = PatrolSchedule(
            collector_id=collector.id,
            grid_id=primary[collector.id].id,
            times=["09:00"],
            weekdays=[1, 2, 3, 4, 5, 6, 7],
            tolerance_minutes=60,
            skip_holidays=True,
            valid_from=first,
            active=True,
        )
        db.session.add(schedule)
        schedules[collector.id] = schedule
    db.session.flush()
    routes = {cid: _route(grid, rng) for cid, grid in primary.items()}
    climate = _climate(
        random.Random(seed + 1),
        sorted({g.community_id for grids in grids_of.values() for g in grids}),
        first,
        days,
        local_zone(),
    )
    holidays = calendar().holidays
    now = utcnow()
    cases: list[Case] = []
    raised: list[tuple[PatrolLog, Case]] = []

    for offset in range(days):
        day = first + timedelta(days=offset)
        report.days += 1
        for collector in collectors:
            grid = primary.get(collector.id)
            if grid is None:
                continue
            due = _local(day, 9)
            quality, bad = climate.of(grid.community_id, due)
            patrolled = rng.random() > _p(0.10, quality, bad, better=0.07, worse=0.12)
            patrol = None
            if patrolled:
                start = due + timedelta(minutes=rng.uniform(-20, 35))
                fake = rng.choice(["car", "still"]) if rng.random() < 0.03 else None
                patrol = _patrol(collector, grid, routes[collector.id], start, rng, fake)
                report.patrols += 1
            if day not in holidays:
                db.session.add(
                    PatrolSlot(
                        schedule_id=schedules[collector.id].id,
                        collector_id=collector.id,
                        grid_id=grid.id,
                        due_at=due,
                        window_end_at=due + timedelta(hours=1),
                        status="done"
                        if patrol and abs((patrol.started_at - due).total_seconds()) <= 3600
                        else "missed",
                        patrol_id=patrol.id if patrol else None,
                        marked_at=due + timedelta(hours=1),
                    )
                )
                report.slots += 1
            if patrol is None:
                continue
            for _ in range(rng.choice([1, 1, 2, 2, 3])):
                log = _log(collector, grid, patrol, rng, categories)
                report.logs += 1
                if log.category_id is not None and rng.random() < 0.35:
                    case = _case_from(log, collector, grid, rng, categories)
                    cases.append(case)
                    raised.append((log, case))
        # residents and the hotline report too
        for _ in range(rng.choice([1, 2, 2, 3])):
            grid = rng.choice(list(primary.values()))
            cases.append(
                _resident_case(grid, _local(day, rng.uniform(8, 21)), rng, categories, dispatcher)
            )
        db.session.flush()

    for case in cases:
        case.number = next_number(
            subdistrict.id,
            subdistrict.case_prefix,
            case.reported_at.astimezone(local_zone()).date(),
        )
        db.session.add(case)
    db.session.flush()
    for log, case in raised:  # linked once the case rows exist
        log.case_id = case.id
    for case in cases:
        n_events, n_ratings = _live(
            case,
            rng,
            now,
            dispatcher,
            units,
            staff,
            {c: grids_of.get(c, []) for c in grids_of},
            climate.of(case.community_id, case.reported_at),
        )
        report.events += n_events
        report.ratings += n_ratings
        report.by_status[case.status] = report.by_status.get(case.status, 0) + 1
    report.cases = len(cases)
    uow.session.flush()
    report.index_days = backfill(uow, first, today - timedelta(days=1))
    return report


def _patrol(
    collector: User,
    grid: Grid,
    route: list[tuple[float, float]],
    start: datetime,
    rng: random.Random,
    fake: str | None,
) -> Patrol:
    points = _track(route, start, rng, fake)
    summary = summarize(points, to_shape(grid.geom))
    simplified = simplify_for_display(points)
    ended = points[-1].t
    patrol = Patrol(
        id=uuid.uuid4().hex,
        collector_id=collector.id,
        grid_id=grid.id,
        subdistrict_id=grid.subdistrict_id,
        status="ended",
        started_at=start,
        ended_at=ended,
        points=[[p.lon, p.lat, p.t.timestamp(), round(p.accuracy_m or 0, 1)] for p in points],
        track=from_shape(wkt.loads(to_linestring_wkt(simplified)), srid=SRID)
        if len(simplified) >= 2
        else None,
        distance_m=round(summary.distance_m, 1),
        duration_s=round((ended - start).total_seconds(), 1),
        time_inside_s=round(summary.time_inside_s, 1),
        coverage=round(summary.coverage, 4),
        flags=[
            {
                "code": f.code,
                "message": f.message,
                "message_zh": f.message_zh,
                "evidence": f.evidence,
            }
            for f in summary.flags
        ],
        plausible=not summary.flags,
    )
    db.session.add(patrol)
    return patrol


def _log(
    collector: User, grid: Grid, patrol: Patrol, rng: random.Random, categories: dict[str, Category]
) -> PatrolLog:
    point = rng.choice(patrol.points)
    if rng.random() < 0.55:
        code, text = rng.choice(OBSERVATIONS)
        category_id = categories[code].id if code in categories else None
    else:
        text, category_id = rng.choice(QUIET), None
    log = PatrolLog(
        id=uuid.uuid4().hex,
        patrol_id=patrol.id,
        collector_id=collector.id,
        grid_id=grid.id,
        subdistrict_id=grid.subdistrict_id,
        category_id=category_id,
        text=text,
        point=from_shape(Point(point[0], point[1]), srid=SRID),
        lon=point[0],
        lat=point[1],
        photos=[],
        logged_at=datetime.fromtimestamp(point[2], UTC),
    )
    db.session.add(log)
    return log


def _new_case(
    grid: Grid,
    at: datetime,
    lon: float,
    lat: float,
    category: Category,
    rng: random.Random,
    **reporter: Any,
) -> Case:
    return Case(
        id=uuid.uuid4().hex,
        number="",
        public_token=secrets.token_urlsafe(24),
        subdistrict_id=grid.subdistrict_id,
        community_id=grid.community_id,
        grid_id=grid.id,
        category_id=category.id,
        category=category,
        priority=rng.choices(["low", "normal", "high", "urgent"], [1, 12, 3, 1])[0]
        if category.default_priority == "normal"
        else category.default_priority,
        status=Status.REPORTED.value,
        point=from_shape(Point(lon, lat), srid=SRID),
        lon=lon,
        lat=lat,
        reported_crs="gcj02",
        reported_at=at,
        created_at=at,
        updated_at=at,
        version=1,
        **reporter,
    )


def _case_from(
    log: PatrolLog, collector: User, grid: Grid, rng: random.Random, categories: dict[str, Category]
) -> Case:
    category = next(c for c in categories.values() if c.id == log.category_id)
    case = _new_case(
        grid,
        log.logged_at + timedelta(minutes=2),
        log.lon,
        log.lat,
        category,
        rng,
        source="patrol",
        description=log.text,
        reporter_id=collector.id,
        reporter_role="collector",
    )
    return case


def _resident_case(
    grid: Grid, at: datetime, rng: random.Random, categories: dict[str, Category], dispatcher: User
) -> Case:
    code, text = rng.choice(OBSERVATIONS)
    category = categories.get(code) or next(iter(categories.values()))
    point = to_shape(grid.geom).representative_point()
    if rng.random() < 0.5:
        return _new_case(
            grid,
            at,
            point.x,
            point.y,
            category,
            rng,
            source="resident",
            description=text,
            reporter_role="resident",
            reporter_phone="13" + "".join(str(rng.randint(0, 9)) for _ in range(9)),
        )
    return _new_case(
        grid,
        at,
        point.x,
        point.y,
        category,
        rng,
        source=rng.choice(["hotline", "wechat", "visit"]),
        description=text,
        reporter_id=dispatcher.id,
        reporter_role="dispatcher",
        reporter_name=rng.choice("王李张刘陈杨") + "先生",
        reporter_phone="139" + "".join(str(rng.randint(0, 9)) for _ in range(8)),
    )


def _live(
    case: Case,
    rng: random.Random,
    now: datetime,
    dispatcher: User,
    units: list[Unit],
    staff: dict[int | None, User],
    grids_of: dict[int, list[Grid]],
    climate: tuple[float, float] = (0.0, 0.0),
) -> tuple[int, int]:
    """Walk the case through the state machine with plausible delays, up to now; how well it
    goes depends on its community and week (`climate`: quality -1…+1, bad week 0/1)."""
    quality, bad = climate
    t = case.reported_at
    seq = 0
    ratings = 0
    collector_of = {g.id: cid for cid, grids in grids_of.items() for g in grids}
    verifier_id = collector_of.get(case.grid_id)

    def step(
        action: str,
        actor: User | None,
        role: str,
        payload: dict[str, Any],
        hours: tuple[float, float],
        to: Status | None = None,
    ) -> bool:
        nonlocal t, seq
        t_next = t + timedelta(hours=rng.uniform(*hours))
        if t_next >= now:
            return False
        t = t_next
        before = case.status
        edge = decide(before, action, role)
        target = to or edge.to
        if target is not None:
            case.status = target.value
        seq += 1
        db.session.add(
            CaseEvent(
                case_id=case.id,
                seq=seq,
                action=action,
                from_status=before,
                to_status=case.status,
                actor_id=actor.id if actor else None,
                actor_role=role,
                payload=payload,
                created_at=t,
            )
        )
        case.updated_at = t
        return True

    seq += 1
    db.session.add(
        CaseEvent(
            case_id=case.id,
            seq=seq,
            action="report",
            from_status=None,
            to_status="reported",
            actor_id=case.reporter_id,
            actor_role=case.reporter_role,
            payload={"source": case.source},
            created_at=t,
        )
    )
    if rng.random() < _p(0.07, quality, bad, better=0.04, worse=0.05):
        if step(Action.REJECT, dispatcher, "dispatcher", {"reason": "经核实不属实"}, (0.3, 4)):
            case.closed_at = t
        return seq, ratings
    if not step(Action.ACCEPT, dispatcher, "dispatcher", {}, (0.2, 3)):
        return seq, ratings
    case.accepted_at = t
    for round_no in range(1, 3):
        unit = rng.choice(units)
        if not step(Action.DISPATCH, dispatcher, "dispatcher", {"unit_id": unit.id}, (0.1, 2)):
            return seq, ratings
        case.unit_id = unit.id
        case.dispatched_at = t
        case.first_dispatched_at = case.first_dispatched_at or t
        case.deadline_at = case_deadline(case, t)
        worker = staff[unit.id]
        # the wrong unit: sent back, dispatched again (回退)
        if rng.random() < _p(0.05, quality, bad, better=0.03, worse=0.05):
            if not step(
                Action.SEND_BACK, worker, "unit_staff", {"reason": "不属于本单位职责"}, (0.2, 3)
            ):
                return seq, ratings
            case.send_back_count += 1
            unit = rng.choice([u for u in units if u.id != unit.id] or units)
            if not step(Action.DISPATCH, dispatcher, "dispatcher", {"unit_id": unit.id}, (0.1, 2)):
                return seq, ratings
            case.unit_id, case.dispatched_at = unit.id, t
            case.deadline_at = case_deadline(case, t)
            worker = staff[unit.id]
        if not step(Action.ACKNOWLEDGE, worker, "unit_staff", {}, (0.3, 5)):
            return seq, ratings
        while True:
            span = (case.deadline_at - t).total_seconds() / 3600
            late = rng.random() < _p(0.10, quality, bad, better=0.08, worse=0.22)
            hours = (span * 1.05, span * 1.6) if late else (min(1.0, span * 0.2), span * 0.9)
            if not step(Action.REPORT_DONE, worker, "unit_staff", {"result": "已处理"}, hours):
                if case.deadline_at < now:
                    case.overdue, case.overdue_at = True, case.deadline_at
                return seq, ratings
            case.handled_at = t
            case.handled_on_time = t <= case.deadline_at
            if case.deadline_at < t:
                case.overdue, case.overdue_at = True, case.deadline_at
            verifier = db.session.get(User, verifier_id) if verifier_id else dispatcher
            role = "collector" if verifier_id else "dispatcher"
            rework = _p(0.06, quality, bad, better=0.045, worse=0.08)
            if rng.random() < rework and case.rework_count == 0:
                if not step(
                    Action.VERIFY_FAIL, verifier, role, {"reason": "现场仍未整改到位"}, (1, 20)
                ):
                    return seq, ratings
                case.rework_count += 1
                case.handled_at, case.handled_on_time = None, None
                if not step(Action.ACKNOWLEDGE, worker, "unit_staff", {}, (0.2, 3)):
                    return seq, ratings
                continue
            if not step(Action.VERIFY_OK, verifier, role, {}, (1, 20)):
                return seq, ratings
            case.verified_at = t
            break
        if rng.random() < 0.25:  # never rated: the sweep closes it after the timeout
            timeout = t + timedelta(days=7)
            if timeout < now:
                t = timeout - timedelta(hours=1)
                if step(Action.RATING_TIMEOUT, None, "system", {"days": 7}, (1, 1)):
                    case.rating, case.closed_at = "none", t
                    db.session.add(
                        Rating(case_id=case.id, round=round_no, verdict="none", created_at=t)
                    )
                    ratings += 1
            return seq, ratings
        unsatisfied = _p(0.14, quality, bad, better=0.09, worse=0.16)
        if round_no == 2:  # reworked after a 不满意: better, not always good enough
            unsatisfied = _p(0.35, quality, bad, better=0.15, worse=0.15)
        basic = 0.24 + 0.06 * (1 - quality)
        verdict = rng.choices(
            ["satisfied", "basic", "unsatisfied"], [1 - basic - unsatisfied, basic, unsatisfied]
        )[0]
        if not step(
            Action.RATE,
            None,
            "resident",
            {"verdict": verdict},
            (0.5, 72),
            to=rating_target(verdict),
        ):
            return seq, ratings
        case.rating = verdict
        db.session.add(Rating(case_id=case.id, round=round_no, verdict=verdict, created_at=t))
        ratings += 1
        if case.status == Status.CLOSED.value:
            case.closed_at = t
            return seq, ratings
    return seq, ratings

"""A collector's day at a glance: today's scheduled patrols, the patrol under way, and the
handled cases in their grids that wait for an on-site check (核查)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select

from server.domain.cases import Status
from server.domain.roles import Role
from server.domain.schedules import on_time, slots_between
from server.errors import Forbidden
from server.extensions import db
from server.models import Case, Grid, Patrol, PatrolSchedule
from server.models.base import utcnow
from server.services.case_deadlines import calendar, local_zone
from server.services.case_queries import PRESENT_OPTIONS
from server.services.principal import Principal


@dataclass(frozen=True)
class TodaySlot:
    """One scheduled patrol today: `done` when a patrol started in its window, `due` while
    the window is open or ahead, `missed` once it closed without one."""

    grid_id: int
    grid_code: str
    grid_name: str
    due_at: datetime
    window_start: datetime
    window_end: datetime
    state: str  # done | due | missed


def _collector(principal: Principal) -> None:
    if principal.role is not Role.COLLECTOR:
        raise Forbidden("This view is for collectors", "此页面仅供民情收集员使用")


def today_slots(principal: Principal, now: datetime | None = None) -> list[TodaySlot]:
    """The collector's slots due today (local time), in order of time."""
    _collector(principal)
    now = now or utcnow()
    zone = local_zone()
    today = now.astimezone(zone).date()
    start = datetime.combine(today, time(0), tzinfo=zone)
    end = start + timedelta(days=1)
    schedules = list(
        db.session.scalars(
            select(PatrolSchedule).where(
                PatrolSchedule.collector_id == principal.user_id,
                PatrolSchedule.active.is_(True),
            )
        )
    )
    if not schedules:
        return []
    grids = {
        g.id: g
        for g in db.session.scalars(select(Grid).where(Grid.id.in_({s.grid_id for s in schedules})))
    }
    started = db.session.execute(
        select(Patrol.grid_id, Patrol.started_at).where(
            Patrol.collector_id == principal.user_id,
            Patrol.started_at >= start - timedelta(days=1),
            Patrol.started_at < end + timedelta(days=1),
        )
    ).all()
    out = []
    for schedule in schedules:
        tolerance = timedelta(minutes=schedule.tolerance_minutes)
        # slots_between selects by the window's end; widen so every slot due today is in
        for slot in slots_between(
            times=schedule.times,
            weekdays=schedule.weekdays,
            tolerance=tolerance,
            valid_from=schedule.valid_from,
            valid_to=schedule.valid_to,
            holidays=calendar().holidays,
            skip_holidays=schedule.skip_holidays,
            tz=zone,
            start=start,
            end=end + tolerance,
        ):
            if not start <= slot.due_at < end:
                continue
            done = any(g == schedule.grid_id and on_time(t, slot) for g, t in started)
            state = "done" if done else ("missed" if slot.window_end < now else "due")
            grid = grids[schedule.grid_id]
            out.append(
                TodaySlot(
                    grid_id=grid.id,
                    grid_code=grid.code,
                    grid_name=grid.name,
                    due_at=slot.due_at,
                    window_start=slot.window_start,
                    window_end=slot.window_end,
                    state=state,
                )
            )
    return sorted(out, key=lambda s: (s.due_at, s.grid_code))


def active_patrol(principal: Principal) -> Patrol | None:
    """The collector's patrol under way, if any (the latest started)."""
    _collector(principal)
    return db.session.scalar(
        select(Patrol)
        .where(Patrol.collector_id == principal.user_id, Patrol.status == "active")
        .order_by(Patrol.started_at.desc())
        .limit(1)
    )


def my_grids(principal: Principal) -> list[Grid]:
    _collector(principal)
    if not principal.grid_ids:
        return []
    return list(
        db.session.scalars(select(Grid).where(Grid.id.in_(principal.grid_ids)).order_by(Grid.code))
    )


def cases_to_verify(principal: Principal, limit: int = 50) -> list[Case]:
    """Handled cases in the collector's own grids, oldest handling first."""
    _collector(principal)
    if not principal.grid_ids:
        return []
    return list(
        db.session.scalars(
            select(Case)
            .where(
                Case.grid_id.in_(principal.grid_ids),
                Case.status == Status.HANDLED.value,
            )
            .options(*PRESENT_OPTIONS)
            .order_by(Case.handled_at, Case.id)
            .limit(limit)
        )
    )


def open_cases(principal: Principal, limit: int = 50) -> list[Case]:
    """Open cases in the collector's own grids, newest first (not those reported elsewhere)."""
    _collector(principal)
    if not principal.grid_ids:
        return []
    final = [Status.CLOSED.value, Status.REJECTED.value, Status.MERGED.value]
    return list(
        db.session.scalars(
            select(Case)
            .where(Case.grid_id.in_(principal.grid_ids), Case.status.not_in(final))
            .options(*PRESENT_OPTIONS)
            .order_by(Case.created_at.desc(), Case.id)
            .limit(limit)
        )
    )

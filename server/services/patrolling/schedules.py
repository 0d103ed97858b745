"""Patrol schedules, the missed-patrol sweep, and collectors' patrol figures."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from server.domain.roles import Role
from server.domain.schedules import Slot, on_time, parse_times, slots_between
from server.errors import Forbidden, Invalid, NotFound
from server.extensions import db
from server.models import (
    Case,
    CaseEvent,
    Grid,
    Patrol,
    PatrolSchedule,
    PatrolSlot,
    User,
)
from server.services.caseloop.case_deadlines import calendar, local_zone
from server.services.messaging import notify
from server.services.people.principal import Principal
from server.services.uow import UnitOfWork

LOOKBACK = timedelta(days=2)  # how far back a sweep looks for slots it has not judged


@dataclass
class ScheduleInput:
    collector_id: int
    grid_id: int
    times: list[str]
    weekdays: list[int]
    tolerance_minutes: int = 60
    skip_holidays: bool = True
    valid_from: date | None = None
    valid_to: date | None = None


def _dispatchers_only(principal: Principal) -> None:
    if principal.role not in (Role.DISPATCHER, Role.ADMIN):
        raise Forbidden("Only dispatchers and admins set schedules", "只有调度员和管理员可以排班")


def create_schedule(uow: UnitOfWork, principal: Principal, data: ScheduleInput) -> PatrolSchedule:
    """Schedule a collector's patrols in one of their grids."""
    _dispatchers_only(principal)
    try:
        times = [t.strftime("%H:%M") for t in parse_times(data.times)]
    except ValueError as exc:
        raise Invalid(
            "validation_error", f"times: {exc}", "字段 times：时间格式应为 HH:MM", field="times"
        ) from exc
    weekdays = sorted(set(data.weekdays))
    if not weekdays or any(d < 1 or d > 7 for d in weekdays):
        raise Invalid(
            "validation_error",
            "weekdays: ISO weekdays 1 (Mon) … 7 (Sun)",
            "字段 weekdays：应为 1（周一）至 7（周日）",
            field="weekdays",
        )
    collector = db.session.get(User, data.collector_id)
    if (
        collector is None
        or collector.role != Role.COLLECTOR.value
        or not (principal.may_see_subdistrict(collector.subdistrict_id or -1))
    ):
        raise NotFound("Collector", "民情收集员", field="collector_id")
    grid = db.session.get(Grid, data.grid_id)
    if grid is None or grid.subdistrict_id != collector.subdistrict_id:
        raise NotFound("Grid", "网格", field="grid_id")
    if grid not in collector.grids:
        raise Invalid(
            "grid_not_assigned",
            "the collector is not assigned to this grid",
            "该收集员不负责此网格",
            field="grid_id",
        )
    today = uow.now.astimezone(local_zone()).date()
    if data.valid_to is not None and data.valid_to < (data.valid_from or today):
        raise Invalid(
            "validation_error",
            "valid_to: before valid_from",
            "字段 valid_to：早于 valid_from",
            field="valid_to",
        )
    schedule = PatrolSchedule(
        collector_id=collector.id,
        grid_id=grid.id,
        times=times,
        weekdays=weekdays,
        tolerance_minutes=data.tolerance_minutes,
        skip_holidays=data.skip_holidays,
        valid_from=data.valid_from or today,
        valid_to=data.valid_to,
        active=True,
    )
    uow.session.add(schedule)
    uow.session.flush()
    return schedule


def list_schedules(principal: Principal, collector_id: int | None = None) -> list[PatrolSchedule]:
    stmt = (
        select(PatrolSchedule)
        .join(User, User.id == PatrolSchedule.collector_id)
        .where(PatrolSchedule.active.is_(True))
    )
    if principal.role is Role.COLLECTOR:
        stmt = stmt.where(PatrolSchedule.collector_id == principal.user_id)
    elif principal.role not in (Role.DISPATCHER, Role.ADMIN):
        raise Forbidden("Your role may not read schedules", "您的角色无权查看排班")
    elif principal.subdistrict_id is not None:
        stmt = stmt.where(User.subdistrict_id == principal.subdistrict_id)
    if collector_id is not None:
        stmt = stmt.where(PatrolSchedule.collector_id == collector_id)
    return list(db.session.scalars(stmt.order_by(PatrolSchedule.id)))


def deactivate_schedule(uow: UnitOfWork, principal: Principal, schedule_id: int) -> PatrolSchedule:
    _dispatchers_only(principal)
    schedule = db.session.get(PatrolSchedule, schedule_id)
    if schedule is None:
        raise NotFound("Schedule", "排班")
    collector = db.session.get(User, schedule.collector_id)
    if collector is None or not principal.may_see_subdistrict(collector.subdistrict_id or -1):
        raise NotFound("Schedule", "排班")
    schedule.active = False
    return schedule


def _slots(schedule: PatrolSchedule, start: datetime, end: datetime) -> list[Slot]:
    return slots_between(
        times=schedule.times,
        weekdays=schedule.weekdays,
        tolerance=timedelta(minutes=schedule.tolerance_minutes),
        valid_from=schedule.valid_from,
        valid_to=schedule.valid_to,
        holidays=calendar().holidays,
        skip_holidays=schedule.skip_holidays,
        tz=local_zone(),
        start=start,
        end=end,
    )


def judge_slots(uow: UnitOfWork) -> dict[str, int]:
    """Record every slot whose window closed since the last sweep as done or missed, once
    (the unique (schedule, due time) keeps a second sweep from counting it again); tell
    collectors and dispatchers about missed ones."""
    now = uow.now
    start = now - LOOKBACK
    done = missed = 0
    for schedule in db.session.scalars(
        select(PatrolSchedule).where(PatrolSchedule.active.is_(True))
    ):
        slots = _slots(schedule, start, now)
        if not slots:
            continue
        judged = set(
            db.session.scalars(
                select(PatrolSlot.due_at).where(
                    PatrolSlot.schedule_id == schedule.id, PatrolSlot.due_at >= slots[0].due_at
                )
            )
        )
        patrols = db.session.execute(
            select(Patrol.id, Patrol.started_at).where(
                Patrol.collector_id == schedule.collector_id,
                Patrol.grid_id == schedule.grid_id,
                Patrol.started_at >= slots[0].window_start,
                Patrol.started_at <= slots[-1].window_end,
            )
        ).all()
        for slot in slots:
            if slot.due_at in judged:
                continue
            match = next((pid for pid, started in patrols if on_time(started, slot)), None)
            db.session.add(
                PatrolSlot(
                    schedule_id=schedule.id,
                    collector_id=schedule.collector_id,
                    grid_id=schedule.grid_id,
                    due_at=slot.due_at,
                    window_end_at=slot.window_end,
                    status="done" if match else "missed",
                    patrol_id=match,
                    marked_at=now,
                )
            )
            if match:
                done += 1
            else:
                missed += 1
                _tell_missed(schedule, slot)
    return {"done": done, "missed": missed}


def _tell_missed(schedule: PatrolSchedule, slot: Slot) -> None:
    grid = db.session.get(Grid, schedule.grid_id)
    assert grid is not None
    local = slot.due_at.astimezone(local_zone())
    notify.notify_users(
        [schedule.collector_id, *notify.dispatcher_ids(grid.subdistrict_id)],
        event="patrol.missed",
        title=f"漏巡：{grid.name} {local:%m-%d %H:%M} 的巡逻未完成",
        title_en=f"Missed patrol: {grid.code} at {local:%m-%d %H:%M}",
        subdistrict_id=grid.subdistrict_id,
        payload={"grid": grid.code, "due_at": slot.due_at, "collector_id": schedule.collector_id},
    )


# ---------------------------------------------------------------------------------- figures


def collector_figures(
    principal: Principal, *, date_from: datetime, date_to: datetime, collector_id: int | None = None
) -> list[dict[str, Any]]:
    """Per collector: on-time patrol rate, average coverage, valid-report rate (accepted ÷
    decided reports) and cases verified on time (within VERIFY_WITHIN_HOURS of handling)."""
    if principal.role not in (Role.DISPATCHER, Role.ADMIN, Role.COLLECTOR):
        raise Forbidden("Your role may not read patrol figures", "您的角色无权查看巡逻统计")
    users = select(User).where(User.role == Role.COLLECTOR.value)
    if principal.role is Role.COLLECTOR:
        users = users.where(User.id == principal.user_id)
    elif principal.subdistrict_id is not None:
        users = users.where(User.subdistrict_id == principal.subdistrict_id)
    if collector_id is not None:
        users = users.where(User.id == collector_id)
    people = list(db.session.scalars(users.order_by(User.username)))
    ids = [u.id for u in people]
    slot_counts: dict[int, dict[str, int]] = defaultdict(lambda: {"done": 0, "missed": 0})
    for cid, status, n in db.session.execute(
        select(PatrolSlot.collector_id, PatrolSlot.status, func.count())
        .where(
            PatrolSlot.collector_id.in_(ids),
            PatrolSlot.due_at >= date_from,
            PatrolSlot.due_at < date_to,
        )
        .group_by(PatrolSlot.collector_id, PatrolSlot.status)
    ):
        slot_counts[cid][status] = n
    coverage = dict(
        db.session.execute(
            select(Patrol.collector_id, func.avg(Patrol.coverage))
            .where(
                Patrol.collector_id.in_(ids),
                Patrol.started_at >= date_from,
                Patrol.started_at < date_to,
                Patrol.coverage.is_not(None),
            )
            .group_by(Patrol.collector_id)
        ).all()
    )
    reports: dict[int, dict[str, int]] = defaultdict(
        lambda: {"made": 0, "accepted": 0, "decided": 0}
    )
    for cid, status, accepted_at in db.session.execute(
        select(Case.reporter_id, Case.status, Case.accepted_at).where(
            Case.reporter_id.in_(ids), Case.reported_at >= date_from, Case.reported_at < date_to
        )
    ):
        r = reports[cid]
        r["made"] += 1
        if accepted_at is not None:
            r["accepted"] += 1
            r["decided"] += 1
        elif status in ("rejected", "merged"):
            r["decided"] += 1
    within = timedelta(hours=current_app.config["VERIFY_WITHIN_HOURS"])
    verified: dict[int, dict[str, int]] = defaultdict(lambda: {"verified": 0, "on_time": 0})
    for actor, at, handled_at in db.session.execute(
        select(CaseEvent.actor_id, CaseEvent.created_at, _handled_before(CaseEvent)).where(
            CaseEvent.actor_id.in_(ids),
            CaseEvent.action.in_(["verify_ok", "verify_fail"]),
            CaseEvent.created_at >= date_from,
            CaseEvent.created_at < date_to,
        )
    ):
        v = verified[actor]
        v["verified"] += 1
        if handled_at is not None and at - handled_at <= within:
            v["on_time"] += 1
    out = []
    for user in people:
        s, r, v = slot_counts[user.id], reports[user.id], verified[user.id]
        scheduled = s["done"] + s["missed"]
        out.append(
            {
                "collector_id": user.id,
                "username": user.username,
                "name": user.display_name,
                "scheduled_patrols": scheduled,
                "patrols_on_time": s["done"],
                "on_time_patrol_rate": _ratio(s["done"], scheduled),
                "average_coverage": round(float(coverage[user.id]), 4)
                if coverage.get(user.id) is not None
                else None,
                "reports_made": r["made"],
                "valid_report_rate": _ratio(r["accepted"], r["decided"]),
                "verified": v["verified"],
                "verified_on_time_rate": _ratio(v["on_time"], v["verified"]),
            }
        )
    return out


def _handled_before(event: Any) -> Any:
    """The time of the latest report_done before this verification of the same case."""
    from sqlalchemy.orm import aliased

    prior = aliased(CaseEvent)
    return (
        select(func.max(prior.created_at))
        .where(prior.case_id == event.case_id, prior.action == "report_done", prior.seq < event.seq)
        .scalar_subquery()
    )


def _ratio(numerator: int, denominator: int) -> dict[str, Any]:
    value = numerator / denominator if denominator else None
    return {
        "numerator": numerator,
        "denominator": denominator,
        "value": round(value, 4) if value is not None else None,
    }

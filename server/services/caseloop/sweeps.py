"""Periodic sweeps over the case loop: overdue, escalation, rating timeouts.

Each is idempotent (running it twice changes nothing the second time) and works in
bounded batches, so a sweep costs what the due work costs, not the size of the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from server.domain.cases import ON_THE_CLOCK, Action, Status, decide
from server.models import Case, Rating
from server.services.caseloop.cases import record_system_event
from server.services.caseloop.residents import current_round
from server.services.messaging import notify
from server.services.uow import UnitOfWork

BATCH = 500


@dataclass(frozen=True)
class SweepResult:
    overdue: int = 0
    escalated: int = 0
    closed_unrated: int = 0


def _on_the_clock() -> list[str]:
    return [s.value for s in ON_THE_CLOCK]


def mark_overdue(uow: UnitOfWork) -> int:
    """Flag dispatched cases past their deadline; tell the unit and the dispatchers."""
    now = uow.now
    cases = uow.session.scalars(
        select(Case)
        .where(Case.status.in_(_on_the_clock()), Case.overdue.is_(False), Case.deadline_at < now)
        .order_by(Case.deadline_at)
        .limit(BATCH)
    ).all()
    for case in cases:
        case.overdue = True
        case.overdue_at = now
        hours = (
            round((now - case.deadline_at).total_seconds() / 3600, 1) if case.deadline_at else None
        )
        record_system_event(uow, case, "overdue", case.status, {"overdue_hours": hours})
        recipients = notify.dispatcher_ids(case.subdistrict_id)
        if case.unit_id:
            recipients += notify.unit_staff_ids(case.unit_id)
        notify.publish("case.overdue", case, actor_id=None, recipients=recipients)
    return len(cases)


def escalate(uow: UnitOfWork) -> int:
    """Cases overdue by more than ESCALATE_AFTER_HOURS go to the subdistrict level."""
    now = uow.now
    threshold = now - timedelta(hours=current_app.config["ESCALATE_AFTER_HOURS"])
    cases = uow.session.scalars(
        select(Case)
        .where(
            Case.status.in_(_on_the_clock()),
            Case.overdue.is_(True),
            Case.escalated_at.is_(None),
            Case.deadline_at < threshold,
        )
        .order_by(Case.deadline_at)
        .limit(BATCH)
    ).all()
    for case in cases:
        case.escalated_at = now
        record_system_event(
            uow,
            case,
            "escalate",
            case.status,
            {"after_hours": current_app.config["ESCALATE_AFTER_HOURS"]},
        )
        recipients = notify.subdistrict_admin_ids(case.subdistrict_id) + notify.dispatcher_ids(
            case.subdistrict_id
        )
        notify.publish("case.escalated", case, actor_id=None, recipients=recipients)
    return len(cases)


def close_unrated(uow: UnitOfWork) -> int:
    """Cases awaiting a rating longer than RATING_TIMEOUT_DAYS close with rating `none`
    (never counted as satisfied)."""
    now = uow.now
    limit = now - timedelta(days=current_app.config["RATING_TIMEOUT_DAYS"])
    cases = uow.session.scalars(
        select(Case)
        .where(Case.status == Status.AWAITING_RATING.value, Case.verified_at < limit)
        .order_by(Case.verified_at)
        .limit(BATCH)
    ).all()
    for case in cases:
        edge = decide(case.status, Action.RATING_TIMEOUT.value, "system")
        before = case.status
        assert edge.to is not None
        case.status = edge.to.value
        case.rating = "none"
        case.closed_at = now
        uow.session.add(Rating(case_id=case.id, round=current_round(case), verdict="none"))
        record_system_event(
            uow,
            case,
            Action.RATING_TIMEOUT.value,
            before,
            {"days": current_app.config["RATING_TIMEOUT_DAYS"]},
        )
        notify.publish(
            "case.closed",
            case,
            actor_id=None,
            recipients=notify.dispatcher_ids(case.subdistrict_id),
        )
    return len(cases)


def sweep(uow: UnitOfWork) -> SweepResult:
    """All three, as the beat runs them."""
    return SweepResult(
        overdue=mark_overdue(uow), escalated=escalate(uow), closed_unrated=close_unrated(uow)
    )

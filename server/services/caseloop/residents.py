"""What a resident sees and does through their case link: progress, photos, one rating."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from server.domain.cases import (
    STAGE_ZH,
    STATUS_ZH,
    VERDICT_ZH,
    Action,
    Status,
    TransitionRefused,
    decide,
    rating_target,
    stage_of,
)
from server.domain.masking import mask_phone
from server.errors import Conflict, DomainError, NotFound
from server.extensions import db
from server.models import Attachment, Case, CaseAttachment, CaseEvent, Rating
from server.models.base import utcnow
from server.services.caseloop.case_deadlines import weekends_only_note, weekends_only_text
from server.services.caseloop.cases import record_event
from server.services.files import attachments
from server.services.messaging import notify
from server.services.people import ratelimit
from server.services.uow import UnitOfWork

LINK_DAYS_AFTER_CLOSE = 180  # a closed case's link keeps working this long

# What each step means to a resident, in plain words.
PLAIN: dict[str, tuple[str, str]] = {
    "report": ("您反映的问题已登记", "Your report was registered"),
    "accept": ("问题已受理立案", "The problem was accepted"),
    "reject": ("经核实，该问题不予立案", "After checking, the report was not accepted"),
    "merge": ("与他人反映的同一问题合并处理", "Merged with a report of the same problem"),
    "dispatch": ("已交由办理单位处理", "Sent to the unit that will fix it"),
    "acknowledge": ("办理单位已签收，正在处理", "The unit has taken it on"),
    "send_back": ("正在重新安排办理单位", "A different unit is being arranged"),
    "request_extension": ("办理单位申请延长办理时间", "The unit asked for more time"),
    "approve_extension": ("办理时间已延长", "More time was granted"),
    "deny_extension": ("延期申请未获批准", "The request for more time was declined"),
    "report_done": ("办理单位反馈已处理完毕", "The unit reports the problem fixed"),
    "verify_ok": ("网格员已现场核查，请您评价", "Checked on site; please rate the result"),
    "verify_fail": ("现场核查未通过，已要求返工", "Not fixed on inspection; sent back for rework"),
    "rate": ("您已评价", "You rated the result"),
    "close": ("已结案", "Closed"),
    "rating_timeout": ("评价期已过，已结案", "Closed: no rating in time"),
    "overdue": ("办理已超期，已督促办理单位", "Overdue; the unit has been chased"),
    "escalate": ("已上报街道督办", "Escalated to the subdistrict office"),
}


def _case_for(token: str) -> Case:
    case = db.session.scalar(select(Case).where(Case.public_token == token))
    if case is None:
        raise NotFound("Case link", "事项链接")
    if case.closed_at is not None and utcnow() - case.closed_at > timedelta(
        days=LINK_DAYS_AFTER_CLOSE
    ):
        raise DomainError("link_expired", "This link has expired", "该链接已过期", status=410)
    return case


def current_round(case: Case) -> int:
    """How many times the case has been put to the resident (one rating per round)."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(CaseEvent)
            .where(CaseEvent.case_id == case.id, CaseEvent.action == Action.VERIFY_OK.value)
        )
        or 0
    )


def public_view(token: str) -> dict[str, Any]:
    """The case's progress for the resident: no names, no phones but their own, masked."""
    case = _case_for(token)
    events = list(
        db.session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
        )
    )
    status = Status(case.status)
    photo_rows = db.session.execute(
        select(CaseAttachment.sha256, CaseAttachment.role, Attachment.removed_at)
        .join(Attachment, Attachment.sha256 == CaseAttachment.sha256)
        .where(CaseAttachment.case_id == case.id, CaseAttachment.role.in_(["report", "result"]))
    ).all()
    return {
        "number": case.number,
        "status": status.value,
        "status_zh": STATUS_ZH[status],
        "stage": stage_of(case.status).value,
        "stage_zh": STAGE_ZH[stage_of(case.status)],
        "category": {
            "code": case.category.code,
            "name_zh": case.category.name_zh,
            "name_en": case.category.name_en,
        },
        "description": case.description,
        "community": case.community.name if case.community is not None else None,
        "reported_at": case.reported_at,
        "reporter_phone": mask_phone(case.reporter_phone),
        "deadline_at": case.deadline_at,
        "deadline_note": weekends_only_text(weekends_only_note(case, events)),
        "result": case.result,
        "timeline": [
            {
                "at": e.created_at,
                "action": e.action,
                "text_zh": PLAIN.get(e.action, (e.action, e.action))[0],
                "text_en": PLAIN.get(e.action, (e.action, e.action))[1],
            }
            for e in events
        ],
        "photos": [
            {
                "sha256": sha,
                "role": role,
                "url": f"/api/v1/public/cases/{token}/photos/{sha}",
                "removed": removed_at is not None,
            }
            for sha, role, removed_at in photo_rows
        ],
        "can_rate": case.status == Status.AWAITING_RATING.value,
        "rating": case.rating,
        "rating_zh": VERDICT_ZH.get(case.rating) if case.rating else None,
    }


def rate(uow: UnitOfWork, token: str, verdict: str, comment: str | None) -> dict[str, Any]:
    """The resident's one rating while the case awaits it (see `_rate`); a rating racing
    another for the same round loses with 409 `already_rated`."""
    try:
        _rate(uow, token, verdict, comment)
        uow.session.flush()
    except (StaleDataError, IntegrityError) as exc:
        raise Conflict(
            "already_rated", "This result has already been rated", "您已评价过此次办理结果"
        ) from exc
    return public_view(token)


def _rate(uow: UnitOfWork, token: str, verdict: str, comment: str | None) -> None:
    """The resident's one rating while the case awaits it. 不满意 reopens the case for the
    dispatcher; 满意 and 基本满意 close it."""
    case = _case_for(token)
    round_no = current_round(case)
    already = db.session.scalar(
        select(Rating.id).where(Rating.case_id == case.id, Rating.round == round_no)
    )
    if already is not None:
        raise Conflict(
            "already_rated", "This result has already been rated", "您已评价过此次办理结果"
        )
    try:
        decide(case.status, Action.RATE.value, "resident")
    except TransitionRefused as exc:
        raise Conflict(
            "not_awaiting_rating", "The case is not waiting for a rating", "该事项当前无需评价"
        ) from exc
    before = case.status
    target = rating_target(verdict)
    case.status = target.value
    case.rating = verdict
    if target is Status.CLOSED:
        case.closed_at = uow.now
    uow.session.add(
        Rating(
            case_id=case.id,
            round=round_no,
            verdict=verdict,
            comment=(comment or "").strip() or None,
        )
    )
    record_event(
        uow,
        case,
        Action.RATE.value,
        before,
        None,
        {"verdict": verdict, "comment": comment, "round": round_no},
    )
    event = "case.closed" if target is Status.CLOSED else "case.reopened"
    notify.publish(
        event,
        case,
        actor_id=None,
        recipients=notify.dispatcher_ids(case.subdistrict_id),
        extra={"verdict": verdict},
    )


def public_photo(token: str, sha256: str) -> attachments.StoredFile:
    """A report or result photo of this case (the public copy, without EXIF GPS)."""
    case = _case_for(token)
    linked = db.session.scalar(
        select(CaseAttachment.sha256).where(
            CaseAttachment.case_id == case.id,
            CaseAttachment.sha256 == sha256,
            CaseAttachment.role.in_(["report", "result"]),
        )
    )
    if linked is None:
        raise NotFound("Photo", "照片")
    return attachments.public_file(sha256)


LOOKUP_WINDOW = timedelta(hours=1)


def count_lookup(uow: UnitOfWork, address: str) -> None:
    """Count one lookup from this address: MINQING_CASE_LOOKUPS_PER_HOUR an hour (429 beyond),
    so the four digits cannot be guessed through. The edge counts it in a unit of work of its
    own, before `lookup`, so a failed lookup still counts."""
    digest = hashlib.sha256(address.encode()).hexdigest()[:32]  # no raw addresses stored
    ratelimit.hit(
        uow,
        f"case-lookup:{digest}",
        int(current_app.config["CASE_LOOKUPS_PER_HOUR"]),
        LOOKUP_WINDOW,
        ("case lookups from your address", "查询过于频繁"),
    )


def lookup(number: str, last4: str) -> str:
    """A resident who lost their link finds the case by its number and the last four digits
    of the phone they gave: the link's token, or 404 — the same for a wrong number and a wrong
    phone."""
    number = number.strip().upper()
    digits = "".join(ch for ch in last4 if ch.isdigit())
    case = db.session.scalar(select(Case).where(Case.number == number)) if number else None
    phone = "".join(ch for ch in (case.reporter_phone or "") if ch.isdigit()) if case else ""
    if case is None or len(digits) != 4 or len(phone) < 4 or not phone.endswith(digits):
        raise NotFound("Case with this number and phone", "该编号和手机尾号对应的事项")
    return case.public_token

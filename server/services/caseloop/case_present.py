"""What a case looks like to whoever asks: personal data masked for roles that don't need it."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select

from server.domain.cases import (
    ACTION_ZH,
    STAGE_ZH,
    STATUS_ZH,
    Action,
    Status,
    allowed_actions,
    stage_of,
)
from server.domain.masking import mask_name, mask_phone
from server.domain.roles import Role
from server.extensions import db
from server.models import Case, CaseAttachment, CaseEvent, User
from server.services.people.principal import Principal


def _ref(obj: Any) -> dict[str, Any] | None:
    if obj is None:
        return None
    return {"id": obj.id, "code": obj.code, "name": obj.name}


def photos_of(case_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    rows = db.session.execute(
        select(CaseAttachment.case_id, CaseAttachment.sha256, CaseAttachment.role)
        .where(CaseAttachment.case_id.in_(case_ids))
        .order_by(CaseAttachment.created_at)
    ).all()
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for case_id, sha, role in rows:
        out[case_id].append(
            {
                "sha256": sha,
                "role": role,
                "url": f"/api/v1/attachments/{sha}",
                "thumbnail_url": f"/api/v1/attachments/{sha}/thumbnail",
            }
        )
    return out


def _sees_reporter(principal: Principal | None, case: Case) -> bool:
    if principal is None:
        return False
    return principal.sees_personal_data or case.reporter_id == principal.user_id


def _may_call(principal: Principal | None, case: Case) -> bool:
    """The handling unit's staff see the caller's phone only when the resident allowed a
    call at report time (`phone_consent`)."""
    return (
        principal is not None
        and principal.role is Role.UNIT_STAFF
        and case.phone_consent
        and case.unit_id is not None
        and case.unit_id == principal.unit_id
    )


def present(
    case: Case,
    principal: Principal | None,
    *,
    events: list[CaseEvent] | None = None,
    photos: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The case as the API shows it to `principal` (None: an anonymous resident)."""
    full = _sees_reporter(principal, case)
    status = Status(case.status)
    stage = stage_of(case.status)
    body: dict[str, Any] = {
        "id": case.id,
        "number": case.number,
        "status": status.value,
        "status_zh": STATUS_ZH[status],
        "stage": stage.value,
        "stage_zh": STAGE_ZH[stage],
        "source": case.source,
        "channel": case.channel,
        "priority": case.priority,
        "category": {
            "code": case.category.code,
            "name_zh": case.category.name_zh,
            "name_en": case.category.name_en,
        },
        "description": case.description,
        "address": case.address,
        "lon": case.lon,
        "lat": case.lat,
        "grid": _ref(case.grid),
        "community": _ref(case.community),
        "reporter": {
            "role": case.reporter_role,
            "name": case.reporter_name if full else mask_name(case.reporter_name),
            "phone": case.reporter_phone
            if full or _may_call(principal, case)
            else mask_phone(case.reporter_phone),
            "phone_consent": case.phone_consent,
        },
        "unit": {"id": case.unit.id, "name": case.unit.name} if case.unit else None,
        "deadline_at": case.deadline_at,
        "overdue": case.overdue,
        "overdue_at": case.overdue_at,
        "escalated_at": case.escalated_at,
        "rework_count": case.rework_count,
        "send_back_count": case.send_back_count,
        "extension_count": case.extension_count,
        "extension_request": (
            {"until": case.extension_requested_until, "reason": case.extension_reason}
            if case.extension_requested_until
            else None
        ),
        "result": case.result,
        "rating": case.rating,
        "merged_into": case.merged_into_id,
        "version": case.version,
        "reported_at": case.reported_at,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
        "accepted_at": case.accepted_at,
        "dispatched_at": case.dispatched_at,
        "handled_at": case.handled_at,
        "closed_at": case.closed_at,
        "allowed_actions": [a.value for a in _allowed(case, principal)],
    }
    if full:
        # so that a hotline operator can text the resident the link
        body["public_token"] = case.public_token
    if photos is not None:
        body["photos"] = photos
    if events is not None:
        body["events"] = present_events(events, principal)
    return body


def _allowed(case: Case, principal: Principal | None) -> list[Action]:
    if principal is None:
        return []
    actions = allowed_actions(case.status, principal.role.value)
    if principal.role is Role.UNIT_STAFF and case.unit_id != principal.unit_id:
        return []
    if case.extension_requested_until is None:
        actions = [a for a in actions if a not in (Action.APPROVE_EXTENSION, Action.DENY_EXTENSION)]
    else:
        actions = [a for a in actions if a is not Action.REQUEST_EXTENSION]
    return actions


def present_events(events: list[CaseEvent], principal: Principal | None) -> list[dict[str, Any]]:
    ids = {e.actor_id for e in events if e.actor_id}
    names = (
        dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all())
        if ids
        else {}
    )
    out = []
    for e in events:
        name = names.get(e.actor_id) if e.actor_id else None
        out.append(
            {
                "seq": e.seq,
                "action": e.action,
                "action_zh": _action_zh(e.action),
                "from_status": e.from_status,
                "to_status": e.to_status,
                "actor_role": e.actor_role,
                "actor_name": name
                if principal and principal.sees_personal_data
                else mask_name(name),
                "payload": e.payload,
                "at": e.created_at,
            }
        )
    return out


def _action_zh(action: str) -> str:
    extra = {"report": "上报", "overdue": "超期", "escalate": "超期升级"}
    try:
        return ACTION_ZH[Action(action)]
    except ValueError:
        return extra.get(action, action)

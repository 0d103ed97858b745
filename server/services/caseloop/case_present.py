"""What a case looks like to whoever asks: personal data masked for roles that don't need it."""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
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
from server.models import Attachment, Case, CaseAttachment, CaseEvent, User
from server.services.caseloop.case_deadlines import weekends_only_note, weekends_only_text
from server.services.people.principal import Principal


def _ref(obj: Any) -> dict[str, Any] | None:
    if obj is None:
        return None
    return {"id": obj.id, "code": obj.code, "name": obj.name}


def photos_of(case_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each case's photos in the order attached; `removed`: gone under retention (personal
    data), its URLs answer 410."""
    rows = db.session.execute(
        select(
            CaseAttachment.case_id,
            CaseAttachment.sha256,
            CaseAttachment.role,
            Attachment.removed_at,
            Attachment.personal,
        )
        .join(Attachment, Attachment.sha256 == CaseAttachment.sha256)
        .where(CaseAttachment.case_id.in_(case_ids))
        .order_by(CaseAttachment.created_at)
    ).all()
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for case_id, sha, role, removed_at, personal in rows:
        out[case_id].append(
            {
                "sha256": sha,
                "role": role,
                "url": f"/api/v1/attachments/{sha}",
                "thumbnail_url": f"/api/v1/attachments/{sha}/thumbnail",
                "removed": removed_at is not None,
                "personal": bool(personal),
            }
        )
    return out


def _sees_reporter(principal: Principal | None, reporter_id: int | None) -> bool:
    if principal is None:
        return False
    return principal.sees_personal_data or reporter_id == principal.user_id


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
    category = case.category
    body = _body(
        case,
        {"code": category.code, "name_zh": category.name_zh, "name_en": category.name_en},
        _ref(case.grid),
        _ref(case.community),
        {"id": case.unit.id, "name": case.unit.name} if case.unit else None,
        principal,
    )
    if photos is not None:
        body["photos"] = photos
    if events is not None:
        body["events"] = present_events(events, principal)
        body["deadline_note"] = weekends_only_text(weekends_only_note(case, events))
    return body


def present_row(row: Any, principal: Principal | None) -> dict[str, Any]:
    """`present` of one row of `case_queries.ROW_COLUMNS` (a queue page without ORM objects):
    the same dictionary, the same masking."""
    return _body(
        row,
        {
            "code": row.category_code,
            "name_zh": row.category_name_zh,
            "name_en": row.category_name_en,
        },
        {"id": row.grid_id, "code": row.grid_code, "name": row.grid_name}
        if row.grid_id is not None
        else None,
        {"id": row.community_id, "code": row.community_code, "name": row.community_name}
        if row.community_id is not None
        else None,
        {"id": row.unit_id, "name": row.unit_name} if row.unit_id is not None else None,
        principal,
    )


def _body(
    case: Any,
    category: dict[str, Any],
    grid: dict[str, Any] | None,
    community: dict[str, Any] | None,
    unit: dict[str, Any] | None,
    principal: Principal | None,
) -> dict[str, Any]:
    """What every view of a case shows; `case` is a Case or a row with the same names."""
    full = _sees_reporter(principal, case.reporter_id)
    status = case.status
    body: dict[str, Any] = {
        "id": case.id,
        "number": case.number,
        "status": status,
        **_STATUS_TEXT[status],
        "source": case.source,
        "channel": case.channel,
        "priority": case.priority,
        "category": category,
        "description": case.description,
        "address": case.address,
        "lon": case.lon,
        "lat": case.lat,
        "grid": grid,
        "community": community,
        # 待定位: no point nor grid yet (an address the geocoder could not place)
        "unlocated": grid is None,
        "reporter": {
            "role": case.reporter_role,
            "name": case.reporter_name if full else mask_name(case.reporter_name),
            "phone": case.reporter_phone
            if full or _may_call(principal, case)
            else mask_phone(case.reporter_phone),
            "phone_consent": case.phone_consent,
        },
        "unit": unit,
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
        "allowed_actions": _allowed(
            status, case.unit_id, case.extension_requested_until is not None, principal
        ),
    }
    if full:
        # so that a hotline operator can text the resident the link
        body["public_token"] = case.public_token
    return body


# status -> its label fields, computed once (stage_of and the enums are not free per row)
_STATUS_TEXT: dict[str, dict[str, str]] = {
    s.value: {
        "status_zh": STATUS_ZH[s],
        "stage": stage_of(s.value).value,
        "stage_zh": STAGE_ZH[stage_of(s.value)],
    }
    for s in Status
}


@lru_cache(maxsize=256)
def _actions_for(status: str, role: str, extension_pending: bool) -> tuple[str, ...]:
    actions = allowed_actions(status, role)
    if not extension_pending:
        actions = [a for a in actions if a not in (Action.APPROVE_EXTENSION, Action.DENY_EXTENSION)]
    else:
        actions = [a for a in actions if a is not Action.REQUEST_EXTENSION]
    return tuple(a.value for a in actions)


def _allowed(
    status: str, unit_id: int | None, extension_pending: bool, principal: Principal | None
) -> list[str]:
    if principal is None:
        return []
    if principal.role is Role.UNIT_STAFF and unit_id != principal.unit_id:
        return []
    return list(_actions_for(status, principal.role.value, extension_pending))


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
    extra = {"report": "上报", "overdue": "超期", "escalate": "超期升级", "locate": "定位"}
    try:
        return ACTION_ZH[Action(action)]
    except ValueError:
        return extra.get(action, action)

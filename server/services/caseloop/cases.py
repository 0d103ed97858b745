"""The case loop's use cases: report a case, act on it, read it.

Each public function is one use case; it works in the caller's unit of work and never
commits. Scope is checked here (whose
grid, which unit, which subdistrict); the state machine itself lives in
`server.domain.cases`.
"""

from __future__ import annotations

import math
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import func, literal_column, select
from sqlalchemy.orm.exc import StaleDataError

from geo.measure import distance_m
from server.domain.cases import (
    FINAL,
    RESIDENT,
    Action,
    Status,
    TransitionRefused,
    decide,
)
from server.domain.codes import CLIENT_ID
from server.domain.deadlines import PRIORITIES
from server.domain.roles import Role
from server.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from server.extensions import db
from server.models import (
    Case,
    CaseAction,
    CaseEvent,
    Category,
    Community,
    Grid,
    HotlineOrder,
    Subdistrict,
    Unit,
)
from server.models.base import SRID, utcnow
from server.models.cases import CHANNELS
from server.services.caseloop import resident_sms
from server.services.caseloop.case_deadlines import computed_deadline, local_zone
from server.services.caseloop.case_numbers import next_number
from server.services.files import attachments, photo_access
from server.services.messaging import notify
from server.services.people.case_scope import may_see
from server.services.people.principal import Principal
from server.services.territory.locate import locate
from server.services.territory.spatial import intersects_bbox
from server.services.uow import UnitOfWork, stale_version

DISPATCHER_SOURCES = ("hotline", "visit", "wechat", "deliberation", "patrol")
DUPLICATE_WINDOW = timedelta(days=7)
OPEN_STATUSES = [s.value for s in Status if s not in FINAL]


@dataclass
class ReportInput:
    category: str
    description: str
    lon: float
    lat: float
    crs: str = "wgs84"
    priority: str | None = None
    source: str | None = None
    photos: list[str] = field(default_factory=list)
    reporter_name: str | None = None
    reporter_phone: str | None = None
    # the resident allows the handling unit to call them (asked where the phone is given)
    phone_consent: bool = False
    address: str | None = None
    id: str | None = None  # client-generated (offline phones)
    reported_at: datetime | None = None


@dataclass(frozen=True)
class Duplicate:
    case: Case
    distance_m: float


@dataclass(frozen=True)
class ReportResult:
    case: Case
    duplicates: list[Duplicate]
    created: bool


def _invalid(code: str, field_name: str, message: str, message_zh: str) -> Invalid:
    return Invalid(code, message, message_zh, field=field_name)


def actor_of(principal: Principal | None) -> str:
    return RESIDENT if principal is None else principal.role.value


# ---------------------------------------------------------------------------------- report


def report_case(
    uow: UnitOfWork,
    principal: Principal | None,
    data: ReportInput,
    *,
    channel: str | None = None,
    carried_photos: Sequence[str] = (),
    unlocated_in: Subdistrict | None = None,
    inbox: bool = True,
) -> ReportResult:
    """Report a case: by a collector on patrol, a dispatcher on behalf of a caller, or an
    anonymous resident. The point is located to a grid; nothing is written if any check
    fails. `channel` names the outside system a report came through (`open311`, `12345`:
    `models.cases.CHANNELS`), kept on the case and in the report event.

    `unlocated_in`: the report has no place we could find (an address the geocoder could not
    place): the case is created *unlocated* (待定位) in that subdistrict, without point, grid
    or community, never guessed; `data.lon`/`data.lat` are ignored. Only for channels.

    `inbox=False`: the dispatchers' inbox entry is left to the caller (a 12345 import tells
    them once for the whole file); the `case.reported` webhooks are queued all the same."""
    if principal is not None and principal.role is Role.UNIT_STAFF:
        raise Forbidden("Handling units do not report cases", "办理单位不能上报事项")
    if channel is not None and channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")  # a programming error, not input
    if data.id is not None:
        existing = _existing_report(principal, data.id)
        if existing is not None:
            return ReportResult(case=existing, duplicates=[], created=False)
    category = db.session.scalar(
        select(Category).where(Category.code == data.category, Category.active.is_(True))
    )
    if category is None:
        raise _invalid(
            "unknown_category",
            "category",
            f"unknown category {data.category!r}",
            f"未知的事项分类 {data.category}",
        )
    priority = data.priority or category.default_priority
    if priority not in PRIORITIES:  # the API checks it too; sync and the web come here
        raise _invalid(
            "validation_error",
            "priority",
            f"priority: one of {', '.join(PRIORITIES)}",
            f"字段 priority：应为 {'、'.join(PRIORITIES)} 之一",
        )
    source = _source_for(principal, data.source)
    where = None
    if unlocated_in is not None:
        if channel is None:
            raise ValueError("only a channel's report may be unlocated")  # programming error
        if principal is not None and not principal.may_see_subdistrict(unlocated_in.id):
            raise Forbidden("Outside your subdistrict", "不在您所在的街道")
    else:
        try:
            where = locate(data.lon, data.lat, data.crs, None)
        except DomainError as exc:
            if exc.code != "outside_subdistrict":
                raise
            raise _invalid("outside_subdistrict", "lon", exc.message, exc.message_zh) from exc
        _check_report_scope(principal, where.grid)
    photos = attachments.require_attachments(data.photos) if data.photos else []
    if principal is None and data.photos:
        raise _invalid(
            "photo_not_yours",
            "photos",
            "photos: residents report without photos",
            "字段 photos：匿名上报不能附照片",
        )
    photo_access.check_attachable(principal, data.photos)
    if carried_photos:  # stored from this very request's bytes: the reporter holds them
        photos += attachments.require_attachments(list(carried_photos))
    now = uow.now
    reported_at = now
    if data.reported_at is not None and principal is not None and principal.device_id:
        # An offline phone says when it saw the problem; never in the future.
        reported_at = min(data.reported_at, now)
    subdistrict: Any = where.subdistrict if where is not None else unlocated_in
    case = Case(
        id=data.id or uuid.uuid4().hex,
        number=next_number(
            subdistrict.id, subdistrict.case_prefix, reported_at.astimezone(local_zone()).date()
        ),
        public_token=secrets.token_urlsafe(24),
        subdistrict_id=subdistrict.id,
        community_id=where.community.id if where is not None else None,
        grid_id=where.grid.id if where is not None else None,
        category_id=category.id,
        priority=priority,
        source=source,
        channel=channel,
        status=Status.REPORTED.value,
        description=data.description.strip(),
        address=(data.address or "").strip() or None,
        point=from_shape(Point(where.lon, where.lat), srid=SRID) if where is not None else None,
        lon=where.lon if where is not None else None,
        lat=where.lat if where is not None else None,
        reported_crs=data.crs,
        reporter_id=principal.user_id if principal else None,
        reporter_role=actor_of(principal),
        reporter_name=(data.reporter_name or "").strip() or None,
        reporter_phone=(data.reporter_phone or "").strip() or None,
        phone_consent=bool(data.phone_consent and (data.reporter_phone or "").strip()),
        reported_at=reported_at,
        version=1,
    )
    uow.session.add(case)
    uow.session.flush()
    event = record_event(
        uow,
        case,
        "report",
        None,
        principal,
        {
            "source": source,
            "photos": [p.sha256 for p in photos],
            "crs": data.crs,
            "channel": channel,
            **({"unlocated": True} if where is None else {}),
        },
    )
    if photos:
        attachments.link_to_case(case.id, [p.sha256 for p in photos], "report", event.id)
    notify.publish(
        "case.reported",
        case,
        actor_id=event.actor_id,
        recipients=notify.dispatcher_ids(case.subdistrict_id) if inbox else (),
    )
    # Possible duplicates are other people's reports: shown only to whoever may see them.
    duplicates = [
        d for d in find_duplicates(case) if principal is not None and may_see(principal, d.case)
    ]
    return ReportResult(case=case, duplicates=duplicates, created=True)


def _existing_report(principal: Principal | None, case_id: str) -> Case | None:
    if not CLIENT_ID.match(case_id):
        raise _invalid(
            "validation_error",
            "id",
            "id: 8–64 of A-Z a-z 0-9 _ -",
            "字段 id：须为 8–64 位字母、数字、_ 或 -",
        )
    existing = db.session.get(Case, case_id)
    if existing is None:
        return None
    same_reporter = principal is not None and existing.reporter_id == principal.user_id
    if not same_reporter:
        raise Conflict("id_taken", "a case with this id exists", "该编号的事项已存在", field="id")
    return existing  # a retried report: nothing happens twice


def _source_for(principal: Principal | None, asked: str | None) -> str:
    if principal is None:
        return "resident"
    if principal.role is Role.COLLECTOR:
        return "patrol"
    source = asked or "hotline"
    if source not in DISPATCHER_SOURCES:
        raise _invalid(
            "validation_error",
            "source",
            f"source: one of {', '.join(DISPATCHER_SOURCES)}",
            "字段 source：必须是 hotline、visit、wechat、deliberation 或 patrol",
        )
    return source


def _check_report_scope(principal: Principal | None, grid: Grid) -> None:
    if principal is None:
        return
    if principal.role is Role.COLLECTOR and grid.id not in principal.grid_ids:
        raise _invalid(
            "outside_your_grids",
            "lon",
            "the point is outside your grids",
            "该位置不在您负责的网格内",
        )
    if not principal.may_see_subdistrict(grid.subdistrict_id):
        raise _invalid(
            "outside_subdistrict",
            "lon",
            "the point is outside your subdistrict",
            "该位置不在您所在的街道",
        )


def find_duplicates(case: Case, *, limit: int = 10) -> list[Duplicate]:
    """Open cases of the same category near this one, reported in the last 7 days (none
    for an unlocated case, nor among them)."""
    if case.lon is None or case.lat is None:
        return []
    radius = float(case.category.duplicate_radius_m or 50.0)
    dlat = radius / 111_320.0
    dlon = radius / (111_320.0 * max(math.cos(math.radians(case.lat)), 0.01))
    bbox = (case.lon - dlon, case.lat - dlat, case.lon + dlon, case.lat + dlat)
    since = (case.reported_at or utcnow()) - DUPLICATE_WINDOW
    candidates = db.session.scalars(
        select(Case)
        .where(
            Case.id != case.id,
            Case.category_id == case.category_id,
            Case.subdistrict_id == case.subdistrict_id,
            Case.status.in_(OPEN_STATUSES),
            Case.reported_at >= since,
            intersects_bbox("cases", _rowid(), Case.point, bbox),
        )
        .limit(200)
    ).all()
    found = []
    for other in candidates:
        if other.lon is None or other.lat is None:
            continue
        d = distance_m((case.lon, case.lat), (other.lon, other.lat))
        if d <= radius:
            found.append(Duplicate(case=other, distance_m=round(d, 1)))
    found.sort(key=lambda dup: dup.distance_m)
    return found[:limit]


def _rowid() -> Any:
    # Cases have string ids; SpatiaLite's index is keyed by the rowid SQLite keeps anyway.
    return literal_column("cases.rowid") if db.engine.dialect.name == "sqlite" else Case.id


# ---------------------------------------------------------------------------------- actions


@dataclass
class ActionInput:
    version: int
    reason: str | None = None
    unit_id: int | None = None
    deadline: datetime | None = None
    result: str | None = None
    photos: list[str] = field(default_factory=list)
    into: str | None = None


def act(
    uow: UnitOfWork,
    principal: Principal,
    case_id: str,
    action: str,
    data: ActionInput,
    *,
    extra: Mapping[str, Any] | None = None,
) -> Case:
    """Fire one action of the case loop on a case the principal may see; `extra` goes into
    the event's payload (e.g. when an offline action was done on site)."""
    case = visible_case(principal, case_id)
    try:
        result = _apply(uow, principal, case, action, data, extra=extra)
        uow.session.flush()
    except StaleDataError as exc:  # a concurrent action won the race (seen at a flush)
        raise stale_version() from exc
    return result


def expect_version(case: Case, version: int) -> None:
    """409 `stale_version` unless the caller acted on the case's current version."""
    if version != case.version:
        raise Conflict(
            "stale_version",
            f"the case changed meanwhile (version {case.version}, you sent {version})",
            f"事项已被他人修改（当前版本 {case.version}，您提交的是 {version}），请刷新后重试",
            field="version",
            details={"current_version": case.version},
        )


def _apply(
    uow: UnitOfWork,
    principal: Principal,
    case: Case,
    action: str,
    data: ActionInput,
    *,
    extra: Mapping[str, Any] | None = None,
) -> Case:
    expect_version(case, data.version)
    try:
        edge = decide(case.status, action, principal.role.value)
    except TransitionRefused as exc:
        status = 403 if exc.code == "role_not_allowed" else 409
        if exc.code == "unknown_action":
            status = 404
        raise DomainError(exc.code, exc.message, exc.message_zh, status=status) from exc
    for name in edge.needs:
        value = getattr(data, name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise _invalid(
                "validation_error",
                name,
                f"{name}: required for {action}",
                f"字段 {name}：执行该操作时必填",
            )
    _check_actor_scope(principal, case, edge.action)
    if data.photos:
        if edge.action not in PHOTO_ACTIONS:
            raise _invalid(
                "validation_error",
                "photos",
                f"photos: {action} takes no photos",
                f"字段 photos：「{action}」操作不能附照片",
            )
        attachments.require_attachments(data.photos)
        photo_access.check_attachable(principal, data.photos, case.id)
    handler = _HANDLERS[edge.action]
    before = case.status
    payload, event_name, recipients = handler(principal, case, data, uow.now)
    if edge.to is not None:
        case.status = edge.to.value
    event = record_event(
        uow, case, edge.action.value, before, principal, {**payload, **(extra or {})}
    )
    if data.photos:
        role = "result" if edge.action is Action.REPORT_DONE else "verify"
        attachments.link_to_case(case.id, data.photos, role, event.id)
    if event_name:
        notify.publish(
            event_name,
            case,
            actor_id=principal.user_id,
            recipients=recipients,
            extra=_public_extra(payload),
        )
    resident_sms.queue_for(uow, case, edge.action)
    return case


PHOTO_ACTIONS = frozenset({Action.REPORT_DONE, Action.VERIFY_OK, Action.VERIFY_FAIL})


def _public_extra(payload: dict[str, Any]) -> dict[str, Any]:
    """What of an event's payload may leave the system: decisions and deadlines, never free
    text (reasons and explanations can name people; they stay in the case history)."""
    keep = (
        "approved",
        "deadline",
        "requested_until",
        "unit",
        "into_number",
        "on_time",
        "rework_count",
    )
    return {k: v for k, v in payload.items() if k in keep and v is not None}


def _check_actor_scope(principal: Principal, case: Case, action: Action) -> None:
    if principal.role is Role.UNIT_STAFF and case.unit_id != principal.unit_id:
        raise Forbidden("The case is not assigned to your unit", "该事项未派遣给您的单位")
    if principal.role is Role.COLLECTOR and case.grid_id not in principal.grid_ids:
        # a collector may still see cases they reported elsewhere, but verifies only in
        # the grids they are responsible for now
        raise Forbidden("You are not responsible for this grid", "您不负责该事项所在网格")


Handler = Any


def _accept(
    p: Principal, case: Case, data: ActionInput, now: datetime
) -> tuple[dict[str, Any], str, list[int]]:
    case.accepted_at = now
    return {}, "case.accepted", _reporter(case)


def _reject(
    p: Principal, case: Case, data: ActionInput, now: datetime
) -> tuple[dict[str, Any], str, list[int]]:
    case.closed_at = now
    return {"reason": data.reason}, "case.rejected", _reporter(case)


def _merge(
    p: Principal, case: Case, data: ActionInput, now: datetime
) -> tuple[dict[str, Any], str, list[int]]:
    target = db.session.get(Case, data.into) if data.into else None
    if (
        target is None
        or target.subdistrict_id != case.subdistrict_id
        or not p.may_see_subdistrict(target.subdistrict_id)
    ):
        raise _invalid("unknown_case", "into", "no such case to merge into", "要合并到的事项不存在")
    if target.id == case.id or target.status in {s.value for s in FINAL}:
        raise _invalid(
            "invalid_merge_target",
            "into",
            "merge into another case that is still open",
            "只能合并到另一个未结束的事项",
        )
    case.merged_into_id = target.id
    case.closed_at = now
    return {"into": target.id, "into_number": target.number}, "case.merged", _reporter(case)


def _dispatch(
    p: Principal, case: Case, data: ActionInput, now: datetime
) -> tuple[dict[str, Any], str, list[int]]:
    if case.grid_id is None:
        # the unit needs a place to go to, and a grid's collector verifies the result
        raise Conflict(
            "case_unlocated",
            "the case is unlocated: locate it (POST /api/v1/cases/{id}/location) before "
            "dispatching",
            "该事项待定位：请先确定位置再派遣",
        )
    unit = db.session.get(Unit, data.unit_id) if data.unit_id else None
    if unit is None or not unit.active or unit.subdistrict_id != case.subdistrict_id:
        raise _invalid(
            "unknown_unit",
            "unit_id",
            "no such active unit in this subdistrict",
            "本街道没有该办理单位或已停用",
        )
    if data.deadline is not None:
        if data.deadline <= now:
            raise _invalid(
                "deadline_in_past",
                "deadline",
                "the deadline must be in the future",
                "办理时限必须晚于当前时间",
            )
        deadline = data.deadline
        source = "dispatcher"
        weekends_only: list[int] = []
    else:
        platform = platform_deadline(case, now)
        if platform is not None:
            deadline, source = platform
            weekends_only = []
        else:
            deadline, weekends_only = computed_deadline(case, now)
            source = "category"
    case.unit_id = unit.id
    case.dispatched_at = now
    case.first_dispatched_at = case.first_dispatched_at or now
    case.deadline_at = deadline
    case.overdue = False
    case.overdue_at = None
    case.escalated_at = None
    case.acknowledged_at = None
    case.handled_at = None
    case.handled_on_time = None
    payload: dict[str, Any] = {
        "unit_id": unit.id,
        "unit": unit.name,
        "deadline": deadline.isoformat(),
        "deadline_overridden": data.deadline is not None,
        # where the deadline came from: the dispatcher, the 12345 work order, the category
        "deadline_source": source,
    }
    if weekends_only:
        # recorded now: loading that year's calendar later does not change what the case says
        payload["weekends_only_years"] = weekends_only
    return payload, "case.dispatched", notify.unit_staff_ids(unit.id)


def platform_deadline(case: Case, now: datetime) -> tuple[datetime, str] | None:
    """The deadline the 12345 platform set on the work order (`hotline_orders.deadline_at`),
    when the case came from one: it wins over the category's, even when already past (the
    platform counts the order late then, and so do we)."""
    if case.channel != "12345":
        return None
    deadline = db.session.scalar(
        select(HotlineOrder.deadline_at).where(HotlineOrder.case_id == case.id)
    )
    if deadline is None:
        return None
    return deadline, "hotline"


def _acknowledge(
    p: Principal, case: Case, data: ActionInput, now: datetime
) -> tuple[dict[str, Any], str, list[int]]:
    case.acknowledged_at = now
    return {}, "case.acknowledged", notify.dispatcher_ids(case.subdistrict_id)


def _send_back(
    p: Principal, case: Case, data: ActionInput, now: datetime
) -> tuple[dict[str, Any], str, list[int]]:
    unit_id = case.unit_id
    case.unit_id = None
    case.deadline_at = None
    case.overdue = False
    case.overdue_at = None
    case.escalated_at = None
    case.extension_requested_until = None
    case.extension_reason = None
    case.send_back_count += 1
    return (
        {"reason": data.reason, "unit_id": unit_id},
        "case.sent_back",
        notify.dispatcher_ids(case.subdistrict_id),
    )


def _request_extension(
    p: Principal, case: Case, data: ActionInput, now: datetime
) -> tuple[dict[str, Any], str, list[int]]:
    if case.extension_requested_until is not None:
        raise Conflict(
            "extension_pending", "an extension request is already pending", "已有待审批的延期申请"
        )
    assert data.deadline is not None and case.deadline_at is not None
    if data.deadline <= case.deadline_at or data.deadline <= now:
        raise _invalid(
            "validation_error",
            "deadline",
            "deadline: must be later than the current deadline",
            "字段 deadline：必须晚于当前办理时限",
        )
    case.extension_requested_until = data.deadline
    case.extension_reason = data.reason
    return (
        {
            "requested_until": data.deadline.isoformat(),
            "reason": data.reason,
            "current_deadline": case.deadline_at.isoformat(),
        },
        "case.extension_requested",
        notify.dispatcher_ids(case.subdistrict_id),
    )


def _decide_extension(approve: bool) -> Handler:
    def handler(
        p: Principal, case: Case, data: ActionInput, now: datetime
    ) -> tuple[dict[str, Any], str, list[int]]:
        if case.extension_requested_until is None:
            raise Conflict(
                "no_pending_extension",
                "there is no extension request to decide",
                "没有待审批的延期申请",
            )
        payload: dict[str, Any] = {
            "approved": approve,
            "requested_until": case.extension_requested_until.isoformat(),
        }
        if approve:
            payload["previous_deadline"] = (
                case.deadline_at.isoformat() if case.deadline_at else None
            )
            case.deadline_at = case.extension_requested_until
            case.extension_count += 1
            if case.deadline_at > now:
                case.overdue = False
                case.overdue_at = None
                case.escalated_at = None
        else:
            payload["reason"] = data.reason
        case.extension_requested_until = None
        case.extension_reason = None
        recipients = notify.unit_staff_ids(case.unit_id) if case.unit_id else []
        return payload, "case.extension_decided", recipients

    return handler


def _report_done(
    p: Principal, case: Case, data: ActionInput, now: datetime
) -> tuple[dict[str, Any], str, list[int]]:
    if data.photos:
        attachments.require_attachments(data.photos)
    case.handled_at = now
    case.handled_on_time = case.deadline_at is None or now <= case.deadline_at
    case.result = (data.result or "").strip()
    case.extension_requested_until = None
    case.extension_reason = None
    collectors = notify.collector_ids(case.grid_id) if case.grid_id is not None else []
    recipients = collectors + notify.dispatcher_ids(case.subdistrict_id)
    return (
        {"result": case.result, "photos": data.photos, "on_time": case.handled_on_time},
        "case.handled",
        recipients,
    )


def _verify_ok(
    p: Principal, case: Case, data: ActionInput, now: datetime
) -> tuple[dict[str, Any], str, list[int]]:
    if data.photos:
        attachments.require_attachments(data.photos)
    case.verified_at = now
    return {"photos": data.photos, "note": data.reason}, "case.awaiting_rating", _reporter(case)


def _verify_fail(
    p: Principal, case: Case, data: ActionInput, now: datetime
) -> tuple[dict[str, Any], str, list[int]]:
    if data.photos:
        attachments.require_attachments(data.photos)
    case.rework_count += 1
    case.handled_at = None
    case.handled_on_time = None
    case.acknowledged_at = None
    recipients = notify.unit_staff_ids(case.unit_id) if case.unit_id else []
    return (
        {"reason": data.reason, "photos": data.photos, "rework_count": case.rework_count},
        "case.rework",
        recipients,
    )


def _close(
    p: Principal, case: Case, data: ActionInput, now: datetime
) -> tuple[dict[str, Any], str, list[int]]:
    case.closed_at = now
    return {"explanation": data.reason}, "case.closed", _reporter(case)


def _reporter(case: Case) -> list[int]:
    return [case.reporter_id] if case.reporter_id else []


_HANDLERS: Mapping[Action, Handler] = {
    Action.ACCEPT: _accept,
    Action.REJECT: _reject,
    Action.MERGE: _merge,
    Action.DISPATCH: _dispatch,
    Action.ACKNOWLEDGE: _acknowledge,
    Action.SEND_BACK: _send_back,
    Action.REQUEST_EXTENSION: _request_extension,
    Action.APPROVE_EXTENSION: _decide_extension(True),
    Action.DENY_EXTENSION: _decide_extension(False),
    Action.REPORT_DONE: _report_done,
    Action.VERIFY_OK: _verify_ok,
    Action.VERIFY_FAIL: _verify_fail,
    Action.CLOSE: _close,
}


@dataclass(frozen=True)
class BulkItem:
    id: str
    version: int


def bulk_dispatch(
    uow: UnitOfWork,
    principal: Principal,
    items: Sequence[BulkItem],
    unit_id: int,
    deadline: datetime | None,
) -> list[Case]:
    """Dispatch many cases to one unit: all of them, or none (each refusal is named)."""
    problems: list[dict[str, Any]] = []
    done: list[Case] = []
    for item in items:
        try:
            case = visible_case(principal, item.id)
            _apply(
                uow,
                principal,
                case,
                Action.DISPATCH.value,
                ActionInput(version=item.version, unit_id=unit_id, deadline=deadline),
            )
            done.append(case)
        except DomainError as exc:
            problems.append({"id": item.id, **exc.to_dict()})
        except StaleDataError:
            problems.append({"id": item.id, **stale_version().to_dict()})
    if problems:
        raise Conflict(
            "bulk_refused",
            f"{len(problems)} of {len(items)} cases cannot be dispatched; none was",
            f"{len(problems)} 个事项无法派遣，全部未派遣",
            details=problems,
        )
    return done


# ------------------------------------------------------------------ the collector's phone

OFFLINE_ACTIONS = frozenset({Action.VERIFY_OK.value, Action.VERIFY_FAIL.value})


@dataclass(frozen=True)
class OfflineActionInput:
    """A collector's on-site verification done offline (a pushed `case_actions` record)."""

    id: str
    case_id: str
    action: str
    note: str | None
    photos: list[str]
    acted_at: datetime


def act_offline(uow: UnitOfWork, principal: Principal, data: OfflineActionInput) -> bool:
    """Apply a collector's offline verification to the case as it is now (the phone could
    not know its version); the event keeps when it was done on site (`acted_at`). Applied
    once per action id: False for a retry."""
    if uow.session.get(CaseAction, data.id) is not None:
        return False
    uow.session.add(_act_offline(uow, principal, data))
    uow.session.flush()
    return True


def _act_offline(uow: UnitOfWork, principal: Principal, data: OfflineActionInput) -> CaseAction:
    """The action applied to its case (every check before any write: `_apply` decides,
    then changes the case, records the event, queues the news); its record, not yet added."""
    if data.action not in OFFLINE_ACTIONS:
        raise _invalid(
            "action_not_allowed",
            "action",
            f"{data.action!r} cannot be done from a phone (verify_ok, verify_fail)",
            f"手机端不能执行 {data.action}（只能现场核实：verify_ok、verify_fail）",
        )
    case = visible_case(principal, data.case_id)
    acted_at = min(data.acted_at, uow.now)
    act(
        uow,
        principal,
        case.id,
        data.action,
        ActionInput(version=case.version, reason=data.note, photos=list(data.photos)),
        extra={"acted_at": acted_at.isoformat()},
    )
    return CaseAction(
        id=data.id,
        case_id=case.id,
        collector_id=principal.user_id,
        device_id=principal.device_id,
        grid_id=case.grid_id,
        action=data.action,
        note=data.note,
        photos=list(data.photos),
        acted_at=acted_at,
        outcome="applied",
    )


def act_offline_many(
    uow: UnitOfWork, principal: Principal, items: Sequence[OfflineActionInput]
) -> list[CaseAction | DomainError]:
    """`act_offline` for many new action ids at once (a phone's push; the caller has found
    the ids new). The cases are read and locked in one SELECT, in id order (PostgreSQL: two
    pushes wait for each other instead of deadlocking, and no other writer can change a case
    between an action's check and its write; SQLite has one writer). Each action is checked
    as `act_offline` checks it before anything of it is written, so a refused one leaves
    nothing and needs no savepoint; the actions apply in the order sent (one sees its case
    as the earlier ones left it: events, numbering of their sequence, webhooks and
    messages as one by one). The accepted actions' records go in with one flush. The i-th
    answer is the action's record or its refusal."""
    cases = _lock_cases(uow, {d.case_id for d in items})
    held = _what_news_names(uow, cases)
    answers: list[CaseAction | DomainError] = []
    records: list[CaseAction] = []
    for data in items:
        try:
            record = _act_offline(uow, principal, data)
        except Conflict as exc:
            if exc.code == "stale_version":
                # the case changed under a written action (cannot happen with the lock):
                # the push fails whole rather than keep half an action
                raise
            answers.append(exc)
            continue
        except DomainError as exc:
            answers.append(exc)
            continue
        records.append(record)
        answers.append(record)
    if records:
        uow.session.add_all(records)
        uow.session.flush()
    del cases, held  # held so far: the session finds each case (and what it names) by id
    return answers


def _what_news_names(uow: UnitOfWork, cases: Sequence[Case]) -> list[Any]:
    """The grids, communities, categories, units and subdistricts of `cases`, read once
    (one SELECT a kind): the inbox titles and webhook payloads of their actions find them
    by id in the session instead of reading each again for every action."""
    held: list[Any] = []
    for model, attr in (
        (Grid, "grid_id"),
        (Community, "community_id"),
        (Category, "category_id"),
        (Unit, "unit_id"),
        (Subdistrict, "subdistrict_id"),
    ):
        ids = sorted({v for c in cases if (v := getattr(c, attr)) is not None})
        if ids:
            held += uow.session.scalars(select(model).where(model.id.in_(ids)))
    return held


def _lock_cases(uow: UnitOfWork, ids: set[str]) -> list[Case]:
    wanted = sorted(i for i in ids if isinstance(i, str))
    if not wanted:
        return []
    stmt = (
        select(Case)
        .where(Case.id.in_(wanted))
        .order_by(Case.id)
        .with_for_update(of=Case)
        .execution_options(populate_existing=True)
    )
    return list(uow.session.scalars(stmt))


def report_offline_many(
    uow: UnitOfWork,
    principal: Principal,
    items: Sequence[tuple[ReportInput, str | None]],
) -> list[Case | DomainError]:
    """New reports from a phone's push, each with the collector's note (the caller has
    found the ids new): `report_case` checks a report before it writes anything of it (the
    number is taken only then), so a refused one leaves nothing and needs no savepoint; the
    reports apply in the order sent (numbers, events, inbox entries and webhooks as one by
    one). The i-th answer is the case or its refusal."""
    answers: list[Case | DomainError] = []
    for data, note in items:
        try:
            case = report_case(uow, principal, data).case
        except DomainError as exc:
            answers.append(exc)
            continue
        if note:
            # a collector's note on their own new case is never refused; were it, the
            # DomainError fails the push whole rather than keep half a record
            set_collector_note(uow, principal, case.id, note)
        answers.append(case)
    return answers


def set_collector_note(
    uow: UnitOfWork, principal: Principal, case_id: str, note: str | None
) -> bool:
    """The collector's own note on a case they may see (their grids, their reports); it
    changes nothing of the case's handling. True if it changed."""
    if principal.role is not Role.COLLECTOR:
        raise Forbidden("Only collectors keep a collector's note", "只有民情收集员可以填写现场备注")
    case = visible_case(principal, case_id)
    if note == case.collector_note:
        return False
    case.collector_note = note
    uow.session.flush()
    return True


# ---------------------------------------------------------------------------------- reading


def visible_case(principal: Principal, case_id: str) -> Case:
    """The case, if the principal's role and scope let them see it (else 404)."""
    case = db.session.get(Case, case_id)
    if case is None or not may_see(principal, case):
        raise NotFound("Case", "事项")
    return case


def events_of(case: Case) -> list[CaseEvent]:
    return list(
        db.session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
        )
    )


def record_event(
    uow: UnitOfWork,
    case: Case,
    action: str,
    before: str | None,
    principal: Principal | None,
    payload: dict[str, Any],
    *,
    actor_role: str | None = None,
) -> CaseEvent:
    """The case's next event (seq 1, 2, … per case), at the unit of work's time."""
    seq = (
        uow.session.scalar(select(func.max(CaseEvent.seq)).where(CaseEvent.case_id == case.id)) or 0
    ) + 1
    event = CaseEvent(
        case_id=case.id,
        seq=seq,
        action=action,
        from_status=before,
        to_status=case.status,
        actor_id=principal.user_id if principal else None,
        actor_role=actor_role or actor_of(principal),
        payload={k: v for k, v in payload.items() if v not in (None, [], "")},
        created_at=uow.now,
    )
    uow.session.add(event)
    uow.session.flush()
    return event


def record_system_event(
    uow: UnitOfWork, case: Case, action: str, before: str | None, payload: dict[str, Any]
) -> CaseEvent:
    """An event fired by a sweep (overdue, escalation, rating timeout)."""
    return record_event(uow, case, action, before, None, payload, actor_role="system")


def subdistrict_of(case: Case) -> Subdistrict:
    subdistrict = db.session.get(Subdistrict, case.subdistrict_id)
    assert subdistrict is not None
    return subdistrict

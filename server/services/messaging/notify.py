"""Telling people and outside systems what happened to a case: inbox entries and webhooks.

`publish()` is the one entry point the case services call, inside their own transaction
(it never commits). For one case event it writes

- one inbox `Notification` per distinct recipient (the actor excluded, inactive users
  skipped), with a Chinese and an English title and a short Chinese body;
- one `WebhookDelivery` per active subscription of the case's subdistrict (or of the
  whole deployment) that asked for the event, and enqueues its delivery *after commit*.

Webhook payloads carry no personal data: no reporter name or phone, no user names, no
description or address (free text written by residents may contain both). A receiver that
needs more reads the case through the API with its own credentials.

The inbox side (list, mark read) lives here too: it is the same table.
"""

from __future__ import annotations

import string
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, or_, select, update

from server.errors import NotFound
from server.extensions import db
from server.models import (
    Case,
    Category,
    CollectorGrid,
    Community,
    Grid,
    Notification,
    Subdistrict,
    Unit,
    User,
    WebhookDelivery,
    WebhookSubscription,
)
from server.models.base import utcnow
from server.services.outbox import after_commit
from server.services.pagination import DEFAULT_LIMIT, decode_cursor, encode_cursor
from server.services.people.principal import Principal
from server.services.uow import UnitOfWork

DELIVER_TASK = "minqing.webhooks.deliver"
MAX_ID = 2**31 - 1
TITLE_MAX = 200


@dataclass(frozen=True)
class EventSpec:
    """How an event reads in an inbox: title templates in Chinese and English.

    Templates may use {number}, {category}, {grid}, {community}, {unit}, {deadline},
    {until}, {rework_count}, {verdict}, {decision}, {merged_into}; datetimes are in the
    deployment's local time (MINQING_TIMEZONE).
    """

    title_zh: str
    title_en: str


_DT = "%m-%d %H:%M"

EVENTS: dict[str, EventSpec] = {
    "case.reported": EventSpec("新事项 {number}：{category}", "New case {number}: {category}"),
    "case.accepted": EventSpec("事项 {number} 已立案", "Case {number} accepted"),
    "case.located": EventSpec(
        "事项 {number} 已定位：{community} {grid}", "Case {number} located: {grid}"
    ),
    "case.rejected": EventSpec("事项 {number} 不予立案", "Case {number} rejected"),
    "case.dispatched": EventSpec(
        "事项 {number} 已派遣至{unit}，限 {deadline:" + _DT + "} 前办结",
        "Case {number} dispatched to {unit}, due by {deadline:" + _DT + "}",
    ),
    "case.acknowledged": EventSpec(
        "{unit}已签收事项 {number}", "{unit} acknowledged case {number}"
    ),
    "case.sent_back": EventSpec(
        "事项 {number} 已被{unit}退回", "Case {number} sent back by {unit}"
    ),
    "case.extension_requested": EventSpec(
        "事项 {number} 申请延期至 {until:" + _DT + "}",
        "Case {number}: extension requested until {until:" + _DT + "}",
    ),
    "case.extension_decided": EventSpec(
        "事项 {number} 延期申请{decision}", "Case {number}: extension {decision}"
    ),
    "case.handled": EventSpec("事项 {number} 已办结，待核查", "Case {number} handled, to verify"),
    "case.verified": EventSpec("事项 {number} 核查通过", "Case {number} verified on site"),
    "case.rework": EventSpec(
        "事项 {number} 核查未通过，需返工（第 {rework_count} 次）",
        "Case {number} failed verification: rework #{rework_count}",
    ),
    "case.awaiting_rating": EventSpec("事项 {number} 待评价", "Case {number} awaits a rating"),
    "case.rated": EventSpec("事项 {number} 已评价：{verdict}", "Case {number} rated: {verdict}"),
    "case.reopened": EventSpec(
        "事项 {number} 评价不满意，已重新打开", "Case {number} reopened after an unsatisfied rating"
    ),
    "case.overdue": EventSpec("事项 {number} 已超期", "Case {number} is overdue"),
    "case.escalated": EventSpec(
        "事项 {number} 超期未办，已升级至街道", "Case {number} escalated to the subdistrict"
    ),
    "case.closed": EventSpec("事项 {number} 已结案", "Case {number} closed"),
    "case.merged": EventSpec(
        "事项 {number} 已并入 {merged_into}", "Case {number} merged into {merged_into}"
    ),
}

WILDCARD = "*"

VERDICTS_ZH = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意", "none": "未评价"}
VERDICTS_EN = {"satisfied": "satisfied", "basic": "basically satisfied"}
# Free-text reasons an event may carry in `extra`, shown in the inbox body.
_BODY_LINES = (("reason", "原因"), ("comment", "说明"), ("explanation", "说明"))
# Keys `extra` may not use: the envelope's own, and anything that smells of personal data.
_RESERVED = frozenset({"event", "event_id", "occurred_at", "case"})


# --------------------------------------------------------------------------- recipients


def _active_user_ids(*conditions: Any) -> list[int]:
    stmt = select(User.id).where(User.active.is_(True), *conditions).order_by(User.id)
    return list(db.session.scalars(stmt))


def dispatcher_ids(subdistrict_id: int) -> list[int]:
    """Active dispatchers (调度员) of a subdistrict."""
    return _active_user_ids(User.role == "dispatcher", User.subdistrict_id == subdistrict_id)


def unit_staff_ids(unit_id: int) -> list[int]:
    """Active staff of a handling unit (办理单位)."""
    return _active_user_ids(User.role == "unit_staff", User.unit_id == unit_id)


def collector_ids(grid_id: int) -> list[int]:
    """Active collectors (民情收集员) responsible for a grid."""
    assigned = select(CollectorGrid.collector_id).where(CollectorGrid.grid_id == grid_id)
    return _active_user_ids(User.role == "collector", User.id.in_(assigned))


def subdistrict_admin_ids(subdistrict_id: int) -> list[int]:
    """Active admins of a subdistrict (city-level admins are not included)."""
    return _active_user_ids(User.role == "admin", User.subdistrict_id == subdistrict_id)


# --------------------------------------------------------------------------- publishing


class _Formatter(string.Formatter):
    """`str.format` that prints "—" for a missing or empty value instead of failing."""

    def get_value(self, key: int | str, args: Any, kwargs: Mapping[str, Any]) -> Any:
        return kwargs.get(key) if isinstance(key, str) else None

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None or value == "":
            return "—"
        try:
            return str(super().format_field(value, format_spec))
        except (TypeError, ValueError):
            return str(value)


_FORMATTER = _Formatter()


def _local(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(ZoneInfo(current_app.config["MINQING_TIMEZONE"]))
    if isinstance(value, str):
        try:
            return _local(datetime.fromisoformat(value))
        except ValueError:
            return value
    return value


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC (`2026-11-26T02:00:00+00:00`), or None."""
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


def jsonable(value: Any) -> Any:
    """`value` with datetimes as ISO UTC strings, so that it fits a JSON column."""
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


@dataclass(frozen=True)
class _CaseFacts:
    case: Case
    grid: Grid | None
    community: Community | None
    category: Category | None
    unit: Unit | None
    subdistrict: Subdistrict | None


def _facts(case: Case) -> _CaseFacts:
    # By id, not through relationships: the caller may have just changed `unit_id`.
    get = db.session.get
    return _CaseFacts(
        case=case,
        grid=get(Grid, case.grid_id) if case.grid_id else None,
        community=get(Community, case.community_id) if case.community_id else None,
        category=get(Category, case.category_id) if case.category_id else None,
        unit=get(Unit, case.unit_id) if case.unit_id else None,
        subdistrict=get(Subdistrict, case.subdistrict_id) if case.subdistrict_id else None,
    )


def _decision(extra: Mapping[str, Any], zh: bool) -> str:
    approved = extra.get("approved")
    if approved is True:
        return "已批准" if zh else "approved"
    if approved is False:
        return "未批准" if zh else "refused"
    return "已处理" if zh else "decided"


def _merged_into(case: Case, extra: Mapping[str, Any]) -> str | None:
    if extra.get("merged_into"):
        return str(extra["merged_into"])
    if case.merged_into_id:
        target = db.session.get(Case, case.merged_into_id)
        return target.number if target else case.merged_into_id
    return None


def _context(facts: _CaseFacts, extra: Mapping[str, Any], *, zh: bool) -> dict[str, Any]:
    case = facts.case
    verdict = extra.get("verdict") or case.rating
    verdicts = VERDICTS_ZH if zh else VERDICTS_EN
    category = None
    if facts.category is not None:
        category = facts.category.name_zh if zh else facts.category.name_en
    return {
        **{k: v for k, v in extra.items() if isinstance(k, str)},
        "number": case.number,
        "category": category,
        "grid": facts.grid.name if facts.grid else None,
        "community": facts.community.name if facts.community else None,
        "unit": facts.unit.name if facts.unit else None,
        "deadline": _local(extra.get("deadline") or case.deadline_at),
        "until": _local(extra.get("until") or case.extension_requested_until),
        "rework_count": case.rework_count,
        "verdict": verdicts.get(verdict, verdict) if verdict else None,
        "decision": _decision(extra, zh),
        "merged_into": _merged_into(case, extra),
    }


def _titles(spec: EventSpec, facts: _CaseFacts, extra: Mapping[str, Any]) -> tuple[str, str]:
    zh = _FORMATTER.vformat(spec.title_zh, (), _context(facts, extra, zh=True))
    en = _FORMATTER.vformat(spec.title_en, (), _context(facts, extra, zh=False))
    return zh[:TITLE_MAX], en[:TITLE_MAX]


def render_titles(
    event: str, case: Case, extra: Mapping[str, Any] | None = None
) -> tuple[str, str]:
    """The Chinese and English inbox titles of `event` for `case`."""
    return _titles(_spec(event), _facts(case), extra or {})


def _body(facts: _CaseFacts, extra: Mapping[str, Any]) -> str:
    """Where and what, then any reason the event carries, in Chinese."""
    place = [x.name for x in (facts.community, facts.grid) if x is not None]
    what = [" ".join(place)] if place else []
    if facts.category is not None:
        what.append(facts.category.name_zh)
    lines = [" · ".join(what)]
    for key, label in _BODY_LINES:
        value = extra.get(key)
        if isinstance(value, str) and value.strip():
            lines.append(f"{label}：{value.strip()}")
    return "\n".join(line for line in lines if line)


def _spec(event: str) -> EventSpec:
    try:
        return EVENTS[event]
    except KeyError:
        raise ValueError(f"unknown notification event {event!r}") from None


def _check_extra(extra: Mapping[str, Any]) -> None:
    for key in extra:
        lowered = str(key).lower()
        if lowered in _RESERVED or "phone" in lowered or lowered.startswith("reporter"):
            raise ValueError(f"extra key {key!r} is reserved or personal data")


def case_summary(facts: _CaseFacts) -> dict[str, Any]:
    """The case as webhook receivers see it: codes and states, no personal data."""
    case = facts.case
    return {
        "id": case.id,
        "number": case.number,
        "status": case.status,
        "priority": case.priority,
        "source": case.source,
        "category": facts.category.code if facts.category else None,
        "subdistrict": facts.subdistrict.code if facts.subdistrict else None,
        "community": facts.community.code if facts.community else None,
        "grid": facts.grid.code if facts.grid else None,
        "unit": {"id": facts.unit.id, "name": facts.unit.name} if facts.unit else None,
        "deadline_at": iso_utc(case.deadline_at),
        "overdue": bool(case.overdue),
        "rework_count": case.rework_count or 0,
    }


def subscribers(event: str, subdistrict_id: int | None) -> list[WebhookSubscription]:
    """Active subscriptions of a subdistrict (or deployment-wide) that asked for `event`."""
    stmt = (
        select(WebhookSubscription)
        .where(
            WebhookSubscription.active.is_(True),
            or_(
                WebhookSubscription.subdistrict_id == subdistrict_id,
                WebhookSubscription.subdistrict_id.is_(None),
            ),
        )
        .order_by(WebhookSubscription.id)
    )
    found = []
    for sub in db.session.scalars(stmt):
        events = sub.events if isinstance(sub.events, list) else []
        if event in events or WILDCARD in events:
            found.append(sub)
    return found


def new_delivery(
    subscription: WebhookSubscription, event: str, body: dict[str, Any]
) -> WebhookDelivery:
    """Add a pending delivery with a fresh event id; its sending is enqueued after commit."""
    event_id = uuid.uuid4().hex
    payload = {"event": event, "event_id": event_id, "occurred_at": iso_utc(utcnow()), **body}
    delivery = WebhookDelivery(
        subscription_id=subscription.id,
        event=event,
        event_id=event_id,
        payload=payload,
        status="pending",
        attempts=0,
    )
    db.session.add(delivery)
    return delivery


def publish(
    event: str,
    case: Case,
    *,
    actor_id: int | None,
    recipients: Iterable[int] = (),
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Tell the recipients' inboxes and the subscribed outside systems about `event`.

    Call inside the use case's transaction; nothing is committed here, and webhook
    deliveries are enqueued only once the caller commits (a rollback sends nothing).
    `extra` goes into the webhook payload as is (datetimes as ISO UTC) and into the
    inbox titles; it must hold no personal data. Unknown events and reserved or personal
    `extra` keys raise ValueError: those are programming errors.
    """
    spec = _spec(event)
    extra = dict(extra or {})
    _check_extra(extra)
    if case in db.session.new:
        db.session.flush()  # the case row first: notifications and deliveries point at it

    facts = _facts(case)
    wanted: list[int] = []
    for user_id in recipients:
        if user_id is not None and user_id != actor_id and user_id not in wanted:
            wanted.append(user_id)
    if wanted:
        active = set(_active_user_ids(User.id.in_(wanted)))
        zh, en = _titles(spec, facts, extra)
        body = _body(facts, extra)
        for user_id in wanted:
            if user_id in active:
                db.session.add(
                    Notification(
                        user_id=user_id,
                        event=event,
                        case_id=case.id,
                        title=zh,
                        title_en=en,
                        body=body,
                    )
                )

    if subscribers(event, case.subdistrict_id):
        queue_deliveries(
            event, case.subdistrict_id, {"case": case_summary(facts), **jsonable(extra)}
        )


def queue_deliveries(event: str, subdistrict_id: int, body: dict[str, Any]) -> None:
    """A delivery per subscriber of `event`, each sent by the worker after commit."""
    deliveries = [new_delivery(sub, event, body) for sub in subscribers(event, subdistrict_id)]
    if deliveries:
        db.session.flush()  # ids for the tasks
        for delivery in deliveries:
            after_commit(DELIVER_TASK, delivery.id)


# Events that are not about one case: the daily bulletin, missed patrols, and a 12345 import's
# digest (one inbox entry per dispatcher for the whole file; its webhooks go per case).
OTHER_EVENTS: tuple[str, ...] = ("index.bulletin", "patrol.missed", "hotline.imported")
# Inbox only: no webhook is ever sent for them (not subscribable).
INBOX_ONLY_EVENTS: frozenset[str] = frozenset({"hotline.imported"})


def notify_users(
    user_ids: Iterable[int],
    *,
    event: str,
    title: str,
    title_en: str,
    body: str | None = None,
    subdistrict_id: int | None = None,
    payload: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """An inbox entry for each active user, and (with `subdistrict_id`) the webhooks that
    asked for `event` — for events not about a case. `at`: the entries' time when it must
    be a known one (a 12345 import's, which its queue link filters on). No commit here."""
    if event not in OTHER_EVENTS:
        raise ValueError(f"unknown event {event!r}")
    wanted = list(dict.fromkeys(u for u in user_ids if u is not None))
    for user_id in _active_user_ids(User.id.in_(wanted)) if wanted else []:
        db.session.add(
            Notification(
                user_id=user_id,
                event=event,
                case_id=None,
                title=title,
                title_en=title_en,
                body=body,
                **({"created_at": at} if at is not None else {}),
            )
        )
    if subdistrict_id is not None and event not in INBOX_ONLY_EVENTS:
        queue_deliveries(event, subdistrict_id, jsonable(dict(payload or {})))


def publish_bulletin(subdistrict_id: int, day: Any, bulletins: list[dict[str, Any]]) -> None:
    """Deliver a day's 播报 (one text per community) to the subscribed outside systems
    (SMS, WeChat groups) — no personal data in it."""
    body = {"day": day.isoformat(), "subdistrict_id": subdistrict_id, "bulletins": bulletins}
    queue_deliveries("index.bulletin", subdistrict_id, jsonable(body))


# --------------------------------------------------------------------------- the inbox


@dataclass(frozen=True)
class InboxPage:
    items: list[Notification]
    next_cursor: str | None
    unread_count: int


def unread_count(user_id: int) -> int:
    stmt = select(func.count(Notification.id)).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    return int(db.session.scalar(stmt) or 0)


def list_inbox(
    principal: Principal,
    *,
    unread: bool | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> InboxPage:
    """The caller's own notifications, newest first; `unread` True/False filters."""
    stmt = select(Notification).where(Notification.user_id == principal.user_id)
    if unread is True:
        stmt = stmt.where(Notification.read_at.is_(None))
    elif unread is False:
        stmt = stmt.where(Notification.read_at.is_not(None))
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(Notification.id < after)
    rows = list(db.session.scalars(stmt.order_by(Notification.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return InboxPage(
        items=rows,
        next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
        unread_count=unread_count(principal.user_id),
    )


def mark_read(uow: UnitOfWork, principal: Principal, notification_id: int) -> Notification:
    """Mark one of the caller's notifications read (again is harmless); others' are 404."""
    note = None
    if 0 < notification_id <= MAX_ID:
        note = uow.session.get(Notification, notification_id)
    if note is None or note.user_id != principal.user_id:
        raise NotFound("Notification", "消息")
    if note.read_at is None:
        note.read_at = uow.now
    return note


def mark_all_read(uow: UnitOfWork, principal: Principal) -> int:
    """Mark every unread notification of the caller read; how many were."""
    result = uow.session.execute(
        update(Notification)
        .where(Notification.user_id == principal.user_id, Notification.read_at.is_(None))
        .values(read_at=uow.now)
    )
    return int(getattr(result, "rowcount", 0) or 0)
